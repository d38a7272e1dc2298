"""The Term protocol: one piece a model adds to a law.

A model is a law, a likelihood and a list of terms (bayeslaws.model.spec.ModelSpec). The builder
(bayeslaws.model.build) knows no term by name: it asks each term, through the methods below, what
it adds. A term may

- change the law's parameters: ``parameters`` takes the law's sampled parameters and returns
  their values at each run (a hierarchy gives each family its own);
- change the law's location: ``location`` takes the law's log loss at the runs and returns the
  new one (a hyperparameter penalty, a known offset, a discrepancy process), sampling its own
  parameters as NumPyro sites;
- scale the noise: ``noise`` takes the likelihood's nuisance parameters and returns them with
  sigma scaled at each run (a noise that grows with epochs), and ``forecast_noise`` returns the
  factor at new targets;
- observe something else: ``observe`` adds observed sites of its own (a downstream-error link
  observes error runs, reading the law's loss there or a measured input);
- bring arrays: ``arrays`` returns the float32 arrays it needs from the run tables (padded to the
  fit's size where it reads the fitted runs), ``observations`` the values its own sites observe;
- forecast: ``forecast`` does to a predicted log loss at new covariates what ``location`` does
  at the runs, and ``target_names`` lists the covariates it reads there (e.g. lr).

Adding a term is one file in bayeslaws/terms/ with a subclass of Term and one line in the term
registry (bayeslaws.terms.TERMS), which saved fits use to rebuild it from ``to_dict``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, ClassVar, Mapping

import numpy as np

from ..data import RunTable

Tables = Mapping[str, RunTable]  # "runs": the fitted runs; other names: tables of a term's own


@dataclass(frozen=True)
class ObservedSite:
    """An observed NumPyro site and where it lives in the DataTree.

    site: the NumPyro site name. variable: its name in the DataTree groups (a run-table column).
    table: the run table whose rows it observes. dim: the DataTree dimension of those rows.
    to_column: maps a predictive draw of the site to the column's units (e.g. exp for log loss).
    """

    site: str
    variable: str
    table: str
    dim: str
    to_column: Callable[[np.ndarray], np.ndarray]


class Term:
    """Base class of model terms: every method adds nothing until a subclass overrides it."""

    kind: ClassVar[str] = ""  # registry name; a model has at most one term of each kind
    scales_noise: ClassVar[bool] = False  # overrides noise/forecast_noise (needs a likelihood with sigma)
    table: str = "runs"  # the run table the term's parameters are learnt from

    @property
    def priors(self) -> dict[str, Callable]:
        """Parameter name -> zero-argument function returning its default prior (original units)."""
        return {}

    def reported_names(self) -> tuple[str, ...]:
        """Posterior variables to report: its sampled parameters and deterministic sites."""
        return tuple(self.priors)

    def fixed(self) -> dict[str, float]:
        """Parameters held at known values (reported beside the draws, not sampled)."""
        return {}

    def columns(self) -> tuple[str, ...]:
        """Columns of its table that it reads (stored as constant_data)."""
        return ()

    def check(self, tables: Tables) -> None:
        """Raise a RunTableError naming the column and rows if the tables cannot be used."""

    def arrays(self, tables: Tables, size: int) -> dict:
        """float32 arrays for the model; ``size`` is the padded length of the fitted runs."""
        return {}

    def observations(self, tables: Tables) -> dict[str, np.ndarray]:
        """Observed values of its own sites (site -> padded array)."""
        return {}

    def observed_sites(self) -> tuple[ObservedSite, ...]:
        return ()

    def parameters(self, params: dict, priors: Mapping, arrays: dict, data: dict) -> dict:
        """The law's parameters at the fitted runs (scalars, or arrays over the padded runs);
        NumPyro sites may be sampled here. ``data["centre"]`` holds the law's centres."""
        return params

    def coords(self, tables: Tables) -> dict[str, tuple[str, np.ndarray]]:
        """Reported vector variables -> (their DataTree dimension, its labels), e.g. per family."""
        return {}

    def location(self, log_loss, priors: Mapping, arrays: dict, data: dict):
        """The new log-loss location at the fitted runs (NumPyro sites may be sampled here)."""
        return log_loss

    def noise(self, nuisance: dict, priors: Mapping, arrays: dict) -> dict:
        """The likelihood's nuisance parameters at the fitted runs (sigma may become an array over
        the padded runs; NumPyro sites may be sampled here)."""
        return nuisance

    def forecast_noise(self, draws: Mapping[str, np.ndarray], targets, tables: Tables | None):
        """Per-draw factor on the likelihood's sigma at new targets, (S, M) or 1.0. tables: the
        fitted run tables (a factor standardised over the fitted runs needs them)."""
        return 1.0

    def observe(self, law_log_loss: Callable | None, priors: Mapping, arrays: dict, observed: Mapping) -> None:
        """Extra observed sites. law_log_loss maps log covariates to the law's log loss (None
        without a law); observed holds the observations by site (empty when predicting)."""

    def target_names(self) -> tuple[str, ...]:
        """Covariates a forecast target may give for this term (besides the law's)."""
        return ()

    def forecast(self, log_loss: np.ndarray, draws: Mapping[str, np.ndarray], targets) -> np.ndarray:
        """Per-draw log loss (S, M) at new targets (a frame), after this term."""
        return log_loss

    def for_law(self, law) -> Term:
        """The term as used with this law (ModelSpec applies it), e.g. with a default covariate
        resolved against the law's; what to_dict then stores."""
        return self

    def bind(self, tables: Tables):
        """The term as it forecasts for a fit to these tables (an object with ``forecast``):
        constants of the fitted runs (e.g. a standardisation) without putting them in key()."""
        return self

    def to_dict(self) -> dict:
        """JSON-able settings from which the registry rebuilds the term (see from_dict)."""
        return {}

    @classmethod
    def from_dict(cls, settings: Mapping) -> Term:
        return cls(**settings)

    def key(self) -> str:
        """Stable text naming the term (compiled-program caches)."""
        return json.dumps({"kind": self.kind, **self.to_dict()}, sort_keys=True)

    def functions(self) -> tuple:
        """Law-like objects it evaluates (links): the compiled-program cache keys on them."""
        return ()
