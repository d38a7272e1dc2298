"""suggest_runs' linear-Gaussian variance reduction against refits that add the run (issue 16).

A 32-run chinchilla zoo (4 budgets x 8 sizes, 1e18-1e20 FLOPs) is fitted; the target is the
compute-optimal log loss at 1e22 FLOPs. For candidate runs on isoFLOP curves at 1e20-1e21 FLOPs,
the predicted sd of the target after adding one run is compared with the sd from refits with the
run added, its loss drawn from the posterior predictive ("fantasies", several per candidate).

Usage: python benchmarks/design_check.py [--fantasies 4]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.design import _target_log_loss

TARGET = {"C": 1e22}
SAMPLER = {"chains": 4, "warmup": 500, "draws": 500, "progress": False}


def fantasy_sd(fit, runs: pd.DataFrame, candidate: pd.Series, fantasies: int, seed: int) -> list[float]:
    """sd of the target's log loss after refits that add the candidate with predictive-drawn losses."""
    draws = fit.predict(N=candidate["N"], D=candidate["D"], draws=True, seed=seed)["loss_pred"].to_numpy()
    rng = np.random.default_rng(seed)
    sds = []
    for loss in rng.choice(draws, fantasies, replace=False):
        grown = pd.concat([runs, pd.DataFrame({"N": [candidate["N"]], "D": [candidate["D"]], "C": [candidate["C"]],
                                               "loss": [loss]})], ignore_index=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            refit = bl.fit(grown, seed=seed, **SAMPLER)
        sds.append(float(np.std(_target_log_loss(refit, refit.draws(), TARGET))))
    return sds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fantasies", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=4, help="how many candidates to check")
    args = parser.parse_args()
    started = time.perf_counter()
    runs = bl.simulate(n_budgets=4, runs_per_budget=8, compute_range=(1e18, 1e20), seed=0).runs[["N", "D", "C", "loss"]]
    fit = bl.fit(runs, seed=0, **SAMPLER)
    before = float(np.std(_target_log_loss(fit, fit.draws(), TARGET)))
    pool = bl.isoflop_candidates([1e20, 1e21], sizes_per_budget=5)
    ranked = bl.suggest_runs(fit, pool, target=TARGET, k=len(pool), cost="C")  # every candidate, greedy order
    rows = []
    for i in np.linspace(0, len(pool) - 1, args.candidates).round().astype(int):
        candidate = pool.iloc[i]
        # one run at a time: a one-row pool gives that run's own predicted reduction
        predicted = bl.suggest_runs(fit, pool.iloc[[i]], target=TARGET, k=1, cost="C")["target_sd_after"].iloc[0]
        refits = fantasy_sd(fit, runs, candidate, args.fantasies, seed=int(i))
        rows.append({"N": candidate["N"], "D": candidate["D"], "C": candidate["C"], "sd before": before,
                     "predicted sd after": predicted, "refit sd after (mean)": np.mean(refits),
                     "refit sd (min-max)": f"{min(refits):.4f}-{max(refits):.4f}"})
        print(f"candidate {i} done ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"\nTarget: compute-optimal log loss at {TARGET['C']:.0e} FLOPs; 32 runs; {args.fantasies} refits per candidate")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\nGreedy batch over the whole pool (cost = C):")
    print(ranked.head(5).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
