"""Benchmark: how long a Chinchilla fit of a 240-run zoo takes (4 chains x 1000 warmup + 1000 draws).

Prints wall times and min bulk ESS per second for
  1. `bayeslaws fit` in a fresh process with an empty cache (first use on a machine),
  2. `bayeslaws fit` in a fresh process with the caches warm (every later use),
  3. a repeated in-process fit on a second dataset of the same shape (notebook use),
  4. a notebook's first fit: bl.fit in a fresh process with an empty cache, and then the first
     read of fit.tree, which computes the DataTree's extras (log-likelihood, predictives, prior).
Targets (issue 2, 2-core machine): (2) under 8 s, (3) under 2 s.

    python benchmarks/fit_speed.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cli_fit(csv: Path, cache: Path) -> tuple[float, dict]:
    env = {**os.environ, "BAYESLAWS_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bayeslaws.cli", "fit", str(csv), "--law", "chinchilla", "--json"],
                          capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - started, json.loads(proc.stdout)


FIRST_FIT = """
import json, sys, time
import bayeslaws as bl
runs = bl.load_runs(sys.argv[1])
started = time.perf_counter()
fit = bl.fit(runs, progress=False)
fitted = time.perf_counter()
fit.tree
print(json.dumps({"fit": fitted - started, "tree": time.perf_counter() - fitted, "ess": fit.diagnostics["min_ess_bulk"]}))
"""


def first_in_process_fit(csv: Path, cache: Path) -> dict:
    """A new Python process's first bl.fit (empty cache) and its first read of fit.tree [s]."""
    env = {**os.environ, "BAYESLAWS_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", FIRST_FIT, str(csv)], capture_output=True, text=True, env=env,
                          check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    import bayeslaws as bl

    work = Path(tempfile.mkdtemp(prefix="bayeslaws-bench-"))
    first, second = work / "zoo1.csv", work / "zoo2.csv"
    bl.simulate(seed=1).runs.to_csv(first, index=False)
    bl.simulate(seed=2).runs.to_csv(second, index=False)
    cache = work / "cache"

    rows = []
    wall, report = cli_fit(first, cache)
    rows.append(("fresh process, empty cache", wall, report["seconds"], report["diagnostics"]["min_ess_bulk"]))
    wall, report = cli_fit(second, cache)
    rows.append(("fresh process, warm cache", wall, report["seconds"], report["diagnostics"]["min_ess_bulk"]))

    bl.set_compile_cache(cache)
    bl.fit(bl.load_runs(first), progress=False)
    started = time.perf_counter()
    result = bl.fit(bl.load_runs(second), progress=False)
    wall = time.perf_counter() - started
    rows.append(("in-process repeat, new data", wall, result.seconds, result.diagnostics["min_ess_bulk"]))
    first_fit = first_in_process_fit(first, work / "notebook-cache")
    rows.append(("first bl.fit in a new process", first_fit["fit"], first_fit["fit"], first_fit["ess"]))

    print(f"{'case':32s} {'wall s':>8s} {'fit s':>8s} {'min ESS':>8s} {'ESS/s (wall)':>13s}")
    for name, wall, fit_seconds, ess in rows:
        print(f"{name:32s} {wall:8.2f} {fit_seconds:8.2f} {ess:8.0f} {ess / wall:13.0f}")
    print(f"then its first read of fit.tree (the DataTree's extras): {first_fit['tree']:.2f} s")


if __name__ == "__main__":
    main()
