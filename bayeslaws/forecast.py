"""Forecasts as distributions: every derived quantity is computed per posterior draw,
then summarised. Functions take (law, draws, covariates) and never rerun inference.

``draws`` maps parameter names to 1-D float64 arrays of S posterior draws.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .diagnostics import quantile_name
from .laws import Law
from .likelihoods import Likelihood

COMPUTE_PER_TOKEN_PARAM = 6.0  # C = 6 N D


def target_covariates(law: Law, **given) -> pd.DataFrame:
    """Broadcast the user's targets (scalars or arrays) to a frame holding the law's covariates.

    C is filled in as 6 N D when the law needs it and N and D are given."""
    values = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in given.items() if v is not None}
    if not values:
        raise ValueError(f"give the target's covariates: law '{law.name}' needs {list(law.covariates)}")
    frame = pd.DataFrame(dict(zip(values, np.broadcast_arrays(*values.values()))))
    if "C" in law.covariates and "C" not in frame and {"N", "D"} <= set(frame):
        frame["C"] = COMPUTE_PER_TOKEN_PARAM * frame["N"] * frame["D"]
    missing = [c for c in law.covariates if c not in frame]
    if missing:
        raise ValueError(f"law '{law.name}' needs {list(law.covariates)}; missing {missing}")
    bad = [c for c in frame if not np.all(np.isfinite(frame[c]) & (frame[c] > 0))]
    if bad:
        raise ValueError(f"target values must be positive and finite; check {bad}")
    return frame


def log_loss_draws(law: Law, draws: Mapping[str, np.ndarray], targets: pd.DataFrame) -> np.ndarray:
    """Mean-function log loss, shape (S draws, M targets)."""
    params = {k: jnp.asarray(v)[:, None] for k, v in draws.items() if k in law.param_names}
    logx = {c: jnp.asarray(np.log(targets[c].to_numpy()))[None, :] for c in law.covariates}
    return np.asarray(law.evaluate(params, logx), dtype=np.float64)


def predictive_log_loss_draws(
    likelihood: Likelihood, draws: Mapping[str, np.ndarray], log_loss: np.ndarray, seed: int
) -> np.ndarray:
    """One observation per draw and target from the likelihood: what a new run would measure."""
    nuisance = {k: jnp.asarray(draws[k])[:, None] for k in likelihood.priors}
    noise_free = jnp.asarray(log_loss)
    distribution = likelihood.distribution(noise_free, nuisance)
    return np.asarray(distribution.sample(jax.random.PRNGKey(seed)), dtype=np.float64)


def summarise_draws(samples: np.ndarray, prefix: str, ci_prob: float) -> dict[str, np.ndarray]:
    """Mean, median and the equal-tailed ci_prob interval over axis 0."""
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    return {
        f"{prefix}_mean": samples.mean(axis=0),
        f"{prefix}_median": np.median(samples, axis=0),
        f"{prefix}_{quantile_name(lo)}": np.quantile(samples, lo, axis=0),
        f"{prefix}_{quantile_name(hi)}": np.quantile(samples, hi, axis=0),
    }


def compute_optimal_draws(law: Law, draws: Mapping[str, np.ndarray], C: np.ndarray) -> dict[str, np.ndarray]:
    """Per-draw compute-optimal N_opt, D_opt [count] and loss_opt [nats] at budgets C [FLOPs],
    each shaped (S, M). Uses the law's closed form when it has one; otherwise minimises the law
    along C = 6 N D on a fine grid of N per draw (laws in N and D only)."""
    C = np.atleast_1d(np.asarray(C, dtype=np.float64))
    if law.compute_optimal is not None:
        params = {k: jnp.asarray(v)[:, None] for k, v in draws.items() if k in law.param_names}
        result = law.compute_optimal(params, jnp.asarray(C)[None, :])
        shape = (len(next(iter(params.values()))), len(C))
        return {k: np.broadcast_to(np.asarray(result[k], np.float64), shape).copy() for k in ("N_opt", "D_opt", "loss_opt")}
    if set(law.covariates) != {"N", "D"}:
        raise ValueError(f"law '{law.name}' is not a law in N and D: no compute-optimal allocation")
    return _grid_compute_optimal(law, draws, C)


def _grid_compute_optimal(law: Law, draws, C: np.ndarray, points: int = 4001) -> dict:
    """Minimise L(N, C/(6N)) over a log-spaced grid of N (1e-6 to 1e6 times sqrt(C/120)) per draw."""
    out = {"N_opt": [], "D_opt": [], "loss_opt": []}
    for budget in C:
        grid_N = np.sqrt(budget / 120.0) * np.logspace(-6, 6, points)
        targets = pd.DataFrame({"N": grid_N, "D": budget / (COMPUTE_PER_TOKEN_PARAM * grid_N)})
        log_loss = log_loss_draws(law, draws, targets)
        best = np.argmin(log_loss, axis=1)
        out["N_opt"].append(grid_N[best])
        out["D_opt"].append(targets["D"].to_numpy()[best])
        out["loss_opt"].append(np.exp(log_loss[np.arange(len(best)), best]))
    return {k: np.stack(v, axis=1) for k, v in out.items()}
