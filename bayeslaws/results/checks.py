"""Warnings about extrapolation, from a backtest's held-out scores (bayeslaws.results.backtest).

A law whose 90 % intervals hold fewer than 70 % of the held-out largest runs, or whose held-out
log predictive density is beaten by another law's by more than 2 standard errors, is not to be
trusted at larger scale as it stands; the warning says what to do instead.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

COVERAGE_WARN = 0.7  # held-out 90 % coverage below this warns
SE_MARGIN = 2.0  # another law better by more than this many standard errors warns


class ExtrapolationWarning(UserWarning):
    """A law's forecasts of the held-out largest runs miss: its intervals are too narrow there."""


ADVICE = ("Compare laws (bl.compare), use a stacked forecast (bl.stack) or add a discrepancy term "
          "(bl.fit(..., discrepancy=True)).")


def warn_if_extrapolation_misses(record: Mapping, stacklevel: int = 3) -> None:
    """Warn from one law's held-out record: keys law, coverage_90, median_rel_error, lpd, lpd_se,
    and (optionally) best_law, best_lpd, best_lpd_se of the best law in the same backtest."""
    if record["coverage_90"] < COVERAGE_WARN:
        warnings.warn(f"law '{record['law']}' held {record['coverage_90']:.0%} of the held-out largest runs in "
                      f"its 90 % intervals (median error {record['median_rel_error']:.1%}): its extrapolations "
                      f"are overconfident. {ADVICE}", ExtrapolationWarning, stacklevel=stacklevel)
    best = record.get("best_law")
    if best is None or best == record["law"]:
        return
    gap = record["best_lpd"] - record["lpd"]
    if gap > SE_MARGIN * np.hypot(record["best_lpd_se"], record["lpd_se"]):
        warnings.warn(f"law '{best}' forecasts the held-out largest runs better than '{record['law']}' (held-out "
                      f"lpd {record['best_lpd']:.1f} against {record['lpd']:.1f}, more than {SE_MARGIN:g} se "
                      "apart); use it or a stacked forecast (bl.stack).", ExtrapolationWarning, stacklevel=stacklevel)
