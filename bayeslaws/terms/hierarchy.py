"""Families: each group of runs (a model family, data mix, optimiser) gets its own law parameters,
drawn from a population (a hierarchical, or partially pooled, model).

For each varying parameter p of the law and each family g (non-centred):

    log p_g = log p + sd_p z_gp,   z_g ~ Normal(0, I)   (or z_g ~ Normal(0, R), R ~ LKJ(2))

on the log scale for positive parameters (prefactors, exponents: a family's value is its
population value times a factor), on the logit scale for parameters in (0, 1) (a benchmark's
chance level or error floor: a family's value stays a probability), additively for real ones.
p, the population value, keeps the law's prior; sd_p ~ HalfNormal(scale) [log units: 0.3 means
families typically differ by a factor of about 1.3]. With few runs per family the population pulls each family towards the
others; with many runs each family follows its own runs. ``groups=None`` (one pooled fit) and
``bl.fit_many`` over families (independent fits) are the two limits.

Offsets act on the sampler's centred coordinates (bayeslaws.model.parameters): a family's
prefactor A_g is set by its value at the runs' centre, log A_g - alpha_g mean(log N), so a family
with a steeper exponent keeps its loss there instead of swinging it by (alpha_g - alpha) mean(log N)
(which would tie every family's A to its alpha). Scales whose centring coefficient varies (A when
alpha varies) therefore vary by family too, and are reported per family.

Default varying parameters: every parameter of the law but the irreducible loss E (and, for a
benchmark's error, its chance level). Families that share a tokenizer and evaluation data share
the entropy floor of the text, and the guessing error of a benchmark; what differs between
architectures, data mixes and optimisers is how fast loss falls with N and D (prefactors and
exponents; the Hitchhiker's Guide's per-family A, alpha, B, beta). Give ``params=`` to choose.

Forecasts: a fitted family reads its own per-family draws; ``family=None`` is a family not yet
trained: per posterior draw, a new z from the population (the population predictive).

``pooling="none"`` is the no-pooling limit: each population sd is fixed at the scale of the
parameter's default prior (e.g. 0.5 for a LogNormal(log 0.3, 0.5) exponent) instead of learnt, so
a family's varying parameters follow its own runs under a prior as wide as the law's own (the
shared parameters are still shared). With groups=None, the complete-pooling
limit (one law for every run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from ..data import RunTableError
from ..data.runs import describe_rows
from ..laws.base import Law
from ..model.arrays import log_columns
from ..model.parameters import coefficient_value
from ..model.term import Tables, Term

POOLINGS = ("partial", "none")
NO_POOLING_SD = 1.0  # pooling="none", for a parameter whose default prior has no scale
# Properties of the evaluation, not of a family: the irreducible loss of the validation text, and
# a benchmark's chance level (the error of guessing). Shared by every family scored on it.
SHARED_BY_DEFAULT = ("E", "chance")
SD_SCALE = 0.3  # HalfNormal scale of each population sd [log units for positive parameters]
LKJ_CONCENTRATION = 2.0  # > 1: correlations near 0 unless the families say otherwise


@dataclass(frozen=True)
class Hierarchy(Term):
    """Per-family law parameters from a population distribution.

    column: the run-table column naming each run's family (any labels; read as text).
    params: the law parameters that vary by family (None: all but E and chance; resolved by for_law).
    correlated: an LKJ prior on the correlation of the families' offsets (e.g. A with alpha).
    scale: HalfNormal scale of the population sds [log units for positive parameters].
    pooling: "partial" (the sds are learnt) or "none" (each fixed at the scale of the parameter's
        default prior: families apart).
    """

    column: str = "family"
    params: tuple[str, ...] | None = None
    correlated: bool = False
    scale: float = SD_SCALE
    pooling: str = "partial"
    law: Law | None = field(default=None, compare=False, repr=False)

    kind = "hierarchy"

    def __post_init__(self):
        if isinstance(self.params, (list, tuple)):
            object.__setattr__(self, "params", tuple(self.params))
        if not float(self.scale) > 0:
            raise ValueError(f"hierarchy scale must be positive; got {self.scale!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}; got {self.pooling!r}")
        if self.pooling == "none" and self.correlated:
            raise ValueError("pooling='none' has no population to correlate: drop correlated=True")

    # ------------------------------------------------------------ settings

    def for_law(self, law) -> Hierarchy:
        """The term with its varying parameters resolved against the law."""
        if law is None or law.features is not None:
            raise ValueError("groups= needs a law of final losses (e.g. chinchilla), not a curve law or a link alone")
        params = self.params or tuple(p for p in law.param_names if p not in SHARED_BY_DEFAULT)
        unknown = [p for p in params if p not in law.param_names]
        if unknown or not params:
            raise ValueError(f"hierarchy params {list(params)}: law '{law.name}' has {list(law.param_names)}")
        return type(self)(self.column, params, bool(self.correlated), float(self.scale), self.pooling, law)

    @property
    def varying(self) -> tuple[str, ...]:
        """Parameters with a value per family: ``params`` and the scales centred on them."""
        extra = [s for s, (_, coefficient) in self.law.centring.items()
                 if s not in self.params and _moves_with(coefficient, self.params)]
        return tuple(self.params) + tuple(extra)

    @property
    def positive(self) -> tuple[str, ...]:
        """Varying parameters with positive support (offsets on the log scale)."""
        return tuple(p for p in self.params if self.law.priors[p]().support is dist.constraints.positive)

    @property
    def probabilities(self) -> tuple[str, ...]:
        """Varying parameters in (0, 1) (offsets on the logit scale)."""
        return tuple(p for p in self.params if self.law.priors[p]().support is dist.constraints.unit_interval)

    def sd_name(self, param: str) -> str:
        return f"{param}_{self.column}_sd"

    def value_name(self, param: str) -> str:
        return f"{param}_{self.column}"

    @property
    def corr_name(self) -> str:
        return f"{self.column}_corr"

    @property
    def priors(self) -> dict:
        if self.pooling == "none":
            return {}
        priors = {self.sd_name(p): (lambda: dist.HalfNormal(float(self.scale))) for p in self.params}
        if self.correlated and len(self.params) > 1:
            k = len(self.params)
            priors[f"{self.corr_name}_cholesky"] = lambda: dist.LKJCholesky(k, LKJ_CONCENTRATION)
        return priors

    def fixed(self) -> dict[str, float]:
        if self.pooling != "none":
            return {}
        return {self.sd_name(p): float(getattr(self.law.priors[p](), "scale", NO_POOLING_SD)) for p in self.params}

    def reported_names(self) -> tuple[str, ...]:
        names = () if self.pooling == "none" else tuple(self.sd_name(p) for p in self.params)
        if self.correlated and len(self.params) > 1:
            names += (self.corr_name,)
        return names + tuple(self.value_name(p) for p in self.varying)

    def to_dict(self) -> dict:
        return {"column": self.column, "params": None if self.params is None else list(self.params),
                "correlated": bool(self.correlated), "scale": float(self.scale), "pooling": self.pooling}

    def __str__(self) -> str:
        how = "no pooling" if self.pooling == "none" else "correlated" if self.correlated else "independent"
        return f"hierarchy by {self.column} on {', '.join(self.params or ())} ({how} offsets)"

    # ------------------------------------------------------------ the Term protocol

    def columns(self) -> tuple[str, ...]:
        return ()  # text labels: kept in the run table, not in constant_data (numbers only)

    def check(self, tables: Tables) -> None:
        frame = tables["runs"].frame
        if self.column not in frame:
            raise RunTableError(f"groups='{self.column}': the runs have no column '{self.column}' "
                                f"(columns: {list(frame.columns)})")
        missing = frame[self.column].isna().to_numpy()
        if missing.any():
            raise RunTableError(f"column '{self.column}' has no family for {describe_rows(frame, missing)}")
        if len(self.levels(tables)) < 2:
            raise RunTableError(f"column '{self.column}' names one family only; a hierarchy needs two or more "
                                "(fit without groups= for one family)")

    def levels(self, tables: Tables) -> np.ndarray:
        """The family labels, as text, in order of first appearance."""
        return np.asarray(list(dict.fromkeys(tables["runs"].frame[self.column].astype(str))))

    def coords(self, tables: Tables) -> dict:
        levels = self.levels(tables)
        out = {self.value_name(p): (self.column, levels) for p in self.varying}
        if self.correlated and len(self.params) > 1:
            pairs = [f"{a}:{b}" for i, a in enumerate(self.params) for b in self.params[i + 1:]]
            out[self.corr_name] = (f"{self.column}_pair", np.asarray(pairs))
        return out

    def arrays(self, tables: Tables, size: int) -> dict:
        """Each run's family index (int32, padded with the first run's) and a (G,) placeholder
        whose shape carries the number of families into the compiled program."""
        levels = self.levels(tables)
        index = _position(levels, tables["runs"].frame[self.column].astype(str).to_numpy())
        padded = np.full(size, index[0], dtype=np.int32)
        padded[: len(index)] = index
        return {"index": padded, "levels": np.zeros(len(levels), np.float32)}

    def parameters(self, params, priors, arrays, data):
        n_levels, k = arrays["levels"].shape[0], len(self.params)
        if self.pooling == "none":
            sds = jnp.asarray([self.fixed()[self.sd_name(p)] for p in self.params])
        else:
            sds = jnp.stack([numpyro.sample(self.sd_name(p), priors[self.sd_name(p)]) for p in self.params])
        z = numpyro.sample(f"{self.column}_z", dist.Normal(0.0, 1.0).expand([n_levels, k]).to_event(2))
        if self.correlated and k > 1:
            cholesky = numpyro.sample(f"{self.corr_name}_cholesky", priors[f"{self.corr_name}_cholesky"])
            numpyro.deterministic(self.corr_name, _upper(cholesky @ cholesky.T))
            z = z @ cholesky.T
        values = family_parameters(self, params, z * sds, data["centre"], jnp)
        for name in self.varying:
            numpyro.deterministic(self.value_name(name), values[name])
        at_runs = {name: value[arrays["index"]] for name, value in values.items()}
        return {**params, **at_runs}

    def bind(self, tables: Tables) -> FittedHierarchy:
        _, centre = log_columns(tables["runs"], self.law.covariates, len(tables["runs"]))
        return FittedHierarchy(self, self.levels(tables), {k: float(v) for k, v in centre.items()})


@dataclass(frozen=True, eq=False)
class FittedHierarchy:
    """A Hierarchy with its fitted families' labels and the runs' centres (mean log covariates,
    as the sampler used them), which turns posterior draws into one family's law draws."""

    term: Hierarchy
    levels: np.ndarray
    centre: Mapping[str, float]

    def forecast(self, log_loss, draws, targets):
        return log_loss  # the family enters through the law's parameters (law_draws), not here

    def law_draws(self, draws: Mapping[str, np.ndarray], family: str | None, seed: int = 0) -> dict:
        """Posterior draws with the law's varying parameters replaced by one family's: a fitted
        family's own draws, or (family=None) a new family's, drawn from the population per draw."""
        term = self.term
        if family is not None:
            position = self.position(family)
            return {**draws, **{p: draws[term.value_name(p)][:, position] for p in term.varying}}
        n_draws, k = len(draws[term.params[0]]), len(term.params)
        z = np.random.default_rng(seed).standard_normal((n_draws, k))
        if term.correlated and k > 1:
            z = np.einsum("sij,sj->si", np.linalg.cholesky(_full(draws[term.corr_name], k)), z)
        sds = np.stack([draws[term.sd_name(p)] for p in term.params], axis=1)
        population = {p: np.asarray(v)[:, None] for p, v in draws.items() if p in term.law.param_names}
        population.update({f"log_{p}": np.log(v) for p, v in population.items() if p in term.positive
                           or p in term.law.centring})
        values = family_parameters(term, population, (z * sds)[:, None, :], self.centre, np)
        return {**draws, **{p: np.asarray(v)[:, 0] for p, v in values.items()}}

    def position(self, family) -> int:
        matches = np.flatnonzero(self.levels == str(family))
        if not len(matches):
            raise ValueError(f"no family {family!r} in this fit's column '{self.term.column}'; its families: "
                             f"{self.levels.tolist()} (family=None forecasts a new family from the population)")
        return int(matches[0])


def family_parameters(term: Hierarchy, params: Mapping, offsets, centre: Mapping, xp) -> dict:
    """Each family's values of the varying parameters (original units; with log_<p> for positive
    ones; probabilities offset on the logit scale) from the population's ``params`` and the
    offsets (..., G, K) in ``term.params`` order.
    xp: jax.numpy in the model, numpy in forecasts. A scale centred on a varying coefficient moves
    by (coefficient_g - coefficient) * centre, so its value at the runs' centre is what varies."""
    out = {}
    for k, name in enumerate(term.params):
        if name in term.positive:
            out[f"log_{name}"] = params[f"log_{name}"] + offsets[..., k]
            out[name] = xp.exp(out[f"log_{name}"])
        elif name in term.probabilities:
            logit = xp.log(params[name]) - xp.log1p(-params[name]) + offsets[..., k]
            out[name] = 1.0 / (1.0 + xp.exp(-logit))
        else:
            out[name] = params[name] + offsets[..., k]
    family = {**params, **out}
    for scale, (covariate, coefficient) in term.law.centring.items():
        if scale not in term.varying:
            continue
        shift = (coefficient_value(coefficient, family) - coefficient_value(coefficient, params)) * centre[covariate]
        out[f"log_{scale}"] = out.get(f"log_{scale}", params[f"log_{scale}"]) + shift
        out[scale] = xp.exp(out[f"log_{scale}"])
    return out


def _moves_with(coefficient, varying) -> bool:
    """Whether a centring coefficient changes when the varying parameters do."""
    if isinstance(coefficient, str):
        return coefficient in varying
    return callable(coefficient)


def _position(levels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    lookup = {label: i for i, label in enumerate(levels)}
    return np.asarray([lookup[label] for label in labels], dtype=np.int32)


def _upper(matrix):
    """The entries above the diagonal of a (..., K, K) matrix, row by row."""
    rows, cols = np.triu_indices(matrix.shape[-1], 1)
    return matrix[..., rows, cols]


def _full(upper: np.ndarray, k: int) -> np.ndarray:
    """(S, K, K) correlation matrices from their entries above the diagonal (S, K(K-1)/2)."""
    out = np.tile(np.eye(k), (len(upper), 1, 1))
    rows, cols = np.triu_indices(k, 1)
    out[:, rows, cols] = upper
    out[:, cols, rows] = upper
    return out
