"""Forecasts of a penalised fit, per posterior draw: the optimal learning rate and batch size
at a target (N, D), the loss penalty of a chosen setting, and its regret.

``draws`` maps parameter names to 1-D float64 arrays of S posterior draws; ``targets`` is a
frame with N [parameters], D [tokens] and optionally lr and batch_size [tokens].
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .penalties import Penalty, log_optima, penalty_value

def _params(penalty: Penalty, draws: Mapping[str, np.ndarray]) -> dict:
    """The penalty's parameters as (S, 1) arrays, with logs of the reference optima."""
    params = {k: np.asarray(draws[k], np.float64)[:, None] for k in penalty.priors}
    for name in ("lr_ref", "batch_ref"):
        if name in params:
            params[f"log_{name}"] = np.log(params[name])
    return params


def _logx(targets: pd.DataFrame, columns) -> dict:
    return {c: np.log(targets[c].to_numpy(np.float64))[None, :] for c in columns if c in targets}


def optimum_draws(penalty: Penalty, draws: Mapping[str, np.ndarray], targets: pd.DataFrame) -> dict:
    """lr* and B* [tokens] per draw and target: name -> (S, M) float64."""
    logs = log_optima(penalty, _params(penalty, draws), _logx(targets, ("N", "D")))
    return {name: np.exp(np.asarray(value, np.float64)) for name, value in logs.items()}


def penalty_draws(penalty: Penalty, draws: Mapping[str, np.ndarray], targets: pd.DataFrame) -> np.ndarray:
    """P per draw and target, (S, M): at the targets' lr and batch_size where given, else at the
    optimum (see penalties.penalty_value). Log-loss units, or nats for the additive form."""
    logx = _logx(targets, ("N", "D", "lr", "batch_size"))
    value = penalty_value(penalty, _params(penalty, draws), logx, logx.get("lr"), logx.get("batch_size"))
    shape = (len(next(iter(draws.values()))), len(targets))
    return np.broadcast_to(np.asarray(value, np.float64), shape)


def penalised_loss(penalty: Penalty, log_loss: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Loss [nats] of a run at its hyperparameters, from the law's log loss and the penalty."""
    if penalty.form == "multiplicative":
        return np.exp(log_loss + value)
    return np.exp(log_loss) + value


def check_hyperparameters(penalty: Penalty | None, targets: pd.DataFrame) -> None:
    """Refuse lr or batch_size targets for a fit that has no penalty on them."""
    given = [c for c in ("lr", "batch_size") if c in targets]
    used = () if penalty is None else penalty.hyperparameters
    unused = [c for c in given if c not in used]
    if unused:
        raise ValueError(f"this fit has no penalty on {unused}: it cannot price those settings; "
                         "fit with penalty=... to use them")
