"""Run NUTS: chains vectorised on one device, one compiled program per model and data shape.

The sampler is a pure function of (PRNG key, data arrays), jitted once per model, settings
and padded data size, so refitting new data of the same size never retraces or recompiles.
The persistent JAX compilation cache (see :mod:`bayeslaws.inference.compile_cache`) carries the
compiled code across processes. Besides the draws, the same program computes what a complete
ArviZ DataTree holds: the pointwise log-likelihood, posterior predictive draws of every observed
site, and prior draws (with the prior predictive).
"""

from __future__ import annotations

import os
import threading
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
from numpyro.distributions import biject_to
from numpyro.infer import Predictive
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, log_likelihood, potential_energy

from ..model import ModelSpec
from . import compile_cache, progress
from .laplace import laplace_start


MAX_CHAINS = 64
MIN_DRAWS = 4  # split R-hat needs two halves of at least two draws per chain
MAX_ITERATIONS = 100_000
INITS = ("prior", "laplace")


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings.

    dense_mass: a full mass matrix (cheap for a handful of parameters).
    init: "prior" (default) starts each chain at a prior draw with the identity as inverse mass
        matrix (NumPyro's scheme). "laplace" starts each chain at a draw from the Laplace
        approximation (bayeslaws.laplace) and its covariance as the first inverse mass matrix:
        the first warmup iterations then build short trees instead of hundreds of steps.
    adapt_mass: adapt the mass matrix in windows during warmup (default). False keeps the
        starting one (only sensible with init="laplace"; fit_many's fast path): warmup then only
        tunes the step size, but a poor Laplace fit (small or non-Gaussian posteriors) stays poor.
    """

    chains: int = 4
    warmup: int = 1000
    draws: int = 1000
    dense_mass: bool = True
    target_accept: float = 0.8
    max_tree_depth: int = 10
    init: str = "prior"
    adapt_mass: bool = True

    def __post_init__(self):
        """Refuse settings that cannot give a checked posterior, before anything is compiled."""
        limits = {"chains": (1, MAX_CHAINS), "warmup": (1, MAX_ITERATIONS), "draws": (MIN_DRAWS, MAX_ITERATIONS),
                  "max_tree_depth": (1, 15)}
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high:,}; got {value!r}")
        if not 0 < self.target_accept < 1:
            raise ValueError(f"target_accept must lie strictly between 0 and 1; got {self.target_accept!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {list(INITS)}; got {self.init!r}")


def _latent_sites(model, data, rng_key) -> dict:
    """One prior draw of every latent site, mapped to the unconstrained space."""
    trace = numpyro.handlers.trace(numpyro.handlers.seed(model, rng_key)).get_trace(data)
    return {
        name: biject_to(site["fn"].support).inv(site["value"])
        for name, site in trace.items()
        if site["type"] == "sample" and not site["is_observed"]
    }


def _one_chain(rng_key, data, z0, inverse_mass, *, model, settings: SamplerSettings, report: bool = False):
    """Warmup and draws of one chain from z0; inverse_mass None starts from the identity.
    report: call progress.report with the iteration count every tenth of the run."""
    init_kernel, sample_kernel = hmc(
        potential_fn_gen=lambda d: partial(_potential, model, d), algo="NUTS"
    )
    state = init_kernel(
        z0,
        settings.warmup,
        inverse_mass_matrix=inverse_mass,
        adapt_mass_matrix=settings.adapt_mass or inverse_mass is None,
        find_heuristic_step_size=inverse_mass is not None,
        dense_mass=settings.dense_mass,
        target_accept_prob=settings.target_accept,
        max_tree_depth=settings.max_tree_depth,
        model_args=(data,),
        rng_key=rng_key,
    )

    iterations = settings.warmup + settings.draws
    interval = progress.every(iterations)

    def step(state, i):
        state = sample_kernel(state, model_args=(data,))
        if report:  # i is the same for every chain (not batched), so this stays a real branch
            jax.lax.cond((i + 1) % interval == 0, lambda: jax.debug.callback(progress.report, i + 1), lambda: None)
        stats = {
            "diverging": state.diverging,
            "n_steps": state.num_steps,
            "lp": -state.potential_energy,
            "acceptance_rate": state.accept_prob,
            "step_size": state.adapt_state.step_size,
        }
        return state, (state.z, stats)

    # One scan over warmup and draws: NUTS is traced once, not twice (tracing dominates a cold start).
    _, trace = jax.lax.scan(step, state, jnp.arange(iterations))
    z, stats = jax.tree.map(lambda x: x[settings.warmup :], trace)
    return z, stats


def _potential(model, data, z):
    return potential_energy(model, (data,), {}, z)


def _initial_points(chain_keys, data, model, settings):
    """Per-chain starts (leading axis = chains), and the shared inverse mass matrix or None."""
    fold = lambda i: jax.vmap(lambda k: jax.random.fold_in(k, i))(chain_keys)  # noqa: E731
    z0 = jax.vmap(lambda k: _latent_sites(model, data, k))(fold(0))
    if settings.init != "laplace":
        return z0, None
    z0, inverse_mass = laplace_start(partial(_potential, model, data), z0, fold(1))
    return z0, inverse_mass if settings.dense_mass else jnp.diag(inverse_mass)


def _sample_and_transform(chain_keys, data, *, model, settings, extras: bool = True, report: bool = False):
    """All chains of one fit, vectorised; chain_keys is (chains, 2).

    Returns a dict of groups: posterior (latent, centred and deterministic sites) and
    sample_stats, each (chains, draws, ...); with ``extras`` also log_likelihood and
    posterior_predictive (observed site -> (chains, draws, padded rows)) and prior (every site,
    (1, draws, ...): one prior chain per program)."""
    z0, inverse_mass = _initial_points(chain_keys, data, model, settings)
    keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(chain_keys)
    chain = partial(_one_chain, model=model, settings=settings, report=report)
    z, stats = jax.vmap(chain, in_axes=(0, None, 0, None))(keys, data, z0, inverse_mass)
    constrained = constrain_fn(model, (data,), {}, z, return_deterministic=True, batch_ndims=2)
    groups = {"posterior": constrained, "sample_stats": stats}
    if not extras:
        return groups
    sites = tuple(data["observed"])
    unobserved = {**data, "observed": {}}
    groups["log_likelihood"] = log_likelihood(model, constrained, data, batch_ndims=2)
    groups["posterior_predictive"] = Predictive(model, posterior_samples=constrained, batch_ndims=2,
                                                return_sites=sites)(jax.random.fold_in(chain_keys[0], 3), unobserved)
    prior = Predictive(model, num_samples=settings.draws)(jax.random.fold_in(chain_keys[0], 4), unobserved)
    groups["prior"] = jax.tree.map(lambda x: x[None], prior)
    return groups


def _sample_many(rng_keys, stacked_data, *, model, settings):
    """Independent posteriors for a batch of datasets (leading axis) in one program."""
    one = partial(_sample_and_transform, model=model, settings=settings, extras=False)
    return jax.vmap(one)(rng_keys, stacked_data)


SOURCES = [Path(__file__), Path(__file__).parent / "laplace.py"]  # the sampler's own code, for exported programs
_COMPILED: dict = {}
_COMPILING = threading.Lock()  # threads of fit_many share one compilation


def _shapes(data) -> str:
    return str(jax.tree.map(lambda x: (np.shape(x), np.asarray(x).dtype.str), data))


def compiled_sampler(spec: ModelSpec, priors, settings: SamplerSettings, data: dict, many: bool = False,
                     extras: bool = True, report: bool = False):
    """The jitted sampler for this model, priors, settings and data shapes (built once per process).

    many: the program for a stack of datasets (leading axis), see sample_many. extras: the
    program also computes the log-likelihood, posterior predictive and prior draws (a single fit's
    DataTree; about 40 % more compilation, so fit_many's programs leave them out). A model of
    registered laws and links is also kept on disk, so that later processes skip tracing (see
    compile_cache.load_or_export). report: the program reports its progress (bayeslaws.inference.progress;
    such a program cannot be exported, only compiled).
    """
    shapes = _shapes(data)
    extras = extras and not many
    report = report and not many
    key = (spec.cache_key(priors), settings, shapes, many, extras, report)
    with _COMPILING:
        if key not in _COMPILED:
            compile_cache.enable_default()
            program = _sample_many if many else partial(_sample_and_transform, extras=extras, report=report)
            jitted = jax.jit(partial(program, model=spec.model(priors), settings=settings))
            batch = np.shape(_any_mask(data))[:-1]
            example = (jnp.zeros(batch + (settings.chains, 2), jnp.uint32), data)
            if spec.registered() and not report:
                identity = f"{spec.identity(priors)}|{settings}|{shapes}|{many}|{extras}"
                jitted = compile_cache.load_or_export(jitted, example, identity, spec.source_files() + SOURCES)
            _COMPILED[key] = jitted.lower(*example).compile()
    return _COMPILED[key]


def _any_mask(data: dict):
    """A mask array of the data (the law's, else the first term's): its leading axes are the batch."""
    return data["mask"] if "mask" in data else next(t["mask"] for t in data["terms"].values() if "mask" in t)


def sample(spec: ModelSpec, priors, data: dict, settings: SamplerSettings, seed: int, threads: int | None = None,
           extras: bool = True, progress_bar: bool = False) -> dict:
    """Run NUTS; returns NumPy dicts by DataTree group (see _sample_and_transform), each array
    shaped (chains, draws, ...); prior draws have one chain per thread group.

    threads: the chains are split into this many equal groups, each run by one compiled program
    in its own thread (default on CPU: one group per core, as one program runs single-threaded
    there; 1 on GPU). Chain i always gets the same PRNG key; with init="laplace" each group
    shares the best mode of its own chains. extras=False: posterior and sample_stats only, from
    a program that computes nothing else (see compiled_sampler). progress_bar: a long fit
    (progress.is_long) prints its iterations and the time left on stderr.
    """
    groups = _chain_groups(settings.chains, threads)
    part = replace(settings, chains=settings.chains // groups)
    report = progress_bar and progress.is_long(data, settings.warmup + settings.draws, settings.chains)
    sampler = compiled_sampler(spec, priors, part, data, extras=extras, report=report)
    keys = np.asarray(_chain_keys(seed, settings.chains)).reshape(groups, part.chains, -1)
    with progress.reporting(settings.warmup, settings.draws) if report else nullcontext():
        if groups == 1:
            results = [sampler(keys[0], data)]
        else:
            with ThreadPoolExecutor(groups) as pool:
                results = list(pool.map(lambda k: sampler(k, data), keys))
    return {group: {name: np.concatenate([np.asarray(r[group][name]) for r in results]) for name in results[0][group]}
            for group in results[0]}


def _chain_groups(chains: int, threads: int | None) -> int:
    """The largest divisor of chains not above threads (default: CPU cores on CPU, else 1)."""
    if threads is None:
        threads = (os.cpu_count() or 1) if jax.default_backend() == "cpu" else 1
    return max(g for g in range(1, min(threads, chains) + 1) if chains % g == 0)


def _chain_keys(seed: int, chains: int):
    """One PRNG key per chain. (Splitting one fit's chains across devices was tried: with two
    CPU devices a fit took 5x longer, as NUTS's while loops synchronise every step; threads,
    one compiled program each, do not synchronise: see sample.)"""
    return jax.random.split(jax.random.PRNGKey(seed), chains)


def sample_many(spec: ModelSpec, priors, stacked_data: dict, settings: SamplerSettings, seeds) -> dict:
    """Run NUTS on a stack of same-shaped datasets at once, split across the devices JAX sees.

    Returns NumPy dicts (posterior, sample_stats) shaped (datasets, chains, draws, ...). No
    pointwise log-likelihood (it would take datasets x chains x draws x runs floats).
    """
    n = len(seeds)
    devices = jax.devices()
    padded = -(-n // len(devices)) * len(devices)
    take = np.arange(padded) % n
    stacked = jax.tree.map(lambda x: np.asarray(x)[take], stacked_data)
    keys = np.stack([np.asarray(jax.random.split(jax.random.PRNGKey(seeds[i]), settings.chains)) for i in take])
    if len(devices) > 1:
        sharding = jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(devices), ("fits",)),
                                              jax.sharding.PartitionSpec("fits"))
        stacked, keys = jax.device_put((stacked, keys), sharding)
    sampler = compiled_sampler(spec, priors, settings, stacked, many=True)
    groups = sampler(keys, stacked)
    return {group: {k: np.asarray(v)[:n] for k, v in groups[group].items()} for group in ("posterior", "sample_stats")}
