"""Chinchilla (Hoffmann et al. 2022, approach 3): L(N, D) = E + A N^-alpha + B D^-beta.

N: parameters (Chinchilla counts embeddings), D: tokens, L: nats. Closed-form compute-optimal
allocation under C = 6ND from laws.md section 1.
"""

import math

import jax.numpy as jnp
import numpyro.distributions as dist

from .base import Law, log_sum_exp


def chinchilla_log_loss(p, x):
    return log_sum_exp(
        p["log_A"] - p["alpha"] * x["N"],
        p["log_B"] - p["beta"] * x["D"],
        p["log_E"],
    )


def chinchilla_compute_optimal(p, C):
    """N_opt, D_opt [count] and loss_opt [nats] at compute C [FLOPs], C = 6ND.

    G = (alpha A / (beta B))^(1/(alpha+beta)), N_opt = G (C/6)^a, D_opt = (C/6)^b / G,
    a = beta/(alpha+beta), b = alpha/(alpha+beta). Works on NumPy arrays (float64).
    """
    A, B, E, alpha, beta = (p[k] for k in ("A", "B", "E", "alpha", "beta"))
    log_G = (jnp.log(alpha * A) - jnp.log(beta * B)) / (alpha + beta)
    a = beta / (alpha + beta)
    b = alpha / (alpha + beta)
    log_c6 = jnp.log(C / 6.0)
    log_n = log_G + a * log_c6
    log_d = -log_G + b * log_c6
    loss = E + A * jnp.exp(-alpha * log_n) + B * jnp.exp(-beta * log_d)
    return {"N_opt": jnp.exp(log_n), "D_opt": jnp.exp(log_d), "loss_opt": loss, "a": a, "b": b}


CHINCHILLA = Law(
    name="chinchilla",
    covariates=("N", "D"),
    priors={
        "alpha": lambda: dist.LogNormal(math.log(0.35), 0.5),
        "beta": lambda: dist.LogNormal(math.log(0.35), 0.5),
        "A": lambda: dist.LogNormal(6.0, 2.5),
        "B": lambda: dist.LogNormal(6.0, 2.5),
        "E": lambda: dist.LogNormal(0.5, 0.75),
    },
    log_loss=chinchilla_log_loss,
    formula="L = E + A N^-alpha + B D^-beta",
    centring={"A": ("N", "alpha"), "B": ("D", "beta")},
    compute_optimal=chinchilla_compute_optimal,
)
