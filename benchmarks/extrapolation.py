"""Held-out extrapolation: coverage and error of single laws, the stack and the discrepancy term.

For each dataset the top 25 % of runs by compute are held out. On the rest (the training runs)
every law is fitted; the stacking weights come from a backtest *inside* the training runs (their
own top 25 % held out), so the held-out runs never inform the weights. Then each forecast is
scored on the held-out runs: median relative error of the predictive median and the share of
runs inside the 90 % predictive interval (a new run's loss, noise included).

    python benchmarks/extrapolation.py real                 # Porian, datablations, Gadre
    python benchmarks/extrapolation.py simulated --seeds 20 # zoos from laws outside the fitted set
    python benchmarks/extrapolation.py simulated --first-seed 20 --seeds 20   # seeds 20-39
    python benchmarks/extrapolation.py real --datasets gadre_rpj --laws chinchilla,kaplan
    python benchmarks/extrapolation.py real --datasets datablations --noise-by epochs   # sigma grows with epochs

Forecasts: each law alone; "stack" (bl.stack of the laws); "discrepancy" (chinchilla with
bl.fit(..., discrepancy=True)); "stack+discrepancy" (the stack of laws each with the term);
"stack(both)" (one set of stacking weights over every law with and without the term).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.results.backtest import HOLDOUTS, holdout_split, point_scores, score_runs
from bayeslaws.results.stacking import NEGLIGIBLE_WEIGHT

DATA_HOME = Path(__file__).resolve().parents[2] / "shared" / "datasets"
LAWS = ("chinchilla", "kaplan", "chinchilla_interaction", "farseer", "bnsl")
DRAWS = {"chains": 4, "warmup": 500, "draws": 500}
OUTER, INNER = 0.25, HOLDOUTS  # INNER: the inner backtest's held-out shares (--inner), bl.backtest's default


def real_datasets(names) -> dict[str, pd.DataFrame]:
    """The public benchmarks: one configuration of Porian's isoFLOP points (the tuned one),
    datablations' final losses, and each Gadre family."""
    out = {}
    porian = bl.datasets.load("porian2024", "isoflop_points", data_home=DATA_HOME).frame
    for dataset in ("rw", "owt2"):
        rows = (porian["dataset"] == dataset) & (porian["label"] == "Optimizer tuning (no decay)")
        frame = porian.loc[rows, ["N", "D", "C", "loss"]].reset_index(drop=True)
        # columns for --noise-by: the runs trained on fewer tokens than parameters are the ones every law misses
        fewer = np.where(frame["D"] < frame["N"], 10.0, 1.0)
        out[f"porian_{dataset}"] = frame.assign(tokens_per_parameter=frame["D"] / frame["N"],
                                                fewer_tokens_than_parameters=fewer)
    datablations = bl.datasets.load("datablations2023", data_home=DATA_HOME).frame
    out["datablations"] = datablations[["N", "D", "C", "loss", "unique_tokens", "epochs"]]
    gadre = bl.datasets.load("gadre2024", data_home=DATA_HOME).frame
    for family in ("c4_original", "rpj", "rw_original"):
        out[f"gadre_{family.split('_')[0]}"] = gadre.loc[gadre["family"] == family, ["N", "D", "C", "loss"]].reset_index(drop=True)
    return {k: v for k, v in out.items() if not names or k in names}


def forecasts(runs: pd.DataFrame, laws, seed: int, discrepancy: str = "stack", inner=INNER,
              term: bl.Discrepancy = bl.Discrepancy(), terms=(), likelihood: str | None = None,
              min_tokens_per_parameter: float = 0.0) -> pd.DataFrame:
    """Per-run scores on the held-out top 25 % for each law, the stack and the discrepancy fits
    (discrepancy: "none", "chinchilla" (that law with the term) or "stack" (also the stack of
    every law with the term)). terms: added to every fit (e.g. a NoiseScale); likelihood: every
    fit's (None: bl.fit's default); min_tokens_per_parameter: training runs with fewer tokens per
    parameter are left out (the held-out runs are all kept)."""
    options = {**DRAWS, **({"likelihood": likelihood} if likelihood else {})}
    train, test = holdout_split(bl.load_runs(runs, required=()), OUTER)
    if min_tokens_per_parameter > 0:
        kept = train.frame[train.frame["D"] >= min_tokens_per_parameter * train.frame["N"]]
        train = bl.load_runs(kept.drop(columns=["row"], errors="ignore").reset_index(drop=True), required=())
    scored = {}
    inner_splits = list(inner)
    inner = bl.backtest(train, laws, holdout=inner_splits, seed=seed, progress=False, warn=False, terms=terms,
                        **options)
    for law in laws:
        scored[law] = score_runs(inner.fit_all(law), test, seed)
    weights = bl.stacking_weights(inner)
    scored["stack"] = bl.stack(inner, weights=weights, progress=False).score(test, seed)
    if discrepancy == "chinchilla":
        fitted = bl.fit(train, "chinchilla", discrepancy=term, terms=terms, seed=seed, progress=False, **options)
        scored["discrepancy"] = score_runs(fitted, test, seed)
    elif discrepancy == "stack":
        inner_d = bl.backtest(train, laws, holdout=inner_splits, seed=seed, progress=False, warn=False,
                              discrepancy=term, terms=terms, **options)
        scored["discrepancy"] = score_runs(inner_d.fit_all("chinchilla"), test, seed)
        weights_d = bl.stacking_weights(inner_d)
        scored["stack+discrepancy"] = bl.stack(inner_d, weights=weights_d, progress=False).score(test, seed)
        weights.update({f"{k}+d": w for k, w in weights_d.items()})
        both = _joint_weights(inner, inner_d)
        kept = {name: w for name, w in both.items() if w >= NEGLIGIBLE_WEIGHT}  # as bl.stack keeps them
        fits = {name: inner_d.fit_all(name[:-2]) if name.endswith("+d") else inner.fit_all(name) for name in kept}
        scored["stack(both)"] = bl.Stack(fits, {k: w / sum(kept.values()) for k, w in kept.items()}).score(test, seed)
        weights.update({f"both:{k}": w for k, w in both.items()})
    frame = pd.concat([s.assign(forecast=name) for name, s in scored.items()], ignore_index=True)
    frame.attrs["weights"] = weights
    return frame


def term(args) -> bl.Discrepancy:
    """The discrepancy term of the command line's --amplitude and --lengthscale."""
    return bl.Discrepancy(amplitude=args.amplitude, lengthscale=args.lengthscale)


def _joint_weights(plain, with_term) -> dict[str, float]:
    """Stacking weights over every law with and without the discrepancy term (one backtest of both)."""
    points = pd.concat([plain.points, with_term.points.assign(law=with_term.points["law"] + "+d")], ignore_index=True)
    laws = list(plain.laws) + [f"{k}+d" for k in with_term.laws]
    merged = bl.Backtest(plain.runs, laws, pd.concat([plain.scores, with_term.scores]), points)
    return bl.stacking_weights(merged)


def summarise(points: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    rows = [{**dict(zip(by, key if isinstance(key, tuple) else (key,))), "n": len(g), **point_scores(g)}
            for key, g in points.groupby(by, sort=False)]
    return pd.DataFrame(rows)[by + ["n", "median_rel_error", "coverage_90", "coverage_50", "width_90"]]


def real(args) -> None:
    results = []
    for name, runs in real_datasets(args.datasets).items():
        started = time.perf_counter()
        laws = [law for law in args.laws if law != "data_constrained" or "unique_tokens" in runs]
        if name == "datablations" and "data_constrained" not in laws:
            laws.append("data_constrained")
        terms = (bl.NoiseScale(args.noise_by),) if args.noise_by in runs else ()
        points = forecasts(runs, laws, args.seed, args.discrepancy, args.inner, term(args), terms,
                           args.likelihood, args.min_tokens_per_parameter).assign(dataset=name)
        results.append(points)
        table = summarise(points, ["dataset", "forecast"])
        print(f"\n{name}: {len(runs)} runs, {points['forecast'].value_counts().iloc[0]} held out; "
              f"{time.perf_counter() - started:.0f} s; weights "
              + ", ".join(f"{k} {w:.2f}" for k, w in points.attrs["weights"].items()), flush=True)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"), flush=True)
    every = pd.concat(results, ignore_index=True)
    if args.output:
        every.to_csv(args.output, index=False)


def _broken_log_loss(p, x):
    """Chinchilla whose reducible loss bends down beyond C_b: (A N^-alpha + B D^-beta) (1 + C/C_b)^-gamma."""
    import jax.numpy as jnp

    from bayeslaws.laws import log_sum_exp

    log_c = np.log(6.0) + x["N"] + x["D"]
    bend = -p["gamma"] * jnp.logaddexp(0.0, log_c - p["log_C_b"])
    return log_sum_exp(p["log_A"] - p["alpha"] * x["N"] + bend, p["log_B"] - p["beta"] * x["D"] + bend, p["log_E"])


CHINCHILLA_TRUTH = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}
TRUTHS = {
    # Farseer's form (n = N / 1e9): the unlimited-data loss 1.8 n^-0.05 never levels off, and the
    # D-exponent 0.3 n^-0.03 falls with N (0.35 at 1e7 parameters, 0.26 at 1e11)
    "farseer": (lambda: bl.get_law("farseer"), {"s": -0.05, "q": 0.0, "S": float(np.log(1.8)), "B": -0.1, "b": 0.0,
                                                "Q": 6.64, "A": -0.03, "a": 0.0, "E": float(np.log(0.3))}),
    # a break at 3e21 FLOPs, inside the held-out budgets: the reducible loss falls 1/3 faster beyond
    "broken": (lambda: bl.Law("chinchilla_broken", ("N", "D"), {k: None for k in (*CHINCHILLA_TRUTH, "gamma", "C_b")},
                              _broken_log_loss, "chinchilla x (1 + C/C_b)^-gamma"),
               {**CHINCHILLA_TRUTH, "gamma": 0.3, "C_b": 3e21}),
    "chinchilla": (lambda: bl.get_law("chinchilla"), CHINCHILLA_TRUTH),
}
ZOO = {"n_budgets": 8, "runs_per_budget": 15, "compute_range": (1e18, 1e22), "noise": 0.01}


def simulated(args) -> None:
    """Zoos from each truth; the fitted laws leave the truth out (except for the chinchilla zoo)."""
    results = []
    for truth, (make_law, params) in TRUTHS.items():
        if args.truths and truth not in args.truths:
            continue
        laws = [law for law in args.laws if law != truth or truth == "chinchilla"]  # well-specified: keep it
        started = time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            zoo = bl.simulate(make_law(), params, seed=seed, **ZOO)
            runs = zoo.runs[["N", "D", "C", "loss"]]
            points = forecasts(runs, laws, seed, args.discrepancy, args.inner, term(args), likelihood=args.likelihood)
            results.append(points.assign(truth=truth, seed=seed))
            print(f"{truth} seed {seed}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        table = summarise(pd.concat([r for r in results if r["truth"].iloc[0] == truth]), ["truth", "forecast"])
        print(f"\ntruth {truth}: {args.seeds} zoos of {len(runs)} runs; laws fitted {laws}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"), flush=True)
    if args.output:
        pd.concat(results, ignore_index=True).to_csv(args.output, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["real", "simulated"])
    parser.add_argument("--laws", type=lambda s: s.split(","), default=list(LAWS))
    parser.add_argument("--datasets", type=lambda s: s.split(","), default=None)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="simulated: seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--truths", type=lambda s: s.split(","), default=None, help="farseer,broken,chinchilla")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inner", type=lambda s: tuple(float(x) for x in s.split(",")), default=INNER,
                        help="held-out shares of the training runs for the stacking weights, e.g. 0.1,0.25,0.5")
    parser.add_argument("--discrepancy", choices=["none", "chinchilla", "stack"], default="chinchilla",
                        help="chinchilla: that law with the term; stack: also the stack of every law with it")
    parser.add_argument("--amplitude", type=float, default=bl.Discrepancy.amplitude,
                        help="median of the discrepancy term's amplitude prior (bl.Discrepancy(amplitude=...))")
    parser.add_argument("--lengthscale", type=float, default=1.0,
                        help="median of the discrepancy term's lengthscale prior [half-ranges of the runs]")
    parser.add_argument("--noise-by", default=None,
                        help="real: a column the likelihood's sigma scales with where a dataset has it "
                             "(bl.NoiseScale; e.g. epochs, which datablations has)")
    parser.add_argument("--likelihood", default=None, help="every fit's likelihood (default: bl.fit's)")
    parser.add_argument("--min-tokens-per-parameter", type=float, default=0.0,
                        help="real: leave out the training runs with fewer tokens per parameter (held-out runs kept)")
    parser.add_argument("--output", help="CSV of every held-out run's scores")
    args = parser.parse_args()
    args.laws = [law for law in args.laws if law in bl.LAWS]
    warnings.simplefilter("ignore", bl.ConvergenceWarning)
    print(f"laws {args.laws}; {DRAWS}", file=sys.stderr)
    real(args) if args.what == "real" else simulated(args)


if __name__ == "__main__":
    main()
