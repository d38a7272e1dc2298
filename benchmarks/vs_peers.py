"""Speed a user feels, against the tools users compare us with (issue 15), in one run on one table.

The table: the 240-run simulated Chinchilla zoo (``bl.simulate(seed=1)``). Measured, each in a new
process unless said otherwise (median of ``--repeats`` for the start-up lines and the CLI fits; each
empty-cache fit gets a new cache folder; the empty-cache, warm-cache and peer fits take turns, so
that the machine's drift over minutes falls on all three alike):

- ``import bayeslaws`` against ``import jax``;
- ``bayeslaws --help`` and ``bayeslaws laws``;
- ``bayeslaws fit CSV --json``: with an empty compile cache (first use) and with it warm; and with
  an empty cache and no prebuilt samplers (bayeslaws.results.prebuilt: the default fit's exported
  programs, shipped for the JAX and NumPyro versions they were made with), as a first fit with
  other versions meets it;
- simple-scaling-laws 0.2 (``pip install 'bayeslaws[bench]'``): its documented command
  ``scaling-laws fit CSV --law separable-power`` (the same law: E + A N^-alpha + B D^-beta; a
  bootstrap of 1000 draws), whole process;
- the plain NumPyro script of benchmarks/vs_naive_numpyro.py (same law and priors, 4 chains x
  (1000 + 1000), vectorised), whole process;
- in this process: a repeat bayeslaws fit on a second zoo of the same shape, and a repeat of the
  plain NumPyro fit, with min bulk ESS per second.

Targets (issue 15, 2-core machine): import < 1 s and < 0.3x import jax; CLI fit warm <= 1.0x
simple-scaling-laws; CLI first fit <= 2x; in-process repeat < 1.5 s with min bulk ESS >= 1000;
min-ESS/s >= 10x the plain NumPyro script. Nothing is asserted.

    python benchmarks/vs_peers.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


# The CLI as a process that finds no prebuilt samplers (as with other JAX or NumPyro versions).
NO_PREBUILT_CLI = [sys.executable, "-c", "import pathlib, sys; from bayeslaws.inference import compile_cache; "
                   "compile_cache.PREBUILT = pathlib.Path('/nonexistent'); from bayeslaws.cli import run; "
                   "sys.argv[0] = 'bayeslaws'; run()"]


def seconds(command: list[str], env: dict | None = None) -> tuple[float, str]:
    """Wall time of a new process [s] and its stdout."""
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def median_seconds(command: list[str], repeats: int, env: dict | None = None) -> float:
    return statistics.median(seconds(command, env)[0] for _ in range(repeats))


def peer_table(runs, path: Path) -> None:
    """The zoo in simple-scaling-laws' column roles (one evaluation row per run)."""
    runs.rename(columns={"run_id": "training_run_id", "N": "model_size__n_params",
                         "D": "dataset_size__n_tokens", "loss": "test_loss__cross_entropy"}).assign(
        test_set_id="t0")[["training_run_id", "test_set_id", "model_size__n_params", "dataset_size__n_tokens",
                           "test_loss__cross_entropy"]].to_csv(path, index=False)


def naive_fit(runs, seed: int, mcmc=None):
    """The plain NumPyro fit of vs_naive_numpyro.py (4 chains x (1000 + 1000), vectorised):
    (its figures, the MCMC object, to run again on new data without recompiling)."""
    from numpyro.infer import MCMC, NUTS

    sys.path.insert(0, str(HERE))
    from vs_naive_numpyro import naive_model, run_naive

    mcmc = mcmc or MCMC(NUTS(naive_model), num_warmup=1000, num_samples=1000, num_chains=4,
                        chain_method="vectorized", progress_bar=False, jit_model_args=True)
    return run_naive(mcmc, runs, seed=seed), mcmc


def naive_process(csv: str) -> None:
    """The plain NumPyro fit on a CSV, as a whole process: prints its figures as JSON."""
    import pandas as pd

    print(json.dumps(naive_fit(pd.read_csv(csv), seed=0)[0]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive", help=argparse.SUPPRESS)  # internal: run the plain NumPyro fit on this CSV
    args = parser.parse_args()
    if args.naive:
        return naive_process(args.naive)

    import bayeslaws as bl

    work = Path(tempfile.mkdtemp(prefix="bayeslaws-peers-"))
    first, second, peer_csv = work / "zoo1.csv", work / "zoo2.csv", work / "peer.csv"
    bl.simulate(seed=1).runs.to_csv(first, index=False)
    bl.simulate(seed=2).runs.to_csv(second, index=False)
    peer_table(bl.simulate(seed=1).runs, peer_csv)
    python, cli = sys.executable, [sys.executable, "-m", "bayeslaws.cli"]
    rows = {}

    rows["import jax"] = median_seconds([python, "-c", "import jax"], args.repeats)
    rows["import bayeslaws"] = median_seconds([python, "-c", "import bayeslaws"], args.repeats)
    rows["bayeslaws --help"] = median_seconds(cli + ["--help"], args.repeats)
    rows["bayeslaws laws"] = median_seconds(cli + ["laws"], args.repeats)
    peer = shutil.which("scaling-laws", path=str(Path(python).parent)) or shutil.which("scaling-laws")
    peer_fit = peer and [peer, "fit", str(peer_csv), "--law", "separable-power", "--output", str(work / "peer.slaw"),
                         "--quiet"]
    # The three CLI fits in turns (empty cache, warm cache, peer), so that the machine's drift over
    # minutes (its speed moves by 1.5x within an hour) falls on all three alike.
    cold, warm, traced, peer_walls, prebuilt_used = [], [], [], [], 0
    for i in range(args.repeats):
        cache = {"BAYESLAWS_CACHE_DIR": str(work / f"cache{i}")}  # a new, empty cache each time
        cold.append(seconds(cli + ["fit", str(first), "--json"], cache))
        prebuilt_used += not any((work / f"cache{i}" / "exported").glob("*.jaxexport"))  # nothing exported
        warm.append(seconds(cli + ["fit", str(second), "--json"], cache))
        traced.append(seconds(NO_PREBUILT_CLI + ["fit", str(first), "--json"],
                              {"BAYESLAWS_CACHE_DIR": str(work / f"traced{i}")}))
        if peer_fit:
            peer_walls.append(seconds(peer_fit)[0])
    rows["bayeslaws fit, empty cache"] = statistics.median(wall for wall, _ in cold)
    rows["... and no prebuilt sampler"] = statistics.median(wall for wall, _ in traced)
    rows["bayeslaws fit, warm cache"] = statistics.median(wall for wall, _ in warm)
    cold_ess = json.loads(cold[-1][1])["diagnostics"]["min_ess_bulk"]
    warm_ess = json.loads(warm[-1][1])["diagnostics"]["min_ess_bulk"]
    if peer:
        rows["import simple_scaling_laws"] = median_seconds([python, "-c", "import simple_scaling_laws"],
                                                            args.repeats)
        rows["simple-scaling-laws fit"] = statistics.median(peer_walls)
    rows["plain NumPyro script"] = seconds([python, str(Path(__file__)), "--naive", str(first)])[0]

    bl.set_compile_cache(work / f"cache{args.repeats - 1}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bl.fit(bl.load_runs(first), progress=False)
        started = time.perf_counter()
        repeat = bl.fit(bl.load_runs(second), progress=False)
        rows["in-process repeat fit"] = time.perf_counter() - started
    ess = repeat.diagnostics["min_ess_bulk"]

    _, mcmc = naive_fit(bl.load_runs(first).frame, seed=0)
    naive, _ = naive_fit(bl.load_runs(second).frame, seed=1, mcmc=mcmc)

    print(f"240-run Chinchilla zoo; {os.cpu_count()} cores; median of {args.repeats} for start-up lines and CLI fits\n")
    print(f"{'case':34s} {'wall s':>8s}")
    for name, value in rows.items():
        print(f"{name:34s} {value:8.2f}")
    print(f"\nempty-cache fits that read the prebuilt sampler (exported nothing): {prebuilt_used} of {args.repeats}")
    print(f"min bulk ESS: CLI empty cache {cold_ess:.0f}, warm {warm_ess:.0f}, in-process repeat {ess:.0f}")
    rate, naive_rate = ess / rows["in-process repeat fit"], naive["min_ess"] / naive["wall"]
    print(f"min-ESS/s in process: bayeslaws {rate:.0f}, plain NumPyro {naive_rate:.0f} "
          f"(ESS {naive['min_ess']:.0f} in {naive['wall']:.2f} s): {rate / naive_rate:.1f}x (target >= 10x)")
    print("\nratios against the targets:")
    print(f"  import bayeslaws: {rows['import bayeslaws']:.2f} s (target < 1 s), "
          f"{rows['import bayeslaws'] / rows['import jax']:.2f}x import jax (target < 0.3x)")
    print(f"  in-process repeat: {rows['in-process repeat fit']:.2f} s with min ESS {ess:.0f} "
          "(target < 1.5 s, ESS >= 1000)")
    if peer:
        base = rows["simple-scaling-laws fit"]
        print(f"  CLI fit, warm cache: {rows['bayeslaws fit, warm cache'] / base:.2f}x simple-scaling-laws "
              "(target <= 1.0x)")
        print(f"  CLI fit, empty cache: {rows['bayeslaws fit, empty cache'] / base:.2f}x simple-scaling-laws "
              f"(target <= 2x); without the prebuilt sampler {rows['... and no prebuilt sampler'] / base:.2f}x")
    else:
        print("  simple-scaling-laws is not installed here (pip install 'bayeslaws[bench]'): no peer ratios")
    print(f"  plain NumPyro script, whole process: {rows['plain NumPyro script']:.2f} s; bayeslaws CLI warm "
          f"{rows['bayeslaws fit, warm cache'] / rows['plain NumPyro script']:.2f}x, empty cache "
          f"{rows['bayeslaws fit, empty cache'] / rows['plain NumPyro script']:.2f}x")


if __name__ == "__main__":
    main()
