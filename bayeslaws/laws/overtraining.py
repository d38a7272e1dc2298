"""Over-training law (Gadre et al. 2024, arXiv 2403.08540): L(C, M) = E + (a M^eta + b M^-eta) C^-eta.

C = 6ND [FLOPs] and M = D/N (tokens per parameter; M = 20 is about Chinchilla-optimal), so the
law is Chinchilla with one shared exponent 2 eta, written here on the covariates N [parameters]
and D [tokens]:

    a M^eta C^-eta = a 6^-eta N^-2eta,    b M^-eta C^-eta = b 6^-eta D^-2eta,
    log L = LSE(log a - eta log 6 - 2 eta log N,  log b - eta log 6 - 2 eta log D,  log E).

L: nats. At fixed M the law is a power law in C with exponent eta for every M; over-training
only changes the prefactor a M^eta + b M^-eta. Compute-optimal allocation: the Chinchilla closed
form with alpha = beta = 2 eta, i.e. N_opt = (a/b)^(1/(4 eta)) (C/6)^(1/2) and
M_opt = (b/a)^(1/(2 eta)).

Published rpj fit (laws.md section 4): a = 212.2, b = 366.7, eta = 0.1364, E = 1.8366. Its
unrounded upstream code form (a_c = 166.211 = a 6^-eta, b = 366.687, c = -2 eta = -0.272851,
E = 1.83665) gives L(N=1.4e9, M=20) = 2.7728 (laws.md quotes 2.7717) and reproduces the upstream
forecast errors 0.7103 % and 0.7320 % exactly.

Default priors (weakly informative, original units):
- eta ~ LogNormal(log 0.15, 0.5): half the Chinchilla exponent (alpha, beta ~ 0.28-0.35 give
  eta ~ 0.14-0.17); 90 % prior interval about 0.07-0.34.
- a, b ~ LogNormal(log 200, 2.5): prefactors of C^-eta; Gadre's three fits give 140-370, the prior
  covers e^-4 to e^4 around 200. Both are centred on log N (a) and log D (b) with coefficient
  2 eta, so the sampler sees the terms' values at the data centroid.
- E ~ LogNormal(log 1.7, 0.5): irreducible loss in nats, near Chinchilla's 1.69; 90 % prior
  interval about 0.75-3.9.
"""

import math

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from .base import Law, log_sum_exp
from .chinchilla import chinchilla_compute_optimal

LOG_6 = float(np.log(6.0))


def overtraining_log_loss(p, x):
    return log_sum_exp(
        p["log_a"] - p["eta"] * (LOG_6 + 2.0 * x["N"]),
        p["log_b"] - p["eta"] * (LOG_6 + 2.0 * x["D"]),
        p["log_E"],
    )


def overtraining_compute_optimal(p, C):
    """N_opt, D_opt [count], loss_opt [nats] at compute C [FLOPs]: the Chinchilla closed form with
    A = a 6^-eta, B = b 6^-eta, alpha = beta = 2 eta (so N_opt = (a/b)^(1/(4 eta)) (C/6)^(1/2))."""
    shrink = jnp.exp(-p["eta"] * LOG_6)
    chinchilla = {"A": p["a"] * shrink, "B": p["b"] * shrink, "E": p["E"],
                  "alpha": 2.0 * p["eta"], "beta": 2.0 * p["eta"]}
    return chinchilla_compute_optimal(chinchilla, C)


def _twice_eta(p):
    return 2.0 * p["eta"]


OVERTRAINING = Law(
    name="overtraining",
    covariates=("N", "D"),
    priors={
        "eta": lambda: dist.LogNormal(math.log(0.15), 0.5),
        "a": lambda: dist.LogNormal(math.log(200.0), 2.5),
        "b": lambda: dist.LogNormal(math.log(200.0), 2.5),
        "E": lambda: dist.LogNormal(math.log(1.7), 0.5),
    },
    log_loss=overtraining_log_loss,
    formula="L = E + (a M^eta + b M^-eta) C^-eta, C = 6ND, M = D/N",
    centring={"a": ("N", _twice_eta), "b": ("D", _twice_eta)},
    compute_optimal=overtraining_compute_optimal,
)
