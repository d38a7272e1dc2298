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
from .backtest import Backtest, as_table, interval_scores, score_runs
from .backtest import backtest as run_backtest
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
            sizes = self.fits[name].posterior.sizes
            size = sizes["chain"] * sizes["draw"]
            plan.append((name, rng.integers(0, size, size=int((picks == i).sum()))))
        return [(name, index) for name, index in plan if len(index)]

    def predict(self, *, ci_prob: float = 0.9, seed: int = 0, draws: bool = False, family: str | None = None,
                **covariates) -> pd.DataFrame:
        """Stacked loss forecast [nats] at targets (as Fit.predict): loss_* the laws' mean
        functions, loss_pred_* a new run; draws=True gives one row per mixture draw and target
        (with the law it came from). Each law reads the covariates it takes (a law in C takes N
        and D; data_constrained also reads unique_tokens). family: for fits with groups=, the
        family to forecast (None: a family not yet trained), as Fit.predict."""
        values = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in covariates.items()}
        values = dict(zip(values, np.broadcast_arrays(*values.values())))
        per_fit = {name: forecast.read_covariates(fit.spec, values) for name, fit in self.fits.items()}
        unknown = [k for k in values if not any(k in read for read in per_fit.values())]
        if unknown:
            raise ValueError(f"unknown target(s) {unknown}: no law of the stack ({', '.join(self.fits)}) reads them")
        per_law = {name: fit.forecast_draws(seed=seed, family=family, **per_fit[name])[1]
                   for name, fit in self.fits.items()}
        response = next(iter(self.fits.values())).response
        per_law = {name: {k: d[k] for k in (response, f"{response}_pred")} for name, d in per_law.items()}
        mixed, laws = self._mix(per_law, seed)
        targets = pd.DataFrame(values)
        if draws:
            table = forecast.long_table(targets, mixed)
            return table.assign(law=np.repeat(laws, len(targets)))
        return targets.assign(**forecast.summary_columns(response, mixed[response], mixed[f"{response}_pred"], ci_prob))

    def compute_optimal(self, C, ci_prob: float = 0.9, family: str | None = None) -> pd.DataFrame:
        """Stacked compute-optimal N_opt [parameters], D_opt [tokens], loss_opt [nats] and tokens per
        parameter at budgets C [FLOPs] (C = 6 N D); needs laws in N and D. family: as predict."""
        C = np.atleast_1d(np.asarray(C, dtype=np.float64))
        per_law = {}
        for name, fit in self.fits.items():
            optimum = forecast.compute_optimal_draws(fit.law, fit.law_draws(family), C)
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
        lpd = log sum_k w_k p_k(y). For fits with groups=, each run is scored with its family's
        draws (a family the fits have not seen, or a run without the column: a new family's)."""
        fitted = next(iter(self.fits.values()))
        return forecast.by_family(fitted, as_table(table), lambda part, family: self._score(part, family, seed))

    def _score(self, table: RunTable, family: str | None, seed: int) -> pd.DataFrame:
        """score's columns for runs of one family (None: no families, or a new one)."""
        columns = {c: table.frame[c].to_numpy(dtype=np.float64) for c in table.frame.columns
                   if pd.api.types.is_numeric_dtype(table.frame[c])}
        read = {k: v for fit in self.fits.values() for k, v in forecast.read_covariates(fit.spec, columns).items()}
        mixed = self.predict(seed=seed, draws=True, family=family, **read)
        predictive = mixed["loss_pred"].to_numpy().reshape(-1, len(table))
        lpd = np.stack([score_runs(fit, table, seed)["lpd"].to_numpy() + np.log(self.weights[law])
                        for law, fit in self.fits.items()])
        observed = table.frame["loss"].to_numpy(dtype=np.float64)
        return interval_scores(table, observed, predictive, np.logaddexp.reduce(lpd, axis=0))

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
