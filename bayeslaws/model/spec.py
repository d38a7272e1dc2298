"""ModelSpec: a model is a law, a likelihood and a list of terms.

The spec is the one description of a model that every stage reads: the pipeline validates run
tables with it, the builder turns it into a NumPyro model, the sampler keys its compiled
programs on it, forecasts evaluate it per posterior draw, and saved fits store it as JSON.
"""

from __future__ import annotations

import inspect
import json
import warnings
import weakref
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Mapping

import jax
import numpy as np
import numpyro.distributions as dist

from ..data import check_enough_runs, check_has_columns, check_positive_columns
from ..data.curves import LR_TABLE, lr_by_run
from ..laws import REGISTRY, Law
from ..links import LINKS
from . import arrays as model_arrays
from .build import RESPONSE_SITE, build
from .likelihoods import Likelihood
from .term import ObservedSite, Tables, Term


MIN_SPAN = 2.0  # a covariate spanning less than this factor cannot pin down an exponent on it
SCALE_COLUMNS = ("N", "D", "C", "unique_tokens")  # the scales a law extrapolates in


class IdentifiabilityWarning(UserWarning):
    """The runs cannot identify some of the law's parameters; the message names them."""


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """law: the scaling law (None for a model of terms alone, e.g. a link fitted to measured
    losses). likelihood: the observation model of log(response) around the law. terms: what the
    model adds (bayeslaws.model.term.Term), at most one of each kind. response: the column the law
    predicts ("loss" [nats] for loss laws)."""

    law: Law | None
    likelihood: Likelihood | None
    terms: tuple[Term, ...] = ()
    response: str = "loss"

    def __post_init__(self):
        object.__setattr__(self, "terms", tuple(t.for_law(self.law) for t in self.terms))
        kinds = [t.kind for t in self.terms]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"a model takes at most one term of each kind; got {kinds}")
        if (self.law is None) != (self.likelihood is None):
            raise ValueError("a law needs a likelihood, and a likelihood a law")
        noisy = [t.kind for t in self.terms if t.scales_noise]
        if noisy and (self.likelihood is None or self.likelihood.joint is not None
                      or "sigma" not in self.likelihood.priors):
            has = "there is no likelihood" if self.likelihood is None else f"the {self.likelihood.name} likelihood has none"
            raise ValueError(f"the {noisy[0]} term scales the likelihood's sigma run by run; {has} to scale "
                             "(use student_t, normal or huber)")
        if self.law is None and not any(t.observed_sites() for t in self.terms):
            raise ValueError("a model without a law needs a term that observes something (e.g. a link)")

    # ------------------------------------------------------------ parameters and priors

    def term(self, kind: str) -> Term | None:
        return next((t for t in self.terms if t.kind == kind), None)

    def _owners(self) -> list[tuple[str, dict]]:
        owners = []
        if self.law is not None:
            owners += [(f"law '{self.law.name}'", self.law.priors),
                       (f"the {self.likelihood.name} likelihood", self.likelihood.priors)]
        return owners + [(f"the {t.kind} term", t.priors) for t in self.terms]

    def default_priors(self) -> dict:
        """Parameter name -> zero-argument prior factory, over the law, likelihood and terms.
        Two parts naming the same parameter is an error (one would silently replace the other)."""
        merged, owner_of = {}, {}
        for owner, priors in self._owners():
            for name, make in priors.items():
                if name in merged:
                    raise ValueError(f"parameter '{name}' is named by both {owner_of[name]} and {owner}; "
                                     "rename one of them")
                merged[name], owner_of[name] = make, owner
        return merged

    def resolve_priors(self, overrides: Mapping | None = None) -> dict:
        """Default priors with the user's overrides by parameter name (NumPyro distributions)."""
        defaults = self.default_priors()
        unknown = set(overrides or {}) - set(defaults)
        if unknown:
            raise ValueError(f"priors given for unknown parameter(s) {sorted(unknown)}; {self.describe()} "
                             f"samples {list(defaults)}")
        not_distributions = sorted(k for k, v in (overrides or {}).items() if not isinstance(v, dist.Distribution))
        if not_distributions:
            raise ValueError(f"priors must be NumPyro distributions, e.g. numpyro.distributions.Normal(0.3, 0.1); "
                             f"not so for {not_distributions}")
        return {**{name: make() for name, make in defaults.items()}, **(overrides or {})}

    def parameter_names(self) -> list[str]:
        """Reported posterior variables: the law's, the likelihood's and each term's."""
        names = [] if self.law is None else list(self.law.param_names) + list(self.likelihood.priors)
        for term in self.terms:
            names += list(term.reported_names())
        return names

    def fixed(self) -> dict[str, float]:
        return {name: value for term in self.terms for name, value in term.fixed().items()}

    def describe(self) -> str:
        parts = [] if self.law is None else [f"law '{self.law.name}' with the {self.likelihood.name} likelihood"]
        return " and ".join(parts + [f"the {t.kind} term" for t in self.terms])

    # ------------------------------------------------------------ data

    def observed_sites(self) -> tuple[ObservedSite, ...]:
        main = () if self.law is None else (ObservedSite(RESPONSE_SITE, self.response, "runs", "run", np.exp),)
        return main + tuple(s for t in self.terms for s in t.observed_sites())

    def check(self, tables: Tables) -> None:
        """Every table has what the law and the terms read, and enough rows for their parameters."""
        if self.law is not None:
            needed = self.law.covariates + (self.response,)
            check_has_columns(tables["runs"], needed, f"law '{self.law.name}'")
            check_positive_columns(tables["runs"], needed)
            self._check_curves(tables)
            self._warn_if_unidentified(tables["runs"])
        for term in self.terms:
            term.check(tables)
        for table, (count, label) in self._parameters_per_table().items():
            check_enough_runs(tables[table], count, label)

    def _check_curves(self, tables: Tables) -> None:
        """A law of whole curves needs the learning rate of every step (bayeslaws.data.curves), and a
        likelihood of curves needs run_id and step."""
        if self.law.features is not None and LR_TABLE not in tables:
            raise ValueError(f"law '{self.law.name}' reads whole learning-rate schedules: fit a curve table "
                             "(run_id, step, loss and lr or schedule; bayeslaws.data.curves.curve_tables)")
        if self.likelihood.arrays is not None:
            check_has_columns(tables["runs"], ("run_id", "step"), f"the {self.likelihood.name} likelihood")

    def _warn_if_unidentified(self, runs) -> None:
        """Warn for each covariate of the law that spans less than a factor MIN_SPAN over the runs:
        the parameters of the law's dependence on it are then set by the priors, not the data."""
        for covariate in (c for c in self.law.covariates if c in SCALE_COLUMNS):
            values = runs.frame[covariate].to_numpy(np.float64)
            if values.max() >= MIN_SPAN * values.min():
                continue
            params = [p for name, (x, slope) in self.law.centring.items() if x == covariate
                      for p in (name, slope) if isinstance(p, str)]
            which = f"its parameters {params}" if params else f"the parameters of its {covariate} dependence"
            warnings.warn(
                f"column {covariate} spans only {values.min():.4g} to {values.max():.4g} (less than a factor of "
                f"{MIN_SPAN:g}): law '{self.law.name}' cannot learn {which} from these runs; forecasts at other "
                f"{covariate} follow the priors. Add runs at other {covariate}, or fit a law without it.",
                IdentifiabilityWarning, stacklevel=4)

    def _parameters_per_table(self) -> dict:
        counts = {}
        if self.law is not None:
            counts["runs"] = [len(self.law.param_names) + len(self.likelihood.priors), self.law.name]
        for term in self.terms:
            count, label = counts.setdefault(term.table, [0, term.kind])
            counts[term.table][0] = count + len(term.priors)
        return {table: tuple(value) for table, value in counts.items()}

    def arrays(self, tables: Tables, padded_size: int | None = None) -> dict:
        """The model's one argument: a dict of float32 arrays (see bayeslaws.model.build)."""
        runs = tables["runs"]
        size = padded_size or model_arrays.bucket_size(len(runs))
        data = {"terms": {t.kind: t.arrays(tables, size) for t in self.terms}, "observed": {}}
        if self.law is not None:
            if self.law.features is None:
                data["logx"], data["centre"] = model_arrays.log_columns(runs, self.law.covariates, size)
            else:
                features = self.law.features(runs.frame, lr_by_run(tables[LR_TABLE]))
                centred_on = [covariate for covariate, _ in self.law.centring.values()]
                data["logx"] = model_arrays.pad_features(features, size)
                data["centre"] = model_arrays.feature_centres(features, centred_on)
            structure = self.likelihood.arrays
            data["likelihood"] = {} if structure is None else structure(runs.frame, size)
            data["mask"] = model_arrays.mask(len(runs), size)
            data["observed"][RESPONSE_SITE] = model_arrays.pad(runs.log(self.response), size)
        for term in self.terms:
            data["observed"].update(term.observations(tables))
        return data

    def columns(self) -> dict[str, tuple[str, ...]]:
        """Per table, the columns the model reads (the DataTree's constant_data)."""
        out = {}
        if self.law is not None:
            out["runs"] = self.law.covariates
        for term in self.terms:
            out[term.table] = tuple(dict.fromkeys(out.get(term.table, ()) + term.columns()))
        return out

    # ------------------------------------------------------------ the model and its identity

    def model(self, priors: Mapping):
        """The NumPyro model for these priors (see bayeslaws.model.build)."""
        return build(self, priors)

    def functions(self) -> tuple:
        """The law and the law-like objects the terms evaluate (links)."""
        return ((self.law,) if self.law is not None else ()) + tuple(f for t in self.terms for f in t.functions())

    def registered(self) -> bool:
        """Whether every function is a registry object (then the program can be kept on disk)."""
        registries = {**REGISTRY, **LINKS}
        return all(registries.get(f.name) is f for f in self.functions())

    def identity(self, priors: Mapping) -> str:
        """Stable text naming the model: its description (to_dict) and its priors."""
        identities = {name: prior_identity(d) for name, d in sorted(priors.items())}
        return json.dumps({**self.to_dict(), "priors": identities}, sort_keys=True)

    def cache_key(self, priors: Mapping) -> tuple:
        """Key of the compiled program within a process: identity, plus the functions' identities
        (an unregistered law of the same name is another program)."""
        return (self.identity(priors), tuple(id(f) for f in self.functions()))

    def source_files(self) -> list[Path]:
        """The source files a compiled program of this model depends on (beside the sampler's):
        the model package, the terms' modules, and the modules of the law and links it evaluates."""
        files = set(Path(__file__).parent.glob("*.py"))
        files |= {_source_file(type(t)) for t in self.terms}
        for f in self.functions():
            files |= {_source_file(f.log_loss if isinstance(f, Law) else f.error), _source_file(type(f))}
        return sorted(files)

    def to_dict(self) -> dict:
        """JSON-able description: names of law and likelihood, response, terms (with their kind)."""
        return {
            "law": None if self.law is None else self.law.name,
            "likelihood": None if self.likelihood is None else self.likelihood.name,
            "response": self.response,
            "terms": [{"kind": t.kind, **t.to_dict()} for t in self.terms],
        }


def _source_file(obj) -> Path:
    """The file that defines a function, class or functools.partial."""
    while isinstance(obj, partial):
        obj = obj.func
    return Path(inspect.getsourcefile(obj))


def prior_text(d) -> str:
    """A prior as text for people, e.g. 'LogNormal(loc=0.5, scale=0.75)'."""
    args = {k: np.asarray(getattr(d, k)).tolist() for k in getattr(d, "arg_constraints", {}) if hasattr(d, k)}
    return f"{type(d).__name__}({', '.join(f'{k}={v}' for k, v in args.items())})"


def prior_identity(d) -> str:
    """A prior as complete, stable text: its class and every attribute, recursively (the
    distributions and transforms it wraps, their constraints and parameter values, its shapes).
    It keys the compiled programs, in this process and on disk, so two different priors never
    share one (prior_text, for people, omits what a wrapper such as TransformedDistribution
    holds). A transform's cached inverse is left out: NumPyro sets ``_inv`` (None at first) on
    first use, to a weak reference at a new address each time, and keying on it made every fit
    after the first of a batch (fit_many, backtests, SBC) trace and export its program again. Any other
    attribute without a stable description (e.g. a weak reference) gives a key that changes
    between processes: a recompilation, never a wrong program."""
    return _describe(d)


def _describe(value) -> str:
    if value is None or isinstance(value, (str, bool, int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(_describe(v) for v in value)}]"
    if isinstance(value, dict):
        return f"{{{', '.join(f'{k}: {_describe(v)}' for k, v in sorted(value.items()))}}}"
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return f"array({np.asarray(value).tolist()}, {np.asarray(value).dtype})"
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    attributes = getattr(value, "__dict__", None)
    cached_inverse = isinstance(value, dist.transforms.Transform) and attributes is not None and isinstance(
        attributes.get("_inv"), (weakref.ref, type(None)))
    if cached_inverse:  # a cache, left out; an inverse transform's _inv (what it inverts) is kept
        attributes = {k: v for k, v in attributes.items() if k != "_inv"}
    return kind + (repr(value) if attributes is None else _describe(attributes))


def priors_text(priors: Mapping) -> dict:
    """Parameter -> text of its prior, e.g. 'LogNormal(loc=0.5, scale=0.75)' (sorted by name)."""
    return {name: prior_text(d) for name, d in sorted(priors.items())}
