"""A model at new covariates, per posterior draw: the targets' frame, the law's log loss (S, M),
and the likelihood's distribution of a new run there. The building blocks of forecasts
(bayeslaws.results.forecast) and of ManyFits.predict (bayeslaws.inference.many).

``draws`` maps parameter names to 1-D float64 arrays of S posterior draws.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..data import summarise_draws
from ..laws import Law
from .likelihoods import Likelihood

COMPUTE_PER_TOKEN_PARAM = 6.0  # C = 6 N D
HYPERPARAMETERS = ("lr", "batch_size")  # the targets a hyperparameter penalty reads


def target_covariates(law: Law, *, terms=(), **given) -> pd.DataFrame:
    """Broadcast the user's targets (scalars or arrays) to a frame holding the law's covariates
    and any of the terms reads (e.g. lr). C is filled in as 6 N D when the law needs it and N and
    D are given. Unknown names, and C given beside N and D, are errors."""
    accepted = list(dict.fromkeys(law.covariates + (("N", "D") if "C" in law.covariates else ())
                                  + tuple(n for t in terms for n in t.target_names())))
    values = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in given.items() if v is not None}
    unknown = [k for k in values if k not in accepted]
    if unknown and set(unknown) <= set(HYPERPARAMETERS):
        raise ValueError(f"this fit has no penalty on {unknown}: it cannot price those settings; "
                         "fit with penalty=... to use them")
    if unknown:
        raise ValueError(f"unknown target(s) {unknown}: law '{law.name}' takes {accepted}")
    if not values:
        raise ValueError(f"give the target's covariates: law '{law.name}' needs {list(law.covariates)}")
    frame = pd.DataFrame(dict(zip(values, np.broadcast_arrays(*values.values()))))
    if "C" in law.covariates and {"N", "D"} <= set(frame):
        if "C" in frame:
            raise ValueError("give C or N and D (C = 6 N D), not both")
        frame["C"] = COMPUTE_PER_TOKEN_PARAM * frame["N"] * frame["D"]
    missing = [c for c in law.covariates if c not in frame]
    if missing:
        raise ValueError(f"law '{law.name}' needs {list(law.covariates)}; missing {missing}")
    bad = [c for c in frame if not np.all(np.isfinite(frame[c]) & (frame[c] > 0))]
    if bad:
        raise ValueError(f"target values must be positive and finite; check {bad}")
    return frame


def law_log_loss_draws(law: Law, draws: Mapping[str, np.ndarray], targets: pd.DataFrame) -> np.ndarray:
    """The law's log loss per draw and target, shape (S draws, M targets)."""
    params = {k: jnp.asarray(v)[:, None] for k, v in draws.items() if k in law.param_names}
    logx = {c: jnp.asarray(np.log(targets[c].to_numpy()))[None, :] for c in law.covariates}
    return np.asarray(law.evaluate(params, logx), dtype=np.float64)


def predictive_distribution(likelihood: Likelihood, draws: Mapping[str, np.ndarray], log_loss: np.ndarray,
                            scale=1.0):
    """The likelihood's distribution of a new run's log loss, per draw and target (S, M); scale
    multiplies its sigma (a curve point's noise given the run's earlier residual is narrower)."""
    nuisance = {k: jnp.asarray(v) for k, v in nuisance_draws(likelihood, draws, scale).items()}
    return likelihood.distribution(jnp.asarray(log_loss), nuisance)


def nuisance_draws(likelihood: Likelihood, draws: Mapping[str, np.ndarray], scale=1.0) -> dict:
    """The likelihood's nuisance parameters per draw, (S, 1) float64, with sigma times scale."""
    nuisance = {k: np.asarray(draws[k], np.float64)[:, None] for k in likelihood.priors}
    if "sigma" in nuisance:
        nuisance["sigma"] = nuisance["sigma"] * np.asarray(scale, np.float64)
    return nuisance


def predictive_log_loss_draws(likelihood: Likelihood, draws: Mapping[str, np.ndarray], log_loss: np.ndarray,
                              seed: int, scale=1.0) -> np.ndarray:
    """One observation per draw and target from the likelihood: what a new run would measure
    (scale: see predictive_distribution)."""
    if likelihood.draw is not None:
        params = nuisance_draws(likelihood, draws, scale)
        return likelihood.draw(np.random.default_rng(seed), np.asarray(log_loss, np.float64), params)
    distribution = predictive_distribution(likelihood, draws, log_loss, scale)
    return np.asarray(distribution.sample(jax.random.PRNGKey(seed)), dtype=np.float64)


def summary_columns(prefix: str, mean_draws: np.ndarray, new_run_draws: np.ndarray, ci_prob: float,
                    discrete: bool = False) -> dict:
    """<prefix>_* (mean function) and <prefix>_pred_* (a new run, without its mean) columns;
    discrete: a new run's draws are counts (see summarise_draws)."""
    pred = summarise_draws(new_run_draws, f"{prefix}_pred", ci_prob, discrete)
    return {**summarise_draws(mean_draws, prefix, ci_prob), **{k: v for k, v in pred.items() if not k.endswith("_mean")}}
