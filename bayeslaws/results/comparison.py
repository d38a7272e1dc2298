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


def stacking_weights(backtest: Backtest, iterations: int = 2000, tolerance: float = 1e-10) -> dict[str, float]:
    """Weights w on the simplex maximising sum_i log sum_k w_k p_k(y_i) over every held-out run of
    every split (Yao et al. 2018, with held-out rather than LOO densities), by EM: each step
    sets w_k to the mean over runs of law k's share of the mixture density, which never
    lowers the objective."""
    table = backtest.points.pivot_table(index=["holdout", "row"], columns="law", values="lpd")
    table = table[backtest.laws].dropna()
    log_density = table.to_numpy()
    weights = np.full(log_density.shape[1], 1.0 / log_density.shape[1])
    density = np.exp(log_density - log_density.max(axis=1, keepdims=True))
    for _ in range(iterations):
        share = density * weights
        share /= share.sum(axis=1, keepdims=True)
        updated = share.mean(axis=0)
        if np.abs(updated - weights).max() < tolerance:
            weights = updated
            break
        weights = updated
    return dict(zip(backtest.laws, weights.tolist()))


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

