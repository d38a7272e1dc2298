"""The multi-power law of Luo et al. 2025 (arXiv 2503.12811; laws.md section 8): the loss of a
training run at step t from its whole learning-rate schedule.

    L(t) = L0 + A S(t)^-alpha - B sum_{k=1..t} (lr_{k-1} - lr_k) G(lr_k^-gamma S_k(t)),
    G(x) = 1 - (C x + 1)^-beta,  S(t) = sum_{s=0..t} lr_s,  S_k(t) = sum_{s=k..t} lr_s.

lr: the learning rate of every optimiser step from 0 (warmup included, as the official code's
cumulative sums do); S: learning-rate area [lr x steps]; L: nats. Each decay of the learning rate
(lr_{k-1} > lr_k) lowers the loss by up to B (lr_{k-1} - lr_k), the more the longer ago it was;
warmup steps (rising lr) raise it. Checked against the official code: the published 25M and 100M
constants give a mean relative error of 0.00123 and 0.00172 on the upstream test curves
(upstream reports 0.00110 and 0.00142 for its own evaluation points).

Exact evaluation costs O(t) per logged point. Here the steps are grouped into cells over which
the learning rate changes little (schedule_cells), and the part of each cell at or before a
logged step enters once, at its decay-weighted mean learning rate and area: the error against
the exact sum is below 1.2e-4 of the loss on the Luo et al. schedules (tests/test_curves.py), and
steps where the learning rate does not change (constant stretches) cost nothing.

Default priors (weak but proper, for language models with peak learning rates near 1e-4 to 1e-2;
the published 25M-400M fits lie well inside them):
- L0 ~ LogNormal(1.0, 0.5): loss at infinite learning-rate area (90 % prior interval 1.2-6.2).
- A ~ LogNormal(log 0.5, 1.0), alpha ~ LogNormal(log 0.5, 0.5): the constant-lr power law.
- B ~ LogNormal(log 400, 1.5): loss drop per unit of learning-rate decay [nats / lr].
- C ~ LogNormal(log 2, 1.0), beta ~ LogNormal(log 0.6, 0.5), gamma ~ LogNormal(log 0.6, 0.5):
  how fast a decay's drop saturates with the area after it.
"""

from __future__ import annotations

import math

from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd

from .base import Law

LR_CHANGE_PER_CELL = 0.5  # a cell spans at most this relative change of the learning rate
DECAY_PER_CELL = 0.05  # and at most this share of the run's peak learning rate of decay
SMALLEST_LOSS = 1e-6  # nats; where a draw's drop exceeds L0 + A S^-alpha the log is taken here


def schedule_cells(lr: np.ndarray, last_step: int) -> dict[str, np.ndarray]:
    """Cells of steps 1..last_step of one run over which its learning rate changes little.

    lr: learning rate at every step 0..T (float64). A cell spans at most LR_CHANGE_PER_CELL of
    relative lr change and DECAY_PER_CELL of the peak lr of decay, and never a change of sign of
    the decay; steps without change belong to no cell. Returns per step with a change: step,
    decay (lr_{k-1} - lr_k), weight (|decay|), weighted log lr_k and weighted S(k-1), and cell
    (its cell's index)."""
    steps = np.arange(1, last_step + 1)
    decay = lr[steps - 1] - lr[steps]
    steps, decay = steps[decay != 0], decay[decay != 0]
    weight = np.abs(decay)
    sign_run = np.concatenate([[0], np.cumsum(np.diff(np.sign(decay)) != 0)]) if len(steps) else np.zeros(0, int)
    lr_bin = np.floor(np.log(lr[steps]) / np.log1p(LR_CHANGE_PER_CELL))
    mass_bin = np.floor(_cumsum_within(weight, sign_run) / (DECAY_PER_CELL * lr.max()))
    new_cell = np.concatenate([[True], (np.diff(sign_run) != 0) | (np.diff(lr_bin) != 0) | (np.diff(mass_bin) != 0)])
    return {"step": steps, "decay": decay, "weight": weight, "weighted_log_lr": weight * np.log(lr[steps]),
            "weighted_area": weight * np.cumsum(lr)[steps - 1], "cell": np.cumsum(new_cell)[: len(steps)] - 1}


def _cumsum_within(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Cumulative sum of values restarting at each new segment id (values from before a step)."""
    total = np.cumsum(values) - values
    starts = np.concatenate([[True], np.diff(segment) != 0])[: len(values)]
    return total - np.maximum.accumulate(np.where(starts, total, 0.0))


def _cell_sums(changes: dict, through: np.ndarray) -> dict[str, np.ndarray]:
    """Per logged step t: sums over each cell's steps k <= t of decay, weight, weighted log lr and
    weighted area, shape (points, cells), from cumulative sums (a cell's steps are consecutive)."""
    cell = changes["cell"]
    starts = np.flatnonzero(np.diff(np.concatenate([[-1], cell])))  # each cell's first step with a change
    ends = np.append(starts[1:], len(cell))
    seen = np.searchsorted(changes["step"], through, side="right")  # steps with a change at or before t
    upto = np.clip(seen[:, None], starts[None, :], ends[None, :])
    sums = {}
    for key in ("decay", "weight", "weighted_log_lr", "weighted_area"):
        total = np.concatenate([[0.0], np.cumsum(changes[key])])
        sums[key] = total[upto] - total[starts][None, :]
    return sums


def multipower_features(points: pd.DataFrame, lr_by_run: Mapping) -> dict[str, np.ndarray]:
    """Per point (rows of points: run_id, step): log_area = log S(t), and over the cells of its
    run (what of each cell lies at or before t; padded with zero decay to the most cells of any
    run): decay, log_lr and area (S(t) minus the cell's decay-weighted start area), each
    (points, cells)."""
    parts = []
    for run_id, group in points.groupby("run_id", sort=False):
        lr, steps = lr_by_run[run_id], group["step"].to_numpy(np.int64)
        sums = _cell_sums(schedule_cells(lr, int(steps.max())), steps)
        area = np.cumsum(lr)[steps]
        weight = np.where(sums["weight"] > 0, sums["weight"], 1.0)
        parts.append((points.index.get_indexer(group.index), area, {
            "decay": sums["decay"],
            "log_lr": sums["weighted_log_lr"] / weight,
            "area": np.where(sums["weight"] > 0, area[:, None] - sums["weighted_area"] / weight, 0.0)}))
    width = max([1] + [cells["decay"].shape[1] for *_, cells in parts])
    out = {"log_area": np.zeros(len(points)), **{k: np.zeros((len(points), width)) for k in ("decay", "log_lr", "area")}}
    for at, area, cells in parts:
        out["log_area"][at] = np.log(area)
        for key, values in cells.items():
            out[key][at, : values.shape[1]] = values
    return out


CONSTANT_LR_PRIORS = {  # the constant-learning-rate power law L0 + A S^-alpha, shared with lr_annealing
    "L0": lambda: dist.LogNormal(1.0, 0.5),
    "A": lambda: dist.LogNormal(math.log(0.5), 1.0),
    "alpha": lambda: dist.LogNormal(math.log(0.5), 0.5),
}


def log_loss_after_drop(p, log_area, drop):
    """log(L0 + A S^-alpha - drop) [log nats], the loss floored at SMALLEST_LOSS; log_area = log S."""
    loss = p["L0"] + jnp.exp(p["log_A"] - p["alpha"] * log_area) - drop
    return jnp.log(jnp.maximum(loss, SMALLEST_LOSS))


def multipower_log_loss(p, x):
    """Log loss [log nats]; parameters of shape (S, 1) broadcast against (M,) and (M, K) features."""
    def cellwise(name):
        return p[name][..., None]

    argument = cellwise("C") * jnp.exp(-cellwise("gamma") * x["log_lr"]) * x["area"]
    saturation = -jnp.expm1(-cellwise("beta") * jnp.log1p(argument))
    return log_loss_after_drop(p, x["log_area"], p["B"] * jnp.sum(x["decay"] * saturation, axis=-1))


MULTIPOWER = Law(
    name="multipower",
    covariates=("step",),
    priors={
        **CONSTANT_LR_PRIORS,
        "B": lambda: dist.LogNormal(math.log(400.0), 1.5),
        "C": lambda: dist.LogNormal(math.log(2.0), 1.0),
        "beta": lambda: dist.LogNormal(math.log(0.6), 0.5),
        "gamma": lambda: dist.LogNormal(math.log(0.6), 0.5),
    },
    log_loss=multipower_log_loss,
    # the sampler sees log A - alpha mean(log S), the prefactor at the data's centre. Centring C on
    # log lr as well (log C - gamma mean(log lr)) cut the bulk ESS of beta and gamma from about 300
    # to 46 on a 10-run fit, so C is sampled as it is.
    centring={"A": ("log_area", "alpha")},
    formula="L(t) = L0 + A S(t)^-alpha - B sum_k (lr_{k-1} - lr_k) (1 - (C lr_k^-gamma S_k(t) + 1)^-beta)",
    features=multipower_features,
)
