"""Synthetic training curves from a known schedule-aware law: runs under given schedules, logged
every few steps, with the correlated noise of bayeslaws.model.curve_noise (AR(1) in step)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..data.schedules import parse_schedule
from ..laws import get_law

# the published 25M fit of Luo et al. 2025 (laws.md section 8), a realistic truth
LUO_25M = {"L0": 3.04045, "A": 0.524686, "alpha": 0.507869, "B": 363.788, "C": 2.06561, "beta": 0.582790,
           "gamma": 0.641423}


@dataclass(frozen=True)
class Curves:
    """frame: run_id, step, loss [nats], schedule (one row per logged point); truth: the law's
    parameters; true_loss: the law's loss at each row (without noise)."""

    frame: pd.DataFrame
    truth: dict
    true_loss: np.ndarray


def simulate_curves(schedules: Mapping[str, str], *, law: str = "multipower", params: Mapping | None = None,
                    log_every: int = 256, first_step: int | None = None, sigma: float = 0.003,
                    length: float = 0.05, seed: int = 0) -> Curves:
    """Curves of runs (run_id -> schedule string) under a law of whole curves (default: the
    multi-power law at LUO_25M), logged every ``log_every`` steps from first_step (default: the end
    of warmup) to each schedule's total. Noise: log loss residuals follow a stationary AR(1) in
    step with standard deviation sigma and correlation length ``length`` x the median run length."""
    law, params = get_law(law), dict(params or LUO_25M)
    rng = np.random.default_rng(seed)
    lr, parts = {}, []
    for run_id, text in schedules.items():
        schedule = parse_schedule(text, run_id)
        lr[run_id] = schedule.lr(np.arange(schedule.total + 1))
        start = first_step if first_step is not None else max(schedule.warmup, log_every)
        parts.append(pd.DataFrame({"run_id": run_id, "step": np.arange(start, schedule.total + 1, log_every),
                                   "schedule": text}))
    frame = pd.concat(parts, ignore_index=True)
    features = {k: jnp.asarray(v) for k, v in law.features(frame, lr).items()}
    true_loss = np.exp(np.asarray(law.evaluate({k: jnp.asarray(v) for k, v in params.items()}, features), np.float64))
    scale = frame.groupby("run_id", sort=False)["step"].max().median()
    residual = np.concatenate([_ar1(g["step"].to_numpy(np.float64) / scale, sigma, length, rng)
                               for _, g in frame.groupby("run_id", sort=False)])
    return Curves(frame.assign(loss=true_loss * np.exp(residual)), params, true_loss)


def _ar1(steps: np.ndarray, sigma: float, length: float, rng) -> np.ndarray:
    """One run's stationary AR(1) residuals at the given (scaled) steps."""
    out = np.empty(len(steps))
    out[0] = sigma * rng.standard_normal()
    for i in range(1, len(steps)):
        rho = np.exp(-(steps[i] - steps[i - 1]) / length)
        out[i] = rho * out[i - 1] + sigma * np.sqrt(1 - rho**2) * rng.standard_normal()
    return out
