"""Learning curves (issue 13): the multi-power law on Luo et al. 2025's curves, per model size.

1. Published result: fit on upstream's 3 train curves (cosine 24k, constant 24k, step drop to
   9e-5), forecast the 6 test curves (72k horizons, WSD decays, other step drops) from their
   schedules alone. Error of the posterior median: PredE (upstream's metric: each curve's mean
   relative error, averaged over curves; published 0.00110 / 0.00142) and the mean over all test
   points; 90 % predictive coverage of the test points and of each curve's last point.
2. Finish a run: fit on the train curves plus the first half of each test curve's steps;
   forecast each test curve's last point from its schedule: relative error and 90 % coverage.

    python benchmarks/learning_curves.py                      # both sizes, both tasks
    python benchmarks/learning_curves.py --sizes 25M --likelihood normal
    python benchmarks/learning_curves.py --discrepancy 0.005   # with a discrepancy in log step
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.terms.discrepancy import Discrepancy

DATA_HOME = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PUBLISHED_PRED_E = {"25M": 0.00110, "100M": 0.00142}
COLUMNS = ["run_id", "step", "loss", "schedule"]


def load(size: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = bl.datasets.load("multipower_luo2025", data_home=DATA_HOME).frame
    frame = frame[(frame["family"] == size) & frame["upstream_eval"]]
    return frame[frame["split"] == "train"][COLUMNS], frame[frame["split"] == "test"][COLUMNS]


def forecast_points(fit, test: pd.DataFrame) -> pd.DataFrame:
    """Each test point with the posterior median and 90 % predictive interval of its loss, from
    its run's schedule (a fitted run's points carry its residual; a new run's do not)."""
    parts = []
    for run_id, group in test.groupby("run_id", sort=False):
        curve = fit.predict_curve(run_id, schedule=group["schedule"].iloc[0], steps=group["step"].to_numpy())
        parts.append(group.assign(median=curve["loss_median"].to_numpy(), q05=curve["loss_pred_q05"].to_numpy(),
                                  q95=curve["loss_pred_q95"].to_numpy()))
    out = pd.concat(parts, ignore_index=True)
    out["rel_error"] = (out["median"] - out["loss"]).abs() / out["loss"]
    out["covered"] = (out["loss"] >= out["q05"]) & (out["loss"] <= out["q95"])
    return out


def published_task(size: str, options: dict) -> dict:
    train, test = load(size)
    started = time.perf_counter()
    fit = bl.fit(train, law="multipower", progress=False, **options)
    seconds = time.perf_counter() - started
    points = forecast_points(fit, test)
    last = points.groupby("run_id", sort=False).tail(1)
    diag = fit.diagnostics
    return {"size": size, "task": "published split", "fit_s": round(seconds, 1),
            "PredE": points.groupby("run_id")["rel_error"].mean().mean(), "published": PUBLISHED_PRED_E[size],
            "mean_rel_error": points["rel_error"].mean(), "cov90_points": points["covered"].mean(),
            "cov90_last": last["covered"].mean(), "last_points": len(last), "max_rhat": diag["max_r_hat"],
            "divergences": diag["divergences"]}


def finish_task(size: str, options: dict) -> dict:
    train, test = load(size)
    half = test.groupby("run_id", sort=False)["step"].transform(lambda s: s <= s.iloc[0] + 0.5 * (s.iloc[-1] - s.iloc[0]))
    started = time.perf_counter()
    fit = bl.fit(pd.concat([train, test[half]], ignore_index=True), law="multipower", progress=False, **options)
    seconds = time.perf_counter() - started
    last = forecast_points(fit, test.groupby("run_id", sort=False).tail(1))
    diag = fit.diagnostics
    return {"size": size, "task": "finish a run", "fit_s": round(seconds, 1), "PredE": np.nan,
            "published": np.nan, "mean_rel_error": last["rel_error"].mean(), "cov90_points": np.nan,
            "cov90_last": last["covered"].mean(), "last_points": len(last), "max_rhat": diag["max_r_hat"],
            "divergences": diag["divergences"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["25M", "100M"])
    parser.add_argument("--tasks", nargs="+", default=["published", "finish"])
    parser.add_argument("--likelihood", default=None, help="default: the curve default (ar1); or run_offset, normal")
    parser.add_argument("--init", default=None, help="prior (default) or laplace")
    parser.add_argument("--discrepancy", type=float, default=0.0,
                        help="add a discrepancy process in log step with this prior median amplitude (0: none)")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--draws", type=int, default=500)
    args = parser.parse_args(argv)
    options = {"likelihood": args.likelihood, "init": args.init, "warmup": args.warmup, "draws": args.draws, "chains": 4,
               "discrepancy": Discrepancy(amplitude=args.discrepancy) if args.discrepancy else None}
    tasks = {"published": published_task, "finish": finish_task}
    rows = []
    for size in args.sizes:
        for task in args.tasks:
            rows.append(tasks[task](size, options))
            with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.5g}".format):
                print(pd.DataFrame(rows).to_string(index=False), flush=True)  # the table so far, after every fit


if __name__ == "__main__":
    main()
