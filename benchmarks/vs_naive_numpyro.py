"""Benchmark: bayeslaws against a naive NumPyro model of the same Chinchilla law (sampling efficiency).

Both fit the same 240-run simulated zoo (``bl.simulate(seed=1)``) with the same priors
(A, B ~ LogNormal(6, 2.5), E ~ LogNormal(0.5, 0.75), alpha, beta ~ LogNormal(log 0.35, 0.5);
Student-t likelihood on log loss, sigma ~ HalfNormal(0.1), nu ~ Gamma(2, 0.1): bayeslaws' nu
prior is 0.2 + Gamma(2, 0.1) since 2026-12-07, immaterial here, where nu's posterior lies near 25)
and the same schedule, 4 chains x (1000 warmup + 1000 draws), chains vectorised on one device:

  1. ``bl.fit(runs, law="chinchilla", progress=False)`` (defaults: prior start, windowed dense
     mass adaptation, A and B centred on mean log N, log D);
  2. the same with ``init="laplace"``;
  3. naive NumPyro: raw A, B, E, alpha, beta, the law as log(E + A N^-alpha + B D^-beta) on raw
     log N, log D (no centring), ``MCMC(NUTS(model), num_warmup=1000, num_samples=1000,
     num_chains=4, chain_method="vectorized")``, default diagonal mass matrix and settings
     (``progress_bar=False``; ``jit_model_args=True`` so that re-running the MCMC object on new
     data of the same shape does not recompile, as bayeslaws does not).

For each: wall time of the first fit (includes tracing and compilation; the JAX persistent
cache is pointed at a fresh temporary folder, so nothing is reused from earlier processes)
and of a second fit on a second zoo of the same shape (``bl.simulate(seed=2)``) in the same
process (no compilation); min bulk ESS over A, B, E, alpha, beta of the second fit (ArviZ,
rank-normalised bulk ESS; bayeslaws via ``fit.summary()["ess_bulk"]``, naive via
``az.ess(az.from_numpyro(mcmc), method="bulk")``); divergences; mean leapfrog steps per
iteration (post-warmup); min ESS per second of the second fit; and the ratio of bayeslaws'
min-ESS/s to the naive one (goal from the issue: >= 5x). Nothing is asserted.

    python benchmarks/vs_naive_numpyro.py            # full schedule (a few minutes on 2 cores)
    python benchmarks/vs_naive_numpyro.py --quick    # smoke run: 250 warmup + 250 draws
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

PARAMS = ["A", "B", "E", "alpha", "beta"]


def naive_model(log_n, log_d, log_loss=None):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    A = numpyro.sample("A", dist.LogNormal(6.0, 2.5))
    B = numpyro.sample("B", dist.LogNormal(6.0, 2.5))
    E = numpyro.sample("E", dist.LogNormal(0.5, 0.75))
    alpha = numpyro.sample("alpha", dist.LogNormal(jnp.log(0.35), 0.5))
    beta = numpyro.sample("beta", dist.LogNormal(jnp.log(0.35), 0.5))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.1))
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    mu = jnp.log(E + A * jnp.exp(-alpha * log_n) + B * jnp.exp(-beta * log_d))
    numpyro.sample("log_loss", dist.StudentT(nu, mu, sigma), obs=log_loss)


def naive_arrays(runs):
    import numpy as np

    # Logs in float64 NumPy first (large token counts overflow int32 in JAX), then float32.
    return tuple(np.log(runs[c].to_numpy(np.float64)).astype(np.float32) for c in ("N", "D", "loss"))


def run_naive(mcmc, runs, seed: int) -> dict:
    import arviz as az
    import jax

    log_n, log_d, log_loss = naive_arrays(runs)
    started = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed), log_n, log_d, log_loss, extra_fields=("num_steps", "diverging"))
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    wall = time.perf_counter() - started
    extra = mcmc.get_extra_fields(group_by_chain=True)
    ess = az.ess(az.from_numpyro(mcmc), var_names=PARAMS, method="bulk")
    rhat = az.rhat(az.from_numpyro(mcmc), var_names=PARAMS)
    return {
        "wall": wall,
        "min_ess": min(float(ess[p]) for p in PARAMS),
        "max_rhat": max(float(rhat[p]) for p in PARAMS),
        "divergences": int(extra["diverging"].sum()),
        "steps": float(extra["num_steps"].mean()),
    }


def run_bayeslaws(runs, warmup: int, draws: int, **kwargs) -> dict:
    import bayeslaws as bl

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        fit = bl.fit(runs, law="chinchilla", progress=False, warmup=warmup, draws=draws, **kwargs)
    wall = time.perf_counter() - started
    table = fit.summary()
    stats = fit.tree["sample_stats"]
    return {
        "wall": wall,
        "min_ess": float(table.loc[PARAMS, "ess_bulk"].min()),
        "max_rhat": float(table.loc[PARAMS, "r_hat"].max()),
        "divergences": int(stats["diverging"].values.sum()),
        "steps": float(stats["n_steps"].values.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="250 warmup + 250 draws instead of 1000 + 1000")
    args = parser.parse_args()
    warmup = draws = 250 if args.quick else 1000

    import bayeslaws as bl
    from numpyro.infer import MCMC, NUTS

    bl.set_compile_cache(tempfile.mkdtemp(prefix="bayeslaws-bench-cache-"))
    first, second = bl.simulate(seed=1).runs, bl.simulate(seed=2).runs

    rows = []
    for name, kwargs in (("bayeslaws (defaults)", {}), ('bayeslaws init="laplace"', {"init": "laplace"})):
        cold = run_bayeslaws(first, warmup, draws, seed=0, **kwargs)
        warm = run_bayeslaws(second, warmup, draws, seed=1, **kwargs)
        rows.append((name, cold["wall"], warm))

    mcmc = MCMC(NUTS(naive_model), num_warmup=warmup, num_samples=draws, num_chains=4,
                chain_method="vectorized", progress_bar=False, jit_model_args=True)
    cold = run_naive(mcmc, first, seed=0)
    warm = run_naive(mcmc, second, seed=1)
    rows.append(("naive NumPyro", cold["wall"], warm))

    naive_rate = rows[-1][2]["min_ess"] / rows[-1][2]["wall"]
    print(f"Chinchilla, {len(second)} runs, 4 chains x ({warmup} warmup + {draws} draws); "
          "ESS, R-hat, divergences, steps and ESS/s from the second fit")
    header = (f"{'method':28s} {'1st fit s':>9s} {'2nd fit s':>9s} {'min ESS':>8s} {'max R-hat':>9s} "
              f"{'diverg.':>7s} {'steps/it':>8s} {'ESS/s':>8s} {'vs naive':>8s}")
    print(header)
    print("-" * len(header))
    for name, first_wall, r in rows:
        rate = r["min_ess"] / r["wall"]
        print(f"{name:28s} {first_wall:9.2f} {r['wall']:9.2f} {r['min_ess']:8.0f} {r['max_rhat']:9.3f} "
              f"{r['divergences']:7d} {r['steps']:8.1f} {rate:8.1f} {rate / naive_rate:7.1f}x")
    print("goal (issue): bayeslaws / naive min-ESS per second >= 5x")


if __name__ == "__main__":
    main()
