"""Chinchilla with a multiplicative N-D interaction:
L(N, D) = E + A N^-alpha + B D^-beta + G N^-alpha D^-beta,  G >= 0.

N: parameters, D: tokens, L: nats. The interaction term shares the Chinchilla exponents. It
follows the Hitchhiker's Guide observation that per-family fits of (A, alpha) and (B, beta) are
correlated: the size and data terms do not add independently. G = A B / E makes the law the
product E (1 + A N^-alpha / E)(1 + B D^-beta / E); G -> 0 is Chinchilla. In log space:

    log L = LSE(log A - alpha log N,  log B - beta log D,  log E,
                log G - alpha log N - beta log D).

Default priors: A, B, E, alpha, beta as the "chinchilla" law (the same prior functions);
G ~ LogNormal(11.5, 3), centred on the product form (log A + log B - log E = 6 + 6 - 0.5 under
chinchilla's prior medians) and wide enough to cover a negligible interaction (90 % prior
interval of log G about 6.6-16.4).

A is centred on N with alpha and B on D with beta, as in chinchilla. G is centred on N with
alpha + beta (a centring takes one covariate): exact only where mean log D = mean log N, so
for the usual D/N of 10-1000 a residual beta (mean log D - mean log N), i.e. 2.3-6.9 beta, stays
correlated with log G, against about 21 alpha + 24 beta uncentred (N = 1e9, D = 2e10).
Compute-optimal allocation: no closed form; the grid search is used.
"""

import numpyro.distributions as dist

from .base import Law, log_sum_exp
from .chinchilla import CHINCHILLA


def chinchilla_interaction_log_loss(p, x):
    size = p["alpha"] * x["N"]
    data = p["beta"] * x["D"]
    return log_sum_exp(
        p["log_A"] - size,
        p["log_B"] - data,
        p["log_E"],
        p["log_G"] - size - data,
    )


def _alpha_plus_beta(p):
    return p["alpha"] + p["beta"]


CHINCHILLA_INTERACTION = Law(
    name="chinchilla_interaction",
    covariates=("N", "D"),
    priors={
        **CHINCHILLA.priors,
        "G": lambda: dist.LogNormal(11.5, 3.0),
    },
    log_loss=chinchilla_interaction_log_loss,
    formula="L = E + A N^-alpha + B D^-beta + G N^-alpha D^-beta",
    centring={**CHINCHILLA.centring, "G": ("N", _alpha_plus_beta)},
)
