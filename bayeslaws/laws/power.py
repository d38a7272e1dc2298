"""Single-variable power law with an irreducible term: L(x) = E + A x^-alpha, x in N, D or C."""

import math

import numpyro.distributions as dist

from .base import Law, log_sum_exp


def power_law(covariate: str = "C") -> Law:
    """The power law in one covariate ("N" parameters, "D" tokens or "C" FLOPs)."""

    def log_loss(p, x):
        return log_sum_exp(p["log_A"] - p["alpha"] * x[covariate], p["log_E"])

    return Law(
        name="power" if covariate == "C" else f"power_{covariate}",
        covariates=(covariate,),
        priors={
            "alpha": lambda: dist.LogNormal(math.log(0.2), 0.75),
            "A": lambda: dist.LogNormal(4.0, 3.0),
            "E": lambda: dist.LogNormal(0.5, 0.75),
        },
        log_loss=log_loss,
        formula=f"L = E + A {covariate}^-alpha",
        centring={"A": (covariate, "alpha")},
    )
