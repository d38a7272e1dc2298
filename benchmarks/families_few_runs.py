"""Families with 2, 3 and 5 runs each, drawn from a known population (issue 14).

Per seed: 12 families (four each with 2, 3 and 5 runs; 40 runs over 1e18-1e21 FLOPs at 10-80
tokens per parameter) from bl.simulate_families around the Chinchilla refit, A, B, alpha and
beta varying by family with population sd 0.1 (log units), E shared, 1 % noise. Fitted:

- partial pooling: bl.fit(runs, groups="family") (the default hierarchy: all but E vary);
- no pooling: the same with pooling="none" (each family's offsets under the law's own priors).
  Independent bl.fit per family is refused here: chinchilla has 7 parameters and these
  families 2-5 runs (the RunTableError says so and points to groups=).

Scored per family, by its run count: the 90 % intervals of its alpha and beta cover the truth;
the 90 % interval of its law (mean loss) at 10x its largest compute (20 tokens per parameter)
covers the true loss; the interval's relative width.

Usage: python benchmarks/families_few_runs.py [--seeds 20]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.synthetic import true_loss

RUNS = (2, 3, 5) * 4
SAMPLER = {"chains": 4, "warmup": 1000, "draws": 500, "target_accept": 0.9, "progress": False}


def score(fit, zoo, seed: int, pooling: str) -> list[dict]:
    law = fit.law
    summary = fit.summary()
    rows = []
    for family, truth in zoo.truth["families"].items():
        runs = zoo.runs[zoo.runs["family"] == family]
        C = 10 * runs["C"].max()
        N = np.sqrt(C / 120.0)
        target = pd.DataFrame({"N": [N], "D": [20 * N]})
        p = fit.predict(family=family, N=target["N"], D=target["D"])
        true = true_loss(law, truth, target)[0]
        row = {"seed": seed, "pooling": pooling, "family": family, "runs": len(runs),
               "forecast_covered": p["loss_q05"].iloc[0] <= true <= p["loss_q95"].iloc[0],
               "forecast_width": (p["loss_q95"].iloc[0] - p["loss_q05"].iloc[0]) / true}
        for name in ("alpha", "beta"):
            s = summary.loc[f"{name}_family[{family}]"]
            row[f"{name}_covered"] = s["q05"] <= truth[name] <= s["q95"]
            row[f"{name}_width"] = s["q95"] - s["q05"]
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    rows, fits = [], []
    started = time.perf_counter()
    for seed in range(args.seeds):
        zoo = bl.simulate_families(runs_per_family=RUNS, spread=0.1, seed=seed)
        try:
            bl.fit(zoo.runs[zoo.runs["family"] == "f2"], progress=False)
        except bl.RunTableError as error:
            refused = str(error).split(";")[0]
        for pooling in ("partial", "none"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = bl.fit(zoo.runs, groups="family", pooling=pooling, seed=seed, **SAMPLER)
            d = fit.diagnostics
            fits.append({"seed": seed, "pooling": pooling, **d, "seconds": fit.seconds})
            rows += score(fit, zoo, seed, pooling)
        print(f"seed {seed}: done at {time.perf_counter() - started:.0f} s; partial max R-hat "
              f"{fits[-2]['max_r_hat']:.3f}, divergences {fits[-2]['divergences']}", flush=True)
    table = pd.DataFrame(rows)
    print(f"\nindependent fit of a 5-run family: refused ({refused})\n")
    summary = table.groupby(["pooling", "runs"]).agg(
        families=("family", "size"), alpha_cov=("alpha_covered", "mean"), beta_cov=("beta_covered", "mean"),
        forecast_cov=("forecast_covered", "mean"), alpha_width=("alpha_width", "median"),
        beta_width=("beta_width", "median"), forecast_width=("forecast_width", "median"))
    print(summary.to_string(float_format=lambda x: f"{x:.3f}"))
    overall = table.groupby("pooling")[["alpha_covered", "beta_covered", "forecast_covered"]].mean()
    print("\nall families:\n" + overall.to_string(float_format=lambda x: f"{x:.3f}"))
    diag = pd.DataFrame(fits).groupby("pooling").agg(
        max_r_hat=("max_r_hat", "max"), min_ess=("min_ess_bulk", "min"), divergences=("divergences", "sum"),
        fits_over_1_01=("max_r_hat", lambda r: int((r > 1.01).sum())), seconds=("seconds", "median"))
    print("\nconvergence:\n" + diag.to_string(float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
