"""Critical batch size: the McCandlish/Kaplan trade-off between optimiser steps and data.

At a fixed target loss, steps S and examples E = B S [tokens] trade off on the hyperbola
(laws.md sections 2 and 3)

    (S / S_min - 1) (E / E_min - 1) = 1,   S = S_min (1 + B_crit / B),   E = E_min (1 + B / B_crit),

with B_crit = E_min / S_min, and the critical batch grows as the loss falls (Kaplan eq. 1.4):
B_crit(L) = B_star / L^(1 / alpha_B). Batches are in tokens, losses in nats.

CRITICAL_BATCH is a Law for runs that record steps-to-target: each row is one batch size and
one target loss (column ``loss``) with the steps it took (column ``step``); fit it with
``bl.fit(runs, law=CRITICAL_BATCH)`` (also ``bl.critical_batch.CRITICAL_BATCH``). Its S_min(L) = S_c / L^(1 / alpha_S) is Kaplan's L(S_min).
"""

from __future__ import annotations

import math

from typing import Mapping

import numpy as np
import numpyro.distributions as dist
import pandas as pd

from ..data import summarise_draws
from .base import Law, log_sum_exp

KAPLAN_B_STAR = 2e8  # tokens (laws.md section 2; 2.1e8 in Kaplan Table 4)
KAPLAN_ALPHA_B = 0.21


def steps_over_minimum(batch_over_critical):
    """S / S_min at B / B_crit: 1 + B_crit / B."""
    return 1.0 + 1.0 / np.asarray(batch_over_critical, dtype=np.float64)


def data_over_minimum(batch_over_critical):
    """E / E_min (tokens over the minimum) at B / B_crit: 1 + B / B_crit."""
    return 1.0 + np.asarray(batch_over_critical, dtype=np.float64)


def kaplan_critical_batch(loss, B_star: float = KAPLAN_B_STAR, alpha_B: float = KAPLAN_ALPHA_B):
    """B_crit(L) = B_star / L^(1 / alpha_B) [tokens] at loss L [nats] (Kaplan et al. 2020, eq. 1.4)."""
    return B_star / np.asarray(loss, dtype=np.float64) ** (1.0 / alpha_B)


def batch_for_extra_data(extra_data: float, critical_batch):
    """The batch [tokens] that spends ``extra_data`` (e.g. 0.2 = 20 %) more tokens than the minimum
    to reach the target: E / E_min = 1 + B / B_crit, so B = extra_data * B_crit. It then needs
    S / S_min = 1 + 1 / extra_data steps (see steps_over_minimum)."""
    if not extra_data > 0:
        raise ValueError(f"extra_data must be a positive fraction of the minimum data; got {extra_data}")
    return extra_data * np.asarray(critical_batch, dtype=np.float64)


def _steps_log(p, x):
    """log S(B, L) = log[S_c L^(-1/alpha_S) (1 + B_star L^(-1/alpha_B) / B)]."""
    log_s_min = p["log_S_c"] - x["loss"] / p["alpha_S"]
    log_b_crit = p["log_B_star"] - x["loss"] / p["alpha_B"]
    return log_sum_exp(log_s_min, log_s_min + log_b_crit - x["batch_size"])


CRITICAL_BATCH = Law(
    name="critical_batch",
    covariates=("batch_size", "loss"),
    priors={
        # Kaplan et al. 2020 (laws.md section 2) as centres: S_c = 2.1e3, alpha_S = 0.76, B_star = 2e8, alpha_B = 0.21.
        "S_c": lambda: dist.LogNormal(math.log(2.1e3), 3.0),
        "alpha_S": lambda: dist.LogNormal(math.log(0.76), 0.75),
        "B_star": lambda: dist.LogNormal(math.log(KAPLAN_B_STAR), 3.0),
        "alpha_B": lambda: dist.LogNormal(math.log(KAPLAN_ALPHA_B), 0.75),
    },
    log_loss=_steps_log,
    formula="S = S_c L^(-1/alpha_S) (1 + B_star L^(-1/alpha_B) / B)",
    centring={"S_c": ("loss", lambda p: -1.0 / p["alpha_S"]), "B_star": ("loss", lambda p: -1.0 / p["alpha_B"])},
    response="step",
)


def critical_batch_forecast(draws: Mapping[str, np.ndarray], loss, extra_data: float | None = None,
                            ci_prob: float = 0.9) -> pd.DataFrame:
    """B_crit [tokens] at target losses [nats] from posterior draws of CRITICAL_BATCH (Fit.draws()),
    and with ``extra_data`` the batch that trades that fraction of extra tokens for fewer steps
    (column batch_*), with the steps multiple it needs (steps_over_minimum)."""
    loss = np.atleast_1d(np.asarray(loss, dtype=np.float64))
    b_crit = kaplan_critical_batch(loss[None, :], draws["B_star"][:, None], draws["alpha_B"][:, None])
    out = pd.DataFrame({"loss": loss}).assign(**summarise_draws(b_crit, "B_crit", ci_prob))
    if extra_data is None:
        return out
    batch = batch_for_extra_data(extra_data, b_crit)
    return out.assign(**summarise_draws(batch, "batch", ci_prob), steps_over_minimum=steps_over_minimum(extra_data))
