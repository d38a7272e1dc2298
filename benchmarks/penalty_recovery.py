"""Recovery and value of the penalty over several simulated sweeps (issue 5).

For each basin (symmetric quadratic, asymmetric linex) and seed: simulate a sweep, fit the
penalised law with the matching basin, and check whether the 90 % intervals hold the true
exponents (alpha, beta, cN, cD, bD, bN, and k_lr for linex) and the true lr*, B* at the
largest (N, D) cell. Then, per seed, the relative errors of the loss forecast at 10x the largest
cell's compute for the plain law on all runs, on the best run per cell, and the penalised law.

    python benchmarks/penalty_recovery.py [--seeds 3] [--n-lr 6] [--n-batch 4] [--warmup 500] [--draws 500]
                                          [--likelihood student_t]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

EXPONENTS = ("alpha", "beta", "cN", "cD", "bD", "bN")


def recovery_hits(zoo, fit) -> dict[str, bool]:
    """Whether each true exponent and the true lr*, B* at the largest cell lie in the 90 % interval."""
    summary = fit.summary(ci_prob=0.9)
    names = EXPONENTS + (("k_lr",) if "k_lr" in summary.index else ())
    hits = {n: bool(summary.loc[n, "q05"] <= zoo.truth[n] <= summary.loc[n, "q95"]) for n in names}
    largest = zoo.runs.loc[(zoo.runs["N"] * zoo.runs["D"]).idxmax()]
    optimum = fit.optimal_hyperparameters(N=largest["N"], D=largest["D"], ci_prob=0.9).iloc[0]
    true_optimum = {"lr": zoo.truth["lr_ref"], "batch_size": zoo.truth["batch_ref"]}
    if (largest["N"], largest["D"]) != (1e9, 1e11):
        raise ValueError("the largest cell is not the reference scale; compute the true optimum there")
    for name, truth in true_optimum.items():
        hits[f"{name}*"] = bool(optimum[f"{name}_q05"] <= truth <= optimum[f"{name}_q95"])
    return hits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-lr", type=int, default=6)
    parser.add_argument("--n-batch", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--likelihood", default="student_t", help="for all fits")
    args = parser.parse_args()

    import bayeslaws as bl
    from bayeslaws.terms.penalty import Penalty
    from penalty_value_study import best_run_per_cell, forecast_errors, scale_up_target
    from bayeslaws.synthetic.sweeps import simulate_sweep

    warnings.simplefilter("ignore", bl.ConvergenceWarning)
    sampler = {"chains": 4, "warmup": args.warmup, "draws": args.draws, "likelihood": args.likelihood, "progress": False}
    rows, errors = [], []
    for basin in ("quadratic", "linex"):
        for seed in range(args.seeds):
            zoo = simulate_sweep(basin=basin, n_lr=args.n_lr, n_batch=args.n_batch, seed=seed)
            runs = zoo.runs.drop(columns=["diverged"])
            fit = bl.fit(runs, penalty=Penalty(basin=basin), seed=seed, **sampler)
            d = fit.diagnostics
            rows.append({"basin": basin, "seed": seed, "runs": len(runs), "seconds": fit.seconds,
                         "divergences": d["divergences"], "max_r_hat": d["max_r_hat"], **recovery_hits(zoo, fit)})
            plain = {"plain, all runs": bl.fit(runs, seed=seed, **sampler),
                     "plain, best per cell": bl.fit(best_run_per_cell(runs), seed=seed, **sampler)}
            table = forecast_errors(zoo, {**plain, "penalised": fit}, scale_up_target(runs))
            errors.append(table["relative_error"].rename(f"{basin} seed {seed}"))
    hits = pd.DataFrame(rows)
    checks = [c for c in hits.columns if c not in ("basin", "seed", "runs", "seconds", "divergences", "max_r_hat")]
    pd.set_option("display.width", 200)
    print(hits.to_string(float_format=lambda v: f"{v:.3f}"))
    for basin, group in hits.groupby("basin"):
        values = group[checks].to_numpy(dtype=float)
        valid = ~np.isnan(values)
        print(f"{basin}: 90% interval hit rate {values[valid].mean():.2f} ({int(values[valid].sum())}/{valid.sum()})")
    table = pd.concat(errors, axis=1).T
    print("relative error of the loss forecast at 10x compute:")
    print(table.to_string(float_format=lambda v: f"{v:.4%}"))
    print("mean:", table.mean().to_dict())


if __name__ == "__main__":
    main()
