"""The fitting pipeline: run tables -> ModelSpec -> NUTS -> DataTree -> Fit, one path for every
model. ``bl.fit`` (a law, optionally with terms such as a penalty), ``bl.fit_link`` (a link
alone) and ``bl.fit_joint`` (a law with a link on its loss) only build the spec and the tables.

Downstream error = 1 - accuracy, a fraction in [0, 1], of one task (``err_<task>``) or an
average over tasks (e.g. Gadre's ``err_avg17``). Two ways to combine a loss law with a link:

- two-stage: ``bl.fit`` the loss law, ``fit_link`` the link on runs with a measured loss and
  error, then ``loss_fit.with_link(link_fit).predict(N=..., D=...)`` (or ``error_draws``). Each
  posterior draw of the target's loss goes through one posterior draw of the link, paired at
  random (bayeslaws.results.forecast.paired_link_draws).
- joint: ``fit_joint`` fits the law and the link in one model in which the link reads the law's
  loss of each error run; draws are paired by index, since they come from one posterior.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from typing import Mapping, Sequence

import pandas as pd

from ..data import RunTable, RunTableError, load_runs
from ..data.curves import LR_TABLE, curve_tables
from ..data.runs import DIVERGED, without_diverged
from ..inference import diagnostics, nuts
from ..inference.tree import load_array_libraries, to_datatree
from ..laws import Law, get_law
from ..model import ModelSpec, Term, get_likelihood, priors_text
from ..model.likelihoods import FAMILY_PRIORS
from ..model.term import Tables
from ..terms.discrepancy import Discrepancy
from ..terms.hierarchy import Hierarchy
from ..terms.link import JOINT_TABLE, error_runs, make_link_term
from ..terms.penalty import Penalty, get_penalty
from .fit import Fit, LinkFit
from .residuals import warn_if_heavy_tails

HIERARCHY_TARGET_ACCEPT = 0.9  # bl.fit's default target_accept with groups= (else 0.8)
DISCREPANCY_TARGET_ACCEPT = 0.95  # bl.fit's default target_accept with a Discrepancy term (before groups=)


def run(spec: ModelSpec, tables: Tables, *, priors: Mapping | None, settings: nuts.SamplerSettings, seed: int,
        progress: bool, kind: type[Fit] = Fit, extras: bool = True) -> Fit:
    """Validate the tables for the spec, sample its posterior and check convergence."""
    started = time.perf_counter()
    spec.check(tables)
    resolved = spec.resolve_priors(priors)
    _check_size(spec, tables, settings)
    if progress:
        sizes = ", ".join(_size_text(name, table) for name, table in tables.items() if name != LR_TABLE)
        print(f"bayeslaws: NUTS, {settings.chains} chains x ({settings.warmup} warmup + {settings.draws} draws), "
              f"{_label(spec)}, {sizes} ...", file=sys.stderr, flush=True)
    data = spec.arrays(tables)
    loading = threading.Thread(target=load_array_libraries, daemon=True)  # while XLA compiles and the chains run
    samples = nuts.sample(spec, resolved, data, settings, seed, progress_bar=progress, meanwhile=loading)
    tree = to_datatree(spec, tables, samples)
    run_settings = {**settings.__dict__, "seed": seed, "response": spec.response, "priors": priors_text(resolved)}
    result = kind(spec, tree, dict(tables), run_settings)
    if extras:
        result.defer_extras(lambda: to_datatree(spec, tables, {
            **samples, **nuts.extras(spec, resolved, data, settings, seed, samples["posterior"])}))
    result.seconds = time.perf_counter() - started
    diag = result.diagnostics
    diagnostics.warn_if_unconverged(diag, settings.target_accept)
    warn_if_heavy_tails(result)
    if progress:
        print(f"bayeslaws: done in {result.seconds:.1f} s; divergences {diag['divergences']}, "
              f"max R-hat {diag['max_r_hat']:.3f}, min bulk ESS {diag['min_ess_bulk']:.0f}",
              file=sys.stderr, flush=True)
    return result


def fit(
    runs: RunTable | pd.DataFrame,
    law: str | Law = "chinchilla",
    *,
    likelihood: str | None = None,
    priors: Mapping | None = None,
    response: str | None = None,
    drop_early: float = 0.0,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 0,
    dense_mass: bool | None = None,
    target_accept: float | None = None,
    max_tree_depth: int = 10,
    init: str | None = None,
    penalty: str | Penalty | None = None,
    discrepancy: bool | Discrepancy = False,
    groups: str | None = None,
    hierarchical: Sequence[str] | None = None,
    correlated: bool = False,
    pooling: str = "partial",
    terms: Sequence[Term] = (),
    tables: Mapping[str, RunTable | pd.DataFrame] | None = None,
    extras: bool = True,
    progress: bool = True,
) -> Fit:
    """Fit a scaling law to runs with NUTS and check convergence.

    runs: a RunTable (from load_runs) or a DataFrame with canonical columns. For a law of whole
        training curves ("multipower", "lr_annealing"): a curve table (bayeslaws.data.curves:
        run_id, step, loss, and lr at every step or a schedule string per run), or its path.
    law: a registry name (see bl.LAWS: "chinchilla", "kaplan", "power", ...) or a Law.
    likelihood: "student_t" (default, robust to outlying runs), "normal" or "huber", on log loss;
        "ar1" for training curves: residuals correlated along each run (bayeslaws.model.curve_noise),
        the default for a law of whole curves and for tables whose rows are checkpoints (a run_id
        on several rows, with a step column); "run_offset" for curves: white noise plus one offset
        per run (the law's error for a schedule), for forecasting schedules that were not run.
    drop_early: curves only: leave out each run's points before this fraction of its last step.
    priors: overrides by parameter name, NumPyro distributions in original units.
    init: "prior" (prior draw, identity as the first mass matrix) or "laplace" (a draw from the
        Laplace approximation, its covariance as the first mass matrix); both then adapt the
        mass matrix in windows. "laplace" spares warmup its deep early trees: 1.7x faster on a
        2,000-run penalised sweep (benchmarks/penalised_sweep.py); see SamplerSettings.
        "laplace_fixed" keeps the Laplace covariance as the mass matrix (warmup tunes only the
        step size): for tables of thousands of rows, whose posteriors are near Gaussian (10,000
        curve points: under 3 minutes against over 15; benchmarks/curve_scale.py), while on tables
        of a few runs it hits the tree-depth limit. Default: "laplace_fixed" above LARGE_TABLE
        rows, else "prior".
    response: the column to model (default: the law's, "loss" for loss laws).
    penalty: learn from runs off their optimal hyperparameters (bayeslaws.terms.penalty): None,
        "lr,batch_size" (or "lr", "batch_size"), a preset "steplaw"/"deepseek", or a Penalty.
        The run table then needs those columns (batch_size in tokens); prior overrides for the
        penalty's parameters go in ``priors`` too.
    discrepancy: True (or a Discrepancy) adds a model-discrepancy process on log C to the law
        (bayeslaws.terms.discrepancy): intervals then widen away from the runs. With the term
        (here or in terms=), target_accept defaults to 0.95.
    groups: a column naming each run's family (architecture, data mix, optimiser): each family
        gets its own law parameters from a population distribution (bayeslaws.terms.hierarchy);
        forecasts then take ``family=``. hierarchical: the parameters that vary by family
        (default: all but the irreducible loss E); correlated: an LKJ prior on how their family
        offsets correlate; pooling: "partial" (learn how much families differ) or "none" (the
        no-pooling limit: each family's varying parameters follow its own runs). Without groups,
        one pooled fit (the complete-pooling limit). With groups, target_accept defaults to 0.9 (the
        population's sds make the posterior's curvature vary: smaller steps avoid divergences)
        and the Student-t likelihood's nu ~ 1 + Gamma(2, 0.1) (likelihoods.GammaAbove), and,
        with partial pooling, dense_mass to False: a family fit's dozens of parameters leave
        a dense mass matrix too few warmup draws per entry (a 4-family zoo, seeds 0-5: bulk ESS
        250-420 with a diagonal one, 100-250 with a dense one).
    dense_mass: a full mass matrix (the default without groups or with pooling="none", whose
        per-family exponents and coefficients correlate as one law's do: a diagonal one hit the
        tree-depth limit in 82 % of draws).
    terms: further model terms (bayeslaws.model.Term), e.g. your own; ``tables`` gives run tables
        of their own by name.
    extras: the DataTree also holds log_likelihood (for LOO), posterior_predictive, prior and
        prior_predictive, computed from the draws by a second program when ``fit.tree`` is first
        read (by you, LOO or saving): a fit used only for forecasts and summaries never compiles
        it (for a Student-t likelihood, about as long as the sampler). False leaves them out.
    Warns with a ConvergenceWarning and advice when R-hat, ESS, divergences or tree depth say so.
    """
    law = get_law(law)
    penalty = get_penalty(penalty)
    discrepancy = Discrepancy() if discrepancy is True else discrepancy
    extra = ((penalty,) if penalty else ()) + ((discrepancy,) if discrepancy else ())
    if groups is not None:
        extra += (Hierarchy(groups, hierarchical, correlated, pooling=pooling),)
    elif hierarchical is not None or correlated or pooling != "partial":
        raise ValueError("hierarchical=, correlated= and pooling= describe families: give groups='<column>' too")
    fitted = curve_tables(runs, drop_early=drop_early) if law.features is not None else _fitted_tables(_table(runs))
    likelihood = likelihood or _default_likelihood(fitted["runs"])
    spec = ModelSpec(law, get_likelihood(likelihood), tuple(terms) + extra, response or law.response)
    if groups is not None:  # nu >= 1: no spike at sigma -> 0 where a family's own parameters fit its few runs exactly
        defaults = {name: make() for name, make in FAMILY_PRIORS.get(spec.likelihood.name, {}).items()}
        priors = {**defaults, **(priors or {})}
    every = {**fitted, **{name: _table(t) for name, t in (tables or {}).items()}}
    start, adapt_mass = _sampler_start(init, len(fitted["runs"]))
    target_accept = target_accept or _default_target_accept(spec, groups)
    dense_mass = (groups is None or pooling == "none") if dense_mass is None else dense_mass
    settings = nuts.SamplerSettings(chains, warmup, draws, dense_mass, target_accept, max_tree_depth, start, adapt_mass)
    return run(spec, every, priors=priors, settings=settings, seed=seed, progress=progress, extras=extras)


def _default_target_accept(spec: ModelSpec, groups: str | None) -> float:
    """0.95 with a discrepancy term (its amplitude, lengthscale and basis weights make a funnel:
    at 0.8 five 120-run zoos had 91-163 divergent draws in 10,000, at 0.95 2-4;
    benchmarks/README.md, *Discrepancy defaults*), 0.9 with families, else 0.8."""
    if any(isinstance(term, Discrepancy) for term in spec.terms):
        return DISCREPANCY_TARGET_ACCEPT
    return HIERARCHY_TARGET_ACCEPT if groups is not None else 0.8


def _sampler_start(init: str | None, rows: int) -> tuple[str, bool]:
    """bl.fit's init option as SamplerSettings' (init, adapt_mass)."""
    init = init or ("laplace_fixed" if rows > LARGE_TABLE else "prior")
    if init == "laplace_fixed":
        return "laplace", False
    if init not in nuts.INITS:
        raise ValueError(f"init must be one of {list(nuts.INITS) + ['laplace_fixed']}; got {init!r}")
    return init, True


def fit_link(
    runs: RunTable | pd.DataFrame,
    link="gadre",
    metric: str = "err_avg17",
    *,
    likelihood: str = "beta",
    priors: Mapping | None = None,
    fixed: Mapping[str, float] | None = None,
    items: int | None = None,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 0,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    progress: bool = True,
) -> LinkFit:
    """Fit a link, error = f(loss or C), to runs that have the error column ``metric``.

    link: a registry name ("gadre", "sigmoid_C", "sigmoid_loss", "logit_linear_C",
        "logit_linear_loss") or a Link. Loss links read the column "loss" [nats] (measured loss),
        compute links the column "C" [FLOPs].
    likelihood: "beta" (default), "logit_normal", or "binomial" (then ``items`` = number of
        benchmark questions). priors: overrides by name (NumPyro distributions, original units).
    fixed: parameters held at known values, e.g. {"chance": 0.75} for a 4-way multiple choice.
    Rows where the metric is missing are left out; an error outside [0, 1] or a missing column is
    a RunTableError naming the rows or the available err_* columns.
    """
    term = make_link_term(link, likelihood, metric, fixed, items)
    spec = ModelSpec(None, None, (term,))
    settings = nuts.SamplerSettings(chains, warmup, draws, True, target_accept, max_tree_depth)
    result = run(spec, {"runs": error_runs(_table(runs), term.link, metric)}, priors=priors, settings=settings,
                 seed=seed, progress=progress, kind=LinkFit)
    result.settings.update(metric=metric, fixed=term.fixed(), items=term.items)
    return result


def fit_joint(
    loss_runs: RunTable | pd.DataFrame,
    link_runs: RunTable | pd.DataFrame,
    law: str | Law = "overtraining",
    link="gadre",
    metric: str = "err_avg17",
    *,
    likelihood: str = "student_t",
    error_likelihood: str = "beta",
    priors: Mapping | None = None,
    fixed: Mapping[str, float] | None = None,
    items: int | None = None,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 0,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    progress: bool = True,
) -> Fit:
    """Fit a loss law (on loss_runs) and a loss link (on link_runs, the runs with the metric) in
    one model that shares the loss: each error run's error is observed at the law's loss L(N, D)
    of that run (not its measured loss), so the error runs inform the law too.

    Returns a Fit of the law whose ``link`` is the joint link posterior (paired by draw), so
    ``predict`` returns loss and error intervals. priors: overrides for any parameter (law,
    likelihood, link or error likelihood). Other arguments as bl.fit and fit_link.
    """
    law = get_law(law)
    term = make_link_term(link, error_likelihood, metric, fixed, items, on_law=True, law_covariates=law.covariates)
    spec = ModelSpec(law, get_likelihood(likelihood), (term,))
    tables = {"runs": _table(loss_runs), JOINT_TABLE: error_runs(_table(link_runs), term.link, metric)}
    settings = nuts.SamplerSettings(chains, warmup, draws, True, target_accept, max_tree_depth)
    return run(spec, tables, priors=priors, settings=settings, seed=seed, progress=progress)


LARGE_TABLE = 5000  # rows; above this, short adaptive warmups left chains apart in our checks (R-hat 3 at 200
# warmup), and bl.fit keeps the Laplace mass matrix by default (init="laplace_fixed")
MAX_DRAW_BYTES = 8 * 2**30  # the DataTree's per-run groups (log-likelihood, two predictives), float32


def _check_size(spec: ModelSpec, tables: Tables, settings: nuts.SamplerSettings) -> None:
    """Refuse fits whose per-run draws would not fit in memory; advise warmup for large tables."""
    rows = sum(len(tables[site.table]) for site in spec.observed_sites())
    size = 3 * 4 * settings.chains * settings.draws * rows
    if size > MAX_DRAW_BYTES:
        raise ValueError(f"{settings.chains} chains x {settings.draws} draws x {rows} rows would keep "
                         f"{size / 2**30:.0f} GiB of per-row draws (log-likelihood and predictive); use fewer "
                         f"draws (about {MAX_DRAW_BYTES // (12 * settings.chains * rows):,} at most) or chains")
    n = len(tables["runs"])
    if n > LARGE_TABLE and settings.warmup < 1000 and settings.adapt_mass:
        warnings.warn(f"{_size_text('runs', tables['runs'])} with warmup={settings.warmup}: tables this large need "
                      "warmup >= 1000 for the chains to meet, or init='laplace_fixed' (their default: warmup then "
                      "only tunes the step size)", UserWarning, stacklevel=4)


def _size_text(name: str, table: RunTable) -> str:
    """'240 runs', '50 error runs', or '437 points of 3 runs' for curves (rows that share a run_id)."""
    frame = table.frame
    if name == "runs" and "run_id" in frame and frame["run_id"].duplicated().any():
        return f"{len(frame)} points of {frame['run_id'].nunique()} runs"
    if name == DIVERGED:
        return f"{len(frame)} runs marked diverged left out"
    return f"{len(frame)} {'runs' if name == 'runs' else name + ' runs'}"


def _default_likelihood(runs: RunTable) -> str:
    """"ar1" when rows are checkpoints of training curves (run_id and step columns, some run_id
    on several rows: its points are not independent evidence), else "student_t"."""
    frame = runs.frame
    checkpoints = {"run_id", "step"} <= set(frame.columns) and frame["run_id"].duplicated().any()
    return "ar1" if checkpoints else "student_t"


def _fitted_tables(table: RunTable) -> dict[str, RunTable]:
    """{"runs": the runs to fit} and, where some are marked diverged, {"diverged": those}: kept
    with the fit (and saved with it), left out of the likelihood (bayeslaws.data.runs.without_diverged)."""
    runs, diverged = without_diverged(table)
    if not len(runs):
        raise RunTableError(f"every run is marked diverged (column '{table.source_columns.get(DIVERGED, DIVERGED)}'): "
                            "there are no runs to fit the law to")
    return {"runs": runs, **({DIVERGED: diverged} if diverged is not None else {})}


def _table(runs) -> RunTable:
    return runs if isinstance(runs, RunTable) else load_runs(runs, required=())


def _label(spec: ModelSpec) -> str:
    return ", ".join(([] if spec.law is None else [f"law {spec.law.name}"]) + [str(t) for t in spec.terms])
