"""Benchmark: many fits and large zoos.

(a) ``bl.fit_many`` throughput on 100 simulated 240-run Chinchilla zoos (``bl.simulate(seed=2000 + i)``)
    at its defaults (Laplace start, fixed mass matrix, 4 chains x (200 warmup + 500 draws), a
    robust prior-start refit for any fit failing the checks), in fits per minute:
      - in this process, after a small warm-up call (2 other zoos) so the first compilation is
        excluded (a fallback refit, if any happens, may still compile its own program inside
        the timed call);
      - the same 100 zoos with ``executor=ProcessPoolExecutor(2)`` (spawn start method: JAX is
        multithreaded and should not be forked) and ``chunk_size=50``. This time INCLUDES the
        workers' start-up, imports, tracing and compiling the sampler in each worker (or loading
        the XLA code from the JAX persistent cache that the in-process run has filled). The law
        travels to the workers by name (Law.__reduce__).
    For each: the share of fits passing all checks (bulk ESS >= 400, R-hat <= 1.01, no
    divergences) and how many fits needed the fallback refit.
(b) Wall time against the number of runs: ``bl.fit`` (defaults: 4 chains x (1000 warmup + 1000
    draws), prior start, windowed dense adaptation) on zoos of 100, 1,000 and 10,000 runs
    (``bl.simulate(n_budgets=..., runs_per_budget=...)``): the first fit of each size (tracing
    and compilation included; fresh temporary compilation cache) and a second fit on another zoo
    of that size (no compilation), with min bulk ESS, max R-hat, divergences, leapfrog steps.
Nothing is asserted.

Run time: part (a) and the 100- and 1,000-run rows take a few minutes on 2 cores. A healthy
10,000-run fit took 194 s (zoo seed 1, compilation included), but in one check (zoo seed 2,
sampler seed 0) one of the 4 chains got stuck at a poor mode with tree depth 10 on every
iteration, and as the chains run in lockstep that fit took 850-950 s (R-hat 1.6, min ESS 7).
Use ``--sizes 100 1000`` to stay well under 10 minutes.

    python benchmarks/many_fits.py                      # 100 zoos; 100 / 1,000 / 10,000 runs
    python benchmarks/many_fits.py --quick              # 10 zoos; 100 / 1,000 runs
    python benchmarks/many_fits.py --zoos 20 --sizes 10000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

# (n_budgets, runs_per_budget) for each zoo size.
DESIGNS = {100: (5, 20), 1000: (10, 100), 10000: (20, 500)}


def many_row(name: str, seconds: float, result) -> str:
    d = result.diagnostics
    good = (d["min_ess_bulk"] >= 400) & (d["max_r_hat"] <= 1.01) & (d["divergences"] == 0)
    n = len(d)
    return (f"{name:44s} {n:5d} {seconds:8.1f} {60 * n / seconds:9.1f} {good.mean():8.0%} "
            f"{int(d['refit'].sum()):6d} {d['min_ess_bulk'].min():8.0f} {d['max_r_hat'].max():9.3f} "
            f"{int((d['divergences'] > 0).sum()):8d}")


def part_a(bl, n_zoos: int) -> None:
    tables = [bl.simulate(seed=2000 + i).runs for i in range(n_zoos)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        started = time.perf_counter()
        bl.fit_many([bl.simulate(seed=1990 + i).runs for i in range(2)], law="chinchilla", seed=1990)
        warm_seconds = time.perf_counter() - started

        started = time.perf_counter()
        local = bl.fit_many(tables, law="chinchilla", seed=0)
        local_seconds = time.perf_counter() - started

        spawn = multiprocessing.get_context("spawn")
        pool_name = "ProcessPoolExecutor(2), chunk 50 (incl. start)"
        started = time.perf_counter()
        with ProcessPoolExecutor(2, mp_context=spawn) as pool:
            pooled = bl.fit_many(tables, law="chinchilla", seed=0, executor=pool, chunk_size=50)
        pool_seconds = time.perf_counter() - started

    print(f"(a) fit_many, Chinchilla, {n_zoos} zoos x 240 runs, defaults (4 chains x (200 + 500), Laplace start)")
    header = (f"{'case':44s} {'fits':>5s} {'wall s':>8s} {'fits/min':>9s} {'all ok':>8s} {'refits':>6s} "
              f"{'min ESS':>8s} {'max R-hat':>9s} {'diverged':>8s}")
    print(header)
    print("-" * len(header))
    print(many_row("in process (compile excluded)", local_seconds, local))
    print(many_row(pool_name, pool_seconds, pooled))
    print(f"warm-up call (2 zoos, includes compilation): {warm_seconds:.1f} s; 'all ok' = bulk ESS >= 400, "
          "R-hat <= 1.01, no divergences; 'diverged' = fits with any divergence")
    print("the pool time includes starting 2 workers, their imports, and each worker tracing the sampler "
          "and compiling it (or loading it from the JAX persistent cache that the in-process run filled)")
    print()


def part_b(bl, sizes: list[int]) -> None:
    print("(b) bl.fit (defaults: 4 chains x (1000 + 1000)) against zoo size; 1st fit of a size includes compilation")
    header = (f"{'runs':>6s} {'fit':>4s} {'wall s':>8s} {'min ESS':>8s} {'max R-hat':>9s} "
              f"{'diverg.':>7s} {'steps/it':>8s} {'ESS/s':>7s}")
    print(header)
    print("-" * len(header))
    for size in sizes:
        n_budgets, per_budget = DESIGNS[size]
        for which, seed in (("1st", 1), ("2nd", 2)):
            runs = bl.simulate(n_budgets=n_budgets, runs_per_budget=per_budget, seed=seed).runs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", bl.ConvergenceWarning)
                started = time.perf_counter()
                fit = bl.fit(runs, law="chinchilla", progress=False, seed=seed)
                seconds = time.perf_counter() - started
            d = fit.diagnostics
            steps = float(fit.tree["sample_stats"]["n_steps"].values.mean())
            print(f"{len(runs):6d} {which:>4s} {seconds:8.2f} {d['min_ess_bulk']:8.0f} {d['max_r_hat']:9.3f} "
                  f"{d['divergences']:7d} {steps:8.1f} {d['min_ess_bulk'] / seconds:7.0f}", flush=True)
    print("zoo seed 1 then seed 2 of each size; the 2nd fit reuses the compiled sampler; "
          "ESS/s = min bulk ESS / wall time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 zoos; sizes 100 and 1,000 only")
    parser.add_argument("--zoos", type=int, default=None, help="zoos for part (a) (default 100, --quick 10)")
    parser.add_argument("--sizes", type=int, nargs="+", choices=sorted(DESIGNS), default=None,
                        help="zoo sizes for part (b) (default 100 1000 10000, --quick 100 1000)")
    parser.add_argument("--skip-a", action="store_true", help="only part (b)")
    parser.add_argument("--skip-b", action="store_true", help="only part (a)")
    args = parser.parse_args()
    n_zoos = args.zoos or (10 if args.quick else 100)
    sizes = args.sizes or ([100, 1000] if args.quick else [100, 1000, 10000])

    # One fresh cache for this run, shared with the spawned workers through the environment.
    os.environ["BAYESLAWS_CACHE_DIR"] = tempfile.mkdtemp(prefix="bayeslaws-bench-cache-")
    import bayeslaws as bl

    if not args.skip_a:
        part_a(bl, n_zoos)
    if not args.skip_b:
        part_b(bl, sizes)


if __name__ == "__main__":
    main()
