"""Noise that grows (or shrinks) with a run-table column: a heteroscedastic likelihood.

    sigma_run = sigma * exp(noise_slope * z_run),   z = (log column - mean) / sd over the fitted runs.

Why: a law fits some runs much worse than others, and a constant sigma makes every forecast as
uncertain as the worst runs. Datablations is the case in point: runs repeated for hundreds of
epochs are where every law is wrong (the published data-constrained law explains R^2 0.79 of the
runs of at most 44 epochs and 0.45 of all: its PROVENANCE.md), and with one sigma a Student-t
likelihood puts all runs' 90 % intervals at about half the loss wide. With ``NoiseScale("epochs")`` the runs of few epochs get
the narrow intervals they earn and the many-epoch ones the wide ones they need (README,
Extrapolation, *Noise that grows with a column*). Other uses: seed noise that shrinks with N
(``NoiseScale("N")``).

column: a positive run-table column; the targets of a forecast must give it too (e.g.
    ``fit.predict(N=..., D=..., epochs=...)``).
slope_sd: sd of the Normal(0, slope_sd) prior on ``noise_slope`` [log sigma per sd of the log
    column]: 1 lets sigma change e-fold per sd of the column either way, and a zero slope is the
    constant-sigma model.

As with the discrepancy term, the standardisation comes from the fitted runs (recomputed from the
fit's tables at forecast time), so it is data, not part of the compiled program's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd

from ..data import RunTableError
from ..model.term import Tables, Term

SLOPE = "noise_slope"


@dataclass(frozen=True)
class NoiseScale(Term):
    """The likelihood's sigma times exp(noise_slope * standardised log column), run by run."""

    column: str = "epochs"
    slope_sd: float = 1.0

    kind = "noise_scale"
    scales_noise = True

    def __post_init__(self):
        if not isinstance(self.column, str) or not self.column:
            raise ValueError(f"NoiseScale needs a column name; got {self.column!r}")
        if not float(self.slope_sd) > 0:
            raise ValueError(f"NoiseScale slope_sd must be positive; got {self.slope_sd!r}")

    @property
    def priors(self) -> dict:
        return {SLOPE: lambda: dist.Normal(0.0, float(self.slope_sd))}

    def to_dict(self) -> dict:
        return {"column": self.column, "slope_sd": float(self.slope_sd)}

    def __str__(self) -> str:
        return f"noise scale on log {self.column}"

    def for_law(self, law) -> NoiseScale:
        if law is not None and law.features is not None:
            raise ValueError(f"law '{law.name}' fits whole training curves, whose likelihoods model the noise along "
                             "each curve; NoiseScale is for tables of final losses")
        return self

    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def target_names(self) -> tuple[str, ...]:
        return (self.column,)

    def check(self, tables: Tables) -> None:
        frame = tables["runs"].frame
        values = column_values(self.column, frame, "runs")
        bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
        if len(bad):
            raise RunTableError(f"column '{self.column}' must be positive and finite for NoiseScale; "
                                f"rows {bad[:10].tolist()} are not")
        if np.ptp(np.log(values)) < 1e-6:
            raise RunTableError(f"column '{self.column}' is {values[0]:.4g} at every run: a noise scale on it "
                                "is the constant sigma")

    def arrays(self, tables: Tables, size: int) -> dict:
        """z at the fitted runs, padded with zeros to ``size`` (float32)."""
        z = self.standardised(tables["runs"].frame, tables)
        return {"z": np.concatenate([z, np.zeros(size - len(z))]).astype(np.float32)}

    def noise(self, nuisance, priors, arrays):
        slope = numpyro.sample(SLOPE, priors[SLOPE])
        return {**nuisance, "sigma": nuisance["sigma"] * jnp.exp(slope * arrays["z"])}

    def forecast_noise(self, draws: Mapping[str, np.ndarray], targets: pd.DataFrame, tables: Tables | None):
        if tables is None:
            raise ValueError("NoiseScale standardises its column over the fitted runs: pass the fit's tables "
                             "(Fit.predict does)")
        z = self.standardised(targets, tables, where="targets")
        return np.exp(np.asarray(draws[SLOPE], np.float64)[:, None] * z[None, :])

    def standardised(self, frame: pd.DataFrame, tables: Tables, where: str = "runs") -> np.ndarray:
        """(log column - mean) / sd over the fitted runs, at the rows of ``frame`` (float64)."""
        fitted = np.log(column_values(self.column, tables["runs"].frame, "runs"))
        values = column_values(self.column, frame, where)
        if np.any(~(np.isfinite(values) & (values > 0))):
            raise ValueError(f"the {where}' {self.column} must be positive and finite (NoiseScale)")
        return (np.log(values) - fitted.mean()) / fitted.std()


def column_values(column: str, frame: pd.DataFrame, where: str) -> np.ndarray:
    """The column as float64; an error naming it where it is missing."""
    if column in frame:
        return frame[column].to_numpy(np.float64)
    hint = " (epochs = D / unique_tokens)" if column == "epochs" else ""
    error = RunTableError if where == "runs" else ValueError
    raise error(f"this model's noise scales with '{column}': the {where} need a '{column}' column{hint}")
