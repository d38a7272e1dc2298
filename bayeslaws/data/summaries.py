"""Summaries of posterior draws: mean, median and equal-tailed intervals, with stable column names."""

from __future__ import annotations

import numpy as np


def quantile_name(q: float) -> str:
    """Column name of a quantile: 0.05 -> 'q05', 0.95 -> 'q95', 0.025 -> 'q2.5'."""
    pct = round(q * 100, 6)
    return f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:g}"


def finite_quantiles(samples: np.ndarray, qs, axis: int = 0, method: str = "linear") -> np.ndarray:
    """np.quantile with infinite draws held at the largest float of their sign: a heavy-tailed
    predictive (a Student-t with nu near 1) can overflow exp() in more draws than the tail
    beyond a quantile, and interpolating between two infinities gives NaN (inf - inf); the
    interval end is then the largest float, i.e. unbounded, and holds every observation."""
    big = np.finfo(np.result_type(samples, np.float32)).max
    return np.quantile(np.clip(samples, -big, big), qs, axis=axis, method=method)


def summarise_draws(samples: np.ndarray, prefix: str, ci_prob: float, discrete: bool = False) -> dict[str, np.ndarray]:
    """Mean, median and the equal-tailed ci_prob interval over axis 0 (the draws). discrete: the
    draws are counts (e.g. wrong answers out of a benchmark's items, as shares): the median and
    interval ends are then draws themselves (NumPy's inverted-CDF quantiles), never a value
    between two counts."""
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    method = "inverted_cdf" if discrete else "linear"
    low, high = finite_quantiles(samples, [lo, hi], method=method)
    return {
        f"{prefix}_mean": samples.mean(axis=0),
        f"{prefix}_median": np.quantile(samples, 0.5, axis=0, method=method) if discrete else np.median(samples, axis=0),
        f"{prefix}_{quantile_name(lo)}": low,
        f"{prefix}_{quantile_name(hi)}": high,
    }
