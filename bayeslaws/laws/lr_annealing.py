"""The learning-rate annealing law of Tissue et al. 2024 (arXiv 2408.11029; laws.md section 8):
the loss of a training run at step s from its learning-rate schedule.

    L(s) = L0 + A S1(s)^-alpha - C S2(s),
    S1(s) = sum_{i=0..s} lr_i,   S2(s) = sum_{i=1..s} m_i,   m_i = lambda m_(i-1) + (lr_(i-1) - lr_i).

lr: the learning rate of every optimiser step from 0; S1: the forward area [lr x steps]; S2: the
annealing area [lr x steps], the decays of the learning rate carried forward with momentum
lambda = ANNEALING_MOMENTUM (0.999, the value of the reproduction; the paper recommends
0.99-0.999), so a decay lowers the loss gradually. L: nats. Our choice where the paper is silent
[M]: the warmup (the steps up to the schedule's first peak) adds to S1 but not to S2, so a
rising warmup learning rate does not count as negative annealing; m_0 = 0.

Both areas are exact cumulative sums over steps, computed once per run in NumPy (O(steps)); the
sampler sees two numbers per logged point.

Default priors (weak but proper, for language models with peak learning rates near 1e-4 to 1e-2):
- L0 ~ LogNormal(1.0, 0.5): loss at infinite forward area (90 % prior interval 1.2-6.2).
- A ~ LogNormal(log 0.5, 1.0), alpha ~ LogNormal(log 0.5, 0.5): the constant-lr power law.
- C ~ LogNormal(0, 1.5): loss drop per unit of annealing area [nats / (lr x steps)]; a full decay
  of 3e-4 gives S2 near 0.3, so C near 1 means a drop near 0.3 nats (reproduction: C = 0.40).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import numpyro.distributions as dist
import pandas as pd

from .base import Law
from .multipower import CONSTANT_LR_PRIORS, log_loss_after_drop

ANNEALING_MOMENTUM = 0.999  # lambda: how long a decay keeps lowering the loss (about 1/(1-lambda) steps)


def annealing_area(lr: np.ndarray, momentum: float = ANNEALING_MOMENTUM) -> np.ndarray:
    """S2 at every step 0..T of one run (float64): the cumulative sum of the momentum of decays,
    m_i = momentum m_(i-1) + (lr_(i-1) - lr_i), counted from the schedule's first peak on."""
    from scipy.signal import lfilter  # here, not at the top: SciPy's signal package costs every import 0.5 s

    decay = np.zeros_like(lr)
    decay[1:] = lr[:-1] - lr[1:]
    decay[: int(np.argmax(lr)) + 1] = 0.0  # the warmup is not annealing
    return np.cumsum(lfilter([1.0], [1.0, -momentum], decay))


def lr_annealing_features(points: pd.DataFrame, lr_by_run: Mapping) -> dict[str, np.ndarray]:
    """Per point (rows of points: run_id, step): log_area = log S1(step) and anneal = S2(step)."""
    log_area, anneal = np.zeros(len(points)), np.zeros(len(points))
    for run_id, group in points.groupby("run_id", sort=False):
        lr, steps = lr_by_run[run_id], group["step"].to_numpy(np.int64)
        at = points.index.get_indexer(group.index)
        log_area[at] = np.log(np.cumsum(lr)[steps])
        anneal[at] = annealing_area(lr)[steps]
    return {"log_area": log_area, "anneal": anneal}


def lr_annealing_log_loss(p, x):
    """Log loss [log nats]; parameters (S, 1) broadcast against (M,) features."""
    return log_loss_after_drop(p, x["log_area"], p["C"] * x["anneal"])


LR_ANNEALING = Law(
    name="lr_annealing",
    covariates=("step",),
    priors={
        **CONSTANT_LR_PRIORS,
        "C": lambda: dist.LogNormal(0.0, 1.5),
    },
    log_loss=lr_annealing_log_loss,
    centring={"A": ("log_area", "alpha")},  # log A - alpha mean(log S1): the prefactor at the data's centre
    formula="L(s) = L0 + A S1(s)^-alpha - C S2(s), S2 = sum of decays carried with momentum 0.999",
    features=lr_annealing_features,
)
