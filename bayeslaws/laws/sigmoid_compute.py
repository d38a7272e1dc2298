"""Benchmark error as a sigmoid in log compute, from chance to a floor (Ruan et al. 2024's
observational form; ScaleRL's, Khatri et al. 2025, laws.md section 10):

    Err(C) = chance + (floor - chance) / (1 + (C_mid / C)^slope),

error = 1 - accuracy in [0, 1], C in FLOPs. Small models sit at chance (the error of guessing),
large ones approach the floor; C_mid is the compute halfway between, slope how fast the swing is
(per e-fold of compute). Families of models that differ in "compute efficiency" (Ruan et al.)
differ in C_mid: fit them with ``groups="family", hierarchical=("C_mid",)``.

The response is an error column: ``bl.fit(runs, law="sigmoid_compute", response="err_hellaswag")``.
The same function is the sigmoid link in C (bayeslaws.links.sigmoid), which maps a law's
compute to error inside a loss model.

Default priors (original units): chance ~ Beta(1, 1); floor ~ Beta(1, 2); slope ~ LogNormal(log
0.5, 1); C_mid ~ LogNormal(log 1e22, 5) FLOPs, centred on ln C (the sampler sees ln C_mid minus
the runs' mean ln C). Give a benchmark's known chance level as a tight prior, e.g.
``priors={"chance": dist.Beta(750, 250)}`` for 4-way multiple choice.
"""

import math

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from .base import Law


def sigmoid_error(p, x, input):
    """chance + (floor - chance) sigmoid(slope (ln C - ln C_mid)) for input "C" (x = ln C), or
    chance + (floor - chance) sigmoid(-slope (L - L_mid)) for input "loss" (x = L)."""
    if input == "C":
        towards_floor = jax.nn.sigmoid(p["slope"] * (x - p["log_C_mid"]))
    else:
        towards_floor = jax.nn.sigmoid(-p["slope"] * (x - p["L_mid"]))
    return p["chance"] + (p["floor"] - p["chance"]) * towards_floor


def sigmoid_compute_log_error(p, x):
    return jnp.log(sigmoid_error(p, x["C"], "C"))


SIGMOID_COMPUTE = Law(
    name="sigmoid_compute",
    covariates=("C",),
    priors={
        "chance": lambda: dist.Beta(1.0, 1.0),
        "floor": lambda: dist.Beta(1.0, 2.0),
        "slope": lambda: dist.LogNormal(math.log(0.5), 1.0),
        "C_mid": lambda: dist.LogNormal(math.log(1e22), 5.0),
    },
    log_loss=sigmoid_compute_log_error,
    formula="Err = chance + (floor - chance) / (1 + (C_mid / C)^slope)",
    centring={"C_mid": ("C", 1.0)},
    response="error",
)
