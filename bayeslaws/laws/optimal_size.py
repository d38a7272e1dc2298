"""Compute-optimal model size as a power law of compute: N*(C) = k C^a.

Response: ``n_star`` [parameters], the compute-optimal size estimated per budget (e.g. the
minimum of an IsoFLOP curve, Porian et al. 2024); covariate C [FLOPs]. In log space
log N* = log k + a log C, with k centred on C with coefficient a, so the sampler sees log N* at
the centroid of the budgets instead of the tiny, exponent-correlated k.

Reference exponents: Chinchilla about 0.50 (Hoffmann approaches 1-2), Kaplan 0.73; Porian et al.
0.835 (Kaplan reproduction) to 0.497 (tuned optimizer) on RefinedWeb.

Default priors (original units):
- a ~ LogNormal(log 0.6, 0.4): 90 % prior interval about 0.31-1.16, covering both camps.
- k ~ LogNormal(-2, 10): log k spans about -18 to 14 (90 %), which holds N* in 1e6-1e12
  parameters at C in 1e15-1e25 FLOPs for any a in 0.3-1.
The likelihood's sigma is the relative scatter of the N* estimates around the law.
"""

import math

import numpyro.distributions as dist

from .base import Law


def optimal_size_log_n(p, x):
    return p["log_k"] + p["a"] * x["C"]


OPTIMAL_SIZE = Law(
    name="optimal_size",
    covariates=("C",),
    priors={
        "a": lambda: dist.LogNormal(math.log(0.6), 0.4),
        "k": lambda: dist.LogNormal(-2.0, 10.0),
    },
    log_loss=optimal_size_log_n,
    formula="N* = k C^a",
    centring={"k": ("C", "a")},
    response="n_star",
)
