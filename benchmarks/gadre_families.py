"""Which training set wins at scale? Gadre et al. (2024)'s three data sets as families (issue 14).

Each family (c4_original, rpj, rw_original) gets its own fit of the overtraining law on its
runs below 1e9 parameters (4 model shapes x 7-8 token multipliers, about 31 runs); the loss is
the C4 validation loss (the dataset's ``loss`` column). bl.prob_better then asks, at 1.4B
parameters and 900B tokens (M = 640) and at the 6.9B, M = 20 point, the probability that c4
beats RedPajama and RefinedWeb, and the held-out runs (all runs from 1.4B up) say whether the
forecasts and their 90 % predictive intervals agree.

The same questions are then asked of one hierarchical fit of all three families' small runs
(``groups="family"``: eta, a and b per family from a population, E shared; Fit.prob_better),
whose held-out runs are scored with each family's own draws.

Usage: python benchmarks/gadre_families.py
"""

from __future__ import annotations

import time
import warnings
from functools import partial

import numpy as np
import pandas as pd

import bayeslaws as bl

FAMILIES = ("c4_original", "rpj", "rw_original")
SMALL = 1e9  # [parameters]: runs below are fitted, runs above held out
TARGETS = {"1.4B, 900B tokens": (1.44e9, 9.2e11), "6.9B, M=20": (6.889411e9, 1.377882e11)}
SAMPLER = {"chains": 4, "warmup": 1000, "draws": 1000, "seed": 0, "progress": False}


def main() -> None:
    frame = bl.datasets.load("gadre2024").frame
    started = time.perf_counter()
    fits = {}
    for family in FAMILIES:
        runs = frame[(frame["family"] == family) & (frame["N"] < SMALL)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            fits[family] = bl.fit(runs[["run_id", "N", "D", "loss"]], law="overtraining", **SAMPLER)
        d = fits[family].diagnostics
        print(f"{family}: {len(runs)} runs, max R-hat {d['max_r_hat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
              f"{d['divergences']} divergences")
    print(f"({time.perf_counter() - started:.0f} s for the three fits)\n")

    held = frame[frame["N"] >= SMALL]
    report(held, partial(predict_separate, fits), partial(decide_separate, fits), "separate fits")

    small = frame[frame["family"].isin(FAMILIES) & (frame["N"] < SMALL)][["run_id", "family", "N", "D", "loss"]]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        joint = bl.fit(small, law="overtraining", groups="family", **{**SAMPLER, "target_accept": 0.9})
    d = joint.diagnostics
    print(f"\nhierarchical fit of {len(small)} runs ({time.perf_counter() - started:.0f} s): max R-hat "
          f"{d['max_r_hat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, {d['divergences']} divergences")
    report(held, partial(predict_joint, joint), partial(decide_joint, joint), "hierarchical fit")


def predict_separate(fits, family, **at):
    return fits[family].predict(**at)


def decide_separate(fits, other, **at):
    return bl.prob_better(fits["c4_original"], fits[other], names=("c4", other), **at)


def predict_joint(fit, family, **at):
    return fit.predict(family=family, **at)


def decide_joint(fit, other, **at):
    return fit.prob_better("c4_original", other, **at).rename(columns=lambda c: c.replace("c4_original", "c4"))


def report(held, predict, decide, label: str) -> None:
    """Held-out runs against each family's forecast, then P(c4 better) at the targets."""
    print(f"\n=== {label} ===")
    rows = []
    for family in FAMILIES:
        mine = held[held["family"] == family]
        forecast = predict(family, N=mine["N"].to_numpy(), D=mine["D"].to_numpy())
        for run, f in zip(mine.itertuples(), forecast.itertuples()):
            rows.append({"family": family, "run": run.model_name, "M": run.chinchilla_multiplier, "loss": run.loss,
                         "median": f.loss_pred_median, "q05": f.loss_pred_q05, "q95": f.loss_pred_q95,
                         "inside": f.loss_pred_q05 <= run.loss <= f.loss_pred_q95})
    table = pd.DataFrame(rows)
    print("Held-out runs (C4 validation loss [nats]) against each family's forecast of a new run:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"90 % predictive coverage: {table['inside'].sum()} of {len(table)}\n")

    for label, (N, D) in TARGETS.items():
        for other in FAMILIES[1:]:
            result = decide(other, N=N, D=D).iloc[0]
            line = (f"{label}: P(c4 beats {other}) = {result['P(c4 better)']:.3f}; loss c4 {result['loss_c4_median']:.3f} "
                    f"vs {result[f'loss_{other}_median']:.3f}, difference {result['difference_median']:+.3f} "
                    f"[{result['difference_q05']:+.3f}, {result['difference_q95']:+.3f}]")
            observed = held[(np.isclose(held["N"], N, rtol=0.01)) & (np.isclose(held["D"], D, rtol=0.01))]
            losses = observed.set_index("family")["loss"]
            if {"c4_original", other} <= set(losses.index):
                line += (f"; observed c4 {losses['c4_original']:.3f} vs {losses[other]:.3f}: "
                         f"{'agrees' if (losses['c4_original'] < losses[other]) == (result['P(c4 better)'] > 0.5) else 'disagrees'}")
            else:
                line += "; not observed for both"
            print(line)


if __name__ == "__main__":
    main()
