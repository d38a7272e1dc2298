"""Which runs to add, on real pools (issue 16, "Real pools").

Porian et al.'s tuned RefinedWeb isoFLOP points (121 runs) and datablations' final losses (296
runs). The target region is the top decile of compute; the pool is every other run. The design
starts from the 10 (--initial) cheapest runs of the pool (fitted first, counted as spent), then
each strategy picks one batch with 5 % or 10 % of the pool's total cost from the rest of the pool,
aiming at the whole target region (bl.suggest_runs with the region's N and D: the summed variance
of its log losses). The law (chinchilla unless --law) is refitted on the initial plus chosen runs,
and scored on the target region: R^2 of the posterior-median loss against the observed losses,
median relative error and 90 % predictive coverage. Random choice is repeated over 5 seeds (mean
shown); beside them, a fit on the whole pool. With --rounds R, suggest and D-optimal design
sequentially (bayeslaws.results.design.run_design): R batches of budget / R, each chosen from a
refit on every run so far, the pool's observed loss standing in for each chosen run's training.

Usage: python benchmarks/design_real.py [--law farseer --initial 20] [--datasets porian_rw,datablations] [--rounds 3]
       [--cost-exponents 0.4] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.backtest import score_runs
from bayeslaws.results.design import run_design
from extrapolation import real_datasets

FRACTIONS = (0.05, 0.10)
STRATEGIES = ("suggest", "random", "cheapest", "d_optimal")
RANDOM_SEEDS = 5
INITIAL = 10
FIT = {"chains": 4, "warmup": 500, "draws": 500, "progress": False}


def split(runs: pd.DataFrame, initial: int = INITIAL) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(initial, pool, target region): the top compute decile is the target; the ``initial``
    cheapest other runs start the design."""
    cut = runs["C"].quantile(0.9)
    target, pool = runs[runs["C"] > cut], runs[runs["C"] <= cut].sort_values("C", kind="stable")
    return pool.iloc[:initial], pool.iloc[initial:].reset_index(drop=True), target.reset_index(drop=True)


def observed_loss(pool: pd.DataFrame):
    """measure() of run_design on a real pool: each chosen (N, D)'s observed loss (the first of
    runs that share it; choosing one uses them all up)."""
    losses = pool.drop_duplicates(["N", "D"]).set_index(["N", "D"])["loss"]
    return lambda rows: losses.loc[list(zip(rows["N"], rows["D"]))].to_numpy()


def r_squared(scores: pd.DataFrame) -> float:
    observed, predicted = scores["observed"].to_numpy(), scores["median"].to_numpy()
    return float(1 - np.sum((observed - predicted) ** 2) / np.sum((observed - observed.mean()) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--law", default="chinchilla", help="the law every design fits (default chinchilla)")
    parser.add_argument("--initial", type=int, default=INITIAL, help="cheapest runs fitted first (default 10)")
    parser.add_argument("--datasets", type=lambda s: s.split(","), default=["porian_rw", "datablations"])
    parser.add_argument("--rounds", type=int, default=1, help="suggest and D-optimal: batches, each from a refit")
    parser.add_argument("--seed", type=int, default=0, help="seed of every fit (default 0)")
    parser.add_argument("--cost-exponents", type=lambda s: [float(x) for x in s.split(",")], default=[],
                        help="also suggest with reduction / cost**E for each E (e.g. 0.4)")
    args = parser.parse_args()
    strategies = [(name, name, {}) for name in STRATEGIES]  # suggest with suggest_runs's default exponent
    strategies += [(f"suggest cost^{e:g}", "suggest", {"cost_exponent": e}) for e in args.cost_exponents]
    started = time.perf_counter()
    for name, runs in real_datasets(args.datasets).items():
        covariates = ["N", "D"] + [c for c in bl.get_law(args.law).covariates if c not in ("N", "D", "C")]
        runs = runs[covariates + ["C", "loss"]]  # e.g. unique_tokens for data_constrained
        initial, pool, target = split(runs, args.initial)
        total = float((6 * pool["N"] * pool["D"]).sum())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = bl.fit(initial, args.law, seed=args.seed, **FIT)
        tables = {}
        for fraction in FRACTIONS:
            for label, strategy, exponent in strategies:
                if args.rounds > 1 and strategy in ("suggest", "d_optimal"):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        design = run_design(initial, pool.drop(columns="loss"), observed_loss(pool), rounds=args.rounds,
                                            target=target[covariates].to_dict("list"), budget=fraction * total,
                                            strategy=strategy, law=args.law, seed=args.seed, **exponent,
                                            **FIT)
                    tables[(fraction, label, 0)] = pd.concat([initial, design["chosen"][list(runs.columns)]],
                                                             ignore_index=True)
                    continue
                for seed in range(RANDOM_SEEDS if strategy == "random" else 1):
                    batch = bl.suggest_runs(first, pool, target=target[covariates].to_dict("list"),
                                            budget=fraction * total, strategy=strategy, seed=seed, **exponent)
                    tables[(fraction, label, seed)] = pd.concat([initial, batch[list(runs.columns)]],
                                                                ignore_index=True)
        tables[(1.0, "whole pool", 0)] = pd.concat([initial, pool], ignore_index=True)
        rows = []
        for key, table in tables.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = bl.fit(table, args.law, seed=args.seed, **FIT)
            scores = score_runs(fit, target)
            rows.append({"budget": key[0], "strategy": key[1], "seed": key[2], "runs": len(table) - args.initial,
                         "R2": r_squared(scores),
                         "median_rel_error": float(np.median(np.abs(scores["median"] - scores["observed"]) / scores["observed"])),
                         "coverage_90": float(scores["covered_90"].mean()), "max_r_hat": fit.diagnostics["max_r_hat"]})
        table = pd.DataFrame(rows).groupby(["budget", "strategy"]).mean(numeric_only=True).drop(columns="seed")
        print(f"\n{name} ({args.law}): {len(initial)} initial runs, pool {len(pool)}, target region {len(target)} runs "
              f"(C > {runs['C'].quantile(0.9):.3g} FLOPs); {time.perf_counter() - started:.0f} s")
        print(table.to_string(float_format=lambda x: f"{x:.4f}"), flush=True)


if __name__ == "__main__":
    main()
