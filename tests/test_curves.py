"""Training curves (issue 13): curve tables and their errors, the schedule-aware laws against exact
sums and published numbers, the AR(1) curve likelihood, and fits, forecasts and the CLI on
simulated curves."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import bayeslaws as bl
from bayeslaws.cli import main
from bayeslaws.data import RunTableError
from bayeslaws.data.curves import curve_tables, lr_by_run
from bayeslaws.data.schedules import parse_schedule
from bayeslaws.laws import get_law
from bayeslaws.laws.lr_annealing import ANNEALING_MOMENTUM, annealing_area
from bayeslaws.model.curve_noise import CurveResiduals, RunOffsetResiduals, curve_arrays
from bayeslaws.synthetic.curves import LUO_25M

LUO_100M = {"L0": 2.65145, "A": 0.601152, "alpha": 0.452958, "B": 437.946, "C": 2.13246, "beta": 0.597852,
            "gamma": 0.655236}
SMALL = {  # short schedules: a fit compiles and samples in under a minute
    "cosine": "cosine:warmup=200,peak=3e-4,total=4000,final=3e-5",
    "constant": "constant:warmup=200,peak=3e-4,total=4000",
    "step": "step:warmup=200,peak=3e-4,total=4000,drop_at=2000,to=9e-5",
}
WSD = "wsd:warmup=200,peak=3e-4,total=4000,decay_start=3200,final=3e-5,shape=sqrt"
SAMPLER = {"chains": 4, "warmup": 300, "draws": 300, "progress": False}


def law_loss(law, params, points, lr):
    features = {k: jnp.asarray(v) for k, v in law.features(points.reset_index(drop=True), lr).items()}
    return np.exp(np.asarray(law.evaluate({k: jnp.asarray(v) for k, v in params.items()}, features), np.float64))


def exact_multipower(lr, steps, p):
    """The multi-power law by its defining O(t) sums (laws.md section 8), step by step."""
    out = []
    for t in steps:
        k = np.arange(1, t + 1)
        area_after = np.cumsum(lr[: t + 1][::-1])[::-1]  # S_k(t) = sum_{s=k..t} lr_s
        saturation = 1 - (p["C"] * lr[k] ** -p["gamma"] * area_after[k] + 1) ** -p["beta"]
        drop = p["B"] * np.sum((lr[k - 1] - lr[k]) * saturation)
        out.append(p["L0"] + p["A"] * lr[: t + 1].sum() ** -p["alpha"] - drop)
    return np.array(out)


# --- curve tables ---------------------------------------------------------------------------


def curve_frame():
    return bl.simulate_curves(SMALL, log_every=256, seed=0).frame


def test_curve_tables_keep_the_input_and_give_the_lr_of_every_step():
    frame = curve_frame()
    before = frame.copy()
    tables = curve_tables(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert len(tables["runs"]) == len(frame)
    lr = lr_by_run(tables["lr"])
    assert set(lr) == set(SMALL) and all(len(v) == 4001 for v in lr.values())
    np.testing.assert_allclose(lr["step"][[100, 1999, 2000]], [1.5e-4, 3e-4, 9e-5])


def test_drop_early_leaves_out_the_start_of_each_run():
    tables = curve_tables(curve_frame(), drop_early=0.5)
    first = tables["runs"].frame.groupby("run_id")["step"].min()
    assert (first >= 2000).all() and (first < 2300).all()


@pytest.mark.parametrize("change, message", [
    (lambda f: f.iloc[[1, 0, *range(2, len(f))]], "run 'cosine': steps are not in increasing order"),
    (lambda f: f.assign(step=f["step"].where(f.index != 1, f["step"].iloc[0])), "step 256 appears more than once"),
    (lambda f: f.assign(schedule=f["schedule"].str.replace("final=3e-5", "final=zero")), "run 'cosine'"),
    (lambda f: f.assign(lr=1e-3), "the logged lr 0.001 at step 256 does not match"),
    (lambda f: f.drop(columns="schedule"), "needs an 'lr' column"),
])
def test_bad_curve_tables_name_the_run_and_the_step(change, message):
    with pytest.raises((RunTableError, ValueError), match=message):
        curve_tables(change(curve_frame()))


def test_an_lr_column_must_cover_every_step():
    steps = np.arange(0, 11)
    frame = pd.DataFrame({"run_id": "a", "step": np.delete(steps, 4), "lr": 1e-3, "loss": 3.0})
    with pytest.raises(RunTableError, match=r"run 'a': the lr column needs a row at every step from 0 to 10; steps \[4\]"):
        curve_tables(frame)


def test_a_curve_law_refuses_a_table_without_schedules():
    runs = bl.simulate(seed=0).runs
    with pytest.raises(RunTableError, match="run_id"):
        bl.fit(runs, law="multipower", progress=False)


# --- the laws --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [SMALL["cosine"], SMALL["step"], WSD,
                                  "cosine:warmup=2160,peak=3e-4,total=72000,final=3e-5"])
def test_multipower_cells_match_the_exact_sums(text):
    schedule = parse_schedule(text)
    lr = {"r": schedule.lr(np.arange(schedule.total + 1))}
    steps = np.unique(np.linspace(schedule.warmup + 1, schedule.total, 25).astype(int))
    fast = law_loss(get_law("multipower"), LUO_25M, pd.DataFrame({"run_id": "r", "step": steps}), lr)
    exact = exact_multipower(lr["r"], steps, LUO_25M)
    assert np.max(np.abs(fast - exact) / exact) < 2e-4


@pytest.mark.parametrize("size, params, published", [("25M", LUO_25M, 0.00110), ("100M", LUO_100M, 0.00142)])
def test_published_constants_reproduce_the_published_test_error(data_home, size, params, published):
    """Upstream's PredE: each test curve's mean relative error, averaged over the 6 curves."""
    frame = bl.datasets.load("multipower_luo2025", data_home=data_home).frame
    test = frame[(frame["family"] == size) & (frame["split"] == "test") & frame["upstream_eval"]]
    tables = curve_tables(test[["run_id", "step", "loss", "schedule"]])
    points = tables["runs"].frame
    predicted = law_loss(get_law("multipower"), params, points, lr_by_run(tables["lr"]))
    relative = np.abs(predicted - points["loss"]) / points["loss"]
    assert relative.groupby(points["run_id"]).mean().mean() == pytest.approx(published, abs=2e-5)


def test_annealing_area_follows_its_recursion():
    lr = parse_schedule("step:warmup=100,peak=3e-4,total=3000,drop_at=1000,to=1e-4").lr(np.arange(3001))
    area = annealing_area(lr)
    assert np.all(area[:1000] == 0)  # warmup and the constant stretch anneal nothing
    n = np.arange(0, 2000)
    expected = 2e-4 * (1 - ANNEALING_MOMENTUM ** (n + 1)) / (1 - ANNEALING_MOMENTUM)
    np.testing.assert_allclose(area[1000 + n], expected, rtol=1e-9)


def test_lr_annealing_lowers_the_loss_after_a_decay():
    lr = {run: parse_schedule(text).lr(np.arange(4001)) for run, text in SMALL.items()}
    points = pd.DataFrame({"run_id": list(SMALL), "step": 4000})
    loss = law_loss(get_law("lr_annealing"), {"L0": 3.0, "A": 0.5, "alpha": 0.5, "C": 0.4}, points, lr)
    without_annealing = 3.0 + 0.5 * np.array([lr[run].sum() for run in SMALL]) ** -0.5
    assert loss[1] == pytest.approx(without_annealing[1], rel=1e-5)  # constant: nothing anneals
    assert loss[0] < without_annealing[0] - 0.05 and loss[2] < without_annealing[2] - 0.05


# --- the curve likelihood --------------------------------------------------------------------


def residuals(steps_by_run, sigma=0.01, length=0.2):
    points = pd.DataFrame([(r, s) for r, steps in steps_by_run.items() for s in steps], columns=["run_id", "step"])
    arrays = curve_arrays(points, len(points))
    return points, CurveResiduals(jnp.zeros(len(points)), jnp.asarray(sigma), jnp.asarray(length),
                                  arrays["gap"], arrays["first"])


def test_ar1_density_is_the_ornstein_uhlenbeck_gaussian():
    points, distribution = residuals({"a": [100, 300, 350, 1000], "b": [200, 600, 1000]})
    scale = points.groupby("run_id")["step"].max().median()
    steps, runs = points["step"].to_numpy(float), points["run_id"].to_numpy()
    same_run = runs[:, None] == runs[None, :]
    covariance = 0.01**2 * np.exp(-np.abs(steps[:, None] - steps[None, :]) / (0.2 * scale)) * same_run
    value = np.random.default_rng(0).normal(0, 0.01, len(points))
    ours = float(distribution.log_prob(jnp.asarray(value, jnp.float32)).sum())
    assert ours == pytest.approx(multivariate_normal(np.zeros(len(points)), covariance).logpdf(value), rel=1e-4)


def test_denser_checkpoints_stop_adding_information():
    """Variance of the best estimate of a constant offset from one run's points over the same span:
    independent points would shrink it 10x per 10x more points; AR(1) points barely do."""
    def variance(n):
        _, distribution = residuals({"a": np.linspace(1000, 20000, n).round()})
        precision = -jax.hessian(lambda v: distribution.log_prob(v).sum())(jnp.zeros(n))
        return 1.0 / float(jnp.sum(precision))
    assert variance(1000) / variance(100) > 0.8
    assert variance(100) / variance(10) > 0.3


def test_run_offset_density_is_the_gaussian_with_a_shared_offset_per_run():
    points = pd.DataFrame({"run_id": list("aaaabbb"), "step": [1, 2, 3, 4, 1, 2, 3]})
    arrays = curve_arrays(points, len(points) + 2)  # two padding rows, each its own run
    sigma, run_sd = 0.003, 0.002
    runs = points["run_id"].to_numpy()
    covariance = sigma**2 * np.eye(len(points)) + run_sd**2 * (runs[:, None] == runs[None, :])
    value = np.random.default_rng(1).multivariate_normal(np.zeros(len(points)), covariance)
    padded = jnp.asarray(np.concatenate([value, [0.5, -0.7]]), jnp.float32)
    density = RunOffsetResiduals(jnp.zeros(len(padded)), jnp.asarray(sigma), jnp.asarray(run_sd), arrays["first"])
    ours = float(density.log_prob(padded)[: len(points)].sum())  # padding rows' terms stay on their own rows
    assert ours == pytest.approx(multivariate_normal(np.zeros(len(points)), covariance).logpdf(value), rel=1e-4)
    draws = np.asarray(density.sample(jax.random.PRNGKey(0), (4000,)))[:, : len(points)]
    assert np.corrcoef(draws[:, 0], draws[:, 3])[0, 1] == pytest.approx(run_sd**2 / (sigma**2 + run_sd**2), abs=0.05)
    assert abs(np.corrcoef(draws[:, 0], draws[:, 4])[0, 1]) < 0.05  # runs are independent


@pytest.mark.slow
def test_run_offset_fit_forecasts_a_new_run_wider_than_a_fitted_one():
    """A new schedule's forecast carries the law's error for a schedule (run_sd); a fitted run's
    continuation knows its own offset from its points."""
    curves = bl.simulate_curves(SMALL, log_every=64, seed=3)
    fit = bl.fit(curves.frame, law="multipower", likelihood="run_offset", seed=1, **{**SAMPLER, "chains": 2})
    assert fit.diagnostics["divergences"] <= 5 and fit.diagnostics["max_r_hat"] < 1.05
    step = int(curves.frame.loc[curves.frame["run_id"] == "cosine", "step"].iloc[-1])
    own = fit.predict_curve("cosine", steps=[step])
    new = fit.predict_curve(schedule=SMALL["cosine"], steps=[step])
    width = lambda f: float(f["loss_pred_q95"].iloc[0] - f["loss_pred_q05"].iloc[0])  # noqa: E731
    assert width(own) < width(new)
    logged = float(curves.frame.loc[curves.frame["run_id"] == "cosine", "loss"].iloc[-1])
    assert own["loss_pred_q05"].iloc[0] <= logged <= own["loss_pred_q95"].iloc[0]


# --- fits and forecasts on simulated curves ---------------------------------------------------


@pytest.fixture(scope="module")
def simulated():
    curves = bl.simulate_curves(SMALL, log_every=64, seed=1)
    # progress on, as the CLI test's fit: both use one compiled program (a long fit's reports progress)
    return curves, bl.fit(curves.frame, law="multipower", seed=2, **{**SAMPLER, "progress": True})


@pytest.mark.slow
def test_multipower_fit_recovers_the_truth(simulated):
    curves, fit = simulated
    summary = fit.summary(ci_prob=0.95)
    for name in ("L0", "A", "alpha", "B"):
        assert summary.loc[name, "q2.5"] <= curves.truth[name] <= summary.loc[name, "q97.5"], name
    assert fit.diagnostics["divergences"] <= 5 and fit.diagnostics["max_r_hat"] < 1.05


@pytest.mark.slow
def test_new_schedule_forecast_covers_the_true_curve(simulated):
    curves, fit = simulated
    steps = np.array([1000, 2000, 3000, 3600, 4000])
    # Five points of one curve must all lie in the band: with a calibrated 90 % band that fails
    # for at least one seed in ten (it did, by 3e-5 of the loss at step 1000, when the chains'
    # draws changed); calibration itself is measured by benchmarks/curve_calibration.py.
    forecast = fit.predict_curve(schedule=WSD, steps=steps, ci_prob=0.98)
    truth = law_loss(fit.law, curves.truth, pd.DataFrame({"run_id": "w", "step": steps}),
                     {"w": parse_schedule(WSD).lr(np.arange(4001))})
    assert np.all((forecast["loss_q01"] <= truth) & (truth <= forecast["loss_q99"]))
    assert np.all(forecast["loss_pred_q01"] <= forecast["loss_q01"])  # a run's log adds noise to the law
    assert forecast["loss_median"].iloc[-1] < forecast["loss_median"].iloc[-2]  # the cooldown lowers the loss


@pytest.mark.slow
def test_compare_schedules_prefers_a_cooldown(simulated):
    _, fit = simulated
    table = fit.compare_schedules({"wsd": WSD, "constant": SMALL["constant"]}).set_index("schedule")
    assert table.loc["wsd", "P(lower than constant)"] > 0.95
    assert table.loc["constant", "P(lower than wsd)"] == pytest.approx(1 - table.loc["wsd", "P(lower than constant)"])


@pytest.mark.slow
def test_finishing_a_run_uses_its_own_residual(simulated):
    curves, fit = simulated
    last = curves.frame[curves.frame["run_id"] == "cosine"].iloc[-1]
    own = fit.predict_curve("cosine", steps=[int(last["step"])])
    new = fit.predict_curve(schedule=SMALL["cosine"], steps=[int(last["step"])])
    width = lambda f: float(f["loss_pred_q95"].iloc[0] - f["loss_pred_q05"].iloc[0])  # noqa: E731
    assert width(own) < 0.5 * width(new)  # its logged last point pins the forecast there
    tolerance = 1e-6 * last["loss"]  # at its own logged step the band collapses onto the logged loss (float32)
    assert own["loss_pred_q05"].iloc[0] - tolerance <= last["loss"] <= own["loss_pred_q95"].iloc[0] + tolerance


@pytest.mark.slow
def test_curve_fit_round_trips_through_a_file(simulated, tmp_path):
    _, fit = simulated
    fit.save(tmp_path / "curves.nc")
    loaded = bl.load_fit(tmp_path / "curves.nc")
    pd.testing.assert_frame_equal(loaded.predict_curve(schedule=WSD, steps=[4000]), fit.predict_curve(schedule=WSD, steps=[4000]))


@pytest.mark.slow
def test_cli_fits_curves_and_forecasts_targets(simulated, tmp_path, capsys):
    curves, _ = simulated
    curves.frame.to_csv(tmp_path / "curves.csv", index=False)
    pd.DataFrame({"run_id": ["wsd", "wsd", "cosine"], "step": [3000, 4000, 4000],
                  "schedule": [WSD, WSD, None]}).to_csv(tmp_path / "targets.csv", index=False)
    code = main(["fit", str(tmp_path / "curves.csv"), "--law", "multipower", "--forecast", str(tmp_path / "targets.csv"),
                 "--json", "--chains", "4", "--warmup", "300", "--draws", "300", "--seed", "2"])
    assert code == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert "points of 3 runs" in captured.err and "about" in captured.err and "s left" in captured.err  # progress
    assert report["n_runs"] == 3 and set(report["parameters"]) >= {"L0", "A", "alpha", "B", "C", "beta", "gamma"}
    assert [(f["run_id"], f["step"]) for f in report["forecasts"]] == [("wsd", 3000), ("wsd", 4000), ("cosine", 4000)]
    for forecast in report["forecasts"]:
        assert forecast["loss"]["q05"] < forecast["loss"]["median"] < forecast["loss"]["q95"]
    assert report["forecasts"][1]["loss"]["median"] < report["forecasts"][0]["loss"]["median"]


def test_cli_refuses_a_malformed_schedule_before_sampling(tmp_path, capsys):
    curve_frame().to_csv(tmp_path / "curves.csv", index=False)
    pd.DataFrame({"run_id": ["new"], "step": [100], "schedule": ["cosine:peak=3e-4,total=4000"]}).to_csv(
        tmp_path / "targets.csv", index=False)
    code = main(["fit", str(tmp_path / "curves.csv"), "--law", "multipower", "--forecast", str(tmp_path / "targets.csv")])
    assert code == 2
    error = capsys.readouterr().err
    assert "run 'new'" in error and "final" in error and "Traceback" not in error


def test_checkpoint_tables_default_to_the_curve_likelihood_and_must_be_in_order():
    from bayeslaws.results.fitting import _default_likelihood

    zoo = bl.simulate(seed=0).runs
    assert _default_likelihood(bl.load_runs(zoo, required=())) == "student_t"
    checkpoints = zoo.assign(run_id=np.arange(len(zoo)) // 10, step=100 * (1 + np.arange(len(zoo)) % 10))
    assert _default_likelihood(bl.load_runs(checkpoints, required=())) == "ar1"
    shuffled = checkpoints.sample(frac=1.0, random_state=0)
    with pytest.raises(ValueError, match=r"the rows of run \d+ are not together|does not come after"):
        bl.fit(shuffled, law="chinchilla", progress=False)


def test_progress_lines_count_iterations_and_time_left():
    import io

    from bayeslaws.inference import progress

    stream = io.StringIO()
    with progress.reporting(warmup=100, draws=100, programs=2, stream=stream):
        for i in range(20, 201, 20):  # two chains' programs, each reporting every 20 of its 200 iterations
            progress.report(i)
            progress.report(i)
    progress.report(40)  # no run under way: nothing
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10  # one per tenth of the work of both chains
    assert "10 % (40 / 400 iterations of 2 chains)" in lines[0] and "60 % (240 / 400" in lines[5]
    assert lines[-1].endswith("about 0 s left")
    alone = io.StringIO()
    with progress.reporting(warmup=100, draws=100, stream=alone):
        progress.report(20)
    assert "10 % (20 / 200 iterations)," in alone.getvalue()
    assert progress.every(2000) == 200 and progress.every(7) == 1


def test_only_long_fits_report_progress():
    from bayeslaws.inference import progress

    small = {"x": np.zeros(256), "y": np.zeros(256)}
    curves = {"cells": np.zeros((512, 64))}
    assert not progress.is_long(small, 2000, 4)
    assert progress.is_long(curves, 600, 4)


def test_curve_features_are_padded_to_a_small_block_and_centred_on_real_cells():
    from bayeslaws.model.arrays import FEATURE_BLOCK, feature_centres, pad_features

    lr = {r: parse_schedule(t).lr(np.arange(4001)) for r, t in SMALL.items()}
    points = pd.DataFrame({"run_id": np.repeat(list(SMALL), 3), "step": np.tile([500, 2500, 4000], 3)})
    features = get_law("multipower").features(points, lr)
    cells = features["decay"].shape[1]
    padded = pad_features(features, 16)
    # the cell axis grows to the next multiple of FEATURE_BLOCK only: padded cells cost a full gradient each
    assert padded["decay"].shape == (16, cells + (-cells % FEATURE_BLOCK))
    assert (padded["decay"][:, cells:] == 0).all() and (padded["decay"][9:] == padded["decay"][0]).all()
    log_lr = features["log_lr"]
    assert np.isclose(feature_centres(features, ["log_lr"])["log_lr"], log_lr[log_lr != 0].mean())
    assert get_law("multipower").centring == {"A": ("log_area", "alpha")}


def test_large_tables_keep_the_laplace_mass_matrix_by_default():
    from bayeslaws.results.fitting import LARGE_TABLE, _sampler_start

    assert _sampler_start(None, 500) == ("prior", True)
    assert _sampler_start(None, LARGE_TABLE + 1) == ("laplace", False)
    assert _sampler_start("laplace", LARGE_TABLE + 1) == ("laplace", True)
    assert _sampler_start("laplace_fixed", 10) == ("laplace", False)
    with pytest.raises(ValueError, match=r"init must be one of \['prior', 'laplace', 'laplace_fixed'\]; got 'map'"):
        _sampler_start("map", 10)


@pytest.mark.slow
def test_curve_plot_has_log_axes_units_and_bands(simulated):
    curves, fit = simulated
    figure = fit.plot_curves(schedules={"wsd": WSD}, observed=curves.frame.assign(run_id="wsd"))
    ax = figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "optimiser step" and ax.get_ylabel() == "loss [nats]"
    assert len(ax.collections) == 1  # the forecast's band
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "wsd (forecast)"
    assert fit.plot() is not None
