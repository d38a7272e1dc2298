"""Build the NumPyro model: law + priors + likelihood, on centred parameters.

The model takes one argument, ``data``, a dict of arrays (see :func:`model_data`), so the
same compiled sampler serves every dataset of the same padded size.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions.transforms import AffineTransform, ExpTransform

from .data import RunTable
from .laws import Law
from .laws.base import with_logs
from .likelihoods import Likelihood
from .penalties import Penalty, apply_penalty, penalty_data, penalty_value, sample_penalty_parameters

SHAPE_BUCKETS = (16, 64, 256, 512, 1024, 2048, 4096)


def resolve_priors(law: Law, likelihood: Likelihood, overrides: Mapping | None, penalty: Penalty | None = None) -> dict:
    """Default priors of law, likelihood and penalty, with user overrides by parameter name."""
    defaults = {**law.priors, **likelihood.priors, **(penalty.priors if penalty else {})}
    unknown = set(overrides or {}) - set(defaults)
    if unknown:
        raise ValueError(
            f"priors given for unknown parameter(s) {sorted(unknown)}; law '{law.name}' with "
            f"the {likelihood.name} likelihood has {list(defaults)}"
        )
    priors = {name: make() for name, make in defaults.items()}
    priors.update(overrides or {})
    return priors


def centred_name(name: str) -> str:
    return f"log_{name}_centred"


def sample_law_parameters(law: Law, priors: Mapping, centre: Mapping) -> dict:
    """Sample the law's parameters; centred scale parameters are shifted back to original units."""
    params = {
        name: numpyro.sample(name, priors[name]) for name in law.param_names if name not in law.centring
    }
    for name, (covariate, coefficient) in law.centring.items():
        slope = _coefficient_value(coefficient, params)
        shift = slope * centre[covariate]
        to_centred = [ExpTransform().inv, AffineTransform(-shift, 1.0)]
        log_centred = numpyro.sample(centred_name(name), dist.TransformedDistribution(priors[name], to_centred))
        params[f"log_{name}"] = log_centred + shift
        params[name] = numpyro.deterministic(name, jnp.exp(params[f"log_{name}"]))
    return with_logs(params)


def _coefficient_value(coefficient, params):
    if isinstance(coefficient, str):
        return params[coefficient]
    if callable(coefficient):
        return coefficient(params)
    return coefficient


def make_model(law: Law, likelihood: Likelihood, priors: Mapping, penalty: Penalty | None = None):
    """The NumPyro model of log(response) for this law, likelihood, priors and optional
    hyperparameter penalty (see bayeslaws.penalties)."""

    def model(data):
        params = sample_law_parameters(law, priors, data["centre"])
        nuisance = {name: numpyro.sample(name, priors[name]) for name in likelihood.priors}
        loc = law.log_loss(params, data["logx"])
        if penalty is not None:
            hyper = sample_penalty_parameters(penalty, priors, data["centre"])
            value = penalty_value(penalty, hyper, data["logx"], data.get("log_lr"), data.get("log_batch"))
            loc = apply_penalty(penalty, loc, value)
        with numpyro.handlers.mask(mask=data["mask"]):
            numpyro.sample("log_loss", likelihood.distribution(loc, nuisance), obs=data.get("log_loss"))

    return model


def bucket_size(n: int) -> int:
    """The padded length for n runs: the smallest bucket that holds them (or n rounded up to 1024s)."""
    for size in SHAPE_BUCKETS:
        if n <= size:
            return size
    return int(np.ceil(n / 1024) * 1024)


def model_data(
    table: RunTable, law: Law, response: str = "loss", padded_size: int | None = None, penalty: Penalty | None = None
) -> dict:
    """Arrays for the model: log covariates, log response, mask, covariate centres (float32);
    with a penalty also log_lr and log_batch (and N, D among the covariates).

    Logs are taken in float64 NumPy first; padding rows repeat the first run and are masked out.
    """
    n = len(table)
    size = padded_size or bucket_size(n)
    covariates = dict.fromkeys(law.covariates + (penalty.covariates if penalty else ()))
    logx = {c: table.log(c) for c in covariates}
    return {
        "logx": {c: _pad(v, size) for c, v in logx.items()},
        "log_loss": _pad(table.log(response), size),
        "mask": np.arange(size) < n,
        "centre": {c: np.float32(v.mean()) for c, v in logx.items()},
        **(penalty_data(table, penalty, size) if penalty else {}),
    }


def _pad(values: np.ndarray, size: int) -> np.ndarray:
    padded = np.full(size, values[0], dtype=np.float64)
    padded[: len(values)] = values
    return padded.astype(np.float32)
