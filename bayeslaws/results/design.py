"""What to train next: rank candidate runs by how much they would narrow a forecast, per FLOP.

The forecast the decision rests on is a target T (the law's log loss at a model size and token
count, or the compute-optimal log loss at a budget C). A candidate run j would measure
y_j = F_j + noise, F_j the law's log loss there. Across the posterior draws, T and the F_j are
jointly distributed; in the linear-Gaussian approximation (an ensemble Kalman update, as in
Bayesian experimental design with a Gaussian surrogate) observing y_j shrinks the variance of T by

    Cov(T, F_j)^2 / (Var(F_j) + s^2),      s: the fit's noise scale sigma [log-loss units],

and leaves the joint covariance of T and the other candidates conditioned on y_j (a Schur
complement that does not depend on the value measured). A batch is chosen greedily: the run with
the largest reduction per cost that fits the remaining budget, then the covariance conditioned on
it (its outcome "fantasised"), then the next; under a budget also greedily by reduction alone,
and the batch that leaves the target narrower is returned. The approximation is exact for a posterior that is
Gaussian and a law that is linear in its parameters near the posterior; benchmarks/design_check.py
compares it with refits that add the run.

Noise: the new run's noise is taken as Normal with the posterior median of sigma^2 (for a
Student-t likelihood, the scale, not the variance, which is infinite for nu <= 2).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from . import forecast
from .forecast import COMPUTE_PER_TOKEN_PARAM


def suggest_runs(fit, candidates: pd.DataFrame, *, target: Mapping[str, float], budget: float | None = None,
                 k: int | None = None, cost: str = "6ND") -> pd.DataFrame:
    """Rank candidate runs for a batch: the greedy choice of runs that most reduce the variance of
    the target forecast per unit of cost, each taking the earlier ones' outcomes into account
    (under a budget, the greedy choice by reduction alone instead when it narrows the target more).

    candidates: one row per run that could be trained, with the law's covariates (and lr,
        batch_size for a penalised fit); other columns are kept.
    target: {"N": ..., "D": ...} (the law's loss there) or {"C": ...} (the compute-optimal loss
        at that budget [FLOPs], for laws in N and D).
    budget: total cost allowed (in the cost's units); k: at most this many runs. One of them is
        needed.
    cost: "6ND" (training FLOPs) or the name of a candidates column.

    Returns the chosen runs in order: the candidates' columns, cost, the target's sd [log-loss
    units, i.e. relative] before and after each run, the variance reduction and reduction per cost,
    and the cumulative cost.
    """
    if budget is None and k is None:
        raise ValueError("give budget= (total cost) or k= (number of runs), or both")
    costs = _costs(candidates, cost)
    draws = fit.draws()
    target_draws = _target_log_loss(fit, draws, target)
    candidate_draws = forecast.log_loss_draws(fit.spec, draws, _candidate_targets(fit, candidates), fit.tables)
    noise_variance = float(np.median(draws["sigma"] ** 2))
    covariance = np.cov(np.column_stack([target_draws, candidate_draws]), rowvar=False)
    return _greedy_batch(candidates, costs, covariance, noise_variance, budget, k)


def variance_reduction(covariance: np.ndarray, noise_variance: float) -> np.ndarray:
    """Reduction of Var(T) (row/column 0) from observing each candidate (1..M) with that noise."""
    return covariance[0, 1:] ** 2 / (np.diag(covariance)[1:] + noise_variance)


def condition_on(covariance: np.ndarray, j: int, noise_variance: float) -> np.ndarray:
    """The joint covariance after observing variable j (0-based, > 0) with that noise variance."""
    column = covariance[:, j]
    return covariance - np.outer(column, column) / (covariance[j, j] + noise_variance)


def _greedy_batch(candidates, costs, covariance, noise_variance, budget, k) -> pd.DataFrame:
    """The greedy batch by reduction per cost; under a budget, also the one by reduction alone,
    keeping the batch that narrows the target more (per-cost greedy alone can fill a budget with
    cheap runs that teach little; taking the better of the two is the standard remedy for
    budgeted greedy selection, Khuller et al. 1999, Leskovec et al. 2007)."""
    batch = _greedy(candidates, costs, covariance, noise_variance, budget, k, per_cost=True)
    if budget is not None:
        by_gain = _greedy(candidates, costs, covariance, noise_variance, budget, k, per_cost=False)
        if by_gain["target_sd_after"].iloc[-1] < batch["target_sd_after"].iloc[-1]:
            batch = by_gain
    return batch


def _greedy(candidates, costs, covariance, noise_variance, budget, k, per_cost: bool) -> pd.DataFrame:
    remaining = np.inf if budget is None else float(budget)
    available = np.ones(len(candidates), dtype=bool)
    rows, spent = [], 0.0
    while (k is None or len(rows) < k) and available.any():
        gain = variance_reduction(covariance, noise_variance)
        score = np.where(available & (costs <= remaining), gain / costs if per_cost else gain, -np.inf)
        j = int(np.argmax(score))
        if not np.isfinite(score[j]):
            break
        before = covariance[0, 0]
        covariance = condition_on(covariance, j + 1, noise_variance)
        spent += costs[j]
        remaining -= costs[j]
        available[j] = False
        rows.append({"position": j, "cost": costs[j], "target_sd_before": np.sqrt(before),
                     "target_sd_after": np.sqrt(max(covariance[0, 0], 0.0)), "variance_reduction": gain[j],
                     "reduction_per_cost": gain[j] / costs[j], "cumulative_cost": spent})
    chosen = pd.DataFrame(rows)
    if chosen.empty:
        raise ValueError(f"no candidate fits the budget {budget:g} (the cheapest costs {costs.min():g})")
    return candidates.iloc[chosen["position"]].reset_index(drop=True).join(chosen.drop(columns="position"))


def _target_log_loss(fit, draws: Mapping[str, np.ndarray], target: Mapping[str, float]) -> np.ndarray:
    """(S,) draws of the target's log loss: at (N, D), or compute-optimal at C for laws in N and D."""
    values = {k: float(v) for k, v in target.items()}
    if set(values) == {"C"} and "C" not in fit.law.covariates:
        return np.log(forecast.compute_optimal_draws(fit.law, draws, np.array([values["C"]]))["loss_opt"][:, 0])
    targets = forecast.target_covariates(fit.law, terms=fit.spec.terms, **values)
    if len(targets) != 1:
        raise ValueError(f"target must be one point; got {values}")
    return forecast.log_loss_draws(fit.spec, draws, targets, fit.tables)[:, 0]


def _candidate_targets(fit, candidates: pd.DataFrame) -> pd.DataFrame:
    """The candidates' columns that the law and its terms read, as forecast targets (C = 6ND is
    filled in from N and D for laws in C)."""
    law = fit.law
    accepted = set(law.covariates) | {n for t in fit.spec.terms for n in t.target_names()}
    if "C" in law.covariates and {"N", "D"} <= set(candidates):
        accepted = (accepted - {"C"}) | {"N", "D"}
    given = {n: candidates[n].to_numpy(dtype=np.float64) for n in candidates.columns if n in accepted}
    return forecast.target_covariates(law, terms=fit.spec.terms, **given)


def _costs(candidates: pd.DataFrame, cost: str) -> np.ndarray:
    if cost == "6ND":
        if not {"N", "D"} <= set(candidates):
            raise ValueError("cost='6ND' needs columns N and D in the candidates; or name a cost column")
        values = COMPUTE_PER_TOKEN_PARAM * candidates["N"].to_numpy(np.float64) * candidates["D"].to_numpy(np.float64)
    elif cost in candidates:
        values = candidates[cost].to_numpy(np.float64)
    else:
        raise ValueError(f"cost must be '6ND' or a column of the candidates; got {cost!r}")
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if len(bad):
        raise ValueError(f"candidate costs must be positive and finite; not at rows {bad[:10].tolist()}")
    return values
