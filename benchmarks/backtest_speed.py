"""Wall time of a 4-law x 3-split backtest of a 240-run zoo (issue 11's target: under 2 minutes on
2 cores). Every split of a law is padded to one size, so each law compiles once; the second
backtest (another zoo, same shapes) shows the cost without compilation.

    python benchmarks/backtest_speed.py
"""

import time
import warnings

import bayeslaws as bl

LAWS = ["chinchilla", "kaplan", "chinchilla_interaction", "farseer"]

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    for attempt, seed in (("first (compiles)", 0), ("second zoo (compiled)", 1)):
        runs = bl.simulate(seed=seed).runs
        started = time.perf_counter()
        bt = bl.backtest(runs, LAWS, seed=seed, progress=False, warn=False)
        seconds = time.perf_counter() - started
        print(f"{attempt}: {len(LAWS)} laws x 3 splits on {len(runs)} runs: {seconds:.0f} s; "
              f"max R-hat {bt.scores['max_r_hat'].max():.3f}, divergences {int(bt.scores['divergences'].sum())}",
              flush=True)
