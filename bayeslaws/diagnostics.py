"""Convergence checks on every fit: R-hat, bulk ESS, divergences, tree-depth saturation."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

R_HAT_MAX = 1.01
ESS_BULK_MIN = 400


class ConvergenceWarning(UserWarning):
    """The sampler may not have explored the posterior; the message says what to try."""


def parameter_table(tree: xr.DataTree, names: list[str], ci_prob: float = 0.9) -> pd.DataFrame:
    """Posterior mean, median, sd, equal-tailed interval, R-hat and ESS per parameter."""
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    r_hat = az.rhat(tree, var_names=names)
    ess_bulk = az.ess(tree, var_names=names, method="bulk")
    ess_tail = az.ess(tree, var_names=names, method="tail")
    rows = {}
    for name in names:
        draws = tree["posterior"][name].values.astype(np.float64).ravel()
        rows[name] = {
            "mean": draws.mean(),
            "median": np.median(draws),
            "sd": draws.std(ddof=1),
            quantile_name(lo): np.quantile(draws, lo),
            quantile_name(hi): np.quantile(draws, hi),
            "r_hat": float(r_hat[name]),
            "ess_bulk": float(ess_bulk[name]),
            "ess_tail": float(ess_tail[name]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def quantile_name(q: float) -> str:
    """Column name of a quantile: 0.05 -> 'q05', 0.95 -> 'q95', 0.025 -> 'q2.5'."""
    pct = round(q * 100, 6)
    return f"q{int(pct):02d}" if pct == int(pct) else f"q{pct:g}"


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

    draws: (..., chains, draws). Returns two arrays of shape (...). Vectorised, for many fits.
    """
    from numpyro.diagnostics import effective_sample_size

    lead = draws.shape[:-2]
    median = np.median(draws.reshape(lead + (-1,)), axis=-1)[..., None, None]
    bulk = _split_chains(_rank_normalise(draws))
    folded = _split_chains(_rank_normalise(np.abs(draws - median)))
    r_hat = np.maximum(_rhat(bulk), _rhat(folded)).reshape(lead)
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


def _rhat(split: np.ndarray) -> np.ndarray:
    """Gelman-Rubin R-hat of (chains, draws, k) arrays whose chains are already split."""
    n = split.shape[1]
    chain_means = split.mean(axis=1)
    within = split.var(axis=1, ddof=1).mean(axis=0)
    between = n * chain_means.var(axis=0, ddof=1)
    return np.sqrt(((n - 1) / n * within + between / n) / within)
