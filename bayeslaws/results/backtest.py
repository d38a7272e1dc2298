"""Backtests: refit each law without the largest runs and score its forecasts of them.

LOO rewards a law that interpolates; the decision a team faces is an extrapolation. A backtest
asks the question directly on the user's own runs: for each holdout fraction q (default the top
10 %, 25 % and 50 % of compute), fit on the runs with C at or below the (1 - q) quantile and
score the predictive distribution of every held-out run:

- relative error |median - observed| / observed of the predicted loss;
- coverage: whether the 50 % and 90 % predictive intervals (a new run's loss, noise included)
  hold the observed loss; width_90: (q95 - q05) / median;
- lpd: log predictive density of the observed log loss, log mean_s p(log y | draw s);
- pit: the share of predictive draws below the observed loss (uniform for a calibrated forecast:
  a histogram of them shows intervals too narrow, piled at 0 and 1, or too wide, bunched at 1/2).

Every split of a law is padded to one size, so one compiled sampler serves all its splits.
A split whose training runs are fewer than some law's parameters is left out for every law (with
a warning), so that all laws are scored, and stacked, on the same held-out runs.
The split fits' own warnings (convergence, heavy tails) are raised once per law and kind, with
the number of splits that raised them (digest_warnings), not once per fit.
"""

from __future__ import annotations

import re
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Sequence

import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..data import RunTable, TooFewRunsError, finite_quantiles, load_runs
from ..data.runs import without_diverged
from ..laws import get_law
from . import forecast
from .checks import warn_if_extrapolation_misses
from .fit import Fit
from .fitting import fit as fit_law

HOLDOUTS = (0.10, 0.25, 0.50)  # fractions of the runs, by compute, held out per split
BACKTEST_DRAWS = {"chains": 4, "warmup": 500, "draws": 500}


@dataclass
class Backtest:
    """Scores of each law's forecasts of the runs it did not see.

    runs: every run. laws: the law names, in the order given (the first is "the chosen law").
    scores: one row per (law, holdout): n_train, n_heldout, median_rel_error, coverage_50,
        coverage_90, width_90, lpd (sum over held-out runs), lpd_se, divergences, max_r_hat.
    points: one row per (law, holdout, held-out run): row (position in runs), C, observed,
        median, q05, q25, q75, q95, lpd, covered_50, covered_90, pit.
    options: the fit options of every fit (law excluded), reused for fits on all runs.
    """

    runs: RunTable
    laws: list[str]
    scores: pd.DataFrame
    points: pd.DataFrame
    options: dict = field(default_factory=dict)
    full_fits: dict[str, Fit] = field(default_factory=dict, repr=False)

    def fit_all(self, law: str, progress: bool = False) -> Fit:
        """The law fitted to every run with the backtest's options (computed once, then kept).
        Its settings carry the law's held-out record, so its summary() warns when it misses."""
        if law not in self.full_fits:
            fitted = fit_law(self.runs, law, **self.options, progress=progress)
            fitted.settings["backtest"] = self.record(law)
            self.full_fits[law] = fitted
        return self.full_fits[law]

    def record(self, law: str) -> dict:
        """The law's pooled held-out scores beside the best law's (for the extrapolation warning)."""
        pooled = self.pooled()
        mine, best = pooled.set_index("law").loc[law], pooled.iloc[0]
        return {"law": law, **{k: float(mine[k]) for k in ("coverage_90", "median_rel_error", "lpd", "lpd_se")},
                "best_law": str(best["law"]), "best_lpd": float(best["lpd"]), "best_lpd_se": float(best["lpd_se"]),
                "holdout": sorted(float(q) for q in self.scores["holdout"].unique())}

    def pooled(self) -> pd.DataFrame:
        """One row per law: the scores over every held-out run of every split (lpd_se from the
        per-run lpd spread), best lpd first."""
        rows = []
        for law, group in self.points.groupby("law", sort=False):
            rows.append({"law": law, **point_scores(group)})
        return pd.DataFrame(rows).sort_values("lpd", ascending=False, ignore_index=True)

    def plot(self, holdout: float | None = None):
        """Forecast against observed loss of the held-out runs, one panel per law (90 % bars)."""
        from .plots import plot_backtest

        return plot_backtest(self, holdout)

    def __repr__(self) -> str:
        return (f"Backtest({len(self.laws)} laws x {self.scores['holdout'].nunique()} splits on {len(self.runs)} "
                f"runs)\n{self.scores.to_string(index=False, float_format=_format)}")


def backtest(
    runs: RunTable | pd.DataFrame,
    laws: Sequence[str] = ("chinchilla", "kaplan"),
    *,
    holdout: Sequence[float] = HOLDOUTS,
    by: str = "C",
    seed: int = 0,
    progress: bool = True,
    warn: bool = True,
    **fit_options,
) -> Backtest:
    """Refit each law without the runs above each compute quantile and score the held-out runs.

    runs: a RunTable or DataFrame (canonical columns). laws: registry names (or Law objects).
    holdout: fractions of runs held out, by ``by`` (default "C" [FLOPs], 6 N D if absent).
    fit_options: passed to bl.fit (likelihood, priors, penalty, terms, chains, warmup, draws, ...);
        default 4 chains x (500 warmup + 500 draws).
    Warns (ExtrapolationWarning) for each law whose pooled held-out 90 % coverage is below 0.7, and
    for the first law (the chosen one) when another's held-out lpd is better by more than 2 se.
    """
    table = as_table(runs)
    names = [get_law(law).name for law in laws]
    if not names:
        raise ValueError("give at least one law to backtest")
    options = {**BACKTEST_DRAWS, **fit_options, "seed": seed}
    splits = []
    for q in _fractions(holdout):
        train, heldout = holdout_split(table, q, by)
        splits.append((q, train, without_diverged(heldout)[0]))  # a diverged run's loss is not the law's to forecast
    started, done, total = time.perf_counter(), 0, len(names) * len(splits)
    scores, points, raised, too_small = [], [], [], {}
    for name in names:
        for q, train, heldout in splits:
            if q in too_small:
                continue
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    fitted = fit_law(train, name, **options, progress=False)
            except TooFewRunsError as error:
                too_small[q] = str(error).split(";")[0]
                continue
            raised += [(name, q, w) for w in caught]
            per_run = score_runs(fitted, heldout, seed=seed)
            per_run.insert(0, "holdout", q)
            per_run.insert(0, "law", name)
            points.append(per_run)
            diag = fitted.diagnostics
            scores.append({"law": name, "holdout": q, "n_train": len(train), "n_heldout": len(heldout),
                           **point_scores(per_run), "divergences": diag["divergences"],
                           "max_r_hat": diag["max_r_hat"]})
            done += 1
            if progress:
                _report(done, total, name, q, started)
    scores, points, raised = _without_splits(too_small, scores, points, raised, len(splits))
    result = Backtest(table, names, pd.DataFrame(scores), pd.concat(points, ignore_index=True), options)
    digest_warnings(raised, len(splits) - len(too_small))
    if warn:
        for name in names:
            record = result.record(name)
            if name != names[0]:
                record.pop("best_law")  # only the chosen law is told that another law is better
            warn_if_extrapolation_misses(record)
    return result


def _without_splits(too_small: dict, scores: list, points: list, raised: list, splits: int) -> tuple:
    """scores, points and warnings without those of the splits in too_small (holdout -> why: too
    few training runs for some law), each such split announced by a warning; an error if none is left."""
    if len(too_small) == splits:
        raise TooFewRunsError(f"no holdout split leaves enough training runs for every law: "
                              f"{'; '.join(f'{q:.0%}: {why}' for q, why in too_small.items())}")
    for q, why in too_small.items():
        warnings.warn(f"backtest: the {q:.0%} holdout split is left out for every law (its training runs are too "
                      f"few: {why}); the scores and stacking weights rest on the other splits", UserWarning,
                      stacklevel=3)
    return ([row for row in scores if row["holdout"] not in too_small],
            [part for part in points if part["holdout"].iloc[0] not in too_small],
            [entry for entry in raised if entry[1] not in too_small])


def digest_warnings(raised: Sequence[tuple[str, float, warnings.WarningMessage]], splits: int) -> None:
    """Re-raise the split fits' warnings, given as (law, holdout, warning), once per law and kind of
    message (its category and first three words: "max R-hat chains", "Student-t nu the", ...),
    naming how many of the law's ``splits`` fits raised it, and the first one's text."""
    kinds: dict[tuple, list[tuple[float, warnings.WarningMessage]]] = {}
    for law, holdout, caught in raised:
        words = tuple(re.findall(r"[A-Za-z][A-Za-z-]*", str(caught.message))[:3])
        kinds.setdefault((law, caught.category, words), []).append((holdout, caught))
    for (law, category, _), found in kinds.items():
        holdouts = sorted({q for q, _ in found})
        where = ", ".join(f"{q:.0%}" for q in holdouts)
        warnings.warn(f"backtest of '{law}', {len(holdouts)} of {splits} split fits (held out: {where}): "
                      f"{found[0][1].message}", category, stacklevel=3)


def holdout_split(table: RunTable, fraction: float, by: str = "C") -> tuple[RunTable, RunTable]:
    """(train, held-out): held out are at least ``fraction`` of the runs, those with the largest
    ``by``; runs tied at the cut (e.g. one isoFLOP budget) are held out together. Both tables get
    a column ``row``, the run's position in ``table``."""
    table = as_table(table)
    values = _compute(table) if by == "C" and not table.has("C") else table.frame[by].to_numpy(dtype=float)
    threshold = np.quantile(values, 1.0 - fraction, method="higher")
    heldout = values >= threshold
    if heldout.all():
        raise ValueError(f"holdout {fraction}: no run lies below the top {fraction:.0%} of {by} "
                         f"({threshold:.3g}); the runs need more than one {by} value")
    frame = table.frame.assign(row=np.arange(len(table)), **({"C": values} if by == "C" else {}))
    return (replace(table, frame=frame[~heldout].reset_index(drop=True)),
            replace(table, frame=frame[heldout].reset_index(drop=True)))


def score_runs(fit: Fit, table: RunTable | pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per-run scores of a fit's predictive distribution at runs of ``table`` (with the response
    column): C, observed, predictive median and 50 %/90 % interval ends, lpd, covered_50/90, pit. For a
    fit with groups=, each run is scored with its family's draws (a family the fit has not seen,
    or a run without the column: a new family's)."""
    return forecast.per_family(fit, as_table(table), lambda part, draws: _score(fit, part, draws, seed), seed)


def _score(fit: Fit, table: RunTable, draws: dict, seed: int) -> pd.DataFrame:
    spec = fit.spec
    log_loss, noise = forecast.mean_and_noise(fit, table, draws)
    distribution = forecast.predictive_distribution(spec.likelihood, draws, log_loss, noise)
    observed = table.frame[fit.response].to_numpy(dtype=np.float64)
    log_density = np.asarray(distribution.log_prob(jnp.asarray(np.log(observed))), dtype=np.float64)
    with np.errstate(over="ignore"):  # a Student-t tail draw beyond e^709 nats is inf (see finite_quantiles)
        predictive = np.exp(forecast.predictive_log_loss_draws(spec.likelihood, draws, log_loss, seed, noise))
    lpd = np.logaddexp.reduce(log_density, axis=0) - np.log(len(log_density))
    return interval_scores(table, observed, predictive, lpd)


def interval_scores(table: RunTable, observed: np.ndarray, predictive: np.ndarray, lpd: np.ndarray) -> pd.DataFrame:
    """The scored-runs frame from new-run draws (S, M) of the observed values (M,) and their lpd."""
    q05, q25, median, q75, q95 = finite_quantiles(predictive, [0.05, 0.25, 0.5, 0.75, 0.95])
    frame = table.frame
    return pd.DataFrame({
        "row": frame["row"].to_numpy() if "row" in frame else np.arange(len(frame)),
        "C": frame["C"].to_numpy() if "C" in frame else _compute(table),
        "observed": observed, "median": median, "q05": q05, "q25": q25, "q75": q75, "q95": q95, "lpd": lpd,
        "covered_50": (q25 <= observed) & (observed <= q75),
        "covered_90": (q05 <= observed) & (observed <= q95),
        "pit": (predictive < observed).mean(axis=0),
    })


def point_scores(points: pd.DataFrame) -> dict:
    """Median relative error, coverage, relative 90 % width and lpd (sum, se) of scored runs."""
    n = len(points)
    return {
        "median_rel_error": float(np.median(np.abs(points["median"] - points["observed"]) / points["observed"])),
        "coverage_50": float(points["covered_50"].mean()),
        "coverage_90": float(points["covered_90"].mean()),
        "width_90": float(np.median((points["q95"] - points["q05"]) / points["median"])),
        "lpd": float(points["lpd"].sum()),
        "lpd_se": float(np.sqrt(n) * points["lpd"].std(ddof=1)) if n > 1 else float("nan"),
    }


def as_table(runs: RunTable | pd.DataFrame) -> RunTable:
    """A RunTable as given, or a DataFrame with canonical columns validated into one."""
    return runs if isinstance(runs, RunTable) else load_runs(runs, required=())


def _compute(table: RunTable) -> np.ndarray:
    return forecast.COMPUTE_PER_TOKEN_PARAM * table.frame["N"].to_numpy(float) * table.frame["D"].to_numpy(float)


def _fractions(holdout) -> list[float]:
    fractions = [float(q) for q in np.atleast_1d(holdout)]
    bad = [q for q in fractions if not 0 < q < 1]
    if bad:
        raise ValueError(f"holdout fractions must lie in (0, 1); got {bad}")
    return fractions


def _report(done: int, total: int, law: str, q: float, started: float) -> None:
    elapsed = time.perf_counter() - started
    left = elapsed / done * (total - done)
    print(f"bayeslaws backtest: {done}/{total} fits ({law}, top {q:.0%} held out); "
          f"{elapsed:.0f} s elapsed, about {left:.0f} s left", file=sys.stderr, flush=True)


def _format(x: float) -> str:
    return f"{x:.4g}"
