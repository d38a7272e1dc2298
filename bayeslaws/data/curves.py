"""Training curves: the logged points of each run, with the learning rate of every step.

A curve table is a frame with one row per logged point: ``run_id``, ``step`` (optimiser step),
``loss`` [nats], and the learning rate of every step from 0, given one of two ways:

- an ``lr`` column with a row at every step from 0 to the run's last (rows without a loss only
  carry the learning rate);
- a ``schedule`` column holding one schedule string per run (bayeslaws.data.schedules), e.g.
  ``cosine:warmup=2160,peak=3e-4,total=24000,final=3e-5``; an ``lr`` column beside it is then
  checked against the schedule at every logged step.

``curve_tables`` turns one into two run tables: ``runs`` (the points with a loss, in run order
then step order) and ``lr`` (run_id, step, lr at every step from 0 to the schedule's end or the
run's last step). Steps must increase within a run: unsorted, duplicated or (for lr columns)
missing steps are a RunTableError naming the run and the step.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .runs import MAX_ROWS_SHOWN, RunTable, RunTableError, read_source, describe_rows
from .schedules import parse_schedule

LR_TABLE = "lr"  # the name of the per-step learning-rate table beside the points ("runs")
LR_TOLERANCE = 1e-6  # relative: a logged lr further than this from its schedule is an error


def curve_tables(source, *, drop_early: float = 0.0) -> dict[str, RunTable]:
    """Validate a curve table (a frame, never modified, or a CSV/Parquet/JSON path) and return
    {"runs": points with a loss, "lr": the learning rate of every step}.

    drop_early: leave out each run's points before this fraction of its last logged step (the
    early part of a curve follows the law least, Hitchhiker's Guide advice); 0 keeps them all.
    """
    frame = read_source(source).copy()
    _require(frame, ("run_id", "step", "loss"))
    if "lr" not in frame and "schedule" not in frame:
        raise RunTableError("a curve table needs an 'lr' column (the learning rate at every step from 0) or a "
                            "'schedule' column (one schedule string per run); it has neither")
    frame["step"] = _whole_steps(frame["step"])
    frame["loss"] = pd.to_numeric(frame["loss"], errors="coerce")
    _check_step_order(frame)
    lr = _lr_from_schedules(frame) if "schedule" in frame else _lr_from_column(frame)
    points = frame[frame["loss"].notna()]
    _check_losses(points)
    if drop_early:
        last = points.groupby("run_id", sort=False)["step"].transform("max")
        points = points[points["step"] >= drop_early * last]
    points = points.reset_index(drop=True).astype({"step": np.float64})
    metadata = {"units": {"step": "steps", "loss": "nats", "lr": "learning rate"}, "drop_early": drop_early}
    return {"runs": RunTable(points, metadata=metadata), LR_TABLE: RunTable(lr, metadata=metadata)}


def lr_by_run(lr_table: RunTable | pd.DataFrame) -> dict:
    """run_id -> float64 learning rate at steps 0, 1, ... (from an lr table of curve_tables)."""
    frame = lr_table.frame if isinstance(lr_table, RunTable) else lr_table
    return {run: group["lr"].to_numpy(np.float64) for run, group in frame.groupby("run_id", sort=False)}


def schedule_lr_table(schedules: Mapping[object, str], last_steps: Mapping[object, int]) -> pd.DataFrame:
    """The lr table (run_id, step, lr) of runs given by schedule strings, each from step 0 to
    the later of its schedule's total and last_steps[run]."""
    parts = []
    for run_id, text in schedules.items():
        schedule = parse_schedule(text, run_id)
        steps = np.arange(max(schedule.total, int(last_steps.get(run_id, 0))) + 1)
        parts.append(pd.DataFrame({"run_id": run_id, "step": steps, "lr": schedule.lr(steps)}))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- validation


def _require(frame: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise RunTableError(f"a curve table needs columns {list(columns)}; missing {missing} "
                            f"(columns found: {list(frame.columns)})")
    if frame["run_id"].isna().any():
        raise RunTableError(f"column 'run_id' is missing at {describe_rows(frame, frame['run_id'].isna().to_numpy())}")


def _whole_steps(column: pd.Series) -> pd.Series:
    steps = pd.to_numeric(column, errors="coerce")
    bad = steps.isna() | (steps < 0) | (steps != np.floor(steps))
    if bad.any():
        raise RunTableError(f"column 'step' must hold whole numbers >= 0; {describe_rows(column, bad.to_numpy())} do not "
                            f"(values {column[bad].head(MAX_ROWS_SHOWN).tolist()})")
    return steps.astype(np.int64)


def _check_step_order(frame: pd.DataFrame) -> None:
    for run_id, steps in frame.groupby("run_id", sort=False)["step"]:
        gaps = np.diff(steps.to_numpy())
        if (gaps == 0).any():
            raise RunTableError(f"run {run_id!r}: step {steps.iloc[1:][gaps == 0].iloc[0]} appears more than once")
        if (gaps < 0).any():
            at = steps.iloc[1:][gaps < 0].iloc[0]
            raise RunTableError(f"run {run_id!r}: steps are not in increasing order (step {at} comes after a "
                                "later one); sort each run's rows by step")


def _check_losses(points: pd.DataFrame) -> None:
    bad = ~np.isfinite(points["loss"]) | (points["loss"] <= 0)
    if bad.any():
        raise RunTableError(f"column 'loss' must be positive and finite; {describe_rows(points, bad.to_numpy())} are not")
    if points.empty:
        raise RunTableError("the curve table has no row with a loss")


def _lr_from_column(frame: pd.DataFrame) -> pd.DataFrame:
    """The lr table from an lr column at every step 0..last of each run."""
    lr = pd.to_numeric(frame["lr"], errors="coerce")
    bad = lr.isna() | ~np.isfinite(lr) | (lr < 0)
    if bad.any():
        raise RunTableError(f"column 'lr' must be finite and >= 0 at every step; {describe_rows(frame, bad.to_numpy())} are not "
                            "(or give a 'schedule' column instead)")
    for run_id, steps in frame.groupby("run_id", sort=False)["step"]:
        expected = np.arange(steps.iloc[-1] + 1)
        if len(steps) != len(expected):
            missing = np.setdiff1d(expected, steps.to_numpy())[:MAX_ROWS_SHOWN].tolist()
            raise RunTableError(f"run {run_id!r}: the lr column needs a row at every step from 0 to "
                                f"{steps.iloc[-1]}; steps {missing} are missing (or give a 'schedule' column)")
    return pd.DataFrame({"run_id": frame["run_id"].to_numpy(), "step": frame["step"].to_numpy(),
                         "lr": lr.to_numpy(np.float64)})


def _lr_from_schedules(frame: pd.DataFrame) -> pd.DataFrame:
    """The lr table from one schedule string per run (checked against a logged lr column)."""
    schedules, last = {}, {}
    for run_id, group in frame.groupby("run_id", sort=False):
        texts = group["schedule"].dropna().unique()
        if len(texts) != 1:
            raise RunTableError(f"run {run_id!r}: column 'schedule' must hold one schedule string for the run; "
                                f"found {list(texts)[:3]}")
        schedules[run_id], last[run_id] = str(texts[0]), int(group["step"].iloc[-1])
    table = schedule_lr_table(schedules, last)
    if "lr" in frame:
        _check_logged_lr(frame, lr_by_run(table))
    return table


def _check_logged_lr(frame: pd.DataFrame, lr: Mapping) -> None:
    for run_id, group in frame[frame["lr"].notna()].groupby("run_id", sort=False):
        logged = pd.to_numeric(group["lr"], errors="coerce").to_numpy(np.float64)
        expected = lr[run_id][group["step"].to_numpy()]
        off = ~np.isclose(logged, expected, rtol=LR_TOLERANCE, atol=0.0)
        if off.any():
            step = group["step"].to_numpy()[off][0]
            raise RunTableError(f"run {run_id!r}: the logged lr {logged[off][0]:.6g} at step {step} does not match "
                                f"its schedule {group['schedule'].iloc[0]!r}, which gives {expected[off][0]:.6g}")
