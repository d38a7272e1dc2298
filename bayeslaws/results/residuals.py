"""Residuals: how far each fitted run lies from the law, in percent and in units of the noise.

A Student-t likelihood lets a law pass by the runs it cannot describe by counting them as
outliers, and a new run's interval then carries the tails those runs ask for. The table says
which runs they are, so that one can see what they share (a regime: runs trained on fewer tokens
than parameters, runs repeated for hundreds of epochs) before choosing a column for
``bl.NoiseScale``, a term, another law, or leaving them out.

One row per fitted run, in the run table's order: the run's columns as fitted, then
- fitted: posterior median of the mean function (the law with its terms) [loss units];
- residual: log observed - log fitted (relative: 0.01 is 1 % above the law);
- noise_scale: the run's noise scale in log-loss units (posterior median of sigma, times a noise
  term's factor);
- z: residual / noise_scale:
  under a Normal likelihood |z| beyond 3 is rare; a Student-t with small nu passes by runs at
  |z| of 10 and more as outliers;
- pit: the share of the run's predictive draws below its observed value (in sample);
- covered: whether the run lies inside its ci_prob predictive interval (a new run's loss at its
  covariates, noise included).

Every Student-t fit whose nu falls below 1 (tails heavier than Cauchy's) warns with a
HeavyTailWarning that counts the runs far off the law: a new run's interval is then set by them.
Where one column parts those runs from the others (bayeslaws.results.regimes), the warning names
it and the noise term that would give them a noise of their own.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..data import RunTable, finite_quantiles
from . import forecast
from .regimes import Regime, shared_regime

HEAVY_TAIL_NU = 1.0  # Student-t nu below this (posterior median): tails heavier than Cauchy's
FAR_OFF_Z = 10.0  # a run this many noise scales off the law is one the tails are for


class HeavyTailWarning(UserWarning):
    """A Student-t fit with nu < 1: runs far off the law set the tails of every new run's interval."""


def warn_if_heavy_tails(fit) -> None:
    """HeavyTailWarning for a Student-t fit of final losses whose nu's posterior median is below 1,
    naming the regime the far-off runs share where one column separates them (regimes.py)."""
    if fit.likelihood != "student_t" or fit.law is None or fit.law.features is not None or "nu" not in fit.posterior:
        return  # (a nu fixed through priors= is not in the posterior)
    nu = float(np.median(fit.posterior["nu"].values))  # read alone: this runs after every fit
    if nu >= HEAVY_TAIL_NU:
        return
    table = residuals(fit)
    far = table["z"].abs().to_numpy() > FAR_OFF_Z
    warnings.warn(f"Student-t nu {nu:.2f} < 1: the noise's tails are heavier than Cauchy's, and {int(far.sum())} of "
                  f"{len(fit.runs)} runs lie more than {FAR_OFF_Z:g} noise scales off the law. A new run's 90 % interval "
                  "(loss_pred_*) carries those tails, at least 6.3 noise scales either side; loss_* is the law's "
                  f"band alone. {_regime_advice(shared_regime(table, far, fit.response))}",
                  HeavyTailWarning, stacklevel=4)


def _regime_advice(regime: Regime | None) -> str:
    """What to do about the far-off runs: where they share a regime, name it and the column a noise
    term needs; else point to fit.residuals()."""
    if regime is None:
        return ("fit.residuals() shows which runs: if they share a regime (e.g. fewer tokens than parameters), the "
                "law does not describe it, and its forecasts there are not to be trusted.")
    column = f"'{regime.column}'"
    add = (f" (add the column first: runs.assign({regime.column}=runs['D'] / runs['N']))" if regime.derived else "")
    return (f"They share a regime: {regime}. The law does not describe it, and its forecasts there are not to be "
            f"trusted. To keep those runs from widening every other forecast, give them a noise of their own, "
            f"terms=[bl.NoiseScale({column})]{add}, or leave them out; compare held-out scores (bl.backtest) before "
            "trusting either (fit.residuals() lists the runs).")


def residuals(fit, ci_prob: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """The residual table of a fit of final losses (see the module docstring)."""
    if fit.law.features is not None:
        raise ValueError(f"law '{fit.law.name}' fits whole training curves; residuals are for tables of final "
                         "losses (a curve's points are read with fit.predict_curve(run))")
    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must lie strictly between 0 and 1; got {ci_prob!r}")
    table = forecast.per_family(fit, fit.runs, lambda part, draws: _residuals(fit, part, draws, ci_prob, seed), seed)
    return table if "row" in fit.runs.frame else table.drop(columns="row", errors="ignore")  # per_family's own


def _residuals(fit, table: RunTable, draws: dict, ci_prob: float, seed: int) -> pd.DataFrame:
    log_loss, noise = forecast.mean_and_noise(fit, table, draws)
    observed = table.frame[fit.response].to_numpy(np.float64)
    fitted_log = np.median(log_loss, axis=0)
    residual = np.log(observed) - fitted_log
    scale = np.median(np.asarray(draws["sigma"], np.float64)[:, None] * noise, axis=0) * np.ones_like(residual)
    with np.errstate(over="ignore"):  # a Student-t tail draw beyond e^709 nats is inf (see finite_quantiles)
        predictive = np.exp(forecast.predictive_log_loss_draws(fit.spec.likelihood, draws, log_loss, seed, noise))
    low, high = finite_quantiles(predictive, [(1 - ci_prob) / 2, (1 + ci_prob) / 2])
    return table.frame.assign(
        fitted=np.exp(fitted_log),
        residual=residual, noise_scale=scale, z=residual / scale, pit=(predictive < observed).mean(axis=0),
        covered=(low <= observed) & (observed <= high),
    ).reset_index(drop=True)
