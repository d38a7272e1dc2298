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
"data_constrained" law is the fixed-Chinchilla variant. ``PUBLISHED_FIT_RUNS`` lists the 182
runs (datablations run keys) the authors fitted R_D*, R_N* to.

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

import math

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
# The 182 runs (datablations run_key) the published R_D*, R_N* were fitted to: the cell "Custom data
# loading with outliers removed" of utils/parametric_fit.ipynb (huggingface/datablations @ 1370131),
# i.e. no seed replicates and no hand-removed outliers. A Huber (delta 1e-3, log loss) point fit on
# exactly these runs returns R_D* = 15.37, R_N* = 5.31.
PUBLISHED_FIT_RUNS = tuple("""
2b832b4b 2b840b4b 2b855b4b 2b855b9b 2b855b11b 2b855b14b 2b855b18b 2b855b28b 2b855b55b 4b236b12b
4b248b12b 4b260b12b 4b272b12b 4b284b12b 4b284b17b 4b284b21b 4b284b28b 4b284b42b 4b284b84b
8b7178b13b 8b7178b25b 8b7178b35b 8b7178b44b 8b7178b58b 8b7178b88b 8b7178b178b 7m100m100m
7m200m100m 1b1100m100m 14m100m100m 20m400m400m 25m400m400m 25m200m100m 25m400m100m 25m800m100m
14m200m100m 14m400m100m 14m800m100m 14m1b5100m 14m2b7100m 14m3b9100m 14m5b9100m 14m14b100m
14m20b100m 14m91b100m 14m174b100m 14m600b100m 14m900b100m 44m200m100m 44m400m100m 44m1b5100m
44m2b7100m 44m3b9100m 44m5b9100m 44m7b5100m 44m14b100m 44m20b100m 44m32b100m 44m91b100m
44m174b100m 83m1b51b5 196m1b51b5 1b11b51b5 1b11b5400m 1b11b5100m 619m2b72b7 619m2b71b5
619m2b7400m 619m2b7100m 619m1b5100m 421m3b93b9 421m3b91b5 421m3b9400m 421m3b9100m 421m1b5100m
421m2b7100m 421m5b9100m 421m7b5100m 280m5b95b9 280m5b91b5 280m5b9400m 280m5b9100m 280m1b5100m
280m2b7100m 280m3b9100m 280m7b5100m 280m91b400m 220m7b57b5 220m7b51b5 220m7b5400m 220m7b5100m
220m1b5100m 220m2b7100m 220m3b9100m 220m5b9100m 146m14b14b 146m14b1b5 146m14b400m 146m14b100m
146m60b400m 146m91b400m 146m174b400m 146m1b5100m 146m2b7100m 146m3b9100m 146m5b9100m 146m7b5100m
146m20b100m 146m32b100m 146m60b100m 146m91b100m 146m174b100m 83m20b20b 83m20b1b5 83m20b400m
83m20b100m 83m400m100m 83m1b5100m 83m2b7100m 83m3b9100m 83m5b9100m 83m7b5100m 83m14b100m
83m32b100m 83m60b100m 83m91b100m 83m174b100m 83m300b100m 2b84b84b8 2b84b81b5 2b84b8400m
1b58b88b8 1b58b84b8 1b58b81b5 1b58b8400m 1b112b12b 1b112b4b8 1b112b1b5 1b112b400m 619m22b22b
619m22b4b8 619m22b1b5 619m22b400m 619m60b400m 619m91b400m 421m32b32b 421m32b4b8 421m32b1b5
421m32b400m 421m32b100m 421m60b400m 421m91b400m 421m91b1b5 421m250b1b5 221m60b60b 221m60b4b8
221m60b1b5 221m60b400m 221m3b9400m 221m32b400m 221m300b400m 3b926b26b 3b926b12b 2b836b36b
2b836b12b 2b246b46b 2b246b12b 2b246b1b5 1b566b66b 1b566b12b 1b191b91b 1b191b12b 574m174b174b
574m174b12b 574m174b1b5 574m174b400m 220m300b1b5 220m600b1b5 574m300b1b5 574m600b1b5 1b1174b1b5
1b591b1b5
""".split())
DECAY_PRIORS = {
    "R_D_star": lambda: dist.LogNormal(math.log(10.0), 1.0),
    "R_N_star": lambda: dist.LogNormal(math.log(10.0), 1.0),
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

__all__ = ["DATA_CONSTRAINED", "PUBLISHED", "PUBLISHED_CHINCHILLA", "PUBLISHED_FIT_RUNS",
           "data_constrained_formula", "data_constrained_law", "data_constrained_loss"]
