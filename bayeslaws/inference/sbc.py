"""Simulation-based calibration (Talts et al. 2018): is the posterior honest?

Draw parameters from the prior, simulate a zoo from the model with them (the same generative
model the fit uses), fit it, and record where the truth falls in its posterior. For a calibrated
method the ranks are uniform and a 90% interval holds the truth 90% of the time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd
from numpyro.infer import Predictive

from ..data import load_runs
from ..laws import Law, get_law
from ..model import ModelSpec, get_likelihood
from ..synthetic import simulate
from .many import ManyFits, fit_many


@dataclass
class SBCResult:
    """ranks: one row per (simulation, parameter) with the truth's rank fraction in [0, 1];
    coverage: per parameter, the share of 50% and 90% central intervals holding the truth."""

    ranks: pd.DataFrame
    coverage: pd.DataFrame
    fits: ManyFits
    discarded: int

    def rank_histogram_pvalues(self, bins: int = 10) -> pd.Series:
        """Chi-square p-value of the rank histogram against uniform, per parameter."""
        from scipy.stats import chisquare

        return self.ranks.groupby("parameter")["rank"].apply(
            lambda r: chisquare(np.histogram(r, bins=bins, range=(0, 1))[0]).pvalue)


def prior_zoos(law: Law, design: pd.DataFrame, n: int, likelihood: str = "student_t", priors=None, seed: int = 0):
    """n zoos on the design's covariates, each from one prior draw of all parameters.

    Returns (list of run frames, frame of the true parameters, number discarded because the
    simulated loss was not finite)."""
    spec = ModelSpec(law, get_likelihood(likelihood), response=law.response)
    model = spec.model(spec.resolve_priors(priors))
    table = load_runs(design.assign(**{law.response: 1.0}), required=())
    data = {**spec.arrays({"runs": table}, padded_size=len(table)), "observed": {}}
    sites = spec.parameter_names() + ["log_loss"]
    draws = Predictive(model, num_samples=n, return_sites=sites)(jax.random.PRNGKey(seed), data)
    log_loss = np.asarray(draws["log_loss"], dtype=np.float64)
    finite = np.all(np.isfinite(log_loss) & (np.abs(log_loss) < 50), axis=1)
    zoos = [design.assign(**{law.response: np.exp(row)}) for row in log_loss[finite]]
    truth = pd.DataFrame({k: np.asarray(draws[k], dtype=np.float64)[finite] for k in sites[:-1]})
    return zoos, truth, int((~finite).sum())


def sbc(
    law: str | Law = "chinchilla",
    n: int = 100,
    *,
    likelihood: str = "student_t",
    priors=None,
    n_budgets: int = 8,
    runs_per_budget: int = 30,
    seed: int = 0,
    executor=None,
    **fit_options,
) -> SBCResult:
    """Simulation-based calibration of ``law`` on an isoFLOP design of n_budgets x runs_per_budget
    runs (bayeslaws.simulate's design), over n prior draws, fitted with fit_many. Its fits start
    with fit_many's robust scheme (``start="robust"``; override in fit_options): prior draws make
    odd zoos (a loss that is nearly all E, tails of nu near 1) on which the Laplace-start fast path
    failed its checks in 16 of 16 fits of the test's design and was then refitted robustly anyway."""
    law = get_law(law)
    design = simulate(law, n_budgets=n_budgets, runs_per_budget=runs_per_budget).runs[list(law.covariates)]
    zoos, truth, discarded = prior_zoos(law, design, n, likelihood, priors, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # prior draws make odd-looking zoos on purpose
        tables = [load_runs(z, required=()) for z in zoos]
    fit_options = {"start": "robust", **fit_options}
    fits = fit_many(tables, law, likelihood=likelihood, priors=priors, seed=seed, executor=executor, **fit_options)
    ranks, coverage = _ranks_and_coverage(fits, truth)
    return SBCResult(ranks, coverage, fits, discarded)


def _ranks_and_coverage(fits: ManyFits, truth: pd.DataFrame):
    rows = []
    for name in fits.parameter_names:
        samples = fits.draws[name].reshape(len(fits), -1).astype(np.float64)
        true = truth[name].to_numpy()[:, None]
        rank = (samples < true).mean(axis=1)
        rows.append(pd.DataFrame({"simulation": np.arange(len(fits)), "parameter": name, "rank": rank,
                                  "truth": true[:, 0]}))
    ranks = pd.concat(rows, ignore_index=True)
    return ranks, interval_coverage(ranks)


def interval_coverage(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per parameter, the share of simulations whose central 50% and 90% intervals hold the truth."""
    inside = lambda r, level: (r >= (1 - level) / 2) & (r <= (1 + level) / 2)  # noqa: E731
    return ranks.groupby("parameter", sort=False)["rank"].agg(
        coverage_50=lambda r: inside(r, 0.5).mean(), coverage_90=lambda r: inside(r, 0.9).mean())
