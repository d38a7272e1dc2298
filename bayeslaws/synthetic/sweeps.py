"""Synthetic learning-rate x batch-size sweeps around a known optimum (like Step Law's grids).

Each (N, D) cell is trained on the same absolute grid of learning rates and batch sizes
[tokens]; the loss is the law at (N, D) times exp(P) for the true penalty (see
:mod:`bayeslaws.penalties`), times log-normal noise. A flat plateau can be added around the
optimum, and runs far above the optimal learning rate diverge (final loss of 6 to 12 nats).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..laws import get_law
from ..terms.penalty import Penalty, basin_value, intercept, log_optima
from .zoo import DEFAULT_TRUTH, Zoo, true_loss

# Step Law's optima (laws.md section 5) at the reference scale; basins from published sweeps'
# look: a factor 4 off the best lr costs about 1-3 %, a factor 4 off the best batch about 0.5 %.
DEFAULT_HYPER_TRUTH = {
    "lr_ref": 1.632e-3, "cN": -0.713, "cD": 0.307,
    "batch_ref": 1.108e6, "bD": 0.571, "bN": 0.0,
    "w_lr": 0.01, "w_bs": 0.003,
}
DEFAULT_ASYMMETRY = 1.0  # k_lr of the "linex" truth: a factor 4 too high costs 2.5x a factor 4 too low
DIVERGED_LOSS = (6.0, 12.0)  # final loss of a diverged run [nats], log-uniform


def sweep_cells(n_sizes: int, size_range, token_range, tokens_per_size: int) -> pd.DataFrame:
    """(N, D) cells: n_sizes model sizes log-spaced over size_range [parameters], each trained at
    tokens_per_size token counts; the n_sizes * tokens_per_size counts are log-spaced over
    token_range [tokens] and interleaved so that every size sees short and long training."""
    sizes = np.geomspace(*size_range, n_sizes)
    tokens = np.geomspace(*token_range, n_sizes * tokens_per_size)
    rows = [(N, tokens[i + j * n_sizes]) for i, N in enumerate(sizes) for j in range(tokens_per_size)]
    return pd.DataFrame(rows, columns=["N", "D"])


def simulate_sweep(
    law: str = "chinchilla",
    params: dict | None = None,
    hyper: dict | None = None,
    *,
    basin: str = "quadratic",
    interaction: bool = False,
    n_sizes: int = 5,
    size_range: tuple[float, float] = (2e8, 1e9),
    token_range: tuple[float, float] = (4e9, 1e11),
    tokens_per_size: int = 2,
    n_lr: int = 20,
    lr_range: tuple[float, float] = (2.5e-4, 1.2e-2),
    n_batch: int = 10,
    batch_range: tuple[float, float] = (2.0**15, 2.0**24),
    plateau: float = 0.0,
    divergence_above: float = 2.2,
    noise: float = 0.003,
    seed: int = 0,
) -> Zoo:
    """Simulate a full lr x batch-size sweep on every (N, D) cell.

    law, params: the scaling law and its true parameters (default: Chinchilla, Besiroglu et al.).
    hyper: true penalty parameters (default DEFAULT_HYPER_TRUTH, plus k_lr for ``basin="linex"``
        and cB for ``interaction=True``).
    basin: "quadratic" (symmetric) or "linex" (asymmetric; too high an lr costs more).
    n_lr, lr_range: learning rates, log-spaced; n_batch, batch_range: batch sizes [tokens].
    plateau: half-width [log lr] of a flat bottom: the basin is evaluated at
        sign(d) (sqrt(d^2 + plateau^2) - plateau), which is flat near d = 0 and the same basin
        shifted outward beyond. 0 (default) means no plateau beyond the basin's own flatness.
    divergence_above: runs with d = log lr - log lr* above this [log lr] diverge with a
        probability rising from 1/2 there to 1 (logistic, scale 0.15); their loss is log-uniform
        in DIVERGED_LOSS [nats] and they stay in the table.
    noise: sd of the multiplicative log-normal noise (0.003 = 0.3 %).

    Returns a Zoo: runs (run_id, N, D, C, lr, batch_size, loss, diverged), truth (law and
    penalty parameters plus c0, b0) and design (including the Penalty spec as a dict).
    """
    law_obj = get_law(law)
    truth = dict(params or DEFAULT_TRUTH[law_obj.name])
    penalty = Penalty(basin=basin, interaction=interaction)
    hyper_truth = {**DEFAULT_HYPER_TRUTH, **({"k_lr": DEFAULT_ASYMMETRY} if basin == "linex" else {}),
                   **({"cB": 0.5} if interaction else {}), **(hyper or {})}
    rng = np.random.default_rng(seed)
    cells = sweep_cells(n_sizes, size_range, token_range, tokens_per_size)
    grid = pd.MultiIndex.from_product(
        [range(len(cells)), np.geomspace(*lr_range, n_lr), np.geomspace(*batch_range, n_batch)],
        names=["cell", "lr", "batch_size"],
    ).to_frame(index=False)
    runs = cells.iloc[grid["cell"]].reset_index(drop=True).assign(lr=grid["lr"], batch_size=grid["batch_size"])
    runs.insert(0, "run_id", np.arange(len(runs)))
    runs["C"] = 6.0 * runs["N"] * runs["D"]
    d_lr, log_penalty = true_log_penalty(penalty, hyper_truth, runs, plateau)
    diverged = rng.uniform(size=len(runs)) < 1.0 / (1.0 + np.exp(-(d_lr - divergence_above) / 0.15))
    healthy = true_loss(law_obj, truth, runs) * np.exp(log_penalty + noise * rng.standard_normal(len(runs)))
    blown_up = np.exp(rng.uniform(*np.log(DIVERGED_LOSS), size=len(runs)))
    runs["loss"] = np.where(diverged, blown_up, healthy)
    runs["diverged"] = diverged
    derived = {
        "c0": float(intercept(np.log(hyper_truth["lr_ref"]), hyper_truth["cN"], hyper_truth["cD"])),
        "b0": float(intercept(np.log(hyper_truth["batch_ref"]), hyper_truth["bN"], hyper_truth["bD"])),
    }
    design = {
        "law": law_obj.name, "penalty": penalty.to_dict(), "cells": cells.to_dict("list"),
        "n_lr": n_lr, "lr_range": list(lr_range), "n_batch": n_batch, "batch_range": list(batch_range),
        "plateau": plateau, "divergence_above": divergence_above, "noise": noise, "seed": seed,
        "diverged_fraction": float(diverged.mean()),
    }
    return Zoo(runs, {**truth, **hyper_truth, **derived}, design)


def true_log_penalty(penalty: Penalty, hyper: dict, runs: pd.DataFrame, plateau: float = 0.0):
    """(d_lr, P): the distance from the true best lr [log lr] and the true penalty [log-loss
    units] of each run, in float64 NumPy, with the plateau (see simulate_sweep) applied to both
    distances."""
    p = {k: np.float64(v) for k, v in hyper.items()}
    logx = {c: np.log(runs[c].to_numpy(np.float64)) for c in ("N", "D")}
    optima = log_optima(penalty, p, logx)
    d_batch = _flatten(np.log(runs["batch_size"].to_numpy(np.float64)) - optima["batch_size"], plateau)
    d_lr = np.log(runs["lr"].to_numpy(np.float64)) - optima["lr"] - (p["cB"] * d_batch if penalty.interaction else 0.0)
    value = p["w_bs"] * d_batch**2 + np.asarray(basin_value(penalty.basin, jnp.asarray(_flatten(d_lr, plateau)),
                                                              p["w_lr"], p.get("k_lr")), dtype=np.float64)
    return d_lr, value


def _flatten(d: np.ndarray, plateau: float) -> np.ndarray:
    """sign(d) (sqrt(d^2 + h^2) - h): flat within about h of 0, shifted by h beyond."""
    if plateau == 0.0:
        return d
    return np.sign(d) * (np.sqrt(d**2 + plateau**2) - plateau)


def simulate_steps_to_target(
    truth: dict | None = None,
    *,
    losses: tuple[float, ...] = (2.4, 2.7, 3.0, 3.3, 3.6),
    n_batch: int = 10,
    batch_range: tuple[float, float] = (2.0**16, 2.0**25),
    noise: float = 0.03,
    seed: int = 0,
) -> Zoo:
    """Steps-to-target runs for the critical-batch law (bayeslaws.critical_batch.CRITICAL_BATCH):
    for each target loss [nats] and batch size [tokens, log-spaced], the optimiser steps
    S = S_min(L) (1 + B_crit(L) / B) times log-normal noise of sd ``noise``. The default truth
    is Kaplan et al. 2020: S_c = 2.1e3, alpha_S = 0.76, B_star = 2e8 tokens, alpha_B = 0.21.
    Returns a Zoo with columns run_id, batch_size, loss, step."""
    from ..laws.critical_batch import CRITICAL_BATCH

    truth = dict(truth or {"S_c": 2.1e3, "alpha_S": 0.76, "B_star": 2e8, "alpha_B": 0.21})
    rng = np.random.default_rng(seed)
    grid = pd.MultiIndex.from_product([losses, np.geomspace(*batch_range, n_batch)], names=["loss", "batch_size"])
    runs = grid.to_frame(index=False)
    runs.insert(0, "run_id", np.arange(len(runs)))
    steps = true_loss(CRITICAL_BATCH, truth, runs)  # the law's response here is steps
    runs["step"] = steps * np.exp(noise * rng.standard_normal(len(runs)))
    design = {"losses": list(losses), "n_batch": n_batch, "batch_range": list(batch_range), "noise": noise, "seed": seed}
    return Zoo(runs, truth, design)
