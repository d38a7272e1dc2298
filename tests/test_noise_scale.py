"""The noise-scale term (bayeslaws.terms.noise_scale): a likelihood sigma that grows with a column,
learnt from runs whose noise does, forecast at new targets, saved and loaded, and refused where it
cannot work."""

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws.data import RunTableError
from bayeslaws.model import ModelSpec, get_likelihood
from bayeslaws.synthetic.zoo import true_loss

SAMPLER = {"chains": 4, "warmup": 300, "draws": 300, "progress": False}
SIGMA, SLOPE = 0.01, 0.8  # the truth: sigma 1 % at the runs' mean log epochs, e^0.8 more per sd of log epochs


def heteroscedastic_zoo(seed: int = 3) -> tuple[pd.DataFrame, float]:
    """A chinchilla zoo whose runs were repeated for 1-300 epochs, with a log-loss noise sd of
    SIGMA exp(SLOPE z) (z: standardised log epochs); returns the runs and the sd of log epochs."""
    zoo = bl.simulate(seed=seed, n_budgets=6, runs_per_budget=10, noise=0.0)  # 60 runs: other tests' bucket
    rng = np.random.default_rng(seed)
    runs = zoo.runs.assign(epochs=np.exp(rng.uniform(0.0, np.log(300.0), len(zoo.runs))))
    log_epochs = np.log(runs["epochs"])
    z = (log_epochs - log_epochs.mean()) / log_epochs.std(ddof=0)
    runs["loss"] = true_loss(bl.get_law("chinchilla"), zoo.truth, runs) * np.exp(
        SIGMA * np.exp(SLOPE * z) * rng.standard_normal(len(runs)))
    return runs, float(log_epochs.std(ddof=0))


@pytest.fixture(scope="module")
def fitted():
    runs, _ = heteroscedastic_zoo()
    return runs, bl.fit(runs, terms=[bl.NoiseScale("epochs")], seed=0, **SAMPLER)


@pytest.mark.slow  # fits
def test_the_slope_of_the_noise_is_learnt(fitted):
    runs, fit = fitted
    d = fit.diagnostics
    assert d["divergences"] <= 3 and d["max_r_hat"] < 1.02, d
    summary = fit.summary()
    assert summary.loc["noise_slope", "q05"] <= SLOPE <= summary.loc["noise_slope", "q95"]
    assert summary.loc["noise_slope", "q05"] > 0.3  # clearly not the constant sigma
    assert summary.loc["sigma", "q05"] <= SIGMA <= summary.loc["sigma", "q95"]
    assert list(fit.tree.constant_data["epochs"].values) == list(runs["epochs"])


@pytest.mark.slow  # fits
def test_forecast_bands_follow_the_column_and_the_mean_does_not(fitted):
    _, fit = fitted
    p = fit.predict(N=1e9, D=2e10, epochs=[1.0, 20.0, 300.0])
    width = ((p["loss_pred_q95"] - p["loss_pred_q05"]) / p["loss_pred_median"]).to_numpy()
    assert width[0] < width[1] < width[2] and width[2] > 3 * width[0], width
    assert np.ptp(p["loss_median"]) < 1e-12  # epochs move the noise only, not the law
    with pytest.raises(ValueError, match="need a 'epochs' column"):
        fit.predict(N=1e9, D=2e10)
    plain = bl.fit(fitted[0], seed=0, **SAMPLER)  # one sigma for every run: the same band everywhere
    q = plain.predict(N=1e9, D=2e10)
    plain_width = float((q["loss_pred_q95"] - q["loss_pred_q05"]).iloc[0] / q["loss_pred_median"].iloc[0])
    assert width[0] < plain_width < width[2]


@pytest.mark.slow  # fits
def test_the_in_model_scale_is_the_forecast_scale(fitted):
    """At the fitted runs' own epochs, the forecast factor is exp(slope z) with z standardised over them."""
    runs, fit = fitted
    term = fit.spec.term("noise_scale")
    draws = {"noise_slope": np.array([0.5, -1.0])}
    factor = term.forecast_noise(draws, runs, fit.tables)
    z = term.arrays(fit.tables, len(runs) + 5)["z"]
    assert np.all(z[len(runs):] == 0)
    np.testing.assert_allclose(factor, np.exp(np.outer([0.5, -1.0], z[: len(runs)])), rtol=1e-6)


@pytest.mark.slow  # fits
def test_save_load_round_trips_and_predicts_the_same(fitted, tmp_path):
    _, fit = fitted
    fit.save(tmp_path / "fit.nc")
    loaded = bl.load_fit(tmp_path / "fit.nc")
    assert loaded.spec.terms == fit.spec.terms
    targets = {"N": [1e8, 1e10], "D": [2e9, 2e11], "epochs": [2.0, 50.0]}
    pd.testing.assert_frame_equal(loaded.predict(**targets), fit.predict(**targets))


def test_bad_input_names_the_column_and_rows():
    runs, _ = heteroscedastic_zoo()
    given = runs.copy()
    broken = runs.assign(epochs=runs["epochs"].where(runs.index != 4, -1.0))
    with pytest.raises(RunTableError, match=r"column 'epochs' must be positive.*rows \[4\]"):
        bl.fit(broken, terms=[bl.NoiseScale("epochs")], **SAMPLER)
    with pytest.raises(RunTableError, match="need a 'epochs' column"):
        bl.fit(runs.drop(columns="epochs"), terms=[bl.NoiseScale("epochs")], **SAMPLER)
    with pytest.raises(RunTableError, match="at every run"):
        bl.fit(runs.assign(epochs=4.0), terms=[bl.NoiseScale("epochs")], **SAMPLER)
    with pytest.raises(ValueError, match="ar1 likelihood has none to scale"):
        ModelSpec(bl.get_law("chinchilla"), get_likelihood("ar1"), [bl.NoiseScale("epochs")])
    with pytest.raises(ValueError, match="slope_sd must be positive"):
        bl.NoiseScale("epochs", slope_sd=0)
    pd.testing.assert_frame_equal(runs, given)  # nothing mutated


def test_backtest_command_passes_the_noise_term(tmp_path, monkeypatch, capsys):
    """--noise-by COLUMN adds NoiseScale(COLUMN) to every fit, and --predict targets may then give it."""
    from bayeslaws.cli import main

    runs, _ = heteroscedastic_zoo()
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    seen = []

    def stop(runs, laws, **options):
        seen.append(options.get("terms"))
        raise ValueError("stopped before fitting")

    monkeypatch.setattr(bl, "backtest", stop)
    assert main(["backtest", str(path), "--noise-by", "epochs", "--predict", "N=1e9,D=2e10,epochs=3"]) == 2
    assert seen == [(bl.NoiseScale("epochs"),)]
    capsys.readouterr()
    assert main(["backtest", str(path), "--predict", "N=1e9,D=2e10,epochs=3"]) == 2  # no noise term: epochs unknown
    assert "unknown target(s) ['epochs']" in capsys.readouterr().err and len(seen) == 1


@pytest.mark.slow  # fits
def test_residuals_are_in_units_of_each_runs_own_noise(fitted):
    runs, fit = fitted  # sigma grows e^0.8-fold per sd of log epochs
    table = fit.residuals()  # z: the residual over sigma times the term's factor at the run
    many = runs["epochs"] > runs["epochs"].median()
    spread = lambda column, rows: float(table.loc[rows, column].std())  # noqa: E731
    assert spread("residual", many) > 1.8 * spread("residual", ~many)  # in percent the many-epoch runs scatter
    assert 0.5 < spread("z", many) / spread("z", ~many) < 2.0  # in their own noise's units they do not
    assert 0.6 < table["z"].std() < 1.6
