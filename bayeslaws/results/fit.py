"""Fit: a posterior of any model (law, likelihood, terms), with the run tables it was fitted to,
and what it can tell. LinkFit is the same object seen through its link term (a downstream-error
link fitted alone, or the link half of a joint fit)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from ..data import RunTable, summarise_draws
from ..inference import diagnostics
from ..model import ModelSpec
from ..terms.link import LinkTerm
from ..terms.penalty import Penalty, optimum_draws, penalised_loss, penalty_draws
from . import curves, forecast, storage
from .checks import warn_if_extrapolation_misses

INPUT_UNITS = {"loss": "nats", "C": "FLOPs"}
NEW_FAMILY = "(new)"  # the family label of a population forecast in predict(family=[..., None])


@dataclass
class Fit:
    """A posterior over a model's parameters, with the runs it was fitted to.

    spec: the model (bayeslaws.model.ModelSpec: law, likelihood, terms).
    tree: ArviZ DataTree (see the property ``tree``); given to the constructor positionally.
    tables: the run tables by name: "runs" (the fitted runs) and any a term has of its own.
    attached: a downstream link fitted separately (two-stage; see with_link), or None.
    """

    spec: ModelSpec
    _tree: xr.DataTree
    tables: Mapping[str, RunTable]
    settings: dict = field(default_factory=dict)
    seconds: float = float("nan")
    attached: LinkFit | None = None
    _extras: Callable[[], xr.DataTree] | None = field(default=None, repr=False, compare=False)

    @property
    def tree(self) -> xr.DataTree:
        """ArviZ DataTree: posterior, sample_stats, observed_data, constant_data and, unless the fit
        was made with extras=False, prior, log_likelihood, posterior_predictive and
        prior_predictive, which the first read computes from the draws (see defer_extras)."""
        if self._extras is not None:
            self._tree, self._extras = self._extras(), None
        return self._tree

    @property
    def posterior(self) -> xr.DataTree:
        """The tree's posterior group (reading it computes nothing)."""
        return self._tree["posterior"]

    def defer_extras(self, complete: Callable[[], xr.DataTree]) -> None:
        """Let the first read of ``tree`` replace it by complete(): the same tree with the groups
        computed from the draws (bl.fit's extras)."""
        self._extras = complete

    # ------------------------------------------------------------ what it is

    @property
    def law(self):
        return self.spec.law

    @property
    def likelihood(self) -> str:
        return self.spec.likelihood.name

    @property
    def runs(self) -> RunTable:
        return self.tables["runs"]

    @property
    def response(self) -> str:
        """The column the law predicts ("loss" [nats] for loss laws)."""
        return self.spec.response

    @property
    def penalty(self) -> Penalty | None:
        """The hyperparameter penalty the law was fitted with (bayeslaws.terms.penalty), or None."""
        return self.spec.term("penalty")

    @property
    def link(self) -> LinkFit | None:
        """The downstream link: attached (two-stage), or the link half of a joint fit, or None."""
        if self.attached is not None:
            return self.attached
        term = self.spec.term("link")
        if term is None:
            return None
        settings = {**self.settings, "metric": term.metric, "fixed": term.fixed(), "items": term.items}
        pending = None if self._extras is None else (lambda: self.tree)  # computed once, for both views
        return LinkFit(ModelSpec(None, None, (term,)), self._tree, self.tables, settings, self.seconds,
                       _extras=pending)

    @property
    def parameter_names(self) -> list[str]:
        return self.spec.parameter_names()

    @property
    def diagnostics(self) -> dict:
        """Divergences, max R-hat, min bulk ESS and tree-depth saturation over every parameter."""
        names = [n for n in self.parameter_names if n in self.posterior]
        return diagnostics.summarise(self._tree, names, self.settings["max_tree_depth"])

    def draws(self) -> dict[str, np.ndarray]:
        """Posterior draws as float64 arrays, chains concatenated: name -> (chains * draws,), or
        (chains * draws, ...) for a vector site (e.g. discrepancy_weights); fixed ones repeated."""
        post = self.posterior
        values = {name: post[name].values.astype(np.float64) for name in self.parameter_names}
        draws = {name: v.reshape((-1,) + v.shape[2:]) for name, v in values.items()}
        size = len(next(iter(draws.values())))
        return {**draws, **{name: np.full(size, value) for name, value in self.spec.fixed().items()}}

    @property
    def hierarchy(self):
        """The families term (bayeslaws.terms.hierarchy) of a fit with groups=, or None."""
        return self.spec.term("hierarchy")

    @property
    def families(self) -> list[str]:
        """The fitted families' labels (a fit with groups=), in order of first appearance."""
        if self.hierarchy is None:
            return []
        return list(self.hierarchy.levels(self.tables))

    def law_draws(self, family: str | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """Posterior draws (as draws()) with the law's parameters those of one family: for a fit
        with groups=, a fitted family's own, or for family=None a family not yet trained (one
        population draw per posterior draw). Without groups, family must be None."""
        if self.hierarchy is None:
            if family is not None:
                raise ValueError(f"family={family!r}: this fit has no families; fit with groups='<column>'")
            return self.draws()
        return self.hierarchy.bind(self.tables).law_draws(self.draws(), family, seed)

    def summary(self, ci_prob: float = 0.9) -> pd.DataFrame:
        """Posterior table: mean, median, sd, equal-tailed interval, R-hat, bulk and tail ESS.
        A fit from a backtest (Backtest.fit_all, bl.stack) warns (ExtrapolationWarning) when the
        law's held-out forecasts missed there."""
        if "backtest" in self.settings:
            warn_if_extrapolation_misses(self.settings["backtest"])
        return diagnostics.parameter_table(self._tree, self.parameter_names, ci_prob)

    # ------------------------------------------------------------ forecasts

    def predict(self, *, ci_prob: float = 0.9, seed: int = 0, draws: bool = False, family=None,
                **covariates) -> pd.DataFrame:
        """Loss forecast [nats] at targets given as covariates (scalars or arrays), e.g.
        ``predict(N=7e10, D=1.4e12)``; C = 6ND if the law needs C.

        Columns loss_*: the law's mean function (parameter uncertainty); loss_pred_*: what a new
        run would measure (adds the fitted noise), both with mean, median and ci_prob interval.
        For laws of another response (e.g. N_opt) the columns are named after it.
        With a link (with_link, fit_joint), also <metric>_* (the link's mean error at the law's
        loss) and <metric>_pred_* (a new run's measured error).
        With a penalty, the loss is at the optimal lr and batch size unless ``lr=`` or
        ``batch_size=`` [tokens] are given; then it includes that setting's penalty.
        draws=True: one row per posterior draw and target instead (columns draw, the targets,
        <response>, <response>_pred and, with a link, <metric>, <metric>_pred).
        family: for a fit with groups=, the family to forecast (a label, or a list of them: rows
        per family, with a column named after the groups column); None: a family not yet trained.
        """
        if not isinstance(draws, bool):
            raise ValueError(f"draws must be True or False (per-draw rows or a summary); got {draws!r}")
        if isinstance(family, (list, tuple, np.ndarray)):
            column = self.hierarchy.column if self.hierarchy is not None else "family"
            frames = [self.predict(ci_prob=ci_prob, seed=seed, draws=draws, family=f, **covariates) for f in family]
            labels = [NEW_FAMILY if name is None else str(name) for name in family]
            return pd.concat([f.assign(**{column: label}) for f, label in zip(frames, labels)], ignore_index=True)
        targets, per_draw = self.forecast_draws(seed=seed, family=family, **covariates)
        if draws:
            return forecast.long_table(targets, per_draw)
        out = targets
        counts = self.link.metric if self.link is not None and self.link.term.items is not None else None
        for name in [n for n in per_draw if not n.endswith("_pred")]:
            out = out.assign(**forecast.summary_columns(name, per_draw[name], per_draw[f"{name}_pred"], ci_prob,
                                                        discrete=name == counts))
        return out

    def forecast_draws(self, *, seed: int = 0, family=None, **covariates) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """(targets, per_draw) behind predict: the targets' frame and name -> (S, M) arrays of
        <response> (mean function), <response>_pred (a new run) and, with a link, <metric>(_pred)."""
        targets = forecast.target_covariates(self.law, terms=self.spec.terms, **covariates)
        posterior = self.law_draws(family, seed)
        log_loss = forecast.log_loss_draws(self.spec, posterior, targets, self.tables)
        noise = forecast.noise_factor_draws(self.spec, posterior, targets, self.tables)
        predictive = forecast.predictive_log_loss_draws(self.spec.likelihood, posterior, log_loss, seed, noise)
        with np.errstate(over="ignore"):  # a Student-t tail draw beyond e^709 is inf (see finite_quantiles)
            per_draw = {self.response: np.exp(log_loss), f"{self.response}_pred": np.exp(predictive)}
        link = self.link
        if link is not None:
            error, observed = link.error_from_loss(per_draw[self.response], per_draw[f"{self.response}_pred"], seed)
            per_draw.update({link.metric: error, f"{link.metric}_pred": observed})
        return targets, per_draw

    def predict_curve(self, run=None, schedule: str | None = None, steps=None, *, ci_prob: float = 0.9,
                      seed: int = 0, draws: bool = False) -> pd.DataFrame:
        """The loss curve of a fitted run (to finish it, give its schedule too) or of a new run under a
        schedule string, with bands, for a law of whole curves (bayeslaws.results.curves.predict_curve)."""
        self._require_curves("predict_curve")
        return curves.predict_curve(self, run, schedule, steps, ci_prob=ci_prob, seed=seed, draws=draws)

    def compare_schedules(self, schedules: Mapping[str, str], at_step: int | None = None, *,
                          ci_prob: float = 0.9) -> pd.DataFrame:
        """Each schedule's expected final loss and P(it ends lower than each other one)
        (bayeslaws.results.curves.compare_schedules)."""
        self._require_curves("compare_schedules")
        return curves.compare_schedules(self, schedules, at_step, ci_prob=ci_prob)

    def _require_curves(self, method: str) -> None:
        if self.law is None or self.law.features is None:
            raise ValueError(f"{method} needs a fit of a law of whole training curves (e.g. law='multipower'); "
                             f"this fit's law is {getattr(self.law, 'name', None)!r}")

    def compute_optimal(self, C, ci_prob: float = 0.9, family=None) -> pd.DataFrame:
        """Compute-optimal N_opt [parameters], D_opt [tokens], loss_opt [nats] and tokens per
        parameter at budgets C [FLOPs], C = 6ND, with posterior medians and intervals (of one
        family for a fit with groups=: see predict)."""
        C = np.atleast_1d(np.asarray(C, dtype=np.float64))
        per_draw = forecast.compute_optimal_draws(self.law, self.law_draws(family), C)
        per_draw["tokens_per_parameter"] = per_draw["D_opt"] / per_draw["N_opt"]
        out = pd.DataFrame({"C": C})
        for name, samples in per_draw.items():
            out = out.assign(**summarise_draws(samples, name, ci_prob))
        return out

    def optimal_hyperparameters(self, *, N, D, ci_prob: float = 0.9, draws: bool = False, family=None) -> pd.DataFrame:
        """Optimal learning rate (column prefix ``lr``) and batch size (``batch_size`` [tokens])
        at targets N [parameters], D [tokens] (scalars or arrays): mean, median and the ci_prob
        interval per target, or with ``draws=True`` one row per posterior draw and target
        (columns draw, N, D, lr, batch_size)."""
        penalty = self._require_penalty("optimal_hyperparameters")
        targets = forecast.target_covariates(self.law, terms=self.spec.terms, N=N, D=D)[["N", "D"]]
        optima = optimum_draws(penalty, self.law_draws(family), targets)
        if draws:
            return forecast.long_table(targets, optima)
        out = targets.copy()
        for name, values in optima.items():
            out = out.assign(**summarise_draws(values, name, ci_prob))
        return out

    def regret(self, *, N, D, lr=None, batch_size=None, ci_prob: float = 0.9, family=None) -> pd.DataFrame:
        """Loss cost [nats] of training at (lr, batch_size [tokens]) instead of the optimum, at
        targets N, D: per draw, L(setting) - L(optimum) >= 0; mean, median and ci_prob interval.
        A setting left as None is taken at its optimum."""
        penalty = self._require_penalty("regret")
        targets = forecast.target_covariates(self.law, terms=self.spec.terms, N=N, D=D, lr=lr, batch_size=batch_size)
        draws = self.law_draws(family)
        log_loss = forecast.law_log_loss_draws(self.law, draws, targets)
        cost = penalised_loss(penalty, log_loss, penalty_draws(penalty, draws, targets)) - np.exp(log_loss)
        return targets.assign(**summarise_draws(cost, "regret", ci_prob))

    def _require_penalty(self, method: str) -> Penalty:
        if self.penalty is None:
            raise ValueError(f"{method} needs a fit with a hyperparameter penalty: bl.fit(..., penalty='lr,batch_size')")
        return self.penalty

    # ------------------------------------------------------------ comparison, plots, storage

    def prob_better(self, a, b, *, ci_prob: float = 0.9, **at) -> pd.DataFrame:
        """P(family a's loss < family b's) at targets ``C=`` [FLOPs] (compute-optimal losses) or
        ``N=, D=``, for a fit with groups= (bayeslaws.results.decisions.prob_better_families)."""
        from .decisions import prob_better_families

        return prob_better_families(self, a, b, ci_prob=ci_prob, **at)

    def crossing_compute(self, a, b, C_range, *, ci_prob: float = 0.9) -> dict:
        """Where families a's and b's compute-optimal loss curves cross inside C_range [FLOPs]:
        P(cross), the crossing's median and interval (bayeslaws.results.decisions)."""
        from .decisions import crossing_families

        return crossing_families(self, a, b, C_range, ci_prob=ci_prob)

    def with_link(self, link_fit: LinkFit) -> Fit:
        """This fit with a link on the loss attached (from bl.fit_link): predict then also
        returns downstream error intervals, each loss draw pushed through a link draw."""
        if link_fit.link.input != "loss" or self.response != "loss":
            raise ValueError(f"link '{link_fit.link.name}' reads {link_fit.link.input} and this law predicts "
                             f"{self.response}; attach a link on the loss to a loss law")
        return replace(self, attached=link_fit)

    def residuals(self, ci_prob: float = 0.9, seed: int = 0) -> pd.DataFrame:
        """Each fitted run's residual from the law, in percent and in units of its noise (z), its
        in-sample PIT and whether its predictive interval holds it: which runs the law does not
        describe (bayeslaws.results.residuals)."""
        from .residuals import residuals

        return residuals(self, ci_prob, seed)

    def loo(self):
        """PSIS-LOO (ArviZ) from the stored pointwise log-likelihood of the fitted runs."""
        import arviz as az

        if "log_likelihood" not in self.tree.children:
            raise ValueError("this fit has no pointwise log-likelihood (it was made with extras=False); "
                             "refit with bl.fit(..., extras=True) for LOO")
        return az.loo(self.tree, var_name=self.spec.observed_sites()[0].variable)

    def plot(self, target: Mapping[str, float] | None = None, ax=None, family=None):
        """Runs, fitted law with 90% bands and the extrapolation to ``target`` (dict of N, D). For a
        law of whole curves: the fitted curves (see plot_curves). For a fit with groups=: one
        colour per family (``family``: the labels to draw, default all; see plots.plot_families)."""
        from .plots import plot_curves, plot_families, plot_fit

        if self.law is not None and self.law.features is not None:
            return plot_curves(self, ax=ax)
        if self.hierarchy is not None:
            return plot_families(self, None if family is None else np.atleast_1d(family).tolist(), target, ax)
        return plot_fit(self, target=target, ax=ax)

    def plot_residuals(self, x: str = "C", ax=None):
        """Each fitted run's residual [%] against a column of the runs (default compute; see
        plots.plot_residuals), the runs outside their 90 % interval marked."""
        from .plots import plot_residuals

        return plot_residuals(self, x, ax)

    def plot_curves(self, schedules: Mapping[str, str] | None = None, observed=None, ax=None):
        """Fitted curves and forecasts under schedules (name -> schedule string), with 90 % bands;
        observed: a curve table of unfitted runs to draw over the forecasts of the same name."""
        from .plots import plot_curves

        self._require_curves("plot_curves")
        return plot_curves(self, schedules, observed, ax)

    def save(self, path) -> None:
        """Write the fit to a netCDF file (lossless; read back with bayeslaws.load_fit)."""
        storage.save_fit(self, path)

    def __repr__(self) -> str:
        d = self.diagnostics
        return (f"{type(self).__name__}({self.spec.describe()}, runs={len(self.runs)}, "
                f"chains={self.settings.get('chains')}, draws={self.settings.get('draws')}, "
                f"divergences={d['divergences']}, max_r_hat={d['max_r_hat']:.3f}, min_ess_bulk={d['min_ess_bulk']:.0f})")


class LinkFit(Fit):
    """A Fit seen through its link term: a link fitted alone (bl.fit_link), or the link half of a
    joint fit (``paired_with_loss``: its draw i belongs with draw i of the law)."""

    @property
    def term(self) -> LinkTerm:
        return self.spec.term("link")

    @property
    def link(self):
        """The Link (bayeslaws.links)."""
        return self.term.link

    @property
    def likelihood(self) -> str:
        return self.term.likelihood.name

    @property
    def metric(self) -> str:
        return self.term.metric

    @property
    def fixed(self) -> dict[str, float]:
        return self.term.fixed()

    @property
    def paired_with_loss(self) -> bool:
        return self.term.on_law

    @property
    def runs(self) -> RunTable:
        return self.tables[self.term.table]

    def predict(self, *, ci_prob: float = 0.9, seed: int = 0, **inputs) -> pd.DataFrame:
        """Error forecast at the link's input: ``predict(C=1e24)`` [FLOPs] for a compute link,
        ``predict(loss=2.5)`` [nats] for a loss link (scalars or arrays).

        Columns <metric>_*: the link's mean error (parameter uncertainty); <metric>_pred_*: what a
        new model would measure (adds the likelihood's scatter); median and ci_prob interval.
        """
        name = self.link.input
        if set(inputs) != {name}:
            raise ValueError(f"link '{self.link.name}' reads {name} [{INPUT_UNITS[name]}]; call predict({name}=...)")
        values = np.atleast_1d(np.asarray(inputs[name], dtype=np.float64))
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"{name} values must be positive and finite")
        draws = self.draws()
        error = self.term.mean_error(draws, self.link.x(values)[None, :])
        observed = self.term.observed_error(draws, error, seed)
        columns = forecast.summary_columns(self.metric, error, observed, ci_prob, discrete=self.term.items is not None)
        return pd.DataFrame({name: values}).assign(**columns)

    def error_from_loss(self, loss: np.ndarray, loss_pred: np.ndarray, seed: int):
        """Per-draw mean and new-run error (S, M) at per-draw loss [nats] of a loss fit."""
        if self.link.input != "loss":
            raise ValueError(f"link '{self.link.name}' reads {self.link.input}, not the loss")
        draws = forecast.paired_link_draws(self.draws(), loss.shape[0], self.paired_with_loss, seed)
        return forecast.error_from_loss(self.term, draws, loss, loss_pred, seed)


def error_draws(loss_fit: Fit, link_fit: LinkFit, targets: Mapping[str, np.ndarray], seed: int = 0) -> dict:
    """Per-draw loss [nats] and error at targets (the law's covariates, e.g. {"N": ..., "D": ...}):
    "loss", "loss_pred", <metric>, <metric>_pred, each (S, M). Draws paired as in paired_link_draws."""
    frame = forecast.target_covariates(loss_fit.law, terms=loss_fit.spec.terms, **targets)
    draws = loss_fit.law_draws()
    log_loss = forecast.log_loss_draws(loss_fit.spec, draws, frame, loss_fit.tables)
    noise = forecast.noise_factor_draws(loss_fit.spec, draws, frame, loss_fit.tables)
    loss = np.exp(log_loss)
    loss_pred = np.exp(forecast.predictive_log_loss_draws(loss_fit.spec.likelihood, draws, log_loss, seed, noise))
    error, observed = link_fit.error_from_loss(loss, loss_pred, seed)
    return {"loss": loss, "loss_pred": loss_pred, link_fit.metric: error, f"{link_fit.metric}_pred": observed}


def paired_draws(link_fit: LinkFit, n: int, seed: int) -> dict[str, np.ndarray]:
    """The link's draws aligned with n loss draws (see forecast.paired_link_draws)."""
    return forecast.paired_link_draws(link_fit.draws(), n, link_fit.paired_with_loss, seed)


def load_fit(path, law=None) -> Fit:
    """Read a fit written by Fit.save. Pass ``law`` for a custom law not in the registry."""
    return _from_parts(storage.read_fit(path, law))


def _from_parts(parts: dict) -> Fit:
    kind = {"Fit": Fit, "LinkFit": LinkFit}[parts["kind"]]
    attached = None if parts["attached"] is None else _from_parts(parts["attached"])
    return kind(parts["spec"], parts["tree"], parts["tables"], parts["settings"], parts["seconds"], attached)
