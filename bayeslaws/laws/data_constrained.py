"""Data-constrained law (Muennighoff et al. 2023, arXiv 2305.16264, eq. 5):
L(N, D, U_D) = E + A / N'^alpha + B / D'^beta.

Covariates: N [parameters], D [training tokens, repeats included], unique_tokens = U_D [tokens].
L: nats (C4 validation in the paper).

- R_D = D/U_D - 1 (epochs beyond the first), D' = U_D + U_D R_D* (1 - exp(-R_D/R_D*)).
- U_N = min(N, N_opt(U_D)), R_N = N/U_N - 1, N' = U_N + U_N R_N* (1 - exp(-R_N/R_N*)).
- N_opt(U_D) = G (G U_D)^(beta/alpha), G = (alpha A / (beta B))^(1/(alpha+beta)): the
  Chinchilla-optimal size at the compute for which U_D tokens are optimal (datablations README
  ``D_to_N``).
- In log space: log D' = log U_D + log1p(R_D* (1 - exp(-R_D/R_D*))), likewise N', and
  log L = LSE(log A - alpha log N', log B - beta log D', log E).

The published fit fixes A, B, E, alpha = beta at the authors' Chinchilla refit on C4 and learns
only R_D* = 15.387756 and R_N* = 5.309743 (``PUBLISHED``). ``data_constrained_law(fixed=...)``
builds the law with any subset of A, B, E, alpha, beta held at given values; the registered
"data_constrained" law is the fixed-Chinchilla variant.

Default priors (original units):
- R_D_star, R_N_star ~ LogNormal(log 10, 1): decay constants in epochs (resp. multiples of the
  data-justified size); 90 % prior interval about 1.9-52.
- Free Chinchilla parameters (when not fixed): as the "chinchilla" law (A, B ~ LogNormal(6, 2.5),
  alpha, beta ~ LogNormal(log 0.35, 0.5), E ~ LogNormal(0.5, 0.75)), A centred on N with alpha and
  B on D with beta.

One formula (:func:`data_constrained_formula`) serves JAX (the sampler, float32) and NumPy
(:func:`data_constrained_loss`, float64, for exact checks against the published numbers).
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from .base import Law
from .chinchilla import CHINCHILLA

PUBLISHED_CHINCHILLA = {
    "A": float(np.exp(6.255414)),
    "B": float(np.exp(7.3049974)),
    "E": float(np.exp(0.6254804)),
    "alpha": 0.3526596,
    "beta": 0.3526596,
}
PUBLISHED = {**PUBLISHED_CHINCHILLA, "R_D_star": 15.387756, "R_N_star": 5.309743}
CHINCHILLA_PARAMS = ("A", "B", "E", "alpha", "beta")
DECAY_PRIORS = {
    "R_D_star": lambda: dist.LogNormal(jnp.log(10.0), 1.0),
    "R_N_star": lambda: dist.LogNormal(jnp.log(10.0), 1.0),
}


def data_constrained_formula(p, x, xp=jnp):
    """log L [log nats] from params p (with log_<name> entries) and log covariates x.

    xp is the array module: jax.numpy for the sampler, numpy for float64 evaluation.
    """
    log_G = (xp.log(p["alpha"]) + p["log_A"] - xp.log(p["beta"]) - p["log_B"]) / (p["alpha"] + p["beta"])
    log_n_opt = log_G + (p["beta"] / p["alpha"]) * (log_G + x["unique_tokens"])
    log_u_n = xp.minimum(x["N"], log_n_opt)
    r_d = xp.expm1(xp.maximum(x["D"] - x["unique_tokens"], 0.0))
    r_n = xp.expm1(x["N"] - log_u_n)
    log_d_eff = x["unique_tokens"] + xp.log1p(-p["R_D_star"] * xp.expm1(-r_d / p["R_D_star"]))
    log_n_eff = log_u_n + xp.log1p(-p["R_N_star"] * xp.expm1(-r_n / p["R_N_star"]))
    return xp.logaddexp(
        xp.logaddexp(p["log_A"] - p["alpha"] * log_n_eff, p["log_B"] - p["beta"] * log_d_eff),
        p["log_E"],
    )


def data_constrained_loss(params: Mapping[str, float], N, D, unique_tokens) -> np.ndarray:
    """Loss [nats] in float64 NumPy from params in original units (all seven, e.g. ``PUBLISHED``)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    p.update({f"log_{k}": np.log(p[k]) for k in ("A", "B", "E")})
    x = {k: np.log(np.asarray(v, dtype=np.float64)) for k, v in (("N", N), ("D", D), ("unique_tokens", unique_tokens))}
    return np.exp(data_constrained_formula(p, x, xp=np))


def _log_loss_with(fixed: Mapping[str, float]):
    constants = {k: float(v) for k, v in fixed.items()}
    constants.update({f"log_{k}": float(np.log(v)) for k, v in fixed.items() if k in ("A", "B", "E")})

    def log_loss(p, x):
        return data_constrained_formula({**constants, **p}, x, xp=jnp)

    return log_loss


def data_constrained_law(fixed: Mapping[str, float] | None = PUBLISHED_CHINCHILLA, name: str | None = None) -> Law:
    """The data-constrained law with the parameters in ``fixed`` held constant.

    fixed: values for any of A, B, E, alpha, beta (default: the published C4 Chinchilla fit);
    None or {} learns all seven parameters. name defaults to "data_constrained" for the
    published constants and "data_constrained_free" when nothing is fixed.
    """
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(CHINCHILLA_PARAMS)
    if unknown:
        raise ValueError(f"only {CHINCHILLA_PARAMS} can be fixed, not {sorted(unknown)}")
    free = [k for k in CHINCHILLA_PARAMS if k not in fixed]
    priors = {k: CHINCHILLA.priors[k] for k in free}
    priors.update(DECAY_PRIORS)
    centring = {
        scale: (covariate, exponent if exponent in free else float(fixed[exponent]))
        for scale, (covariate, exponent) in (("A", ("N", "alpha")), ("B", ("D", "beta")))
        if scale in free
    }
    if name is None:
        name = ("data_constrained" if fixed == PUBLISHED_CHINCHILLA
                else "data_constrained_free" if not fixed else "data_constrained_custom")
    shown = ", ".join(f"{k}={v:.6g}" for k, v in fixed.items())
    return Law(
        name=name,
        covariates=("N", "D", "unique_tokens"),
        priors=priors,
        log_loss=_log_loss_with(fixed),
        formula="L = E + A/N'^alpha + B/D'^beta, D' = U_D (1 + R_D* (1 - e^(-R_D/R_D*))), "
                "N' = U_N (1 + R_N* (1 - e^(-R_N/R_N*)))" + (f"; fixed {shown}" if shown else ""),
        centring=centring,
    )


DATA_CONSTRAINED = data_constrained_law()

__all__ = ["DATA_CONSTRAINED", "PUBLISHED", "PUBLISHED_CHINCHILLA", "data_constrained_formula",
           "data_constrained_law", "data_constrained_loss"]
