"""Sigmoid link with a chance level and a floor (ScaleRL form, Khatri et al. 2025, laws.md
section 10), in log compute or in loss.

ScaleRL writes accuracy R = R0 + (A - R0) / (1 + (C_mid / C)^B). In error (1 - accuracy) with
chance = 1 - R0 (error of a guessing model) and floor = 1 - A (error that compute never removes):

    in C:     Err = chance + (floor - chance) sigmoid(slope (ln C - ln C_mid))
    in loss:  Err = chance + (floor - chance) sigmoid(-slope (L - L_mid))

since 1 / (1 + (C_mid / C)^B) = sigmoid(B (ln C - ln C_mid)). C in FLOPs, L in nats. The error
moves from chance (small models) to floor (large ones); slope > 0 fixes the direction, so the
parameters have no mirror mode. The chance level of a multiple-choice benchmark is known (see
bayeslaws.links.chance) and is usually fixed (``fixed={"chance": 0.75}`` in fit_link).

Default priors (weakly informative, original units):
- chance ~ Beta(1, 1); floor ~ Beta(1, 2) (mean 1/3: most benchmarks are far from solved
  perfectly but the floor is below chance).
- in C: slope ~ LogNormal(log 0.5, 1) per e-fold of compute (90 %: 0.1-2.6; the swing from
  chance to floor takes about 9 / slope e-folds); C_mid ~ LogNormal(log 1e22, 5) FLOPs, centred
  on ln C (the sampler sees ln C_mid - mean ln C).
- in loss: slope ~ LogNormal(log 2, 1) per nat; L_mid ~ LogNormal(log 3, 0.5) nats.
"""

import math
from functools import partial

import numpyro.distributions as dist

from ..laws.sigmoid_compute import sigmoid_error
from .base import Link


def sigmoid_link(input: str = "C") -> Link:
    """The sigmoid link in ln C ("C", FLOPs) or in the loss ("loss", nats)."""
    if input == "C":
        return Link(
            name="sigmoid_C",
            input="C",
            priors={
                "chance": lambda: dist.Beta(1.0, 1.0),
                "floor": lambda: dist.Beta(1.0, 2.0),
                "slope": lambda: dist.LogNormal(math.log(0.5), 1.0),
                "C_mid": lambda: dist.LogNormal(math.log(1e22), 5.0),
            },
            error=partial(sigmoid_error, input="C"),
            formula="Err = chance + (floor - chance) / (1 + (C_mid / C)^slope)",
            centring={"C_mid": ("C", 1.0)},
        )
    return Link(
        name="sigmoid_loss",
        input="loss",
        priors={
            "chance": lambda: dist.Beta(1.0, 1.0),
            "floor": lambda: dist.Beta(1.0, 2.0),
            "slope": lambda: dist.LogNormal(math.log(2.0), 1.0),
            "L_mid": lambda: dist.LogNormal(math.log(3.0), 0.5),
        },
        error=partial(sigmoid_error, input="loss"),
        formula="Err = chance + (floor - chance) sigmoid(-slope (L - L_mid))",
    )
