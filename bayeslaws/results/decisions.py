"""Decisions between two fits: which one's loss is lower at a target, and where their curves cross.

Two fits of separate run tables (two model families, data mixes, optimisers) have independent
posteriors, so a draw of one paired with any draw of the other is a draw of the pair:

    P(A better at x) = P(L_A(x) < L_B(x)),

computed over all pairs of draws (exactly, by sorting), on the laws' mean losses (parameter
uncertainty; a single run's noise is not part of which family is better). At a compute budget C
[FLOPs] the loss is the compute-optimal one, min over N of L(N, C / 6N), per draw; at (N, D) it is
the law at that model size and token count.

Two families of one fit with groups= (bayeslaws.terms.hierarchy) share one posterior: draw i of
family A belongs with draw i of family B, and P(A better) is the share of draws in which A's
loss is lower (prob_better_families, crossing_families; Fit.prob_better and Fit.crossing_compute).

Crossing: the budget where the compute-optimal loss curves meet. Per pair of draws (drawn in a
random pairing), the sign changes of log L_A - log L_B along a log-spaced grid of budgets give the
crossing (interpolated linearly in log C); the answer is the probability that the curves cross
inside the range and the crossing's median and interval among the pairs that cross.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import quantile_name, summarise_draws
from .forecast import compute_optimal_draws

CROSSING_GRID = 241  # budgets in the crossing search (log-spaced)


def loss_draws(fit, family=None, **at) -> np.ndarray:
    """(S, M) draws of the law's mean loss [nats] (of one family, for a fit with groups=):
    compute-optimal at ``C=`` budgets [FLOPs] for laws in N and D, else the law at the covariates
    given (e.g. ``N=, D=``)."""
    if fit.response != "loss":
        raise ValueError(f"prob_better compares losses; this fit's law predicts {fit.response!r}")
    if set(at) == {"C"} and "C" not in fit.law.covariates:
        return compute_optimal_draws(fit.law, fit.law_draws(family), np.atleast_1d(at["C"]))["loss_opt"]
    _, per_draw = fit.forecast_draws(family=family, **at)
    return per_draw[fit.response]


def prob_lower(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(a < b) per column for independent draws a (S_a, M) and b (S_b, M), over all S_a x S_b pairs."""
    out = np.empty(a.shape[1])
    for m in range(a.shape[1]):
        sorted_b = np.sort(b[:, m])
        above = len(sorted_b) - np.searchsorted(sorted_b, a[:, m], side="right")
        out[m] = above.mean() / len(sorted_b)
    return out


def prob_better(fit_a, fit_b, *, ci_prob: float = 0.9, names: tuple[str, str] = ("A", "B"), **at) -> pd.DataFrame:
    """P(fit_a's loss < fit_b's) at each target, with both losses [nats] and their difference.

    Targets: ``C=`` budgets [FLOPs] (compute-optimal losses) or the law's covariates (``N=, D=``).
    One row per target: P(A better), the mean, median and ci_prob interval of each loss
    (loss_A_*, loss_B_*, with the names given) and of their difference loss_A - loss_B
    (difference_*, over draws in a random pairing)."""
    _check_comparable(fit_a, fit_b)
    _check_targets(at)
    draws_a, draws_b = loss_draws(fit_a, **at), loss_draws(fit_b, **at)
    return _decision_table(at, draws_a, draws_b, prob_lower(draws_a, draws_b), _paired(draws_a, draws_b), names,
                           ci_prob)


def prob_better_families(fit, a, b, *, ci_prob: float = 0.9, **at) -> pd.DataFrame:
    """P(family a's loss < family b's) at each target, for a fit with groups= (one posterior:
    draws paired by index). a, b: family labels (None: a family not yet trained). Columns as in
    prob_better, named after the families."""
    _check_families(fit, a, b)
    _check_targets(at)
    draws_a, draws_b = loss_draws(fit, family=a, **at), loss_draws(fit, family=b, **at)
    return _decision_table(at, draws_a, draws_b, (draws_a < draws_b).mean(axis=0), (draws_a, draws_b),
                           (str(a), str(b)), ci_prob)


def _decision_table(at, draws_a, draws_b, probability, pairs, names, ci_prob) -> pd.DataFrame:
    first, second = names
    out = pd.DataFrame({k: np.broadcast_to(np.atleast_1d(v), (draws_a.shape[1],)) for k, v in at.items()})
    out[f"P({first} better)"] = probability
    for name, samples in ((f"loss_{first}", draws_a), (f"loss_{second}", draws_b),
                          ("difference", pairs[0] - pairs[1])):
        out = out.assign(**summarise_draws(samples, name, ci_prob))
    return out


def crossing_compute(fit_a, fit_b, C_range: tuple[float, float], *, ci_prob: float = 0.9,
                     seed: int = 0, names: tuple[str, str] = ("A", "B")) -> dict:
    """Where the compute-optimal loss curves of two fits cross inside ``C_range`` [FLOPs].

    Returns P(cross) (the share of draw pairs whose curves cross in the range, at least once),
    the first crossing's median and ci_prob interval [FLOPs] among those pairs, and P(A better)
    at both ends of the range. For laws without a closed-form compute optimum (all but chinchilla and
    overtraining) each of the grid's budgets is a 4,001-point search per draw: seconds to minutes."""
    _check_comparable(fit_a, fit_b)
    grid = _budget_grid(C_range)
    a, b = _paired(loss_draws(fit_a, C=grid), loss_draws(fit_b, C=grid), seed)
    return _crossing(grid, a, b, ci_prob, names)


def crossing_families(fit, a, b, C_range: tuple[float, float], *, ci_prob: float = 0.9) -> dict:
    """As crossing_compute, for two families of a fit with groups= (draws paired by index)."""
    _check_families(fit, a, b)
    grid = _budget_grid(C_range)
    return _crossing(grid, loss_draws(fit, family=a, C=grid), loss_draws(fit, family=b, C=grid), ci_prob,
                     (str(a), str(b)))


def _budget_grid(C_range) -> np.ndarray:
    low, high = sorted(float(c) for c in C_range)
    if not 0 < low < high:
        raise ValueError(f"C_range must be two positive, different budgets [FLOPs]; got {C_range!r}")
    return np.geomspace(low, high, CROSSING_GRID)


def _crossing(grid: np.ndarray, a: np.ndarray, b: np.ndarray, ci_prob: float, names) -> dict:
    """P(cross), the first crossing's median and interval, and P(A better) at both ends, from
    paired draws a, b (S, budgets) of two compute-optimal loss curves."""
    low, high = grid[0], grid[-1]
    gap = np.log(a) - np.log(b)
    crossings = _first_crossing(np.log(grid), gap)
    crossed = np.isfinite(crossings)
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    low_name, high_name = f"C_cross_{quantile_name(lo)}", f"C_cross_{quantile_name(hi)}"
    result = {"P(cross)": float(crossed.mean()), "C_cross_median": np.nan, low_name: np.nan, high_name: np.nan,
              f"P({names[0]} better) at {low:.3g}": float((gap[:, 0] < 0).mean()),
              f"P({names[0]} better) at {high:.3g}": float((gap[:, -1] < 0).mean())}
    if crossed.any():
        logs = crossings[crossed]
        result.update({"C_cross_median": float(np.exp(np.median(logs))),
                       low_name: float(np.exp(np.quantile(logs, lo))),
                       high_name: float(np.exp(np.quantile(logs, hi)))})
    return result


def _first_crossing(log_grid: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Per row of gap (pairs x grid), the log budget of the first sign change (NaN if none)."""
    change = np.signbit(gap[:, :-1]) != np.signbit(gap[:, 1:])
    has = change.any(axis=1)
    first = np.argmax(change, axis=1)
    rows = np.arange(len(gap))
    g0, g1 = gap[rows, first], gap[rows, first + 1]
    weight = np.where(g0 != g1, g0 / np.where(g0 != g1, g0 - g1, 1.0), 0.0)
    at = log_grid[first] + weight * (log_grid[first + 1] - log_grid[first])
    return np.where(has, at, np.nan)


def _paired(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Equal numbers of draws of two independent posteriors, in a random pairing."""
    rng = np.random.default_rng(seed)
    size = min(len(a), len(b))
    return a[rng.permutation(len(a))[:size]], b[rng.permutation(len(b))[:size]]


def _check_targets(at) -> None:
    if not at:
        raise ValueError("give the targets, e.g. C=1e24 or N=7e10, D=1.4e12")


def _check_families(fit, a, b) -> None:
    if fit.hierarchy is None:
        raise ValueError("comparing families within one fit needs a fit with groups='<column>'; for two separate "
                         "fits use bl.prob_better(fit_a, fit_b, ...)")
    if a == b:
        raise ValueError(f"compare two different families; got {a!r} twice")


def _check_comparable(fit_a, fit_b) -> None:
    if fit_a is fit_b:
        raise ValueError("a decision compares two fits (of two families' runs); both arguments are the same fit")
