"""Sampling a law's (or a link's) parameters on centred coordinates.

For a prefactor A with exponent alpha on N, the sampler sees log A - alpha * mean(log N) (the
law's value at the data's centre), which removes the near-perfect correlation of log A and alpha.
Results are reported in the original units.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions.transforms import AffineTransform, ExpTransform

from ..laws.base import with_logs


def centred_name(name: str) -> str:
    return f"log_{name}_centred"


def sample_parameters(function, priors: Mapping, centre: Mapping, fixed: Mapping | None = None) -> dict:
    """NumPyro sites for the parameters of ``function`` (a Law or a Link: ``param_names`` and
    ``centring``), in original units plus ``log_<name>``. Parameters in ``fixed`` are not sampled
    but take the given values (arrays or numbers); centring on a fixed slope uses its value."""
    fixed = dict(fixed or {})
    params = dict(fixed)
    for name in function.param_names:
        if name not in function.centring and name not in fixed:
            params[name] = numpyro.sample(name, priors[name])
    for name, (covariate, coefficient) in function.centring.items():
        if name in fixed:
            continue
        shift = coefficient_value(coefficient, params) * centre[covariate]
        to_centred = [ExpTransform().inv, AffineTransform(-shift, 1.0)]
        log_centred = numpyro.sample(centred_name(name), dist.TransformedDistribution(priors[name], to_centred))
        params[f"log_{name}"] = log_centred + shift
        params[name] = numpyro.deterministic(name, jnp.exp(params[f"log_{name}"]))
    return with_logs(params)


def coefficient_value(coefficient, params):
    """A centring coefficient's value: a parameter's (by name), a function's of the params, or a number."""
    if isinstance(coefficient, str):
        return params[coefficient]
    if callable(coefficient):
        return coefficient(params)
    return coefficient
