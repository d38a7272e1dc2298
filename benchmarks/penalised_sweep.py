"""Benchmark: the penalised law on a 2,000-run lr x batch-size sweep (issue 5).

Simulates the Step-Law-like sweep (5 sizes 2e8-1e9 non-embedding parameters, 10 token counts
4e9-1e11, 20 learning rates x 10 batch sizes, asymmetric basin, about 2 % diverged runs,
0.3 % noise), then
  1. fits the asymmetric (linex) penalised Chinchilla law, 4 chains: wall time, max R-hat,
     min bulk ESS, divergences (the scale target: under 90 s on the 2-core machine);
  2. fits the symmetric (quadratic) penalised law and compares the two by PSIS-LOO;
  3. fits the plain law to all runs and to the best run per (N, D) cell, and prints the three
     relative errors of the loss forecast at 10x the largest cell's compute.

    python benchmarks/penalised_sweep.py [--warmup 500] [--draws 500] [--target-accept 0.8] [--seed 0] [--init laplace] [--skip-value]
"""

from __future__ import annotations

import argparse
import time
import warnings

import arviz as az


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--max-tree-depth", type=int, default=10)
    parser.add_argument("--target-accept", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", choices=("prior", "laplace"), default="laplace")
    parser.add_argument("--skip-value", action="store_true", help="skip the value-of-penalty fits")
    args = parser.parse_args()

    started = time.perf_counter()
    import bayeslaws as bl
    from bayeslaws.terms.penalty import Penalty
    from penalty_value_study import best_run_per_cell, forecast_errors, scale_up_target
    from bayeslaws.synthetic.sweeps import simulate_sweep

    print(f"imports {time.perf_counter() - started:.1f} s")
    zoo = simulate_sweep(basin="linex", seed=args.seed)
    runs = zoo.runs.drop(columns=["diverged"])
    print(f"sweep: {len(runs)} runs, {zoo.design['diverged_fraction']:.1%} diverged (kept), truth k_lr = {zoo.truth['k_lr']}")
    sampler = {"chains": 4, "warmup": args.warmup, "draws": args.draws, "max_tree_depth": args.max_tree_depth,
               "target_accept": args.target_accept, "init": args.init,
               "seed": args.seed, "progress": False}
    warnings.simplefilter("always")

    fits = {}
    for basin in ("linex", "quadratic"):
        wall = time.perf_counter()
        fits[basin] = bl.fit(runs, penalty=Penalty(basin=basin), **sampler)
        wall = time.perf_counter() - wall
        d = fits[basin].diagnostics
        print(f"{basin:9s} basin: wall {wall:6.1f} s (fit.seconds {fits[basin].seconds:.1f}, compilation included), "
              f"max R-hat {d['max_r_hat']:.4f}, min bulk ESS {d['min_ess_bulk']:.0f}, divergences {d['divergences']}, "
              f"tree-depth saturation {d['tree_depth_saturation']:.1%}")
    summary = fits["linex"].summary()
    for name in ("alpha", "beta", "cN", "cD", "bD", "bN", "w_lr", "k_lr", "w_bs"):
        row = summary.loc[name]
        print(f"  {name:6s} median {row['median']:.4g}  90% [{row['q05']:.4g}, {row['q95']:.4g}]  truth {zoo.truth[name]:.4g}")
    comparison = az.compare({f"{b} basin": f.tree for b, f in fits.items()})
    print("LOO comparison (asymmetric sweep):")
    print(comparison[["rank", "elpd", "p", "elpd_diff", "dse", "weight"]].to_string(float_format=lambda v: f"{v:.1f}"))

    if args.skip_value:
        return
    target = scale_up_target(runs)
    plain = {"plain, all runs": bl.fit(runs, **sampler), "plain, best run per cell": bl.fit(best_run_per_cell(runs), **sampler)}
    errors = forecast_errors(zoo, {**plain, "penalised (linex)": fits["linex"]}, target)
    print(f"forecast at N = {target['N']:.3g}, D = {target['D']:.3g} (10x the largest cell's compute):")
    print(errors.to_string(float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
