"""Run tables: one validated schema for a zoo of training runs.

A run table is a pandas frame with these canonical columns (units in brackets):

==========  ========  ===========================================================
column      required  meaning
==========  ========  ===========================================================
N           yes*      model parameters [raw count, e.g. 7e9, not millions]
D           yes*      training tokens [raw count]
loss        yes       final loss [nats per token]
C           no        training compute [FLOPs]; defaults to 6 * N * D
family      no        model family / data recipe label [text]
run_id      no        unique run identifier [text or integer]
lr          no        peak learning rate
batch_size  no        batch size [tokens]
step        no        optimiser step of the checkpoint
err_*       no        downstream error metrics in [0, 1] (1 - accuracy)
diverged    no        the run diverged [True/False, 1/0, yes/no]: its loss (any value, or
                      missing) measures the divergence, not the law; bl.fit leaves it out
==========  ========  ===========================================================

(*) which of N, D, C are required depends on the law; ``load_runs`` requires
N, D and loss unless told otherwise. Every other column is carried along unchanged.

Values are converted to float64 with NumPy here, before anything reaches JAX:
JAX without 64-bit mode turns int64 into int32 and silently overflows above 2**31.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .files import TableFileError, read_table

NUMERIC_COLUMNS = ("N", "D", "loss", "C", "lr", "batch_size", "step")
POSITIVE_COLUMNS = ("N", "D", "loss", "C", "lr", "batch_size")
TEXT_COLUMNS = ("family", "run_id")
DIVERGED = "diverged"  # a boolean column: runs that diverged (see without_diverged)
CANONICAL = NUMERIC_COLUMNS + TEXT_COLUMNS + ("unique_tokens", "n_star", DIVERGED)  # plus err_<task>
UNITS = {
    "N": "parameters",
    "D": "tokens",
    "C": "FLOPs",
    "loss": "nats",
    "lr": "learning rate",
    "batch_size": "tokens",
    "step": "steps",
}
MAX_ROWS_SHOWN = 8


class RunTableError(ValueError):
    """Raised when a run table cannot be used; the message names the column and rows."""


class TooFewRunsError(RunTableError):
    """Raised when a table has fewer runs than the model has parameters to learn."""


@dataclass(frozen=True)
class RunTable:
    """A validated zoo of training runs.

    ``frame`` holds canonical column names (see the module docstring) and a fresh
    RangeIndex; ``source_columns`` maps each canonical name to the user's column name;
    ``metadata`` carries units, provenance and notes as plain JSON-able values.
    """

    frame: pd.DataFrame
    source_columns: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        cols = ", ".join(self.frame.columns)
        return f"RunTable({len(self)} runs; columns: {cols})"

    def _repr_html_(self) -> str:
        return f"<p>RunTable: {len(self)} runs</p>" + self.frame._repr_html_()

    def log(self, column: str) -> np.ndarray:
        """Natural log of a positive numeric column, as float64 NumPy."""
        return np.log(self.frame[column].to_numpy(dtype=np.float64))

    def has(self, column: str) -> bool:
        return column in self.frame.columns


def load_runs(
    source: str | PathLike | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    required: tuple[str, ...] = ("N", "D", "loss"),
    metadata: Mapping[str, object] | None = None,
) -> RunTable:
    """Read and validate a table of training runs.

    ``source`` is a DataFrame (never modified) or a path to a CSV, Parquet or JSON file.
    ``columns`` maps canonical names to the user's names, e.g.
    ``{"N": "params", "D": "tokens", "loss": "val_loss"}``; canonical names already
    present need no mapping. Raises :class:`RunTableError` naming the column and rows at
    fault; warns when values look like they are in the wrong units.
    """
    raw = read_source(source)
    mapping = dict(columns or {})
    _check_mapping(raw, mapping, required)
    frame = _rename(raw, mapping)
    _check_not_empty(frame)
    diverged = np.zeros(len(frame), bool)
    if DIVERGED in frame.columns:
        frame[DIVERGED] = _boolean_column(frame[DIVERGED], mapping.get(DIVERGED, DIVERGED))
        diverged = frame[DIVERGED].to_numpy()
    for name in NUMERIC_COLUMNS:
        if name in frame.columns:
            frame[name] = _numeric_column(frame[name], name, mapping.get(name, name),
                                          unchecked=diverged if name == "loss" else None)
    for name in TEXT_COLUMNS:
        if name in frame.columns:
            _check_no_missing(frame[name], name, mapping.get(name, name))
    if "run_id" in frame.columns:  # with a step column, a run_id names a curve: its (run_id, step) pairs are unique
        key = frame["run_id"].astype(str) + " at step " + frame["step"].astype(str) if "step" in frame else frame["run_id"]
        _check_unique(key, mapping.get("run_id", "run_id") + (" with step" if "step" in frame else ""))
    meta = {"units": {k: v for k, v in UNITS.items() if k in frame.columns}}
    if "C" not in frame.columns and {"N", "D"} <= set(frame.columns):
        frame["C"] = 6.0 * frame["N"] * frame["D"]
        meta["C_source"] = "6 * N * D"
    _warn_on_units(frame[~diverged], mapping)
    meta.update(metadata or {})
    if isinstance(source, (str, PathLike)):
        meta.setdefault("source", str(source))
    return RunTable(frame.reset_index(drop=True), mapping, meta)


def without_diverged(table: RunTable) -> tuple[RunTable, RunTable | None]:
    """(the runs not marked diverged, possibly none; the runs marked, or None). A diverged run's final loss (6-12
    nats, or none) says that its learning rate was too high, not what the law predicts: kept in a
    Student-t likelihood, a few percent of such runs pull its nu to about 1, whose heavy tails then
    widen every forecast (on 2,000-run sweeps the held-out 90 % loss intervals held 0.998 of the
    runs with them, 0.894 without; benchmarks/penalised_extrapolation.py --diverged)."""
    if not table.has(DIVERGED) or not table.frame[DIVERGED].any():
        return table, None
    marked = table.frame[DIVERGED].to_numpy(bool)
    frame = table.frame
    return (RunTable(frame[~marked].reset_index(drop=True), table.source_columns, table.metadata),
            RunTable(frame[marked].reset_index(drop=True), table.source_columns, table.metadata))


def check_enough_runs(table: RunTable, n_parameters: int, law_name: str) -> None:
    """Refuse tables with fewer runs than the law has parameters to learn."""
    if len(table) < n_parameters:
        raise TooFewRunsError(
            f"law '{law_name}' has {n_parameters} parameters but the table has only "
            f"{len(table)} runs; add runs, choose a law with fewer parameters, or fit these runs together with "
            "other families' (bl.fit(..., groups='family')), which lends them the population's parameters"
        )


def check_has_columns(table: RunTable, needed: tuple[str, ...], why: str) -> None:
    missing = [c for c in needed if c not in table.frame.columns]
    if missing:
        raise RunTableError(
            f"{why} needs column(s) {missing}, which the run table lacks; it has "
            f"{list(table.frame.columns)}. Map them with columns={{...}} in load_runs."
        )


def check_positive_columns(table: RunTable, columns: tuple[str, ...]) -> None:
    """Every value of these columns must be a positive finite number (a law takes their logs)."""
    for name in columns:
        user = table.source_columns.get(name, name)
        column = table.frame[name]
        values = _numeric_column(column, name, user).to_numpy()
        if not (values > 0).all():
            bad = ~(values > 0)
            raise RunTableError(f"{_label(name, user)} must be positive for a law in log space; "
                                f"it is not at {describe_rows(column, bad)}")


def check_error_column(table: RunTable, metric: str) -> None:
    """A downstream error metric (1 - accuracy, a fraction) must exist and lie in [0, 1].
    Missing values (NaN: not evaluated) are allowed; the caller decides what to do with them."""
    if metric not in table.frame.columns:
        available = [str(c) for c in table.frame.columns if str(c).startswith("err_")]
        has = (f"its error columns are {available}" if available
               else f"it has no err_* columns (columns: {list(table.frame.columns)})")
        raise RunTableError(f"no error metric column '{metric}' in the run table; {has}")
    user = table.source_columns.get(metric, metric)
    column = table.frame[metric]
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    not_numeric = np.isnan(values) & column.notna().to_numpy()
    if not_numeric.any():
        raise RunTableError(f"{_label(metric, user)} has non-numeric values at {describe_rows(column, not_numeric)}")
    outside = ~np.isnan(values) & ~((values >= 0) & (values <= 1))
    if outside.any():
        examples = ", ".join(f"{v:g}" for v in values[outside][:3])
        raise RunTableError(f"{_label(metric, user)} is an error rate (1 - accuracy) and must lie in [0, 1], "
                            f"but does not at {describe_rows(column, outside)} (values {examples}); percentages "
                            "must be divided by 100")


def read_source(source: str | PathLike | pd.DataFrame) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        repeated = sorted({str(c) for c in source.columns[source.columns.duplicated()]})
        if repeated:
            raise RunTableError(f"the frame repeats the column name(s) {repeated}; every column needs its own name")
        return source.copy(deep=True)
    try:
        return read_table(Path(source))
    except TableFileError as error:
        raise RunTableError(str(error)) from None


def _check_mapping(raw: pd.DataFrame, mapping: dict, required: tuple[str, ...]) -> None:
    unknown = [c for c in mapping if c not in CANONICAL and not str(c).startswith("err_")]
    if unknown:
        raise RunTableError(f"columns= maps to unknown canonical name(s) {unknown}; the canonical names are "
                            f"{list(CANONICAL)} and err_<task> for downstream errors (other columns are kept "
                            "under their own names without a mapping)")
    for canonical, user in mapping.items():
        if user not in raw.columns:
            raise RunTableError(
                f"column '{user}' (mapped to {canonical}) is missing; the table has "
                f"columns {list(raw.columns)}"
            )
    for canonical in required:
        if canonical not in mapping and canonical not in raw.columns:
            raise RunTableError(
                f"required column '{canonical}' ({UNITS.get(canonical, '')}) is missing; "
                f"the table has columns {list(raw.columns)}. Map it with "
                f"columns={{'{canonical}': '<your column>'}}"
            )


def _rename(raw: pd.DataFrame, mapping: dict) -> pd.DataFrame:
    renamed = {user: canonical for canonical, user in mapping.items()}
    clashes = [c for c in mapping if c in raw.columns and c not in renamed]
    if clashes:
        raise RunTableError(
            f"column(s) {clashes} exist in the table and are also mapped from other "
            "columns; rename one of them"
        )
    return raw.rename(columns=renamed)


def _check_not_empty(frame: pd.DataFrame) -> None:
    if len(frame) == 0:
        raise RunTableError("the run table is empty: it has no rows")


def describe_rows(frame_or_series, mask: np.ndarray) -> str:
    labels = list(frame_or_series.index[mask])
    shown = ", ".join(str(x) for x in labels[:MAX_ROWS_SHOWN])
    more = f" and {len(labels) - MAX_ROWS_SHOWN} more" if len(labels) > MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(labels) > 1 else ''} {shown}{more}"


def _label(name: str, user: str) -> str:
    return f"column '{user}'" if user == name else f"column '{user}' (used as {name})"


def _boolean_column(column: pd.Series, user: str) -> pd.Series:
    """True/False from booleans, 1/0 or the words true/false, yes/no (any case); anything else,
    missing values included, is a RunTableError naming the rows."""
    words = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False, "1.0": True, "0.0": False}
    parsed = column.map(lambda v: words.get(str(v).strip().lower()) if not isinstance(v, (bool, np.bool_)) else bool(v))
    bad = parsed.isna().to_numpy()
    if bad.any():
        examples = ", ".join(repr(v) for v in column[bad].head(3))
        raise RunTableError(f"column '{user}' (diverged) must be True/False (or 1/0, yes/no) but is not at "
                            f"{describe_rows(column, bad)} (values {examples})")
    return parsed.astype(bool)


def _numeric_column(column: pd.Series, name: str, user: str, unchecked: np.ndarray | None = None) -> pd.Series:
    """Convert to float64, rejecting text, missing, infinite and (where required) non-positive
    values, except in the rows ``unchecked`` marks (runs that diverged: any loss, or none)."""
    if unchecked is not None and unchecked.any():
        checked = _numeric_column(column[~unchecked], name, user)
        rest = pd.to_numeric(column[unchecked], errors="coerce").astype(np.float64)
        return pd.concat([checked, rest]).reindex(column.index).rename(column.name)
    values = pd.to_numeric(column, errors="coerce")
    not_numeric = values.isna().to_numpy() & column.notna().to_numpy()
    if not_numeric.any():
        examples = ", ".join(repr(v) for v in column[not_numeric].head(3))
        raise RunTableError(
            f"{_label(name, user)} has non-numeric values at {describe_rows(column, not_numeric)} "
            f"(e.g. {examples})"
        )
    as_float = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(as_float)
    if missing.any():
        raise RunTableError(f"{_label(name, user)} has missing values (NaN) at {describe_rows(column, missing)}")
    infinite = np.isinf(as_float)
    if infinite.any():
        raise RunTableError(f"{_label(name, user)} has infinite values at {describe_rows(column, infinite)}")
    bad = as_float <= 0 if name in POSITIVE_COLUMNS else as_float < 0
    if bad.any():
        examples = ", ".join(f"{v:g}" for v in as_float[bad][:3])
        sign = "positive" if name in POSITIVE_COLUMNS else "non-negative"
        raise RunTableError(
            f"{_label(name, user)} must be {sign} but is not at {describe_rows(column, bad)} "
            f"(values {examples})"
        )
    return pd.Series(as_float, index=column.index, name=column.name)


def _check_no_missing(column: pd.Series, name: str, user: str) -> None:
    missing = column.isna().to_numpy()
    if missing.any():
        raise RunTableError(f"{_label(name, user)} has missing values at {describe_rows(column, missing)}")


def _check_unique(column: pd.Series, user: str) -> None:
    duplicated = column.duplicated(keep=False).to_numpy()
    if duplicated.any():
        values = [v.item() if hasattr(v, "item") else v for v in column[duplicated].unique()[:3]]  # plain, not np.int64(0)
        examples = ", ".join(map(repr, values))
        raise RunTableError(
            f"column '{user}' must identify runs uniquely but repeats {examples} at "
            f"{describe_rows(column, duplicated)}"
        )


def _warn_on_units(frame: pd.DataFrame, mapping: dict) -> None:
    checks = [
        ("N", lambda v: v < 1e4, "below 1e4 parameters: are these millions or billions? N must be a raw count"),
        ("D", lambda v: v < 1e5, "below 1e5 tokens: are these billions? D must be a raw token count"),
        ("loss", lambda v: v > 20, "above 20 nats: is this perplexity, or a diverged run? loss must be cross-entropy in nats"),
    ]
    for name, suspicious, advice in checks:
        if name not in frame.columns:
            continue
        mask = suspicious(frame[name].to_numpy())
        if mask.any():
            warnings.warn(
                f"{_label(name, mapping.get(name, name))}: {describe_rows(frame, mask)} {advice}",
                UserWarning,
                stacklevel=3,
            )
