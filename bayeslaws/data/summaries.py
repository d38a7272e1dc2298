"""Summaries of posterior draws: mean, median and equal-tailed intervals, with stable column names."""

from __future__ import annotations

import numpy as np


def quantile_name(q: float) -> str:
    """Column name of a quantile: 0.05 -> 'q05', 0.95 -> 'q95', 0.025 -> 'q2.5'."""
    pct = round(q * 100, 6)
    return f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:g}"


def finite_quantiles(samples: np.ndarray, qs, axis: int = 0) -> np.ndarray:
    """np.quantile with infinite draws held at the largest float of their sign: a heavy-tailed
    predictive (a Student-t with nu near 1) can overflow exp() in more draws than the tail
    beyond a quantile, and interpolating between two infinities gives NaN (inf - inf); the
    interval end is then the largest float, i.e. unbounded, and holds every observation."""
    big = np.finfo(np.result_type(samples, np.float32)).max
    return np.quantile(np.clip(samples, -big, big), qs, axis=axis)


def summarise_draws(samples: np.ndarray, prefix: str, ci_prob: float) -> dict[str, np.ndarray]:
    """Mean, median and the equal-tailed ci_prob interval over axis 0 (the draws)."""
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    low, high = finite_quantiles(samples, [lo, hi])
    return {
        f"{prefix}_mean": samples.mean(axis=0),
        f"{prefix}_median": np.median(samples, axis=0),
        f"{prefix}_{quantile_name(lo)}": low,
        f"{prefix}_{quantile_name(hi)}": high,
    }
