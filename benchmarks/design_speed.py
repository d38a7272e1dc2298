"""Ranking 1,000 candidate runs for a 240-run chinchilla fit (issue 16: under 10 s on 2 cores).

The fit (bl.simulate's default zoo, 4 chains x (500 + 500)) is made first and not timed. Timed:
bl.suggest_runs over 1,000 candidates (40 budgets from 1e20 to 1e23 FLOPs x 25 sizes), target the
compute-optimal loss at 1e24 FLOPs, for a batch of k = 10 runs and for a budget of 1e22 FLOPs, and
for each baseline strategy. Best of 3 repeats.

Usage: python benchmarks/design_speed.py
"""

from __future__ import annotations

import time

import numpy as np

import bayeslaws as bl


def main() -> None:
    fit = bl.fit(bl.simulate(seed=0).runs, seed=0, chains=4, warmup=500, draws=500, progress=False)
    pool = bl.isoflop_candidates(np.geomspace(1e20, 1e23, 40), sizes_per_budget=25)
    print(f"{len(fit.runs)} runs, {fit.draws()['E'].size} draws; {len(pool)} candidates; target C=1e24 FLOPs")
    for label, options in (("suggest, k=10", {"k": 10}), ("suggest, budget=1e22", {"budget": 1e22}),
                           ("random, budget=1e22", {"budget": 1e22, "strategy": "random"}),
                           ("cheapest, budget=1e22", {"budget": 1e22, "strategy": "cheapest"}),
                           ("d_optimal, budget=1e22", {"budget": 1e22, "strategy": "d_optimal"})):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            batch = bl.suggest_runs(fit, pool, target={"C": 1e24}, **options)
            times.append(time.perf_counter() - started)
        print(f"{label}: {min(times):.2f} s (best of 3; first {times[0]:.2f} s), {len(batch)} runs chosen, "
              f"target sd {batch['target_sd_before'].iloc[0]:.4f} -> {batch['target_sd_after'].iloc[-1]:.4f}")


if __name__ == "__main__":
    main()
