"""Synthetic zoos from a known truth: isoFLOP zoos (zoo), hyperparameter sweeps and
steps-to-target runs (sweeps), families drawn from a population (families), training curves under learning-rate schedules (curves), and the
bundled default zoo (bundled)."""

from .curves import LUO_25M, Curves, simulate_curves
from .families import simulate_families
from .sweeps import simulate_steps_to_target, simulate_sweep
from .zoo import DEFAULT_TRUTH, Zoo, simulate, true_loss

__all__ = ["Curves", "LUO_25M", "simulate_curves", "simulate_families", "DEFAULT_TRUTH", "Zoo", "simulate", "simulate_steps_to_target", "simulate_sweep", "true_loss"]
