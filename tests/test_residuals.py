"""Residual tables (Fit.residuals): the runs a law does not describe stand out, in percent and in
units of their own noise."""

import warnings

import numpy as np
import pytest

import bayeslaws as bl

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
    with pytest.warns(bl.HeavyTailWarning, match="12 of 60 runs lie more than 10 noise scales off the law"):
        fit = bl.fit(runs, seed=0, **SAMPLER)
    assert np.median(fit.draws()["nu"]) < 1
    assert set(np.flatnonzero(fit.residuals()["z"].abs() > 10)) == set(off)

