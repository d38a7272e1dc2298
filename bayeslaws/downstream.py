"""Downstream error forecasts: fit a link (error as a function of loss or compute) and carry a
loss posterior through it, draw by draw.

Error = 1 - accuracy, a fraction in [0, 1], of one task (``err_<task>``) or an average over tasks
(e.g. Gadre's ``err_avg17``). Two ways to combine a loss law with a link:

- two-stage: ``bl.fit`` the loss law, ``fit_link`` the link on runs with a measured loss and
  error, then ``loss_fit.with_link(link_fit).predict(N=..., D=...)`` (or ``error_draws``). Each
  posterior draw of the target's loss goes through one posterior draw of the link. The two
  posteriors are independent, so their draws are paired at random (the link's draws in random
  order; a random subset if it has more draws than the loss, resampled with replacement if
  fewer): every pair is then a draw from the product of the two posteriors.
- joint: ``fit_joint`` fits the law and the link in one NumPyro model in which the link reads
  the law's loss of each error run (bayeslaws.link_model.make_joint_model); draws are paired
  by index, since they come from one posterior.

Links on compute (input "C") need no loss law: ``link_fit.predict(C=...)``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Mapping

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from . import diagnostics, forecast, inference
from .data import RunTable, check_enough_runs, check_error_column, check_has_columns, check_positive_columns, load_runs
from .fit import Fit, _priors_key, _priors_text, _to_datatree
from .laws import get_law
from .likelihoods import get_likelihood
from .link_model import (
    joint_link_data,
    link_data,
    make_joint_model,
    make_link_model,
    resolve_link_priors,
)
from .links import LINKS, Link, get_link
from .links.likelihoods import get_error_likelihood
from .model import model_data, resolve_priors

INPUT_UNITS = {"loss": "nats", "C": "FLOPs"}


@dataclass
class LinkFit:
    """A posterior over a link's parameters, with the runs it was fitted to.

    metric: the error column modelled. paired_with_loss: True for the link of a joint fit, whose
    draw i belongs with draw i of the loss law. settings holds the sampler settings, ``fixed``
    (parameter -> value) and ``items`` (binomial only).
    """

    link: Link
    likelihood: str
    metric: str
    tree: xr.DataTree
    runs: RunTable
    settings: dict = field(default_factory=dict)
    seconds: float = float("nan")
    paired_with_loss: bool = False

    @property
    def fixed(self) -> dict[str, float]:
        return dict(self.settings.get("fixed", {}))

    @property
    def parameter_names(self) -> list[str]:
        """Sampled parameters: the link's free ones and the likelihood's."""
        free = [name for name in self.link.param_names if name not in self.fixed]
        return free + list(get_error_likelihood(self.likelihood).priors)

    @property
    def diagnostics(self) -> dict:
        return diagnostics.summarise(self.tree, self.parameter_names, self.settings["max_tree_depth"])

    def draws(self) -> dict[str, np.ndarray]:
        """Posterior draws as float64 arrays (chains concatenated), fixed parameters repeated."""
        post = self.tree["posterior"]
        draws = {name: post[name].values.astype(np.float64).ravel() for name in self.parameter_names}
        size = len(next(iter(draws.values())))
        return {**draws, **{name: np.full(size, value) for name, value in self.fixed.items()}}

    def summary(self, ci_prob: float = 0.9) -> pd.DataFrame:
        """Posterior table: mean, median, sd, equal-tailed interval, R-hat, bulk and tail ESS."""
        return diagnostics.parameter_table(self.tree, self.parameter_names, ci_prob)

    def predict(self, *, ci_prob: float = 0.9, seed: int = 0, **inputs) -> pd.DataFrame:
        """Error forecast at the link's input: ``predict(C=1e24)`` [FLOPs] for a compute link,
        ``predict(loss=2.5)`` [nats] for a loss link (scalars or arrays).

        Columns <metric>_*: the link's mean error (parameter uncertainty); <metric>_pred_*: what a
        new model would measure (adds the likelihood's scatter); median and ci_prob interval.
        """
        name = self.link.input
        if set(inputs) != {name}:
            raise ValueError(f"link '{self.link.name}' reads {name} [{INPUT_UNITS[name]}]; call predict({name}=...)")
        values = np.atleast_1d(np.asarray(inputs[name], dtype=np.float64))
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"{name} values must be positive and finite")
        draws = self.draws()
        error = mean_error(self, draws, self.link.x(values)[None, :])
        observed = observed_error(self, draws, error, seed)
        return pd.DataFrame({name: values}).assign(**_summary_columns(self.metric, error, observed, ci_prob))

    def __repr__(self) -> str:
        d = self.diagnostics
        return (f"LinkFit(link={self.link.name!r}, metric={self.metric!r}, likelihood={self.likelihood!r}, "
                f"runs={len(self.runs)}, divergences={d['divergences']}, max_r_hat={d['max_r_hat']:.3f}, "
                f"min_ess_bulk={d['min_ess_bulk']:.0f})")


# ---------------------------------------------------------------- propagation, per draw


def mean_error(link_fit: LinkFit, draws: Mapping[str, np.ndarray], x) -> np.ndarray:
    """The link's mean error, shape (S, M), from S draws and inputs x on the link's scale
    (L [nats] or ln C) of shape (M,), (1, M) or (S, M)."""
    params = {k: jnp.asarray(v)[:, None] for k, v in draws.items() if k in link_fit.link.param_names}
    return np.asarray(link_fit.link.evaluate(params, jnp.asarray(x)), dtype=np.float64)


def observed_error(link_fit: LinkFit, draws: Mapping[str, np.ndarray], error: np.ndarray, seed: int) -> np.ndarray:
    """One observation per draw and target from the error likelihood around the mean error."""
    likelihood = get_error_likelihood(link_fit.likelihood)
    items = link_fit.settings["items"]
    nuisance = {k: jnp.asarray(draws[k])[:, None] for k in likelihood.priors}
    distribution = likelihood.distribution(jnp.asarray(error), nuisance, items)
    value = distribution.sample(jax.random.fold_in(jax.random.PRNGKey(seed), 1))
    return np.asarray(likelihood.to_error(value, items), dtype=np.float64)


def paired_draws(link_fit: LinkFit, n: int, seed: int) -> dict[str, np.ndarray]:
    """Link draws aligned with n loss draws: by index for a joint fit, otherwise n of the link's
    draws in random order, without replacement (with replacement if the link has fewer than n)."""
    draws = link_fit.draws()
    size = len(next(iter(draws.values())))
    if link_fit.paired_with_loss:
        if size != n:
            raise ValueError(f"a joint fit's link has {size} draws, the loss {n}")
        return draws
    rng = np.random.default_rng(seed)
    index = rng.choice(size, size=n, replace=size < n)
    return {k: v[index] for k, v in draws.items()}


def error_from_loss(link_fit: LinkFit, loss: np.ndarray, loss_pred: np.ndarray, seed: int):
    """Per-draw error from per-draw loss [nats], both (S, M): the link's mean error at the law's
    loss, and a new run's measured error (the likelihood's draw around the link at the loss a
    new run would measure)."""
    if link_fit.link.input != "loss":
        raise ValueError(f"link '{link_fit.link.name}' reads {link_fit.link.input}, not the loss")
    draws = paired_draws(link_fit, loss.shape[0], seed)
    error = mean_error(link_fit, draws, loss)
    observed = observed_error(link_fit, draws, mean_error(link_fit, draws, loss_pred), seed)
    return error, observed


def error_columns(link_fit: LinkFit, loss: np.ndarray, loss_pred: np.ndarray, ci_prob: float, seed: int) -> dict:
    """Fit.predict's error columns from per-draw loss: <metric>_* and <metric>_pred_*."""
    error, observed = error_from_loss(link_fit, loss, loss_pred, seed)
    return _summary_columns(link_fit.metric, error, observed, ci_prob)


def error_draws(loss_fit, link_fit: LinkFit, targets: Mapping[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """Per-draw loss [nats] and error at targets (the law's covariates, e.g. {"N": ..., "D": ...}):
    "loss", "loss_pred", <metric>, <metric>_pred, each (S, M). Draws paired as in the module doc."""
    frame = forecast.target_covariates(loss_fit.law, **targets)
    draws = loss_fit.draws()
    log_loss = forecast.log_loss_draws(loss_fit.law, draws, frame)
    predictive = forecast.predictive_log_loss_draws(get_likelihood(loss_fit.likelihood), draws, log_loss, seed)
    loss, loss_pred = np.exp(log_loss), np.exp(predictive)
    error, observed = error_from_loss(link_fit, loss, loss_pred, seed)
    return {"loss": loss, "loss_pred": loss_pred, link_fit.metric: error, f"{link_fit.metric}_pred": observed}


def _summary_columns(metric: str, error: np.ndarray, observed: np.ndarray, ci_prob: float) -> dict:
    pred = forecast.summarise_draws(observed, f"{metric}_pred", ci_prob)
    pred = {k: v for k, v in pred.items() if not k.endswith("_mean")}
    return {**forecast.summarise_draws(error, metric, ci_prob), **pred}


# ---------------------------------------------------------------- fitting


def error_runs(runs: RunTable | pd.DataFrame, link: Link, metric: str) -> RunTable:
    """The runs a link is fitted to: the metric must exist and lie in [0, 1], the input must be
    positive; rows without the metric (NaN: not evaluated) are left out."""
    table = runs if isinstance(runs, RunTable) else load_runs(runs, required=())
    check_error_column(table, metric)
    check_has_columns(table, (link.input,), f"link '{link.name}'")
    evaluated = RunTable(table.frame[table.frame[metric].notna()], table.source_columns, table.metadata)
    check_positive_columns(evaluated, (link.input,))
    return RunTable(evaluated.frame.reset_index(drop=True), table.source_columns, table.metadata)


def fit_link(
    runs: RunTable | pd.DataFrame,
    link: str | Link = "gadre",
    metric: str = "err_avg17",
    *,
    likelihood: str = "beta",
    priors: Mapping | None = None,
    fixed: Mapping[str, float] | None = None,
    items: int | None = None,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 0,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    progress: bool = True,
) -> LinkFit:
    """Fit a link, error = f(loss or C), to runs that have the error column ``metric``.

    link: a registry name ("gadre", "sigmoid_C", "sigmoid_loss", "logit_linear_C",
        "logit_linear_loss") or a Link. Loss links read the column "loss" [nats] (measured loss),
        compute links the column "C" [FLOPs].
    likelihood: "beta" (default), "logit_normal", or "binomial" (then ``items`` = number of
        benchmark questions). priors: overrides by name (NumPyro distributions, original units).
    fixed: parameters held at known values, e.g. {"chance": 0.75} for a 4-way multiple choice.
    Rows where the metric is missing are left out; an error outside [0, 1] or a missing column is
    a RunTableError naming the rows or the available err_* columns.
    """
    started = time.perf_counter()
    link, lik = get_link(link), get_error_likelihood(likelihood)
    table = error_runs(runs, link, metric)
    fixed = {name: float(value) for name, value in (fixed or {}).items()}
    resolved = resolve_link_priors(link, lik, fixed, priors)
    check_enough_runs(table, len(resolved), link.name)
    items = _items(lik, items)
    settings = inference.SamplerSettings(chains, warmup, draws, True, target_accept, max_tree_depth)
    fixed_names = tuple(sorted(fixed))
    model = make_link_model(link, lik, resolved, fixed_names)
    key = ("link", link, lik.name, fixed_names, _priors_key(resolved))
    export_id = repr(key[:1] + (link.name,) + key[2:]) if LINKS.get(link.name) is link else None
    _progress(progress, f"link {link.name} on {metric}, {len(table)} runs", settings)
    data = link_data(link.x(table.frame[link.input]), table.frame[metric].to_numpy(np.float64), lik, fixed, items)
    posterior, stats, pointwise = inference.sample(model, key, data, settings, seed, export_id)
    tree = _link_tree(list(resolved), table, link, metric, posterior, stats, pointwise)
    run_settings = {**settings.__dict__, "seed": seed, "metric": metric, "fixed": fixed, "items": items,
                    "priors": _priors_text(resolved)}
    result = LinkFit(link, lik.name, metric, tree, table, run_settings, time.perf_counter() - started)
    _report(result.diagnostics, progress, result.seconds)
    return result


def fit_joint(
    loss_runs: RunTable | pd.DataFrame,
    link_runs: RunTable | pd.DataFrame,
    law: str = "overtraining",
    link: str | Link = "gadre",
    metric: str = "err_avg17",
    *,
    likelihood: str = "student_t",
    error_likelihood: str = "beta",
    priors: Mapping | None = None,
    fixed: Mapping[str, float] | None = None,
    items: int | None = None,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 0,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    progress: bool = True,
) -> Fit:
    """Fit a loss law (on loss_runs) and a loss link (on link_runs, the runs with the metric) in
    one model that shares the loss: each error run's error is observed at the law's loss L(N, D)
    of that run (not its measured loss), so the error runs inform the law too.

    Returns a Fit of the law whose ``link`` is the joint link posterior (paired by draw), so
    ``predict`` returns loss and error intervals. priors: overrides for any parameter (law,
    likelihood, link or error likelihood). Other arguments as bl.fit and fit_link.
    """
    started = time.perf_counter()
    law, lik = get_law(law), get_likelihood(likelihood)
    link, error_lik = get_link(link), get_error_likelihood(error_likelihood)
    if link.input != "loss":
        raise ValueError(f"a joint fit needs a link on the loss; '{link.name}' reads {link.input}")
    loss_table = loss_runs if isinstance(loss_runs, RunTable) else load_runs(loss_runs, required=())
    check_has_columns(loss_table, law.covariates + ("loss",), f"law '{law.name}'")
    check_positive_columns(loss_table, law.covariates + ("loss",))
    error_table = error_runs(link_runs, link, metric)
    check_has_columns(error_table, law.covariates, f"law '{law.name}' (at the error runs)")
    check_positive_columns(error_table, law.covariates)
    fixed = {name: float(value) for name, value in (fixed or {}).items()}
    resolved = _joint_priors(law, lik, link, error_lik, fixed, priors)
    check_enough_runs(loss_table, len(law.param_names) + len(lik.priors), law.name)
    items = _items(error_lik, items)
    settings = inference.SamplerSettings(chains, warmup, draws, True, target_accept, max_tree_depth)
    fixed_names = tuple(sorted(fixed))
    model = make_joint_model(law, lik, link, error_lik, resolved, fixed_names)
    key = ("joint", law, lik.name, link, error_lik.name, fixed_names, _priors_key(resolved))
    data = model_data(loss_table, law, "loss")
    centre = float(loss_table.frame["loss"].mean())
    data["link"] = joint_link_data({c: error_table.log(c) for c in law.covariates}, centre,
                                   error_table.frame[metric].to_numpy(np.float64), error_lik, fixed, items)
    _progress(progress, f"joint {law.name} + {link.name} on {metric}, {len(loss_table)} loss runs, "
                        f"{len(error_table)} error runs", settings)
    posterior, stats, pointwise = inference.sample(model, key, data, settings, seed)
    link_names = [n for n in link.param_names if n not in fixed] + list(error_lik.priors)
    tree = _to_datatree(law, list(lik.priors) + link_names, loss_table, "loss", posterior, stats, pointwise)
    seconds = time.perf_counter() - started
    base = {**settings.__dict__, "seed": seed, "priors": _priors_text(resolved)}
    link_settings = {**base, "metric": metric, "fixed": fixed, "items": items}
    link_fit = LinkFit(link, error_lik.name, metric, tree, error_table, link_settings, seconds, paired_with_loss=True)
    result = Fit(law, lik.name, tree, loss_table, {**base, "response": "loss"}, seconds, link=link_fit)
    every = diagnostics.summarise(tree, result.parameter_names + link_names, settings.max_tree_depth)
    _report(every, progress, seconds)
    return result


def _joint_priors(law, lik, link, error_lik, fixed, overrides) -> dict:
    law_side = set(law.param_names) | set(lik.priors)
    link_side = (set(link.param_names) - set(fixed)) | set(error_lik.priors)
    clash = law_side & link_side
    if clash:
        raise ValueError(f"law '{law.name}' and link '{link.name}' share parameter names {sorted(clash)}")
    overrides = dict(overrides or {})
    law_overrides = {k: v for k, v in overrides.items() if k in law_side}
    link_overrides = {k: v for k, v in overrides.items() if k not in law_side}
    return {**resolve_priors(law, lik, law_overrides), **resolve_link_priors(link, error_lik, fixed, link_overrides)}


def _items(likelihood, items) -> float | None:
    """The number of benchmark questions: required by the binomial likelihood, refused by others."""
    if likelihood.name == "binomial":
        if not items or items < 1:
            raise ValueError("the binomial likelihood needs items=, the number of benchmark questions")
        return float(items)
    if items is not None:
        raise ValueError(f"items= is only used by the binomial likelihood, not '{likelihood.name}'")
    return None


def _link_tree(names, table: RunTable, link: Link, metric: str, posterior, stats, pointwise) -> xr.DataTree:
    n = len(table)
    sample_stats = dict(stats)
    sample_stats["tree_depth"] = np.ceil(np.log2(stats["n_steps"] + 1)).astype(np.int64)
    return az.from_dict(
        {
            "posterior": {k: posterior[k] for k in names},
            "sample_stats": sample_stats,
            "log_likelihood": {metric: pointwise[:, :, :n]},
            "observed_data": {metric: table.frame[metric].to_numpy(np.float64)},
            "constant_data": {link.input: table.frame[link.input].to_numpy(np.float64)},
        },
        dims={metric: ["run"], link.input: ["run"]},
        coords={"run": np.arange(n)},
    )


def _progress(progress: bool, what: str, settings) -> None:
    if progress:
        print(f"bayeslaws: NUTS, {settings.chains} chains x ({settings.warmup} warmup + {settings.draws} draws), "
              f"{what} ...", file=sys.stderr, flush=True)


def _report(diag: dict, progress: bool, seconds: float) -> None:
    diagnostics.warn_if_unconverged(diag)
    if progress:
        print(f"bayeslaws: done in {seconds:.1f} s; divergences {diag['divergences']}, max R-hat "
              f"{diag['max_r_hat']:.3f}, min bulk ESS {diag['min_ess_bulk']:.0f}", file=sys.stderr, flush=True)
