"""Run NUTS: chains vectorised on one device, one compiled program per model and data shape.

The sampler is a pure function of (PRNG key, data arrays), jitted once per model, settings
and padded data size, so refitting new data of the same size never retraces or recompiles.
The persistent JAX compilation cache (see :mod:`bayeslaws.compile_cache`) carries the
compiled code across processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
from numpyro.distributions import biject_to
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, log_likelihood, potential_energy

from . import compile_cache


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings. dense_mass adapts a full mass matrix (cheap for a handful of parameters).
    Each chain starts from its own prior draw (centred parameters make those sensible)."""

    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    dense_mass: bool = True
    target_accept: float = 0.8
    max_tree_depth: int = 10


def _latent_sites(model, data, rng_key) -> dict:
    """One prior draw of every latent site, mapped to the unconstrained space."""
    trace = numpyro.handlers.trace(numpyro.handlers.seed(model, rng_key)).get_trace(data)
    return {
        name: biject_to(site["fn"].support).inv(site["value"])
        for name, site in trace.items()
        if site["type"] == "sample" and not site["is_observed"]
    }


def _one_chain(rng_key, data, *, model, settings: SamplerSettings):
    key_init, key_nuts = jax.random.split(rng_key)
    z0 = _latent_sites(model, data, key_init)
    init_kernel, sample_kernel = hmc(
        potential_fn_gen=lambda d: partial(_potential, model, d), algo="NUTS"
    )
    state = init_kernel(
        z0,
        settings.warmup,
        dense_mass=settings.dense_mass,
        target_accept_prob=settings.target_accept,
        max_tree_depth=settings.max_tree_depth,
        model_args=(data,),
        rng_key=key_nuts,
    )

    def step(state, _):
        state = sample_kernel(state, model_args=(data,))
        stats = {
            "diverging": state.diverging,
            "n_steps": state.num_steps,
            "lp": -state.potential_energy,
            "acceptance_rate": state.accept_prob,
            "step_size": state.adapt_state.step_size,
        }
        return state, (state.z, stats)

    # One scan over warmup and draws: NUTS is traced once, not twice (tracing dominates a cold start).
    _, trace = jax.lax.scan(step, state, None, length=settings.warmup + settings.draws)
    z, stats = jax.tree.map(lambda x: x[settings.warmup :], trace)
    return z, stats


def _potential(model, data, z):
    return potential_energy(model, (data,), {}, z)


def _sample_and_transform(rng_key, data, *, model, settings):
    keys = jax.random.split(rng_key, settings.chains)
    z, stats = jax.vmap(partial(_one_chain, model=model, settings=settings), in_axes=(0, None))(keys, data)
    constrained = constrain_fn(model, (data,), {}, z, return_deterministic=True, batch_ndims=2)
    pointwise = log_likelihood(model, constrained, data, batch_ndims=2)["log_loss"]
    return constrained, stats, pointwise


_COMPILED: dict = {}


def compiled_sampler(model: Callable, model_key, settings: SamplerSettings, data: dict, export_id: str | None):
    """The jitted sampler for this model, settings and data shapes (built once per process).

    With an ``export_id`` (a stable text naming the model), the traced program is also kept on
    disk so that later processes skip tracing (see compile_cache.load_or_export).
    """
    shapes = str(jax.tree.map(lambda x: (np.shape(x), np.asarray(x).dtype.str), data))
    key = (model_key, settings, shapes)
    if key not in _COMPILED:
        compile_cache.enable_default()
        jitted = jax.jit(partial(_sample_and_transform, model=model, settings=settings))
        if export_id is not None:
            example = (jax.random.PRNGKey(0), data)
            jitted = compile_cache.load_or_export(jitted, example, f"{export_id}|{settings}|{shapes}")
        _COMPILED[key] = jitted
    return _COMPILED[key]


def sample(model, model_key, data: dict, settings: SamplerSettings, seed: int, export_id: str | None = None):
    """Run NUTS; returns NumPy dicts (posterior draws incl. centred sites, sample stats,
    pointwise log-likelihood), each array shaped (chains, draws, ...)."""
    sampler = compiled_sampler(model, model_key, settings, data, export_id)
    constrained, stats, pointwise = sampler(jax.random.PRNGKey(seed), data)
    to_numpy = lambda tree: {k: np.asarray(v) for k, v in tree.items()}  # noqa: E731
    return to_numpy(constrained), to_numpy(stats), np.asarray(pointwise)
