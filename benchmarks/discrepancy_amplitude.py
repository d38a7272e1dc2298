"""How wide should the discrepancy term's band be? Held-out coverage against its amplitude prior.

chinchilla with bl.Discrepancy(amplitude=a) (a = 0: the plain law) is fitted alone to the training
runs of benchmarks/extrapolation.py (the top 25 % of compute held out) and scored on the held-out
runs: median relative error of the predictive median, 90 % coverage and width of a new run's
interval. The runs hardly inform the amplitude, so its prior is the band beyond them: this is the
study behind the default (bayeslaws/terms/discrepancy.py).

    python benchmarks/discrepancy_amplitude.py simulated --seeds 10 --amplitudes 0,0.02,0.04,0.06,0.08
    python benchmarks/discrepancy_amplitude.py simulated --first-seed 10 --seeds 20 --amplitudes 0.06
    python benchmarks/discrepancy_amplitude.py real --amplitudes 0,0.02,0.06
    python benchmarks/discrepancy_amplitude.py simulated --seeds 5 --amplitudes 0.02,0.06 --target-accepts 0.8,0.9,0.95
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.backtest import holdout_split, point_scores, score_runs
from extrapolation import DRAWS, OUTER, TRUTHS, ZOO, real_datasets


def scored(runs: pd.DataFrame, amplitude: float, seed: int, lengthscale: float = 1.0,
           target_accept: float | None = None) -> tuple[pd.DataFrame, bl.Fit]:
    """Per held-out run scores of chinchilla with the term (amplitude 0: without it);
    target_accept None: bl.fit's default."""
    train, test = holdout_split(bl.load_runs(runs, required=()), OUTER)
    term = bl.Discrepancy(amplitude=amplitude, lengthscale=lengthscale) if amplitude > 0 else False
    fit = bl.fit(train, "chinchilla", discrepancy=term, seed=seed, progress=False, target_accept=target_accept,
                 **DRAWS)
    return score_runs(fit, test, seed), fit


def line(label: str, scores: pd.DataFrame) -> str:
    s = point_scores(scores)
    return (f"{label}: {len(scores)} held out, error {s['median_rel_error']:.4f}, 90 % coverage "
            f"{s['coverage_90']:.3f}, 90 % width {s['width_90']:.4f}")


def simulated(args) -> None:
    started = time.perf_counter()
    for truth in args.truths:
        make_law, params = TRUTHS[truth]
        rows = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs = bl.simulate(make_law(), params, seed=seed, **ZOO).runs[["N", "D", "C", "loss"]]
            for amplitude in args.amplitudes:
                for target_accept in args.target_accepts:
                    scores, fit = scored(runs, amplitude, seed, args.lengthscale, target_accept)
                    posterior = np.median(fit.draws()["discrepancy_amplitude"]) if amplitude > 0 else np.nan
                    rows.append(scores.assign(amplitude=amplitude, target_accept=target_accept or 0.0,
                                              posterior_amplitude=posterior,
                                              divergences=fit.diagnostics["divergences"] / len(scores)))
        every = pd.concat(rows)
        for (amplitude, target_accept), group in every.groupby(["amplitude", "target_accept"]):
            setting = f", target_accept {target_accept:g}" if target_accept else ""
            print(line(f"truth {truth}, amplitude {amplitude:g}{setting}", group)
                  + f", posterior amplitude (median over seeds) {group['posterior_amplitude'].median():.4f}"
                  + f", divergent draws {group['divergences'].sum():.0f}", flush=True)
        print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def real(args) -> None:
    for name, runs in real_datasets(args.datasets).items():
        for amplitude in args.amplitudes:
            scores, fit = scored(runs, amplitude, 0, args.lengthscale)
            d = fit.diagnostics
            print(line(f"{name}, amplitude {amplitude:g}", scores)
                  + f", max R-hat {d['max_r_hat']:.3f}, divergences {d['divergences']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["simulated", "real"])
    parser.add_argument("--amplitudes", type=lambda s: [float(a) for a in s.split(",")], default=[0.0, 0.02, 0.06])
    parser.add_argument("--truths", type=lambda s: s.split(","), default=["broken", "farseer", "chinchilla"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--datasets", type=lambda s: s.split(","), default=None)
    parser.add_argument("--lengthscale", type=float, default=1.0, help="median of the lengthscale prior [half-ranges]")
    parser.add_argument("--target-accepts", type=lambda s: [float(a) for a in s.split(",")], default=[None],
                        help="simulated: NUTS target_accept values to compare, e.g. 0.8,0.9,0.95 (default: bl.fit's)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", bl.ConvergenceWarning)
    simulated(args) if args.what == "simulated" else real(args)


if __name__ == "__main__":
    main()
