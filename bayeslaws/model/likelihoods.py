"""Observation models for log loss: Student-t (default), Normal and Huber density, and for
training curves ar1 (correlated residuals along each run) and run_offset (white noise plus one
offset per run: the law's error for a schedule), both in bayeslaws.model.curve_noise.

Each likelihood is the distribution of log(observed loss) around the law's log loss, with
its own nuisance parameters (sigma: scale in log-loss units, i.e. relative error; nu:
Student-t degrees of freedom; length: a curve's correlation length; run_sd: the sd of a run's
offset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.scipy.special import ndtr
from numpyro.distributions import constraints
from numpyro.distributions.transforms import AffineTransform

from .curve_noise import CurveResiduals, RunOffsetResiduals, curve_arrays


@dataclass(frozen=True)
class Likelihood:
    """name; priors of its nuisance parameters; distribution(loc, params) -> NumPyro distribution
    of one new run's log loss. Likelihoods whose fitted rows are not independent also have
    arrays(runs frame, padded size) -> dict of float32 arrays, and joint(loc, params, arrays) ->
    the distribution of all fitted rows together. draw(rng, loc, params), where given, draws new
    runs' log losses with NumPy (float64): forecasts use it instead of the distribution's JAX
    sampler, which compiles for every new shape of draws x targets (a Student-t's gamma draws:
    about 3 s each on this CPU)."""

    name: str
    priors: Mapping[str, Callable[[], dist.Distribution]]
    distribution: Callable[[jnp.ndarray, Mapping[str, jnp.ndarray]], dist.Distribution]
    arrays: Callable | None = None
    joint: Callable | None = None
    draw: Callable | None = None

    def observation(self, loc, params, arrays) -> dist.Distribution:
        """The distribution of the fitted rows' log losses."""
        return self.distribution(loc, params) if self.joint is None else self.joint(loc, params, arrays)


class HuberDensity(dist.Distribution):
    """Density proportional to exp(-huber_delta((x - loc) / scale)) / scale (Epoch AI's form).

    Quadratic within delta scale units of loc, linear (Laplace-like) beyond. The normaliser
    is sqrt(2 pi) (1 - 2 Phi_c(delta)) + 2 exp(-delta^2 / 2) / delta.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    reparametrized_params = ["loc", "scale"]

    def __init__(self, loc, scale, delta=1e-3, *, validate_args=None):
        self.loc, self.scale = jnp.broadcast_arrays(loc, scale)
        self.delta = delta
        super().__init__(batch_shape=jnp.shape(self.loc), validate_args=validate_args)

    def _log_normaliser(self):
        d = self.delta
        central = jnp.sqrt(2 * jnp.pi) * (1 - 2 * ndtr(-d))
        return jnp.log(central + 2 * jnp.exp(-0.5 * d**2) / d)

    def log_prob(self, value):
        r = jnp.abs((value - self.loc) / self.scale)
        d = self.delta
        huber = jnp.where(r <= d, 0.5 * r**2, d * (r - 0.5 * d))
        return -huber - jnp.log(self.scale) - self._log_normaliser()

    def sample(self, key, sample_shape=()):
        """Mixture of a truncated normal on [-delta, delta] and two exponential tails."""
        shape = sample_shape + self.batch_shape
        k_pick, k_mid, k_tail, k_sign = jax.random.split(key, 4)
        d = self.delta
        p_mid = jnp.sqrt(2 * jnp.pi) * (1 - 2 * ndtr(-d)) / jnp.exp(self._log_normaliser())
        mid = jax.random.truncated_normal(k_mid, -d, d, shape)
        tail = d + jax.random.exponential(k_tail, shape) / d
        sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, shape), 1.0, -1.0)
        r = jnp.where(jax.random.uniform(k_pick, shape) < p_mid, mid, sign * tail)
        return self.loc + self.scale * r


def _stirling_series(z):
    """log Gamma(z) - ((z - 1/2) log z - z + log(2 pi) / 2) for z >= 7, to within 1e-9."""
    inverse = 1.0 / z
    square = inverse * inverse
    return inverse * (1 / 12 - square * (1 / 360 - square * (1 / 1260 - square / 1680)))


def log_gamma_ratio_half(a):
    """log Gamma(a + 1/2) - log Gamma(a) for a > 0, to float32 precision at every a: both shifted
    by 7 by the recurrence, then Stirling's series, written so that nothing cancels at large a
    (a difference of two gammaln loses three digits at a = 1500). A far smaller program than
    jax.scipy.special.gammaln, which also serves negative arguments: the default sampler compiles
    about a third faster with it."""
    shifted = a + 7.0
    rising = sum(jnp.log1p(0.5 / (a + i)) for i in range(7))
    return (shifted * jnp.log1p(0.5 / shifted) + 0.5 * jnp.log(shifted) - 0.5
            + _stirling_series(shifted + 0.5) - _stirling_series(shifted) - rising)


class StudentT(dist.StudentT):
    """NumPyro's Student-t, its log density's normaliser from log_gamma_ratio_half."""

    def log_prob(self, value):
        y = (value - self.loc) / self.scale
        normaliser = jnp.log(self.scale) + 0.5 * jnp.log(self.df * jnp.pi) - log_gamma_ratio_half(0.5 * self.df)
        return -0.5 * (self.df + 1.0) * jnp.log1p(y**2 / self.df) - normaliser


class Erlang(dist.Gamma):
    """Gamma(k, rate) with a whole shape k >= 1: NumPyro's Gamma, its density and all, drawn as a
    sum of k exponential draws. NumPyro's general gamma sampler (a rejection loop) cost about 1 s
    of every Student-t sampler's compilation, for the one prior draw that starts each chain."""

    pytree_aux_fields = ("whole_shape",)

    def __init__(self, concentration, rate=1.0, *, validate_args=None):
        if not float(concentration).is_integer() or concentration < 1:
            raise ValueError(f"Erlang needs a whole shape of at least 1; got {concentration!r}")
        self.whole_shape = int(concentration)
        super().__init__(concentration, rate, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        exponentials = jax.random.exponential(key, (self.whole_shape,) + sample_shape + self.batch_shape)
        return exponentials.sum(axis=0) / self.rate


class GammaAbove(dist.TransformedDistribution):
    """low + Gamma(concentration, rate): a prior on Student-t degrees of freedom nu bounded below.

    Why a bound. With nu free down to 0, the Student-t likelihood of a model that can pass
    exactly through a few of its runs has no maximum: at sigma -> 0 each run on the law gains
    log(1/sigma), while each run off it loses only nu log(1/sigma), so once nu < (runs on the law
    / runs off it) the density grows without bound: a spike in which a chain gets stuck, with a
    new run's 90 % interval up to 1e307 wide. Bounding nu at ``low`` keeps the density finite
    unless more than low / (1 + low) of the runs are fitted exactly. A law with a discrepancy
    process and a noise scale on datablations (57 parameters; README, Extrapolation) met it: one
    chain in four at nu 0.0006, sigma 0.0002, R-hat 1.6; with the bound at 0.2 all four agree
    (R-hat 1.007).

    The default for runs, NU_FLOOR = 0.2 + Gamma(2, 0.1), leaves the heavy tails that Porian's
    isoFLOP points need (nu's posterior near 0.5-0.7 there: the runs trained on fewer tokens than
    parameters sit far off every law). Family fits use 1 + Gamma(2, 0.1) (FAMILY_PRIORS), tails
    no heavier than Cauchy's as in brms: a family of 4 runs with 4 parameters of its own is
    fitted exactly, every run on the law.
    """

    arg_constraints = {"low": constraints.real, "concentration": constraints.positive, "rate": constraints.positive}
    pytree_data_fields = ("low", "concentration", "rate")

    def __init__(self, low, concentration, rate, *, validate_args=None):
        self.low, self.concentration, self.rate = low, concentration, rate
        base = Erlang(concentration, rate) if float(concentration).is_integer() else dist.Gamma(concentration, rate)
        super().__init__(base, AffineTransform(low, 1.0), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than(self.low)  # (the shift's own codomain would cost a JAX program per process)


NU_FLOOR = 0.2  # the default lower bound of nu for tables of runs (see GammaAbove)
FAMILY_PRIORS = {"student_t": {"nu": lambda: GammaAbove(1.0, 2.0, 0.1)}}  # likelihood -> defaults with groups=

# run_offset: median of the prior on a run's offset from the law [log-loss units], the size of
# Luo et al.'s published error of the multi-power law on unseen schedules (mean absolute
# relative error 0.11-0.14 %, i.e. an sd near 0.15-0.2 %)
RUN_SD = 0.002
SIGMA_PRIOR = lambda: dist.HalfNormal(0.1)  # noqa: E731  relative noise on loss, about 0-20 %

LIKELIHOODS: dict[str, Likelihood] = {
    "student_t": Likelihood(
        "student_t",
        {"sigma": SIGMA_PRIOR, "nu": lambda: GammaAbove(NU_FLOOR, 2.0, 0.1)},
        lambda loc, p: StudentT(p["nu"], loc, p["sigma"]),
        draw=lambda rng, loc, p: loc + p["sigma"] * rng.standard_t(np.broadcast_to(p["nu"], np.shape(loc))),
    ),
    "normal": Likelihood(
        "normal",
        {"sigma": SIGMA_PRIOR},
        lambda loc, p: dist.Normal(loc, p["sigma"]),
        draw=lambda rng, loc, p: loc + p["sigma"] * rng.standard_normal(np.shape(loc)),
    ),
    "huber": Likelihood(
        "huber",
        {"sigma": SIGMA_PRIOR},
        lambda loc, p: HuberDensity(loc, p["sigma"], 1e-3),
    ),
    "ar1": Likelihood(
        "ar1",
        {"sigma": SIGMA_PRIOR, "length": lambda: dist.LogNormal(math.log(0.05), 1.0)},
        lambda loc, p: dist.Normal(loc, p["sigma"]),
        arrays=curve_arrays,
        joint=lambda loc, p, a: CurveResiduals(loc, p["sigma"], p["length"], a["gap"], a["first"]),
    ),
    "run_offset": Likelihood(
        "run_offset",
        {"sigma": SIGMA_PRIOR, "run_sd": lambda: dist.LogNormal(math.log(RUN_SD), 0.5)},
        lambda loc, p: dist.Normal(loc, jnp.sqrt(p["sigma"] ** 2 + p["run_sd"] ** 2)),
        arrays=curve_arrays,
        joint=lambda loc, p, a: RunOffsetResiduals(loc, p["sigma"], p["run_sd"], a["first"]),
    ),
}


def get_likelihood(name: str | Likelihood) -> Likelihood:
    if isinstance(name, Likelihood):
        return name
    if name not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood '{name}'; choose one of {sorted(LIKELIHOODS)}")
    return LIKELIHOODS[name]
