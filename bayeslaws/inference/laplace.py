"""A Laplace start for NUTS: the posterior mode and the curvature there.

Warmup is the expensive part of a short fit: from a prior draw, with an identity mass matrix,
the first hundreds of NUTS iterations build deep trees. Starting each chain at a draw from the
Laplace approximation (mode + Normal(0, H^-1)), with H^-1 as the inverse mass matrix, makes the
trees short from the first iteration. The mode is searched from every chain's start and the
best one is shared, so one failed search cannot leave a chain with a bad mass matrix.
Everything here is jittable and works on the flattened unconstrained parameter vector.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

ADAM_STEPS = 300
ADAM_RATE = 0.05
NEWTON_STEPS = 50  # 15 left some 240-run zoos far from the mode (|grad| 300-2,700), and their fixed mass matrix useless


def _adam(f, x, steps: int = ADAM_STEPS, rate: float = ADAM_RATE):
    """Plain Adam on f from x (robust far from the mode, where Newton steps are not)."""
    grad = jax.grad(f)

    def step(carry, t):
        x, m, v = carry
        g = jnp.nan_to_num(grad(x))
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        m_hat = m / (1 - 0.9 ** (t + 1))
        v_hat = v / (1 - 0.999 ** (t + 1))
        return (x - rate * m_hat / (jnp.sqrt(v_hat) + 1e-8), m, v), None

    zeros = jnp.zeros_like(x)
    (x, _, _), _ = jax.lax.scan(step, (x, zeros, zeros), jnp.arange(steps))
    return x


def _newton(f, x, steps: int = NEWTON_STEPS):
    """Levenberg-Marquardt damped Newton polish: only steps that lower f are taken."""
    grad, hess = jax.grad(f), jax.hessian(f)
    eye = jnp.eye(x.shape[0])

    def step(carry, _):
        x, damping = carry
        proposal = x - jnp.linalg.solve(hess(x) + damping * eye, grad(x))
        better = jnp.isfinite(f(proposal)) & (f(proposal) < f(x))
        return (jnp.where(better, proposal, x), jnp.where(better, damping / 10, damping * 10)), None

    (x, _), _ = jax.lax.scan(step, (x, jnp.asarray(1.0, x.dtype)), None, length=steps)
    return x


def laplace_start(potential, z0s: dict, rng_keys):
    """Chain starts and one shared inverse mass matrix from the Laplace approximation.

    potential: function of a dict of unconstrained parameters. z0s: per-chain starting dicts
    (leading axis = chains) from which the mode is searched; the lowest mode found wins, and
    each chain starts at its own draw from Normal(mode, H^-1). If no search gives a usable mode
    (finite, positive-definite Hessian), returns z0s and the identity: with mass adaptation
    that is NumPyro's default start; with a fixed mass the fit fails its checks (fit_many then
    refits it with the robust scheme).
    """
    first = jax.tree.map(lambda x: x[0], z0s)
    _, unravel = ravel_pytree(first)
    flat0 = jax.vmap(lambda z: ravel_pytree(z)[0])(z0s)
    f = lambda x: potential(unravel(x))  # noqa: E731

    def search(x0):
        mode = _newton(f, _adam(f, x0))
        covariance = jnp.linalg.inv(jax.hessian(f)(mode))
        chol = jnp.linalg.cholesky(covariance)
        usable = jnp.all(jnp.isfinite(chol)) & jnp.isfinite(f(mode))
        return mode, chol, jnp.where(usable, f(mode), jnp.inf)

    modes, chols, values = jax.vmap(search)(flat0)
    best = jnp.argmin(values)
    usable = jnp.isfinite(values[best])
    chol = chols[best]
    draws = modes[best] + jax.vmap(lambda k: chol @ jax.random.normal(k, flat0.shape[1:]))(rng_keys)
    starts = jnp.where(usable, draws, flat0)
    inverse_mass = jnp.where(usable, chol @ chol.T, jnp.eye(flat0.shape[1]))
    return jax.vmap(unravel)(starts), inverse_mass
