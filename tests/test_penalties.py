"""Hyperparameter-penalised laws (issue 5): specs and presets, basins, recovery on simulated
sweeps, the value of the penalty, forecasts (optimal settings, regret), storage, CLI and the
critical batch size."""

import json
from dataclasses import replace

import jax
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayeslaws as bl
from bayeslaws import critical_batch as cb
from bayeslaws.data import RunTableError
from bayeslaws.terms.penalty import Penalty, basin_value, check_runs, get_penalty, log_optima
from benchmarks.penalty_value_study import best_run_per_cell, forecast_errors, scale_up_target
from bayeslaws.synthetic import true_loss
from bayeslaws.synthetic.sweeps import simulate_steps_to_target, simulate_sweep, true_log_penalty

SAMPLER = {"chains": 4, "warmup": 500, "draws": 400, "progress": False}
SWEEP = {"n_lr": 6, "n_batch": 4}  # 10 (N, D) cells x 24 settings = 240 runs
SEEDS = range(3)
EXPONENTS = ("alpha", "beta", "cN", "cD", "bD", "bN")


def _prior_medians(penalty: Penalty) -> dict:
    """Median of each location prior: exp(loc) for LogNormal, loc for Normal."""
    out = {}
    for name, make in penalty.priors.items():
        prior = make()
        out[name] = float(np.exp(prior.loc)) if type(prior).__name__ == "LogNormal" else float(prior.loc)
    return out


def _optima(penalty: Penalty, params: dict, N: float, D: float) -> dict:
    return {k: float(np.exp(v)) for k, v in log_optima(penalty, params, {"N": np.log(N), "D": np.log(D)}).items()}


@pytest.mark.parametrize("N, D, lr, batch", [(1e9, 1e11, 1.632e-3, 1.108e6), (4e8, 4e10, 2.368e-3, 6.565e5)])
def test_steplaw_preset_reproduces_published_vectors(N, D, lr, batch):
    penalty = Penalty(preset="steplaw")
    optima = _optima(penalty, _prior_medians(penalty), N, D)
    assert optima["lr"] == pytest.approx(lr, rel=2e-3)
    assert optima["batch_size"] == pytest.approx(batch, rel=2e-3)


@pytest.mark.parametrize("C, lr, batch", [(1e17, 2.338e-3, 1.062e5), (1e20, 9.86e-4, 1.017e6), (1e24, 3.118e-4, 2.069e7)])
def test_deepseek_preset_reproduces_published_vectors_with_c_as_6nd(C, lr, batch):
    penalty = Penalty(preset="deepseek")
    N = np.sqrt(C / 6.0 / 20.0)  # any split of C = 6 N D gives the same compute-based optimum
    optima = _optima(penalty, _prior_medians(penalty), N, C / (6.0 * N))
    assert optima["lr"] == pytest.approx(lr, rel=2e-3)
    assert optima["batch_size"] == pytest.approx(batch, rel=2e-3)


def test_presets_check_units_at_load():
    runs = simulate_sweep(**SWEEP, seed=0).runs
    check_runs(Penalty(preset="steplaw"), bl.load_runs(runs))
    in_sequences = runs.assign(batch_size=runs["batch_size"] / 2048)
    with pytest.raises(RunTableError, match="look like sequences"):
        check_runs(Penalty(preset="steplaw"), bl.load_runs(in_sequences))
    with pytest.raises(RunTableError, match="look like sequences"):  # the default priors also state B* in tokens
        check_runs(Penalty(), bl.load_runs(in_sequences))
    with pytest.raises(RunTableError, match="lr has values >= 1"):
        check_runs(Penalty(), bl.load_runs(runs.assign(lr=runs["lr"] * 1e3)))


def test_penalty_specs_parse_validate_and_round_trip():
    assert get_penalty("lr,batch_size") == Penalty()
    assert get_penalty("lr") == Penalty(hyperparameters=("lr",))
    assert get_penalty("steplaw") == Penalty(preset="steplaw")
    linex = Penalty(basin="linex", form="additive", interaction=True)
    assert get_penalty(json.loads(json.dumps(linex.to_dict()))) == linex
    assert set(linex.priors) == {"lr_ref", "cN", "cD", "w_lr", "k_lr", "batch_ref", "bD", "bN", "w_bs", "cB"}
    assert linex.derived_names == ("c0", "b0")
    for bad in ({"basin": "cubic"}, {"form": "both"}, {"hyperparameters": ("momentum",)},
                {"hyperparameters": ("lr",), "interaction": True}, {"preset": "chinchilla"}):
        with pytest.raises(ValueError):
            Penalty(**bad)


def test_linex_basin_is_asymmetric_tends_to_quadratic_and_is_smooth_at_the_optimum():
    d = np.linspace(-2, 2, 9)
    quadratic = np.asarray(basin_value("quadratic", d, 0.01))
    assert np.asarray(basin_value("linex", d, 0.01, 1e-4)) == pytest.approx(quadratic, rel=1e-3, abs=1e-9)
    linex = np.asarray(basin_value("linex", d, 0.01, 1.0))
    assert linex[-1] > 2 * linex[0] > 0 and linex[4] == 0.0  # too high an lr costs more; minimum at d = 0
    curvature = jax.grad(jax.grad(lambda x: basin_value("linex", x, 0.01, 1.0)))
    slope = jax.grad(lambda x: basin_value("linex", x, 0.01, 1.0))
    assert float(slope(0.0)) == 0.0 and float(curvature(0.0)) == pytest.approx(0.02, rel=1e-4)
    assert np.isfinite(float(jax.grad(lambda k: basin_value("linex", 0.5, 0.01, k))(0.0)))


def test_simulated_sweep_looks_like_published_sweeps():
    zoo = simulate_sweep(seed=0)
    runs = zoo.runs
    assert len(runs) == 2000 and runs.groupby(["N", "D"]).size().eq(200).all()
    assert runs["N"].min() == pytest.approx(2e8) and runs["N"].max() == pytest.approx(1e9)
    assert runs["D"].min() == pytest.approx(4e9) and runs["D"].max() == pytest.approx(1e11)
    assert 0.01 <= runs["diverged"].mean() <= 0.05 and runs.loc[runs["diverged"], "loss"].min() >= 6.0
    assert runs.loc[runs["diverged"], "lr"].min() > np.median(runs["lr"])  # divergence at the highest lrs
    near = pd.DataFrame({"N": 1e9, "D": 1e11, "lr": zoo.truth["lr_ref"] * np.exp([-0.2, 0.2, 2.0]), "batch_size": zoo.truth["batch_ref"]})
    _, sharp = true_log_penalty(Penalty(basin="quadratic"), zoo.truth, near)
    _, flat = true_log_penalty(Penalty(basin="quadratic"), zoo.truth, near, plateau=0.3)
    assert (flat[:2] < 0.1 * sharp[:2]).all() and flat[2] > 0.5 * sharp[2]  # flat bottom, same walls far out


@pytest.fixture(scope="module")
def recovery_fits():
    """Penalised fits, matching basin, to three symmetric and three asymmetric 240-run sweeps.
    800 draws: with 400, the max R-hat of well-mixed chains over these 15 parameters reads
    1.003-1.013 from one sampler seed to the next (checked on five seeds), so the test's 1.01
    would test the seed, not the sampler."""
    fits = {}
    for basin in ("quadratic", "linex"):
        for seed in SEEDS:
            zoo = simulate_sweep(basin=basin, seed=seed, **SWEEP)
            fits[basin, seed] = (zoo, bl.fit(zoo.runs, penalty=Penalty(basin=basin), seed=seed,  # diverged runs marked
                                             **{**SAMPLER, "draws": 800}))
    return fits


def _hits(zoo, fit) -> list[bool]:
    summary = fit.summary(ci_prob=0.9)
    names = EXPONENTS + (("k_lr",) if fit.penalty.basin == "linex" else ())
    hits = [summary.loc[n, "q05"] <= zoo.truth[n] <= summary.loc[n, "q95"] for n in names]
    optimum = fit.optimal_hyperparameters(N=1e9, D=1e11).iloc[0]  # the largest cell
    hits.append(optimum["lr_q05"] <= zoo.truth["lr_ref"] <= optimum["lr_q95"])
    hits.append(optimum["batch_size_q05"] <= zoo.truth["batch_ref"] <= optimum["batch_size_q95"])
    return hits


@pytest.mark.slow
@pytest.mark.parametrize("basin", ["quadratic", "linex"])
def test_recovery_hit_rate_and_clean_sampling(recovery_fits, basin):
    hits = []
    for seed in SEEDS:
        zoo, result = recovery_fits[basin, seed]
        hits += _hits(zoo, result)
        d = result.diagnostics
        assert d["divergences"] == 0 and d["max_r_hat"] <= 1.01, (basin, seed, d)
    rate = np.mean(hits)
    print(f"{basin} basin: 90% interval hit rate {rate:.2f} ({sum(hits)}/{len(hits)}) over {len(SEEDS)} sweeps")
    assert rate >= 0.7  # a sampler or model that is off scores far lower (intervals are a few % wide)


@pytest.mark.slow
def test_value_of_the_penalty(recovery_fits):
    """On the same sweeps: penalised law vs plain law on all runs vs plain law on the best run
    per (N, D), scored by the loss forecast at 10x the largest cell's compute."""
    errors = []
    for seed in SEEDS:
        zoo, penalised = recovery_fits["linex", seed]
        runs = zoo.runs.drop(columns="diverged")
        plain = {"plain, all runs": bl.fit(runs, seed=seed, **SAMPLER),
                 "plain, best run per cell": bl.fit(best_run_per_cell(runs), seed=seed, **SAMPLER)}
        table = forecast_errors(zoo, {**plain, "penalised": penalised}, scale_up_target(runs))
        errors.append(table["relative_error"])
    mean = pd.concat(errors, axis=1).mean(axis=1)
    print("mean relative error of the loss forecast at 10x compute:", mean.to_dict())
    assert mean["penalised"] < mean["plain, best run per cell"] < mean["plain, all runs"]


@pytest.mark.slow
def test_regret_is_zero_at_the_optimum_and_grows_away_from_it(recovery_fits):
    zoo, result = recovery_fits["linex", 0]
    best = result.optimal_hyperparameters(N=1e9, D=1e11).iloc[0]
    lr_star, batch_star = best["lr_median"], best["batch_size_median"]
    regret = result.regret(N=1e9, D=1e11, lr=lr_star * np.array([1.0, 1 / 4, 4.0]), batch_size=batch_star)
    assert (regret["regret_q05"] >= 0).all()
    assert regret["regret_median"].iloc[0] < 1e-4  # nats: posterior draws scatter around the median optimum
    assert regret["regret_median"].iloc[2] > regret["regret_median"].iloc[1] > 10 * regret["regret_median"].iloc[0]
    # the truth at these settings: the true law times (exp(true penalty) - 1), relative to the true optimum
    settings = pd.DataFrame({"N": 1e9, "D": 1e11, "lr": lr_star * 4.0, "batch_size": batch_star}, index=[0])
    _, true_penalty = true_log_penalty(Penalty(basin="linex"), zoo.truth, settings)
    law_loss = true_loss(bl.get_law("chinchilla"), {k: zoo.truth[k] for k in ("A", "B", "E", "alpha", "beta")}, settings)
    true_cost = float(law_loss[0] * np.expm1(true_penalty[0]))
    assert regret["regret_median"].iloc[2] == pytest.approx(true_cost, rel=0.1)


@pytest.mark.slow
def test_predict_assumes_optimal_settings_unless_told(recovery_fits):
    result = recovery_fits["quadratic", 0][1]
    optimal = result.predict(N=3e9, D=3e11).iloc[0]
    best = result.optimal_hyperparameters(N=3e9, D=3e11).iloc[0]
    at_best = result.predict(N=3e9, D=3e11, lr=best["lr_median"], batch_size=best["batch_size_median"]).iloc[0]
    off = result.predict(N=3e9, D=3e11, lr=best["lr_median"] * 8).iloc[0]
    assert at_best["loss_median"] == pytest.approx(optimal["loss_median"], rel=1e-4)
    assert off["loss_median"] > optimal["loss_median"] * 1.02
    draws = result.optimal_hyperparameters(N=[1e9, 3e9], D=3e11, draws=True)
    assert list(draws.columns) == ["draw", "N", "D", "lr", "batch_size"] and len(draws) == 2 * 4 * result.settings["draws"]
    plain = replace(result, spec=replace(result.spec, terms=()))  # the same posterior without its penalty term
    with pytest.raises(ValueError, match="needs a fit with a hyperparameter penalty"):
        plain.regret(N=1e9, D=1e10, lr=1e-3)
    with pytest.raises(ValueError, match="no penalty on"):
        plain.predict(N=1e9, D=1e10, lr=1e-3)


@pytest.mark.slow
def test_save_load_round_trip_keeps_the_penalty(recovery_fits, tmp_path):
    zoo, result = recovery_fits["linex", 1]
    diverged = zoo.runs[zoo.runs["diverged"]]
    assert len(diverged) > 0 and len(result.tables["runs"]) == len(zoo.runs) - len(diverged)  # left out of the fit
    assert (result.tables["diverged"].frame["run_id"].to_numpy() == diverged["run_id"].to_numpy()).all()  # kept with it
    result.save(tmp_path / "fit.nc")
    loaded = bl.load_fit(tmp_path / "fit.nc")
    assert loaded.penalty == result.penalty and loaded.settings == result.settings
    for name in ("runs", "diverged"):
        pd.testing.assert_frame_equal(loaded.tables[name].frame, result.tables[name].frame)
    for group in ("posterior", "sample_stats", "log_likelihood", "constant_data"):
        xr.testing.assert_identical(loaded.tree[group].to_dataset(), result.tree[group].to_dataset())
    pd.testing.assert_frame_equal(loaded.summary(), result.summary())
    pd.testing.assert_frame_equal(loaded.optimal_hyperparameters(N=2e9, D=2e11), result.optimal_hyperparameters(N=2e9, D=2e11))
    pd.testing.assert_frame_equal(loaded.regret(N=2e9, D=2e11, lr=1e-2), result.regret(N=2e9, D=2e11, lr=1e-2))


@pytest.mark.slow
def test_cli_penalty_json_contract(tmp_path, capsys):
    from bayeslaws.cli import main

    runs = simulate_sweep(seed=5, n_lr=5, n_batch=3).runs.drop(columns="C")
    path = tmp_path / "sweep.csv"
    runs.rename(columns={"lr": "peak_lr", "batch_size": "batch_tokens"}).to_csv(path, index=False)
    code = main(["fit", str(path), "--columns", "lr=peak_lr,batch_size=batch_tokens", "--penalty", "lr,batch_size",
                 "--predict", "N=1e9,D=1e11", "--predict", "N=3e9,D=3e11", "--json",
                 "--chains", "4", "--warmup", "500", "--draws", "400", "--seed", "1"])  # SAMPLER's program
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"lr_ref", "cN", "cD", "w_lr", "batch_ref", "bD", "bN", "w_bs", "c0", "b0"} <= set(report["parameters"])
    assert report["n_diverged"] == runs["diverged"].sum() > 0 and report["n_runs"] == len(runs) - report["n_diverged"]
    assert [(o["N"], o["D"]) for o in report["optimal"]] == [(1e9, 1e11), (3e9, 3e11)]
    for optimum in report["optimal"]:
        assert set(optimum) == {"N", "D", "lr", "batch_size"}
        for name in ("lr", "batch_size"):
            assert set(optimum[name]) == {"median", "q05", "q95"}
            assert optimum[name]["q05"] < optimum[name]["median"] < optimum[name]["q95"]
    first = report["optimal"][0]
    assert first["lr"]["q05"] < 1.632e-3 * 1.1 and first["lr"]["q95"] > 1.632e-3 / 1.1  # truth: Step Law's optimum
    assert report["optimal"][1]["lr"]["median"] < first["lr"]["median"]  # lr* falls with N (cN = -0.713)


def test_critical_batch_formulas_match_the_reference_checks():
    ratio = np.array([0.25, 1.0, 4.0])
    assert cb.steps_over_minimum(ratio) == pytest.approx([5.0, 2.0, 1.25])
    assert cb.data_over_minimum(ratio) == pytest.approx([1.25, 2.0, 5.0])
    assert (cb.steps_over_minimum(ratio) - 1) * (cb.data_over_minimum(ratio) - 1) == pytest.approx(1.0)
    assert cb.kaplan_critical_batch([2.0, 2.5, 3.0]) == pytest.approx([7.371e6, 2.547e6, 1.069e6], rel=1e-3)
    assert cb.batch_for_extra_data(0.2, 1e6) == pytest.approx(2e5)
    assert cb.data_over_minimum(0.2) == pytest.approx(1.2) and cb.steps_over_minimum(0.2) == pytest.approx(6.0)
    with pytest.raises(ValueError):
        cb.batch_for_extra_data(0.0, 1e6)


@pytest.mark.slow
def test_critical_batch_law_recovers_kaplan_from_steps_to_target_runs():
    hits = []
    for seed in range(4):
        zoo = simulate_steps_to_target(seed=seed)
        result = bl.fit(zoo.runs, law=cb.CRITICAL_BATCH, chains=4, warmup=500, draws=1000, seed=seed, progress=False)
        assert result.response == "step" and result.diagnostics["max_r_hat"] <= 1.01
        summary = result.summary()
        hits += [summary.loc[n, "q05"] <= zoo.truth[n] <= summary.loc[n, "q95"] for n in ("alpha_B", "alpha_S", "B_star", "S_c")]
        forecast = cb.critical_batch_forecast(result.draws(), loss=3.0, extra_data=0.2).iloc[0]
        hits.append(forecast["B_crit_q05"] <= cb.kaplan_critical_batch(3.0) <= forecast["B_crit_q95"])
        assert forecast["batch_median"] == pytest.approx(0.2 * forecast["B_crit_median"], rel=0.02)
        assert forecast["steps_over_minimum"] == pytest.approx(6.0)
    print(f"critical batch law: 90% interval hit rate {np.mean(hits):.2f} ({sum(hits)}/{len(hits)})")
    assert np.mean(hits) >= 0.7
