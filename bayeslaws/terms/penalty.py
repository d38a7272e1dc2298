"""Hyperparameter penalties: every sweep run informs the law (MIST-style penalised laws).

A run trained with learning rate lr and batch size B [tokens] at (N, D) measures

    log L_run = log L_law(N, D) + P                    (form "multiplicative", the default)
    L_run     = L_law(N, D) + P                        (form "additive": P in nats)

    P = basin(d_lr) + w_bs d_bs^2,   d_bs = log B - log B*(N, D),
                                     d_lr = log lr - log lr*(N, D) - cB d_bs

with the optima as power laws anchored at a reference scale (N_ref = 1e9 non-embedding
parameters, D_ref = 1e11 tokens):

    log lr*(N, D) = log lr_ref + cN log(N / N_ref) + cD log(D / D_ref)     [= c0 + cN log N + cD log D]
    log B*(N, D)  = log batch_ref + bD log(D / D_ref) + bN log(N / N_ref)  [= b0 + bD log D + bN log N]

cB (only with ``interaction=True``) is the slope of the best log lr on log B away from B*:
the best learning rate moves with the batch size. P is zero at (lr*, B*) and positive elsewhere
for every parameter value, so (lr*, B*) is the optimum.

Basins in d = d_lr (log learning-rate units):
    "quadratic": w_lr d^2 (MIST's symmetric form).
    "linex":     2 w_lr (exp(k d) - 1 - k d) / k^2, asymmetric: k > 0 makes too high a learning
                 rate costlier than too low. Its minimum is at d = 0 and its curvature there is
                 2 w_lr for every k, so w_lr and the optimum keep their meaning, and k -> 0 gives
                 the quadratic.
This parameterisation (optimum, curvature at the optimum, asymmetry k ~ Normal(0, 1)) separates
location from asymmetry: changing k bends the walls but moves neither the minimum nor the
curvature there. With the default Student-t likelihood, the diverged runs stay in the data
(its fitted nu falls to about 1). Mixture likelihoods with an explicit divergence component
made this posterior bimodal in our checks (a steeper basin that calls the worst healthy runs
"diverged" competes with the true one), so none is offered.

Priors are stated on lr* and B* at the reference scale rather than on c0 and b0 (the
values at N = D = 1): independent priors on c0 and an exponent would imply an uncertainty of
many decades at real scales. c0 and b0 are reported as deterministics. The sampler sees the
log optima at the data's centre (see :func:`sample_penalty_parameters`), as it does the law's
prefactors.
"""

from __future__ import annotations

import math

from dataclasses import asdict, dataclass
from typing import Mapping

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
from numpyro.distributions.transforms import AffineTransform, ExpTransform

from ..data import RunTable, RunTableError, check_has_columns, check_positive_columns
from ..model.arrays import log_columns, pad
from ..model.draws import HYPERPARAMETERS
from ..model.term import Tables, Term

REFERENCE = {"N": 1e9, "D": 1e11}  # reference scale of lr_ref and batch_ref [parameters, tokens]
BASINS = ("quadratic", "linex")
FORMS = ("multiplicative", "additive")
LINEX_SERIES_BELOW = 0.1  # |k d| under which (e^x - 1 - x)/x^2 uses its Taylor series (float32-safe)

def _default_priors() -> dict:
    """Weakly informative: lr* and B* within about 1.5 decades, exponents of either sign."""
    return {
        "lr_ref": lambda: dist.LogNormal(math.log(1.5e-3), 1.5),
        "cN": lambda: dist.Normal(-0.5, 0.5),
        "cD": lambda: dist.Normal(0.0, 0.5),
        "batch_ref": lambda: dist.LogNormal(math.log(1e6), 1.5),
        "bD": lambda: dist.Normal(0.5, 0.5),
        "bN": lambda: dist.Normal(0.0, 0.5),
    }


def _steplaw_priors() -> dict:
    """Step Law (laws.md section 5): lr* = 1.79 N^-0.713 D^0.307, B* = 0.58 D^0.571 tokens,
    N non-embedding. Widths: 0.5 in log at the reference scale (a factor 1.65), 0.1 on exponents."""
    return {
        "lr_ref": lambda: dist.LogNormal(_log_power_law(np.log(1.79), -0.713, 0.307), 0.5),
        "cN": lambda: dist.Normal(-0.713, 0.1),
        "cD": lambda: dist.Normal(0.307, 0.1),
        "batch_ref": lambda: dist.LogNormal(_log_power_law(np.log(0.58), 0.0, 0.571), 0.5),
        "bD": lambda: dist.Normal(0.571, 0.1),
        "bN": lambda: dist.Normal(0.0, 0.1),
    }


def _deepseek_priors() -> dict:
    """DeepSeek LLM (laws.md section 6): lr* = 0.3118 C^-0.1250, B* = 0.2920 C^0.3271 tokens, with
    C = M D taken as 6 N D (M, non-embedding FLOPs per token, counts attention too, so 6N is
    slightly low). Widths: 0.5 in log at the reference scale, 0.1 on exponents."""
    log6 = np.log(6.0)
    return {
        "lr_ref": lambda: dist.LogNormal(_log_power_law(np.log(0.3118) - 0.125 * log6, -0.125, -0.125), 0.5),
        "cN": lambda: dist.Normal(-0.125, 0.1),
        "cD": lambda: dist.Normal(-0.125, 0.1),
        "batch_ref": lambda: dist.LogNormal(_log_power_law(np.log(0.2920) + 0.3271 * log6, 0.3271, 0.3271), 0.5),
        "bD": lambda: dist.Normal(0.3271, 0.1),
        "bN": lambda: dist.Normal(0.3271, 0.1),
    }


def _log_power_law(log_prefactor: float, exponent_N: float, exponent_D: float) -> float:
    """log of exp(log_prefactor) N^exponent_N D^exponent_D at the reference scale."""
    return float(log_prefactor + exponent_N * np.log(REFERENCE["N"]) + exponent_D * np.log(REFERENCE["D"]))


PRESETS = {None: _default_priors, "steplaw": _steplaw_priors, "deepseek": _deepseek_priors}
SHAPE_PRIORS = {
    "w_lr": lambda: dist.LogNormal(math.log(0.02), 1.5),  # log-loss per (log lr)^2; nats per (log lr)^2 if additive
    "w_bs": lambda: dist.LogNormal(math.log(0.02), 1.5),
    "k_lr": lambda: dist.Normal(0.0, 1.0),  # linex asymmetry [1 / log lr]
    "cB": lambda: dist.Normal(0.5, 0.5),  # best log lr per log batch: 0.5 (sqrt rule) to 1 for Adam, laws.md s3
}


@dataclass(frozen=True)
class Penalty(Term):
    """The hyperparameter-penalty term: which hyperparameters penalise the law, and how.

    hyperparameters: subset of ("lr", "batch_size"); the run table needs those columns
        (batch_size in tokens) and N, D.
    basin: "linex" (asymmetric in log learning rate, the default: it nests the symmetric basin,
        k -> 0, and a held-out backtest chose it) or "quadratic" (symmetric, MIST's form).
    form: "multiplicative" (P added to log L, the default) or "additive" (P added to L, in nats).
    interaction: the best lr moves with batch size (adds cB); needs both hyperparameters.
    preset: None (weak default priors), "steplaw" or "deepseek" (informative priors on lr*, B*).
    """

    hyperparameters: tuple[str, ...] = HYPERPARAMETERS
    basin: str = "linex"
    form: str = "multiplicative"
    interaction: bool = False
    preset: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "hyperparameters", tuple(self.hyperparameters))
        unknown = set(self.hyperparameters) - set(HYPERPARAMETERS)
        if unknown or not self.hyperparameters:
            raise ValueError(f"penalty hyperparameters must be a non-empty subset of {HYPERPARAMETERS}; "
                             f"got {list(self.hyperparameters)}")
        for label, value, allowed in (("basin", self.basin, BASINS), ("form", self.form, FORMS),
                                      ("preset", self.preset, tuple(PRESETS))):
            if value not in allowed:
                raise ValueError(f"unknown penalty {label} {value!r}; choose one of {list(allowed)}")
        if self.interaction and set(self.hyperparameters) != set(HYPERPARAMETERS):
            raise ValueError("an lr-batch interaction needs both hyperparameters: lr and batch_size")

    @property
    def uses_lr(self) -> bool:
        return "lr" in self.hyperparameters

    @property
    def uses_batch(self) -> bool:
        return "batch_size" in self.hyperparameters

    @property
    def covariates(self) -> tuple[str, ...]:
        """Run-table columns of the optima's power laws."""
        return ("N", "D")

    @property
    def priors(self) -> dict:
        """Parameter name -> zero-argument prior factory, in original units."""
        location = PRESETS[self.preset]()
        names = []
        if self.uses_lr:
            names += ["lr_ref", "cN", "cD", "w_lr"] + (["k_lr"] if self.basin == "linex" else [])
        if self.uses_batch:
            names += ["batch_ref", "bD", "bN", "w_bs"]
        if self.interaction:
            names.append("cB")
        every = {**location, **SHAPE_PRIORS}
        return {name: every[name] for name in names}

    @property
    def derived_names(self) -> tuple[str, ...]:
        """Deterministic sites: the power laws' log prefactors at N = D = 1."""
        return (("c0",) if self.uses_lr else ()) + (("b0",) if self.uses_batch else ())

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.priors) + self.derived_names

    def to_dict(self) -> dict:
        return {**asdict(self), "hyperparameters": list(self.hyperparameters)}

    # ------------------------------------------------------------ the Term protocol

    kind = "penalty"

    def reported_names(self) -> tuple[str, ...]:
        return self.param_names

    def columns(self) -> tuple[str, ...]:
        return self.covariates + self.hyperparameters

    def check(self, tables: Tables) -> None:
        check_runs(self, tables["runs"])

    def arrays(self, tables: Tables, size: int) -> dict:
        """log N, log D [padded] and their centres; log lr and log batch size [log tokens]."""
        logx, centre = log_columns(tables["runs"], self.covariates, size)
        data = {"logx": logx, "centre": centre}
        for column, key in (("lr", "log_lr"), ("batch_size", "log_batch")):
            if column in self.hyperparameters:
                data[key] = pad(tables["runs"].log(column), size)
        return data

    def location(self, log_loss, priors, arrays, data):
        hyper = sample_penalty_parameters(self, priors, arrays["centre"])
        value = penalty_value(self, hyper, arrays["logx"], arrays.get("log_lr"), arrays.get("log_batch"))
        return apply_penalty(self, log_loss, value)

    def target_names(self) -> tuple[str, ...]:
        return self.hyperparameters

    def forecast(self, log_loss, draws, targets):
        """At the optimal settings unless the targets give lr or batch_size; then with their penalty."""
        if not set(self.hyperparameters) & set(targets):
            return log_loss
        return np.log(penalised_loss(self, log_loss, penalty_draws(self, draws, targets)))

    def __str__(self) -> str:
        extras = [self.basin, self.form] + (["interaction"] if self.interaction else [])
        extras += [f"preset {self.preset}"] if self.preset else []
        return f"penalty on {', '.join(self.hyperparameters)} ({', '.join(extras)})"


def get_penalty(spec) -> Penalty | None:
    """None, a Penalty, a dict from Penalty.to_dict, or text: "lr,batch_size" or a preset name
    ("steplaw", "deepseek": both hyperparameters with that preset's priors)."""
    if spec is None or isinstance(spec, Penalty):
        return spec
    if isinstance(spec, Mapping):
        return Penalty(**spec)
    if isinstance(spec, str):
        if spec in PRESETS:
            return Penalty(preset=spec)
        return Penalty(hyperparameters=tuple(h.strip() for h in spec.split(",") if h.strip()))
    raise TypeError(f"penalty must be None, text, a dict or a Penalty; got {type(spec).__name__}")


def check_runs(penalty: Penalty, table: RunTable) -> None:
    """The run table has the columns the penalty needs, in the units its priors assume."""
    needed = penalty.covariates + penalty.hyperparameters
    check_has_columns(table, needed, str(penalty))
    check_positive_columns(table, needed)
    if penalty.uses_lr and table.frame["lr"].max() >= 1.0:
        raise RunTableError("column lr has values >= 1: the penalty expects a peak learning rate "
                            "such as 3e-4, not a percentage or a log")
    if penalty.uses_batch and table.frame["batch_size"].median() < 1e4:
        raise RunTableError(
            f"the penalty states B* in tokens (its priors centre B* near 1e6 tokens{', preset ' + repr(penalty.preset) if penalty.preset else ''}), "
            f"but batch_size has a median of {table.frame['batch_size'].median():g}: these look like sequences. "
            "Multiply by the sequence length before fitting."
        )


def _reference_offset(centre: Mapping, slope_N, slope_D):
    """slope_N (centre_N - log N_ref) + slope_D (centre_D - log D_ref): the change in a log
    optimum from the reference scale to the data's centre."""
    return slope_N * (centre["N"] - np.log(REFERENCE["N"])) + slope_D * (centre["D"] - np.log(REFERENCE["D"]))


def sample_penalty_parameters(penalty: Penalty, priors: Mapping, centre: Mapping) -> dict:
    """Sample the penalty's parameters (NumPyro sites). The optima are sampled at the data
    centre (``log_lr_ref_centred``, ``log_batch_ref_centred``), where the runs pin them down,
    and shifted back to the reference scale; c0 and b0 are recorded as deterministics."""
    params = {}
    blocks = []
    if penalty.uses_lr:
        blocks.append(("lr_ref", "cN", "cD", "c0"))
    if penalty.uses_batch:
        blocks.append(("batch_ref", "bN", "bD", "b0"))
    for scale, slope_N, slope_D, intercept_name in blocks:
        params[slope_N] = numpyro.sample(slope_N, priors[slope_N])
        params[slope_D] = numpyro.sample(slope_D, priors[slope_D])
        shift = _reference_offset(centre, params[slope_N], params[slope_D])
        to_centred = [ExpTransform().inv, AffineTransform(shift, 1.0)]
        log_centred = numpyro.sample(f"log_{scale}_centred", dist.TransformedDistribution(priors[scale], to_centred))
        params[f"log_{scale}"] = log_centred - shift
        params[scale] = numpyro.deterministic(scale, jnp.exp(params[f"log_{scale}"]))
        numpyro.deterministic(intercept_name, intercept(params[f"log_{scale}"], params[slope_N], params[slope_D]))
    for name in ("w_lr", "k_lr", "w_bs", "cB"):
        if name in penalty.priors:
            params[name] = numpyro.sample(name, priors[name])
    return params


def intercept(log_ref, slope_N, slope_D):
    """c0 (or b0): the log optimum at N = D = 1, from its value at the reference scale."""
    return log_ref - slope_N * np.log(REFERENCE["N"]) - slope_D * np.log(REFERENCE["D"])


def log_optima(penalty: Penalty, params: Mapping, logx: Mapping) -> dict:
    """Log optimal learning rate and log optimal batch size [log tokens] at log N, log D.

    params in original units (``lr_ref``/``batch_ref`` or their logs); broadcasts like Law.log_loss.
    """
    out = {}
    dN = logx["N"] - np.log(REFERENCE["N"])
    dD = logx["D"] - np.log(REFERENCE["D"])
    if penalty.uses_lr:
        out["lr"] = _log_of(params, "lr_ref") + params["cN"] * dN + params["cD"] * dD
    if penalty.uses_batch:
        out["batch_size"] = _log_of(params, "batch_ref") + params["bN"] * dN + params["bD"] * dD
    return out


def _log_of(params: Mapping, name: str):
    return params[f"log_{name}"] if f"log_{name}" in params else jnp.log(params[name])


def penalty_value(penalty: Penalty, params: Mapping, logx: Mapping, log_lr=None, log_batch=None):
    """P >= 0 at the runs' (or targets') hyperparameters: log-loss units for the multiplicative
    form, nats for the additive one. A hyperparameter given as None is taken at its optimum
    (for lr with an interaction: the best lr for the given batch size)."""
    optima = log_optima(penalty, params, logx)
    d_batch = 0.0 if log_batch is None or not penalty.uses_batch else log_batch - optima["batch_size"]
    total = params["w_bs"] * jnp.square(d_batch) if penalty.uses_batch else 0.0
    if penalty.uses_lr and log_lr is not None:
        d_lr = log_lr - optima["lr"] - (params["cB"] * d_batch if penalty.interaction else 0.0)
        total = total + basin_value(penalty.basin, d_lr, params["w_lr"], params.get("k_lr"))
    return total


def basin_value(shape: str, d, w, k=None):
    """Basin value at d = log lr - log lr* [log learning rate]: w d^2 or the linex
    2 w (exp(k d) - 1 - k d) / k^2; both have curvature 2w at d = 0."""
    if shape == "quadratic":
        return w * jnp.square(d)
    return 2.0 * w * jnp.square(d) * _linex_ratio(k * d)


def _linex_ratio(x):
    """(exp(x) - 1 - x) / x^2, stable near x = 0 (Taylor series) and finite in gradient."""
    small = jnp.abs(x) < LINEX_SERIES_BELOW
    x_safe = jnp.where(small, LINEX_SERIES_BELOW, x)
    exact = (jnp.expm1(x_safe) - x_safe) / jnp.square(x_safe)
    series = 0.5 + x / 6.0 + x**2 / 24.0 + x**3 / 120.0 + x**4 / 720.0
    return jnp.where(small, series, exact)


def apply_penalty(penalty: Penalty, log_loss, value):
    """Log loss of a run: log L_law + P (multiplicative) or log(L_law + P) (additive)."""
    if penalty.form == "multiplicative":
        return log_loss + value
    return log_loss + jnp.log1p(value * jnp.exp(-log_loss))


# ---------------------------------------------------------------- forecasts, per posterior draw
# ``draws`` maps parameter names to 1-D float64 arrays of S posterior draws; ``targets`` is a
# frame with N [parameters], D [tokens] and optionally lr and batch_size [tokens].


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
