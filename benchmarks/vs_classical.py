"""Benchmark: the classical Chinchilla fit (Huber + L-BFGS grid + bootstrap) against bayeslaws,
on K simulated zoos with known truth: wall time per zoo and 90% interval coverage.

Zoos: ``bl.simulate(seed=1000 + k)``, k = 0..K-1 (240 runs each, truth = the Besiroglu et al.
refit A=482.01, B=2085.43, E=1.8172, alpha=0.3478, beta=0.3658, 1% log-normal noise).

Classical (Hoffmann Approach 3 as re-implemented by Epoch, laws.md section 1): minimise
sum_i Huber_{1e-3}(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i) with scipy's L-BFGS-B
(default tolerances; NumPy objective with its analytic gradient) from each of the 4,500 grid
starts alpha, beta in {0, .5, 1, 1.5, 2}, e in {-1, -.5, 0, .5, 1}, a, b in {0, 5, ..., 25}, and
keep the best. Then 200 bootstrap resamples of the runs (with replacement), each refitted from 5
starts (the 4 grid starts that reached the lowest objective on the full data, and the full-data
estimate) keeping the best, and 90% percentile intervals of A = e^a, B = e^b, E = e^e, alpha, beta.

bayeslaws: ``bl.fit(runs, progress=False)`` (4 chains x 1000 warmup + 1000 draws), 90% intervals
from ``fit.summary(ci_prob=0.9)`` columns q05, q95. A warm-up fit on another zoo of the same
shape is done (and reported) first, so the per-zoo times exclude compilation.

Reports per method: mean and median wall time per zoo (classical also split into grid and
bootstrap), coverage of the 5 true parameters pooled over zoos and per parameter (nominal 0.90; with K
zoos each per-parameter share has a binomial standard error of about sqrt(0.09 / K)), the
median interval width relative to the truth, and the wall-time ratio (of the means). The
classical loop (many tiny NumPy/scipy calls) slowed down far more than the JAX sampler when the
machine was shared: on a quiet 2-core machine it took about 12 s per zoo (grid 8.5 s, bootstrap
3.5 s), under load 25-290 s. Nothing is asserted.

    python benchmarks/vs_classical.py                # K = 20 zoos (about 5 min on a quiet 2-core machine)
    python benchmarks/vs_classical.py --quick        # K = 3 zoos
    python benchmarks/vs_classical.py --zoos 50 --bootstrap 1000
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np

PARAMS = ["A", "B", "E", "alpha", "beta"]
DELTA = 1e-3
GRID = np.array(list(itertools.product(
    np.arange(0.0, 30.0, 5.0),             # a
    np.arange(0.0, 30.0, 5.0),             # b
    [-1.0, -0.5, 0.0, 0.5, 1.0],            # e
    [0.0, 0.5, 1.0, 1.5, 2.0],              # alpha
    [0.0, 0.5, 1.0, 1.5, 2.0],              # beta
)))
BOOT_GRID_STARTS = 4


def huber_objective(theta, log_n, log_d, log_loss, weights):
    """Weighted sum of Huber_delta(LSE(a - alpha log N, b - beta log D, e) - log L) and its gradient
    in theta = (a, b, e, alpha, beta). weights: resampling counts (ones for the plain fit)."""
    a, b, e, alpha, beta = theta
    t1 = a - alpha * log_n
    t2 = b - beta * log_d
    top = np.maximum(np.maximum(t1, t2), e)
    p1, p2, p3 = np.exp(t1 - top), np.exp(t2 - top), np.exp(e - top)
    total = p1 + p2 + p3
    r = top + np.log(total) - log_loss
    abs_r = np.abs(r)
    value = np.where(abs_r <= DELTA, 0.5 * r * r, DELTA * (abs_r - 0.5 * DELTA))
    slope = weights * np.clip(r, -DELTA, DELTA) / total   # dHuber/dr times dLSE/dt_j = p_j / total
    g1, g2 = slope * p1, slope * p2
    grad = np.array([g1.sum(), g2.sum(), (slope * p3).sum(), -(g1 * log_n).sum(), -(g2 * log_d).sum()])
    return float((weights * value).sum()), grad


def minimise_from(starts, args):
    """L-BFGS-B from each start; returns (objective values, solutions) in start order."""
    from scipy.optimize import minimize

    values, solutions = [], []
    for start in starts:
        with np.errstate(over="ignore", invalid="ignore"):
            res = minimize(huber_objective, start, args=args, jac=True, method="L-BFGS-B")
        values.append(res.fun if np.isfinite(res.fun) else np.inf)
        solutions.append(res.x)
    return np.array(values), np.array(solutions)


def to_params(theta) -> dict:
    a, b, e, alpha, beta = theta
    return {"A": np.exp(a), "B": np.exp(b), "E": np.exp(e), "alpha": alpha, "beta": beta}


def classical(runs, n_boot: int, rng) -> dict:
    log_n, log_d, log_loss = (np.log(runs[c].to_numpy(np.float64)) for c in ("N", "D", "loss"))
    ones = np.ones(len(runs))
    started = time.perf_counter()
    values, solutions = minimise_from(GRID, (log_n, log_d, log_loss, ones))
    estimate = solutions[np.argmin(values)]
    grid_seconds = time.perf_counter() - started

    started = time.perf_counter()
    boot_starts = np.vstack([GRID[np.argsort(values)[:BOOT_GRID_STARTS]], estimate])
    boot = []
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, len(runs), len(runs)), minlength=len(runs)).astype(np.float64)
        v, s = minimise_from(boot_starts, (log_n, log_d, log_loss, counts))
        boot.append(s[np.argmin(v)])
    boot = np.array(boot)
    boot_seconds = time.perf_counter() - started
    point = to_params(estimate)
    draws = to_params(boot.T)
    intervals = {p: (np.quantile(draws[p], 0.05), np.quantile(draws[p], 0.95)) for p in PARAMS}
    return {"point": point, "intervals": intervals, "seconds": grid_seconds + boot_seconds,
            "grid_seconds": grid_seconds, "boot_seconds": boot_seconds}


def bayesian(runs) -> dict:
    import bayeslaws as bl

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        fit = bl.fit(runs, progress=False)
    table = fit.summary(ci_prob=0.9)
    seconds = time.perf_counter() - started
    d = fit.diagnostics
    return {"point": table["median"].to_dict(),
            "intervals": {p: (table.loc[p, "q05"], table.loc[p, "q95"]) for p in PARAMS},
            "seconds": seconds, "converged": d["divergences"] == 0 and d["max_r_hat"] <= 1.01
            and d["min_ess_bulk"] >= 400}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 zoos instead of 20")
    parser.add_argument("--zoos", type=int, default=None, help="number of zoos K (default 20, --quick 3)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples per zoo (default 200)")
    args = parser.parse_args()
    k = args.zoos or (3 if args.quick else 20)

    import bayeslaws as bl

    zoos = [bl.simulate(seed=1000 + i) for i in range(k)]
    rng = np.random.default_rng(0)

    warm_started = time.perf_counter()
    bayesian(bl.simulate(seed=999).runs)
    warmup_seconds = time.perf_counter() - warm_started

    results = {"classical": [], "bayeslaws": []}
    for i, zoo in enumerate(zoos):
        c = classical(zoo.runs, args.bootstrap, rng)
        b = bayesian(zoo.runs)
        results["classical"].append(c)
        results["bayeslaws"].append(b)
        print(f"zoo {i + 1:3d}/{k}: classical {c['seconds']:6.1f} s (grid {c['grid_seconds']:.1f}, "
              f"bootstrap {c['boot_seconds']:.1f}), bayeslaws {b['seconds']:5.2f} s", flush=True)

    truth = zoos[0].truth
    print()
    print(f"{k} zoos of {len(zoos[0].runs)} runs; classical: 4,500-start grid + {args.bootstrap} bootstrap "
          f"refits x {BOOT_GRID_STARTS + 1} starts; bayeslaws: 4 chains x (1000 + 1000), first-fit "
          f"(compile) warm-up {warmup_seconds:.1f} s not counted")
    header = (f"{'method':10s} {'s / zoo':>8s} {'median s':>8s} {'coverage':>8s} "
              + " ".join(f"{p:>6s}" for p in PARAMS) + "  " + " ".join(f"{'w/' + p:>8s}" for p in PARAMS))
    print(header)
    print("-" * len(header))
    mean_seconds = {}
    for name, rows in results.items():
        hits = np.array([[r["intervals"][p][0] <= truth[p] <= r["intervals"][p][1] for p in PARAMS] for r in rows])
        widths = [np.median([(r["intervals"][p][1] - r["intervals"][p][0]) / truth[p] for r in rows]) for p in PARAMS]
        mean_seconds[name] = np.mean([r["seconds"] for r in rows])
        median_seconds = np.median([r["seconds"] for r in rows])
        print(f"{name:10s} {mean_seconds[name]:8.2f} {median_seconds:8.2f} {hits.mean():8.2f} "
              + " ".join(f"{x:6.2f}" for x in hits.mean(axis=0))
              + "  " + " ".join(f"{w:8.3f}" for w in widths))
    print("coverage: share of 90% intervals holding the true value (pooled, then per parameter); "
          "w/p: median interval width / true value")
    c_split = results["classical"]
    print(f"classical time split: grid {np.mean([r['grid_seconds'] for r in c_split]):.1f} s, "
          f"bootstrap {np.mean([r['boot_seconds'] for r in c_split]):.1f} s per zoo")
    unconverged = sum(not r["converged"] for r in results["bayeslaws"])
    print(f"bayeslaws fits failing the convergence checks: {unconverged} of {k}")
    print(f"wall-time ratio classical / bayeslaws: {mean_seconds['classical'] / mean_seconds['bayeslaws']:.1f}x")
    print("point estimates (mean over zoos; classical = best grid fit, bayeslaws = posterior median):")
    for name, rows in results.items():
        print(f"  {name:10s} " + " ".join(f"{p}={np.mean([r['point'][p] for r in rows]):.4g}" for p in PARAMS))
    print(f"  {'truth':10s} " + " ".join(f"{p}={truth[p]:.4g}" for p in PARAMS))


if __name__ == "__main__":
    main()
