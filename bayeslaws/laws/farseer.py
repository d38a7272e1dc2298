"""Farseer (Li et al. 2025, "Predictable Scale: Part II, Farseer", arXiv 2506.10972), the paper's
L(N, D) = exp(s' N^q + S') + exp(B' N^b + Q') D^(-exp(A' N^a + E')), written here as

    L = exp(S + s bc(q, n)) + exp(Q + B bc(b, n)) D^-exp(E + A bc(a, n)),
    n = N / 1e9,  bc(q, n) = (n^q - 1) / q  (-> log n as q -> 0).

N: parameters, D: tokens, L: nats. The first term is the loss at unlimited data, a stretched
exponential in model size; the second is a power law in D whose prefactor and exponent both move
with N (the paper's N-D interaction).

Parameterisation. This is the paper's family, reparameterised so that each of the three
N-dependent exponents is fixed by its value and slope at N = N_REF = 1e9 parameters: S, Q, E are
the log unlimited-data loss, the log data-term prefactor and the log D-exponent there, and s, B, A
their slopes in log N. The Box-Cox form bc removes the degenerate ridge of the paper's form at
q -> 0 (s' N^q ~ s' + s' q log N) and joins its sign-flipped modes (s' > 0, q < 0 and s' < 0,
q > 0 both decrease in N) into one: on synthetic Farseer runs, 4 chains of the paper's
parameterisation settled in three separate modes (R-hat 2.4), this one in one (R-hat 1.01).
:func:`paper_constants` gives the paper's s', S', ... (s' = (s/q) N_REF^-q, S' = S - s/q, likewise
B', Q' with b and A', E' with a; N raw or in any unit). D enters in tokens: a unit change of D is
not a reparameterisation (it would multiply the prefactor by an N-dependent factor).

The paper's fitted constants are not in ../shared/reference/laws.md and were not checked here;
the priors below are not calibrated to them.

In log space: log L = LSE(S + s bc(q, n),  Q + B bc(b, n) - exp(E + A bc(a, n)) log D). A
D-exponent that overflows float32 sends the second term to -inf, which log-sum-exp handles.

Default priors (weak but proper; Normal, so no sign is assumed):
- S ~ Normal(0.6, 0.4): unlimited-data loss exp(S) at N = 1e9 (90 % prior interval 0.94-3.5 nats;
  Chinchilla's E + A N^-alpha is about 2.0 there).
- s ~ Normal(0, 0.2): its slope d log / d log N (Chinchilla-like about -0.06).
- q ~ Normal(0, 0.5): its curvature; q < 0 levels off with N (Chinchilla-like q = -alpha).
- Q ~ Normal(7, 1.5): log prefactor of the data term at N = 1e9 (exp(7) D^-0.3 at D = 2e10 is
  about 0.9 nats).
- B ~ Normal(0, 0.2), b ~ Normal(0, 0.5): its slope and curvature in log N.
- E ~ Normal(log 0.3, 0.35): log D-exponent at N = 1e9 (90 % prior interval of the exponent
  0.17-0.53, around Chinchilla's beta 0.28-0.37).
- A ~ Normal(0, 0.1), a ~ Normal(0, 0.5): its slope and curvature in log N (A = 0.1 moves the
  exponent by a factor 1.26 per decade of N; A = 0 is Chinchilla's constant beta).

Prior predictive (8,000 draws): loss in 1.5-10 nats for 69 % of draws at N = 1e9, D = 2e10 and
for 54-60 % one decade either side (D = 20 N); in 1-20 nats for 87 % and 72-79 %.

No parameter is centred (none is a positive prefactor); the N_REF reference plays that role for N,
and Q and E stay correlated through log D (the dense mass matrix absorbs most of it).
Compute-optimal allocation has no closed form here: it uses the grid search, which also reaches
far outside the runs (N from 1e-6 to 1e6 times sqrt(C/120)), where stretched exponentials can
turn over: B < 0 with b > 0, say, makes the data term vanish at large N, and the optimum then sits
at the grid's edge. Check the optimum against the runs' range.
"""

from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from .base import Law, log_sum_exp

N_REF = 1e9  # parameters: N enters the law as n = N / N_REF
LOG_N_REF = float(np.log(N_REF))
SMALL = 1e-4  # |curvature| below which bc uses its second-order series


def box_cox(q, log_n):
    """(n^q - 1) / q from log n, with the q -> 0 limit log n (its series below SMALL, so that
    neither the value nor the gradient divides by zero)."""
    small = jnp.abs(q) < SMALL
    q_safe = jnp.where(small, SMALL, q)
    return jnp.where(small, log_n + 0.5 * q * log_n**2, jnp.expm1(q_safe * log_n) / q_safe)


def farseer_log_loss(p, x):
    log_n = x["N"] - LOG_N_REF
    data_exponent = jnp.exp(p["E"] + p["A"] * box_cox(p["a"], log_n))
    return log_sum_exp(
        p["S"] + p["s"] * box_cox(p["q"], log_n),
        p["Q"] + p["B"] * box_cox(p["b"], log_n) - data_exponent * x["D"],
    )


def paper_constants(params: Mapping, n_unit: float = 1.0) -> dict:
    """The paper's constants of L = exp(s N^q + S) + exp(B N^b + Q) D^-exp(A N^a + E), with N in
    units of n_unit parameters (1: raw counts), from this law's parameters (floats or arrays of
    draws). Singular where a curvature q, b or a is 0 (the paper's form has only the limit)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    ref = N_REF / n_unit
    out = {}
    for slope, curvature, level in (("s", "q", "S"), ("B", "b", "Q"), ("A", "a", "E")):
        ratio = p[slope] / p[curvature]
        out.update({slope: ratio * ref ** -p[curvature], curvature: p[curvature], level: p[level] - ratio})
    return out


FARSEER = Law(
    name="farseer",
    covariates=("N", "D"),
    priors={
        "S": lambda: dist.Normal(0.6, 0.4),
        "s": lambda: dist.Normal(0.0, 0.2),
        "q": lambda: dist.Normal(0.0, 0.5),
        "Q": lambda: dist.Normal(7.0, 1.5),
        "B": lambda: dist.Normal(0.0, 0.2),
        "b": lambda: dist.Normal(0.0, 0.5),
        "E": lambda: dist.Normal(float(np.log(0.3)), 0.35),
        "A": lambda: dist.Normal(0.0, 0.1),
        "a": lambda: dist.Normal(0.0, 0.5),
    },
    log_loss=farseer_log_loss,
    formula="L = exp(S + s bc(q,n)) + exp(Q + B bc(b,n)) D^-exp(E + A bc(a,n)), n = N/1e9, bc(q,n) = (n^q-1)/q",
)

__all__ = ["FARSEER", "N_REF", "box_cox", "farseer_log_loss", "paper_constants"]
