"""NumPyro models for links: a link alone (error runs) and a loss law with a link (joint).

Like :mod:`bayeslaws.model`, each model takes one argument, ``data``, a dict of arrays, so one
compiled sampler serves every dataset of the same padded size. Parameters of a link may be
``fixed`` (e.g. a benchmark's known chance level): their values travel in ``data["fixed"]``,
so refitting with other fixed values reuses the compiled sampler.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro

from .laws import Law
from .laws.base import with_logs
from .likelihoods import Likelihood
from .links import Link
from .links.likelihoods import ErrorLikelihood
from .model import _pad, bucket_size, sample_law_parameters

# inference.sample reads the pointwise log-likelihood of the observed site named "log_loss". A
# link-only model observes an error there (the DataTree stores it under the metric's name); the
# joint model observes the loss there, as the loss model does, and the error at ERROR_SITE.
LINK_SITE = "log_loss"
ERROR_SITE = "error"


def resolve_link_priors(link: Link, likelihood: ErrorLikelihood, fixed: Mapping[str, float],
                        overrides: Mapping | None) -> dict:
    """Default priors of the link's free parameters and the likelihood's, with user overrides."""
    unknown_fixed = set(fixed) - set(link.param_names)
    if unknown_fixed:
        raise ValueError(f"fixed values given for unknown parameter(s) {sorted(unknown_fixed)}; "
                         f"link '{link.name}' has {list(link.param_names)}")
    defaults = {k: v for k, v in {**link.priors, **likelihood.priors}.items() if k not in fixed}
    unknown = set(overrides or {}) - set(defaults)
    if unknown:
        raise ValueError(f"priors given for unknown or fixed parameter(s) {sorted(unknown)}; link "
                         f"'{link.name}' with the {likelihood.name} likelihood samples {list(defaults)}")
    return {**{name: make() for name, make in defaults.items()}, **(overrides or {})}


def free_view(link: Link, fixed_names: tuple[str, ...]) -> Link:
    """The link without its fixed parameters (centring on a fixed slope is dropped)."""
    centring = {name: (x, c) for name, (x, c) in link.centring.items()
                if name not in fixed_names and c not in fixed_names}
    priors = {name: p for name, p in link.priors.items() if name not in fixed_names}
    return replace(link, priors=priors, centring=centring)


def observe_error(free: Link, likelihood: ErrorLikelihood, priors: Mapping, data: dict, x, site: str):
    """Sample the link's free parameters and the likelihood's, and observe the error at x."""
    params = sample_law_parameters(free, priors, {free.input: data["centre"]})
    params.update(with_logs(data["fixed"]))
    nuisance = {name: numpyro.sample(name, priors[name]) for name in likelihood.priors}
    mu = free.evaluate(params, x)
    with numpyro.handlers.mask(mask=data["mask"]):
        numpyro.sample(site, likelihood.distribution(mu, nuisance, data["items"]), obs=data["observed"])


def make_link_model(link: Link, likelihood: ErrorLikelihood, priors: Mapping, fixed_names: tuple[str, ...]):
    """The NumPyro model of observed errors given the link's input x (see link_data)."""
    free = free_view(link, fixed_names)

    def model(data):
        observe_error(free, likelihood, priors, data, data["x"], LINK_SITE)

    return model


def make_joint_model(law: Law, likelihood: Likelihood, link: Link, error_likelihood: ErrorLikelihood,
                     priors: Mapping, fixed_names: tuple[str, ...]):
    """Loss law and link in one model, sharing the loss: the loss runs observe log loss as in
    bayeslaws.model, and the link runs' errors are observed at the law's loss L(N, D) of those
    runs, so error runs also inform the law. data = model_data(...) plus data["link"] from
    joint_link_data."""
    free = free_view(link, fixed_names)

    def model(data):
        params = sample_law_parameters(law, priors, data["centre"])
        nuisance = {name: numpyro.sample(name, priors[name]) for name in likelihood.priors}
        loc = law.log_loss(params, data["logx"])
        with numpyro.handlers.mask(mask=data["mask"]):
            numpyro.sample(LINK_SITE, likelihood.distribution(loc, nuisance), obs=data["log_loss"])
        shared_loss = jnp.exp(law.log_loss(params, data["link"]["logx"]))
        observe_error(free, error_likelihood, priors, data["link"], shared_loss, ERROR_SITE)

    return model


def link_data(x: np.ndarray, error: np.ndarray, likelihood: ErrorLikelihood, fixed: Mapping[str, float],
              items: float | None) -> dict:
    """Arrays for the link model (float32): input x (L [nats] or ln C), observed value (squeezed
    error, or wrong-answer count), mask, centre = mean x, fixed values, items (1 when None)."""
    items = 1.0 if items is None else items
    n = len(x)
    size = bucket_size(n)
    return {
        "x": _pad(np.asarray(x, np.float64), size),
        "observed": _pad(likelihood.observed(np.asarray(error, np.float64), items), size),
        "mask": np.arange(size) < n,
        "centre": np.float32(np.mean(x)),
        "fixed": {name: np.float32(value) for name, value in sorted(fixed.items())},
        "items": np.float32(items),
    }


def joint_link_data(log_covariates: Mapping[str, np.ndarray], centre: float, error: np.ndarray,
                    likelihood: ErrorLikelihood, fixed: Mapping[str, float], items: float | None) -> dict:
    """link_data for the joint model: the law's log covariates of the error runs replace x, and
    the centre is given (a loss [nats] near the runs', e.g. the loss runs' mean)."""
    data = link_data(np.full(len(error), centre), error, likelihood, fixed, items)
    size = len(data["mask"])
    data.pop("x")
    data["logx"] = {c: _pad(np.asarray(v, np.float64), size) for c, v in log_covariates.items()}
    return data
