"""What the runs far off a law share: one column of the run table and one threshold on it.

A Student-t likelihood passes by the runs a law cannot describe, and every new run's interval then
carries their tails (bayeslaws.results.residuals). When those runs form a regime (Porian's runs
trained on fewer tokens than parameters, datablations' runs repeated for many epochs), naming it
tells the user what the law does not describe and which column a noise term (bl.NoiseScale) or
a filter would need.

The search: for every positive numeric column of the fitted runs, and for tokens per parameter
D / N where the runs have N and D, every threshold between two of its values, on either side.
A rule's score is the share of far-off runs it holds minus the share of the other runs it holds
(Youden's J); the best rule is reported when it holds at least MIN_SHARE of the far-off runs at a
score of at least MIN_SCORE, and at least MIN_FAR runs are far off. A rule found this way is a
description of these runs, not a test: with few far-off runs a column can separate them by chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_FAR = 3  # fewer far-off runs than this: no regime is sought
MIN_SHARE = 0.75  # a regime holds at least this share of the far-off runs
MIN_SCORE = 0.6  # and its share of them exceeds its share of the other runs by this much
DERIVED = "tokens_per_parameter"  # D / N, searched when the runs have N and D but not this column
NOT_COVARIATES = ("row", "fitted", "residual", "noise_scale", "z", "pit", "covered",  # residuals()' own columns
                  "run_id", "seed")  # labels, not covariates


@dataclass(frozen=True)
class Regime:
    """Runs with ``column`` below (side "<") or above (">") ``threshold``: ``far_inside`` of the
    ``far`` runs far off the law, and ``others_inside`` of the ``others``. derived: the column is
    computed (D / N), not one of the run table's."""

    column: str
    side: str
    threshold: float
    far_inside: int
    far: int
    others_inside: int
    others: int
    derived: bool = False

    def __str__(self) -> str:
        return (f"{self.far_inside} of the {self.far} runs far off the law have {self.column} {self.side} "
                f"{self.threshold:.3g}, against {self.others_inside} of the {self.others} other runs")


def shared_regime(runs: pd.DataFrame, far: np.ndarray, response: str = "loss") -> Regime | None:
    """The one-column, one-threshold rule that best separates the runs flagged ``far`` (bool per
    row of ``runs``) from the others (see the module docstring), or None."""
    far = np.asarray(far, dtype=bool)
    if far.sum() < MIN_FAR or far.all():
        return None
    rules = [_best_split(column, values, far, derived) for column, values, derived in _candidates(runs, response)]
    best = max((rule for rule in rules if rule is not None), key=_score, default=None)  # ties: the earlier column
    return best if best is not None and _score(best) >= MIN_SCORE else None


def _candidates(runs: pd.DataFrame, response: str):
    """(column, float64 values, derived) for every positive, finite numeric column with two or
    more values, and D / N where N and D are columns."""
    for column in runs.columns:
        if column in NOT_COVARIATES or column == response or not pd.api.types.is_numeric_dtype(runs[column]):
            continue
        values = runs[column].to_numpy(np.float64)
        if np.all(np.isfinite(values)) and np.all(values > 0) and np.ptp(values) > 0:
            yield column, values, False
    if DERIVED not in runs and {"N", "D"} <= set(runs.columns):
        yield DERIVED, runs["D"].to_numpy(np.float64) / runs["N"].to_numpy(np.float64), True


def _best_split(column: str, values: np.ndarray, far: np.ndarray, derived: bool) -> Regime | None:
    """The best threshold on one column, either side, as a Regime (None if no rule holds
    MIN_SHARE of the far-off runs). Counts below each cut come from cumulative sums over the
    column's distinct values, so a column costs O(runs log runs)."""
    levels, level = np.unique(values, return_inverse=True)
    far_at = np.bincount(level, weights=far, minlength=len(levels))
    others_at = np.bincount(level, weights=~far, minlength=len(levels))
    far_below, others_below = np.cumsum(far_at)[:-1], np.cumsum(others_at)[:-1]  # below the cut after each level
    cuts = np.sqrt(levels[:-1] * levels[1:])  # geometric midpoints: the columns are positive, often log-spaced
    n_far, n_others = float(far_at.sum()), float(others_at.sum())
    best = None
    for side, far_inside, others_inside in (("<", far_below, others_below),
                                            (">", n_far - far_below, n_others - others_below)):
        score = np.where(far_inside >= MIN_SHARE * n_far, far_inside / n_far - others_inside / n_others, -np.inf)
        i = int(np.argmax(score))
        if np.isfinite(score[i]) and (best is None or score[i] > _score(best)):
            best = Regime(column, side, float(cuts[i]), int(far_inside[i]), int(n_far), int(others_inside[i]),
                          int(n_others), derived)
    return best


def _score(rule: Regime) -> float:
    return rule.far_inside / rule.far - rule.others_inside / rule.others
