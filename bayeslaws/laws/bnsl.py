"""Broken neural scaling law with one break (Caballero et al. 2022, arXiv 2210.14891; laws.md
section 10), in compute: L(C) = a + b C^-c0 (1 + (C/d1)^(1/f1))^(-c1 f1).

C: training compute [FLOPs], L: nats. Below the break (C << d1) the reducible part falls as
C^-c0; above it (C >> d1) as C^-(c0 + c1): c1 is the change of slope after the break (either
sign), d1 [FLOPs] its location and f1 its sharpness (the break spans about f1 in ln C; f1 -> 0
is a kink). With c1 = 0 the law is the power law E + A C^-alpha (a = E, b = A, c0 = alpha).
In log space, with softplus(z) = log(1 + e^z), which never overflows:

    log L = LSE(log a,  log b - c0 log C - c1 f1 softplus((log C - log d1) / f1)).

Default priors (weak but proper, for LLM losses at C in 1e15-1e25 FLOPs):
- a ~ LogNormal(0.5, 0.75): irreducible loss, as chinchilla's E (90 % prior interval 0.48-5.7).
- b ~ LogNormal(6, 2.5): prefactor of C^-c0; the reducible part at C = 1e20 is about
  b e^(-46 c0), so with c0 near 0.15 log b near 6 gives about 0.4 nats.
- c0 ~ LogNormal(log 0.15, 0.5): the compute exponent before the break; Chinchilla's
  alpha beta / (alpha + beta) is about 0.155 (90 % prior interval 0.066-0.34).
- c1 ~ Normal(0, 0.3): change of slope, symmetric about no break.
- d1 ~ LogNormal(log 1e20, 8): the break location, very wide on the log scale (90 % prior
  interval about 1e14-1e26 FLOPs), so the data, not the prior, place it.
- f1 ~ LogNormal(0, 1): sharpness (90 % prior interval 0.19-5.2).

b is centred on C with coefficient c0, so the sampler sees the pre-break power law's value at
the data's mean log C; the break term's share there (which matters when d1 lies below the data)
is not removed, so b stays somewhat correlated with c1, d1 and f1. When the break lies outside
the runs' compute range, c1, d1 and f1 are set by the priors.
"""

import math

import jax
import numpyro.distributions as dist

from .base import Law, log_sum_exp


def bnsl_log_loss(p, x):
    log_c = x["C"]
    bend = p["c1"] * p["f1"] * jax.nn.softplus((log_c - p["log_d1"]) / p["f1"])
    return log_sum_exp(p["log_a"], p["log_b"] - p["c0"] * log_c - bend)


BNSL = Law(
    name="bnsl",
    covariates=("C",),
    priors={
        "a": lambda: dist.LogNormal(0.5, 0.75),
        "b": lambda: dist.LogNormal(6.0, 2.5),
        "c0": lambda: dist.LogNormal(math.log(0.15), 0.5),
        "c1": lambda: dist.Normal(0.0, 0.3),
        "d1": lambda: dist.LogNormal(math.log(1e20), 8.0),
        "f1": lambda: dist.LogNormal(0.0, 1.0),
    },
    log_loss=bnsl_log_loss,
    formula="L = a + b C^-c0 (1 + (C/d1)^(1/f1))^(-c1 f1)",
    centring={"b": ("C", "c0")},
)
