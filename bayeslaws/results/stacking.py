"""A stacked forecast: the laws' posterior draws mixed by stacking weights.

Each law is fitted to every run; a mixture draw picks law k with probability w_k (the stacking
weights from the leave-largest-out backtest, bayeslaws.results.comparison.stacking_weights)
and one of its posterior draws. Every forecast is computed per draw and then summarised, as
for a single Fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..data import RunTable, summarise_draws
from . import forecast
from .backtest import Backtest, backtest as run_backtest, as_table, score_runs, target_columns
from .comparison import stacking_weights
from .fit import Fit

MIXTURE_DRAWS = 4000
NEGLIGIBLE_WEIGHT = 1e-3  # laws below this weight are left out of the mixture (weights renormalised)


@dataclass
class Stack:
    """Fits of several laws to the same runs and their stacking weights (summing to 1)."""

    fits: Mapping[str, Fit]
    weights: Mapping[str, float]
    backtest: Backtest | None = None

    @property
    def runs(self) -> RunTable:
        return next(iter(self.fits.values())).runs

    def mixture(self, n: int = MIXTURE_DRAWS, seed: int = 0) -> list[tuple[str, np.ndarray]]:
        """(law, posterior draw indices) per law: n mixture draws split over the laws by weight."""
        rng = np.random.default_rng(seed)
        names = list(self.weights)
        picks = rng.choice(len(names), size=n, p=np.array([self.weights[k] for k in names]))
        plan = []
        for i, name in enumerate(names):
            size = len(next(iter(self.fits[name].draws().values())))
            plan.append((name, rng.integers(0, size, size=int((picks == i).sum()))))
        return [(name, index) for name, index in plan if len(index)]

    def predict(self, *, ci_prob: float = 0.9, seed: int = 0, draws: bool = False, **covariates) -> pd.DataFrame:
        """Stacked loss forecast [nats] at targets (as Fit.predict): loss_* the laws' mean
        functions, loss_pred_* a new run; draws=True gives one row per mixture draw and target
        (with the law it came from)."""
        read = set().union(*(_accepted(fit, covariates) for fit in self.fits.values()))
        unknown = [k for k in covariates if k not in read]
        if unknown:
            raise ValueError(f"unknown target(s) {unknown}: no law of the stack ({', '.join(self.fits)}) reads them")
        per_law = {}
        for name, fit in self.fits.items():
            long = fit.predict(seed=seed, draws=True, **_accepted(fit, covariates))
            size = long["draw"].max() + 1
            per_law[name] = {c: long[c].to_numpy().reshape(size, -1) for c in (fit.response, f"{fit.response}_pred")}
        values = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in covariates.items()}
        targets = pd.DataFrame(dict(zip(values, np.broadcast_arrays(*values.values()))))
        mixed, laws = self._mix(per_law, seed)
        response = fit.response
        if draws:
            table = forecast.long_table(targets, mixed)
            return table.assign(law=np.repeat(laws, len(targets)))
        return targets.assign(**forecast.summary_columns(response, mixed[response], mixed[f"{response}_pred"], ci_prob))

    def compute_optimal(self, C, ci_prob: float = 0.9) -> pd.DataFrame:
        """Stacked compute-optimal N_opt [parameters], D_opt [tokens], loss_opt [nats] and tokens per
        parameter at budgets C [FLOPs] (C = 6 N D); needs laws in N and D."""
        C = np.atleast_1d(np.asarray(C, dtype=np.float64))
        per_law = {}
        for name, fit in self.fits.items():
            optimum = forecast.compute_optimal_draws(fit.law, fit.draws(), C)
            per_law[name] = {k: optimum[k] for k in ("N_opt", "D_opt", "loss_opt")}
        mixed, _ = self._mix(per_law, seed=0)
        mixed["tokens_per_parameter"] = mixed["D_opt"] / mixed["N_opt"]
        out = pd.DataFrame({"C": C})
        for name, samples in mixed.items():
            out = out.assign(**summarise_draws(samples, name, ci_prob))
        return out

    def score(self, table: RunTable, seed: int = 0) -> pd.DataFrame:
        """Per-run scores of the stacked predictive distribution at runs it did not see (the
        columns of bayeslaws.results.backtest.score_runs): quantiles of the mixed new-run draws,
        lpd = log sum_k w_k p_k(y)."""
        table = as_table(table)
        per_law = {law: score_runs(fit, table, seed) for law, fit in self.fits.items()}
        covariates = {k: v for fit in self.fits.values() for k, v in target_columns(fit, table).items()}
        if {"N", "D"} <= set(covariates):
            covariates.pop("C", None)  # every law takes N and D (C = 6 N D)
        mixed = self.predict(seed=seed, draws=True, **covariates)
        predictive = mixed["loss_pred"].to_numpy().reshape(-1, len(table))
        q05, q25, median, q75, q95 = np.quantile(predictive, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        lpd = np.stack([per_law[k]["lpd"].to_numpy() + np.log(w) for k, w in self.weights.items()])
        top = lpd.max(axis=0)
        out = next(iter(per_law.values()))[["row", "C", "observed"]].copy()
        observed = out["observed"].to_numpy()
        return out.assign(median=median, q05=q05, q25=q25, q75=q75, q95=q95,
                          lpd=top + np.log(np.exp(lpd - top).sum(axis=0)),
                          covered_50=(q25 <= observed) & (observed <= q75),
                          covered_90=(q05 <= observed) & (observed <= q95))

    def plot(self, target: Mapping[str, float] | None = None, ax=None):
        """Runs and the stacked compute-optimal frontier L*(C) with its 90 % band, each law's
        median frontier, and the stacked forecast at ``target`` (dict of N, D)."""
        from .plots import plot_stack

        return plot_stack(self, target=target, ax=ax)

    def _mix(self, per_law: Mapping[str, Mapping[str, np.ndarray]], seed: int) -> tuple[dict, np.ndarray]:
        plan = self.mixture(seed=seed)
        names = next(iter(per_law.values())).keys()
        mixed = {k: np.concatenate([per_law[law][k][index] for law, index in plan]) for k in names}
        laws = np.concatenate([np.full(len(index), law, dtype=object) for law, index in plan])
        return mixed, laws

    def __repr__(self) -> str:
        weights = ", ".join(f"{k} {w:.3f}" for k, w in self.weights.items())
        return f"Stack({len(self.runs)} runs; weights {weights})"


def _accepted(fit: Fit, covariates: Mapping) -> dict:
    """The covariates this fit's law and terms read (a stack's laws may read different ones:
    data_constrained reads unique_tokens, chinchilla does not; a law in C takes N and D)."""
    law = fit.spec.law
    names = set(law.covariates) | {n for t in fit.spec.terms for n in t.target_names()}
    if "C" in names and {"N", "D"} <= set(covariates):
        names = (names - {"C"}) | {"N", "D"}
    return {k: v for k, v in covariates.items() if k in names}


def stack(source: Backtest | RunTable | pd.DataFrame, laws: Sequence[str] | None = None, *,
          weights: Mapping[str, float] | None = None, progress: bool = True, **backtest_options) -> Stack:
    """A stacked forecast of several laws.

    source: a Backtest (its laws and stacking weights), or runs, which are backtested first over
        ``laws`` with ``backtest_options`` (holdout, fit options; see bl.backtest).
    weights: law -> weight to use instead of the stacking weights (normalised to sum to 1).
    Laws with a weight below 0.001 are left out; the others are fitted to every run.
    """
    if isinstance(source, Backtest):
        if laws is not None or backtest_options:
            raise ValueError("stack(backtest) takes the backtest's laws and options; pass runs to backtest anew")
        result = source
    else:
        result = run_backtest(source, laws or ("chinchilla", "kaplan"), progress=progress, **backtest_options)
    chosen = dict(weights) if weights is not None else stacking_weights(result)
    unknown = [k for k in chosen if k not in result.laws]
    if unknown:
        raise ValueError(f"weights for laws the backtest does not have: {unknown}; it has {result.laws}")
    kept = {k: w for k, w in chosen.items() if w >= NEGLIGIBLE_WEIGHT}
    if not kept or any(w < 0 for w in chosen.values()):
        raise ValueError(f"weights must be non-negative with at least one above {NEGLIGIBLE_WEIGHT}; got {chosen}")
    total = sum(kept.values())
    fits = {law: result.fit_all(law, progress=progress) for law in kept}
    return Stack(fits, {k: w / total for k, w in kept.items()}, result)
