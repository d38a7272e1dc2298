"""The link term: downstream error (1 - accuracy) as a function of loss or compute.

A link (bayeslaws.links) maps its input x to a mean error; an error likelihood
(bayeslaws.links.likelihoods) observes the runs' errors around it. Two placements:

- on a measured input (``on_law=False``): the link alone, fitted to runs with a measured loss
  [nats] or compute [FLOPs] and the error; the model has no law (bl.fit_link);
- on the law (``on_law=True``): the link reads the law's loss L(N, D) at each error run, so error
  runs inform the law too (bl.fit_joint); its runs are the table "link".

Parameters of a link may be ``fixed`` (e.g. a benchmark's known chance level): their values
travel in the arrays, so refitting with other fixed values reuses the compiled sampler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import numpyro

from ..data import RunTable, check_error_column, check_has_columns, check_positive_columns
from ..links import Link, get_link
from ..links.likelihoods import ErrorLikelihood, get_error_likelihood
from ..model.arrays import bucket_size, log_columns, mask, pad
from ..model.parameters import sample_parameters
from ..model.term import ObservedSite, Tables, Term

ERROR_SITE = "error"
JOINT_TABLE = "link"  # the table of error runs in a joint fit


@dataclass(frozen=True, eq=False)
class LinkTerm(Term):
    """link: the Link. likelihood: the ErrorLikelihood. metric: the error column observed.
    fixed_values: parameters held at known values. items: benchmark questions (binomial only).
    on_law: read the law's loss (joint) instead of the runs' measured input.
    law_covariates: with on_law, the law's covariates, read at the error runs."""

    link: Link
    likelihood: ErrorLikelihood
    metric: str
    fixed_values: Mapping[str, float] = field(default_factory=dict)
    items: float | None = None
    on_law: bool = False
    law_covariates: tuple[str, ...] = ()

    kind = "link"

    def __post_init__(self):
        unknown = set(self.fixed_values) - set(self.link.param_names)
        if unknown:
            raise ValueError(f"fixed values given for unknown parameter(s) {sorted(unknown)}; "
                             f"link '{self.link.name}' has {list(self.link.param_names)}")
        if self.likelihood.name == "binomial" and not (self.items and self.items >= 1):
            raise ValueError("the binomial likelihood needs items=, the number of benchmark questions")
        if self.likelihood.name != "binomial" and self.items is not None:
            raise ValueError(f"items= is only used by the binomial likelihood, not '{self.likelihood.name}'")
        if self.on_law and self.link.input != "loss":
            raise ValueError(f"a joint fit needs a link on the loss; '{self.link.name}' reads {self.link.input}")

    def __str__(self) -> str:
        return f"link {self.link.name} on {self.metric}"

    @property
    def table(self) -> str:
        return JOINT_TABLE if self.on_law else "runs"

    @property
    def dim(self) -> str:
        return "link_run" if self.on_law else "run"

    @property
    def priors(self) -> dict:
        every = {**self.link.priors, **self.likelihood.priors}
        return {name: make for name, make in every.items() if name not in self.fixed_values}

    def fixed(self) -> dict[str, float]:
        return dict(self.fixed_values)

    def columns(self) -> tuple[str, ...]:
        return self.law_covariates if self.on_law else (self.link.input,)

    def check(self, tables: Tables) -> None:
        table = tables[self.table]
        check_error_column(table, self.metric)
        check_has_columns(table, self.columns(), f"link '{self.link.name}'")
        check_positive_columns(table, self.columns())

    def arrays(self, tables: Tables, size: int) -> dict:
        """mask, fixed values, items (1 when None), and the input: x (L [nats] or ln C) with its
        mean as centre, or with on_law the law's log covariates, centred at the loss runs' mean loss."""
        table = tables[self.table]
        n = len(table)
        own = bucket_size(n)
        data = {"mask": mask(n, own), "items": np.float32(self.items or 1.0),
                "fixed": {name: np.float32(v) for name, v in sorted(self.fixed_values.items())}}
        if self.on_law:
            data["logx"], _ = log_columns(table, self.law_covariates, own)
            data["centre"] = np.float32(tables["runs"].frame["loss"].mean())
        else:
            x = self.link.x(table.frame[self.link.input])
            data["x"], data["centre"] = pad(x, own), np.float32(x.mean())
        return data

    def observations(self, tables: Tables) -> dict:
        table = tables[self.table]
        error = table.frame[self.metric].to_numpy(np.float64)
        return {ERROR_SITE: pad(self.likelihood.observed(error, self.items or 1.0), bucket_size(len(table)))}

    def observed_sites(self) -> tuple[ObservedSite, ...]:
        return (ObservedSite(ERROR_SITE, self.metric, self.table, self.dim, self.to_error),)

    def to_error(self, value):
        """A draw of the observed site as an error fraction."""
        return self.likelihood.to_error(value, self.items or 1.0)

    def observe(self, law_log_loss, priors, arrays, observed) -> None:
        params = sample_parameters(self.link, priors, {self.link.input: arrays["centre"]}, arrays["fixed"])
        nuisance = {name: numpyro.sample(name, priors[name]) for name in self.likelihood.priors}
        x = jnp.exp(law_log_loss(arrays["logx"])) if self.on_law else arrays["x"]
        mu = self.link.evaluate(params, x)
        with numpyro.handlers.mask(mask=arrays["mask"]):
            numpyro.sample(ERROR_SITE, self.likelihood.distribution(mu, nuisance, arrays["items"]),
                           obs=observed.get(ERROR_SITE))

    def functions(self) -> tuple:
        return (self.link,)

    def to_dict(self) -> dict:
        return {"link": self.link.name, "likelihood": self.likelihood.name, "metric": self.metric,
                "fixed_values": dict(self.fixed_values), "items": self.items, "on_law": self.on_law,
                "law_covariates": list(self.law_covariates)}

    @classmethod
    def from_dict(cls, settings: Mapping) -> LinkTerm:
        return cls(get_link(settings["link"]), get_error_likelihood(settings["likelihood"]), settings["metric"],
                   dict(settings["fixed_values"]), settings["items"], bool(settings["on_law"]),
                   tuple(settings["law_covariates"]))

    # ------------------------------------------------------------ forecasts, per posterior draw

    def mean_error(self, draws: Mapping[str, np.ndarray], x) -> np.ndarray:
        """The link's mean error, (S, M), from S draws and inputs x on the link's scale
        (L [nats] or ln C) of shape (M,), (1, M) or (S, M)."""
        params = {k: jnp.asarray(v)[:, None] for k, v in draws.items() if k in self.link.param_names}
        return np.asarray(self.link.evaluate(params, jnp.asarray(x)), dtype=np.float64)

    def observed_error(self, draws: Mapping[str, np.ndarray], error: np.ndarray, seed: int) -> np.ndarray:
        """One observation per draw and target from the error likelihood around the mean error."""
        nuisance = {k: jnp.asarray(draws[k])[:, None] for k in self.likelihood.priors}
        distribution = self.likelihood.distribution(jnp.asarray(error), nuisance, self.items or 1.0)
        value = distribution.sample(jax.random.fold_in(jax.random.PRNGKey(seed), 1))
        return np.asarray(self.to_error(value), dtype=np.float64)


def error_runs(runs, link: Link, metric: str):
    """The runs a link is fitted to: the metric must exist and lie in [0, 1]; rows without the
    metric (NaN: not evaluated) are left out, and the rest renumbered."""
    check_error_column(runs, metric)
    evaluated = runs.frame[runs.frame[metric].notna()].reset_index(drop=True)
    return RunTable(evaluated, runs.source_columns, runs.metadata)


def make_link_term(link, likelihood, metric, fixed=None, items=None, **placement) -> LinkTerm:
    """A LinkTerm from names or objects (fixed values as floats)."""
    return LinkTerm(get_link(link), get_error_likelihood(likelihood), metric,
                    {name: float(v) for name, v in (fixed or {}).items()},
                    None if items is None else float(items), **placement)
