"""Forecasts as distributions: every derived quantity is computed per posterior draw, then
summarised. Functions take (model spec, draws, covariates) and never rerun inference; the two
at the end take a fit (its spec, tables and draws) and a table of runs.

``draws`` maps parameter names to 1-D float64 arrays of S posterior draws.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..laws import Law
from ..model import ModelSpec
from ..model.draws import (COMPUTE_PER_TOKEN_PARAM, law_log_loss_draws, predictive_distribution,  # noqa: F401
                           predictive_log_loss_draws, summary_columns, target_covariates)
from ..terms.link import LinkTerm


def log_loss_draws(spec: ModelSpec, draws: Mapping[str, np.ndarray], targets: pd.DataFrame,
                   tables: Mapping | None = None) -> np.ndarray:
    """Mean-function log loss (S, M): the law, then each term's forecast hook (e.g. a penalty at
    the targets' learning rate). tables: the fitted run tables (fit.tables), which terms whose
    forecasts depend on them are bound to (Term.bind; the discrepancy term needs them)."""
    log_loss = law_log_loss_draws(spec.law, draws, targets)
    for term in spec.terms:
        log_loss = (term if tables is None else term.bind(tables)).forecast(log_loss, draws, targets)
    return log_loss


def noise_factor_draws(spec: ModelSpec, draws: Mapping[str, np.ndarray], targets: pd.DataFrame,
                       tables: Mapping | None = None):
    """The terms' factor on the likelihood's sigma at the targets, (S, M), or 1.0 without a noise
    term (Term.forecast_noise; tables as in log_loss_draws)."""
    factor = 1.0
    for term in spec.terms:
        factor = factor * term.forecast_noise(draws, targets, tables)
    return factor


def read_covariates(spec: ModelSpec, available: Mapping) -> dict:
    """The entries of ``available`` (column -> values) a forecast of this model reads: the law's
    covariates (for a law in C: C if available, else N and D, C = 6 N D) and its terms' targets
    (e.g. lr). Used where one set of columns serves laws that read different ones."""
    law = spec.law
    names = [c for c in law.covariates if c != "C" or "C" in available]
    if "C" in law.covariates and "C" not in available:
        names += ["N", "D"]
    names += [n for term in spec.terms for n in term.target_names()]
    return {c: available[c] for c in dict.fromkeys(names) if c in available}


def long_table(targets: pd.DataFrame, per_draw: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per draw and target: columns draw, the targets' columns, then each (S, M) array."""
    n_draws = next(iter(per_draw.values())).shape[0]
    long = targets.loc[np.tile(targets.index, n_draws)].reset_index(drop=True)
    long.insert(0, "draw", np.repeat(np.arange(n_draws), len(targets)))
    return long.assign(**{name: np.asarray(values).ravel() for name, values in per_draw.items()})


# ---------------------------------------------------------------- compute-optimal allocation


def compute_optimal_draws(law: Law, draws: Mapping[str, np.ndarray], C: np.ndarray) -> dict[str, np.ndarray]:
    """Per-draw compute-optimal N_opt, D_opt [count] and loss_opt [nats] at budgets C [FLOPs],
    each shaped (S, M). Uses the law's closed form when it has one; otherwise minimises the law
    along C = 6 N D on a fine grid of N per draw (laws in N and D only)."""
    C = np.atleast_1d(np.asarray(C, dtype=np.float64))
    if law.compute_optimal is not None:
        params = {k: jnp.asarray(v)[:, None] for k, v in draws.items() if k in law.param_names}
        result = law.compute_optimal(params, jnp.asarray(C)[None, :])
        shape = (len(next(iter(params.values()))), len(C))
        return {k: np.broadcast_to(np.asarray(result[k], np.float64), shape).copy() for k in ("N_opt", "D_opt", "loss_opt")}
    if set(law.covariates) != {"N", "D"}:
        raise ValueError(f"law '{law.name}' is not a law in N and D: no compute-optimal allocation")
    return _grid_compute_optimal(law, draws, C)


GRID_DECADES = 6.0  # the search spans sqrt(C/120) [the N of D = 20 N] times 10^-6 to 10^6


def _grid_compute_optimal(law: Law, draws, C: np.ndarray, points: int = 201) -> dict:
    """Minimise L(N, C/(6N)) per draw in two passes of ``points`` log-spaced N: over sqrt(C/120)
    times 1e-6 to 1e6 (0.06 decades apart), then across the best point's two neighbours (steps of
    0.0006 decades). A single grid as fine costs 20x the law evaluations (4001 points: 0.1 s per
    budget for 2000 draws, which a plot's hundred budgets feel)."""
    params = {k: np.asarray(v, np.float64)[:, None] for k, v in draws.items() if k in law.param_names}
    size = len(next(iter(params.values())))
    coarse = np.linspace(-GRID_DECADES, GRID_DECADES, points) * np.log(10.0)
    step = coarse[1] - coarse[0]
    rows = np.arange(size)
    out = {"N_opt": [], "D_opt": [], "loss_opt": []}
    for budget in C:
        log_centre, log_tokens_times_params = 0.5 * np.log(budget / 120.0), np.log(budget / COMPUTE_PER_TOKEN_PARAM)
        log_N = log_centre + np.broadcast_to(coarse, (size, points))
        best = log_N[rows, np.argmin(_along_budget(law, params, log_N, log_tokens_times_params), axis=1)]
        log_N = np.clip(best[:, None] + np.linspace(-step, step, points), log_centre + coarse[0], log_centre + coarse[-1])
        log_loss = _along_budget(law, params, log_N, log_tokens_times_params)
        pick = np.argmin(log_loss, axis=1)
        out["N_opt"].append(np.exp(log_N[rows, pick]))
        out["D_opt"].append(np.exp(log_tokens_times_params - log_N[rows, pick]))
        out["loss_opt"].append(np.exp(log_loss[rows, pick]))
    return {k: np.stack(v, axis=1) for k, v in out.items()}


def _along_budget(law: Law, params: dict, log_N: np.ndarray, log_tokens_times_params: float) -> np.ndarray:
    """The law's log loss at N = exp(log_N) and D = C / (6N) (log_tokens_times_params = log(C/6)),
    per draw (rows of params and log_N) and point."""
    return np.asarray(law.evaluate(params, {"N": log_N, "D": log_tokens_times_params - log_N}), np.float64)


# ---------------------------------------------------------------- downstream error


def paired_link_draws(link_draws: Mapping[str, np.ndarray], n: int, by_index: bool, seed: int) -> dict:
    """Link draws aligned with n loss draws: by index for a joint fit (one posterior), otherwise
    n of the link's draws in random order, without replacement (with replacement if the link has
    fewer than n): every pair is then a draw from the product of the two independent posteriors."""
    size = len(next(iter(link_draws.values())))
    if by_index:
        if size != n:
            raise ValueError(f"a joint fit's link has {size} draws, the loss {n}")
        return dict(link_draws)
    index = np.random.default_rng(seed).choice(size, size=n, replace=size < n)
    return {k: v[index] for k, v in link_draws.items()}


def error_from_loss(term: LinkTerm, draws: Mapping[str, np.ndarray], loss: np.ndarray, loss_pred: np.ndarray,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw error from per-draw loss [nats], both (S, M), with the link's draws already
    paired: the link's mean error at the law's loss, and a new run's measured error (the
    likelihood's draw around the link at the loss a new run would measure)."""
    error = term.mean_error(draws, loss)
    return error, term.observed_error(draws, term.mean_error(draws, loss_pred), seed)


def per_family(fit, table, score, seed: int = 0) -> pd.DataFrame:
    """score(part, draws) -> frame, applied to the runs of each family with that family's law
    draws (for a fit without groups=, to every run with fit.draws()), in the table's row order."""
    return by_family(fit, table, lambda part, family: score(part, fit.law_draws(family, seed)))


def by_family(fit, table, score) -> pd.DataFrame:
    """score(part, family) -> frame, applied to the runs of each family of fit's groups column
    (family: its label, or None for a family the fit has not seen or a run without the column), in
    the table's row order; for a fit without groups=, score(table, None)."""
    if fit.hierarchy is None:
        return score(table, None)
    frame = table.frame.assign(row=table.frame["row"] if "row" in table.frame else np.arange(len(table)))
    column = fit.hierarchy.column
    labels = frame[column].astype(str) if column in frame else pd.Series("", index=frame.index)
    parts = []
    for label in dict.fromkeys(labels):
        part = dataclasses.replace(table, frame=frame[labels == label])
        family = label if label in fit.families else None
        parts.append(score(part, family).set_index(np.flatnonzero(labels == label)))
    return pd.concat(parts).sort_index()


def mean_and_noise(fit, table, draws: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | float]:
    """At the runs of ``table``: the mean function's log loss draws (S, M) (the law and its terms)
    and the terms' factor on the likelihood's sigma ((S, M), or 1.0 without a noise term)."""
    spec = fit.spec
    columns = {c: table.frame[c].to_numpy(dtype=np.float64) for c in table.frame.columns
               if pd.api.types.is_numeric_dtype(table.frame[c])}
    targets = target_covariates(spec.law, terms=spec.terms, **read_covariates(spec, columns))
    return log_loss_draws(spec, draws, targets, fit.tables), noise_factor_draws(spec, draws, targets, fit.tables)
