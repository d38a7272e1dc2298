"""Kaplan et al. 2020, eq. (1.5): L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D.

N: non-embedding parameters, D: tokens, L: nats. Published joint fit: alpha_N = 0.076,
alpha_D = 0.103, N_c = 6.4e13, D_c = 1.8e13. No irreducible term.
"""

import math

import numpyro.distributions as dist

from .base import Law, log_sum_exp


def kaplan_log_loss(p, x):
    ratio = p["alpha_N"] / p["alpha_D"]
    return p["alpha_D"] * log_sum_exp(
        ratio * (p["log_N_c"] - x["N"]),
        p["log_D_c"] - x["D"],
    )


KAPLAN = Law(
    name="kaplan",
    covariates=("N", "D"),
    priors={
        "alpha_N": lambda: dist.LogNormal(math.log(0.08), 0.75),
        "alpha_D": lambda: dist.LogNormal(math.log(0.1), 0.75),
        "N_c": lambda: dist.LogNormal(math.log(6.4e13), 5.0),
        "D_c": lambda: dist.LogNormal(math.log(1.8e13), 5.0),
    },
    log_loss=kaplan_log_loss,
    formula="L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
    centring={"N_c": ("N", 1.0), "D_c": ("D", 1.0)},
)
