"""Curve fits at scale (issue 13): how long a fit of many long training curves takes on this
machine, and how the AR(1) curve likelihood changes intervals on real checkpoints.

1. simulated: 50 runs under 24,000-step schedules (cosine, WSD with three cooldown shapes,
   constant, step drops; three peak learning rates), about 200 logged points each (10,000
   points), drawn by bl.simulate_curves from the multi-power law at Luo et al.'s 25M constants
   with AR(1) noise. Fit: multipower, ar1, 4 chains x (300 warmup + 1000 draws), bl.fit's
   default start for tables this large (init="laplace_fixed"); with 500 draws R-hat read
   1.0085-1.026 over seeds 0-2, with 1000 1.002-1.009 (R-hat of short chains is itself noisy). Prints wall time, R-hat, ESS and
   whether the truth lies in each parameter's 90 % interval. Target: R-hat <= 1.01 in < 3 min.
2. gpt3: the 6,506 validation checkpoints of ColPret's 8 GPT-3 runs (loss against N and tokens
   D), fitted with chinchilla as independent points (student_t, the old behaviour), on all
   checkpoints and on the checkpoints with digitised duplicates (same run, same token count)
   averaged, and as curves (ar1: run_id = model, step = tokens; it needs strictly increasing
   steps, hence the averaging). Prints each parameter's 90 % interval, its width and the time.

    python benchmarks/curve_scale.py --parts simulated
    python benchmarks/curve_scale.py --parts gpt3 --init laplace --warmup 500 --draws 500
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import bayeslaws as bl

DATA_HOME = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TOTAL = 24_000


def fifty_schedules() -> dict[str, str]:
    """50 schedule strings over 24,000 steps (warmup 2,160), cycling kinds and peaks."""
    kinds = ["cosine:total={t},final={f}", "wsd:total={t},decay_start=19200,final={z},shape=sqrt",
             "wsd:total={t},decay_start=16800,final={f},shape=linear", "wsd:total={t},decay_start=21600,final={z},shape=geometric",
             "constant:total={t}", "step:total={t},drop_at=16000,to={h}", "cosine:total={t},final={z}"]
    peaks = [2e-4, 3e-4, 4.5e-4]
    out = {}
    for i in range(50):
        peak = peaks[i % 3]
        body = kinds[i % len(kinds)].format(t=TOTAL, f=f"{peak / 10:g}", h=f"{peak / 3:g}", z=f"{peak / 100:g}")
        kind, rest = body.split(":", 1)
        out[f"run{i:02d}"] = f"{kind}:warmup=2160,peak={peak:g},{rest}"
    return out


def simulated(args) -> None:
    curves = bl.simulate_curves(fifty_schedules(), log_every=110, seed=args.seed)
    frame = curves.frame
    print(f"simulated: {frame['run_id'].nunique()} runs, {len(frame)} points, {TOTAL}-step schedules", flush=True)
    started = time.perf_counter()
    fit = bl.fit(frame, law="multipower", chains=4, warmup=args.warmup, draws=args.draws, seed=args.seed,
                 init=args.init, progress=not args.quiet)
    seconds = time.perf_counter() - started
    summary = fit.summary(ci_prob=0.9)
    rows = []
    for name, true in curves.truth.items():
        row = summary.loc[name]
        rows.append({"param": name, "truth": true, "median": row["median"], "q05": row["q05"], "q95": row["q95"],
                     "r_hat": row["r_hat"], "ess_bulk": row["ess_bulk"]})
    table = pd.DataFrame(rows)
    table["covered"] = (table["truth"] >= table["q05"]) & (table["truth"] <= table["q95"])
    diag = fit.diagnostics
    print(table.to_string(index=False))
    print(f"fit: {seconds:.1f} s wall (compilation included), max R-hat {diag['max_r_hat']:.4f}, "
          f"min bulk ESS {diag['min_ess_bulk']:.0f}, divergences {diag['divergences']}; "
          f"target: R-hat <= 1.01 in < 180 s", flush=True)


def gpt3_checkpoints() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The validation checkpoints (N, D, loss), and the same with one row per (model, tokens):
    duplicates averaged, run_id = model and step = tokens."""
    frame = bl.datasets.load("colpret", "gpt3_curves", data_home=DATA_HOME).frame
    val = frame[frame["loss_split"] == "val"]
    merged = (val.groupby(["model", "D"], as_index=False).agg(N=("N", "first"), loss=("loss", "mean"))
              .sort_values(["model", "D"], ignore_index=True))
    return val[["N", "D", "loss"]], merged.assign(run_id=merged["model"], step=merged["D"])


def gpt3(args) -> None:
    every, points = gpt3_checkpoints()
    print(f"gpt3: {len(every)} checkpoints of {points['run_id'].nunique()} runs; {len(points)} after averaging "
          f"{len(every) - len(points)} digitised duplicates (same run, same tokens)", flush=True)
    fits = [("student_t", "all checkpoints", every), ("student_t", "averaged", points[["N", "D", "loss"]]),
            ("ar1", "averaged", points[["run_id", "step", "N", "D", "loss"]])]
    rows = []
    for likelihood, label, table in fits:
        started = time.perf_counter()
        fit = bl.fit(table, law="chinchilla", likelihood=likelihood, chains=4, warmup=args.warmup, draws=args.draws,
                     seed=args.seed, init=args.init, progress=not args.quiet)
        seconds = time.perf_counter() - started
        summary = fit.summary(ci_prob=0.9)
        for name in ("alpha", "beta", "E"):
            q05, q95 = summary.loc[name, "q05"], summary.loc[name, "q95"]
            rows.append({"likelihood": likelihood, "points": f"{label} ({len(table)})", "param": name, "q05": q05,
                         "q95": q95, "width": q95 - q05, "fit_s": round(seconds, 1),
                         "max_rhat": fit.diagnostics["max_r_hat"], "divergences": fit.diagnostics["divergences"]})
        print(pd.DataFrame(rows).to_string(index=False), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["simulated", "gpt3"])
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", default=None, help="bl.fit's init (default: its own, laplace_fixed above 5,000 rows)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    for part in args.parts:
        {"simulated": simulated, "gpt3": gpt3}[part](args)


if __name__ == "__main__":
    main()
