"""Backtests, comparison, stacking and the extrapolation warnings (bayeslaws.results.backtest,
comparison, stacking, checks) and their CLI commands."""

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayeslaws as bl
from bayeslaws.cli import main
from bayeslaws.results import forecast
from bayeslaws.results.backtest import digest_warnings, holdout_split, score_runs
from bayeslaws.results.comparison import format_comparison
from bayeslaws.results.checks import warn_if_extrapolation_misses

SMALL = {"chains": 2, "warmup": 300, "draws": 300}
LAWS = ["chinchilla", "kaplan"]


@pytest.fixture(scope="module")
def zoo():
    """A chinchilla zoo: 6 budgets x 10 sizes over 1e18-1e21 FLOPs (60 runs: every fit, the
    backtests' and the whole zoo's, pads to the same 64-row program)."""
    return bl.simulate(n_budgets=6, runs_per_budget=10, compute_range=(1e18, 1e21), seed=4)


@pytest.fixture(scope="module")
def backtested(zoo):
    """The backtest of LAWS on the zoo, and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return bl.backtest(zoo.runs, LAWS, holdout=[0.25, 0.5], progress=False, **SMALL), caught


@pytest.fixture(scope="module")
def result(backtested):
    return backtested[0]


def test_the_split_fits_warnings_come_once_per_law_and_kind(backtested):
    convergence = [str(w.message) for w in backtested[1] if w.category is bl.ConvergenceWarning]
    assert convergence  # 2 chains x 300 draws: some split fit of the zoo is short of bulk ESS
    kinds = [(m.split("'")[1], m.split(": ", 1)[1].split()[:3]) for m in convergence]
    assert len(kinds) == len({(law, tuple(words)) for law, words in kinds})
    assert all(re.match(r"backtest of '(chinchilla|kaplan)', [12] of 2 split fits \(held out: (25%|50%|25%, 50%)\): ", m)
               for m in convergence), convergence


def test_digest_names_the_splits_and_keeps_the_first_message():
    def caught(message, category=bl.ConvergenceWarning):
        return warnings.WarningMessage(message, category, "fitting.py", 1)

    raised = [("kaplan", 0.1, caught("max R-hat 1.200 > 1.01: chains disagree (worst: E 1.20)")),
              ("kaplan", 0.5, caught("max R-hat 1.050 > 1.01: chains disagree (worst: A 1.05)")),
              ("kaplan", 0.5, caught("3 divergent transitions: the posterior has regions ...")),
              ("chinchilla", 0.25, caught("max R-hat 1.100 > 1.01: chains disagree (worst: B 1.10)")),
              ("chinchilla", 0.25, caught("Student-t nu 0.60 < 1: ...", bl.HeavyTailWarning))]
    with pytest.warns(Warning) as out:
        digest_warnings(raised, splits=3)
    assert [(w.category, str(w.message)) for w in out] == [
        (bl.ConvergenceWarning, "backtest of 'kaplan', 2 of 3 split fits (held out: 10%, 50%): max R-hat 1.200 > 1.01: "
                                "chains disagree (worst: E 1.20)"),
        (bl.ConvergenceWarning, "backtest of 'kaplan', 1 of 3 split fits (held out: 50%): 3 divergent transitions: the "
                                "posterior has regions ..."),
        (bl.ConvergenceWarning, "backtest of 'chinchilla', 1 of 3 split fits (held out: 25%): max R-hat 1.100 > 1.01: "
                                "chains disagree (worst: B 1.10)"),
        (bl.HeavyTailWarning, "backtest of 'chinchilla', 1 of 3 split fits (held out: 25%): Student-t nu 0.60 < 1: ..."),
    ]


def test_a_split_too_small_for_one_law_is_left_out_for_every_law():
    """12 runs in 4 budgets: the 50 % split keeps 6 training runs, enough for kaplan (6 parameters)
    but not chinchilla (7). The split is dropped for both, with a warning, so that both laws are
    scored and stacked on the same held-out runs; with no split left, a TooFewRunsError."""
    runs = bl.simulate(n_budgets=4, runs_per_budget=3, compute_range=(1e18, 1e21), seed=4).runs
    with pytest.warns(UserWarning, match=r"the 50% holdout split is left out for every law .*'chinchilla' has 7 parameters"):
        result = bl.backtest(runs, ["kaplan", "chinchilla"], holdout=[0.25, 0.5], progress=False, warn=False, **SMALL)
    assert set(result.scores["holdout"]) == set(result.points["holdout"]) == {0.25}
    assert set(result.scores["law"]) == {"kaplan", "chinchilla"}
    assert sum(bl.stacking_weights(result).values()) == pytest.approx(1.0)
    with pytest.raises(bl.TooFewRunsError, match="no holdout split leaves enough training runs"):
        bl.backtest(runs, ["chinchilla"], holdout=[0.5], progress=False, **SMALL)


def test_holdout_split_holds_out_the_largest_compute(zoo):
    train, heldout = holdout_split(bl.load_runs(zoo.runs), 0.25)
    assert len(train) + len(heldout) == len(zoo.runs)
    assert train.frame["C"].max() < heldout.frame["C"].min()
    assert sorted(np.r_[train.frame["row"], heldout.frame["row"]]) == list(range(len(zoo.runs)))
    assert len(heldout) == 20  # 25 % falls inside the 5th budget: ties stay together
    np.testing.assert_array_equal(heldout.frame["loss"], zoo.runs["loss"].to_numpy()[heldout.frame["row"]])


def test_holdout_split_refuses_a_fraction_that_holds_out_nothing(zoo):
    one_budget = zoo.runs[zoo.runs["C"] == zoo.runs["C"].min()]
    with pytest.raises(ValueError, match="no run lies below"):
        holdout_split(bl.load_runs(one_budget), 0.25)
    with pytest.raises(ValueError, match="must lie in"):
        bl.backtest(zoo.runs, LAWS, holdout=[1.5])


def test_an_interval_reaching_infinity_holds_the_observation():
    """A Student-t predictive with nu near 1 overflows exp() in more than 5 % of draws; the 95 %
    quantile then interpolated inf - inf = NaN and scored the run as a miss (seen in a backtest)."""
    from bayeslaws.results.backtest import interval_scores

    draws = np.r_[np.linspace(2.0, 3.0, 90), np.full(10, np.inf)][:, None]  # 10 % of draws infinite
    table = bl.load_runs(pd.DataFrame({"N": [1e9], "D": [2e10], "loss": [2.5]}), required=())
    scored = interval_scores(table, np.array([2.5]), draws, np.array([0.0]))
    assert np.isfinite(scored["q95"]).all() and scored["q95"].iloc[0] > 1e300
    assert scored["covered_90"].all()


@pytest.mark.slow
def test_backtest_scores_every_law_and_split(result, zoo):
    scores = result.scores
    assert list(scores["law"]) == ["chinchilla", "chinchilla", "kaplan", "kaplan"]
    assert list(scores["n_heldout"]) == [20, 30, 20, 30]
    assert ((scores[["coverage_50", "coverage_90"]] >= 0) & (scores[["coverage_50", "coverage_90"]] <= 1)).all().all()
    assert (scores["coverage_50"] <= scores["coverage_90"]).all()
    assert len(result.points) == 2 * (20 + 30)
    points = result.points
    inside = (points["q05"] <= points["observed"]) & (points["observed"] <= points["q95"])
    assert (inside == points["covered_90"]).all()
    assert points["pit"].between(0, 1).all() and points["pit"].nunique() > 10
    far_out = (points["pit"] < 0.04) | (points["pit"] > 0.96)  # beyond the 90 % interval's draws
    assert not (far_out & points["covered_90"]).any()
    # the zoo is drawn from chinchilla: its held-out forecasts beat kaplan's
    pooled = result.pooled().set_index("law")
    assert pooled.loc["chinchilla", "lpd"] > pooled.loc["kaplan", "lpd"]
    assert pooled.loc["chinchilla", "median_rel_error"] < pooled.loc["kaplan", "median_rel_error"]
    assert pooled.loc["chinchilla", "coverage_90"] >= 0.75


@pytest.mark.slow
def test_score_runs_lpd_is_the_log_mean_density(result):
    fit = result.fit_all("chinchilla")
    table = result.runs.frame.iloc[[0, 40]]
    scored = score_runs(fit, table)
    draws = fit.draws()
    targets = pd.DataFrame({"N": table["N"], "D": table["D"]})
    log_loss = forecast.law_log_loss_draws(fit.law, draws, targets)
    density = stats.t.pdf(np.log(table["loss"].to_numpy()), df=draws["nu"][:, None], loc=log_loss,
                          scale=draws["sigma"][:, None])
    np.testing.assert_allclose(scored["lpd"], np.log(density.mean(axis=0)), rtol=1e-4)


def test_stacking_weights_maximise_the_held_out_density():
    rows = []
    for row in range(40):
        a, b = (0.0, -5.0) if row < 30 else (-5.0, 0.0)  # law a explains 3/4 of the runs
        rows += [{"law": "a", "holdout": 0.25, "row": row, "lpd": a}, {"law": "b", "holdout": 0.25, "row": row, "lpd": b}]
    fake = bl.Backtest(None, ["a", "b"], pd.DataFrame(), pd.DataFrame(rows))
    weights = bl.stacking_weights(fake)
    assert weights["a"] == pytest.approx(0.75, abs=0.02) and sum(weights.values()) == pytest.approx(1)
    dominated = pd.DataFrame([{**r, "lpd": r["lpd"] if r["law"] == "a" else -20.0} for r in rows if r["law"] == "a"]
                             + [{"law": "b", "holdout": 0.25, "row": r, "lpd": -20.0} for r in range(40)])
    assert bl.stacking_weights(bl.Backtest(None, ["a", "b"], pd.DataFrame(), dominated))["a"] > 0.999


def test_bootstrapped_stacking_keeps_weight_on_a_law_that_wins_some_held_out_runs():
    """Five held-out runs, law b better on one: the plain optimum drops b entirely; averaged over
    Bayesian-bootstrap resamples of the runs, b keeps some weight (the choice is not settled)."""
    rows = []
    for row, (a, b) in enumerate([(0.0, -1.0)] * 4 + [(-0.5, 0.0)]):
        rows += [{"law": "a", "holdout": 0.25, "row": row, "lpd": a}, {"law": "b", "holdout": 0.25, "row": row, "lpd": b}]
    few = bl.Backtest(None, ["a", "b"], pd.DataFrame(), pd.DataFrame(rows))
    assert bl.stacking_weights(few, bootstrap=0)["b"] < 1e-4
    assert 0.01 < bl.stacking_weights(few)["b"] < 0.2
    assert bl.stacking_weights(few, seed=1) != bl.stacking_weights(few) and bl.stacking_weights(few) == bl.stacking_weights(few)


@pytest.mark.slow
def test_compare_puts_loo_beside_the_held_out_scores(result):
    table = bl.compare(result)
    assert list(table["law"]) == ["chinchilla", "kaplan"]  # by held-out lpd
    assert {"elpd_loo", "elpd_loo_se", "p_loo", "pareto_k_bad_share", "heldout_lpd", "heldout_lpd_se",
            "heldout_coverage_90", "stacking_weight"} <= set(table.columns)
    assert np.isfinite(table["elpd_loo"]).all() and (table["elpd_loo_se"] > 0).all()
    assert table["stacking_weight"].sum() == pytest.approx(1)
    text = format_comparison(table)
    assert f"{table['elpd_loo'].iloc[0]:.4g}" in text  # real numbers, not ArviZ's 1-figure rounding


@pytest.fixture(scope="module")
def stack(result):
    return bl.stack(result, weights={"chinchilla": 0.5, "kaplan": 0.5})


@pytest.mark.slow
def test_stack_mixes_the_laws_by_weight(result, stack):
    target = {"N": 3e10, "D": 6e11}
    per_draw = stack.predict(draws=True, **target)
    assert per_draw["law"].value_counts(normalize=True)["chinchilla"] == pytest.approx(0.5, abs=0.05)
    summary = stack.predict(**target)
    medians = [fit.predict(**target)["loss_median"].iloc[0] for fit in stack.fits.values()]
    assert min(medians) < summary["loss_median"].iloc[0] < max(medians)
    width = summary["loss_pred_q95"].iloc[0] - summary["loss_pred_q05"].iloc[0]
    single = stack.fits["chinchilla"].predict(**target)
    assert width > single["loss_pred_q95"].iloc[0] - single["loss_pred_q05"].iloc[0]
    optimum = stack.compute_optimal([1e22, 1e23])
    assert (optimum["N_opt_median"].diff().dropna() > 0).all()
    assert stack.plot(target=target) is not None and result.plot() is not None


@pytest.mark.slow
def test_design_with_a_stack_picks_runs_that_tell_the_laws_apart(stack):
    """With two laws, the target's uncertainty includes which law is right; the first run chosen
    lies where the laws' forecasts differ (the chinchilla fit alone picks where its own
    parameters are least known, which need not be there)."""
    pool = bl.isoflop_candidates([1e18, 1e19, 1e20, 1e21, 1e22], 12)
    medians = [np.log(fit.predict(N=pool["N"].to_numpy(), D=pool["D"].to_numpy())["loss_median"].to_numpy())
               for fit in stack.fits.values()]
    disagreement = pd.Series(np.abs(medians[0] - medians[1]), index=pd.MultiIndex.from_frame(pool[["N", "D"]]))
    mixed = bl.suggest_runs(stack, pool, target={"C": 1e23}, k=2)
    alone = bl.suggest_runs(stack.fits["chinchilla"], pool, target={"C": 1e23}, k=2)
    picked = disagreement[tuple(mixed[["N", "D"]].iloc[0])]
    assert picked > np.quantile(disagreement, 0.75)
    assert mixed["target_sd_before"].iloc[0] > 2 * alone["target_sd_before"].iloc[0]  # the laws' spread
    assert mixed["target_sd_after"].iloc[0] < 0.7 * mixed["target_sd_before"].iloc[0]


@pytest.mark.slow
def test_stack_refuses_weights_for_unknown_laws(result):
    with pytest.raises(ValueError, match="does not have"):
        bl.stack(result, weights={"farseer_typo": 1.0})


def test_backtest_command_passes_the_discrepancy_prior(zoo, tmp_path, monkeypatch, capsys):
    """--discrepancy alone is the default term, --discrepancy 0.02 sets its amplitude prior's median,
    --discrepancy-lengthscale its lengthscale prior's; a non-positive value, or a lengthscale without
    the term, exits 2 before any fit."""
    path = tmp_path / "runs.csv"
    zoo.runs.to_csv(path, index=False)
    seen = []

    def stop(runs, laws, **options):
        seen.append(options.get("discrepancy"))
        raise ValueError("stopped before fitting")

    monkeypatch.setattr(bl, "backtest", stop)
    assert main(["backtest", str(path), "--discrepancy", "0.02"]) == 2
    assert main(["backtest", str(path), "--discrepancy"]) == 2
    assert main(["backtest", str(path)]) == 2
    assert seen == [bl.Discrepancy(amplitude=0.02), bl.Discrepancy(), None] and seen[0] != seen[1]
    capsys.readouterr()
    assert main(["backtest", str(path), "--discrepancy", "-1"]) == 2
    assert "discrepancy amplitude must be positive; got -1.0" in capsys.readouterr().err
    assert len(seen) == 3
    assert main(["backtest", str(path), "--discrepancy", "0.02", "--discrepancy-lengthscale", "0.5"]) == 2
    assert main(["backtest", str(path), "--discrepancy", "--discrepancy-lengthscale", "0.5"]) == 2
    assert seen[3:] == [bl.Discrepancy(amplitude=0.02, lengthscale=0.5), bl.Discrepancy(lengthscale=0.5)]
    capsys.readouterr()
    assert main(["backtest", str(path), "--discrepancy-lengthscale", "0.5"]) == 2
    assert "give --discrepancy too" in capsys.readouterr().err
    assert main(["backtest", str(path), "--discrepancy", "--discrepancy-lengthscale", "0"]) == 2
    assert "discrepancy lengthscale must be positive; got 0.0" in capsys.readouterr().err
    assert len(seen) == 5


def test_a_law_that_misses_warns_with_advice():
    record = {"law": "chinchilla", "coverage_90": 0.3, "median_rel_error": 0.03, "lpd": 10.0, "lpd_se": 1.0,
              "best_law": "kaplan", "best_lpd": 30.0, "best_lpd_se": 1.0}
    with pytest.warns(bl.ExtrapolationWarning) as caught:
        warn_if_extrapolation_misses(record)
    messages = [str(w.message) for w in caught]
    assert any("held 30%" in m and "bl.stack" in m for m in messages)
    assert any("'kaplan' forecasts the held-out largest runs better" in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bl.ExtrapolationWarning)
        warn_if_extrapolation_misses({**record, "coverage_90": 0.9, "best_lpd": 11.0})


@pytest.mark.slow
def test_a_fit_from_a_backtest_warns_in_its_summary(result):
    fit = result.fit_all("kaplan")
    assert fit.settings["backtest"]["law"] == "kaplan"
    fit.settings["backtest"] = {**fit.settings["backtest"], "coverage_90": 0.1}
    with pytest.warns(bl.ExtrapolationWarning, match="held 10%"):
        fit.summary()


@pytest.mark.slow
def test_backtest_and_compare_commands(zoo, tmp_path, capsys):
    path = tmp_path / "runs.csv"
    zoo.runs.to_csv(path, index=False)
    sampler = ["--chains", "2", "--warmup", "300", "--draws", "300"]
    code = main(["compare", str(path), "--laws", "chinchilla,kaplan", "--holdout", "0.25,0.5",
                 "--predict", "N=3e10,D=6e11", "--json", *sampler])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(report) == {"laws", "n_runs", "holdout", "scores", "pooled", "stacking_weights", "comparison", "stacked"}
    assert len(report["scores"]) == 4 and report["n_runs"] == len(zoo.runs)
    assert sum(report["stacking_weights"].values()) == pytest.approx(1)
    forecast = report["stacked"]["predictions"][0]
    assert forecast["loss_pred"]["q05"] < forecast["loss"]["median"] < forecast["loss_pred"]["q95"]
    assert main(["backtest", str(path), "--holdout", "2"]) == 2
    assert "holdout fractions must lie in (0, 1)" in capsys.readouterr().err
