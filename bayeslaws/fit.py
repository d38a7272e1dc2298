"""bayeslaws.fit: table of runs -> posterior (a Fit), and what a Fit can tell."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from . import diagnostics, forecast, hyperparameter_forecast, inference
from .data import RunTable, check_enough_runs, check_has_columns, check_positive_columns, load_runs
from .laws import REGISTRY, Law, get_law
from .likelihoods import get_likelihood
from .model import make_model, model_data, resolve_priors
from .penalties import Penalty, check_runs, get_penalty

if TYPE_CHECKING:
    from .downstream import LinkFit


@dataclass
class Fit:
    """A posterior over a law's parameters, with the runs it was fitted to.

    tree: ArviZ DataTree (posterior, sample_stats, log_likelihood, observed_data, constant_data).
    link: an attached downstream link (bayeslaws.downstream.LinkFit; see with_link), or None.
        It is not saved by save().
    penalty: the hyperparameter penalty the law was fitted with (bayeslaws.penalties), or None.
    """

    law: Law
    likelihood: str
    tree: xr.DataTree
    runs: RunTable
    settings: dict = field(default_factory=dict)
    seconds: float = float("nan")
    link: LinkFit | None = None
    penalty: Penalty | None = None

    def with_link(self, link_fit: LinkFit) -> Fit:
        """This fit with a link on the loss attached (from bl.fit_link): predict then also
        returns downstream error intervals, each loss draw pushed through a link draw."""
        if link_fit.link.input != "loss" or self.response != "loss":
            raise ValueError(f"link '{link_fit.link.name}' reads {link_fit.link.input} and this law predicts "
                             f"{self.response}; attach a link on the loss to a loss law")
        return replace(self, link=link_fit)

    @property
    def parameter_names(self) -> list[str]:
        names = list(self.law.param_names) + list(get_likelihood(self.likelihood).priors)
        return names + list(self.penalty.param_names if self.penalty else ())

    @property
    def response(self) -> str:
        """The column the law predicts ("loss" [nats] for loss laws)."""
        return self.settings.get("response", self.law.response)

    @property
    def diagnostics(self) -> dict:
        return diagnostics.summarise(self.tree, self.parameter_names, self.settings["max_tree_depth"])

    def draws(self) -> dict[str, np.ndarray]:
        """Posterior draws as float64 arrays, chains concatenated: name -> (chains * draws,)."""
        post = self.tree["posterior"]
        return {name: post[name].values.astype(np.float64).ravel() for name in self.parameter_names}

    def summary(self, ci_prob: float = 0.9) -> pd.DataFrame:
        """Posterior table: mean, median, sd, equal-tailed interval, R-hat, bulk and tail ESS."""
        return diagnostics.parameter_table(self.tree, self.parameter_names, ci_prob)

    def predict(self, *, ci_prob: float = 0.9, seed: int = 0, **covariates) -> pd.DataFrame:
        """Loss forecast [nats] at targets given as covariates (scalars or arrays), e.g.
        ``predict(N=7e10, D=1.4e12)``; C = 6ND if the law needs C.

        Columns loss_*: the law's mean function (parameter uncertainty); loss_pred_*: what a new
        run would measure (adds the fitted noise), both with mean, median and ci_prob interval.
        For laws of another response (e.g. N_opt) the columns are named after it.
        With a link attached (with_link, fit_joint), also <metric>_* (the link's mean error at the
        law's loss) and <metric>_pred_* (a new run's measured error): see bayeslaws.downstream.
        With a penalty, the loss is at the optimal lr and batch size unless ``lr=`` or
        ``batch_size=`` [tokens] are given; then it includes that setting's penalty.
        """
        targets = forecast.target_covariates(self.law, **covariates)
        draws = self.draws()
        log_loss = forecast.log_loss_draws(self.law, draws, targets)
        hyperparameter_forecast.check_hyperparameters(self.penalty, targets)
        if self.penalty is not None and {"lr", "batch_size"} & set(targets):
            value = hyperparameter_forecast.penalty_draws(self.penalty, draws, targets)
            log_loss = np.log(hyperparameter_forecast.penalised_loss(self.penalty, log_loss, value))
        predictive = forecast.predictive_log_loss_draws(get_likelihood(self.likelihood), draws, log_loss, seed)
        out = targets.copy()
        out = out.assign(**forecast.summarise_draws(np.exp(log_loss), self.response, ci_prob))
        pred = forecast.summarise_draws(np.exp(predictive), f"{self.response}_pred", ci_prob)
        out = out.assign(**{k: v for k, v in pred.items() if not k.endswith("_mean")})
        if self.link is None:
            return out
        from .downstream import error_columns

        return out.assign(**error_columns(self.link, np.exp(log_loss), np.exp(predictive), ci_prob, seed))

    def compute_optimal(self, C, ci_prob: float = 0.9) -> pd.DataFrame:
        """Compute-optimal N_opt [parameters], D_opt [tokens], loss_opt [nats] and tokens per
        parameter at budgets C [FLOPs], C = 6ND, with posterior medians and intervals."""
        C = np.atleast_1d(np.asarray(C, dtype=np.float64))
        per_draw = forecast.compute_optimal_draws(self.law, self.draws(), C)
        per_draw["tokens_per_parameter"] = per_draw["D_opt"] / per_draw["N_opt"]
        out = pd.DataFrame({"C": C})
        for name, samples in per_draw.items():
            out = out.assign(**forecast.summarise_draws(samples, name, ci_prob))
        return out

    def optimal_hyperparameters(self, *, N, D, ci_prob: float = 0.9, draws: bool = False) -> pd.DataFrame:
        """Optimal learning rate (column prefix ``lr``) and batch size (``batch_size`` [tokens])
        at targets N [parameters], D [tokens] (scalars or arrays): mean, median and the ci_prob
        interval per target, or with ``draws=True`` one row per posterior draw and target
        (columns draw, N, D, lr, batch_size)."""
        penalty = self._require_penalty("optimal_hyperparameters")
        targets = forecast.target_covariates(self.law, N=N, D=D)[["N", "D"]]
        optima = hyperparameter_forecast.optimum_draws(penalty, self.draws(), targets)
        if draws:
            n_draws = next(iter(optima.values())).shape[0]
            long = targets.loc[np.tile(targets.index, n_draws)].reset_index(drop=True)
            long.insert(0, "draw", np.repeat(np.arange(n_draws), len(targets)))
            return long.assign(**{name: values.ravel() for name, values in optima.items()})
        out = targets.copy()
        for name, values in optima.items():
            out = out.assign(**forecast.summarise_draws(values, name, ci_prob))
        return out

    def regret(self, *, N, D, lr=None, batch_size=None, ci_prob: float = 0.9) -> pd.DataFrame:
        """Loss cost [nats] of training at (lr, batch_size [tokens]) instead of the optimum, at
        targets N, D: per draw, L(setting) - L(optimum) >= 0; mean, median and ci_prob interval.
        A setting left as None is taken at its optimum."""
        penalty = self._require_penalty("regret")
        targets = forecast.target_covariates(self.law, N=N, D=D, lr=lr, batch_size=batch_size)
        hyperparameter_forecast.check_hyperparameters(penalty, targets)
        draws = self.draws()
        log_loss = forecast.log_loss_draws(self.law, draws, targets)
        value = hyperparameter_forecast.penalty_draws(penalty, draws, targets)
        cost = hyperparameter_forecast.penalised_loss(penalty, log_loss, value) - np.exp(log_loss)
        return targets.assign(**forecast.summarise_draws(cost, "regret", ci_prob))

    def _require_penalty(self, method: str) -> Penalty:
        if self.penalty is None:
            raise ValueError(f"{method} needs a fit with a hyperparameter penalty: bl.fit(..., penalty='lr,batch_size')")
        return self.penalty

    def loo(self):
        """PSIS-LOO (ArviZ) from the stored pointwise log-likelihood."""
        return az.loo(self.tree)

    def plot(self, target: Mapping[str, float] | None = None, ax=None):
        """Runs, fitted law with 90% bands and the extrapolation to ``target`` (dict of N, D)."""
        from .plots import plot_fit

        return plot_fit(self, target=target, ax=ax)

    def save(self, path) -> None:
        """Write the fit to a netCDF file (lossless; read back with bayeslaws.load_fit)."""
        from .storage import save_fit

        save_fit(self, path)

    def __repr__(self) -> str:
        d = self.diagnostics
        return (
            f"Fit(law={self.law.name!r}, likelihood={self.likelihood!r}, runs={len(self.runs)}, "
            f"chains={self.settings.get('chains')}, draws={self.settings.get('draws')}, "
            f"divergences={d['divergences']}, max_r_hat={d['max_r_hat']:.3f}, "
            f"min_ess_bulk={d['min_ess_bulk']:.0f})"
        )


def fit(
    runs: RunTable | pd.DataFrame,
    law: str | Law = "chinchilla",
    *,
    likelihood: str = "student_t",
    priors: Mapping | None = None,
    response: str | None = None,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 0,
    dense_mass: bool = True,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    init: str = "prior",
    penalty: str | Penalty | None = None,
    progress: bool = True,
) -> Fit:
    """Fit a scaling law to runs with NUTS and check convergence.

    runs: a RunTable (from load_runs) or a DataFrame with canonical columns.
    law: a registry name ("chinchilla", "kaplan", "power", "power_N", "power_D") or a Law.
    likelihood: "student_t" (default, robust to outlying runs), "normal" or "huber", on log loss.
    priors: overrides by parameter name, NumPyro distributions in original units.
    init: "prior" (prior draw, identity as the first mass matrix) or "laplace" (a draw from the
        Laplace approximation, its covariance as the first mass matrix); both then adapt the
        mass matrix in windows. "laplace" spares warmup its deep early trees: 1.7x faster on a
        2,000-run penalised sweep (benchmarks/penalised_sweep.py); see SamplerSettings.
    response: the column to model (default: the law's, "loss" for loss laws).
    penalty: learn from runs off their optimal hyperparameters (bayeslaws.penalties): None,
        "lr,batch_size" (or "lr", "batch_size"), a preset "steplaw"/"deepseek", or a Penalty.
        The run table then needs those columns (batch_size in tokens); prior overrides for the
        penalty's parameters go in ``priors`` too.
    Warns with a ConvergenceWarning and advice when R-hat, ESS, divergences or tree depth say so.
    """
    started = time.perf_counter()
    table = runs if isinstance(runs, RunTable) else load_runs(runs, required=())
    law = get_law(law)
    lik = get_likelihood(likelihood)
    penalty = get_penalty(penalty)
    response = response or law.response
    check_has_columns(table, law.covariates + (response,), f"law '{law.name}'")
    check_positive_columns(table, law.covariates + (response,))
    if penalty is not None:
        check_runs(penalty, table)
    n_penalty = len(penalty.priors) if penalty else 0
    check_enough_runs(table, len(law.param_names) + len(lik.priors) + n_penalty, law.name)
    resolved = resolve_priors(law, lik, priors, penalty)
    settings = inference.SamplerSettings(chains, warmup, draws, dense_mass, target_accept, max_tree_depth, init)
    model = make_model(law, lik, resolved, penalty)
    penalty_key = penalty.key() if penalty else None
    model_key = (law, lik.name, _priors_key(resolved), penalty_key)
    export_id = repr((law.name, lik.name, _priors_key(resolved), penalty_key)) if REGISTRY.get(law.name) is law else None
    if progress:
        print(f"bayeslaws: NUTS, {chains} chains x ({warmup} warmup + {draws} draws), "
              f"law {law.name}{f', {penalty}' if penalty else ''}, {len(table)} runs ...", file=sys.stderr, flush=True)
    data = model_data(table, law, response, penalty=penalty)
    posterior, stats, pointwise = inference.sample(model, model_key, data, settings, seed, export_id)
    tree = _to_datatree(law, lik.priors, table, response, posterior, stats, pointwise, penalty)
    run_settings = {**settings.__dict__, "seed": seed, "response": response, "priors": _priors_text(resolved),
                    "penalty": penalty.to_dict() if penalty else None}
    result = Fit(law, lik.name, tree, table, run_settings, penalty=penalty)
    result.seconds = time.perf_counter() - started
    diag = result.diagnostics
    diagnostics.warn_if_unconverged(diag)
    if progress:
        print(f"bayeslaws: done in {result.seconds:.1f} s; divergences {diag['divergences']}, "
              f"max R-hat {diag['max_r_hat']:.3f}, min bulk ESS {diag['min_ess_bulk']:.0f}",
              file=sys.stderr, flush=True)
    return result


def _to_datatree(law, nuisance, table, response, posterior, stats, pointwise, penalty=None) -> xr.DataTree:
    n = len(table)
    names = list(law.param_names) + list(nuisance) + list(penalty.param_names if penalty else ())
    covariates = tuple(dict.fromkeys(law.covariates + ((penalty.covariates + penalty.hyperparameters) if penalty else ())))
    run_index = np.arange(n)
    sample_stats = dict(stats)
    sample_stats["tree_depth"] = np.ceil(np.log2(stats["n_steps"] + 1)).astype(np.int64)
    return az.from_dict(
        {
            "posterior": {k: posterior[k] for k in names},
            "sample_stats": sample_stats,
            "log_likelihood": {response: pointwise[:, :, :n]},
            "observed_data": {response: table.frame[response].to_numpy(np.float64)},
            "constant_data": {c: table.frame[c].to_numpy(np.float64) for c in covariates},
        },
        dims={response: ["run"], **{c: ["run"] for c in covariates}},
        coords={"run": run_index},
    )


def _priors_key(priors: Mapping) -> tuple:
    """A hashable description of the priors, so the compiled sampler is reused only for equal priors."""
    return tuple((name, _prior_text(d)) for name, d in sorted(priors.items()))


def _prior_text(d) -> str:
    args = {k: np.asarray(getattr(d, k)).tolist() for k in getattr(d, "arg_constraints", {}) if hasattr(d, k)}
    return f"{type(d).__name__}({', '.join(f'{k}={v}' for k, v in args.items())})"


def _priors_text(priors: Mapping) -> dict:
    return {name: _prior_text(d) for name, d in priors.items()}
