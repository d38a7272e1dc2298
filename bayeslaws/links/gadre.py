"""Gadre et al. 2024 (arXiv 2403.08540) exponential link: Err(L) = eps - k exp(-gamma L).

L: C4-validation loss [nats]; Err: average top-1 error (1 - accuracy) over a set of tasks.
Err rises towards eps (about the chance level) as L grows, and falls as L drops.

Published rpj fits (laws.md section 4; least squares on 6 runs): 17-task (k, gamma, eps) =
(2.2065, 0.7146, 0.8570), 46-task (1.3229, 0.8907, 0.7608).

Default priors (weakly informative, original units):
- eps ~ Beta(1, 1): any error level in (0, 1); Gadre's fits give 0.76-0.87.
- gamma ~ LogNormal(0, 0.5): per-nat decay rate, 90 % prior interval about 0.44-2.3 (fits 0.71-0.97).
- k ~ LogNormal(log 2, 1.5): prefactor (fits 1.1-2.2). Centred on the loss with coefficient
  gamma, so the sampler sees log k - gamma mean(L), the drop below eps at the data's mean loss.
"""

import math

import jax.numpy as jnp
import numpyro.distributions as dist

from .base import Link


def gadre_error(p, loss):
    return p["eps"] - jnp.exp(p["log_k"] - p["gamma"] * loss)


GADRE = Link(
    name="gadre",
    input="loss",
    priors={
        "eps": lambda: dist.Beta(1.0, 1.0),
        "gamma": lambda: dist.LogNormal(0.0, 0.5),
        "k": lambda: dist.LogNormal(math.log(2.0), 1.5),
    },
    error=gadre_error,
    formula="Err = eps - k exp(-gamma L)",
    centring={"k": ("loss", "gamma")},
)
