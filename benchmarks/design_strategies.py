"""Which runs to add, compared against a known truth (issue 16, "Simulated").

Per seed and truth: 12 initial runs (isoFLOP budgets 1e17, 3e17 and 1e18 FLOPs, 4 sizes each)
and a pool of 56 candidates (7 budgets from 3e18 to 1e21 FLOPs, 8 sizes each, +-0.6 decades
around 20 tokens per parameter), 1 % noise. The target is the compute-optimal loss at 1e23 FLOPs.
chinchilla is fitted to the initial runs; each strategy picks one batch with 1 %, 5 % and 10 % of
the pool's total cost (bl.suggest_runs, strategy=...); the batch is "trained" (truth + noise, one
noise draw per pool run, shared by every strategy that picks it: common random numbers, so the
comparison is paired) and chinchilla refitted (bl.fit_many, one program for every batch). Scored: the target forecast's
absolute relative error (posterior median against the truth's compute-optimal loss) and whether
its 90 % interval holds the truth; beside them, a fit on the whole pool.

Truths: chinchilla (Besiroglu et al.'s refit) and the Farseer form of the extrapolation benchmark
(its D-exponent falls with N; chinchilla is then misspecified).

Usage: python benchmarks/design_strategies.py [--seeds 20] [--first-seed 20] [--cost-exponents 0.4]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.data.designs import isoflop_grid
from bayeslaws.results.forecast import compute_optimal_draws
from bayeslaws.synthetic import true_loss
from extrapolation import TRUTHS

TARGET = {"C": 1e23}
FRACTIONS = (0.01, 0.05, 0.10)
STRATEGIES = {  # name: suggest_runs options
    "suggest": {"strategy": "suggest"},
    "random": {"strategy": "random"},
    "cheapest": {"strategy": "cheapest"},
    "d_optimal": {"strategy": "d_optimal"},
}
NOISE = 0.01
FIT = {"chains": 4, "warmup": 500, "draws": 500, "progress": False}


def target_truth(law, params) -> float:
    one = {k: np.array([v]) for k, v in params.items()}
    return float(compute_optimal_draws(law, one, np.array([TARGET["C"]]))["loss_opt"][0, 0])


def scores(draws: dict, truth: float) -> dict:
    loss = compute_optimal_draws(bl.get_law("chinchilla"), draws, np.array([TARGET["C"]]))["loss_opt"][:, 0]
    q05, median, q95 = np.quantile(loss, [0.05, 0.5, 0.95])
    return {"error": abs(median - truth) / truth, "covered": q05 <= truth <= q95}


def setting(law, params, seed: int):
    """(initial runs with their losses, the pool, measure(rows) -> losses): the runs' losses are
    the truth times each pool run's own noise draw (common random numbers: strategies that choose
    the same run see the same outcome, so they compare paired)."""
    rng = np.random.default_rng(seed)
    initial = isoflop_grid([1e17, 3e17, 1e18], 4, 0.6)
    initial["loss"] = true_loss(law, params, initial) * np.exp(NOISE * rng.standard_normal(len(initial)))
    pool = isoflop_grid(np.geomspace(3e18, 1e21, 7), 8, 0.6)
    pool_noise = NOISE * rng.standard_normal(len(pool))

    def measure(rows):
        index = pool.reset_index().merge(rows[["N", "D"]], on=["N", "D"], how="right")["index"].to_numpy()
        return true_loss(law, params, rows) * np.exp(pool_noise[index])

    return initial, pool, measure


def one_seed(truth_name: str, seed: int) -> list[dict]:
    make_law, params = TRUTHS[truth_name]
    law = make_law()
    initial, pool, measure = setting(law, params, seed)
    total = float((6 * pool["N"] * pool["D"]).sum())
    truth = target_truth(law, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = bl.fit(initial, seed=seed, **FIT)
    tables, labels = {}, []
    for fraction in FRACTIONS:
        for strategy, options in STRATEGIES.items():
            batch = bl.suggest_runs(first, pool, target=TARGET, budget=fraction * total, seed=seed, **options)
            added = batch[["N", "D", "C"]].assign(loss=measure(batch))
            tables[f"{strategy}@{fraction}"] = pd.concat([initial, added], ignore_index=True)
            labels.append((fraction, strategy, len(batch), float(batch["cumulative_cost"].iloc[-1]) / total))
    whole = pd.concat([initial, pool.assign(loss=measure(pool))], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        many = bl.fit_many(tables, seed=seed)
        full = bl.fit_many({"whole pool": whole}, seed=seed)
    rows = []
    for (fraction, strategy, count, spent), name in zip(labels, tables):
        rows.append({"truth": truth_name, "seed": seed, "budget": fraction, "strategy": strategy, "runs": count,
                     "spent": spent, **scores(many[name], truth)})
    rows.append({"truth": truth_name, "seed": seed, "budget": 1.0, "strategy": "whole pool", "runs": len(pool),
                 "spent": 1.0, **scores(full["whole pool"], truth)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--truths", default="chinchilla,farseer")
    parser.add_argument("--cost-exponents", type=lambda s: [float(x) for x in s.split(",")], default=[],
                        help="also suggest with reduction / cost**E for each E (e.g. 0.4)")
    args = parser.parse_args()
    for exponent in args.cost_exponents:
        STRATEGIES[f"suggest cost^{exponent:g}"] = {"strategy": "suggest", "cost_exponent": exponent}
    started, rows = time.perf_counter(), []
    for truth in args.truths.split(","):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows += one_seed(truth, seed)
            print(f"{truth} seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
        table = pd.DataFrame([r for r in rows if r["truth"] == truth])
        summary = table.groupby(["budget", "strategy"]).agg(
            median_error=("error", "median"), coverage_90=("covered", "mean"), runs=("runs", "median"),
            spent=("spent", "median"))
        print(f"\ntruth {truth}, {args.seeds} seeds (error: |median - truth| / truth of the compute-optimal loss "
              f"at {TARGET['C']:.0e} FLOPs):")
        print(summary.to_string(float_format=lambda x: f"{x:.4f}"), flush=True)


if __name__ == "__main__":
    main()
