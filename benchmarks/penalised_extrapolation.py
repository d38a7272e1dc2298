"""Penalised sweeps extrapolate too: hold out the top 25 % of compute of lr x batch-size sweeps.

Each zoo is a bl.simulate_sweep sweep (both true basins, quadratic and linex). The penalised
law is fitted with each basin on the cells below the top 25 % of compute (C = 6 N D) and scored
on the held-out cells:

- loss: share of held-out runs (diverged ones left out) inside the 90 % predictive interval,
  and the median relative error;
- lr*, B*: share of held-out cells whose true optimum lies in the 90 % posterior interval of
  optimal_hyperparameters(N, D), and the median relative error of the posterior median;
- convergence: max R-hat and divergences.

The zoos mark their diverged runs (column ``diverged``), which bl.fit leaves out of the fit;
``--diverged unmark`` drops the column, so that they are fitted as ordinary runs.

    python benchmarks/penalised_extrapolation.py --seeds 10            # 600-run sweeps
    python benchmarks/penalised_extrapolation.py --seeds 1 --full      # one 2,000-run sweep
    python benchmarks/penalised_extrapolation.py --seeds 10 --full --fitted-basins linex   # the default basin
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.backtest import holdout_split, point_scores, score_runs
from bayeslaws.terms.penalty import optimum_draws

SMALL_SWEEP = {"n_lr": 10, "n_batch": 6}  # 10 cells x 60 settings = 600 runs
DRAWS = {"chains": 4, "warmup": 500, "draws": 500, "init": "laplace"}


def one(zoo, fitted_basin: str, seed: int, diverged: str = "mark", likelihood: str | None = None) -> dict:
    train, test = holdout_split(bl.load_runs(zoo.runs, required=()), 0.25)
    if diverged == "unmark":  # without the column the diverged runs are fitted as ordinary runs
        train = train.frame.drop(columns="diverged")
    started = time.perf_counter()
    fit = bl.fit(train, penalty=bl.Penalty(basin=fitted_basin), seed=seed, progress=False,
                 **({"likelihood": likelihood} if likelihood else {}), **DRAWS)
    seconds = time.perf_counter() - started
    healthy = test.frame[~test.frame["diverged"].astype(bool)]
    loss = point_scores(score_runs(fit, healthy, seed))
    cells = test.frame[["N", "D"]].drop_duplicates().reset_index(drop=True)
    posterior = fit.optimal_hyperparameters(N=cells["N"], D=cells["D"], draws=True)
    truth = optimum_draws(bl.Penalty(basin=zoo.design["penalty"]["basin"]),
                          {k: np.array([v]) for k, v in zoo.truth.items()}, cells)
    row = {"loss_coverage_90": loss["coverage_90"], "loss_error": loss["median_rel_error"]}
    for name in ("lr", "batch_size"):
        per_draw = posterior[name].to_numpy().reshape(-1, len(cells))
        lo, median, hi = np.quantile(per_draw, [0.05, 0.5, 0.95], axis=0)
        true = truth[name][0]
        row[f"{name}_coverage_90"] = float(np.mean((lo <= true) & (true <= hi)))
        row[f"{name}_error"] = float(np.median(np.abs(median - true) / true))
        logs = np.log(per_draw)  # signed: the posterior's log error at the cells and its z-score
        row[f"{name}_log_error"] = float(np.mean(np.median(logs, axis=0) - np.log(true)))
        row[f"{name}_z"] = float(np.mean((np.median(logs, axis=0) - np.log(true)) / logs.std(axis=0)))
    diag = fit.diagnostics
    return {**row, "max_r_hat": diag["max_r_hat"], "divergences": diag["divergences"], "seconds": seconds,
            "n_train": len(train), "n_heldout_cells": len(cells)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--full", action="store_true", help="2,000-run sweeps (the default design)")
    parser.add_argument("--fitted-basins", default="quadratic,linex", help="basins to fit to each zoo")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--true-basins", default="quadratic,linex", help="true basins of the zoos")
    parser.add_argument("--diverged", choices=("mark", "unmark"), default="mark",
                        help="mark: the diverged column stays, bl.fit leaves those runs out (default); "
                             "unmark: it is dropped, so they are fitted as ordinary runs")
    parser.add_argument("--likelihood", default=None, help="default: bl.fit's (student_t)")
    parser.add_argument("--output", help="CSV of every fit's row")
    args = parser.parse_args()
    warnings.simplefilter("ignore", bl.ConvergenceWarning)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for true_basin in args.true_basins.split(","):
            zoo = bl.simulate_sweep(basin=true_basin, seed=seed, **({} if args.full else SMALL_SWEEP))
            for fitted_basin in args.fitted_basins.split(","):
                row = {"seed": seed, "true_basin": true_basin, "fitted_basin": fitted_basin,
                       **one(zoo, fitted_basin, seed, args.diverged, args.likelihood)}
                rows.append(row)
                print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1,
                                                    float_format=lambda v: f"{v:.3g}"), flush=True)
    table = pd.DataFrame(rows)
    if args.output:
        table.to_csv(args.output, index=False)
    summary = table.groupby(["true_basin", "fitted_basin"]).agg(
        fits=("seed", "size"), loss_coverage_90=("loss_coverage_90", "mean"), loss_error=("loss_error", "median"),
        lr_coverage_90=("lr_coverage_90", "mean"), lr_error=("lr_error", "median"),
        batch_coverage_90=("batch_size_coverage_90", "mean"), batch_error=("batch_size_error", "median"),
        max_r_hat=("max_r_hat", "max"), divergences=("divergences", "sum"), seconds=("seconds", "median"))
    print(f"\n{'2,000' if args.full else '600'}-run sweeps, top 25 % of compute held out; means over seeds:")
    print(summary.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
