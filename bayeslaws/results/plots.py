"""Plots of a fit: observed runs, the fitted law with credible bands, and the extrapolation.

All numbers come from Fit.predict / Fit.compute_optimal; nothing here samples.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd


def plot_fit(fit, target: Mapping[str, float] | None = None, ax=None, ci_prob: float = 0.9):
    """Loss against compute: runs, the law along each model size, the compute-optimal
    frontier (for laws in N and D) and the forecast at ``target`` (a dict of covariates).

    Returns the matplotlib Figure.
    """
    fig, ax = _figure_and_axes(ax, (7.5, 5))
    runs = fit.runs.frame
    covariates = fit.law.covariates
    if set(covariates) == {"N", "D"}:
        _plot_n_d_law(fit, ax, target, ci_prob)
    else:
        _plot_one_covariate_law(fit, ax, covariates[0], target, ci_prob)
    ax.set_ylabel(f"{fit.response} [nats]" if fit.response == "loss" else fit.response)
    _finish_log_axes(ax, f"{fit.law.name}: {fit.law.formula}\n{len(runs)} runs, bands = {ci_prob:.0%} credible intervals")
    return fig


def plot_families(fit, families=None, target: Mapping[str, float] | None = None, ax=None, ci_prob: float = 0.9):
    """A fit with groups=: each family's runs and its forecast in its own colour (for laws in N
    and D the compute-optimal loss L*(C), else the law along its covariate), with ci_prob bands,
    and a family not yet trained (the population predictive) in grey. families: the labels to
    draw (default: all). Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    fig, ax = _figure_and_axes(ax, (7.5, 5))
    runs, column = fit.runs.frame, fit.hierarchy.column
    in_n_d = set(fit.law.covariates) == {"N", "D"}
    x_name = "C" if in_n_d else fit.law.covariates[0]
    x_runs = 6.0 * runs["N"] * runs["D"] if in_n_d else runs[x_name]
    target_x = (6.0 * target["N"] * target["D"] if in_n_d else target[x_name]) if target else None
    grid = _x_range(x_runs.min(), x_runs.max(), target_x)
    chosen = fit.families if families is None else [str(f) for f in families]
    colours = plt.get_cmap("tab10" if len(chosen) <= 10 else "tab20")
    for i, family in enumerate(chosen + [None]):
        colour = colours(i % colours.N) if family is not None else "grey"
        band = _family_band(fit, family, grid, in_n_d, x_name, ci_prob)
        lo, hi = _interval_columns(band, band.columns[-1].rsplit("_q", 1)[0])
        name = "new family (population)" if family is None else family
        ax.plot(grid, band.filter(like="_median").iloc[:, 0], color=colour, lw=1.3, ls="--" if family is None else "-")
        ax.fill_between(grid, band[lo], band[hi], color=colour, alpha=0.12 if family is not None else 0.08,
                        label=f"{name}")
        if family is not None:
            mine = runs[column].astype(str) == family
            ax.scatter(x_runs[mine], runs.loc[mine, fit.response], color=colour, s=14, zorder=3)
    unit = {"N": "parameters", "D": "tokens", "C": "FLOPs"}.get(x_name, "")
    ax.set_xlabel("training compute C = 6ND [FLOPs]" if in_n_d else f"{x_name} [{unit}]")
    ax.set_ylabel(f"{fit.response} [nats]" if fit.response == "loss" else fit.response)
    what = "compute-optimal loss L*(C)" if in_n_d else "law"
    _finish_log_axes(ax, f"{fit.law.name} by {column}: {what} per family (dots: runs)\n"
                         f"bands = {ci_prob:.0%} credible intervals; grey dashed: a family not yet trained", 7)
    return fig


def _family_band(fit, family, grid, in_n_d, x_name, ci_prob) -> pd.DataFrame:
    if in_n_d:
        return fit.compute_optimal(grid, ci_prob=ci_prob, family=family).filter(regex="^loss_opt_(median|q)")
    return fit.predict(**{x_name: grid}, ci_prob=ci_prob, family=family).filter(regex=f"^{fit.response}_(median|q)")


def plot_residuals(fit, x: str = "C", ax=None, ci_prob: float = 0.9):
    """Each fitted run's residual from the law [% of the loss] against a column of its runs (log
    scale; "tokens_per_parameter" is D / N), the runs outside their ci_prob predictive interval
    marked, and the band of +-1.645 typical noise scales (the median run's sigma) shaded.

    Returns the matplotlib Figure.
    """
    table = fit.residuals(ci_prob)
    if x == "tokens_per_parameter" and {"N", "D"} <= set(table.columns):
        table = table.assign(tokens_per_parameter=table["D"] / table["N"])
    if x not in table.columns or not pd.api.types.is_numeric_dtype(table[x]) or (table[x] <= 0).any():
        runs = fit.runs.frame
        numeric = [c for c in runs.columns if pd.api.types.is_numeric_dtype(runs[c]) and (runs[c] > 0).all()]
        raise ValueError(f"plot_residuals needs a positive numeric column of the runs for x; got {x!r}. "
                         f"Columns: {numeric} (or 'tokens_per_parameter' for laws in N and D)")
    fig, ax = _figure_and_axes(ax, (7.5, 4.5))
    percent = 100 * table["residual"]
    typical = 100 * float(table["noise_scale"].median())
    ax.axhspan(-1.645 * typical, 1.645 * typical, color="C0", alpha=0.15,
               label=f"+-1.645 noise scales ({typical:.2g} % each)")
    ax.axhline(0.0, color="0.3", lw=0.8)
    inside = table["covered"].to_numpy()
    ax.scatter(table.loc[inside, x], percent[inside], s=14, color="C0", label=f"inside its {ci_prob:.0%} interval")
    ax.scatter(table.loc[~inside, x], percent[~inside], s=22, color="C3", marker="x",
               label=f"outside ({int((~inside).sum())} of {len(table)})")
    ax.set_xscale("log")
    ax.set_xlabel({"C": "compute C [FLOPs]", "N": "parameters N", "D": "tokens D",
                   "tokens_per_parameter": "tokens per parameter D / N"}.get(x, x))
    ax.set_ylabel("residual, log observed - log fitted [%]")
    ax.set_title(f"{fit.law.name}: residuals of {len(table)} fitted runs")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _figure_and_axes(ax, figsize: tuple[float, float]):
    """The given axes and their figure, or a new figure of that size [inches] with one axes."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize) if ax is None else (ax.figure, ax)


def _finish_log_axes(ax, title: str, legend_size: int = 8) -> None:
    """Log-log axes with plain-number loss ticks, a grid, the legend and the title."""
    from matplotlib.ticker import ScalarFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=legend_size, loc="upper right")
    ax.figure.tight_layout()


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


def plot_backtest(backtest, holdout: float | None = None):
    """Predicted against observed loss [nats] of the held-out runs, one panel per law, with the
    90 % predictive intervals as bars (green: holds the observed loss, red: misses it).
    holdout: one split's fraction (default: the 25 % split if there is one, else the first)."""
    import matplotlib.pyplot as plt

    fractions = sorted(backtest.scores["holdout"].unique())
    q = holdout if holdout is not None else (0.25 if 0.25 in fractions else fractions[0])
    points = backtest.points[np.isclose(backtest.points["holdout"], q)]
    laws = backtest.laws
    fig, axes = plt.subplots(1, len(laws), figsize=(3.6 * len(laws), 3.8), squeeze=False, sharex=True, sharey=True)
    low, high = points[["q05", "observed"]].min().min(), points[["q95", "observed"]].max().max()
    for ax, law in zip(axes[0], laws):
        own = points[points["law"] == law]
        for covered, colour in ((True, "tab:green"), (False, "tab:red")):
            part = own[own["covered_90"] == covered]
            ax.errorbar(part["observed"], part["median"], yerr=[part["median"] - part["q05"], part["q95"] - part["median"]],
                        fmt="o", ms=3, color=colour, alpha=0.7, lw=0.8,
                        label=f"{'holds' if covered else 'misses'} ({len(part)})")
        ax.plot([low, high], [low, high], color="black", lw=0.8)
        score = backtest.scores[(backtest.scores["law"] == law) & np.isclose(backtest.scores["holdout"], q)].iloc[0]
        ax.set_title(f"{law}\n90 % coverage {score['coverage_90']:.2f}, median error {score['median_rel_error']:.1%}",
                     fontsize=9)
        ax.set_xlabel("observed loss [nats]")
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(True, which="both", alpha=0.25)
    axes[0][0].set_ylabel("forecast loss [nats], median and 90 % interval")
    fig.suptitle(f"backtest: top {q:.0%} of compute held out ({len(points) // len(laws)} runs)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_stack(stack, target: Mapping[str, float] | None = None, ax=None, ci_prob: float = 0.9):
    """Runs, the stacked compute-optimal frontier L*(C) with its band, each law's median frontier,
    and the stacked forecast at ``target`` (a dict of N and D). Returns the Figure."""
    fig, ax = _figure_and_axes(ax, (7.5, 5))
    runs = stack.runs.frame
    C = 6.0 * runs["N"] * runs["D"]
    ax.scatter(C, runs["loss"], s=12, color="grey", alpha=0.6, zorder=3, label="runs")
    target_C = 6.0 * target["N"] * target["D"] if target else None
    grid = _x_range(C.min(), C.max(), target_C)
    frontier = stack.compute_optimal(grid, ci_prob=ci_prob)
    lo, hi = _interval_columns(frontier, "loss_opt")
    ax.plot(grid, frontier["loss_opt_median"], color="black", lw=1.8, label="stacked L*(C), median")
    ax.fill_between(grid, frontier[lo], frontier[hi], color="black", alpha=0.15, label=f"stacked {ci_prob:.0%} band")
    for law, fit in stack.fits.items():
        own = fit.compute_optimal(grid, ci_prob=ci_prob)
        ax.plot(grid, own["loss_opt_median"], lw=1.0, ls="--", label=f"{law} (weight {stack.weights[law]:.2f})")
    if target:
        pred = stack.predict(**target, ci_prob=ci_prob)
        plo, phi = _interval_columns(pred, "loss_pred")
        median = pred["loss_median"].iloc[0]
        ax.errorbar([target_C], [median], yerr=[[median - pred[plo].iloc[0]], [pred[phi].iloc[0] - median]], fmt="D",
                    color="crimson", ms=7, capsize=4, zorder=4,
                    label=f"stacked forecast: {median:.3f} ({pred[plo].iloc[0]:.3f}-{pred[phi].iloc[0]:.3f})")
    ax.set_xlabel("training compute C = 6ND [FLOPs]")
    ax.set_ylabel("loss [nats]")
    _finish_log_axes(ax, f"stacked forecast of {', '.join(stack.fits)} on {len(runs)} runs")
    return fig


def plot_curves(fit, schedules: Mapping[str, str] | None = None, observed=None, ax=None, ci_prob: float = 0.9):
    """Loss curves of a fit of a law of whole curves: each fitted run's logged points and its
    fitted curve, and the forecast curve of each extra schedule (name -> schedule string) with
    its band of what such a run would log; observed: a curve table (run_id, step, loss) of runs
    the fit did not see, drawn over the forecast of the schedule of the same name.

    Returns the matplotlib Figure.
    """
    import matplotlib

    fig, ax = _figure_and_axes(ax, (8, 5))
    points = fit.runs.frame
    colours = iter(matplotlib.colormaps["tab10"].colors * 4)
    for run_id, group in points.groupby("run_id", sort=False):
        colour = next(colours)
        curve = fit.predict_curve(run_id, ci_prob=ci_prob)
        ax.plot(group["step"], group["loss"], ".", ms=2, color=colour, alpha=0.5)
        ax.plot(curve["step"], curve["loss_median"], color=colour, lw=1.2, label=f"{run_id} (fitted)")
    for name, text in (schedules or {}).items():
        colour = next(colours)
        curve = fit.predict_curve(name, schedule=text, ci_prob=ci_prob)
        low, high = _interval_columns(curve, "loss_pred")
        ax.fill_between(curve["step"], curve[low], curve[high], color=colour, alpha=0.25, lw=0)
        ax.plot(curve["step"], curve["loss_median"], "--", color=colour, lw=1.2, label=f"{name} (forecast)")
        if observed is not None and name in set(observed["run_id"]):
            seen = observed[observed["run_id"] == name]
            ax.plot(seen["step"], seen["loss"], ".", ms=2, color="black", alpha=0.6)
    shown = points["loss"] if observed is None else pd.concat([points["loss"], observed["loss"]])
    ax.set_ylim(0.98 * shown.min(), 1.02 * shown.max())
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss [nats]")
    _finish_log_axes(ax, f"{fit.law.name}: {points['run_id'].nunique()} fitted curves; forecasts with {ci_prob:.0%} "
                         "bands of a run's logged loss" + ("\nblack: observed, not fitted" if observed is not None else ""),
                     legend_size=7)
    return fig
