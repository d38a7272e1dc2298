"""Decisions between two families, from separate fits or one hierarchical fit (issue 14, "Decisions, simulated").

Each seed simulates two isoFLOP zoos (family A and family B, 5 budgets from 1e18 to 1e22 FLOPs
x 12 sizes, 1 % noise), fits chinchilla to each, and asks bl.prob_better at a budget TARGET_C
beyond the runs and bl.crossing_compute over CROSS_RANGE. Scenarios:

- "A better": B's irreducible loss E is 2 % higher (a margin the runs resolve at the target):
  P(A better) should exceed 0.9 in at least 90 % of seeds.
- "same": both families share the truth: P(A better) should lie in 0.1-0.9 in at least 80 % of
  seeds (a calibrated posterior gives a uniform P across seeds).
- "crossing": B has a larger prefactor A and a steeper exponent alpha, so B loses at small
  budgets and wins at large ones; the 90 % interval of the crossing budget should hold the true
  crossing in about 90 % of seeds.

--hierarchical fits both zoos in one model instead (``groups="family"``, every chinchilla
parameter, E included, varying by family: the scenarios differ in E) and asks Fit.prob_better and
Fit.crossing_compute, whose draws are paired by index.

Usage: python benchmarks/family_decisions.py [--seeds 20] [--hierarchical]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.forecast import compute_optimal_draws
from bayeslaws.synthetic.zoo import DEFAULT_TRUTH

TARGET_C = 1e23  # [FLOPs], 10x the largest budget of the runs
CROSS_RANGE = (1e18, 1e26)  # [FLOPs]
DESIGN = {"n_budgets": 5, "runs_per_budget": 12, "compute_range": (1e18, 1e22), "noise": 0.01}
SAMPLER = {"chains": 4, "warmup": 500, "draws": 500, "progress": False}
TRUTH = dict(DEFAULT_TRUTH["chinchilla"])
SCENARIOS = {
    "A better": {**TRUTH, "E": TRUTH["E"] * 1.02},
    "same": TRUTH,
    "crossing": {**TRUTH, "A": TRUTH["A"] * 4.0, "alpha": TRUTH["alpha"] + 0.06},  # truths cross at 1.1e22 FLOPs
}


def true_crossing(truth_a: dict, truth_b: dict) -> float:
    """The budget [FLOPs] where the two truths' compute-optimal losses meet (NaN if not in range)."""
    law = bl.get_law("chinchilla")
    grid = np.geomspace(*CROSS_RANGE, 20001)
    loss = [compute_optimal_draws(law, {k: np.array([v]) for k, v in t.items()}, grid)["loss_opt"][0]
            for t in (truth_a, truth_b)]
    gap = np.log(loss[0]) - np.log(loss[1])
    change = np.nonzero(np.signbit(gap[:-1]) != np.signbit(gap[1:]))[0]
    return float(grid[change[0]]) if len(change) else float("nan")


def one_seed(scenario: str, seed: int, hierarchical: bool = False) -> dict:
    zoo_a = bl.simulate(params=TRUTH, seed=2 * seed, **DESIGN)
    zoo_b = bl.simulate(params=SCENARIOS[scenario], seed=2 * seed + 1, **DESIGN)
    if hierarchical:
        return one_hierarchical_fit(scenario, seed, zoo_a, zoo_b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_a, fit_b = (bl.fit(z.runs, seed=seed, **SAMPLER) for z in (zoo_a, zoo_b))
    row = {"P(A better)": float(bl.prob_better(fit_a, fit_b, C=TARGET_C)["P(A better)"].iloc[0])}
    if scenario == "crossing":
        row.update(bl.crossing_compute(fit_a, fit_b, CROSS_RANGE))
    row["max_r_hat"] = max(fit_a.diagnostics["max_r_hat"], fit_b.diagnostics["max_r_hat"])
    return row


def one_hierarchical_fit(scenario: str, seed: int, zoo_a, zoo_b) -> dict:
    runs = pd.concat([zoo_a.runs.assign(family="A"), zoo_b.runs.assign(family="B")], ignore_index=True)
    runs["run_id"] = np.arange(len(runs))  # each zoo numbers its runs from 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bl.fit(runs, groups="family", hierarchical=("E", "A", "B", "alpha", "beta"), seed=seed,
                     **SAMPLER)  # bl.fit defaults to target_accept 0.9 with groups
    row = {"P(A better)": float(fit.prob_better("A", "B", C=TARGET_C)["P(A better)"].iloc[0])}
    if scenario == "crossing":
        row.update(fit.crossing_compute("A", "B", CROSS_RANGE))
    row["max_r_hat"] = fit.diagnostics["max_r_hat"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--hierarchical", action="store_true", help="one fit with groups='family' per seed")
    args = parser.parse_args()
    started = time.perf_counter()
    for scenario in SCENARIOS:
        rows = []
        for seed in range(args.seeds):
            rows.append(one_seed(scenario, seed, args.hierarchical))
            print(f"  {scenario} seed {seed}: P(A better) {rows[-1]['P(A better)']:.3f}, max R-hat "
                  f"{rows[-1]['max_r_hat']:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
        p = np.array([r["P(A better)"] for r in rows])
        r_hat = max(r["max_r_hat"] for r in rows)
        print(f"\n{scenario}: P(A better) at C={TARGET_C:.0e} over {args.seeds} seeds: "
              f"min {p.min():.3f}, median {np.median(p):.3f}, max {p.max():.3f}; max R-hat {r_hat:.3f}")
        if scenario == "A better":
            print(f"  P > 0.9 in {np.mean(p > 0.9):.0%} of seeds (target >= 90 %)")
        if scenario == "same":
            print(f"  P in 0.1-0.9 in {np.mean((p > 0.1) & (p < 0.9)):.0%} of seeds (target >= 80 %)")
        if scenario == "crossing":
            truth = true_crossing(TRUTH, SCENARIOS["crossing"])
            inside = [r["C_cross_q05"] <= truth <= r["C_cross_q95"] for r in rows]
            crossed = np.array([r["P(cross)"] for r in rows])
            widths = np.array([np.log10(r["C_cross_q95"] / r["C_cross_q05"]) for r in rows])
            print(f"  true crossing {truth:.3g} FLOPs; P(cross) median {np.median(crossed):.2f}; "
                  f"90 % interval holds it in {np.mean(inside):.0%} of seeds (target about 90 %); "
                  f"median width {np.median(widths):.2f} decades")
        print(f"  ({time.perf_counter() - started:.0f} s so far)", flush=True)


if __name__ == "__main__":
    main()
