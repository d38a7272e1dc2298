"""fit_many (one compiled program for many zoos, executors) and simulation-based calibration."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # many fits / whole notebooks: the full suite runs them

import bayeslaws as bl
from bayeslaws.inference.sbc import sbc

ZOOS = [bl.simulate(seed=s).runs for s in range(4)]
ZOOS[3] = ZOOS[3].assign(diverged=ZOOS[3].index < 3, loss=lambda f: f.loss.where(f.index >= 3, 9.0))  # left out


@pytest.fixture(scope="module")
def many():
    return bl.fit_many({f"zoo{s}": runs for s, runs in enumerate(ZOOS)}, seed=10)


def test_fit_many_converges_and_recovers(many):
    table = many.diagnostics
    assert list(table.columns) == ["divergences", "max_r_hat", "min_ess_bulk", "refit"]
    assert len(table) == 4
    assert (table["divergences"] == 0).all()
    assert (table["max_r_hat"] <= 1.01).all() and (table["min_ess_bulk"] >= 400).all()
    summary = many.summary()
    truth = bl.simulate(seed=0).truth
    inside = [row.q05 <= truth[row.parameter] <= row.q95 for row in summary.itertuples() if row.parameter in truth]
    assert np.mean(inside) >= 0.7
    assert many.draws["alpha"].shape == (4, 4, 500)
    assert list(table.index) == many.names == ["zoo0", "zoo1", "zoo2", "zoo3"]
    assert [len(t) for t in many.tables] == [len(z) - (z["diverged"].sum() if "diverged" in z else 0) for z in ZOOS] != [len(z) for z in ZOOS]
    assert list(summary["fit"].unique()) == many.names


def test_fit_many_is_indexed_by_name_and_predicts(many):
    np.testing.assert_array_equal(many["zoo2"]["alpha"], many.flat_draws(2)["alpha"])
    with pytest.raises(KeyError, match="no fit named 'zoo9'"):
        many["zoo9"]
    text = repr(many)
    assert text.startswith("ManyFits(law 'chinchilla'") and "zoo0, zoo1, zoo2, zoo3" in text and len(text) < 300
    forecast = many.predict(N=[1e9, 7e10], D=[2e10, 1.4e12])
    assert list(forecast["fit"]) == ["zoo0", "zoo0", "zoo1", "zoo1", "zoo2", "zoo2", "zoo3", "zoo3"]
    truth = bl.simulate(seed=0).truth
    true = truth["E"] + truth["A"] * 7e10 ** -truth["alpha"] + truth["B"] * 1.4e12 ** -truth["beta"]
    big = forecast[forecast["N"] == 7e10]
    assert ((big["loss_q05"] <= true) & (true <= big["loss_q95"])).mean() >= 0.75
    assert (big["loss_pred_q95"] - big["loss_pred_q05"] > big["loss_q95"] - big["loss_q05"]).all()


def test_fit_many_matches_single_fits_in_distribution(many):
    single = bl.fit(ZOOS[2], chains=4, warmup=500, draws=500, progress=False).summary()  # test_fit's FAST program
    from_many = many.flat_draws(2)
    for name in ("alpha", "beta", "E"):
        assert np.median(from_many[name]) == pytest.approx(single.loc[name, "median"], abs=2 * single.loc[name, "sd"])


def test_dask_executor_gives_the_same_draws(many):
    distributed = pytest.importorskip("distributed", reason="the dask extra is part of the test extra")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        spread = bl.fit_many(ZOOS, seed=10, executor=client.get_executor(), chunk_size=2)
    for name in many.draws:
        np.testing.assert_array_equal(spread.draws[name], many.draws[name])
    assert spread.names == ["0", "1", "2", "3"]


def test_sbc_coverage_is_near_nominal():
    """SBC fits start with the robust scheme (fit_many's fast path failed on all 16 of these
    prior-draw zoos and refitted each anyway: the same draws, 2-4x the time)."""
    result = sbc("chinchilla", n=16, n_budgets=4, runs_per_budget=16, seed=3)
    assert result.fits.diagnostics["refit"].all()
    coverage = result.coverage
    print(coverage, result.fits.diagnostics.describe(), sep="\n")
    assert set(coverage.index) == {"alpha", "beta", "A", "B", "E", "sigma", "nu"}
    # 16 simulations: a calibrated 90% interval covers 12-16 of them with 98% probability.
    assert (coverage["coverage_90"] >= 0.7).all()
    assert coverage["coverage_90"].mean() >= 0.8
    assert (coverage["coverage_50"].between(0.2, 0.8)).all()
    ranks = result.ranks["rank"]
    assert ranks.between(0, 1).all() and 0.35 < ranks.mean() < 0.65


def test_fit_many_refuses_an_unknown_start():
    with pytest.raises(ValueError, match="start must be 'fast' or 'robust'; got 'slow'"):
        bl.fit_many([bl.simulate(seed=0, n_budgets=3, runs_per_budget=5).runs], start="slow")
