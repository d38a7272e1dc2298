"""Residual tables (Fit.residuals): the runs a law does not describe stand out, in percent and in
units of their own noise."""

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
    table = bl.fit(runs, seed=0, **SAMPLER).residuals()
    assert runs.equals(given)  # the user's table is not touched
    assert len(table) == len(runs) and table[list(runs.columns)].equals(runs)
    np.testing.assert_allclose(table["fitted"] * np.exp(table["residual"]), runs["loss"], rtol=1e-12)
    planted = table.loc[PLANTED]
    others = table.drop(index=PLANTED)
    assert (planted["z"] > 2.5 * others["z"].abs().max()).all(), (planted["z"], others["z"].abs().max())
    assert (planted["pit"] > 0.95).all() and not planted["covered"].any(), planted
    assert np.allclose(planted["residual"], np.log(SHIFT), atol=0.04), planted["residual"]
    assert others["z"].abs().median() < 1.5 and others["covered"].mean() >= 0.8
