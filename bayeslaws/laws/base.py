"""The Law: a scaling law as data plus one pure JAX function in log space."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import jax.numpy as jnp
from numpyro.distributions import Distribution

Params = Mapping[str, jnp.ndarray]
LogCovariates = Mapping[str, jnp.ndarray]


@dataclass(frozen=True, eq=False)
class Law:
    """A parametric scaling law.

    name: registry name.
    covariates: run-table columns the law reads, e.g. ("N", "D").
    priors: parameter name -> zero-argument function returning its default prior,
        a NumPyro distribution in the parameter's original units.
    log_loss: (params, log_covariates) -> log of the predicted loss [log nats]. Params
        are in original units, and each positive parameter P also comes as ``log_P`` (use it
        for prefactors: it never overflows); log_covariates hold natural logs of the columns. Must
        broadcast: parameters of shape (S, 1) against covariates of shape (M,) give (S, M).
    centring: scale parameter -> (covariate, coefficient). The sampler sees
        log(scale) - coefficient * mean(log covariate) instead of log(scale), which
        removes the near-perfect correlation between a prefactor and its exponent.
        coefficient is a parameter name (an exponent), a number, or a function of the
        params dict (e.g. ``lambda p: 2 * p["eta"]``). A law of whole curves names one of its
        features instead of a covariate; its centre is the mean over the feature's nonzero entries.
    formula: the law in plain text, for documentation and plots.
    response: the run-table column the law predicts (default "loss" [nats]).
    compute_optimal: optional closed form (params, C) -> dict of N_opt, D_opt, loss_opt.
    features: for laws of whole training curves: (points, lr_by_run) -> dict of float64 arrays
        with one row per point, which log_loss then reads instead of log covariates. points is
        a frame of run_id and step, lr_by_run maps each run_id to its learning rate at every
        step from 0 (bayeslaws.data.curves).

    Laws compare and hash by identity, so a compiled sampler is reused for the same Law object.
    """

    name: str
    covariates: tuple[str, ...]
    priors: Mapping[str, Callable[[], Distribution]]
    log_loss: Callable[[Params, LogCovariates], jnp.ndarray]
    formula: str
    centring: Mapping[str, tuple[str, str | float | Callable]] = field(default_factory=dict)
    compute_optimal: Callable | None = None
    response: str = "loss"
    features: Callable | None = None

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.priors)

    def evaluate(self, params: Params, log_covariates: LogCovariates) -> jnp.ndarray:
        """Log loss [log nats] from parameters in original units (logs added as needed)."""
        return self.log_loss(with_logs(params), log_covariates)

    def __repr__(self) -> str:
        return f"Law({self.name!r}: {self.formula})"

    def __reduce__(self):
        """A registered law travels to executor workers by name (its priors are lambdas) and
        arrives as the worker's own registry object, so compiled samplers there are reused.
        Other laws travel field by field (their functions need cloudpickle, as Dask uses)."""
        if REGISTRY.get(self.name) is self:
            return get_law, (self.name,)
        fields = (self.name, self.covariates, dict(self.priors), self.log_loss, self.formula,
                  dict(self.centring), self.compute_optimal, self.response, self.features)
        return Law, fields


REGISTRY: dict[str, Law] = {}  # filled by bayeslaws.laws (one line per law)


def register(*laws: Law) -> None:
    """Add laws to the registry under their names."""
    for law in laws:
        REGISTRY[law.name] = law


def get_law(law: str | Law) -> Law:
    """Look a law up by name (or pass a Law through)."""
    if isinstance(law, Law):
        return law
    if law not in REGISTRY:
        raise ValueError(f"unknown law '{law}'; known laws: {sorted(REGISTRY)}")
    return REGISTRY[law]


def log_sum_exp(*terms: jnp.ndarray) -> jnp.ndarray:
    """log(sum(exp(term))) over the given terms, broadcasting them against each other.

    Written out rather than jax.nn.logsumexp: the same values to float32 rounding, but the switch
    moved sampled trajectories enough that the 5-run Gadre fit hit the tree-depth limit in 2 of
    4,000 draws; changing it is its own change, with the seeded reproductions re-checked."""
    stacked = jnp.stack(jnp.broadcast_arrays(*terms), axis=0)
    return jnp.log(jnp.sum(jnp.exp(stacked - jnp.max(stacked, axis=0)), axis=0)) + jnp.max(stacked, axis=0)


def with_logs(params: Params) -> dict:
    """params plus ``log_<name>`` for every parameter that lacks one (for positive parameters)."""
    full = dict(params)
    for name, value in params.items():
        if not name.startswith("log_"):
            full.setdefault(f"log_{name}", jnp.log(value))
    return full
