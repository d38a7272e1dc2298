"""SHA-256, row and column checks: a file is parsed only after its bytes match the registry."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .errors import DatasetIntegrityError

if TYPE_CHECKING:
    from .registry import FileSpec


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified(path: Path, expected_sha256: str) -> bytes:
    """The bytes of ``path``; raises DatasetIntegrityError (file, expected, actual) on a mismatch."""
    data = path.read_bytes()
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise DatasetIntegrityError(
            f"{path} is altered or truncated: SHA-256 expected {expected_sha256}, actual "
            f"{actual} ({len(data)} bytes). Nothing was parsed; delete the file and copy or "
            "download it again."
        )
    return data


def read_csv_verified(path: Path, spec: FileSpec) -> pd.DataFrame:
    """Parse a CSV whose bytes match ``spec.sha256``, then check its rows and columns."""
    frame = pd.read_csv(io.BytesIO(read_verified(path, spec.sha256)))
    missing = [c for c in spec.columns if c not in frame.columns]
    if len(frame) != spec.rows or frame.shape[1] != spec.n_columns or missing:
        raise DatasetIntegrityError(
            f"{path}: expected {spec.rows} rows x {spec.n_columns} columns including "
            f"{list(spec.columns)}, parsed {len(frame)} x {frame.shape[1]}"
            + (f", missing {missing}" if missing else "")
        )
    return frame
