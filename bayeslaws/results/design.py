"""What to train next: rank candidate runs by how much they would narrow a forecast, for their cost.

The forecast the decision rests on is a target T (the law's log loss at a model size and token
count, or the compute-optimal log loss at a budget C). A candidate run j would measure
y_j = F_j + noise, F_j the law's log loss there. Across the posterior draws, T and the F_j are
jointly distributed; in the linear-Gaussian approximation (an ensemble Kalman update, as in
Bayesian experimental design with a Gaussian surrogate) observing y_j shrinks the variance of T by

    Cov(T, F_j)^2 / (Var(F_j) + s^2),      s: the fit's noise scale sigma [log-loss units],

and leaves the joint covariance of T and the other candidates conditioned on y_j (a Schur
complement that does not depend on the value measured). A batch is chosen greedily: the run with
the largest reduction / cost**0.4 that fits the remaining budget, then the covariance conditioned
on it (its outcome "fantasised"), then the next; under a budget also greedily by reduction alone,
and the batch that leaves the target narrower is returned. The approximation is exact for a
posterior that is Gaussian and a law that is linear in its parameters near the posterior;
benchmarks/design_check.py compares it with refits that add the run. It is blind to the law's
error beyond the runs, which runs nearer the target reveal: ranked per FLOP (exponent 1), a budget
buys many cheap runs far from the target, and on Porian's pool their forecasts were worse than
random choice's (README, *What to train next*); the exponent 0.4 leans toward costlier runs.

Noise: the new run's noise is taken as Normal with the posterior median of sigma^2 (for a
Student-t likelihood, the scale, not the variance, which is infinite for nu <= 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from . import forecast
from .fit import Fit
from .forecast import COMPUTE_PER_TOKEN_PARAM
from .stacking import Stack


STRATEGIES = ("suggest", "random", "cheapest", "d_optimal")
COST_EXPONENT = 0.4  # suggest's default: reduction / cost**0.4 (see suggest_runs)


def suggest_runs(fit: Fit | Stack, candidates: pd.DataFrame, *, target: Mapping[str, float],
                 budget: float | None = None, k: int | None = None, cost: str = "6ND", strategy: str = "suggest",
                 cost_exponent: float = COST_EXPONENT, seed: int = 0) -> pd.DataFrame:
    """Rank candidate runs for a batch: the greedy choice of runs that most reduce the variance of
    the target forecast for their cost (see cost_exponent), each taking the earlier ones' outcomes
    into account (under a budget, the greedy choice by reduction alone instead when it narrows the
    target more).

    fit: a Fit, or a Stack of several laws (bl.stack): the joint covariance is then the mixture's,
        whose between-law part makes the runs where the laws disagree, in step with their
        disagreement at the target, worth most (model uncertainty counts).
    candidates: one row per run that could be trained, with the law's covariates (and lr,
        batch_size for a penalised fit); other columns are kept.
    target: {"N": ..., "D": ...} (the law's loss there) or {"C": ...} (the compute-optimal loss
        at that budget [FLOPs], for laws in N and D); arrays give a target region of several
        points, whose summed variance is reduced (A-optimal over the region; the sds reported are
        then the root mean of the points' variances).
    budget: total cost allowed (in the cost's units); k: at most this many runs. One of them is
        needed.
    cost: "6ND" (training FLOPs) or the name of a candidates column.
    cost_exponent: "suggest" ranks by reduction / cost**cost_exponent: 1 per unit of cost, 0 by
        reduction alone. The default, 0.4 (as in Li et al. 2026's released method), leans toward
        costlier runs nearer the target, which the linear-Gaussian reduction undervalues when the
        law is wrong beyond the runs (README, *What to train next*). Under a budget, the batch by
        reduction alone is also built and the one that leaves the target narrower kept.
    strategy: "suggest" (the above), or a baseline to compare designs with: "random" (random order,
        seed), "cheapest" (cheapest first), "d_optimal" (greedy gain of information about the law's
        parameters per cost, log(1 + Var(F_j) / s^2) with the same conditioning; blind to the target).

    Returns the chosen runs in order: the candidates' columns, cost, the target's sd [log-loss
    units, i.e. relative] before and after each run (predicted, for every strategy), the variance
    reduction and reduction per cost, and the cumulative cost.
    """
    if budget is None and k is None:
        raise ValueError("give budget= (total cost) or k= (number of runs), or both")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}; got {strategy!r}")
    check_cost_exponent(cost_exponent)
    costs = _costs(candidates, cost)
    if isinstance(fit, Stack):
        target_draws, candidate_draws, noise_draws = _stack_draws(fit, candidates, target, seed)
    else:
        target_draws, candidate_draws, noise_draws = _law_draws(fit, candidates, target)
    noise_variance = float(np.median(noise_draws))
    joint = Joint(np.cov(np.column_stack([target_draws, candidate_draws]), rowvar=False), target_draws.shape[1])
    if strategy == "suggest":
        return _greedy_batch(candidates, costs, joint, noise_variance, budget, k, cost_exponent)
    if strategy == "d_optimal":
        return _greedy(candidates, costs, joint, noise_variance, budget, k, cost_exponent=1.0, gain=information_gain)
    order = np.random.default_rng(seed).permutation(len(costs)) if strategy == "random" else np.argsort(costs, kind="stable")
    return _in_order(candidates, costs, joint, noise_variance, order, budget, k)


def check_cost_exponent(cost_exponent: float) -> None:
    """Refuse an exponent outside [0, 1] (suggest_runs's cost_exponent)."""
    if not 0 <= cost_exponent <= 1:
        raise ValueError(f"cost_exponent must lie in [0, 1]; got {cost_exponent!r}")


@dataclass(frozen=True)
class Joint:
    """The joint covariance of the targets' log losses (the first ``targets`` rows) and the
    candidates' (the rest), across posterior draws."""

    covariance: np.ndarray
    targets: int = 1

    def reduction(self, noise_variance: float) -> np.ndarray:
        """Reduction of the targets' summed variance from observing each candidate."""
        return variance_reduction(self.covariance, noise_variance, self.targets)

    def observe(self, j: int, noise_variance: float) -> "Joint":
        """The joint after observing candidate j (0-based)."""
        return Joint(condition_on(self.covariance, j + self.targets, noise_variance), self.targets)

    @property
    def target_variance(self) -> float:
        """Summed variance of the targets [log-loss units squared]."""
        return float(np.trace(self.covariance[: self.targets, : self.targets]))

    @property
    def target_sd(self) -> float:
        """Root mean of the targets' variances [log-loss units]."""
        return float(np.sqrt(max(self.target_variance / self.targets, 0.0)))


def variance_reduction(covariance: np.ndarray, noise_variance: float, targets: int = 1) -> np.ndarray:
    """Reduction of the summed variance of the targets (the first ``targets`` rows) from observing
    each candidate (the remaining rows) with that noise: sum_t Cov(T_t, F_j)^2 / (Var(F_j) + s^2)."""
    cross = covariance[:targets, targets:]
    return (cross**2).sum(axis=0) / (np.diag(covariance)[targets:] + noise_variance)


def information_gain(joint: Joint, noise_variance: float) -> np.ndarray:
    """Information each candidate's measurement gives about the law's parameters [nats]: the log
    of the D-optimal criterion's determinant ratio, log(1 + Var(F_j) / s^2), in the linear model."""
    return np.log1p(np.diag(joint.covariance)[joint.targets:] / noise_variance)


def condition_on(covariance: np.ndarray, j: int, noise_variance: float) -> np.ndarray:
    """The joint covariance after observing variable j (0-based, > 0) with that noise variance."""
    column = covariance[:, j]
    return covariance - np.outer(column, column) / (covariance[j, j] + noise_variance)


def _greedy_batch(candidates, costs, joint: Joint, noise_variance, budget, k, cost_exponent: float) -> pd.DataFrame:
    """The greedy batch by reduction / cost**cost_exponent; under a budget, also the one by reduction
    alone, keeping the batch that narrows the target more (per-cost greedy alone can fill a budget
    with cheap runs that teach little; taking the better of the two is the standard remedy for
    budgeted greedy selection, Khuller et al. 1999, Leskovec et al. 2007)."""
    batch = _greedy(candidates, costs, joint, noise_variance, budget, k, cost_exponent)
    if budget is not None and cost_exponent > 0:
        by_gain = _greedy(candidates, costs, joint, noise_variance, budget, k, cost_exponent=0.0)
        if by_gain["target_sd_after"].iloc[-1] < batch["target_sd_after"].iloc[-1]:
            batch = by_gain
    return batch


def _greedy(candidates, costs, joint: Joint, noise_variance, budget, k, cost_exponent: float,
            gain=Joint.reduction) -> pd.DataFrame:
    remaining = np.inf if budget is None else float(budget)
    available = np.ones(len(candidates), dtype=bool)
    weight = costs**cost_exponent  # a value's divisor in the ranking
    order, current = [], joint
    while (k is None or len(order) < k) and available.any():
        value = gain(current, noise_variance)
        score = np.where(available & (costs <= remaining), value / weight, -np.inf)
        j = int(np.argmax(score))
        if not np.isfinite(score[j]):
            break
        current = current.observe(j, noise_variance)
        remaining -= costs[j]
        available[j] = False
        order.append(j)
    return _batch_table(candidates, costs, joint, noise_variance, order, budget)


def _in_order(candidates, costs, joint: Joint, noise_variance, order, budget, k) -> pd.DataFrame:
    """The runs taken in a fixed order while they fit the budget (skipping those that do not)."""
    remaining, chosen = (np.inf if budget is None else float(budget)), []
    for j in order:
        if (k is not None and len(chosen) >= k) or remaining < costs.min():
            break
        if costs[j] <= remaining:
            chosen.append(int(j))
            remaining -= costs[j]
    return _batch_table(candidates, costs, joint, noise_variance, chosen, budget)


def _batch_table(candidates, costs, joint: Joint, noise_variance, order, budget) -> pd.DataFrame:
    """The chosen candidates in order, with the target's predicted sd before and after each run
    (conditioning the joint covariance on the runs one by one) and the cumulative cost."""
    if not order:
        raise ValueError(f"no candidate fits the budget {budget:g} (the cheapest costs {costs.min():g})")
    rows, spent = [], 0.0
    for j in order:
        before, variance_before = joint.target_sd, joint.target_variance
        joint = joint.observe(j, noise_variance)
        reduction = variance_before - joint.target_variance
        spent += costs[j]
        rows.append({"cost": costs[j], "target_sd_before": before,
                     "target_sd_after": joint.target_sd, "variance_reduction": reduction,
                     "reduction_per_cost": reduction / costs[j], "cumulative_cost": spent})
    return candidates.iloc[order].reset_index(drop=True).join(pd.DataFrame(rows))


def _law_draws(fit: Fit, candidates: pd.DataFrame, target: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One law's posterior draws of the targets' log loss (S, m), the candidates' (S, n) and the
    noise variance sigma^2 (S,)."""
    draws = fit.draws()
    candidate_draws = forecast.log_loss_draws(fit.spec, draws, _candidate_targets(fit, candidates), fit.tables)
    return _target_log_loss(fit, draws, target), candidate_draws, np.asarray(draws["sigma"]) ** 2


def _stack_draws(stack: Stack, candidates: pd.DataFrame, target: Mapping, seed: int):
    """The same draws for a stack: each law's, mixed by the stacking weights (Stack.mixture)."""
    per_law = {name: _law_draws(fit, candidates, target) for name, fit in stack.fits.items()}
    plan = stack.mixture(seed=seed)
    return tuple(np.concatenate([per_law[law][part][index] for law, index in plan]) for part in range(3))


def _target_log_loss(fit, draws: Mapping[str, np.ndarray], target: Mapping) -> np.ndarray:
    """(S, m) draws of the targets' log loss: at (N, D), or compute-optimal at C for laws in N and D."""
    values = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in target.items()}
    if set(values) == {"C"} and "C" not in fit.law.covariates:
        return np.log(forecast.compute_optimal_draws(fit.law, draws, values["C"])["loss_opt"])
    targets = forecast.target_covariates(fit.law, terms=fit.spec.terms, **values)
    return forecast.log_loss_draws(fit.spec, draws, targets, fit.tables)


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


def run_design(runs: pd.DataFrame, pool: pd.DataFrame, measure, *, target: Mapping[str, float], budget: float,
               strategy: str = "suggest", rounds: int = 1, law="chinchilla", cost: str = "6ND", seed: int = 0,
               cost_exponent: float = COST_EXPONENT, **fit_options) -> dict:
    """The sequential design loop, for comparing strategies against a known truth (or for planning):
    ``rounds`` times, fit the law to ``runs``, choose a batch from the unused ``pool`` with
    ``budget / rounds`` by ``strategy`` (and ``cost_exponent``; see suggest_runs), measure it with
    ``measure(chosen) -> losses [nats]`` (the truth plus noise, in a simulation) and add it to the
    runs; then fit again.
    runs: the runs so far, with the pool's columns (e.g. N, D) and loss.

    Returns {"fit": the final fit, "chosen": the chosen rows (with "round" and "loss"),
    "spent": their total cost}. Nothing given is modified. ``fit_options`` go to bl.fit.
    """
    from .fitting import fit as fit_law

    columns = list(pool.columns)
    current, unused, chosen = runs[columns + ["loss"]].copy(), pool.reset_index(drop=True), []
    for round_ in range(rounds):
        fitted = fit_law(current, law, seed=seed + round_, **fit_options)
        batch = suggest_runs(fitted, unused, target=target, budget=budget / rounds, cost=cost,
                             strategy=strategy, cost_exponent=cost_exponent, seed=seed + round_)
        measured = batch[columns].assign(loss=np.asarray(measure(batch), dtype=np.float64))
        chosen.append(measured.assign(round=round_))
        current = pd.concat([current, measured], ignore_index=True)
        taken = set(map(tuple, batch[columns].to_numpy()))
        unused = unused[[tuple(row) not in taken for row in unused.to_numpy()]].reset_index(drop=True)
    final = fit_law(current, law, seed=seed + rounds, **fit_options)
    every = pd.concat(chosen, ignore_index=True)
    return {"fit": final, "chosen": every, "spent": float(_costs(every, cost).sum())}
