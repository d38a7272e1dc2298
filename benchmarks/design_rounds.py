"""One batch against several: does refitting between batches help suggest_runs? (issue 16)

The setting of design_strategies.py (12 initial runs at 1e17-1e18 FLOPs, the 56-run pool, target
the compute-optimal loss at 1e23 FLOPs, chinchilla truth, 1 % noise) with run_design: the budget
spent in one batch, or in R rounds of budget/R with a refit after each. Scored as there: the
final forecast's median relative error and 90 % coverage.

Usage: python benchmarks/design_rounds.py [--seeds 10] [--budget 0.01] [--rounds 1,3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.data.designs import isoflop_grid
from bayeslaws.results.design import run_design
from design_strategies import FIT, NOISE, TARGET, scores, target_truth
from extrapolation import TRUTHS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=float, default=0.01, help="share of the pool's total cost")
    parser.add_argument("--rounds", default="1,3")
    parser.add_argument("--strategy", default="suggest")
    args = parser.parse_args()
    make_law, params = TRUTHS["chinchilla"]
    law, rows, started = make_law(), [], time.perf_counter()
    truth = target_truth(law, params)
    for seed in range(args.seeds):
        for rounds in map(int, args.rounds.split(",")):
            rng = np.random.default_rng(seed)

            def measure(table):
                return bl.synthetic.true_loss(law, params, table) * np.exp(NOISE * rng.standard_normal(len(table)))

            initial = isoflop_grid([1e17, 3e17, 1e18], 4, 0.6)
            initial["loss"] = measure(initial)
            pool = isoflop_grid(np.geomspace(3e18, 1e21, 7), 8, 0.6)
            budget = args.budget * float((6 * pool["N"] * pool["D"]).sum())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = run_design(initial, pool, measure, target=TARGET, budget=budget, strategy=args.strategy,
                                    rounds=rounds, seed=seed, **FIT)
            rows.append({"seed": seed, "rounds": rounds, "runs": len(result["chosen"]),
                         **scores(result["fit"].draws(), truth)})
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    table = pd.DataFrame(rows).groupby("rounds").agg(median_error=("error", "median"), coverage_90=("covered", "mean"),
                                                     runs=("runs", "median"))
    print(f"\n{args.strategy}, budget {args.budget:.0%} of the pool, chinchilla truth, {args.seeds} seeds:")
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
