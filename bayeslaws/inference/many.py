"""fit_many: independent posteriors for many run tables, compiled once.

Backtests, leave-largest-scale-out comparisons and simulation-based calibration need hundreds
of fits. All tables are padded to one shape, so one compiled program serves them all. Two ways
to run it:

* sequential (default on CPU): the program (chains vectorised) runs table after table, in one
  thread per CPU core (one program runs single-threaded on CPU). Each fit starts from the
  Laplace approximation with its covariance as a fixed mass matrix (short trees, short warmup);
  a fit that fails the convergence checks is tried once more with another seed (same program),
  then refitted with the robust prior start and windowed adaptation, and marked ``refit`` in
  ``diagnostics``. ``start="robust"`` goes to the robust scheme at once, for tables on which the
  fast path is known to fail (simulation-based calibration's prior-draw zoos: 16 of 16 in its test).
* vectorised (default on GPU): one program runs every table and chain at once, split across
  the devices JAX sees. On CPU this is slower: NUTS chains move in lockstep, so every fit waits
  for the deepest tree of any chain in the batch (20 zoos: 6 fits/min against about 200).

An executor (concurrent.futures-style, e.g. Dask's ``client.get_executor()``) spreads chunks of
tables over workers.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..data import RunTable, load_runs
from ..data.runs import without_diverged
from ..laws import Law, get_law
from ..model import ModelSpec, bucket_size, get_likelihood
from ..model.draws import law_log_loss_draws, predictive_log_loss_draws, summary_columns, target_covariates
from . import diagnostics, nuts

# A short schedule: the Laplace start and fixed mass matrix leave warmup only the step size to
# tune; with 240-run zoos 4 x 500 draws give bulk ESS well above 400 (benchmarks/many_fits.py).
MANY_DEFAULTS = {"chains": 4, "warmup": 200, "draws": 500}
FALLBACK = {"warmup": 1000, "draws": 500, "target_accept": 0.95}
RETRY_SEED_OFFSET = 1_000_003  # the fast path's second try: a seed no other fit of the batch uses


@dataclass
class ManyFits:
    """Posteriors of many fits: draws[name] is (fits, chains, draws); per-fit diagnostics.
    names: each fit's name (the keys of the mapping given to fit_many, else "0", "1", ...);
    ``many[name]`` is that fit's draws (as Fit.draws())."""

    law: Law
    likelihood: str
    tables: list[RunTable]
    draws: dict[str, np.ndarray]
    stats: dict[str, np.ndarray]
    settings: dict
    names: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.names = [str(n) for n in self.names] or [str(i) for i in range(len(self.tables))]

    def __len__(self) -> int:
        return len(self.tables)

    def __getitem__(self, name) -> dict[str, np.ndarray]:
        return self.flat_draws(self.index(name))

    def index(self, name) -> int:
        """The position of the fit called ``name``."""
        if str(name) in self.names:
            return self.names.index(str(name))
        raise KeyError(f"no fit named {name!r}; names: {self.names}")

    def __repr__(self) -> str:
        d = self.diagnostics
        shown = ", ".join(self.names[:8]) + (f", ... ({len(self)} in all)" if len(self) > 8 else "")
        return (f"ManyFits(law '{self.law.name}', {self.likelihood} likelihood, {len(self)} fits: {shown}; "
                f"{self.settings['chains']} chains x {self.settings['draws']} draws; max R-hat "
                f"{d['max_r_hat'].max():.3f}, divergences {int(d['divergences'].sum())}, refitted {int(d['refit'].sum())})")

    def predict(self, *, ci_prob: float = 0.9, seed: int = 0, **covariates) -> pd.DataFrame:
        """Each fit's forecast at the targets (the law's covariates, e.g. N=, D=): one row per fit and
        target, columns fit (its name), the targets, <response>_* (the law's mean function) and
        <response>_pred_* (a new run), each with mean, median and the ci_prob interval."""
        targets = target_covariates(self.law, **covariates)
        likelihood = get_likelihood(self.likelihood)
        response = self.law.response
        frames = []
        for i, name in enumerate(self.names):
            draws = self.flat_draws(i)
            log_loss = law_log_loss_draws(self.law, draws, targets)
            new_run = predictive_log_loss_draws(likelihood, draws, log_loss, seed)
            with np.errstate(over="ignore"):  # a Student-t tail draw beyond e^709 is inf (see finite_quantiles)
                columns = summary_columns(response, np.exp(log_loss), np.exp(new_run), ci_prob)
            frames.append(targets.assign(**columns).assign(fit=name))
        out = pd.concat(frames, ignore_index=True)
        return out[["fit"] + [c for c in out.columns if c != "fit"]]

    @property
    def parameter_names(self) -> list[str]:
        return list(self.law.param_names) + list(get_likelihood(self.likelihood).priors)

    @cached_property
    def diagnostics(self) -> pd.DataFrame:
        """One row per fit (indexed by name): divergences, max R-hat, min bulk ESS (rank-normalised, as ArviZ)."""
        stacked = np.stack([self.draws[k] for k in self.parameter_names], axis=1).astype(np.float64)
        r_hat, ess = diagnostics.bulk_diagnostics(stacked)
        return pd.DataFrame({
            "divergences": self.stats["diverging"].sum(axis=(1, 2)),
            "max_r_hat": r_hat.max(axis=1),
            "min_ess_bulk": ess.min(axis=1),
            "refit": self.stats["refit"],
        }, index=pd.Index(self.names, name="fit"))

    def summary(self, ci_prob: float = 0.9) -> pd.DataFrame:
        """Long table: fit (its name), parameter, median and equal-tailed interval."""
        lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
        rows = []
        for name in self.parameter_names:
            flat = self.draws[name].reshape(len(self), -1).astype(np.float64)
            q = np.quantile(flat, [lo, 0.5, hi], axis=1)
            rows.append(pd.DataFrame({"fit": self.names, "parameter": name, "median": q[1],
                                      diagnostics.quantile_name(lo): q[0], diagnostics.quantile_name(hi): q[2]}))
        return pd.concat(rows, ignore_index=True)

    def flat_draws(self, i: int) -> dict[str, np.ndarray]:
        """Posterior draws of fit i, chains concatenated (the shape Fit.draws() returns)."""
        return {k: self.draws[k][i].astype(np.float64).ravel() for k in self.parameter_names}


def fit_many(
    tables: Sequence[RunTable | pd.DataFrame] | Mapping[str, RunTable | pd.DataFrame],
    law: str | Law = "chinchilla",
    *,
    likelihood: str = "student_t",
    priors=None,
    chains: int = MANY_DEFAULTS["chains"],
    warmup: int = MANY_DEFAULTS["warmup"],
    draws: int = MANY_DEFAULTS["draws"],
    seed: int = 0,
    executor=None,
    threads: int | None = None,
    chunk_size: int = 100,
    vectorise: bool | None = None,
    start: str = "fast",
    warn: bool = True,
) -> ManyFits:
    """Fit one law to each table independently; fit i uses seed ``seed + i``.

    tables: a list, or a mapping name -> table (e.g. one per model family: ``{name: g for name, g in
    runs.groupby("family")}``); the result is indexed by those names (ManyFits.names). Runs
    marked diverged (a ``diverged`` column) are left out, as bl.fit leaves them out.

    vectorise: run all tables of a chunk in one vectorised program (default: only on GPU/TPU).
    start: "fast" (Laplace start, fixed mass matrix; the robust scheme only for fits that fail the
        checks twice) or "robust" (prior start, windowed adaptation, 1000 warmup, draws thinned to
        ``draws``; what "fast" falls back to, with the same draws). Sequential fits only.

    executor: None (this process) or an object with ``map(fn, *iterables)`` such as a
    concurrent.futures executor or Dask's ``client.get_executor()``; chunks of ``chunk_size``
    tables go to its workers. Warns once (ConvergenceWarning) if any fit is unconverged.
    threads: without an executor, fits run in this many threads (default: one per CPU core;
        one compiled program runs single-threaded on CPU, so 2 threads give 1.8x on 2 cores).
        Fit i's draws do not depend on threads, executor or chunk_size.
    """
    law = get_law(law)
    if start not in ("fast", "robust"):
        raise ValueError(f"start must be 'fast' or 'robust'; got {start!r}")
    spec = ModelSpec(law, get_likelihood(likelihood), response=law.response)
    names = [str(k) for k in tables] if isinstance(tables, Mapping) else []
    tables = list(tables.values()) if isinstance(tables, Mapping) else list(tables)
    runs = [without_diverged(t if isinstance(t, RunTable) else load_runs(t, required=()))[0] for t in tables]
    for table in runs:
        spec.check({"runs": table})
    spec.resolve_priors(priors)  # unknown names fail here, before any worker starts
    settings = nuts.SamplerSettings(chains=chains, warmup=warmup, draws=draws, target_accept=0.9,
                                         init="laplace", adapt_mass=False)
    size = bucket_size(max(len(t) for t in runs))
    if vectorise is None:
        import jax

        vectorise = jax.default_backend() != "cpu"
    if executor is None:
        threads = 1 if vectorise else min(threads or os.cpu_count() or 1, len(runs))
        chunk_size = min(chunk_size, -(-len(runs) // threads))
    chunks = [list(range(i, min(i + chunk_size, len(runs)))) for i in range(0, len(runs), chunk_size)]
    job = _ChunkJob(law, likelihood, priors, settings, size, seed, vectorise, start)
    arguments = ([[runs[i] for i in chunk] for chunk in chunks], [c[0] for c in chunks])
    with ThreadPoolExecutor(threads) if executor is None else nullcontext(executor) as pool:
        results = list(pool.map(job, *arguments))
    posterior = {k: np.concatenate([r[0][k] for r in results]) for k in results[0][0]}
    stats = {k: np.concatenate([r[1][k] for r in results]) for k in results[0][1]}
    result = ManyFits(law, likelihood, runs, posterior, stats, {**settings.__dict__, "seed": seed}, names)
    if warn:
        _warn_if_any_unconverged(result.diagnostics)
    return result


@dataclass(frozen=True)
class _ChunkJob:
    """Fits one chunk of tables; a plain callable so executors can ship it to workers."""

    law: Law
    likelihood: str
    priors: object
    settings: nuts.SamplerSettings
    size: int
    seed: int
    vectorise: bool
    start: str = "fast"

    def __call__(self, tables: list[RunTable], first_index: int):
        spec = ModelSpec(self.law, get_likelihood(self.likelihood), response=self.law.response)
        priors = spec.resolve_priors(self.priors)
        datasets = [spec.arrays({"runs": t}, self.size) for t in tables]
        seeds = [self.seed + first_index + i for i in range(len(tables))]
        if self.vectorise:
            groups = nuts.sample_many(spec, priors, _stack(datasets), self.settings, seeds)
            stats = {**groups["sample_stats"], "refit": np.zeros(len(tables), dtype=bool)}
            return groups["posterior"], stats
        fits = [self._one(spec, priors, data, s) for data, s in zip(datasets, seeds)]
        return _stack([f[0] for f in fits]), {**_stack([f[1] for f in fits]), "refit": np.array([f[2] for f in fits])}

    def _one(self, spec, priors, data, seed):
        """Fast Laplace-start fit, tried twice (the second with another seed: no new compilation);
        the robust prior-start scheme when both fail the checks."""
        names = spec.parameter_names()
        for attempt_seed in (seed, seed + RETRY_SEED_OFFSET) if self.start == "fast" else ():
            groups = nuts.sample(spec, priors, data, self.settings, attempt_seed, threads=1)
            if _converged(groups["posterior"], groups["sample_stats"], names):
                return groups["posterior"], groups["sample_stats"], False
        robust = replace(self.settings, init="prior", adapt_mass=True, **FALLBACK)
        groups = nuts.sample(spec, priors, data, robust, seed, threads=1)
        # Keep the arrays stackable: the fallback's draws are thinned or tiled to the fast shape.
        take = np.linspace(0, robust.draws - 1, self.settings.draws).round().astype(int)
        return ({k: v[:, take] for k, v in groups["posterior"].items()},
                {k: v[:, take] for k, v in groups["sample_stats"].items()}, True)


def _converged(posterior: dict, stats: dict, names: list[str]) -> bool:
    stacked = np.stack([posterior[k] for k in names]).astype(np.float64)
    r_hat, ess = diagnostics.bulk_diagnostics(stacked)
    return bool(stats["diverging"].sum() == 0 and r_hat.max() <= diagnostics.R_HAT_MAX
                and ess.min() >= diagnostics.ESS_BULK_MIN)


def _stack(datasets: list[dict]) -> dict:
    import jax

    return jax.tree.map(lambda *xs: np.stack(xs), *datasets)


def _warn_if_any_unconverged(table: pd.DataFrame) -> None:
    bad = (table["divergences"] > 0) | (table["max_r_hat"] > diagnostics.R_HAT_MAX) | (
        table["min_ess_bulk"] < diagnostics.ESS_BULK_MIN)
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} of {len(table)} fits did not pass the convergence checks (fits "
            f"{list(table.index[bad][:10])}); see .diagnostics. Try more warmup and draws.",
            diagnostics.ConvergenceWarning, stacklevel=3)
