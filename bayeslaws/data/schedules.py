"""Learning-rate schedules of training runs: from a schedule string to the rate at every step.

A schedule string (a public CLI contract) reads ``KIND:key=value,key=value,...``, e.g.
``cosine:warmup=2160,peak=3e-4,total=24000,final=3e-5``. Every kind takes ``peak`` (the peak
learning rate, required), ``total`` (the planned number of optimiser steps, required) and
``warmup`` (linear warmup steps, default 0). ``s`` is the optimiser step.

========  ==============================  ==========================================================
kind      its own keys (all required)     learning rate for s >= warmup
========  ==============================  ==========================================================
constant  (none)                          peak
cosine    final                           final + (peak - final) / 2 * (1 + cos(pi * u)),
                                          u = (s - warmup) / (total - warmup)
wsd       decay_start, final, shape       peak for s < decay_start; from decay_start on, with
                                          u = (s - decay_start) / (total - decay_start):
                                          linear     peak + (final - peak) * u
                                          geometric  peak**(1 - u) * final**u  (log-linear)
                                          sqrt       final + (peak - final) * (1 - sqrt(u))
                                          (the 1-sqrt cooldown of Hägele et al. 2024)
step      drop_at, to                     peak for s < drop_at, ``to`` from step drop_at on
========  ==============================  ==========================================================

Warmup: lr(s) = peak * s / warmup for s < warmup (0 at step 0). Steps 0..total-1 exist and a
logged point may sit at step == total; u is clipped to [0, 1], so the rate holds its end value
from ``total`` on. Step counts (warmup, total, decay_start, drop_at) are whole numbers >= 0,
written ``2160`` or ``2.16e3``; rates (peak, final, to) are finite floats > 0. Also required:
warmup < total, warmup <= decay_start <= total, warmup < drop_at <= total.

These conventions reproduce the logged rates of Luo et al. 2025 (the Multi-Power Law data:
cosine, constant, WSD with geometric and linear decay, step drops) to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COMMON_KEYS = ("warmup", "peak", "total")
KIND_KEYS = {  # each kind's own keys, in canonical order (after the common ones)
    "constant": (),
    "cosine": ("final",),
    "wsd": ("decay_start", "final", "shape"),
    "step": ("drop_at", "to"),
}
SCHEDULE_KINDS = tuple(KIND_KEYS)
WSD_SHAPES = ("linear", "geometric", "sqrt")
STEP_KEYS = ("warmup", "total", "decay_start", "drop_at")
RATE_KEYS = ("peak", "final", "to")
TEXT_KEYS = ("shape",)


class ScheduleError(ValueError):
    """Raised for a schedule that breaks the grammar; the message names the run and the key at fault."""


@dataclass(frozen=True)
class Schedule:
    """A validated learning-rate schedule. ``peak`` is a learning rate, ``total`` and ``warmup``
    are optimiser steps; ``options`` holds the kind's own keys as (key, value) pairs, stored in
    canonical order. Build one from a string with :func:`parse_schedule`; ``str`` gives it back."""

    kind: str
    peak: float
    total: int
    warmup: int = 0
    options: tuple[tuple[str, float | str], ...] = ()

    def __post_init__(self) -> None:
        where = f"schedule {self!r}"
        pairs = [("warmup", self.warmup), ("peak", self.peak), ("total", self.total), *self.options]
        _check_keys(self.kind, [key for key, _ in pairs], where)
        values = dict(pairs)
        _check_values(self.kind, values, where)
        object.__setattr__(self, "options", tuple((key, values[key]) for key in KIND_KEYS[self.kind]))

    def __str__(self) -> str:
        pairs = [("warmup", self.warmup), ("peak", self.peak), ("total", self.total), *self.options]
        return f"{self.kind}:" + ",".join(f"{key}={_format(value)}" for key, value in pairs)

    def option(self, key: str) -> float | str:
        """The value of one of the kind's own keys, e.g. ``option("final")``."""
        return dict(self.options)[key]

    def lr(self, steps) -> np.ndarray:
        """Learning rate (float64, shaped like ``steps``) at each optimiser step in ``steps`` (>= 0)."""
        s = np.asarray(steps, dtype=np.float64)
        if (s < 0).any():
            raise ValueError(f"steps must be >= 0; the smallest given is {s.min():g}")
        after_warmup = _after_warmup(self, s)
        if self.warmup == 0:
            return after_warmup
        return np.where(s < self.warmup, self.peak * s / self.warmup, after_warmup)


def parse_schedule(text: str, run_id: object = None) -> Schedule:
    """Read a schedule string ``KIND:key=value,...`` (grammar in the module docstring).

    Raises :class:`ScheduleError` naming the run (``run_id``, when given) and the key at fault.
    """
    where = (f"run {run_id!r}: " if run_id is not None else "") + f"schedule {text!r}"
    kind, raw_pairs = _split(text, where)
    _check_keys(kind, [key for key, _ in raw_pairs], where)
    values = {key: _read_value(key, raw, where) for key, raw in raw_pairs}
    _check_values(kind, values, where)  # Schedule checks again, but its errors cannot quote the text or run
    return Schedule(
        kind=kind,
        peak=values["peak"],
        total=values["total"],
        warmup=values.get("warmup", 0),
        options=tuple((key, values[key]) for key in KIND_KEYS[kind]),
    )


def _split(text: str, where: str) -> tuple[str, list[tuple[str, str]]]:
    """The kind and the raw (key, value) strings of a schedule string."""
    kind, colon, body = text.partition(":")
    kind = kind.strip()
    if not colon:
        raise ScheduleError(f"{where}: expected KIND:key=value,...; the kinds are {', '.join(SCHEDULE_KINDS)}")
    if kind not in KIND_KEYS:
        raise ScheduleError(f"{where}: unknown kind {kind!r}; the kinds are {', '.join(SCHEDULE_KINDS)}")
    pairs = []
    for item in body.split(","):
        key, equals, value = item.partition("=")
        if not equals:
            raise ScheduleError(f"{where}: item {item!r} is not key=value")
        pairs.append((key.strip(), value.strip()))
    return kind, pairs


def _check_keys(kind: str, keys: list[str], where: str) -> None:
    """Every key known to the kind, none given twice, every required one present."""
    if kind not in KIND_KEYS:
        raise ScheduleError(f"{where}: unknown kind {kind!r}; the kinds are {', '.join(SCHEDULE_KINDS)}")
    allowed = COMMON_KEYS + KIND_KEYS[kind]
    for key in keys:
        if key not in allowed:
            raise ScheduleError(f"{where}: unknown key {key!r} for kind {kind!r}; its keys are {', '.join(allowed)}")
        if keys.count(key) > 1:
            raise ScheduleError(f"{where}: key {key!r} is given twice")
    for key in allowed:
        if key not in keys and key != "warmup":
            raise ScheduleError(f"{where}: missing key {key!r}")


def _read_value(key: str, raw: str, where: str) -> float | int | str:
    """A raw value as the key's type: text for ``shape``, int for whole step counts, else float."""
    if key in TEXT_KEYS:
        return raw
    try:
        number = float(raw)
    except ValueError:
        raise ScheduleError(f"{where}: key {key!r} = {raw!r} is not a number") from None
    return int(number) if key in STEP_KEYS and number.is_integer() else number


def _check_values(kind: str, values: dict[str, float | int | str], where: str) -> None:
    """Step counts whole and >= 0, rates finite and > 0, a known shape, and the steps in order."""
    for key, value in values.items():
        if key in STEP_KEYS and not (float(value).is_integer() and value >= 0):
            raise ScheduleError(f"{where}: key {key!r} must be a whole number of steps >= 0; got {value!r}")
        if key in RATE_KEYS and not (math.isfinite(value) and value > 0):
            raise ScheduleError(f"{where}: key {key!r} must be a learning rate > 0; got {value!r}")
    if kind == "wsd" and values["shape"] not in WSD_SHAPES:
        raise ScheduleError(f"{where}: key 'shape' = {values['shape']!r} is unknown; "
                            f"the shapes are {', '.join(WSD_SHAPES)}")
    warmup, total = values.get("warmup", 0), values["total"]
    if warmup >= total:
        raise ScheduleError(f"{where}: key 'warmup' = {warmup!r} must be below total = {total!r}")
    if kind == "wsd" and not warmup <= values["decay_start"] <= total:
        raise ScheduleError(f"{where}: key 'decay_start' = {values['decay_start']!r} must lie in "
                            f"[warmup, total] = [{warmup!r}, {total!r}]")
    if kind == "step" and not warmup < values["drop_at"] <= total:
        raise ScheduleError(f"{where}: key 'drop_at' = {values['drop_at']!r} must lie in "
                            f"(warmup, total] = ({warmup!r}, {total!r}]")


def _format(value: float | int | str) -> str:
    """A value as written in the canonical string: repr-exact, so parsing gives it back."""
    return value if isinstance(value, str) else repr(value)


def _after_warmup(schedule: Schedule, s: np.ndarray) -> np.ndarray:
    """The kind's formula for steps s >= warmup (learning rate, float64)."""
    peak, total = schedule.peak, schedule.total
    if schedule.kind == "constant":
        return np.full(s.shape, peak, dtype=np.float64)
    if schedule.kind == "cosine":
        final = schedule.option("final")
        u = _progress(s, schedule.warmup, total)
        return final + (peak - final) / 2 * (1 + np.cos(np.pi * u))
    if schedule.kind == "wsd":
        decay_start = schedule.option("decay_start")
        decayed = _decay(schedule.option("shape"), peak, schedule.option("final"), _progress(s, decay_start, total))
        return np.where(s < decay_start, peak, decayed)
    return np.where(s < schedule.option("drop_at"), peak, schedule.option("to"))


def _progress(s: np.ndarray, start: int, end: int) -> np.ndarray:
    """Fraction u of the way from step ``start`` to step ``end``, clipped to [0, 1]; a
    zero-length stretch (start == end) counts as done from ``start`` on."""
    if end == start:
        return (s >= start).astype(np.float64)
    return np.clip((s - start) / (end - start), 0.0, 1.0)


def _decay(shape: str, peak: float, final: float, u: np.ndarray) -> np.ndarray:
    """WSD cooldown from ``peak`` (u = 0) to ``final`` (u = 1) in the given shape."""
    if shape == "linear":
        return peak + (final - peak) * u
    if shape == "geometric":
        return peak ** (1 - u) * final**u
    return final + (peak - final) * (1 - np.sqrt(u))
