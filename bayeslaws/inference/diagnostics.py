"""Convergence checks on every fit: R-hat, bulk ESS, divergences, tree-depth saturation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats import summary as arviz_summary  # ArviZ's summary without its plotting package (import time)

from ..data import quantile_name

R_HAT_MAX = 1.01
ESS_BULK_MIN = 400


class ConvergenceWarning(UserWarning):
    """The sampler may not have explored the posterior; the message says what to try."""


def parameter_table(tree: xr.DataTree, names: list[str], ci_prob: float = 0.9) -> pd.DataFrame:
    """Posterior mean, median, sd, equal-tailed interval, R-hat and ESS per parameter
    (az.summary's numbers, unrounded, with the median added and the interval named q05/q95)."""
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    # az.summary's mcse_sd raises float32 draws to the 4th power, which overflows for parameters
    # like Kaplan's N_c ~ 1e13; that column is not reported, so its warnings are silenced.
    with np.errstate(over="ignore", invalid="ignore"):
        table = arviz_summary(tree, var_names=names, ci_prob=ci_prob, ci_kind="eti", round_to="none")
    bounds = [c for c in table.columns if c.endswith("_lb") or c.endswith("_ub")]
    table = table.rename(columns=dict(zip(bounds, (quantile_name(lo), quantile_name(hi)))))
    medians = {}  # by ArviZ's row label: the name, or name[label, ...] for each element of a vector site
    for name in names:
        variable = tree["posterior"][name]
        values = variable.values
        per_element = np.median(values.reshape((-1,) + values.shape[2:]), axis=0)
        labels = [variable[dim].values for dim in variable.dims[2:]]
        medians.update({_label(name, index, labels): float(per_element[index]) for index in np.ndindex(per_element.shape)})
    table.insert(1, "median", pd.Series(medians))
    columns = ["mean", "median", "sd", quantile_name(lo), quantile_name(hi), "r_hat", "ess_bulk", "ess_tail"]
    return table.loc[list(medians), columns].astype(np.float64)


def _label(name: str, index: tuple, labels: list) -> str:
    """ArviZ's row label of one element: name[coordinate labels] (name alone for a scalar)."""
    return name if not index else f"{name}[{', '.join(str(axis[i]) for axis, i in zip(labels, index))}]"


def summarise(tree: xr.DataTree, names: list[str], max_tree_depth: int) -> dict:
    """Divergences, max R-hat, min bulk ESS and the share of draws that hit the tree-depth limit."""
    table = parameter_table(tree, names)
    stats = tree["sample_stats"]
    return {
        "divergences": int(stats["diverging"].values.sum()),
        "max_r_hat": float(table["r_hat"].max()),
        "min_ess_bulk": float(table["ess_bulk"].min()),
        "tree_depth_saturation": float((stats["tree_depth"].values >= max_tree_depth).mean()),
    }


def warn_if_unconverged(diagnostics: dict) -> list[str]:
    """Warn (ConvergenceWarning) for each problem found; returns the messages."""
    problems = []
    if diagnostics["divergences"] > 0:
        problems.append(
            f"{diagnostics['divergences']} divergent transitions: the posterior has regions the "
            "sampler cannot follow. Try target_accept=0.95, tighter priors, or check for runs the "
            "law cannot describe (diverged runs, a different regime)."
        )
    if diagnostics["max_r_hat"] > R_HAT_MAX:
        problems.append(
            f"max R-hat {diagnostics['max_r_hat']:.3f} > {R_HAT_MAX}: chains disagree. Run more "
            "warmup and draws, or check for several modes (a parameter the data cannot pin down)."
        )
    if diagnostics["min_ess_bulk"] < ESS_BULK_MIN:
        problems.append(
            f"min bulk ESS {diagnostics['min_ess_bulk']:.0f} < {ESS_BULK_MIN}: intervals are "
            "imprecise. Run more draws or chains."
        )
    if diagnostics["tree_depth_saturation"] > 0.01:
        problems.append(
            f"{diagnostics['tree_depth_saturation']:.1%} of draws hit the maximum tree depth: the "
            "posterior is badly scaled. Raise max_tree_depth or use priors that pin the scale down."
        )
    for message in problems:
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return problems


def bulk_diagnostics(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat (max of bulk and folded) and bulk ESS (Vehtari et al. 2021)
    on plain arrays, as ArviZ computes them (checked in the tests).

    draws: (..., chains, draws). Returns two arrays of shape (...). Kept beside ArviZ's because
    fit_many checks hundreds of fits at once: vectorised over fits and parameters, this is one
    NumPy call where az.rhat / az.ess would build a DataTree per fit. The R-hat and ESS of the
    rank-normalised split chains are NumPyro's.
    """
    from numpyro.diagnostics import effective_sample_size, gelman_rubin

    lead = draws.shape[:-2]
    median = np.median(draws.reshape(lead + (-1,)), axis=-1)[..., None, None]
    bulk = _split_chains(_rank_normalise(draws))
    folded = _split_chains(_rank_normalise(np.abs(draws - median)))
    r_hat = np.maximum(gelman_rubin(bulk), gelman_rubin(folded)).reshape(lead)
    ess = np.asarray(effective_sample_size(bulk)).reshape(lead)
    return r_hat, ess


def _rank_normalise(draws: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri
    from scipy.stats import rankdata

    lead, (chains, n) = draws.shape[:-2], draws.shape[-2:]
    ranks = rankdata(draws.reshape(lead + (chains * n,)), axis=-1, method="average")
    return ndtri((ranks - 0.375) / (chains * n + 0.25)).reshape(draws.shape)


def _split_chains(draws: np.ndarray) -> np.ndarray:
    """(..., chains, n) -> (2 chains, n // 2, k): numpyro's (chains, draws, ...) layout, flattened."""
    chains, n = draws.shape[-2:]
    flat = np.moveaxis(draws.reshape((-1, chains, n)), 0, -1)
    half = n // 2
    return np.concatenate([flat[:, :half], flat[:, n - half :]], axis=0)
