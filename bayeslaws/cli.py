"""Command line: `bayeslaws fit`, `bayeslaws backtest`, `bayeslaws compare`, `bayeslaws demo`,
`bayeslaws laws`.

stdout carries results (one JSON object with --json); progress and warnings go to stderr;
bad input exits with status 2 and the validator's message, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_WRITE_FAILED = 120  # Python's own status when flushing stdout fails at exit


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except UsageError as error:
        print(f"bayeslaws: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    warnings.showwarning = _warning_to_stderr
    try:
        return args.command(args)
    except (ValueError, OSError, KeyError) as error:
        message = error.args[0] if error.args else repr(error)
        print(f"bayeslaws: error: {' '.join(str(message).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT


def run() -> None:
    """The `bayeslaws` command: main(), then exit without the interpreter's teardown.

    After its last line a process that imported JAX, NumPyro and pandas spends 0.3 s tearing the
    modules down, 0.4 s after a fit (2 cores): longer than a warm fit's sampling. Everything
    the command writes is written and closed by then, so once stdout and stderr are flushed it
    leaves at once (os._exit). main() itself returns normally, for callers in a Python process.
    """
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (`bayeslaws ... | head`): nothing more to deliver
        pass
    except (OSError, ValueError) as error:  # e.g. a full disk: the output is incomplete
        print(f"bayeslaws: error: could not write the output: {error}", file=sys.stderr)
        code = code or EXIT_WRITE_FAILED
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


class UsageError(Exception):
    """A command line argparse refused (its message is one line)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line (see main) instead of usage + error."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="bayeslaws", description="Bayesian scaling-law fits and forecasts.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=OneLineParser)

    fit = sub.add_parser("fit", help="fit a law to a CSV of runs and forecast")
    fit.add_argument("csv", help="CSV file of runs (one row per training run; for a law of whole curves, "
                                 "one row per logged point: run_id, step, loss and lr or schedule)")
    fit.add_argument("--law", default="chinchilla", help="law name (see `bayeslaws laws`)")
    fit.add_argument("--forecast", help="curve laws: CSV of targets (run_id, step, schedule) to forecast")
    fit.add_argument("--likelihood", help="student_t (default for runs), normal, huber; for curves ar1 (default) "
                                          "or run_offset (one offset per run: for forecasting new schedules)")
    fit.add_argument("--init", choices=["prior", "laplace"], help="chains start from prior draws (default) or "
                                                                  "the Laplace approximation")
    fit.add_argument("--drop-early", type=float, default=0.0,
                     help="curve laws: leave out each run's points before this fraction of its last step")
    fit.add_argument("--columns", type=_pairs_of_names, default={},
                     help="map canonical to CSV columns, e.g. N=params,D=tokens,loss=val_loss")
    fit.add_argument("--predict", type=_pairs_of_numbers, action="append", default=[],
                     help="forecast target, e.g. N=7e10,D=1.4e12 (repeatable)")
    fit.add_argument("--penalty", help="learn from runs off their optimal hyperparameters: lr,batch_size "
                                       "(or one of them; batch_size in tokens), or a preset: steplaw, deepseek")
    fit.add_argument("--link", help="downstream error link on the loss (e.g. gadre); needs --metric")
    fit.add_argument("--metric", help="error column for the link (e.g. err_avg17), 1 - accuracy in [0, 1]")
    fit.add_argument("--link-csv", help="CSV of runs (loss and metric) to fit the link on; default: the "
                                        "rows of CSV that have the metric")
    fit.add_argument("--groups", help="column naming each run's family: per-family parameters from a population "
                                      "(the JSON gains a block per family)")
    fit.add_argument("--hierarchical", type=_names, help="with --groups: the parameters that vary by family "
                                                          "(default: all but E and chance), e.g. A,alpha")
    _term_options(fit, "the law")
    fit.add_argument("--residuals", metavar="OUT_CSV",
                     help="write each fitted run's residual from the law to this CSV: the run's columns (canonical "
                          "names), fitted, residual (log observed - log fitted), noise_scale, z, pit, covered")
    _sampler_options(fit)
    fit.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    fit.set_defaults(command=_fit_command)

    families = sub.add_parser("compare-families", help="fit runs of several families together and ask which "
                                                       "family's loss is lower at a target")
    families.add_argument("csv", help="CSV file of runs with a family column")
    families.add_argument("--law", default="chinchilla", help="law name (see `bayeslaws laws`)")
    families.add_argument("--groups", default="family", help="the family column (default: family)")
    families.add_argument("--hierarchical", type=_names,
                          help="parameters that vary by family (default: all but E and chance)")
    families.add_argument("--a", required=True, help="first family's label")
    families.add_argument("--b", required=True, help="second family's label")
    families.add_argument("--at", type=_pairs_of_numbers, action="append", required=True,
                          help="target: C=1e23 (compute-optimal loss) or N=7e10,D=1.4e12 (repeatable)")
    families.add_argument("--columns", type=_pairs_of_names, default={},
                          help="map canonical to CSV columns, e.g. N=params,D=tokens,loss=val_loss")
    _sampler_options(families)
    families.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    families.set_defaults(command=_compare_families_command)

    for name, help_text in (("backtest", "refit laws without the largest runs and score their forecasts of them"),
                            ("compare", "backtest laws, add PSIS-LOO on all runs and the stacking weights")):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("csv", help="CSV file of runs (one row per training run)")
        command.add_argument("--laws", type=_names, default=["chinchilla", "kaplan"],
                             help="comma-separated law names, the chosen one first (default chinchilla,kaplan)")
        command.add_argument("--holdout", type=_fractions, default=[0.1, 0.25, 0.5],
                             help="fractions of the runs held out by compute (default 0.1,0.25,0.5)")
        command.add_argument("--columns", type=_pairs_of_names, default={},
                             help="map canonical to CSV columns, e.g. N=params,D=tokens,loss=val_loss")
        command.add_argument("--predict", type=_pairs_of_numbers, action="append", default=[],
                             help="stacked forecast target, e.g. N=7e10,D=1.4e12 (repeatable)")
        _term_options(command, "every law")
        _sampler_options(command, draws=500, warmup=500)
        command.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        command.set_defaults(command=_backtest_command, compare=name == "compare")

    suggest = sub.add_parser("suggest", help="fit a law, then rank candidate runs by how much each would narrow "
                                             "a target forecast for its cost")
    suggest.add_argument("csv", help="CSV file of the runs so far")
    suggest.add_argument("--law", default="chinchilla", help="law name (see `bayeslaws laws`)")
    suggest.add_argument("--candidates", required=True, help="CSV of runs that could be trained (N, D, ...)")
    suggest.add_argument("--target", type=_pairs_of_numbers, required=True,
                         help="the forecast to narrow: C=1e24 (compute-optimal loss) or N=7e10,D=1.4e12")
    suggest.add_argument("--budget", type=float, help="total cost allowed [FLOPs with the default cost 6ND]")
    suggest.add_argument("--k", type=int, help="at most this many runs")
    suggest.add_argument("--strategy", default="suggest", help="suggest (default), random, cheapest or d_optimal")
    suggest.add_argument("--cost-exponent", type=float,
                         help="suggest ranks by reduction / cost**E (default 0.4; 1 per FLOP, 0 ignores cost)")
    suggest.add_argument("--columns", type=_pairs_of_names, default={},
                         help="map canonical to CSV columns, e.g. N=params,D=tokens,loss=val_loss")
    _sampler_options(suggest)
    suggest.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    suggest.set_defaults(command=_suggest_command)

    demo = sub.add_parser("demo", help="fit the bundled synthetic zoo, forecast, and write a plot")
    demo.add_argument("--output", default="bayeslaws-output", help="folder for the plot (created)")
    _sampler_options(demo)
    demo.set_defaults(command=_demo_command)

    laws = sub.add_parser("laws", help="list the laws in the library")
    laws.set_defaults(command=_laws_command)
    return parser


def _sampler_options(parser, draws: int = 1000, warmup: int = 1000):
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=draws)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target-accept", type=float, default=None,
                        help="NUTS's target acceptance rate (default 0.8; 0.9 with --groups, 0.95 with "
                             "--discrepancy): raise it when a fit reports divergent transitions")


def _sampler(args) -> dict:
    """The sampler options of the command line as bl.fit's keywords, checked before any data is read."""
    from bayeslaws.inference.nuts import SamplerSettings

    given = {} if args.target_accept is None else {"target_accept": args.target_accept}
    SamplerSettings(chains=args.chains, warmup=args.warmup, draws=args.draws, **given)
    return {"chains": args.chains, "draws": args.draws, "warmup": args.warmup, "seed": args.seed, **given}


def _pairs(text: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE pairs separated by commas, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _pairs_of_names(text: str) -> dict[str, str]:
    return _pairs(text)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated law names, e.g. chinchilla,kaplan")
    return names


def _fractions(text: str) -> list[float]:
    try:
        fractions = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated fractions, e.g. 0.1,0.25") from None
    if not fractions or not all(0 < q < 1 for q in fractions):
        raise argparse.ArgumentTypeError(f"{text!r}: holdout fractions must lie in (0, 1)")
    return fractions


def _pairs_of_numbers(text: str) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in _pairs(text).items()}
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: values must be numbers ({error})") from None


def _warning_to_stderr(message, category, filename, lineno, file=None, line=None):
    print(f"bayeslaws: {category.__name__}: {message}", file=sys.stderr)


def _fit_command(args) -> int:
    import bayeslaws as bl

    sampler, terms = _sampler(args), _terms(args)
    _check_settings_and_targets(args, terms.get("terms", ()))
    if bl.get_law(args.law).features is not None:
        return _curve_fit_command(args, sampler, terms)
    if args.hierarchical and not args.groups:
        raise ValueError("--hierarchical needs --groups (the family column)")
    runs = bl.load_runs(args.csv, columns=args.columns, required=("loss",))
    link_runs = _link_runs(args, runs)
    result = bl.fit(runs, law=args.law, **sampler,
                    likelihood=args.likelihood, init=args.init, penalty=args.penalty, groups=args.groups,
                    hierarchical=args.hierarchical, progress=True, **terms,
                    extras=False)  # the report reads no pointwise or predictive group
    if link_runs is not None:
        result = result.with_link(bl.fit_link(link_runs, args.link, args.metric, **sampler))
    report = fit_report(result, args.predict)
    if args.residuals:
        result.residuals().to_csv(args.residuals, index=False)
    if args.json:
        print(json.dumps(_finite(report), allow_nan=False))
    else:
        _print_report(result, report)
    return 0


def _curve_fit_command(args, sampler: dict, terms: dict) -> int:
    """bayeslaws fit for a law of whole training curves: the report gains "forecasts", one per
    row of --forecast, each {"run_id", "step", "loss": {"median", "q05", "q95"}}, the 90 %
    interval of what the run would log."""
    import bayeslaws as bl
    from bayeslaws.data.runs import read_source
    from bayeslaws.results.curves import forecast_targets, read_forecast_targets

    for option in ("predict", "penalty", "link", "residuals", "noise_by"):
        if getattr(args, option):
            raise ValueError(f"--{option.replace('_', '-')} does not apply to law '{args.law}', a law of whole curves; "
                             "give --forecast targets.csv (run_id, step, schedule)")
    targets = read_forecast_targets(args.forecast) if args.forecast else None
    curves = read_source(args.csv).rename(columns={user: canonical for canonical, user in args.columns.items()})
    result = bl.fit(curves, law=args.law, drop_early=args.drop_early, **sampler,
                    likelihood=args.likelihood, init=args.init, progress=True,
                    extras=False, **terms)
    report = fit_report(result, [])
    report["forecasts"] = [] if targets is None else [
        {"run_id": row["run_id"], "step": int(row["step"]),
         "loss": {k: float(row[f"loss_pred_{k}"]) for k in ("median", "q05", "q95")}}
        for row in forecast_targets(result, targets, ci_prob=0.9).to_dict("records")]
    if args.json:
        print(json.dumps(_finite(report), allow_nan=False, default=str))
    else:
        _print_report(result, report)
        for forecast in report["forecasts"]:
            print(f"forecast {forecast['run_id']} step {forecast['step']}: {forecast['loss']}")
    return 0


def _check_settings_and_targets(args, terms=()) -> None:
    """The likelihood known and every --predict target readable by the law (and penalty and
    terms), before any data is read or sampled."""
    import bayeslaws as bl
    from bayeslaws.model import get_likelihood
    from bayeslaws.results.forecast import target_covariates
    from bayeslaws.terms.penalty import get_penalty

    if args.likelihood:
        get_likelihood(args.likelihood)
    penalty = get_penalty(args.penalty)
    if bl.get_law(args.law).features is not None:
        return
    for target in args.predict:
        target_covariates(bl.get_law(args.law), terms=((penalty,) if penalty else ()) + tuple(terms), **target)
    _require_term_targets(args.predict, terms)


def _require_term_targets(targets: list[dict[str, float]], terms) -> None:
    """Every --predict target gives the columns the terms read at a forecast (--noise-by's column)."""
    for target in targets:
        missing = [name for term in terms for name in term.target_names() if name not in target]
        if missing:
            text = ",".join(f"{k}={v:g}" for k, v in target.items())
            raise ValueError(f"--predict {text}: give {', '.join(missing)} too (the --noise-by column)")


def _finite(value):
    """The report with NaN and infinities as null, so stdout is valid JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _link_runs(args, runs):
    """The runs for --link (validated before any sampling), or None without --link: the rows of
    --link-csv (read with the same --columns), else of the fitted CSV, that have --metric."""
    import bayeslaws as bl
    from bayeslaws.terms.link import error_runs, make_link_term

    if args.link is None:
        if args.metric or args.link_csv:
            raise ValueError("--metric and --link-csv need --link (e.g. --link gadre)")
        return None
    if not args.metric:
        raise ValueError("--link needs --metric, the error column to forecast (e.g. --metric err_avg17)")
    link = bl.get_link(args.link)
    if link.input != "loss":
        raise ValueError(f"--link needs a link on the loss (e.g. gadre); '{link.name}' reads {link.input}")
    table = bl.load_runs(args.link_csv, columns=args.columns, required=("loss",)) if args.link_csv else runs
    evaluated = error_runs(table, link, args.metric)
    make_link_term(link, "beta", args.metric).check({"runs": evaluated})
    return evaluated


def fit_report(result, targets: list[dict[str, float]]) -> dict:
    """The CLI's JSON contract, from a Fit and forecast targets. With a link attached, each
    prediction also has "downstream": {metric: {"median", "q05", "q95"}} (the link's mean error
    at the law's loss, as "loss" is the law's value)."""
    summary = result.summary(ci_prob=0.9)
    keys = ["mean", "median", "sd", "q05", "q95", "r_hat", "ess_bulk"]
    diagnostics = result.diagnostics
    predictions = []
    for target in targets:
        row = result.predict(**target, ci_prob=0.9).iloc[0]
        prediction = {**target, result.response: {k: float(row[f"{result.response}_{k}"]) for k in ("median", "q05", "q95")}}
        if result.link is not None:
            metric = result.link.metric
            prediction["downstream"] = {metric: {k: float(row[f"{metric}_{k}"]) for k in ("median", "q05", "q95")}}
        predictions.append(prediction)
    report = {
        "law": result.law.name,
        "n_runs": _run_count(result),
        "parameters": {name: {k: float(summary.loc[name, k]) for k in keys} for name in summary.index},
        "predictions": predictions,
        "diagnostics": {k: diagnostics[k] for k in ("divergences", "max_r_hat", "min_ess_bulk")},
        "seconds": round(result.seconds, 3),
    }
    if "diverged" in result.tables:  # runs marked diverged (bayeslaws.data.runs.DIVERGED), left out of the fit
        report["n_diverged"] = len(result.tables["diverged"])
    if result.penalty is not None:
        report["optimal"] = [_optimal_report(result, target) for target in targets]
    if result.hierarchy is not None:
        report["families"] = _family_report(result, summary, targets)
    return report


def _family_report(result, summary, targets) -> dict:
    """Per family: {"parameters": the law's parameters as that family's (name -> interval), "predictions"};
    the top-level predictions are a family not yet trained (the population predictive)."""
    term, keys = result.hierarchy, ("median", "q05", "q95")
    out = {}
    for family in result.families:
        parameters = {p: {k: float(summary.loc[f"{term.value_name(p)}[{family}]", k]) for k in keys} for p in term.varying}
        shared = {p: {k: float(summary.loc[p, k]) for k in keys} for p in result.law.param_names if p not in term.varying}
        predictions = [{**target, result.response: {k: float(row[f"{result.response}_{k}"]) for k in keys}}
                       for target in targets for row in [result.predict(family=family, **target).iloc[0]]]
        out[family] = {"parameters": {**parameters, **shared}, "predictions": predictions}
    return out


def _run_count(result) -> int:
    """Training runs fitted: rows of the run table, or curves (run_ids) for a law of whole curves."""
    runs = result.runs
    return int(runs.frame["run_id"].nunique()) if result.law is not None and result.law.features is not None else len(runs)


def _optimal_report(result, target: dict[str, float]) -> dict:
    """{"N", "D", <hyperparameter>: {"median", "q05", "q95"}} at one --predict target."""
    row = result.optimal_hyperparameters(N=target["N"], D=target["D"], ci_prob=0.9).iloc[0]
    names = result.penalty.hyperparameters
    return {"N": target["N"], "D": target["D"],
            **{h: {k: float(row[f"{h}_{k}"]) for k in ("median", "q05", "q95")} for h in names}}


def _print_report(result, report: dict) -> None:
    import pandas as pd

    left_out = f" ({report['n_diverged']} marked diverged left out)" if "n_diverged" in report else ""
    print(f"law {result.law.name}: {result.law.formula}; {report['n_runs']} runs{left_out}; {report['seconds']:.1f} s")
    print(result.summary().to_string(float_format=lambda v: f"{v:.4g}"))
    for p in report["predictions"]:
        print(pd.Series(p).to_string())
    for optimum in report.get("optimal", []):
        print("optimal hyperparameters:", optimum)
    print("diagnostics:", report["diagnostics"])


def _term_options(command, subject: str) -> None:
    """--discrepancy [AMPLITUDE], --discrepancy-lengthscale and --noise-by (read by _terms)."""
    command.add_argument("--discrepancy", nargs="?", type=float, const=True, default=False, metavar="AMPLITUDE",
                         help=f"fit {subject} with a discrepancy term, so that intervals widen beyond the runs; "
                              "AMPLITUDE: the median of its amplitude prior [log loss] (default 0.06)")
    command.add_argument("--discrepancy-lengthscale", type=float, default=None, metavar="LENGTHSCALE",
                         help="with --discrepancy: the median of its lengthscale prior [half-ranges of the runs' "
                              "log C] (default 1; 0.5 widens the band faster beyond the runs)")
    command.add_argument("--noise-by", default=None, metavar="COLUMN",
                         help="the likelihood's sigma grows or shrinks with this positive column (e.g. epochs); "
                              "--predict targets then give it too")


def _terms(args) -> dict:
    """bl.fit / bl.backtest options of --discrepancy, --discrepancy-lengthscale and --noise-by."""
    import bayeslaws as bl

    if args.discrepancy is False and args.discrepancy_lengthscale is not None:
        raise ValueError("--discrepancy-lengthscale sets the discrepancy term's prior: give --discrepancy too")
    options = {} if args.discrepancy is False else {"discrepancy": _discrepancy_term(args)}
    if args.noise_by is not None:
        options["terms"] = (bl.NoiseScale(args.noise_by),)
    return options


def _discrepancy_term(args):
    """The term of --discrepancy [AMPLITUDE] and --discrepancy-lengthscale (bl.Discrepancy's defaults
    where not given)."""
    import bayeslaws as bl

    given = {"amplitude": None if args.discrepancy is True else args.discrepancy,
             "lengthscale": args.discrepancy_lengthscale}
    return bl.Discrepancy(**{k: v for k, v in given.items() if v is not None})


def _backtest_command(args) -> int:
    """bayeslaws backtest / compare: scores per law and split, pooled scores, stacking weights and,
    with --predict, the stacked forecast; compare adds PSIS-LOO of every law on all runs."""
    import bayeslaws as bl
    from bayeslaws.results.comparison import format_comparison
    from bayeslaws.results.forecast import target_covariates

    sampler = _sampler(args)
    laws = [bl.get_law(name).name for name in args.laws]
    term = _terms(args)
    for target in args.predict:
        for law in laws:
            target_covariates(bl.get_law(law), terms=term.get("terms", ()), **target)
    _require_term_targets(args.predict, term.get("terms", ()))
    runs = bl.load_runs(args.csv, columns=args.columns, required=("loss",))
    result = bl.backtest(runs, laws, holdout=args.holdout, **sampler, **term)
    comparison = bl.compare(result) if args.compare else None
    # the weights once (200 bootstrapped optimisations): from the comparison when there is one
    weights = (dict(zip(comparison["law"], comparison["stacking_weight"])) if args.compare
               else bl.stacking_weights(result))
    weights = {law: float(weights[law]) for law in laws}
    report = {"laws": laws, "n_runs": len(runs), "holdout": args.holdout,
              "scores": _records(result.scores), "pooled": _records(result.pooled()), "stacking_weights": weights}
    if args.compare:
        report["comparison"] = _records(comparison)
    if args.predict:
        stacked = bl.stack(result, weights=weights)
        report["stacked"] = {"weights": dict(stacked.weights), "predictions": [
            {**target, **_intervals(stacked.predict(**target).iloc[0], ("loss", "loss_pred"))} for target in args.predict]}
    if args.json:
        print(json.dumps(_finite(report), allow_nan=False))
        return 0
    print(f"backtest of {', '.join(laws)} on {len(runs)} runs (held out: top {args.holdout} of compute)")
    print(result.scores.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\npooled over the splits:")
    print(result.pooled().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.compare:
        print("\ncomparison (elpd_loo: PSIS-LOO on all runs; heldout_*: leave-largest-out):")
        print(format_comparison(comparison))
    print("\nstacking weights:", ", ".join(f"{k} {w:.3f}" for k, w in weights.items()))
    for prediction in report.get("stacked", {}).get("predictions", []):
        print("stacked forecast:", prediction)
    return 0


def _compare_families_command(args) -> int:
    """bayeslaws compare-families: one fit with --groups, then P(a better) and both families' loss
    intervals at each --at target, and P(the curves cross) over the targets' budgets when they are C."""
    import bayeslaws as bl

    sampler = _sampler(args)
    runs = bl.load_runs(args.csv, columns=args.columns, required=("loss",))
    if args.groups not in runs.frame:
        raise ValueError(f"--groups {args.groups}: the CSV has no column '{args.groups}' (columns: {list(runs.frame)})")
    labels = set(runs.frame[args.groups].astype(str))
    unknown = [name for name in (args.a, args.b) if name not in labels]
    if unknown:
        raise ValueError(f"no family {unknown} in column '{args.groups}'; its families: {sorted(labels)}")
    result = bl.fit(runs, law=args.law, groups=args.groups, hierarchical=args.hierarchical, **sampler, progress=True)
    rows = []
    for target in args.at:
        row = result.prob_better(args.a, args.b, **target).iloc[0]
        rows.append({**target, f"P({args.a} better)": float(row[f"P({args.a} better)"]),
                     **_intervals(row, (f"loss_{args.a}", f"loss_{args.b}", "difference"))})
    report = {"law": result.law.name, "groups": args.groups, "a": args.a, "b": args.b, "families": result.families,
              "decisions": rows,
              "diagnostics": {k: result.diagnostics[k] for k in ("divergences", "max_r_hat", "min_ess_bulk")}}
    budgets = sorted(t["C"] for t in args.at if set(t) == {"C"})
    if len(budgets) >= 2 and budgets[0] < budgets[-1]:
        report["crossing"] = result.crossing_compute(args.a, args.b, (budgets[0], budgets[-1]))
    if args.json:
        print(json.dumps(_finite(report), allow_nan=False))
        return 0
    print(f"{args.a} vs {args.b} ({result.law.name} by {args.groups}; families {', '.join(result.families)}):")
    for row in rows:
        print(_series_text(row))
    if "crossing" in report:
        print("crossing:", report["crossing"])
    print("diagnostics:", report["diagnostics"])
    return 0


def _suggest_command(args) -> int:
    """bayeslaws suggest: the chosen runs in order, each with its cost, the target's predicted sd after
    it and the cumulative cost (bayeslaws.results.design.suggest_runs)."""
    import bayeslaws as bl
    from bayeslaws.data.runs import read_source
    from bayeslaws.results.design import check_cost_exponent

    sampler = _sampler(args)
    if args.budget is None and args.k is None:
        raise ValueError("give --budget (total cost) or --k (number of runs), or both")
    if args.cost_exponent is not None:
        check_cost_exponent(args.cost_exponent)  # before the fit
    candidates = read_source(args.candidates).rename(columns={user: name for name, user in args.columns.items()})
    runs = bl.load_runs(args.csv, columns=args.columns, required=("loss",))
    result = bl.fit(runs, law=args.law, **sampler, progress=True)
    exponent = {} if args.cost_exponent is None else {"cost_exponent": args.cost_exponent}
    batch = bl.suggest_runs(result, candidates, target=args.target, budget=args.budget, k=args.k,
                            strategy=args.strategy, seed=args.seed, **exponent)
    report = {"law": result.law.name, "n_runs": len(runs), "target": args.target, "strategy": args.strategy, **exponent,
              "chosen": _records(batch),
              "diagnostics": {k: result.diagnostics[k] for k in ("divergences", "max_r_hat", "min_ess_bulk")}}
    if args.json:
        print(json.dumps(_finite(report), allow_nan=False, default=str))
        return 0
    print(f"{len(batch)} runs for target {args.target} ({args.strategy}); the target's sd [relative] from "
          f"{batch['target_sd_before'].iloc[0]:.4g} to {batch['target_sd_after'].iloc[-1]:.4g}:")
    print(batch.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _series_text(row: dict) -> str:
    import pandas as pd

    return pd.Series(row).to_string()


def _records(frame) -> list[dict]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in frame.to_dict("records")]


def _intervals(row, names) -> dict:
    return {name: {k: float(row[f"{name}_{k}"]) for k in ("median", "q05", "q95")} for name in names}


def _demo_command(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import bayeslaws as bl
    from bayeslaws.synthetic.bundled import load_default_zoo

    runs, info = load_default_zoo()
    print(f"bayeslaws demo: {info['description']}", file=sys.stderr)
    result = bl.fit(runs, law="chinchilla", **_sampler(args))
    print(f"\nPosterior ({len(runs)} runs; truth: {info['truth']}):")
    print(result.summary().to_string(float_format=lambda v: f"{v:.4g}"))
    target = {"N": 70e9, "D": 1.4e12}
    print("\nForecast for a Chinchilla-sized run (N = 70e9 parameters, D = 1.4e12 tokens), loss [nats]:")
    print(result.predict(**target).T.to_string(float_format=lambda v: f"{v:.4g}"))
    print("\nCompute-optimal allocation at C = 5.76e23 FLOPs:")
    print(result.compute_optimal(5.76e23).T.to_string(float_format=lambda v: f"{v:.4g}"))
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    figure = result.plot(target=target)
    path = output / "demo_fit.png"
    figure.savefig(path, dpi=120)
    print(f"\nplot written to {path.resolve()}")
    return 0


def _laws_command(args) -> int:
    # The registry's catalogue file (bayeslaws/laws/catalogue.py), read without importing the
    # laws package: its law files import JAX, which would make this answer take seconds.
    catalogue = json.loads((Path(__file__).parent / "laws" / "catalogue.json").read_text())
    for name, law in catalogue.items():
        print(f"{name:18s} {law['formula']}   (covariates: {', '.join(law['covariates'])})")
    return 0


if __name__ == "__main__":
    run()
