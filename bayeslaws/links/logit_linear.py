"""Logit-linear link: logit(Err) linear in ln C or in the loss; the sigmoid link with chance 1
and floor 0 (no plateaus).

    in C:     logit(Err) = -slope (ln C - ln C_mid)      (C in FLOPs)
    in loss:  logit(Err) = slope (L - L_mid)             (L in nats)

Default priors: the sigmoid link's, for slope and the midpoint (bayeslaws.links.sigmoid).
"""

from functools import partial

from .base import Link
from .sigmoid import sigmoid_error, sigmoid_link

PLAIN_LOGIT = {"chance": 1.0, "floor": 0.0}


def logit_linear_error(p, x, input):
    return sigmoid_error({**p, **PLAIN_LOGIT}, x, input)


def logit_linear_link(input: str = "C") -> Link:
    """The logit-linear link in ln C ("C", FLOPs) or in the loss ("loss", nats)."""
    sigmoid = sigmoid_link(input)
    formula = "logit(Err) = -slope (ln C - ln C_mid)" if input == "C" else "logit(Err) = slope (L - L_mid)"
    return Link(
        name=f"logit_linear_{input}",
        input=input,
        priors={k: v for k, v in sigmoid.priors.items() if k not in PLAIN_LOGIT},
        error=partial(logit_linear_error, input=input),
        formula=formula,
        centring=sigmoid.centring,
    )
