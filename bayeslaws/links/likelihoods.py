"""Observation models for a downstream error (1 - accuracy) around a link's mean error mu.

Errors live in [0, 1]:
- "beta" (default): Err ~ Beta(mu phi, (1 - mu) phi); phi is a concentration (variance
  mu (1 - mu) / (1 + phi)). Observed 0 and 1 are squeezed into [1e-3, 1 - 1e-3] (a benchmark
  of about a thousand items cannot resolve finer), where the Beta density is finite.
- "logit_normal": logit(Err) ~ Normal(logit(mu), sigma_logit), same squeeze.
- "binomial": wrong answers ~ Binomial(items, mu), for one benchmark of known size ``items``
  (not for averages over tasks, whose scatter is not binomial).

The observed value handed to NumPyro is the squeezed error, or the count of wrong answers for the
binomial; ``to_error`` maps a (predictive) observation back to an error fraction.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Callable, Mapping

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions.transforms import SigmoidTransform

SQUEEZE = 1e-3


@dataclass(frozen=True)
class ErrorLikelihood:
    """name; priors of its nuisance parameters (original units); distribution(mu, params, items)
    -> NumPyro distribution of the observed value; observed(error, items) -> observed value;
    to_error(value, items) -> error fraction."""

    name: str
    priors: Mapping[str, Callable[[], dist.Distribution]]
    distribution: Callable
    observed: Callable[[np.ndarray, float], np.ndarray]
    to_error: Callable


def _squeeze(error, items):
    return np.clip(error, SQUEEZE, 1.0 - SQUEEZE)


def _same(value, items):
    return value


def _logit_normal(mu, p, items):
    return dist.TransformedDistribution(dist.Normal(jnp.log(mu) - jnp.log1p(-mu), p["sigma_logit"]),
                                        SigmoidTransform())


ERROR_LIKELIHOODS: dict[str, ErrorLikelihood] = {
    "beta": ErrorLikelihood(
        "beta",
        {"phi": lambda: dist.LogNormal(math.log(100.0), 2.0)},  # 90 %: about 4-2700
        lambda mu, p, items: dist.Beta(mu * p["phi"], (1.0 - mu) * p["phi"]),
        _squeeze,
        _same,
    ),
    "logit_normal": ErrorLikelihood(
        "logit_normal",
        {"sigma_logit": lambda: dist.LogNormal(math.log(0.1), 1.0)},  # 90 %: about 0.02-0.5
        _logit_normal,
        _squeeze,
        _same,
    ),
    "binomial": ErrorLikelihood(
        "binomial",
        {},
        lambda mu, p, items: dist.Binomial(total_count=jnp.round(items).astype(jnp.int32), probs=mu),
        lambda error, items: np.round(np.asarray(error) * items),
        lambda value, items: value / items,
    ),
}


def get_error_likelihood(name: str | ErrorLikelihood) -> ErrorLikelihood:
    if isinstance(name, ErrorLikelihood):
        return name
    if name not in ERROR_LIKELIHOODS:
        raise ValueError(f"unknown error likelihood '{name}'; choose one of {sorted(ERROR_LIKELIHOODS)}")
    return ERROR_LIKELIHOODS[name]
