"""Synthetic zoos from a known truth: isoFLOP zoos (zoo), hyperparameter sweeps and
steps-to-target runs (sweeps), and the bundled default zoo (bundled)."""

from .sweeps import simulate_steps_to_target, simulate_sweep
from .zoo import DEFAULT_TRUTH, Zoo, simulate, true_loss

__all__ = ["DEFAULT_TRUTH", "Zoo", "simulate", "simulate_steps_to_target", "simulate_sweep", "true_loss"]
