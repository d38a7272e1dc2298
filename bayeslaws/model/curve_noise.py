"""Residuals along a training curve: a stationary Gaussian AR(1) in step, or a per-run offset.

The checkpoints of one run are not independent evidence: a curve that runs above the law at
one step runs above it at the next. Within a run, the residual e = log(loss) - law follows an
Ornstein-Uhlenbeck process in step (the exact AR(1) at unevenly spaced steps):

    e_first ~ Normal(0, sigma),   e_i | e_(i-1) ~ Normal(rho_i e_(i-1), sigma sqrt(1 - rho_i^2)),
    rho_i = exp(-(step_i - step_(i-1)) / (length x typical run length)),

so a point's information saturates as checkpoints get denser: doubling them does not halve an
interval. sigma: relative noise of one logged loss; length: the correlation length as a share of
the median last step over runs. Runs are independent; a new run's point is Normal(law, sigma).

The second model here, RunOffsetResiduals (likelihood "run_offset"), is white noise plus one
offset per run: the law's own error for a schedule, which a new schedule's forecast carries.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
from numpyro.distributions import constraints


def curve_arrays(points, size: int) -> dict:
    """gap (step gap to the run's previous point over the median last step; 0 for a run's first
    point) and first (1 where a run starts, and on padding rows), float32, padded to size."""
    _check_order(points)
    steps = points["step"].to_numpy(np.float64)
    scale = points.groupby("run_id", sort=False)["step"].max().median()
    first = np.ones(size, np.float32)
    first[: len(points)] = (points["run_id"] != points["run_id"].shift()).to_numpy()
    gap = np.zeros(size, np.float32)
    gap[1: len(points)] = np.diff(steps) / scale
    return {"gap": np.where(first > 0, 0.0, gap).astype(np.float32), "first": first}


def _check_order(points) -> None:
    """Each run's rows must be together and in increasing step order (the AR(1) runs along them)."""
    runs, steps = points["run_id"].to_numpy(object), points["step"].to_numpy(np.float64)
    starts = np.concatenate([[True], runs[1:] != runs[:-1]])
    blocks = runs[starts]  # the run of each block of consecutive rows
    scattered = blocks[pd.Series(blocks).duplicated().to_numpy()]
    if len(scattered):
        raise ValueError(f"the rows of run {scattered[0]!r} are not together: sort the table by run_id, then step")
    backwards = ~starts[1:] & (np.diff(steps) <= 0)
    if backwards.any():
        at = int(np.flatnonzero(backwards)[0]) + 1
        raise ValueError(f"run {runs[at]!r}: step {steps[at]:g} does not come after the step before it "
                         f"({steps[at - 1]:g}); sort each run's rows by increasing step, without repeats")


class CurveResiduals(dist.Distribution):
    """Log losses of curve points (rows in run order, then step order) around loc, with the
    AR(1) residuals of the module docstring. log_prob gives each point's density given the
    previous point of its run; sample draws whole curves."""

    arg_constraints = {"loc": constraints.real, "sigma": constraints.positive, "length": constraints.positive}
    support = constraints.real

    def __init__(self, loc, sigma, length, gap, first, *, validate_args=None):
        self.loc, self.sigma, self.length = loc, sigma, length
        sigma, length = jnp.expand_dims(sigma, -1), jnp.expand_dims(length, -1)
        starts = first > 0
        gap = jnp.where(starts, 1.0, gap)  # a run's first point has no predecessor (and sqrt(0) no gradient)
        self.rho = jnp.where(starts, 0.0, jnp.exp(-gap / length))
        self.innovation_scale = jnp.where(starts, sigma, sigma * jnp.sqrt(-jnp.expm1(-2 * gap / length)))
        super().__init__(batch_shape=jnp.shape(loc), validate_args=validate_args)

    def log_prob(self, value):
        residual = value - self.loc
        previous = jnp.concatenate([jnp.zeros_like(residual[..., :1]), residual[..., :-1]], axis=-1)
        return dist.Normal(0.0, self.innovation_scale).log_prob(residual - self.rho * previous)

    def sample(self, key, sample_shape=()):
        shape = sample_shape + self.batch_shape
        shocks = self.innovation_scale * jax.random.normal(key, shape)
        decay = jnp.broadcast_to(self.rho, shape)
        _, residual = jax.lax.associative_scan(_compose, (decay, shocks), axis=-1)
        return self.loc + residual


def _compose(earlier, later):
    """e = a e_prev + b, applied after another such map: (a1, b1) then (a2, b2)."""
    a1, b1 = earlier
    a2, b2 = later
    return a1 * a2, a2 * b1 + b2


class RunOffsetResiduals(dist.Distribution):
    """Log losses of curve points (rows in run order) around loc: white noise of scale sigma plus
    one offset per run, Normal(0, run_sd), shared by all of the run's points (marginalised).

    The offset is the law's own error for one schedule: a law fitted to a few schedules misses
    an unseen one by a level that its noise does not explain (Luo et al.'s multi-power law: about
    0.1-0.2 % of the loss). Per run (n points, residuals r, Sherman-Morrison):
        log N(r; 0, sigma^2 I + run_sd^2 1 1') = sum_i log N(r_i; 0, sigma)
            + run_sd^2 (sum r)^2 / (2 sigma^2 (sigma^2 + n run_sd^2)) - log(1 + n run_sd^2 / sigma^2) / 2,
    the run's term carried by its first point. first: 1 where a run starts (and on padding rows,
    each its own run)."""

    arg_constraints = {"loc": constraints.real, "sigma": constraints.positive, "run_sd": constraints.positive}
    support = constraints.real

    def __init__(self, loc, sigma, run_sd, first, *, validate_args=None):
        self.loc, self.sigma, self.run_sd = loc, sigma, run_sd
        self.first = first
        self.run = jnp.cumsum(first > 0) - 1  # each point's run, 0..(runs - 1)
        super().__init__(batch_shape=jnp.shape(loc), validate_args=validate_args)

    def log_prob(self, value):
        residual = value - self.loc
        sigma, run_sd = jnp.expand_dims(self.sigma, -1), jnp.expand_dims(self.run_sd, -1)
        size = residual.shape[-1]
        total = jnp.moveaxis(jax.ops.segment_sum(jnp.moveaxis(residual, -1, 0), self.run, size), 0, -1)[..., self.run]
        count = jax.ops.segment_sum(jnp.ones(size), self.run, size)[self.run]
        ratio = count * run_sd**2 / sigma**2
        run_term = 0.5 * run_sd**2 * total**2 / (sigma**2 * (sigma**2 + count * run_sd**2)) - 0.5 * jnp.log1p(ratio)
        return dist.Normal(0.0, sigma).log_prob(residual) + jnp.where(self.first > 0, run_term, 0.0)

    def sample(self, key, sample_shape=()):
        shape = sample_shape + self.batch_shape
        noise_key, offset_key = jax.random.split(key)
        sigma, run_sd = jnp.expand_dims(self.sigma, -1), jnp.expand_dims(self.run_sd, -1)
        offsets = jax.random.normal(offset_key, shape)[..., self.run]  # one draw per run, from its first row
        return self.loc + sigma * jax.random.normal(noise_key, shape) + run_sd * offsets


def offset_given_run(residuals: np.ndarray, sigma: np.ndarray, run_sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, the mean and sd of a fitted run's offset given its residuals (draws, points)."""
    n = residuals.shape[-1]
    shrink = n * run_sd**2 / (sigma**2 + n * run_sd**2)
    return shrink * residuals.mean(axis=-1), np.sqrt(run_sd**2 * sigma**2 / (sigma**2 + n * run_sd**2))
