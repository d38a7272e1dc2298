"""Design with model uncertainty: runs chosen from a stack of laws against runs chosen from one
law (issue 16, part 3).

The setting of design_strategies.py (12 initial runs at 1e17-1e18 FLOPs, a pool of 56 candidates
at 3e18-1e21, 1 % noise with one draw per pool run shared by every design, target: the
compute-optimal loss at 1e23 FLOPs, budget 5 % of the pool's cost). Per seed, three batches are chosen:

- "chinchilla": bl.suggest_runs on a chinchilla fit of the initial runs;
- "stack": bl.suggest_runs on bl.stack(initial runs, laws) (stacking weights from a backtest
  that holds out the largest budget); its covariance includes the laws' disagreement;
- "random": random runs up to the budget.

After each batch is "trained" (truth + noise), the forecast is made the same way for all three:
the stack of the same laws refitted to the initial runs plus the batch (and, beside it, chinchilla
alone). Scored: the forecast's absolute relative error at the target and whether its 90 % interval
holds the truth.

Usage: python benchmarks/design_stack.py [--seeds 10] [--truth farseer] [--laws chinchilla,kaplan]
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

import bayeslaws as bl
from design_strategies import TARGET, setting, target_truth
from extrapolation import TRUTHS

BUDGET = 0.05
FIT = {"chains": 4, "warmup": 500, "draws": 500, "progress": False}


def stacked(runs: pd.DataFrame, laws: list[str], seed: int) -> bl.Stack:
    """The stack of ``laws`` on the runs, weights from holding out the largest budget's runs."""
    largest = runs["C"].eq(runs["C"].max()).mean()
    return bl.stack(runs, laws, holdout=[min(largest + 0.01, 0.5)], seed=seed, warn=False, progress=False,
                    **{k: v for k, v in FIT.items() if k != "progress"})


def scores(loss_opt: pd.Series, truth: float) -> dict:
    return {"error": abs(loss_opt["loss_opt_median"] - truth) / truth,
            "covered": loss_opt["loss_opt_q05"] <= truth <= loss_opt["loss_opt_q95"]}


def one_seed(truth_name: str, laws: list[str], seed: int) -> list[dict]:
    make_law, params = TRUTHS[truth_name]
    law = make_law()
    initial, pool, measure = setting(law, params, seed)
    budget = BUDGET * float((6 * pool["N"] * pool["D"]).sum())
    truth = target_truth(law, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        designers = {"chinchilla": bl.fit(initial, seed=seed, **FIT), "stack": stacked(initial, laws, seed)}
        batches = {name: bl.suggest_runs(model, pool, target=TARGET, budget=budget, seed=seed)
                   for name, model in designers.items()}
        batches["random"] = bl.suggest_runs(designers["chinchilla"], pool, target=TARGET, budget=budget,
                                            strategy="random", seed=seed)
        rows = []
        for name, batch in batches.items():
            runs = pd.concat([initial, batch[["N", "D", "C"]].assign(loss=measure(batch))], ignore_index=True)
            forecasts = {"stack": stacked(runs, laws, seed).compute_optimal([TARGET["C"]]).iloc[0],
                         "chinchilla": bl.fit(runs, seed=seed, **FIT).compute_optimal([TARGET["C"]]).iloc[0]}
            for forecaster, row in forecasts.items():
                rows.append({"truth": truth_name, "seed": seed, "design": name, "forecast": forecaster,
                             "runs": len(batch), "weights": designers["stack"].weights if name == "stack" else None,
                             **scores(row, truth)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--truth", default="farseer")
    parser.add_argument("--laws", default="chinchilla,kaplan")
    args = parser.parse_args()
    laws = args.laws.split(",")
    started, rows = time.perf_counter(), []
    for seed in range(args.seeds):
        rows += one_seed(args.truth, laws, seed)
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby(["forecast", "design"]).agg(
        median_error=("error", "median"), mean_error=("error", "mean"), coverage_90=("covered", "mean"),
        runs=("runs", "median"))
    print(f"\ntruth {args.truth}, laws {laws}, {args.seeds} seeds, budget {BUDGET:.0%} of the pool "
          f"(error: |median - truth| / truth of the compute-optimal loss at {TARGET['C']:.0e} FLOPs):")
    print(summary.to_string(float_format=lambda x: f"{x:.4f}"))
    paired = table[table["forecast"] == "stack"].pivot(index="seed", columns="design", values="error")
    wins = (paired["stack"] < paired["chinchilla"]).mean()
    print(f"\nstack forecast: the stack's design has the lower error than chinchilla's in {wins:.0%} of seeds")


if __name__ == "__main__":
    main()
