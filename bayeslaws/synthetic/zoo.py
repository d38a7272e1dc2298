"""Synthetic model zoos from a known law: isoFLOP designs with multiplicative noise."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..data import isoflop_grid
from ..laws import Law, get_law

DEFAULT_TRUTH = {
    # Besiroglu et al. 2024 refit of Chinchilla (laws.md section 1).
    "chinchilla": {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658},
    # Kaplan et al. 2020 joint fit, eq. (1.5).
    "kaplan": {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13},
    "power": {"A": 1000.0, "E": 1.8, "alpha": 0.15},
    "power_N": {"A": 482.01, "E": 1.8172, "alpha": 0.3478},
    "power_D": {"A": 2085.43, "E": 1.8172, "alpha": 0.3658},
}


@dataclass(frozen=True)
class Zoo:
    """A simulated run table with the truth that generated it."""

    runs: pd.DataFrame
    truth: dict
    design: dict = field(default_factory=dict)


def true_loss(law: Law, params: dict, frame: pd.DataFrame) -> np.ndarray:
    """Noise-free loss [nats] of the law at the frame's covariates, computed in float64 so that
    the same truth gives the same zoo on every CPU (float32 rounding differs between them)."""
    with jax.enable_x64(True):
        logx = {c: jnp.asarray(np.log(frame[c].to_numpy(np.float64))) for c in law.covariates}
        p = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
        return np.exp(np.asarray(law.evaluate(p, logx), dtype=np.float64))


def simulate(
    law: str | Law = "chinchilla",
    params: dict | None = None,
    *,
    n_budgets: int = 8,
    runs_per_budget: int = 30,
    compute_range: tuple[float, float] = (1e18, 1e22),
    size_span: float = 1.0,
    noise: float = 0.01,
    noise_df: float | None = None,
    seed: int = 0,
) -> Zoo:
    """Simulate an isoFLOP zoo: ``n_budgets`` compute budgets log-spaced over ``compute_range``
    [FLOPs], each with ``runs_per_budget`` model sizes log-spaced over +-``size_span`` decades
    around D/N = 20, D = C / (6N). Loss = law x exp(noise), noise ~ Normal(0, ``noise``) or,
    with ``noise_df``, a Student-t with that many degrees of freedom and scale ``noise``.
    """
    law = get_law(law)
    truth = dict(params or DEFAULT_TRUTH[law.name])
    rng = np.random.default_rng(seed)
    frame = isoflop_grid(np.geomspace(*compute_range, n_budgets), runs_per_budget, size_span)
    frame.insert(0, "run_id", np.arange(len(frame)))
    shocks = rng.standard_normal(len(frame)) if noise_df is None else rng.standard_t(noise_df, len(frame))
    frame["loss"] = true_loss(law, truth, frame) * np.exp(noise * shocks)
    design = {
        "n_budgets": n_budgets,
        "runs_per_budget": runs_per_budget,
        "compute_range": list(compute_range),
        "size_span": size_span,
        "noise": noise,
        "noise_df": noise_df,
        "seed": seed,
    }
    return Zoo(frame, truth, design)
