"""Run NUTS: on CPU one unbatched program per chain, in threads; on GPU all chains vectorised.

The sampler is a pure function of (PRNG key, data arrays), jitted once per model, settings
and padded data size, so refitting new data of the same size never retraces or recompiles.
The persistent JAX compilation cache (see :mod:`bayeslaws.inference.compile_cache`) carries the
compiled code across processes. What else a complete ArviZ DataTree holds (the pointwise
log-likelihood, posterior predictive draws of every observed site, and prior draws with the prior
predictive) comes from a second program, run on the draws only when asked for (see ``extras``):
for a Student-t likelihood it compiles about as long as the sampler itself (its gamma draws).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


def _initial_points(fit_key, data, *, model, settings):
    """Per-chain starts (leading axis = chains), and the shared inverse mass matrix or None; also
    the program of compiled_starts."""
    chain_keys = _chain_keys(fit_key, settings.chains)
    fold = lambda i: jax.vmap(lambda k: jax.random.fold_in(k, i))(chain_keys)  # noqa: E731
    z0 = jax.vmap(lambda k: _latent_sites(model, data, k))(fold(0))
    if settings.init != "laplace":
        return z0, None
    z0, inverse_mass = laplace_start(partial(_potential, model, data), z0, fold(1))
    return z0, inverse_mass if settings.dense_mass else jnp.diag(inverse_mass)


def _chain_and_transform(fit_key, chain, data, z0, inverse_mass, *, model, settings, report: bool = False):
    """Chain number ``chain`` of the fit whose key is fit_key, unbatched, with the groups of
    _sample_and_transform and a chain axis of length 1. z0: its start from the Laplace start (with
    inverse_mass), or None: a prior draw, made here (as _initial_points would)."""
    chain_key = _chain_keys(fit_key, settings.chains)[chain]
    if z0 is None:
        z0 = _latent_sites(model, data, jax.random.fold_in(chain_key, 0))
    z, stats = _one_chain(jax.random.fold_in(chain_key, 2), data, z0, inverse_mass, model=model, settings=settings,
                          report=report)
    z, stats = jax.tree.map(lambda x: x[None], (z, stats))
    return _transform(z, stats, data, model)


def _sample_and_transform(fit_key, data, *, model, settings, report: bool = False):
    """All chains of one fit, vectorised; fit_key is (2,) (see _fit_key).

    Returns a dict of groups: posterior (latent, centred and deterministic sites) and
    sample_stats, each (chains, draws, ...)."""
    z0, inverse_mass = _initial_points(fit_key, data, model=model, settings=settings)
    chain_keys = _chain_keys(fit_key, settings.chains)
    keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(chain_keys)
    chain = partial(_one_chain, model=model, settings=settings, report=report)
    z, stats = jax.vmap(chain, in_axes=(0, None, 0, None))(keys, data, z0, inverse_mass)
    return _transform(z, stats, data, model)


def _transform(z, stats, data, model) -> dict:
    """Draws (chains, draws, ...) of the unconstrained sites -> the groups posterior and sample_stats."""
    constrained = constrain_fn(model, (data,), {}, z, return_deterministic=True, batch_ndims=2)
    return {"posterior": constrained, "sample_stats": stats}


def _extras(fit_key, data, posterior, *, model, settings):
    """The groups log_likelihood and posterior_predictive (observed site -> (chains, draws, padded
    rows)) at the posterior draws (every site, constrained, (chains, draws, ...)), and prior (every
    site, chains x draws prior draws shaped (chains, draws, ...)); the program of compiled_extras."""
    sites = tuple(data["observed"])
    unobserved = {**data, "observed": {}}
    predictive = Predictive(model, posterior_samples=posterior, batch_ndims=2, return_sites=sites)
    prior = Predictive(model, num_samples=settings.chains * settings.draws)(jax.random.fold_in(fit_key, 4), unobserved)
    return {
        "log_likelihood": log_likelihood(model, posterior, data, batch_ndims=2),
        "posterior_predictive": predictive(jax.random.fold_in(fit_key, 3), unobserved),
        "prior": jax.tree.map(lambda x: x.reshape((settings.chains, settings.draws) + x.shape[1:]), prior),
    }


def _sample_many(rng_keys, stacked_data, *, model, settings):
    """Independent posteriors for a batch of datasets (leading axis) in one program."""
    one = partial(_sample_and_transform, model=model, settings=settings)
    return jax.vmap(one)(rng_keys, stacked_data)


SOURCES = [Path(__file__), Path(__file__).parent / "laplace.py"]  # the sampler's own code, for exported programs
# Compiled programs kept in this process, least recently used first. Bounded: on CPU each program
# holds about 600 memory maps of JIT code, and a process past the kernel's vm.max_map_count (65,530)
# fails to compile the next one ("Cannot allocate memory"): a test worker of the suite met it after
# about a hundred programs. An evicted program reloads from the persistent cache in about 0.3 s.
MAX_PROGRAMS = 32
_COMPILED: OrderedDict = OrderedDict()
_COMPILING = threading.Lock()  # threads of fit_many share one compilation


def _shapes(data) -> str:
    return str(jax.tree.map(lambda x: (np.shape(x), np.asarray(x).dtype.str), data))


def compiled_sampler(spec: ModelSpec, priors, settings: SamplerSettings, data: dict, many: bool = False,
                     report: bool = False, meanwhile: threading.Thread | None = None):
    """The jitted sampler of all chains, vectorised, for this model, priors, settings and data
    shapes (built once per process): the program of GPUs and of fit_many's stacks.

    many: the program for a stack of datasets (leading axis), see sample_many. report: the
    program reports its progress (bayeslaws.inference.progress). meanwhile: see sample.
    """
    report = report and not many
    program = _sample_many if many else partial(_sample_and_transform, report=report)
    batch = np.shape(_any_mask(data))[:-1]
    example = (np.zeros(batch + (2,), np.uint32), data)
    return _compiled(spec, priors, settings, program, example, f"all|{many}", exportable=not report,
                     meanwhile=meanwhile)


def compiled_chain(spec: ModelSpec, priors, settings: SamplerSettings, data: dict, starts: tuple,
                   report: bool = False, meanwhile: threading.Thread | None = None):
    """The jitted program of one chain, unbatched, from its start (one chain's z0 and the shared
    inverse mass matrix, as ``starts``, or (None, None) for a prior draw): the CPU's program (see
    sample)."""
    example = (np.zeros(2, np.uint32), np.int32(0), data, *starts)
    program = partial(_chain_and_transform, report=report)
    return _compiled(spec, priors, settings, program, example, "chain", exportable=not report, meanwhile=meanwhile)


def compiled_extras(spec: ModelSpec, priors, settings: SamplerSettings, data: dict, posterior: dict):
    """The jitted program of _extras for this model, settings and the shapes of data and draws."""
    example = (np.zeros(2, np.uint32), data, posterior)
    return _compiled(spec, priors, settings, _extras, example, "extras", exportable=True)


def compiled_starts(spec: ModelSpec, priors, settings: SamplerSettings, data: dict,
                    meanwhile: threading.Thread | None = None):
    """The jitted program of every chain's Laplace start (init="laplace"), searched from all of
    them at once so that they share the best mode."""
    example = (np.zeros(2, np.uint32), data)
    return _compiled(spec, priors, settings, _initial_points, example, "starts", exportable=True, meanwhile=meanwhile)


def _compiled(spec: ModelSpec, priors, settings: SamplerSettings, program, example: tuple, kind: str,
              exportable: bool, meanwhile: threading.Thread | None = None):
    """program(*example, model=..., settings=...) jitted and compiled once per process. A model
    of registered laws and links is also kept on disk, so that later processes skip tracing (see
    compile_cache.load_or_export); a program with a progress callback cannot be exported.
    meanwhile: a thread started once the program is traced, while XLA compiles it (see sample)."""
    shapes = _shapes(example)
    key = (spec.cache_key(priors), settings, shapes, kind, exportable)
    with _COMPILING:
        if key not in _COMPILED:
            compile_cache.enable_default()
            jitted = jax.jit(partial(program, model=spec.model(priors), settings=settings))
            if spec.registered() and exportable:
                identity = f"{spec.identity(priors)}|{settings}|{shapes}|{kind}"
                jitted = compile_cache.load_or_export(jitted, example, identity, spec.source_files() + SOURCES)
            lowered = jitted.lower(*example)
            _start(meanwhile)  # tracing holds the GIL; XLA's compilation releases it
            _COMPILED[key] = lowered.compile()
            while len(_COMPILED) > MAX_PROGRAMS:
                _COMPILED.popitem(last=False)
        _COMPILED.move_to_end(key)
        return _COMPILED[key]


def _start(thread: threading.Thread | None) -> None:
    """Start the thread unless it is None or started already."""
    if thread is not None and thread.ident is None:
        thread.start()


def _any_mask(data: dict):
    """A mask array of the data (the law's, else the first term's): its leading axes are the batch."""
    return data["mask"] if "mask" in data else next(t["mask"] for t in data["terms"].values() if "mask" in t)


def sample(spec: ModelSpec, priors, data: dict, settings: SamplerSettings, seed: int, threads: int | None = None,
           progress_bar: bool = False, meanwhile: threading.Thread | None = None) -> dict:
    """Run NUTS; returns NumPy dicts by group (posterior and sample_stats, see
    _sample_and_transform), each array shaped (chains, draws, ...).

    On CPU every chain is its own call of one compiled program, unbatched (with init="laplace"
    from starts computed for all chains at once by a small program, so that they share the best
    mode found from any of their starts); ``threads`` calls run at once (default: one per core, as a
    program runs single-threaded there). Unbatched, NUTS's while loops need no per-chain masks:
    on the 240-run Chinchilla zoo a fit samples 3x faster and compiles 2x faster than with two
    chains vectorised per program. On GPU all chains run vectorised in one program. Chain i
    always gets the same PRNG key. progress_bar: a long fit (progress.is_long) prints its
    iterations and the time left on stderr. meanwhile: a thread (not started) of work for later
    that this thread's waits leave room for: it is started once the sampler is traced, while XLA
    compiles it and the chains run without the GIL (not before: tracing is Python, as is most
    such work, and the two would share one core's turns); sample joins it before returning.
    """
    report = progress_bar and progress.is_long(data, settings.warmup + settings.draws, settings.chains)
    key = _fit_key(seed)
    on_cpu = jax.default_backend() == "cpu"
    with progress.reporting(settings.warmup, settings.draws, settings.chains if on_cpu else 1) if report \
            else nullcontext():
        if on_cpu:
            results = _sample_chains(spec, priors, data, settings, key, threads, report, meanwhile)
        else:
            results = [compiled_sampler(spec, priors, settings, data, report=report, meanwhile=meanwhile)(key, data)]
    if meanwhile is not None:  # (not started yet when the program was compiled already: the chains,
        _start(meanwhile)     # dispatched asynchronously, run without the GIL while it works)
        meanwhile.join()
    return {group: {name: np.concatenate([np.asarray(r[group][name]) for r in results]) for name in results[0][group]}
            for group in results[0]}


def _sample_chains(spec, priors, data, settings, key, threads, report, meanwhile=None) -> list[dict]:
    """Each chain's groups (chain axis of length 1), from one program per chain run in threads."""
    z0, inverse_mass = None, None  # a prior draw per chain, made in the chain's own program
    if settings.init == "laplace":
        z0, inverse_mass = compiled_starts(spec, priors, settings, data, meanwhile)(key, data)
    start = lambda i: None if z0 is None else jax.tree.map(lambda x: x[i], z0)  # noqa: E731
    program = compiled_chain(spec, priors, settings, data, (start(0), inverse_mass), report=report,
                             meanwhile=meanwhile)
    chain = lambda i: program(key, np.int32(i), data, start(i), inverse_mass)  # noqa: E731
    workers = min(settings.chains, threads or os.cpu_count() or 1)
    if workers == 1:
        return [chain(i) for i in range(settings.chains)]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(chain, range(settings.chains)))


def extras(spec: ModelSpec, priors, data: dict, settings: SamplerSettings, seed: int, posterior: dict) -> dict:
    """The groups log_likelihood, posterior_predictive and prior (NumPy, see _extras) of the fit
    whose posterior draws (sample's posterior group) these are."""
    groups = compiled_extras(spec, priors, settings, data, posterior)(_fit_key(seed), data, posterior)
    return jax.tree.map(np.asarray, groups)


MAX_SEED = 2**32 - 1


def _fit_key(seed: int) -> np.ndarray:
    """jax.random.PRNGKey(seed)'s raw key, made in NumPy: a new process spares the programs that
    JAX would compile for it. Seeds from 0 to MAX_SEED (JAX would map 2^32 to the key of 0)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED:,}; got {seed!r}")
    return np.array([0, seed], np.uint32)


def _chain_keys(fit_key, chains: int):
    """One PRNG key per chain, inside the sampler's programs. (Splitting one fit's chains across
    devices was tried: with two CPU devices a fit took 5x longer, as NUTS's while loops
    synchronise every step; threads, one compiled program each, do not synchronise: see sample.)"""
    return jax.random.split(fit_key, chains)


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
    keys = np.stack([_fit_key(seeds[i]) for i in take])
    if len(devices) > 1:
        sharding = jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(devices), ("fits",)),
                                              jax.sharding.PartitionSpec("fits"))
        stacked, keys = jax.device_put((stacked, keys), sharding)
    sampler = compiled_sampler(spec, priors, settings, stacked, many=True)
    groups = sampler(keys, stacked)
    return {group: {k: np.asarray(v)[:n] for k, v in groups[group].items()} for group in ("posterior", "sample_stats")}
