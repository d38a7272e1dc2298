"""Summaries of posterior draws: mean, median and equal-tailed intervals, with stable column names."""

from __future__ import annotations

import numpy as np


def quantile_name(q: float) -> str:
    """Column name of a quantile: 0.05 -> 'q05', 0.95 -> 'q95', 0.025 -> 'q2.5'."""
    pct = round(q * 100, 6)
    return f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:g}"


def summarise_draws(samples: np.ndarray, prefix: str, ci_prob: float) -> dict[str, np.ndarray]:
    """Mean, median and the equal-tailed ci_prob interval over axis 0 (the draws)."""
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    return {
        f"{prefix}_mean": samples.mean(axis=0),
        f"{prefix}_median": np.median(samples, axis=0),
        f"{prefix}_{quantile_name(lo)}": np.quantile(samples, lo, axis=0),
        f"{prefix}_{quantile_name(hi)}": np.quantile(samples, hi, axis=0),
    }
