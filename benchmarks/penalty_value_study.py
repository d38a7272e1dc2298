"""Does the penalty pay? Three fits of one sweep, scored on the forecast at a larger scale.

On a simulated lr x batch-size sweep (bayeslaws.synthetic.sweeps) whose true law is known:
  (a) the plain law fitted to every run (off-optimum runs bias it upward),
  (b) the plain law fitted to the best run of each (N, D) cell (the classic practice),
  (c) the penalised law fitted to every run.
Each forecasts L(N, D) at a target (default: 10x the largest cell's compute, N and D each
scaled by sqrt(10)); the score is the relative error of the posterior median against the true
law there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeslaws.laws import get_law
from bayeslaws.synthetic import Zoo, true_loss


def best_run_per_cell(runs: pd.DataFrame) -> pd.DataFrame:
    """The lowest-loss run of each (N, D) cell."""
    return runs.loc[runs.groupby(["N", "D"])["loss"].idxmin()].reset_index(drop=True)


def scale_up_target(runs: pd.DataFrame, factor: float = 10.0) -> dict:
    """N [parameters] and D [tokens] at ``factor`` times the compute of the largest (N, D) cell,
    each scaled by sqrt(factor)."""
    largest = runs.loc[(runs["N"] * runs["D"]).idxmax()]
    return {"N": float(largest["N"] * np.sqrt(factor)), "D": float(largest["D"] * np.sqrt(factor))}


def forecast_errors(zoo: Zoo, fits: dict, target: dict) -> pd.DataFrame:
    """Relative error |median - truth| / truth of each fit's loss forecast at ``target``.

    fits: label -> Fit (the penalised fit forecasts at the optimal settings)."""
    law = get_law(zoo.design["law"])
    truth = float(true_loss(law, {k: zoo.truth[k] for k in law.param_names}, pd.DataFrame([target]))[0])
    rows = []
    for label, fit in fits.items():
        row = fit.predict(**target).iloc[0]
        rows.append({"fit": label, "median": row["loss_median"], "q05": row["loss_q05"], "q95": row["loss_q95"],
                     "truth": truth, "relative_error": abs(row["loss_median"] - truth) / truth})
    return pd.DataFrame(rows).set_index("fit")
