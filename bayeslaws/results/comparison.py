"""Comparing laws: PSIS-LOO (interpolation) beside the leave-largest-out backtest (extrapolation),
and stacking weights (Yao et al. 2018) from the held-out predictive densities.

LOO asks how well a law predicts a run like the ones it saw; the backtest asks how well it
predicts runs larger than any it saw. The two can disagree, and the second is the decision.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .backtest import Backtest
from .fit import Fit

PARETO_K_BAD = 0.7  # PSIS-LOO is unreliable for a run whose Pareto k exceeds this
BOOTSTRAP_DRAWS = 200  # Bayesian-bootstrap reweightings of the held-out runs averaged in stacking_weights


def compare(fits_or_backtest: Backtest | Mapping[str, Fit] | Sequence[Fit]) -> pd.DataFrame:
    """One row per law: PSIS-LOO on every run (elpd_loo, elpd_loo_se, p_loo, share of runs with
    Pareto k > 0.7) and, from a Backtest, the held-out scores pooled over its splits (heldout_lpd,
    its se, heldout_coverage_90, heldout_median_rel_error) and the stacking weight.

    A Backtest's laws are fitted to every run once for LOO (kept in ``backtest.full_fits``).
    Rows are ordered by held-out lpd when there is a backtest, else by elpd_loo.
    """
    backtest = fits_or_backtest if isinstance(fits_or_backtest, Backtest) else None
    fits = _fits(fits_or_backtest)
    table = pd.DataFrame([{"law": name, **loo_row(fit)} for name, fit in fits.items()])
    if backtest is None:
        return table.sort_values("elpd_loo", ascending=False, ignore_index=True)
    pooled = backtest.pooled()
    held = pooled.rename(columns={"lpd": "heldout_lpd", "lpd_se": "heldout_lpd_se",
                                  "coverage_90": "heldout_coverage_90",
                                  "median_rel_error": "heldout_median_rel_error"})
    held = held[["law", "heldout_lpd", "heldout_lpd_se", "heldout_coverage_90", "heldout_median_rel_error"]]
    weights = stacking_weights(backtest)
    out = table.merge(held, on="law").assign(stacking_weight=lambda t: t["law"].map(weights))
    return out.sort_values("heldout_lpd", ascending=False, ignore_index=True)


def loo_row(fit: Fit) -> dict:
    """elpd_loo, its se, p_loo and the share of runs with Pareto k above 0.7, from ArviZ."""
    loo = fit.loo()
    k = np.asarray(loo.pareto_k).ravel()
    return {"elpd_loo": float(loo.elpd), "elpd_loo_se": float(loo.se), "p_loo": float(loo.p),
            "pareto_k_bad_share": float(np.mean(k > PARETO_K_BAD))}


def stacking_weights(backtest: Backtest, bootstrap: int = BOOTSTRAP_DRAWS, seed: int = 0,
                     iterations: int = 2000, tolerance: float = 1e-6) -> dict[str, float]:
    """Weights w on the simplex maximising sum_i log sum_k w_k p_k(y_i) over every held-out run of
    every split (Yao et al. 2018, with held-out rather than LOO densities), averaged over
    ``bootstrap`` Bayesian-bootstrap reweightings of the held-out runs (Dirichlet(1, ..., 1)
    weights; 0: the plain optimum). The optimum puts all weight on one law as soon as it wins
    on the few runs held out; averaging over resamples keeps weight on laws that win on some
    of them, as much as the held-out runs leave the choice open (Yao et al.'s remedy for
    pseudo-BMA, applied to stacking)."""
    table = backtest.points.pivot_table(index=["holdout", "row"], columns="law", values="lpd")
    log_density = table[backtest.laws].dropna().to_numpy()
    density = np.exp(log_density - log_density.max(axis=1, keepdims=True))
    if bootstrap:
        point_weights = np.random.default_rng(seed).dirichlet(np.ones(len(density)), size=bootstrap)
    else:
        point_weights = np.full((1, len(density)), 1.0 / len(density))
    weights = _stacking_em(density, point_weights, iterations, tolerance).mean(axis=0)
    return dict(zip(backtest.laws, weights.tolist()))


def _stacking_em(density: np.ndarray, point_weights: np.ndarray, iterations: int, tolerance: float) -> np.ndarray:
    """Stacking weights (B, K) for each row of point weights (B, n summing to 1), by EM: each step
    sets w_k to the weighted mean over runs of law k's share of the mixture density, which never
    lowers the objective. density: (n, K), each run's held-out density under each law."""
    weights = np.full((len(point_weights), density.shape[1]), 1.0 / density.shape[1])
    for _ in range(iterations):
        share = density[None] * weights[:, None, :]
        share /= share.sum(axis=2, keepdims=True)
        updated = np.einsum("bn,bnk->bk", point_weights, share)
        if np.abs(updated - weights).max() < tolerance:
            return updated
        weights = updated
    return weights


def format_comparison(table: pd.DataFrame) -> str:
    """The comparison as text with every number at 4 significant figures (ArviZ 1.x rounds its
    own display of az.compare to 1 significant figure)."""
    return table.to_string(index=False, float_format=lambda x: f"{x:.4g}")


def _fits(source) -> dict[str, Fit]:
    if isinstance(source, Backtest):
        return {law: source.fit_all(law) for law in source.laws}
    if isinstance(source, Mapping):
        return dict(source)
    fits = list(source)
    names = [fit.law.name for fit in fits]
    if len(set(names)) != len(names):
        raise ValueError(f"several fits of one law {names}: pass a dict name -> Fit to name them apart")
    return dict(zip(names, fits))

