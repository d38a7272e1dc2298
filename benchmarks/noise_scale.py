"""What bl.NoiseScale costs when the noise does not follow the column.

Chinchilla zoos (bl.simulate: 8 budgets x 15 sizes, 1 % noise) get an ``epochs`` column drawn
log-uniform on 1-300 and unrelated to the noise. Each zoo's top 25 % of compute is held out, and
chinchilla is fitted to the rest with one sigma and with NoiseScale("epochs") (4 x (500 + 500)).
Printed: held-out median relative error, 90 % coverage and width, lpd, and the posterior median of
noise_slope (0 is the truth).

``datablations``: where the noise does follow epochs. Each law fitted alone to the runs below the
top 25 % of compute, with one sigma and with NoiseScale("epochs"), scored on the held-out runs
(the stacked and discrepancy forecasts: ``extrapolation.py real --datasets datablations --noise-by
epochs``).

    python benchmarks/noise_scale.py [--seeds 5]
    python benchmarks/noise_scale.py datablations [--laws farseer,chinchilla]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.backtest import holdout_split, point_scores, score_runs

DATA_HOME = Path(__file__).resolve().parents[2] / "shared" / "datasets"  # as extrapolation.py


def with_and_without(runs: pd.DataFrame, law: str, seed: int) -> list[dict]:
    """Held-out scores of ``law`` with one sigma and with NoiseScale("epochs") (top 25 % of compute held out)."""
    train, held = holdout_split(bl.load_runs(runs, required=()), 0.25)
    rows = []
    for label, terms in (("one sigma", ()), ("NoiseScale", (bl.NoiseScale("epochs"),))):
        fit = bl.fit(train, law, terms=terms, seed=seed, chains=4, warmup=500, draws=500, progress=False)
        scores = point_scores(score_runs(fit, held))
        rows.append({"seed": seed, "law": law, "model": label, "error": scores["median_rel_error"],
                     "coverage_90": scores["coverage_90"], "width_90": scores["width_90"], "lpd": scores["lpd"],
                     "noise_slope": float(np.median(fit.draws()["noise_slope"])) if terms else np.nan})
    return rows


def one_zoo(seed: int) -> list[dict]:
    zoo = bl.simulate(seed=seed, n_budgets=8, runs_per_budget=15)
    rng = np.random.default_rng(100 + seed)
    return with_and_without(zoo.runs.assign(epochs=np.exp(rng.uniform(0.0, np.log(300.0), len(zoo.runs)))),
                            "chinchilla", seed)


def datablations(laws) -> pd.DataFrame:
    frame = bl.datasets.load("datablations2023", data_home=DATA_HOME).frame[["N", "D", "C", "loss", "unique_tokens", "epochs"]]
    return pd.DataFrame([row for law in laws for row in with_and_without(frame, law, 0)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=["simulated", "datablations"], default="simulated")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--laws", type=lambda s: s.split(","), default=["farseer", "chinchilla"])
    args = parser.parse_args()
    warnings.simplefilter("ignore", bl.ConvergenceWarning)
    if args.what == "datablations":
        print(datablations(args.laws).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        return
    table = pd.DataFrame([row for seed in range(args.seeds) for row in one_zoo(seed)])
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(table.groupby("model")[["error", "coverage_90", "width_90", "lpd", "noise_slope"]].mean()
          .to_string(float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
