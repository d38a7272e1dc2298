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
