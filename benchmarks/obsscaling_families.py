"""Partial pooling against no pooling and complete pooling on ObsScaling's 47 model families (issue 14).

Ruan et al. (2024)'s table of public base models: benchmark error (1 - accuracy) against
training compute C = 6ND [FLOPs], 123 models with a known token count. The law is the sigmoid in
log compute (``sigmoid_compute``); families differ in compute efficiency, i.e. in C_mid (the
paper's family-specific offset), and here also in slope and error floor (the hierarchy's default:
every parameter but the benchmark's chance level; ``--vary C_mid`` is the paper's form).

For every family with at least 4 models, its largest-compute model is held out; every other model
(of all families) is fitted. Three fits of the same law and priors:

- partial: groups="family", the population sds learnt (of ln C_mid: HalfNormal(3), families can
  differ by factors of 100 in compute efficiency; of others: HalfNormal(0.3));
- none: groups="family", pooling="none" (each family's varying parameters under the law's own
  wide priors);
- complete: one law for every model, families ignored.

Scores over the held-out models: mean log predictive density (of log error), 90 % coverage of the
new-model predictive interval, median relative error.

Last, the speed line: the partial-pooling fit of all models with a known compute.

Usage: python benchmarks/obsscaling_families.py [--metric err_hellaswag] [--draws 1000] [--vary C_mid,slope,floor]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import numpyro.distributions as dist
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.backtest import score_runs

MIN_MODELS = 4
SD_PRIOR = {"C_mid": 3.0}  # HalfNormal scales of the population sds [log units]; others 0.3


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fitted, held out): each family with >= MIN_MODELS models loses its largest-compute one."""
    counts = frame.groupby("family")["C"].transform("size")
    largest = frame.groupby("family")["C"].transform("max") == frame["C"]
    held = (counts >= MIN_MODELS) & largest
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--metric", default="err_hellaswag")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--vary", default="C_mid,slope,floor",
                        help="parameters that vary by family, comma-separated (default: the hierarchy's)")
    args = parser.parse_args()
    table = bl.datasets.load("obsscaling2024").frame
    frame = table.dropna(subset=["flops", args.metric]).rename(columns={"flops": "C"})
    frame = frame[["run_id", "family", "N", "C", args.metric]].reset_index(drop=True)
    fitted, held = split(frame)
    print(f"{args.metric}: {len(frame)} models of {frame['family'].nunique()} families; {len(held)} held out "
          f"(the largest of each family with >= {MIN_MODELS}), {len(fitted)} fitted\n")
    sampler = {"chains": 4, "warmup": 1000, "draws": args.draws, "target_accept": 0.9, "seed": 0, "progress": False}
    vary = tuple(args.vary.split(","))
    sd_priors = {f"{p}_family_sd": dist.HalfNormal(SD_PRIOR.get(p, 0.3)) for p in vary}
    models = {
        "partial": {"groups": "family", "hierarchical": vary, "priors": sd_priors},
        "none": {"groups": "family", "hierarchical": vary, "pooling": "none"},
        "complete": {},
    }
    rows = []
    for name, options in models.items():
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = bl.fit(fitted, law="sigmoid_compute", response=args.metric, **options, **sampler)
        seconds = time.perf_counter() - started
        scores = score_runs(fit, held)
        d = fit.diagnostics
        rows.append({"pooling": name, "mean lpd": scores["lpd"].mean(), "se": scores["lpd"].std(ddof=1) / np.sqrt(len(scores)),
                     "coverage_90": scores["covered_90"].mean(),
                     "median rel. error": np.median(np.abs(scores["median"] - scores["observed"]) / scores["observed"]),
                     "max R-hat": d["max_r_hat"], "min ESS": d["min_ess_bulk"], "divergences": d["divergences"],
                     "seconds": seconds})
        if name == "partial":
            per_model = held[["family", "run_id", "C", args.metric]].assign(
                median=scores["median"].to_numpy(), q05=scores["q05"].to_numpy(), q95=scores["q95"].to_numpy(),
                covered=scores["covered_90"].to_numpy(), lpd=scores["lpd"].to_numpy())
            sd = fit.summary().loc[[f"{p}_family_sd" for p in vary]]
        if name == "none":
            none_lpd = scores["lpd"].to_numpy()
        print(f"{name}: {seconds:.0f} s; {len({str(w.message)[:60] for w in caught})} distinct warnings", flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    paired = per_model["lpd"].to_numpy() - none_lpd
    print(f"\npartial - none, paired over held-out models: mean lpd difference {paired.mean():.3f} "
          f"(se {paired.std(ddof=1) / np.sqrt(len(paired)):.3f})")
    for name, s in sd.iterrows():
        print(f"partial pooling: population sd {name} {s['median']:.2f} (90 %: {s['q05']:.2f}-{s['q95']:.2f})")
    print()
    print(per_model.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        everything = bl.fit(frame, law="sigmoid_compute", response=args.metric, **models["partial"], **sampler)
    d = everything.diagnostics
    worst = everything.summary()["r_hat"].idxmax()
    print(f"\nspeed: partial pooling on all {len(frame)} models: {everything.seconds:.0f} s; max R-hat "
          f"{d['max_r_hat']:.3f} ({worst}), min bulk ESS {d['min_ess_bulk']:.0f}, {d['divergences']} divergences")


if __name__ == "__main__":
    main()
