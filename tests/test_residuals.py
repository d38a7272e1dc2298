"""Residual tables (Fit.residuals): the runs a law does not describe stand out, in percent and in
units of their own noise."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws.results.regimes import shared_regime

SAMPLER = {"chains": 4, "warmup": 300, "draws": 300, "progress": False}
PLANTED, SHIFT = [5, 40], 1.12  # runs logged 12 % above the law


@pytest.mark.slow  # fits
def test_runs_off_the_law_stand_out_and_the_others_do_not():
    runs = bl.simulate(seed=3, n_budgets=6, runs_per_budget=10).runs  # 60 runs, noise 1 %
    runs.loc[PLANTED, "loss"] *= SHIFT
    given = runs.copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = bl.fit(runs, seed=0, **SAMPLER)
    assert not [w for w in caught if w.category is bl.HeavyTailWarning]  # two outliers of 60: nu stays above 1
    table = fit.residuals()
    assert runs.equals(given)  # the user's table is not touched
    assert len(table) == len(runs) and table[list(runs.columns)].equals(runs)
    np.testing.assert_allclose(table["fitted"] * np.exp(table["residual"]), runs["loss"], rtol=1e-12)
    np.testing.assert_allclose(table["z"] * table["noise_scale"], table["residual"], rtol=1e-12)
    assert np.allclose(table["noise_scale"], np.median(fit.draws()["sigma"]))  # one sigma for every run
    planted = table.loc[PLANTED]
    others = table.drop(index=PLANTED)
    assert (planted["z"] > 2.5 * others["z"].abs().max()).all(), (planted["z"], others["z"].abs().max())
    assert (planted["pit"] > 0.95).all() and not planted["covered"].any(), planted
    assert np.allclose(planted["residual"], np.log(SHIFT), atol=0.04), planted["residual"]
    assert others["z"].abs().median() < 1.5 and others["covered"].mean() >= 0.8

    ax = fit.plot_residuals("tokens_per_parameter").axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "tokens per parameter D / N"
    assert ax.get_ylabel() == "residual, log observed - log fitted [%]"
    outside = int((~table["covered"]).sum())
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == f"outside ({outside} of 60)"
    assert sum(len(c.get_offsets()) for c in ax.collections[-2:]) == 60  # every run drawn once
    with pytest.raises(ValueError, match="got 'lr'.*'N', 'D', 'C', 'loss'"):
        fit.plot_residuals("lr")


@pytest.mark.slow  # fits
def test_a_fit_whose_tails_are_set_by_runs_off_the_law_warns_and_counts_them():
    runs = bl.simulate(seed=3, n_budgets=6, runs_per_budget=10).runs
    off = np.arange(0, 60, 5)  # every fifth run 10-30 % above the law: a regime it does not describe
    runs.loc[off, "loss"] *= np.linspace(1.1, 1.3, len(off))
    with pytest.warns(bl.HeavyTailWarning, match="12 of 60 runs lie more than 10 noise scales off the law") as caught:
        fit = bl.fit(runs, seed=0, **SAMPLER)
    assert np.median(fit.draws()["nu"]) < 1
    assert set(np.flatnonzero(fit.residuals()["z"].abs() > 10)) == set(off)
    message = str(next(w.message for w in caught if w.category is bl.HeavyTailWarning))
    assert "They share a regime" not in message and "fit.residuals() shows which runs" in message  # no column parts them


@pytest.mark.slow  # fits
def test_the_warning_names_the_regime_the_runs_off_the_law_share():
    runs = bl.simulate(seed=3, n_budgets=6, runs_per_budget=10).runs
    few_tokens = runs["D"] < runs["N"]  # the 12 runs trained on fewer tokens than parameters: a regime
    runs.loc[few_tokens, "loss"] *= np.random.default_rng(0).permutation(np.linspace(1.1, 1.3, int(few_tokens.sum())))
    with pytest.warns(bl.HeavyTailWarning, match=r"They share a regime: (\d+) of the \1 runs far off the law have "
                                                 r"tokens_per_parameter < [\d.]+, against 0 of the") as caught:
        bl.fit(runs, seed=0, **SAMPLER)
    message = str(next(w.message for w in caught if w.category is bl.HeavyTailWarning))
    assert "terms=[bl.NoiseScale('tokens_per_parameter')] (add the column first: runs.assign(" in message


def frame_with_epochs(seed=0, n=120):
    rng = np.random.default_rng(seed)
    N = rng.choice([1e8, 3e8, 1e9, 3e9], n)
    D = N * rng.choice([0.5, 5.0, 20.0, 80.0], n)
    return pd.DataFrame({"N": N, "D": D, "loss": 2 + rng.random(n),
                         "epochs": rng.choice([1.0, 4.0, 16.0, 64.0], n)})


def test_a_column_that_parts_the_far_off_runs_is_found_with_its_counts():
    runs = frame_with_epochs()
    far = (runs["epochs"] > 20).to_numpy().copy()
    far[np.flatnonzero(far)[0]] = False  # one many-epoch run on the law
    regime = shared_regime(runs, far)
    assert (regime.column, regime.side, regime.derived) == ("epochs", ">", False)
    assert 16 < regime.threshold < 64
    assert (regime.far_inside, regime.far) == (far.sum(), far.sum())
    assert (regime.others_inside, regime.others) == (1, len(runs) - far.sum())
    assert str(regime).startswith(f"{far.sum()} of the {far.sum()} runs far off the law have epochs > 32")


def test_tokens_per_parameter_is_searched_where_the_runs_have_n_and_d():
    runs = frame_with_epochs(seed=1)
    far = (runs["D"] < runs["N"]).to_numpy()
    regime = shared_regime(runs, far)
    assert (regime.column, regime.side, regime.derived) == ("tokens_per_parameter", "<", True)
    assert 0.5 < regime.threshold < 5 and regime.others_inside == 0
    assert "tokens_per_parameter" not in runs  # the user's frame gains no column


def test_no_regime_without_enough_far_off_runs_or_a_column_that_parts_them():
    runs = frame_with_epochs(seed=2)
    assert shared_regime(runs, np.arange(len(runs)) < 2) is None  # two far-off runs: too few to describe
    scattered = np.zeros(len(runs), dtype=bool)
    scattered[::6] = True  # every sixth run: nothing they share
    assert shared_regime(runs, scattered) is None
    high_loss = (runs["loss"] > 2.8).to_numpy()  # only the response and residuals' own columns part them
    assert shared_regime(runs.assign(fitted=runs["loss"], pit=runs["loss"] / 3), high_loss) is None

