"""Calibration of curve forecasts on simulated runs with a known schedule law (issue 13).

Each seed draws Luo et al.'s three 25M train curves (cosine and constant to 24k steps, a step
drop at 8k) from the multi-power law at the published 25M constants with AR(1) noise
(bl.simulate_curves: sigma 0.003, correlation length 5 % of a run), fits the multi-power law, and
forecasts Luo's six test schedules (WSD cooldowns, step drops, 72k-step cosine and constant),
never seen by the fit, at a quarter, half, three quarters and all of each run after warmup.

1. Calibration: the share of the true (noiseless) losses inside the law's 90 % interval (target
   0.85-0.95), and the mean interval width relative to the median, once logging every
   ``--every`` steps and once logging twice as often (doubling the checkpoints must not halve
   the width: with correlated residuals the extra points carry little new information).
2. Schedule choice at 24k steps: WSD with a 20 % (1-sqrt) cooldown against the cosine run (WSD
   truly ends lower), and WSD with a short cooldown to a high learning rate against cosine
   (cosine truly ends lower). Right: compare_schedules gives P > 0.9 to the schedule that truly
   ends lower (target: in at least 90 % of seeds); wrong: P > 0.9 to the other one.

    python benchmarks/curve_calibration.py                       # 20 seeds, ar1 likelihood
    python benchmarks/curve_calibration.py --seeds 5 --likelihood normal
    python benchmarks/curve_calibration.py --first-seed 20        # seeds 20-39: fresh zoos
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.data.schedules import parse_schedule

BASE = "warmup=2160,peak=3e-4"
TRAIN = {"cosine_24000": f"cosine:{BASE},total=24000,final=3e-5", "constant_24000": f"constant:{BASE},total=24000",
         "wsdcon_9": f"step:{BASE},total=16000,drop_at=8000,to=9e-5"}
TEST = {"constant_72000": f"constant:{BASE},total=72000", "cosine_72000": f"cosine:{BASE},total=72000,final=3e-5",
        "wsd_20000_24000": f"wsd:{BASE},total=24000,decay_start=20000,final=3e-5,shape=geometric",
        "wsdld_20000_24000": f"wsd:{BASE},total=24000,decay_start=20000,final=3e-5,shape=linear",
        "wsdcon_18": f"step:{BASE},total=16000,drop_at=8000,to=18e-5", "wsdcon_3": f"step:{BASE},total=16000,drop_at=8000,to=3e-5"}
CHOICES = {  # name -> (challenger, incumbent): does the challenger end lower than cosine at 24k?
    "wsd 20% sqrt vs cosine": f"wsd:{BASE},total=24000,decay_start=19200,final=3e-6,shape=sqrt",
    "wsd late, high vs cosine": f"wsd:{BASE},total=24000,decay_start=23000,final=2.5e-4,shape=linear"}
SHARES = (0.25, 0.5, 0.75, 1.0)  # forecast points: shares of each test run after its warmup


def targets() -> pd.DataFrame:
    """The forecast points of the test schedules (run_id, step, schedule) and their true losses."""
    rows = []
    for run_id, text in TEST.items():
        schedule = parse_schedule(text, run_id)
        for share in SHARES:
            step = int(round(schedule.warmup + share * (schedule.total - schedule.warmup)))
            rows.append({"run_id": run_id, "step": step, "schedule": text})
    frame = pd.DataFrame(rows)
    return frame.assign(true_loss=true_losses(frame))


def true_losses(points: pd.DataFrame) -> np.ndarray:
    """The multi-power law's noiseless loss at each (run_id, step, schedule) row."""
    out = np.empty(len(points))
    for i, row in enumerate(points.itertuples()):
        curve = bl.simulate_curves({row.run_id: row.schedule}, first_step=row.step, log_every=10**9, sigma=0.0)
        out[i] = curve.true_loss[0]
    return out


def choice_truths() -> dict[str, bool]:
    """Per comparison: whether the challenger truly ends lower than the cosine run at 24k."""
    cosine = true_losses(pd.DataFrame([{"run_id": "c", "step": 24000, "schedule": TRAIN["cosine_24000"]}]))[0]
    return {name: bool(true_losses(pd.DataFrame([{"run_id": "w", "step": 24000, "schedule": text}]))[0] < cosine)
            for name, text in CHOICES.items()}


def one_fit(seed: int, every: int, points: pd.DataFrame, truths: dict, args) -> dict:
    curves = bl.simulate_curves(TRAIN, log_every=every, seed=seed)
    started = time.perf_counter()
    fit = bl.fit(curves.frame, law="multipower", likelihood=args.likelihood, chains=4, warmup=args.warmup,
                 draws=args.draws, seed=seed, progress=False)
    seconds = time.perf_counter() - started
    covered, widths = [], []
    for run_id, group in points.groupby("run_id", sort=False):
        band = fit.predict_curve(schedule=group["schedule"].iloc[0], steps=group["step"].to_numpy())
        truth = group["true_loss"].to_numpy()
        covered += list((band["loss_q05"].to_numpy() <= truth) & (truth <= band["loss_q95"].to_numpy()))
        widths += list(((band["loss_q95"] - band["loss_q05"]) / band["loss_median"]).to_numpy())
    choices = {}
    for name, challenger in CHOICES.items():
        table = fit.compare_schedules({"challenger": challenger, "cosine": TRAIN["cosine_24000"]}, at_step=24000)
        p_lower = float(table.loc[table["schedule"] == "challenger", "P(lower than cosine)"].iloc[0])
        p_true_winner = p_lower if truths[name] else 1.0 - p_lower
        choices[f"right: {name}"] = p_true_winner > 0.9
        choices[f"wrong: {name}"] = p_true_winner < 0.1  # P > 0.9 for the schedule that truly ends higher
    diag = fit.diagnostics
    return {"seed": seed, "every": every, "points": len(curves.frame), "fit_s": round(seconds, 1),
            "coverage": float(np.mean(covered)), "width": float(np.mean(widths)),
            **choices,
            "max_rhat": diag["max_r_hat"], "divergences": diag["divergences"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--every", type=int, default=480, help="steps between logged points (and half of it)")
    parser.add_argument("--likelihood", default="ar1")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=250)
    args = parser.parse_args(argv)
    points, truths = targets(), choice_truths()
    print("true winner at 24k:", {k: ("challenger" if v else "cosine") for k, v in truths.items()}, flush=True)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for every in (args.every, args.every // 2):
            rows.append(one_fit(seed, every, points, truths, args))
        table = pd.DataFrame(rows)
        summary = table.drop(columns="seed").groupby("every").agg(
            {"points": "mean", "fit_s": "mean", "coverage": "mean", "width": "mean",
             **{c: "mean" for c in table if c.startswith(("right", "wrong"))}, "max_rhat": "max", "divergences": "sum"})
        with pd.option_context("display.width", 220, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
            print(f"after {seed - args.first_seed + 1} seeds ({args.likelihood}):\n{summary.to_string()}", flush=True)


if __name__ == "__main__":
    main()
