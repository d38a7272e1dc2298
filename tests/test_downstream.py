"""Downstream error forecasts (issue 6): links, propagation, Gadre reproduction, ObsScaling
held-out coverage, bad input and the CLI's "downstream" JSON.

Results on a 2-core CPU (seed 0) are quoted next to each assertion; where a number is asserted
at what was achieved, the docstring says so. Other seeds moved the medians by about 0.5 % and
never moved a truth out of its interval.
"""

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws.cli import main
from bayeslaws.results.fit import error_draws, paired_draws
from bayeslaws.links.chance import OBSSCALING_CHANCE_ERROR
from bayeslaws.links.likelihoods import get_error_likelihood

DATA_HOME = Path(os.environ.get("BAYESLAWS_DATA_HOME", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
# 5-6 runs: the loss law's settings of tests/test_reproductions.py (one compiled sampler for
# both files). The Gadre link's posterior (4 parameters, 6 runs) is a banana in eps, gamma and k:
# target_accept 0.99 and 1500 draws (about 4 s a fit); 500 draws left R-hat at 1.02-1.04.
SAMPLER = dict(chains=4, warmup=1000, draws=1000, seed=0, target_accept=0.99, progress=False)
LINK_SAMPLER = {**SAMPLER, "draws": 1500}
LOSS_PRIORS = {"sigma": dist.LogNormal(jnp.log(0.01), 0.5)}  # as tests/test_reproductions.py


def assert_converged(diag, max_r_hat=1.03, draws=4000):
    """Converged well enough for medians and 90 % intervals. The Gadre posteriors are bananas
    whose sampling depends on the CPU's float rounding: the joint fit at seed 0 gave bulk ESS 810
    here, 371 with XLA's optimisation off and 334 (R-hat 1.018) on CI's CPU; seeds 1-6 gave ESS
    459-916, R-hat up to 1.011, and CI's two-stage loss fit had 1 divergent draw of 4000. A chain
    that is stuck or off gives R-hat above 1.1 and ESS below 100."""
    assert diag["divergences"] <= draws // 1000, diag
    assert diag["max_r_hat"] < max_r_hat, diag
    assert diag["min_ess_bulk"] > 250, diag


# ---------------------------------------------------------------- links and likelihoods


def one_draw(**values):
    """Link parameters as one posterior draw, shaped (S=1, 1) to broadcast against M inputs."""
    return {k: np.array([[v]]) for k, v in values.items()}


def test_link_functions_match_their_published_forms():
    L = np.array([2.4, 3.0, 5.0])
    eps, k, gamma = 0.856992, 2.20649, 0.714591  # Gadre rpj 17-task (PROVENANCE.md)
    gadre = bl.get_link("gadre")
    params = one_draw(eps=eps, k=k, gamma=gamma)
    np.testing.assert_allclose(np.asarray(gadre.evaluate(params, jnp.asarray(L)))[0], eps - k * np.exp(-gamma * L), rtol=1e-5)

    C = np.array([1e20, 1e22, 1e25])
    chance, floor, B, C_mid = 0.75, 0.1, 0.6, 3e22  # ScaleRL form R = R0 + (A - R0) / (1 + (C_mid/C)^B)
    sigmoid = bl.get_link("sigmoid_C")
    p = one_draw(chance=chance, floor=floor, slope=B, C_mid=C_mid)
    accuracy = (1 - chance) + ((1 - floor) - (1 - chance)) / (1 + (C_mid / C) ** B)
    np.testing.assert_allclose(np.asarray(sigmoid.evaluate(p, jnp.asarray(sigmoid.x(C))))[0], 1 - accuracy, rtol=1e-5)

    logit = bl.get_link("logit_linear_loss")
    p = one_draw(slope=1.5, L_mid=3.0)
    err = np.asarray(logit.evaluate(p, jnp.asarray(L)))[0]
    np.testing.assert_allclose(np.log(err / (1 - err)), 1.5 * (L - 3.0), rtol=1e-4)
    assert set(bl.LINKS) == {"gadre", "sigmoid_C", "sigmoid_loss", "logit_linear_C", "logit_linear_loss"}


def test_error_likelihoods_respect_the_unit_interval():
    beta = get_error_likelihood("beta")
    observed = beta.observed(np.array([0.0, 0.3, 1.0]), 1.0)
    assert np.all((observed > 0) & (observed < 1))
    assert np.all(np.isfinite(beta.distribution(jnp.full(3, 0.5), {"phi": 50.0}, 1.0).log_prob(observed)))
    binomial = get_error_likelihood("binomial")
    counts = binomial.observed(np.array([0.25, 0.5]), 1172)
    np.testing.assert_array_equal(counts, [293, 586])
    np.testing.assert_allclose(binomial.to_error(counts, 1172), [0.25, 0.5], atol=1 / 1172)
    draws = get_error_likelihood("logit_normal").distribution(
        jnp.full(2000, 0.2), {"sigma_logit": 0.5}, 1.0).sample(jax.random.PRNGKey(0))
    assert np.all((np.asarray(draws) > 0) & (np.asarray(draws) < 1))


def test_binomial_likelihood_recovers_a_known_link():
    """30 simulated models on one 1000-item benchmark, logit(Err) = 1.2 (L - 3.0): the binomial
    posterior's 90 % intervals hold the true slope and midpoint (for 22 of 24 parameters over 12
    simulated data sets: calibrated); forecasts are whole items."""
    loss = np.linspace(2.2, 4.5, 30)
    wrong = np.random.default_rng(0).binomial(1000, 1 / (1 + np.exp(-1.2 * (loss - 3.0))))
    runs = pd.DataFrame({"loss": loss, "err_task": wrong / 1000})
    fit = bl.fit_link(runs, "logit_linear_loss", "err_task", likelihood="binomial", items=1000,
                      chains=4, warmup=500, draws=500, seed=0, progress=False)
    assert_converged(fit.diagnostics, max_r_hat=1.01)
    summary = fit.summary()
    for name, true in {"slope": 1.2, "L_mid": 3.0}.items():
        assert summary.loc[name, "q05"] < true < summary.loc[name, "q95"], summary
    forecast = fit.predict(loss=[2.5, 4.0])
    np.testing.assert_allclose(forecast["err_task_median"], 1 / (1 + np.exp(-1.2 * (np.array([2.5, 4.0]) - 3.0))), atol=0.02)
    items = 1000 * forecast[["err_task_pred_q05", "err_task_pred_q95"]].to_numpy()
    np.testing.assert_allclose(items, np.round(items), atol=1e-6)


# ---------------------------------------------------------------- bad input


def _runs(err):
    return pd.DataFrame({"N": [1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9], "D": [2e9] * 6,
                         "loss": [4.0, 3.6, 3.3, 3.1, 2.9, 2.8], "err_avg17": err})


def test_error_outside_the_unit_interval_names_the_column_and_rows():
    with pytest.raises(bl.RunTableError, match=r"column 'err_avg17' .* \[0, 1\].* rows 2, 4 .*values 75, -0.1"):
        bl.fit_link(_runs([0.8, 0.75, 75.0, 0.7, -0.1, 0.6]), "gadre", "err_avg17")


def test_missing_metric_lists_the_error_columns():
    with pytest.raises(bl.RunTableError, match=r"no error metric column 'err_mmlu'.*\['err_avg17'\]"):
        bl.fit_link(_runs([0.8, 0.75, 0.72, 0.7, 0.65, 0.6]), "gadre", "err_mmlu")
    with pytest.raises(bl.RunTableError, match="has no err_\\* columns"):
        bl.fit_link(_runs([0.8] * 6).drop(columns="err_avg17"), "gadre", "err_avg17")


def test_other_bad_link_arguments_are_clear_errors():
    runs = _runs([0.8, 0.75, 0.72, 0.7, 0.65, 0.6])
    with pytest.raises(ValueError, match="unknown link 'nope'"):
        bl.fit_link(runs, "nope", "err_avg17")
    with pytest.raises(ValueError, match=r"fixed values given for unknown parameter\(s\) \['chance'\]"):
        bl.fit_link(runs, "gadre", "err_avg17", fixed={"chance": 0.75})
    with pytest.raises(ValueError, match="binomial likelihood needs items="):
        bl.fit_link(runs, "gadre", "err_avg17", likelihood="binomial")
    with pytest.raises(bl.RunTableError, match="link 'sigmoid_C' needs column"):
        bl.fit_link(runs.drop(columns=["N", "D"]), "sigmoid_C", "err_avg17")


# ---------------------------------------------------------------- Gadre et al. 2024

GADRE_SMALL = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]
GADRE_TARGETS = ["rpj-open_lm_1b-32.0", "rpj-open_lm_7b-1.0"]  # 1.4B at M=640, 6.9B at M=20


@pytest.fixture(scope="module")
def gadre():
    """The paper's design (tests/test_reproductions.py): loss law on the 4 small rpj shapes at
    M=20 plus d=96 at M=320; link on those 5 plus open_lm_1b at M=20 (6 runs)."""
    frame = bl.datasets.load("gadre2024", data_home=DATA_HOME).frame
    rpj = frame[frame["family"] == "rpj"]
    at_20 = rpj["model_name"].isin(GADRE_SMALL) & (rpj["chinchilla_multiplier"] == 1)
    at_320 = (rpj["model_name"] == "d=96_l=8_h=4") & (rpj["chinchilla_multiplier"] == 16)
    big_20 = (rpj["model_name"] == "open_lm_1b") & (rpj["chinchilla_multiplier"] == 1)
    targets = rpj.set_index("run_id").loc[GADRE_TARGETS].reset_index()
    link_runs = rpj[at_20 | at_320 | big_20]
    return {
        "loss_runs": rpj[at_20 | at_320],
        "link_runs": link_runs,
        "targets": targets,
        "loss_fit": bl.fit(rpj[at_20 | at_320], law="overtraining", likelihood="normal", priors=LOSS_PRIORS,
                           **SAMPLER),
        "links": {metric: bl.fit_link(link_runs, "gadre", metric, **LINK_SAMPLER) for metric in ("err_avg17", "err_avg46")},
    }


@pytest.mark.slow
@pytest.mark.parametrize("metric, max_rel", [("err_avg17", [0.035, 0.015]), ("err_avg46", [0.04, 0.025])])
def test_gadre_two_stage_error_forecast(gadre, metric, max_rel):
    """Two-stage: loss posterior (5 runs) through the Gadre link posterior (6 runs).

    Medians vs truth (0.4752, 0.4716 for 17 tasks; 0.6000, 0.5981 for 46 tasks), seeds 0-4 of an
    earlier release: 17-task +2.8 to +3.0 % (1.4B, M=640) and -0.8 to -1.1 % (6.9B, M=20), where
    Gadre's point fit misses by 3.6 % and 0.05 %; 46-task +3.2 to +3.4 % and +1.8 to +2.1 %; seed 0
    with the compact Student-t normaliser and Erlang prior (2026-12-07): +3.2 % and -0.6 %, +3.6 %
    and +2.2 %. The 90 % intervals
    (about +-12 % for 17 tasks, +-6 % for 46) hold all four truths for every seed. Asserted at
    what is achieved: 3.5 % / 1.5 % (17 tasks), 4 % / 2.5 % (46 tasks).
    """
    link_fit = gadre["links"][metric]
    assert_converged(gadre["loss_fit"].diagnostics)
    assert_converged(link_fit.diagnostics)
    assert len(link_fit.runs) == 6
    targets = gadre["targets"]
    forecast = gadre["loss_fit"].with_link(link_fit).predict(N=targets["N"].to_numpy(), D=targets["D"].to_numpy())
    truth = targets[metric].to_numpy()
    rel = forecast[f"{metric}_median"].to_numpy() / truth - 1
    print(f"\n{metric} two-stage median relative errors: {np.round(100 * rel, 2)} %")
    assert np.all(np.abs(rel) < max_rel), rel
    for kind in (metric, f"{metric}_pred"):
        assert np.all((forecast[f"{kind}_q05"] <= truth) & (truth <= forecast[f"{kind}_q95"])), forecast
    assert {"loss_median", "loss_q05", "loss_q95"} <= set(forecast.columns)  # loss beside error
    eps = link_fit.summary().loc["eps"]
    published_eps = {"err_avg17": 0.8570, "err_avg46": 0.7608}[metric]
    assert eps["q05"] < published_eps < eps["q95"]


@pytest.mark.slow
def test_two_stage_pairs_each_loss_draw_with_one_link_draw(gadre):
    link_fit = gadre["links"]["err_avg17"]
    paired = paired_draws(link_fit, 4000, seed=3)  # 4000 loss draws, 6000 link draws
    source, used = (np.unique(v, return_counts=True) for v in (link_fit.draws()["eps"], paired["eps"]))
    at = np.searchsorted(source[0], used[0])
    assert np.array_equal(source[0][at], used[0]) and np.all(used[1] <= source[1][at])  # without replacement
    assert not np.array_equal(paired["eps"], link_fit.draws()["eps"][:4000])  # in random order
    targets = {"N": np.array([1.44e9]), "D": np.array([9.2e11])}
    per_draw = error_draws(gadre["loss_fit"], link_fit, targets, seed=3)
    expected = paired["eps"] - paired["k"] * np.exp(-paired["gamma"] * per_draw["loss"][:, 0])
    np.testing.assert_allclose(per_draw["err_avg17"][:, 0], expected, rtol=2e-5, atol=2e-6)
    assert per_draw["err_avg17_pred"].shape == (4000, 1)


@pytest.mark.slow
def test_saved_fit_keeps_its_link(gadre, tmp_path):
    attached = gadre["loss_fit"].with_link(gadre["links"]["err_avg17"])
    attached.save(tmp_path / "fit.nc")
    loaded = bl.load_fit(tmp_path / "fit.nc")
    assert loaded.link is not None and loaded.link.link is attached.link.link
    assert (loaded.link.metric, loaded.link.likelihood, loaded.link.settings) == (
        attached.link.metric, attached.link.likelihood, attached.link.settings)
    for name, values in attached.link.draws().items():
        np.testing.assert_array_equal(loaded.link.draws()[name], values)
    pd.testing.assert_frame_equal(loaded.link.runs.frame, attached.link.runs.frame)
    targets = {"N": np.array([1.44e9]), "D": np.array([9.2e11])}
    pd.testing.assert_frame_equal(loaded.predict(**targets), attached.predict(**targets))


@pytest.mark.slow
def test_gadre_joint_error_forecast(gadre):
    """Joint: law and link in one model; the 6 error runs see the law's loss, so the 1.4B M=20
    run's error also informs the law. Seeds 0-1: 17-task medians +3.5 % and -0.05 to -0.2 %
    (Gadre's point fit 3.6 % and 0.05 %), both truths inside the 90 % intervals."""
    targets = gadre["targets"]
    joint = bl.fit_joint(gadre["loss_runs"], gadre["link_runs"], "overtraining", "gadre", "err_avg17",
                         likelihood="normal", priors=LOSS_PRIORS, **SAMPLER)
    assert_converged(joint.diagnostics)
    assert_converged(joint.link.diagnostics)
    assert joint.link.paired_with_loss
    forecast = joint.predict(N=targets["N"].to_numpy(), D=targets["D"].to_numpy())
    truth = targets["err_avg17"].to_numpy()
    rel = forecast["err_avg17_median"].to_numpy() / truth - 1
    print(f"\nerr_avg17 joint median relative errors: {np.round(100 * rel, 2)} %")
    assert np.all(np.abs(rel) < [0.04, 0.01]), rel
    assert np.all((forecast["err_avg17_q05"] <= truth) & (truth <= forecast["err_avg17_q95"]))
    loss_truth = targets["loss"].to_numpy()
    assert np.all((forecast["loss_q05"] <= loss_truth) & (loss_truth <= forecast["loss_q95"]))


# ---------------------------------------------------------------- ObsScaling (Ruan et al. 2024)

HELD_OUT_FLOPS = 1e24


def obsscaling_split():
    """Models with known compute; btlm-3b-8k-base is left out: the source lists 627 T training
    tokens, Cerebras' model card 627 B, so its FLOPs (1.1e25) are 1000 times too large."""
    frame = bl.datasets.load("obsscaling2024", data_home=DATA_HOME).frame
    frame = frame[frame["flops"].notna() & (frame["run_id"] != "cerebras/btlm-3b-8k-base")]
    frame = frame.rename(columns={"flops": "C"})
    return frame[frame["C"] < HELD_OUT_FLOPS], frame[frame["C"] >= HELD_OUT_FLOPS]


@pytest.mark.slow
def test_obsscaling_held_out_largest_models_coverage():
    """Per benchmark, pooled over families: the sigmoid in ln C with the chance level fixed, for
    the 7 benchmarks that have one (TruthfulQA has none and its error barely moves with compute:
    the sigmoid's and the logit-linear link's midpoints are then unidentified, R-hat 1.3-1.5).
    Fit on the 112 models below 1e24 FLOPs, forecast the 10 at or above (DeepSeek-V2 ...
    Llama-3.1-405B): 67 held-out points.

    Logit-normal likelihood: the scatter across families is multiplicative in the odds, and its
    gradient is about 10x cheaper than the Beta's (no log-gamma), which keeps 7 fits near 10 s.
    Seed 0: the new-model 90 % intervals hold all 67 points (with the Beta likelihood 65, both
    misses GSM8K); the mean-curve intervals hold 47 (70 %), since family offsets are not parameter
    uncertainty. The pooled curve is biased for the newest families (GSM8K errors of Llama-3 and
    DeepSeek-Coder-V2 sit 0.2-0.3 below its median). R-hat <= 1.011, bulk ESS >= 349; XWinograd,
    whose error barely moves with compute, has up to 4 divergences in 4,000 draws (the others 0-1).
    Asserted at >= 90 %.
    """
    train, held = obsscaling_split()
    assert len(train) == 112 and len(held) == 10
    covered, total = 0, 0
    for metric, chance in OBSSCALING_CHANCE_ERROR.items():
        fit = bl.fit_link(train, "sigmoid_C", metric, likelihood="logit_normal", fixed={"chance": chance},
                          chains=4, warmup=500, draws=1000, seed=0, target_accept=0.95, progress=False)
        d = fit.diagnostics
        assert d["max_r_hat"] < 1.02 and d["min_ess_bulk"] > 300 and d["divergences"] <= 5, (metric, d)
        rows = held[held[metric].notna()]
        forecast = fit.predict(C=rows["C"].to_numpy())
        truth = rows[metric].to_numpy()
        covered += int(((forecast[f"{metric}_pred_q05"] <= truth) & (truth <= forecast[f"{metric}_pred_q95"])).sum())
        total += len(rows)
    print(f"\nObsScaling held-out coverage of 90 % intervals: {covered}/{total} = {covered / total:.3f}")
    assert total == 67
    assert covered / total >= 0.9


# ---------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def gadre_csv(tmp_path_factory):
    """All 32 small rpj runs plus the 1.4B at M=20, in user column names."""
    frame = bl.datasets.load("gadre2024", data_home=DATA_HOME).frame
    rpj = frame[frame["family"] == "rpj"]
    keep = rpj["model_name"].isin(GADRE_SMALL) | ((rpj["model_name"] == "open_lm_1b") & (rpj["chinchilla_multiplier"] == 1))
    table = rpj[keep][["N", "D", "loss", "err_avg17", "err_avg46"]].rename(
        columns={"N": "params", "D": "tokens", "loss": "c4_loss"})
    path = tmp_path_factory.mktemp("downstream") / "rpj.csv"
    table.to_csv(path, index=False)
    return path


CLI_FIT = ["--law", "overtraining", "--columns", "N=params,D=tokens,loss=c4_loss",
           "--chains", "4", "--warmup", "500", "--draws", "500"]


@pytest.mark.slow
def test_cli_json_gains_downstream_per_prediction(gadre_csv, capsys):
    code = main(["fit", str(gadre_csv), *CLI_FIT, "--link", "gadre", "--metric", "err_avg17",
                 "--predict", "N=1.44e9,D=9.21e11", "--predict", "N=6.89e9,D=1.378e11", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert set(report) == {"law", "n_runs", "parameters", "predictions", "diagnostics", "seconds"}
    assert report["n_runs"] == 33
    truths = [0.4752, 0.4716]  # 17-task error of the 1.4B M=640 and 6.9B M=20 runs
    for prediction, truth in zip(report["predictions"], truths):
        assert set(prediction) == {"N", "D", "loss", "downstream"}
        err = prediction["downstream"]["err_avg17"]
        assert set(err) == {"median", "q05", "q95"}
        assert err["q05"] <= truth <= err["q95"], err
    assert "link gadre on err_avg17" in captured.err


@pytest.mark.slow
def test_cli_bad_link_input_exits_2_before_fitting(gadre_csv, tmp_path, capsys):
    assert main(["fit", str(gadre_csv), *CLI_FIT, "--link", "gadre", "--metric", "err_mmlu", "--json"]) == 2
    err = capsys.readouterr().err
    assert "no error metric column 'err_mmlu'" in err and "['err_avg17', 'err_avg46']" in err
    assert "NUTS" not in err  # validated before any sampling
    percent = tmp_path / "percent.csv"
    frame = pd.read_csv(gadre_csv)
    frame.assign(err_avg17=100 * frame["err_avg17"]).to_csv(percent, index=False)
    assert main(["fit", str(gadre_csv), *CLI_FIT, "--link", "gadre", "--metric", "err_avg17",
                 "--link-csv", str(percent), "--json"]) == 2
    err = capsys.readouterr().err
    assert "column 'err_avg17' is an error rate (1 - accuracy) and must lie in [0, 1]" in err
    assert "Traceback" not in err
    assert main(["fit", str(gadre_csv), *CLI_FIT, "--link", "gadre"]) == 2
    assert "--link needs --metric" in capsys.readouterr().err
