"""Convergence checks on every fit: R-hat, bulk ESS, divergences, tree-depth saturation; where
chains disagree, which parameters disagree most and which chains sit apart in log density."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from ..data import quantile_name

R_HAT_MAX = 1.01
ESS_BULK_MIN = 400
WORST_SHOWN = 3  # parameters named when chains disagree
APART_SDS = 2.0  # a chain is apart when its mean log density is this many within-chain sds from the chains' median


class ConvergenceWarning(UserWarning):
    """The sampler may not have explored the posterior; the message says what to try."""


def parameter_table(tree: xr.DataTree, names: list[str], ci_prob: float = 0.9) -> pd.DataFrame:
    """Posterior mean, median, sd, equal-tailed interval, R-hat, bulk and tail ESS per parameter:
    az.summary's numbers (unrounded; tests/test_fit.py checks them against ArviZ), with the
    median added and the interval named q05/q95. Rows are ArviZ's labels: the name, or
    name[label, ...] for each element of a vector site.

    Computed here, vectorised over every parameter at once, rather than by arviz_stats.summary:
    importing that (and SciPy's statistics) cost a new process 0.7 s, more than the summary."""
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    labels, columns = [], []
    for name in names:
        variable = tree["posterior"][name]
        values = np.asarray(variable.values, np.float64)
        coordinates = [variable[dim].values for dim in variable.dims[2:]]
        for index in np.ndindex(values.shape[2:]):
            labels.append(_label(name, index, coordinates))
            columns.append(values[(slice(None), slice(None)) + index])
    draws = np.stack(columns)  # (parameters, chains, draws)
    flat = draws.reshape(len(draws), -1)
    quantiles = np.quantile(flat, [lo, 0.5, hi], axis=1)
    r_hat, ess_bulk = bulk_diagnostics(draws)
    return pd.DataFrame({
        "mean": flat.mean(axis=1), "median": quantiles[1], "sd": flat.std(axis=1, ddof=1),
        quantile_name(lo): quantiles[0], quantile_name(hi): quantiles[2],
        "r_hat": r_hat, "ess_bulk": ess_bulk, "ess_tail": tail_ess(draws),
    }, index=labels)


def _label(name: str, index: tuple, labels: list) -> str:
    """ArviZ's row label of one element: name[coordinate labels] (name alone for a scalar)."""
    return name if not index else f"{name}[{', '.join(str(axis[i]) for axis, i in zip(labels, index))}]"


def summarise(tree: xr.DataTree, names: list[str], max_tree_depth: int) -> dict:
    """Divergences, max R-hat, min bulk ESS and the share of draws that hit the tree-depth limit;
    worst_r_hat: the parameters (up to WORST_SHOWN) above R_HAT_MAX, worst first; chains_apart:
    chain -> its mean log density minus the median over chains, for chains apart (see chains_apart)."""
    table = parameter_table(tree, names)
    stats = tree["sample_stats"]
    worst = table["r_hat"][table["r_hat"] > R_HAT_MAX].sort_values(ascending=False).head(WORST_SHOWN)
    apart = chains_apart(stats["lp"].values) if "lp" in stats and len(worst) else {}
    return {
        "divergences": int(stats["diverging"].values.sum()),
        "max_r_hat": float(table["r_hat"].max()),
        "min_ess_bulk": float(table["ess_bulk"].min()),
        "tree_depth_saturation": float((stats["tree_depth"].values >= max_tree_depth).mean()),
        "worst_r_hat": {name: float(value) for name, value in worst.items()},
        "chains_apart": apart,
    }


def chains_apart(log_density: np.ndarray) -> dict[int, float]:
    """Chains (index -> gap) whose mean log density lies more than APART_SDS within-chain sds from
    the median of the chains' means: a chain in another mode than most. log_density: (chains,
    draws), the sampler's lp. A positive gap: that chain found a mode of higher density. Needs 3
    chains or more (of two, neither is the odd one)."""
    if len(log_density) < 3:
        return {}
    means = log_density.mean(axis=1)
    spread = float(np.sqrt(log_density.var(axis=1, ddof=1).mean()))
    gaps = means - np.median(means)
    return {chain: float(gap) for chain, gap in enumerate(gaps) if abs(gap) > APART_SDS * spread}


def warn_if_unconverged(diagnostics: dict, target_accept: float = 0.8) -> list[str]:
    """Warn (ConvergenceWarning) for each problem found; returns the messages. target_accept: the
    fit's, so that the advice names a higher one."""
    problems = []
    if diagnostics["divergences"] > 0:
        problems.append(
            f"{diagnostics['divergences']} divergent transitions: the posterior has regions the "
            f"sampler cannot follow. Try target_accept={0.99 if target_accept >= 0.95 else 0.95}, tighter "
            "priors, or check for runs the law cannot describe (diverged runs, a different regime)."
        )
    if diagnostics["max_r_hat"] > R_HAT_MAX:
        problems.append(
            f"max R-hat {diagnostics['max_r_hat']:.3f} > {R_HAT_MAX}: chains disagree{_disagreement(diagnostics)}. "
            "Run more warmup and draws, or check for several modes (a parameter the data cannot pin down)."
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


def _disagreement(diagnostics: dict) -> str:
    """' (worst: b 2.15, E 2.01); chain 2 sits apart (mean log density 19.1 below the chains' median):
    ...', from summarise's worst_r_hat and chains_apart ('' where neither says more)."""
    worst = diagnostics.get("worst_r_hat", {})
    text = f" (worst: {', '.join(f'{name} {value:.2f}' for name, value in worst.items())})" if worst else ""
    apart = diagnostics.get("chains_apart", {})
    if apart:
        chains = ", ".join(map(str, apart))
        gaps = ", ".join(f"{abs(gap):.1f} {'above' if gap > 0 else 'below'}" for gap in apart.values())
        subject, modes = (f"chains {chains} sit", "other modes") if len(apart) > 1 else (f"chain {chains} sits", "another mode")
        text += (f"; {subject} apart (mean log density {gaps} the chains' median): {modes}, which more "
                 "draws will not join. A chain below is stuck in a worse mode (init='laplace' starts every "
                 "chain at the best mode found); one above found a mode the others missed")
    return text


def bulk_diagnostics(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat (max of bulk and folded) and bulk ESS (Vehtari et al. 2021)
    on plain arrays, with ArviZ's formulas (tests/test_fit.py checks them against ArviZ).

    draws: (..., chains, draws). Returns two arrays of shape (...). Vectorised over fits and
    parameters: fit_many checks hundreds of fits in one NumPy call, where az.rhat / az.ess would
    build a DataTree per fit.
    """
    lead = draws.shape[:-2]
    split = _split_chains(draws)
    bulk = _rank_normalise(split)
    folded = _rank_normalise(np.abs(split - np.median(split, axis=(0, 1))))
    r_hat = np.maximum(_r_hat(bulk), _r_hat(folded))
    return r_hat.reshape(lead), _ess(bulk).reshape(lead)


def tail_ess(draws: np.ndarray) -> np.ndarray:
    """ArviZ's tail ESS: the smaller ESS of the indicators draw <= its quantiles at (1 -/+ p) / 2,
    p being ArviZ's rcParams["stats.ci_prob"] (0.89 by default), on split chains.
    draws: (..., chains, draws); returns shape (...)."""
    from arviz_base import rcParams  # light: ArviZ's configuration, not its statistics

    probabilities = sorted((rcParams["stats.ci_prob"], 1 - rcParams["stats.ci_prob"]))
    lead = draws.shape[:-2]
    flat = draws.reshape(lead + (-1,))
    quantiles = np.quantile(flat, probabilities, axis=-1)
    ess = [_ess(_split_chains((draws <= q[..., None, None]).astype(np.float64))) for q in quantiles]
    return np.minimum(*ess).reshape(lead)


def _r_hat(split: np.ndarray) -> np.ndarray:
    """Split R-hat of (chains, n, k) columns."""
    n = split.shape[1]
    within = split.var(axis=1, ddof=1).mean(axis=0)
    between = n * split.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _ess(split: np.ndarray) -> np.ndarray:
    """Effective sample size of (chains, n, k) columns: ArviZ's estimator (Geyer's initial
    positive then monotone sequence of paired autocorrelations), vectorised over columns."""
    chains, n, _ = split.shape
    centred = split - split.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * n, axis=1)
    autocovariance = np.fft.irfft(spectrum * np.conjugate(spectrum), n=2 * n, axis=1)[:, :n] / n
    mean_var = autocovariance[:, 0].mean(axis=0) * n / (n - 1)
    var_plus = mean_var * (n - 1) / n + (split.mean(axis=1).var(axis=0, ddof=1) if chains > 1 else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1 - (mean_var - autocovariance.mean(axis=0)) / var_plus  # (n, k); rho[0] = 1
    rho[0] = 1.0
    pairs = max(1, (n - 1) // 2)  # pairs (rho[2m], rho[2m+1]) ArviZ looks at: m < (n - 2) / 2, and m = 0
    sums = rho[0 : 2 * pairs : 2] + rho[1 : 2 * pairs : 2]  # (pairs, k)
    ends = np.vstack([sums[1:] <= 0, np.ones((1, sums.shape[1]), bool)])  # a last row stops every column
    stop = np.minimum(ends.argmax(axis=0) + 1, pairs - 1)  # M: the first pair m >= 1 whose sum is <= 0
    kept = np.arange(pairs)[:, None] < stop
    monotone = np.minimum.accumulate(np.where(kept, sums, np.inf), axis=0)
    last_even = np.take_along_axis(rho, 2 * stop[None], axis=0)[0]
    last_sum = np.take_along_axis(sums, stop[None], axis=0)[0]
    tail = np.where((last_even > 0) | (last_sum >= 0), last_even, 0.0)
    tau = -1 + 2 * np.where(kept, monotone, 0.0).sum(axis=0) + tail
    size = chains * n
    ess = size / np.maximum(tau, 1 / np.log10(size))
    constant = split.max(axis=(0, 1)) - split.min(axis=(0, 1)) < np.finfo(float).resolution
    return np.where(constant, float(size), np.where(np.isnan(rho).any(axis=0), np.nan, ess))


def _rank_normalise(split: np.ndarray) -> np.ndarray:
    """Blom's normal scores of the average ranks over all draws, per column of (chains, n, k)."""
    from scipy.special import ndtri  # already imported by JAX; SciPy's statistics are not

    chains, n, k = split.shape
    ranks = _average_ranks(split.reshape(chains * n, k).T)
    return ndtri((ranks - 0.375) / (chains * n + 0.25)).T.reshape(split.shape)


def _average_ranks(rows: np.ndarray) -> np.ndarray:
    """Ranks 1..n along the last axis of a 2-D array, ties sharing their average rank
    (scipy.stats.rankdata(method="average"), without importing SciPy's statistics)."""
    count, n = rows.shape
    order = np.argsort(rows, axis=1, kind="stable")
    ordered = np.take_along_axis(rows, order, axis=1)
    starts = np.ones((count, n), bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = np.cumsum(starts.ravel()) - 1  # one id per run of equal values, over all rows
    position = np.tile(np.arange(1, n + 1, dtype=np.float64), count)
    average = np.bincount(group, weights=position) / np.bincount(group)
    ranks = np.empty((count, n))
    np.put_along_axis(ranks, order, average[group].reshape(count, n), axis=1)
    return ranks


def _split_chains(draws: np.ndarray) -> np.ndarray:
    """(..., chains, n) -> (2 chains, n // 2, k): numpyro's (chains, draws, ...) layout, flattened
    (an odd draw count drops the middle draw, as ArviZ does)."""
    chains, n = draws.shape[-2:]
    flat = np.moveaxis(draws.reshape((-1, chains, n)), 0, -1)
    half = n // 2
    return np.concatenate([flat[:, :half], flat[:, n - half :]], axis=0)
