"""Plots of a fit: observed runs, the fitted law with credible bands, and the extrapolation.

All numbers come from Fit.predict / Fit.compute_optimal; nothing here samples.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def plot_fit(fit, target: Mapping[str, float] | None = None, ax=None, ci_prob: float = 0.9):
    """Loss against compute: runs, the law along each model size, the compute-optimal
    frontier (for laws in N and D) and the forecast at ``target`` (a dict of covariates).

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 5))
    else:
        fig = ax.figure
    runs = fit.runs.frame
    covariates = fit.law.covariates
    if set(covariates) == {"N", "D"}:
        _plot_n_d_law(fit, ax, target, ci_prob)
    else:
        _plot_one_covariate_law(fit, ax, covariates[0], target, ci_prob)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(f"{fit.response} [nats]" if fit.response == "loss" else fit.response)
    ax.set_title(f"{fit.law.name}: {fit.law.formula}\n{len(runs)} runs, bands = {ci_prob:.0%} credible intervals")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def _x_range(low: float, high: float, target: float | None, points: int = 60) -> np.ndarray:
    top = max(high, target or high) * 1.5
    return np.geomspace(low / 1.5, top, points)


def _plot_n_d_law(fit, ax, target, ci_prob):
    runs = fit.runs.frame
    C = 6.0 * runs["N"] * runs["D"]
    colours = np.log10(runs["N"])
    scatter = ax.scatter(C, runs[fit.response], c=colours, cmap="viridis", s=14, zorder=3, label="runs")
    fig = ax.figure
    fig.colorbar(scatter, ax=ax, label="log10 model size N [parameters]")
    target_C = 6.0 * target["N"] * target["D"] if target else None
    sizes = np.unique(runs["N"])
    for N in sizes[:: max(1, len(sizes) // 6)]:
        D = _x_range(C.min(), C.max(), None) / (6.0 * N)
        pred = fit.predict(N=N, D=D, ci_prob=ci_prob)
        colour = scatter.cmap(scatter.norm(np.log10(N)))
        ax.plot(6 * N * D, pred[f"{fit.response}_median"], color=colour, lw=0.8, alpha=0.8)
    try:
        frontier_C = _x_range(C.min(), C.max(), target_C)
        frontier = fit.compute_optimal(frontier_C, ci_prob=ci_prob)
    except ValueError:
        frontier = None
    if frontier is not None:
        lo, hi = _interval_columns(frontier, "loss_opt")
        ax.plot(frontier_C, frontier["loss_opt_median"], color="black", lw=1.5, label="compute-optimal L*(C), median")
        ax.fill_between(frontier_C, frontier[lo], frontier[hi], color="black", alpha=0.15, label="L*(C) band")
    if target:
        _plot_target(fit, ax, target, target_C, ci_prob)
    ax.set_xlabel("training compute C = 6ND [FLOPs]")


def _plot_one_covariate_law(fit, ax, covariate, target, ci_prob):
    runs = fit.runs.frame
    x = runs[covariate]
    ax.scatter(x, runs[fit.response], s=14, zorder=3, label="runs")
    grid = _x_range(x.min(), x.max(), target.get(covariate) if target else None)
    pred = fit.predict(**{covariate: grid}, ci_prob=ci_prob)
    lo, hi = _interval_columns(pred, fit.response)
    ax.plot(grid, pred[f"{fit.response}_median"], color="black", lw=1.5, label="posterior median")
    ax.fill_between(grid, pred[lo], pred[hi], color="black", alpha=0.15, label="law band")
    if target:
        _plot_target(fit, ax, target, target[covariate], ci_prob)
    unit = {"N": "parameters", "D": "tokens", "C": "FLOPs"}.get(covariate, "")
    ax.set_xlabel(f"{covariate} [{unit}]" if unit else covariate)


def _plot_target(fit, ax, target, x, ci_prob):
    pred = fit.predict(**target, ci_prob=ci_prob)
    lo, hi = _interval_columns(pred, f"{fit.response}_pred")
    median = pred[f"{fit.response}_median"].iloc[0]
    err = [[median - pred[lo].iloc[0]], [pred[hi].iloc[0] - median]]
    label = "forecast at " + ", ".join(f"{k}={v:.3g}" for k, v in target.items())
    ax.errorbar([x], [median], yerr=err, fmt="D", color="crimson", ms=7, capsize=4, zorder=4,
                label=f"{label}: {median:.3f} ({pred[lo].iloc[0]:.3f}-{pred[hi].iloc[0]:.3f})")


def _interval_columns(frame, prefix):
    cols = [c for c in frame.columns if c.startswith(f"{prefix}_q")]
    return cols[0], cols[-1]
