"""Forecasts of training curves from a fit of a schedule-aware law (e.g. multipower): the curve
of a run under any schedule, the end of a run still training, and which schedule ends lower.

Every forecast is computed per posterior draw and summarised at the end. ``loss_*`` columns are
the law's curve (the expected loss); ``loss_pred_*`` what the run would log: for a new run the
law plus the likelihood's noise, for a fitted run also its residual at its last logged point
before the step, carried forward by the AR(1) correlation (bayeslaws.model.curve_noise).
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..data import summarise_draws
from ..data.runs import describe_rows, read_source
from ..data.curves import LR_TABLE, lr_by_run
from ..data.schedules import parse_schedule
from ..model.curve_noise import offset_given_run
from .forecast import predictive_log_loss_draws

DRAWS_PER_CHUNK = 256  # draws evaluated at once: (draws, points, cells) floats must fit in memory
CURVE_POINTS = 200  # steps in a default curve


def curve_log_loss_draws(fit, draws: Mapping[str, np.ndarray], points: pd.DataFrame,
                         lr: Mapping[object, np.ndarray]) -> np.ndarray:
    """The model's mean log loss per draw and point (S, M): the law of whole curves, then each
    term's forecast hook (e.g. a discrepancy in log step); points: run_id and step, lr: run_id ->
    the learning rate at every step from 0."""
    law = fit.law
    features = {k: jnp.asarray(v) for k, v in law.features(points.reset_index(drop=True), lr).items()}
    params = {k: np.asarray(v, np.float64) for k, v in draws.items() if k in law.param_names}
    size = len(next(iter(params.values())))
    chunks = [law.evaluate({k: jnp.asarray(v[i: i + DRAWS_PER_CHUNK])[:, None] for k, v in params.items()}, features)
              for i in range(0, size, DRAWS_PER_CHUNK)]
    log_loss = np.concatenate([np.asarray(c, np.float64) for c in chunks], axis=0)
    for term in fit.spec.terms:
        log_loss = term.bind(fit.tables).forecast(log_loss, draws, points.reset_index(drop=True))
    return log_loss


def predict_curve(fit, run=None, schedule: str | None = None, steps=None, *, ci_prob: float = 0.9,
                  seed: int = 0, draws: bool = False) -> pd.DataFrame:
    """The loss curve of one run, with bands: a fitted run (``run``: its run_id; give its
    ``schedule`` too to forecast past the steps whose learning rate the fit knows, e.g. to
    finish it), or a new run under ``schedule`` (a schedule string). steps: where to forecast
    (default: CURVE_POINTS steps, evenly in log step, from the end of warmup to the schedule's end
    or the run's known steps). With
    draws=True returns the per-draw frame (draw, run_id, step, loss, loss_pred)."""
    known = lr_by_run(fit.tables[LR_TABLE])
    fitted = run is not None and run in known
    if schedule is None and not fitted:
        raise ValueError(f"run {run!r} is not one of the fitted runs ({list(known)[:5]}...): give its schedule "
                         "string (e.g. 'cosine:warmup=2000,peak=3e-4,total=24000,final=3e-5')")
    label = run if run is not None else str(schedule)
    if schedule is not None:
        parsed = parse_schedule(schedule, label)
        lr = parsed.lr(np.arange(max(parsed.total, len(known.get(run, ())) - 1) + 1))
    else:
        lr = known[run]
    steps = _steps(steps, lr, label)
    points = pd.DataFrame({"run_id": label, "step": steps})
    posterior = fit.draws()
    mean = curve_log_loss_draws(fit, posterior, points, {label: lr})
    if fitted and "length" in fit.spec.likelihood.priors:  # AR(1): the run's own residual carries forward
        shift, scale = _carried_residual(fit, run, posterior, steps)
        predicted = predictive_log_loss_draws(fit.spec.likelihood, posterior, mean + shift, seed, scale)
    elif fitted and "run_sd" in fit.spec.likelihood.priors:  # the run's offset, as its logged points tell it
        shift, spread = offset_given_run(_run_residuals(fit, run, posterior), posterior["sigma"], posterior["run_sd"])
        predicted = predictive_log_loss_draws(fit.spec.likelihood, {**posterior, "run_sd": spread},
                                              mean + shift[:, None], seed)
    else:
        predicted = predictive_log_loss_draws(fit.spec.likelihood, posterior, mean, seed)
    if draws:
        n = mean.shape[0]
        return pd.DataFrame({"draw": np.repeat(np.arange(n), len(steps)), "run_id": label,
                             "step": np.tile(steps, n), "loss": np.exp(mean).ravel(), "loss_pred": np.exp(predicted).ravel()})
    rows = {"run_id": label, "step": steps, "lr": lr[steps]}
    return pd.DataFrame({**rows, **summarise_draws(np.exp(mean), "loss", ci_prob),
                         **{k: v for k, v in summarise_draws(np.exp(predicted), "loss_pred", ci_prob).items()
                            if not k.endswith("_mean")}})


def compare_schedules(fit, schedules: Mapping[str, str], at_step: int | None = None, *,
                      ci_prob: float = 0.9) -> pd.DataFrame:
    """Each schedule's expected loss at its last step (or at_step), and, per other schedule B,
    P(this schedule ends lower than B): the share of posterior draws in which its loss is lower
    (draws are paired, so the law's uncertainty shared by both cancels)."""
    if len(schedules) < 2:
        raise ValueError("give at least two schedules to compare, as {name: schedule string}")
    posterior, ends = fit.draws(), {}
    for name, text in schedules.items():
        parsed = parse_schedule(text, name)
        step = int(at_step if at_step is not None else parsed.total)
        lr = parsed.lr(np.arange(max(parsed.total, step) + 1))
        points = pd.DataFrame({"run_id": [name], "step": [step]})
        ends[name] = (step, np.exp(curve_log_loss_draws(fit, posterior, points, {name: lr})[:, 0]))
    rows = []
    for name, (step, loss) in ends.items():
        lower = {f"P(lower than {other})": float(np.mean(loss < other_loss))
                 for other, (_, other_loss) in ends.items() if other != name}
        summary = {k: float(v[0]) for k, v in summarise_draws(loss[:, None], "loss", ci_prob).items()}
        rows.append({"schedule": name, "step": step, **summary, **lower})
    return pd.DataFrame(rows)


def _steps(steps, lr: np.ndarray, label) -> np.ndarray:
    """The given steps, checked against the steps whose learning rate is known, or by default
    CURVE_POINTS steps spaced evenly in log step from the first peak of the learning rate (the end
    of warmup) to the last known step."""
    last = len(lr) - 1
    if steps is None:
        first = max(1, int(np.argmax(lr)))
        return np.unique(np.geomspace(first, max(first, last), CURVE_POINTS).round().astype(np.int64))
    steps = np.atleast_1d(np.asarray(steps))
    if (steps < 1).any() or (steps != np.round(steps)).any():
        raise ValueError(f"steps must be whole numbers >= 1; got {steps[(steps < 1) | (steps != np.round(steps))][:5]}")
    if steps.max() > last:
        raise ValueError(f"run {label!r}: its learning rate is known up to step {last}; give its schedule string to "
                         f"forecast step {int(steps.max())}")
    return steps.astype(np.int64)


def _run_residuals(fit, run, posterior: Mapping) -> np.ndarray:
    """Per draw, a fitted run's log-loss residuals from the law at its logged points (draws, points)."""
    runs = fit.tables["runs"].frame
    own = runs[runs["run_id"] == run]
    lr = lr_by_run(fit.tables[LR_TABLE])
    law = curve_log_loss_draws(fit, posterior, own[["run_id", "step"]].reset_index(drop=True), lr)
    return np.log(own["loss"].to_numpy(np.float64))[None, :] - law


def _carried_residual(fit, run, posterior: Mapping, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per draw and step, the mean shift and the noise scale (times sigma) of a fitted run's
    logged loss given its residual at its last logged point before each step (AR(1) in step)."""
    runs = fit.tables["runs"].frame
    scale = runs.groupby("run_id", sort=False)["step"].max().median()
    logged = runs.loc[runs["run_id"] == run, "step"].to_numpy(np.int64)
    at = np.clip(np.searchsorted(logged, steps, side="right") - 1, 0, None)  # last logged point at or before
    residual = _run_residuals(fit, run, posterior)[:, at]
    gap = np.abs(steps - logged[at]) / scale
    rho = np.exp(-gap[None, :] / posterior["length"][:, None])
    return rho * residual, np.sqrt(np.maximum(1.0 - rho**2, 1e-12))  # at a logged step: (almost) no noise left


def read_forecast_targets(source) -> pd.DataFrame:
    """Validate a table of curve forecast targets (a frame, never modified, or a CSV/Parquet/JSON
    path): run_id, step (whole numbers >= 1, up to the schedule's total) and schedule (a schedule
    string per run; may be empty for a fitted run whose learning rate the fit knows). Errors name
    the run and the key or step at fault."""
    frame = read_source(source)
    missing = [c for c in ("run_id", "step") if c not in frame]
    if missing:
        raise ValueError(f"a forecast-target table needs columns run_id, step and schedule; missing {missing} "
                         f"(columns found: {list(frame.columns)})")
    if "schedule" not in frame:
        frame["schedule"] = None
    steps = pd.to_numeric(frame["step"], errors="coerce")
    bad = steps.isna() | (steps < 1) | (steps != np.floor(steps))
    if bad.any():
        raise ValueError(f"forecast targets: column 'step' must hold whole numbers >= 1; "
                         f"{describe_rows(frame, bad.to_numpy())} do not")
    frame["step"] = steps.astype(np.int64)
    for run_id, group in frame.groupby("run_id", sort=False):
        texts = group["schedule"].dropna().unique()
        if len(texts) > 1:
            raise ValueError(f"forecast targets: run {run_id!r} has more than one schedule string: {list(texts)[:3]}")
        if len(texts) == 1:
            total = parse_schedule(str(texts[0]), run_id).total
            if group["step"].max() > total:
                raise ValueError(f"forecast targets: run {run_id!r}: step {group['step'].max()} lies past its "
                                 f"schedule's total ({total})")
    return frame


def forecast_targets(fit, targets: pd.DataFrame, *, ci_prob: float = 0.9) -> pd.DataFrame:
    """The loss a run would log at each target (rows of read_forecast_targets): run_id, step and
    the predictive median and interval (loss_pred_*). A fitted run carries its own residual (to
    finish it); any other run_id is a new run under its schedule."""
    parts = []
    for run_id, group in targets.groupby("run_id", sort=False):
        texts = group["schedule"].dropna().unique()
        curve = predict_curve(fit, run_id, str(texts[0]) if len(texts) else None, group["step"].to_numpy(),
                              ci_prob=ci_prob)
        parts.append(curve[["run_id", "step"] + [c for c in curve if c.startswith("loss_pred_")]])
    return pd.concat(parts, ignore_index=True)
