"""Model discrepancy: every scaling law is wrong somewhere, and most of all far from its runs.

The term adds a zero-mean Gaussian process on the (log) scale of the runs to the law's log loss
(Kennedy & O'Hagan's model discrepancy):

    log L_run = log L_law(N, D) + g(x),   g = f - (level and slope of f over the fitted runs),
    f ~ GP(0, a^2 exp(-|x - x'|^2 / (2 l^2))).

Why g and not f: near the runs the law has a free level and a free slope in log C of its own
(E, A, B and the exponents), so the level and linear trend of f over the runs are not identified
apart from the law's parameters. Left in, they trade along ridges: on a 60-run zoo NUTS took
170 leapfrog steps per iteration with 1-3 % divergent transitions; with the trend removed, 43
steps and none (removing only the level: 56 steps, still divergent). g is the part of the
misfit that the law's level and slope cannot take up (in the spirit of orthogonal discrepancy
processes, Plumlee 2017, with the law's two leading directions instead of its exact gradient).
What it means for forecasts: at the runs the data pin down law + g, so intervals stay as tight
as the runs allow; beyond them g has the GP's own spread plus the slope of f that the law
absorbed, continued: the band widens with distance from the runs and keeps widening, roughly
linearly in x far out (prior sd of g for l = 1: 0.2-0.3 a over the runs, 1.2 a one half-range
beyond the largest, 4 a at the reach). Not a bound on how wrong a law can be: a misfit the runs
cannot see is covered only as far as the amplitude's prior allows (see below).

x: by default log C: the law's column C when the law reads C, else C = 6 N D for laws in N and
D (resolved against the law by ``for_law`` when the ModelSpec is built, and stored resolved, so
that a saved fit reads the same covariate). ``on="law"`` uses the law's covariates instead (a
2-D process on log N and log D); ``on`` may also name them.

Coordinates. Each log covariate is standardised with the fitted runs' midrange and half-range,
so the runs lie in [-1, 1] and the lengthscale is in units of half the runs' span (a prior that
means the same for every sweep). f is a Hilbert-space approximate GP (Solin & Sarkka 2020;
Riutort-Mayol et al. 2023; numpyro.contrib.hsgp): f(x) = sum_j phi_j(x) sqrt(S(sqrt(lambda_j)))
w_j with the Laplacian's eigenfunctions phi_j on [-boundary, boundary], the squared-exponential
spectral density S, and standard-normal weights w (non-centred; one vector site). The basis
functions vanish at +-boundary, which would shrink the band to zero there, so the boundary sits
far beyond the runs (8 half-ranges from their centre), and forecasts are allowed only up to
``boundary - REACH_MARGIN`` (5.5 half-ranges from the centre, i.e. 4.5 half-ranges beyond the
largest run: 9 decades of compute for runs spanning 4). Up to there, for lengthscales up to 2
(the prior's 92 % quantile), the approximate prior variance of f is within 5 % of a^2 (checked
numerically on the basis; it falls short only for the longest lengthscales near the reach). A
target beyond the reach is a ValueError naming it, not a silently shrunken band. 48 basis
functions in 1-D keep the variance within 1 % down to lengthscale 0.3 (about the spacing of 8
budgets over the runs' span); 2-D uses 20 per dimension (400 weights), accurate for
lengthscales from about 0.85: shorter ones are smoothed.

Priors (overridable by name through ``priors=``):
    discrepancy_amplitude   ~ LogNormal(log(amplitude = 0.06), 0.5)  [log-loss units: the sd of
                              f, about 6 % of the loss; 95 % in 2.3-16 %; see below];
    discrepancy_lengthscale ~ LogNormal(log(lengthscale = 1), 0.5)  [standardised units; 95 %
                              in 0.38-2.7: rarely shorter than the spacing of the runs' budgets,
                              so f cannot chase single budgets, and rarely much longer than the
                              span, where it would only mimic the law];
    discrepancy_weights     ~ Normal(0, 1), one vector site of the basis size (not a prior to
                              override: the scale is the amplitude's).
A LogNormal, not a HalfNormal, on the amplitude: the term is for the belief that the law is
wrong by a few percent somewhere, and a prior with its mode at zero lets runs that the law fits
talk the band away (the runs never see the misfit beyond them). On a misspecified zoo (a bend
beyond the runs; benchmark in the report of this change) HalfNormal(0.02) gave posterior
amplitudes of 0.006 and held-out 90 % coverage 0.47-0.53 against 0.41-0.43 for the plain law;
this prior 0.016 and 0.53-0.61; with a well-specified law, 0.92 and 0.94 against 0.91.
The runs hardly inform the amplitude (its posterior median is 0.75-0.95 of the prior's), so the
prior is the band beyond them. On the zoos of
benchmarks/extrapolation.py (benchmarks/discrepancy_amplitude.py; 10 seeds, 300 held-out runs per truth; amplitude 0 / 0.02 / 0.04 /
0.06 / 0.08) 90 % coverage reads 0.25 / 0.68 / 0.77 / 0.84 / 0.87 with a bend beyond the runs,
- / 0.86 / 0.91 / 0.92 / - with the Farseer form, and 0.92 / 0.94 / 0.95 / 0.94 / 0.96 with a
well-specified law (90 % width 3.5 / 4.3 / 4.7 / 4.9 / 5.1 % of the loss; median error 0.67 /
0.78 / 0.83 / 0.83 / 0.84 %). With 0.06, on 20 further seeds: 0.76, 0.925 and 0.95; on the
public benchmarks it lowered the held-out error on five of six (Porian RefinedWeb 5.5 -> 3.6 %).
0.06 is the default since 2026-12-07, with bl.fit's target_accept raised to 0.95 whenever the
term is in a model: at 0.8 the term's funnel (amplitude, lengthscale and 48 weights) diverged,
91-163 divergent draws in 10,000 over five 120-run zoos, 2-4 at 0.95, the held-out figures unchanged
(benchmarks/README.md, *Discrepancy defaults*). With both defaults, over 40 seeds (0-39; 1,200
held-out runs per truth): 90 % coverage 0.80 with a bend beyond the runs (the plain law 0.25),
0.93 with the Farseer form (0.45) and 0.96 with the right law (0.90), error 0.84 % against
0.68 % and width 5.4 % against 3.5 % there (benchmarks/discrepancy_amplitude.py). A shorter
lengthscale prior, Discrepancy(lengthscale=0.5), widens the band sooner beyond the runs: on
fresh seeds (20-39) 90 % coverage 0.867 with a bend beyond the runs (0.77 with lengthscale 1),
0.95 with the Farseer form and 0.985 with the right law (error 0.98 % against 0.91 %); README,
Extrapolation, *Lengthscale*.

The standardisation and the trend depend on the fitted runs; the compiled program must not.
The sampler gets the detrended basis at the runs as the term's array (computed in float64
NumPy: data, not part of Term.key()); Term.key() holds only settings (covariates, prior
scales, boundary, basis size), so backtests that refit the same model on many splits reuse one
program. At forecast time the constants (centre, half-range, trend) are recomputed from the
fitted runs table by the same function: ``bind(tables)`` returns a FittedDiscrepancy holding
them (forecasts call Term.bind with the fit's tables; Fit.predict passes fit.tables). The
fitted runs are stored losslessly in a saved fit, so the constants survive save/load exactly,
with no copies of them (as deterministic sites would be: constant "parameters" in every
summary and diagnostic) that could disagree with the runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
from numpyro.contrib.hsgp.laplacian import eigenindices, sqrt_eigenvalues

from ..data import RunTableError
from ..model.term import Tables, Term

COMPUTE = "6ND"  # the covariate C = 6 N D, for laws in N and D
COMPUTE_PER_TOKEN_PARAM = 6.0
BOUNDARY = 8.0  # half-width of the HSGP box [half-ranges of the runs]
REACH_MARGIN = 2.5  # forecasts allowed up to BOUNDARY - REACH_MARGIN from the runs' centre
BASIS = {1: 48, 2: 20}  # basis functions per dimension, by the number of covariates
AMPLITUDE_SD = 0.5  # log-sd of the amplitude's LogNormal prior
LENGTHSCALE_SD = 0.5  # log-sd of the lengthscale's LogNormal prior
SITES = ("discrepancy_amplitude", "discrepancy_lengthscale", "discrepancy_weights")


@dataclass(frozen=True)
class Discrepancy(Term):
    """A zero-mean process on the runs' log scale, added to the law's log loss.

    on: None (log C: the law's C, or 6 N D for laws in N and D), "law" (the law's covariates:
        2-D for N and D), or covariate names (the law's, or "6ND").
    amplitude: median of the LogNormal prior on the process's sd [log-loss units].
    lengthscale: median of the LogNormal prior on its lengthscale [half-ranges of the runs].
    boundary: half-width of the approximation's box [half-ranges of the runs]; forecasts reach
        ``boundary - 2.5`` half-ranges from the runs' centre.
    basis: basis functions per dimension (default 48 in 1-D, 20 in 2-D).
    """

    on: str | tuple[str, ...] | None = None
    amplitude: float = 0.06
    lengthscale: float = 1.0
    boundary: float = BOUNDARY
    basis: int | None = None

    kind = "discrepancy"

    def __post_init__(self):
        if isinstance(self.on, (list, tuple)):
            object.__setattr__(self, "on", tuple(self.on))
        for name in ("amplitude", "lengthscale"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"discrepancy {name} must be positive; got {getattr(self, name)!r}")
        if not float(self.boundary) > REACH_MARGIN + 1:
            raise ValueError(f"discrepancy boundary must exceed {REACH_MARGIN + 1:g} (half-ranges of the runs), "
                             f"so that forecasts beyond the runs stay inside it; got {self.boundary!r}")
        if self.basis is not None and not (isinstance(self.basis, (int, np.integer)) and self.basis >= 2):
            raise ValueError(f"discrepancy basis must be a whole number >= 2; got {self.basis!r}")

    # ------------------------------------------------------------ settings

    @property
    def resolved(self) -> bool:
        return isinstance(self.on, tuple)

    @property
    def covariates(self) -> tuple[str, ...]:
        if not self.resolved:
            raise ValueError("this discrepancy term is not bound to a law yet (on=None or 'law'); use it in a "
                             "ModelSpec or bl.fit, which resolve it with for_law")
        return self.on

    @property
    def dim(self) -> int:
        return len(self.covariates)

    @property
    def per_dim(self) -> int:
        return int(self.basis or BASIS[self.dim])

    @property
    def size(self) -> int:
        """Number of basis functions (weights)."""
        return self.per_dim**self.dim

    @property
    def reach(self) -> float:
        """How far from the runs' centre forecasts may go [half-ranges of the runs]."""
        return float(self.boundary) - REACH_MARGIN

    def for_law(self, law) -> Discrepancy:
        """This term with ``on`` resolved against the law's covariates."""
        if law is None:
            raise ValueError("the discrepancy term adds to a law's log loss; a model without a law has none")
        covariates = tuple(law.covariates)
        if self.on is None:
            if "C" in covariates:
                on = ("C",)
            elif {"N", "D"} <= set(covariates):
                on = (COMPUTE,)
            elif len(covariates) == 1:
                on = covariates
            else:
                raise ValueError(f"law '{law.name}' reads {list(covariates)}: give the discrepancy's covariates, "
                                 "Discrepancy(on=(...))")
        elif self.on == "law":
            on = covariates
        else:
            on = (self.on,) if isinstance(self.on, str) else tuple(self.on)
        allowed = covariates + ((COMPUTE,) if {"N", "D"} <= set(covariates) else ())
        unknown = [c for c in on if c not in allowed]
        if unknown or not on or len(set(on)) != len(on):
            raise ValueError(f"discrepancy covariates {list(on)}: law '{law.name}' offers {list(allowed)}")
        if len(on) not in BASIS:
            raise ValueError(f"the discrepancy process takes 1 or 2 covariates (the basis grows as m^d); got {list(on)}")
        return type(self)(on, self.amplitude, self.lengthscale, self.boundary, self.basis)

    @property
    def priors(self) -> dict:
        return {
            "discrepancy_amplitude": lambda: dist.LogNormal(float(np.log(self.amplitude)), AMPLITUDE_SD),
            "discrepancy_lengthscale": lambda: dist.LogNormal(float(np.log(self.lengthscale)), LENGTHSCALE_SD),
        }

    def reported_names(self) -> tuple[str, ...]:
        return SITES

    def to_dict(self) -> dict:
        on = list(self.on) if isinstance(self.on, tuple) else self.on
        return {"on": on, "amplitude": float(self.amplitude), "lengthscale": float(self.lengthscale),
                "boundary": float(self.boundary), "basis": None if self.basis is None else int(self.basis)}

    def __str__(self) -> str:
        where = ", ".join(f"log {'C = 6ND' if c == COMPUTE else c}" for c in self.on) if self.resolved else "log C"
        return f"discrepancy on {where} (HSGP, amplitude prior {self.amplitude:g})"

    # ------------------------------------------------------------ the Term protocol

    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for name in self.covariates for c in (("N", "D") if name == COMPUTE else (name,))))

    def check(self, tables: Tables) -> None:
        logs = log_covariates(self, tables["runs"].frame)
        for name, column in zip(self.covariates, logs.T):
            if not np.all(np.isfinite(column)):
                raise RunTableError(f"the discrepancy term needs positive, finite {_label(name)} at every run")
            if column.max() - column.min() < 1e-6:
                raise RunTableError(f"the discrepancy term needs runs at more than one {_label(name)}; every run "
                                    f"has {_label(name)} = {np.exp(column[0]):.4g}")
        design = np.column_stack([np.ones(len(logs)), logs - logs.mean(axis=0)])
        if self.dim > 1 and np.linalg.cond(design) > 1e4:
            raise RunTableError(f"the runs' {', '.join(map(_label, self.covariates))} lie on a line (in logs): a "
                                "discrepancy process on them cannot be told from the law's trend; use on=None (log C)")

    def arrays(self, tables: Tables, size: int) -> dict:
        """The detrended basis at the runs, (size, B) float32 (padded rows repeat the first)."""
        fitted = self.bind(tables)
        psi = fitted.basis(fitted.standardise(tables["runs"].frame))
        return {"basis": np.concatenate([psi, np.repeat(psi[:1], size - len(psi), axis=0)]).astype(np.float32)}

    def location(self, log_loss, priors, arrays, data):
        amplitude = numpyro.sample("discrepancy_amplitude", priors["discrepancy_amplitude"])
        lengthscale = numpyro.sample("discrepancy_lengthscale", priors["discrepancy_lengthscale"])
        weights = numpyro.sample("discrepancy_weights", dist.Normal(0.0, 1.0).expand([self.size]).to_event(1))
        return log_loss + arrays["basis"] @ (spectral_scale(self, amplitude, lengthscale) * weights)

    def bind(self, tables: Tables) -> FittedDiscrepancy:
        """The term with the fitted runs' standardisation, which forecasts."""
        logs = log_covariates(self, tables["runs"].frame)
        low, high = logs.min(axis=0), logs.max(axis=0)
        centre, half_range = (high + low) / 2, (high - low) / 2
        x = (logs - centre) / half_range
        trend = np.linalg.lstsq(design(x), basis_functions(self, x), rcond=None)[0]
        return FittedDiscrepancy(self, centre, half_range, trend)

    def forecast(self, log_loss, draws, targets):
        raise ValueError("the discrepancy term forecasts in the coordinates of the runs it was fitted to: "
                         "bind it first, term.bind(fit.tables) (Fit.predict and "
                         "forecast.log_loss_draws(..., tables=fit.tables) do)")


@dataclass(frozen=True, eq=False)
class FittedDiscrepancy:
    """A Discrepancy with what it takes from the runs it was fitted to (float64): the centre
    and half_range of each log covariate, (dim,), and ``trend``, (1 + dim, B), the least-squares
    level and slopes of each basis function over the runs (removed from the basis: see basis)."""

    term: Discrepancy
    centre: np.ndarray
    half_range: np.ndarray
    trend: np.ndarray

    def standardise(self, frame: pd.DataFrame) -> np.ndarray:
        """(rows, dim) float64: the frame's log covariates in the runs' coordinates."""
        return (log_covariates(self.term, frame) - self.centre) / self.half_range

    def basis(self, x: np.ndarray) -> np.ndarray:
        """The detrended basis at standardised x (rows, dim): (rows, B) float64. Over the fitted
        runs its functions have no level and no linear trend in x, which the law's own
        parameters supply: left in, the law and f trade them along ridges."""
        return basis_functions(self.term, x) - design(x) @ self.trend

    def values(self, draws: Mapping[str, np.ndarray], targets: pd.DataFrame) -> np.ndarray:
        """f per draw and target, (S, M); a ValueError for targets beyond the reach."""
        term = self.term
        x = self.standardise(targets)
        self._check_reach(x, targets)
        psi = jnp.asarray(self.basis(x), jnp.float32)  # (M, B)
        amplitude = jnp.asarray(draws["discrepancy_amplitude"], jnp.float32)
        lengthscale = jnp.asarray(draws["discrepancy_lengthscale"], jnp.float32)
        weights = jnp.asarray(np.reshape(draws["discrepancy_weights"], (len(amplitude), term.size)), jnp.float32)
        scale = jax.vmap(lambda a, l: spectral_scale(term, a, l))(amplitude, lengthscale)  # (S, B)
        return np.asarray((scale * weights) @ psi.T, dtype=np.float64)

    def forecast(self, log_loss, draws, targets):
        return log_loss + self.values(draws, targets)

    def _check_reach(self, x: np.ndarray, targets: pd.DataFrame) -> None:
        reach = self.term.reach
        beyond = np.abs(x) > reach
        if not beyond.any():
            return
        row, j = (int(i[0]) for i in np.nonzero(beyond))
        name = self.term.covariates[j]
        value = np.exp(log_covariates(self.term, targets.iloc[[row]])[0, j])
        low, high = np.exp(self.centre[j] - reach * self.half_range[j]), np.exp(self.centre[j] + reach * self.half_range[j])
        given = ", ".join(f"{c}={targets[c].iloc[row]:.4g}" for c in targets.columns)
        raise ValueError(
            f"target {row} ({given}) has {_label(name)} = {value:.4g}, beyond the discrepancy term's reach: for "
            f"these runs it forecasts {_label(name)} from {low:.3g} to {high:.3g} ({reach:g} half-ranges of the "
            f"runs from their centre; its basis vanishes at boundary={self.term.boundary:g}). Fit with a wider "
            f"Discrepancy(boundary=..., basis=...) to forecast that far.")


def log_covariates(term: Discrepancy, frame: pd.DataFrame) -> np.ndarray:
    """(rows, dim) float64 logs of the term's covariates in a run table's or targets' frame."""
    columns = []
    for name in term.covariates:
        if name == COMPUTE:
            value = np.log(COMPUTE_PER_TOKEN_PARAM) + np.log(frame["N"].to_numpy(np.float64)) + np.log(
                frame["D"].to_numpy(np.float64))
        else:
            value = np.log(frame[name].to_numpy(np.float64))
        columns.append(value)
    return np.stack(columns, axis=-1)


def basis_functions(term: Discrepancy, x: np.ndarray) -> np.ndarray:
    """The Laplacian's eigenfunctions on [-boundary, boundary]^dim at x (rows, dim), (rows, B),
    in float64 (numpyro.contrib.hsgp.laplacian.eigenfunctions, in NumPy)."""
    L = float(term.boundary)
    w = np.asarray(eigenindices(term.per_dim, term.dim), np.float64) * np.pi / (2 * L)  # (dim, B)
    return np.prod(np.sqrt(1 / L) * np.sin(w[None] * (np.asarray(x, np.float64)[:, :, None] + L)), axis=1)


def design(x: np.ndarray) -> np.ndarray:
    """[1, x]: (rows, 1 + dim)."""
    return np.column_stack([np.ones(len(x)), x])


def spectral_scale(term: Discrepancy, amplitude, lengthscale):
    """sqrt of the squared-exponential spectral density (kernel sd = amplitude) at the basis's
    frequencies w, (B,): amplitude (2 pi)^(d/4) l^(d/2) exp(-l^2 |w|^2 / 4). Taken in closed form,
    not as the sqrt of NumPyro's density: that underflows to 0 at high frequencies, where the
    sqrt's gradient is infinite (NaN gradients, every transition divergent)."""
    w = sqrt_eigenvalues(float(term.boundary), term.per_dim, term.dim)  # (d, B)
    squared = jnp.sum(jnp.square(w), axis=0)
    d = term.dim
    return amplitude * (2 * jnp.pi) ** (d / 4) * lengthscale ** (d / 2) * jnp.exp(-0.25 * jnp.square(lengthscale) * squared)


def _label(name: str) -> str:
    return "C = 6ND" if name == COMPUTE else name
