"""Padded float32 arrays for the model, so one compiled sampler serves every table of a size.

Logs are taken in float64 NumPy first (JAX without 64-bit mode would overflow int64 token
counts); padding rows repeat the first run and are masked out of the likelihood.
"""

from __future__ import annotations

import numpy as np

SHAPE_BUCKETS = (16, 64, 256, 512, 1024, 2048, 4096)
FEATURE_BLOCK = 16  # a curve law's second feature axis (cells) is padded to a multiple of this


def bucket_size(n: int) -> int:
    """The padded length for n rows: the smallest bucket that holds them (or n rounded up to 1024s)."""
    for size in SHAPE_BUCKETS:
        if n <= size:
            return size
    return int(np.ceil(n / 1024) * 1024)


def pad(values, size: int) -> np.ndarray:
    """values (float64) padded to ``size`` by repeating the first, as float32."""
    values = np.asarray(values, dtype=np.float64)
    padded = np.full(size, values[0], dtype=np.float64)
    padded[: len(values)] = values
    return padded.astype(np.float32)


def mask(n: int, size: int) -> np.ndarray:
    """True for the n real rows of a padded array of length size."""
    return np.arange(size) < n


def log_columns(table, columns, size: int) -> tuple[dict, dict]:
    """Padded log columns and their means (the centres the sampler's coordinates use)."""
    logs = {c: table.log(c) for c in dict.fromkeys(columns)}
    return {c: pad(v, size) for c, v in logs.items()}, {c: np.float32(v.mean()) for c, v in logs.items()}


def pad_features(features: dict, size: int) -> dict:
    """A curve law's feature arrays (rows = points) as float32, rows padded to ``size`` by
    repeating the first and any second axis padded with zeros to a multiple of FEATURE_BLOCK (so
    one compiled sampler serves schedules with similar numbers of cells, while every padded cell
    costs as much as a real one in each gradient)."""
    out = {}
    for name, values in features.items():
        values = np.asarray(values, dtype=np.float64)
        rows = np.repeat(values[:1], size, axis=0)
        rows[: len(values)] = values
        if rows.ndim == 2:
            rows = np.pad(rows, ((0, 0), (0, -rows.shape[1] % FEATURE_BLOCK)))
        out[name] = rows.astype(np.float32)
    return out


def feature_centres(features: dict, names) -> dict:
    """The mean of each named feature over its nonzero entries (zeros pad cells a point has not
    reached), float32: the centres of a curve law's centred coordinates."""
    centres = {}
    for name in dict.fromkeys(names):
        values = np.asarray(features[name], dtype=np.float64)
        centres[name] = np.float32(values[values != 0].mean()) if (values != 0).any() else np.float32(0.0)
    return centres
