"""Inference end to end: recovery on simulated zoos, forecasts, diagnostics, storage."""

import os
import re
import warnings

import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
import xarray as xr

import bayeslaws as bl
from bayeslaws.inference import nuts
from bayeslaws.synthetic import true_loss

FAST = {"chains": 4, "warmup": 500, "draws": 500, "progress": False}
EXTRAS = nuts.extras
SEEDS = range(5)


@pytest.fixture(scope="module")
def recovery_fits():
    """Chinchilla fits to five simulated 240-run zoos (Besiroglu truth, 1% noise)."""
    return [(zoo, bl.fit(zoo.runs, law="chinchilla", seed=seed, **FAST)) for seed in SEEDS for zoo in [bl.simulate(seed=seed)]]


@pytest.mark.slow
def test_parameter_recovery_hit_rate(recovery_fits):
    hits = []
    for zoo, result in recovery_fits:
        summary = result.summary(ci_prob=0.9)
        for name, truth in zoo.truth.items():
            hits.append(summary.loc[name, "q05"] <= truth <= summary.loc[name, "q95"])
    rate = np.mean(hits)
    print(f"90% interval hit rate over {len(SEEDS)} zoos x 5 parameters: {rate:.2f} ({sum(hits)}/{len(hits)})")
    # 25 Bernoulli(0.9) trials: P(rate < 0.72) is about 1%; a broken sampler scores near 0.
    assert rate >= 0.72


@pytest.mark.slow
def test_fits_converge(recovery_fits):
    for _, result in recovery_fits:
        d = result.diagnostics
        assert d["divergences"] == 0
        assert d["max_r_hat"] <= 1.01
        assert d["min_ess_bulk"] >= 400


@pytest.mark.slow
def test_extrapolated_forecast_covers_truth(recovery_fits):
    target = pd.DataFrame({"N": [70e9], "D": [1.4e12]})
    covered = []
    for zoo, result in recovery_fits:
        truth = true_loss(bl.get_law("chinchilla"), zoo.truth, target)[0]
        row = result.predict(N=70e9, D=1.4e12).iloc[0]
        assert row["loss_q05"] < row["loss_median"] < row["loss_q95"]
        assert row["loss_pred_q05"] < row["loss_q05"] and row["loss_pred_q95"] > row["loss_q95"]
        covered.append(row["loss_q05"] <= truth <= row["loss_q95"])
    assert np.mean(covered) >= 0.6


@pytest.mark.slow
def test_predict_broadcasts_and_names_columns(recovery_fits):
    result = recovery_fits[0][1]
    out = result.predict(N=[1e9, 1e10, 1e11], D=2e11, ci_prob=0.8)
    assert list(out["N"]) == [1e9, 1e10, 1e11]
    assert {"loss_mean", "loss_median", "loss_q10", "loss_q90", "loss_pred_q10", "loss_pred_q90"} <= set(out)
    assert out["loss_median"].is_monotonic_decreasing


@pytest.mark.slow
def test_compute_optimal_covers_truth(recovery_fits):
    zoo, result = recovery_fits[0]
    truth = bl.get_law("chinchilla").compute_optimal({k: np.float64(v) for k, v in zoo.truth.items()}, 1e22)
    row = result.compute_optimal([1e21, 1e22]).iloc[1]
    assert row["N_opt_q05"] <= float(truth["N_opt"]) <= row["N_opt_q95"]
    assert row["D_opt_q05"] <= float(truth["D_opt"]) <= row["D_opt_q95"]
    assert row["tokens_per_parameter_median"] == pytest.approx(row["D_opt_median"] / row["N_opt_median"], rel=0.05)


@pytest.mark.slow
def test_datatree_has_the_arviz_groups(recovery_fits):
    tree = recovery_fits[0][1].tree
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"} <= set(tree.children)
    assert tree["log_likelihood"]["loss"].shape == (4, 500, 240)
    assert tree["posterior"]["alpha"].shape == (4, 500)
    loo = recovery_fits[0][1].loo()
    assert np.isfinite(loo.elpd)


class _ShiftedE:
    """A fit whose draws of E (irreducible loss [nats]) are moved by ``shift``: a family that is
    worse by exactly that much at every budget."""

    def __init__(self, fit, shift):
        self.law, self.response, self._fit, self._shift = fit.law, fit.response, fit, shift

    def law_draws(self, family=None):
        return {**self._fit.law_draws(family), "E": self._fit.draws()["E"] + self._shift}


@pytest.mark.slow
def test_prob_better_counts_every_pair_and_sees_a_worse_family(recovery_fits):
    from bayeslaws.results.decisions import loss_draws

    first, second = recovery_fits[0][1], recovery_fits[1][1]  # same truth, different zoos
    table = bl.prob_better(first, second, C=[1e22, 1e24], names=("x", "y"))
    a, b = loss_draws(first, C=[1e22, 1e24]), loss_draws(second, C=[1e22, 1e24])
    brute = [(a[:, m][:, None] < b[:, m][None, :]).mean() for m in range(2)]  # all 4000 x 4000 pairs
    np.testing.assert_allclose(table["P(x better)"], brute, atol=1e-12)
    assert {"loss_x_median", "loss_y_q05", "difference_q95"} <= set(table.columns)
    worse = _ShiftedE(second, 0.05)  # 0.05 nats: several times the spread of the loss at 1e22
    assert bl.prob_better(first, worse, C=1e22)["P(A better)"].iloc[0] > 0.99
    assert bl.prob_better(worse, first, C=1e22)["P(A better)"].iloc[0] < 0.01
    at_size = bl.prob_better(first, second, N=1e10, D=2e11)  # the law at (N, D), not compute-optimal
    assert at_size["loss_A_median"].iloc[0] == pytest.approx(first.predict(N=1e10, D=2e11)["loss_median"].iloc[0])
    crossing = bl.crossing_compute(first, worse, (1e18, 1e26))
    assert crossing["P(cross)"] < 0.05 and crossing["P(A better) at 1e+26"] > 0.95  # parallel curves
    with pytest.raises(ValueError, match="both arguments are the same fit"):
        bl.prob_better(first, first, C=1e22)


def test_design_update_is_the_gaussian_posterior_variance():
    """Linear-Gaussian check: theta ~ N(0, I), T = a theta, F = B theta, y = F + noise. Observing
    y_1 then y_2 one at a time (the greedy batch) gives the joint Gaussian posterior of T."""
    from bayeslaws.results.design import condition_on, variance_reduction

    a, B, noise = np.array([1.0, 2.0, 0.5]), np.array([[1.0, 0.0, 0.3], [0.5, 1.0, 0.0], [0.0, 0.2, 1.0]]), 0.1
    stacked = np.vstack([a, B])
    covariance = stacked @ stacked.T
    first = variance_reduction(covariance, noise)[0]
    assert first == pytest.approx((a @ B[0]) ** 2 / (B[0] @ B[0] + noise))
    after_two = condition_on(condition_on(covariance, 1, noise), 2, noise)[0, 0]
    gram = B[:2] @ B[:2].T + noise * np.eye(2)
    assert after_two == pytest.approx(a @ a - (a @ B[:2].T) @ np.linalg.solve(gram, B[:2] @ a))


@pytest.mark.slow
def test_suggest_runs_spends_the_budget_where_the_target_learns_most(recovery_fits):
    fit = recovery_fits[0][1]  # 240 runs over 1e18-1e22 FLOPs
    pool = bl.isoflop_candidates([1e20, 1e21, 1e22, 1e23], sizes_per_budget=5)
    equal = bl.suggest_runs(fit, pool.assign(unit=1.0), target={"C": 1e24}, k=1, cost="unit")
    assert equal["C"].iloc[0] == 1e23  # at equal cost the run nearest the target teaches it most
    budget = 3e23
    batch = bl.suggest_runs(fit, pool, target={"C": 1e24}, budget=budget)
    assert batch["cumulative_cost"].iloc[-1] <= budget and len(batch) >= 2
    np.testing.assert_allclose(batch["cost"], 6 * batch["N"] * batch["D"])
    assert (batch["variance_reduction"] >= 0).all()
    assert np.all(np.diff(np.r_[batch["target_sd_before"].iloc[0], batch["target_sd_after"]]) <= 0)
    region = bl.suggest_runs(fit, pool, target={"C": [1e23, 1e24]}, k=2)  # a target region of two budgets
    single = [bl.suggest_runs(fit, pool, target={"C": c}, k=1)["target_sd_before"].iloc[0] for c in (1e23, 1e24)]
    assert region["target_sd_before"].iloc[0] == pytest.approx(np.sqrt(np.mean(np.square(single))))
    first_cost = [bl.suggest_runs(fit, pool, target={"C": 1e24}, k=1, cost_exponent=e)["cost"].iloc[0]
                  for e in (1.0, 0.4, 0.0)]
    assert first_cost == sorted(first_cost) and first_cost[0] < first_cost[-1]  # a smaller exponent buys costlier runs
    by_reduction = bl.suggest_runs(fit, pool, target={"C": 1e24}, k=1, cost_exponent=0.0)
    assert by_reduction["C"].iloc[0] == equal["C"].iloc[0]  # exponent 0: by reduction alone, as at equal cost
    alone = bl.suggest_runs(fit, pool, target={"C": 1e24}, k=1, cost="C")  # each run by itself
    best_single = [bl.suggest_runs(fit, pool.iloc[[i]], target={"C": 1e24}, k=1)["target_sd_after"].iloc[0]
                   for i in range(len(pool)) if 6 * pool["N"].iloc[i] * pool["D"].iloc[i] <= budget]
    assert batch["target_sd_after"].iloc[-1] <= min(best_single) + 1e-12  # never worse than the best single run
    assert alone["target_sd_after"].iloc[0] < alone["target_sd_before"].iloc[0]
    with pytest.raises(ValueError, match="budget= .* or k="):
        bl.suggest_runs(fit, pool, target={"C": 1e24})
    with pytest.raises(ValueError, match="cost_exponent must lie in"):
        bl.suggest_runs(fit, pool, target={"C": 1e24}, k=1, cost_exponent=1.5)
    with pytest.raises(ValueError, match="missing"):
        bl.suggest_runs(fit, pool[["N"]].assign(cost=1.0), target={"C": 1e24}, k=1, cost="cost")


@pytest.mark.slow
def test_design_baselines_follow_their_rules(recovery_fits):
    from bayeslaws.results.design import Joint, information_gain

    fit = recovery_fits[0][1]
    pool = bl.isoflop_candidates([1e19, 1e20, 1e21, 1e22], sizes_per_budget=5)
    budget = 3e21
    cheapest = bl.suggest_runs(fit, pool, target={"C": 1e24}, budget=budget, strategy="cheapest")
    assert list(cheapest["C"]) == [1e19] * 5 + [1e20] * 5 + [1e21] * 2  # cheapest first, while they fit
    randomly = [bl.suggest_runs(fit, pool, target={"C": 1e24}, budget=budget, strategy="random", seed=s) for s in (0, 1)]
    assert all(b["cumulative_cost"].iloc[-1] <= budget for b in randomly)
    assert not randomly[0][["N", "D"]].equals(randomly[1][["N", "D"]])  # the seed decides the order
    d_opt = bl.suggest_runs(fit, pool.assign(unit=1.0), target={"C": 1e24}, k=1, cost="unit", strategy="d_optimal")
    covariance = np.cov(np.log(bl.Fit.predict(fit, N=pool["N"], D=pool["D"], draws=True)["loss"].to_numpy()
                               ).reshape(-1, len(pool)), rowvar=False)
    first = np.argmax(information_gain(Joint(np.pad(covariance, ((1, 0), (1, 0)))), 1.0))  # the most uncertain run
    assert d_opt["N"].iloc[0] == pytest.approx(pool["N"].iloc[first])
    ours = bl.suggest_runs(fit, pool, target={"C": 1e24}, budget=budget)
    assert ours["target_sd_after"].iloc[-1] <= min(cheapest["target_sd_after"].iloc[-1],
                                                   randomly[0]["target_sd_after"].iloc[-1])
    with pytest.raises(ValueError, match="strategy must be one of"):
        bl.suggest_runs(fit, pool, target={"C": 1e24}, k=1, strategy="best")


def test_design_loop_adds_the_measured_batches():
    from bayeslaws.results.design import run_design

    zoo = bl.simulate(seed=4, n_budgets=3, runs_per_budget=6, compute_range=(1e18, 1e19))
    law, truth = bl.get_law("chinchilla"), zoo.truth
    pool = bl.isoflop_candidates([1e20, 1e21], sizes_per_budget=4)
    runs = zoo.runs[["N", "D", "C", "loss"]]
    result = run_design(runs, pool, lambda rows: bl.synthetic.true_loss(law, truth, rows), target={"C": 1e23},
                        budget=2e21, rounds=2, progress=False, chains=2, warmup=300, draws=300)
    chosen = result["chosen"]
    assert set(chosen["round"]) == {0, 1} and result["spent"] <= 2e21
    assert len(result["fit"].runs) == len(runs) + len(chosen)
    assert not chosen.duplicated(["N", "D"]).any()  # a run is trained once
    np.testing.assert_allclose(chosen["loss"], bl.synthetic.true_loss(law, truth, chosen))
    assert len(runs.columns) == 4  # the runs given are untouched


def test_first_crossing_interpolates_in_log_budget():
    from bayeslaws.results.decisions import _first_crossing

    log_grid = np.log(np.array([1e20, 1e21, 1e22, 1e23]))
    gap = np.array([[-0.3, -0.1, 0.1, 0.3],  # crosses halfway between 1e21 and 1e22
                    [0.2, 0.1, 0.05, 0.01],  # never crosses
                    [0.1, -0.1, 0.1, -0.1]])  # crosses three times: the first counts
    crossing = np.exp(_first_crossing(log_grid, gap))
    np.testing.assert_allclose(crossing[[0, 2]], [np.sqrt(1e21 * 1e22), np.sqrt(1e20 * 1e21)], rtol=1e-9)
    assert np.isnan(crossing[1])


@pytest.mark.slow
def test_save_load_round_trip_is_exact(recovery_fits, tmp_path):
    result = recovery_fits[1][1]
    path = tmp_path / "fit.nc"
    result.save(path)
    loaded = bl.load_fit(path)
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"):
        xr.testing.assert_identical(loaded.tree[group].to_dataset(), result.tree[group].to_dataset())
    pd.testing.assert_frame_equal(loaded.runs.frame, result.runs.frame)
    assert loaded.runs.metadata == result.runs.metadata
    assert loaded.settings == result.settings and loaded.law is result.law
    pd.testing.assert_frame_equal(loaded.summary(), result.summary())
    pd.testing.assert_frame_equal(loaded.predict(N=1e11, D=2e12), result.predict(N=1e11, D=2e12))


@pytest.mark.slow
def test_extras_wait_for_the_tree_and_a_fit_without_them_round_trips(tmp_path, monkeypatch):
    zoo = bl.simulate(seed=9, n_budgets=3, runs_per_budget=8)
    frame = zoo.runs.assign(family=["a", "b"] * 12, run_id=[f"run-{i}" for i in range(24)])
    calls = []
    monkeypatch.setattr(nuts, "extras", lambda *args: calls.append(args) or EXTRAS(*args))
    full = bl.fit(frame, law="chinchilla", seed=0, **FAST)
    full.summary(), full.predict(N=1e11, D=2e12), full.diagnostics, full.draws()
    assert not calls  # forecasts and summaries never compile the extras' program
    assert {"log_likelihood", "posterior_predictive", "prior", "prior_predictive"} <= set(full.tree.children)
    assert np.isfinite(full.loo().elpd) and len(calls) == 1  # computed once, at the first read
    assert full.tree["prior"]["alpha"].shape == full.tree["posterior"]["alpha"].shape == (4, 500)

    result = bl.fit(frame, law="chinchilla", seed=0, extras=False, **FAST)  # the CLI's lighter fit
    assert set(result.tree.children) == {"posterior", "sample_stats", "observed_data", "constant_data"}
    with pytest.raises(ValueError, match="extras=False"):
        result.loo()
    result.save(tmp_path / "fit.nc")
    loaded = bl.load_fit(tmp_path / "fit.nc")
    pd.testing.assert_frame_equal(loaded.runs.frame, result.runs.frame)
    pd.testing.assert_frame_equal(loaded.predict(N=1e11, D=2e12), result.predict(N=1e11, D=2e12))


def test_same_seed_gives_same_draws():
    zoo = bl.simulate(seed=11)
    first = bl.fit(zoo.runs, seed=3, **FAST).draws()
    second = bl.fit(zoo.runs, seed=3, **FAST).draws()
    assert all(np.array_equal(first[k], second[k]) for k in first)


@pytest.mark.slow
def test_too_few_draws_warn_with_advice():
    zoo = bl.simulate(seed=4)
    with pytest.warns(bl.ConvergenceWarning, match="bulk ESS .* < 400.*Run more draws"):
        bl.fit(zoo.runs, chains=2, warmup=30, draws=30, progress=False)


@pytest.mark.slow
def test_converged_fit_does_not_warn(recovery_fits):
    from bayeslaws.inference.diagnostics import warn_if_unconverged

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_unconverged(recovery_fits[0][1].diagnostics) == []


def test_chains_in_another_mode_are_named_with_the_worst_parameters():
    """When chains disagree the warning names the parameters with the worst R-hat and the chain
    whose log density sits apart (a chain stuck in another mode); chains that mix are not named."""
    from bayeslaws.inference.diagnostics import chains_apart, summarise, warn_if_unconverged

    rng = np.random.default_rng(0)
    lp = rng.normal(190.0, 2.5, (4, 300))
    assert chains_apart(lp) == {}
    lp[2] -= 19.0  # chain 2 in a worse mode
    apart = chains_apart(lp)
    assert list(apart) == [2] and apart[2] == pytest.approx(-19.0, abs=0.5)
    assert list(chains_apart(np.concatenate([lp[:2], lp[2:3] + 40.0]))) == [2]  # above the others, 3 chains

    mixing = rng.normal(0.0, 1.0, (4, 300))
    stuck = mixing.copy()
    stuck[2] += 5.0
    posterior = xr.Dataset({"a": (("chain", "draw"), stuck), "b": (("chain", "draw"), mixing)})
    stats = xr.Dataset({"lp": (("chain", "draw"), lp), "diverging": (("chain", "draw"), np.zeros((4, 300), bool)),
                        "tree_depth": (("chain", "draw"), np.full((4, 300), 3))})
    diagnostics = summarise(xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats}), ["a", "b"], 10)
    assert list(diagnostics["worst_r_hat"]) == ["a"] and diagnostics["chains_apart"] == apart
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = warn_if_unconverged(diagnostics)
    assert [str(w.message) for w in caught] == messages and all(w.category is bl.ConvergenceWarning for w in caught)
    assert re.search(r"worst: a \d\.\d\d\); chain 2 sits apart \(mean log density 19\.\d below", messages[0])
    divergent = {**diagnostics, "divergences": 3}  # the advice names a target_accept above the fit's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "Try target_accept=0.95," in warn_if_unconverged(divergent)[0]
        assert "Try target_accept=0.99," in warn_if_unconverged(divergent, target_accept=0.95)[0]


@pytest.mark.parametrize("likelihood", ["student_t", "normal"])
def test_new_run_draws_follow_the_likelihood(likelihood):
    """Forecasts draw new runs with NumPy (no JAX program per shape): the draws' quantiles are
    the likelihood's own, per draw's sigma and nu, and a term's noise factor scales sigma."""
    from scipy import stats

    from bayeslaws.model import get_likelihood
    from bayeslaws.model.draws import predictive_log_loss_draws

    chosen = get_likelihood(likelihood)
    draws = {"sigma": np.array([0.01, 0.05]), "nu": np.array([2.5, 30.0])}
    loc = np.array([[0.7], [1.0]])
    log_loss = np.zeros((2, 100_000)) + loc
    probabilities = np.array([0.05, 0.25, 0.75, 0.95])
    standard = (stats.t.ppf(probabilities[:, None], draws["nu"][None, :]) if likelihood == "student_t"
                else stats.norm.ppf(probabilities[:, None]))  # (4 probabilities, 1 or 2 draws)
    for factor in (1.0, 2.0):
        new = predictive_log_loss_draws(chosen, draws, log_loss, seed=0, scale=factor)
        expected = loc[:, 0][None, :] + draws["sigma"][None, :] * factor * standard
        np.testing.assert_allclose(np.quantile(new, probabilities, axis=1), expected, atol=0.03 * 0.05 * factor)
    assert new.dtype == np.float64 and new.shape == log_loss.shape
    np.testing.assert_array_equal(new, predictive_log_loss_draws(chosen, draws, log_loss, seed=0, scale=2.0))


@pytest.mark.slow
@pytest.mark.parametrize("likelihood", ["normal", "huber"])
def test_other_likelihoods_recover_exponents(likelihood):
    zoo = bl.simulate(seed=5)
    summary = bl.fit(zoo.runs, likelihood=likelihood, seed=1, **FAST).summary()
    for name in ("alpha", "beta", "E"):
        assert summary.loc[name, "median"] == pytest.approx(zoo.truth[name], rel=0.1)
    assert "nu" not in summary.index


def test_student_t_density_is_scipys_to_float32_precision():
    """The likelihood's own log Gamma ratio (a smaller program than gammaln) is exact to float32,
    also at large nu, where a difference of two gammaln loses digits."""
    from scipy import special, stats

    from bayeslaws.model.likelihoods import StudentT, log_gamma_ratio_half

    a = np.array([1e-3, 0.05, 0.5, 1.0, 2.5, 10.0, 1e2, 1e3, 1e4, 1e6])
    exact = special.gammaln(a + 0.5) - special.gammaln(a)
    ours = np.asarray(log_gamma_ratio_half(a.astype(np.float32)), np.float64)
    assert np.all(np.abs(ours - exact) <= 3e-7 * np.maximum(1.0, np.abs(exact)))
    values = np.linspace(-3, 3, 13, dtype=np.float32)
    for nu in (0.5, 2.0, 30.0, 3000.0):
        density = np.asarray(StudentT(nu, 0.1, 0.2).log_prob(values), np.float64)
        np.testing.assert_allclose(density, stats.t(nu, 0.1, 0.2).logpdf(values), atol=2e-5)


def test_the_nu_prior_is_a_floored_gamma_drawn_as_a_sum_of_exponentials():
    """nu ~ 0.2 + Gamma(2, 0.1): Gamma's density shifted by the floor, and draws (mean 20.2,
    variance 200) made as a sum of exponentials (Erlang), also inside a jitted, vmapped program;
    family fits bound nu at 1; a shape that is not whole is refused by Erlang."""
    import jax

    from bayeslaws.model.likelihoods import FAMILY_PRIORS, LIKELIHOODS, NU_FLOOR, Erlang, GammaAbove

    prior = LIKELIHOODS["student_t"].priors["nu"]()
    assert isinstance(prior, GammaAbove) and prior.low == NU_FLOOR == 0.2
    assert isinstance(prior.base_dist, Erlang) and prior.base_dist.whole_shape == 2
    values = np.array([0.5, 5.0, 20.0, 80.0], dtype=np.float32)
    np.testing.assert_allclose(prior.log_prob(values), dist.Gamma(2.0, 0.1).log_prob(values - 0.2), rtol=1e-5)
    assert float(prior.support.lower_bound) == 0.2 and not bool(prior.support(np.float32(0.1)))
    draws = np.asarray(prior.sample(jax.random.PRNGKey(0), (200_000,)))
    assert draws.min() > 0.2
    assert draws.mean() == pytest.approx(20.2, rel=0.01) and draws.var() == pytest.approx(200.0, rel=0.03)
    batched = jax.jit(jax.vmap(lambda k: Erlang(3.0, 2.0).sample(k, (4,))))(jax.random.split(jax.random.PRNGKey(1), 5))
    assert batched.shape == (5, 4) and np.all(np.asarray(batched) > 0)
    assert FAMILY_PRIORS["student_t"]["nu"]().low == 1.0
    assert type(GammaAbove(1.0, 2.5, 0.1).base_dist) is dist.Gamma
    with pytest.raises(ValueError, match="whole shape"):
        Erlang(2.5, 0.1)


@pytest.mark.slow
def test_student_t_absorbs_a_diverged_run():
    zoo = bl.simulate(seed=6)
    runs = zoo.runs.copy()
    runs.loc[5, "loss"] = 11.0  # a diverged run stays in the data
    summary = bl.fit(runs, seed=0, **FAST).summary()
    assert summary.loc["alpha", "q05"] <= zoo.truth["alpha"] <= summary.loc["alpha", "q95"]


@pytest.mark.slow
def test_prior_override_by_name_and_unknown_names():
    zoo = bl.simulate(seed=7, n_budgets=3, runs_per_budget=8)
    tight = bl.fit(zoo.runs, priors={"E": dist.LogNormal(np.log(1.5), 0.01)}, seed=0, **FAST)
    assert tight.summary().loc["E", "median"] == pytest.approx(1.5, rel=0.03)
    assert "LogNormal" in tight.settings["priors"]["E"]
    with pytest.raises(ValueError, match=r"priors given for unknown parameter\(s\) \['Q'\]"):
        bl.fit(zoo.runs, priors={"Q": dist.Normal()}, **FAST)
    with pytest.raises(ValueError, match=r"priors must be NumPyro distributions.*\['E'\]"):
        bl.fit(zoo.runs, priors={"E": 1.7}, **FAST)


@pytest.mark.slow
def test_power_law_in_compute_recovers_exponent():
    zoo = bl.simulate("power", seed=2)
    result = bl.fit(zoo.runs[["C", "loss"]], law="power", seed=0, **FAST)
    summary = result.summary()
    assert summary.loc["alpha", "q05"] <= zoo.truth["alpha"] <= summary.loc["alpha", "q95"]
    with pytest.raises(ValueError, match="needs \\['C'\\]; missing \\['C'\\]"):
        result.predict(N=1e9)


@pytest.mark.slow
def test_chains_split_over_threads_sample_the_same_posterior():
    # On CPU one compiled program runs single-threaded, so sample() splits the chains into one
    # group per core. Each chain keeps its own key: the groups must not repeat each other, and
    # the posterior must match the one from all chains in one program.
    from bayeslaws.data import load_runs
    from bayeslaws.model import ModelSpec, get_likelihood

    spec = ModelSpec(bl.get_law("chinchilla"), get_likelihood("student_t"))
    priors = spec.resolve_priors(None)
    data = spec.arrays({"runs": load_runs(bl.simulate(seed=4).runs, required=())})
    settings = nuts.SamplerSettings(warmup=500, draws=500)  # FAST's: its 2-chain groups reuse the fits' program
    together = nuts.sample(spec, priors, data, settings, seed=7, threads=1)["posterior"]
    groups = nuts.sample(spec, priors, data, settings, seed=7, threads=2)
    split, stats = groups["posterior"], groups["sample_stats"]
    assert split["alpha"].shape == (4, 500) and stats["diverging"].shape == (4, 500)
    pointwise = nuts.extras(spec, priors, data, settings, 7, split)["log_likelihood"]["log_loss"]
    assert pointwise.shape[:2] == (4, 500) and np.all(np.isfinite(pointwise[..., :len(bl.simulate(seed=4).runs)]))
    assert not np.array_equal(split["alpha"][0], split["alpha"][2])
    for name in ("alpha", "beta", "E"):
        sd = together[name].std()
        assert abs(np.median(split[name]) - np.median(together[name])) < 0.3 * sd, name


@pytest.mark.parametrize("draws", [500, 41, 4])
def test_parameter_table_gives_arviz_summary_numbers(draws):
    """The summary is computed without importing ArviZ's statistics (start-up time): it must give
    az.summary's numbers, R-hat and both ESS included, on mixing, stuck, tied and constant draws."""
    from arviz_base import from_dict
    from arviz_stats import summary

    from bayeslaws.inference.diagnostics import parameter_table

    rng = np.random.default_rng(draws)
    posterior = {
        "mixing": rng.normal(size=(4, draws)) + np.arange(4)[:, None] * 0.05,
        "stuck": np.cumsum(rng.normal(size=(4, draws, 3)), axis=1),  # a vector site, chains far apart
        "tied": np.round(rng.normal(size=(4, draws)), 1),
        "constant": np.ones((4, draws)),
        "slow": np.cumsum(rng.normal(size=(4, draws)), axis=1) * 0.02 + rng.normal(size=(4, draws)),
    }
    tree = from_dict({"posterior": posterior}, dims={"stuck": ["family"]}, coords={"family": ["a", "b", "c"]})
    ours = parameter_table(tree, list(posterior))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = summary(tree, var_names=list(posterior), ci_prob=0.9, ci_kind="eti", round_to="none")
    assert list(ours.index) == list(theirs.index)
    theirs = theirs.rename(columns={"eti90_lb": "q05", "eti90_ub": "q95"})
    for column in ("mean", "sd", "q05", "q95", "r_hat", "ess_bulk", "ess_tail"):
        np.testing.assert_allclose(ours[column], theirs[column].astype(float), rtol=1e-9, err_msg=column)
    if draws == 500:
        assert ours.loc["stuck[a]", "r_hat"] > 1.1 and ours.loc["mixing", "r_hat"] < 1.01


def test_fit_key_is_jaxs_and_refuses_seeds_jax_would_wrap():
    import jax

    for seed in (0, 1, 7, 2**31 - 1, 2**31, 2**32 - 1):
        np.testing.assert_array_equal(nuts._fit_key(seed), np.asarray(jax.random.PRNGKey(seed)))
    for seed in (-1, 2**32, 1.5, True):
        with pytest.raises(ValueError, match="seed must be a whole number from 0 to 4,294,967,295"):
            nuts._fit_key(seed)


@pytest.mark.slow
def test_the_gpu_program_of_vectorised_chains_agrees_with_unbatched_chains():
    """On CPU each chain is its own unbatched program; GPUs run all chains vectorised in one
    program (compiled_sampler). No CI machine has a GPU, so the vectorised program runs here on
    CPU: same groups and shapes, and the same posterior within its Monte Carlo error."""
    from bayeslaws.model import ModelSpec, get_likelihood

    law = bl.get_law("chinchilla")
    spec = ModelSpec(law, get_likelihood("student_t"), response=law.response)
    priors = spec.resolve_priors(None)
    runs = bl.load_runs(bl.simulate(seed=3, n_budgets=4, runs_per_budget=12).runs, required=())
    data = spec.arrays({"runs": runs})
    settings = nuts.SamplerSettings(chains=4, warmup=300, draws=300)
    vectorised = nuts.compiled_sampler(spec, priors, settings, data)(nuts._fit_key(0), data)
    unbatched = nuts.sample(spec, priors, data, settings, seed=0)
    assert set(vectorised) == set(unbatched)
    for group in ("posterior", "sample_stats"):
        assert {k: np.shape(v) for k, v in vectorised[group].items()} == {k: np.shape(v) for k, v in unbatched[group].items()}
    for name in ("alpha", "beta", "E"):
        a, b = np.asarray(vectorised["posterior"][name]), np.asarray(unbatched["posterior"][name])
        assert abs(a.mean() - b.mean()) < 0.25 * np.sqrt(a.var() + b.var()), name


def test_priors_that_print_alike_compile_apart():
    """A wrapped prior's text for people omits what it wraps; the key of compiled programs does
    not, so a transformed prior with another support never reuses the first one's program."""
    from numpyro.distributions.transforms import AffineTransform

    from bayeslaws.model import ModelSpec, get_likelihood
    from bayeslaws.model.spec import prior_text

    real = dist.TransformedDistribution(dist.Gamma(2.0, 0.1), AffineTransform(1.0, 1.0))
    above_one = dist.TransformedDistribution(dist.Gamma(2.0, 0.1),
                                             AffineTransform(1.0, 1.0, domain=dist.constraints.positive))
    assert prior_text(real) == prior_text(above_one)
    spec = ModelSpec(bl.get_law("chinchilla"), get_likelihood("student_t"), response="loss")
    keys = {spec.cache_key(spec.resolve_priors({"nu": prior})) for prior in (real, above_one)}
    assert len(keys) == 2
    assert spec.cache_key(spec.resolve_priors(None)) == spec.cache_key(spec.resolve_priors(None))


def test_program_keys_do_not_change_once_the_priors_are_used():
    """NumPyro caches a transform's inverse on first use; keyed on it, every fit after the first
    of a batch (fit_many, backtests, SBC) compiled its program again."""
    from numpyro.distributions.transforms import ExpTransform, SigmoidTransform

    from bayeslaws.model import ModelSpec, get_likelihood

    spec = ModelSpec(bl.get_law("chinchilla"), get_likelihood("student_t"), response="loss")
    priors = spec.resolve_priors(None)
    before = spec.cache_key(priors)
    for prior in priors.values():
        for transform in getattr(prior, "transforms", []):
            transform.inv  # what sampling does
    assert spec.cache_key(priors) == before and "_inv" not in before[0]
    inverted = lambda t: dist.TransformedDistribution(dist.Normal(0.0, 1.0), t.inv)  # noqa: E731
    keys = {spec.cache_key(spec.resolve_priors({"nu": inverted(t)})) for t in (ExpTransform(), SigmoidTransform())}
    assert len(keys) == 2  # an inverse transform's _inv is what it inverts, not a cache


def test_the_exported_programs_stay_under_their_bound(tmp_path, monkeypatch):
    """The exported programs are trimmed least recently used first, JAX's compiled programs oldest
    first; without a bound the caches grew without end (1.1 GB on the development machine)."""
    import jax

    from bayeslaws.inference import compile_cache

    for age, name in enumerate(["newest", "middle", "oldest"]):
        path = tmp_path / f"{name}.jaxexport"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1e9 - age * 100, 1e9 - age * 100))
    (tmp_path / "unrelated.txt").write_bytes(b"x" * 1000)
    compile_cache.trim(tmp_path, 250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["middle.jaxexport", "newest.jaxexport", "unrelated.txt"]
    compile_cache.trim(tmp_path, 100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newest.jaxexport", "unrelated.txt"]
    jax_cache = tmp_path / "jax"
    (jax_cache / "exported").mkdir(parents=True)
    for age, name in enumerate(["jit_new-cache", "jit_old-cache", "exported/old.jaxexport"]):
        (jax_cache / name).write_bytes(b"x" * 100)
        os.utime(jax_cache / name, (1e9 - age * 100, 1e9 - age * 100))
    monkeypatch.setattr(compile_cache, "JAX_CACHE_BYTES", 150)
    monkeypatch.setattr(compile_cache, "EXPORTED_BYTES", 50)
    monkeypatch.setattr(jax.config, "update", lambda name, value: None)  # this worker's cache stays as it is
    monkeypatch.setattr(compile_cache, "_state", dict(compile_cache._state))
    compile_cache.set_compile_cache(jax_cache)  # both caches are trimmed when a process turns them on
    assert sorted(str(p.relative_to(jax_cache)) for p in jax_cache.rglob("*")) == ["exported", "jit_new-cache"]


def test_program_keys_are_the_same_in_every_process():
    """The key of a program kept on disk must not depend on the process (hash seeds order sets)."""
    import subprocess
    import sys

    code = ("from bayeslaws.model import ModelSpec, get_likelihood; import bayeslaws as bl; "
            "spec = ModelSpec(bl.get_law('chinchilla'), get_likelihood('student_t'), response='loss'); "
            "print(spec.identity(spec.resolve_priors(None)))")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    key = keys.pop()
    assert not keys and "likelihoods.GammaAbove{" in key and "likelihoods.Erlang{_batch_shape: [], _event_shape: [], concentration: 2.0" in key


def test_the_process_keeps_a_bounded_number_of_compiled_programs(monkeypatch):
    """Each program on CPU holds hundreds of memory maps; past the kernel's limit the next
    compilation fails, so the least recently used programs are let go."""
    monkeypatch.setattr(nuts, "MAX_PROGRAMS", 1)
    monkeypatch.setattr(nuts, "_COMPILED", nuts.OrderedDict())
    zoo = bl.simulate(seed=9, n_budgets=3, runs_per_budget=8).runs  # the extras test's: its program is on disk
    for law in ("chinchilla", "kaplan"):
        bl.fit(zoo, law=law, **FAST)
    assert len(nuts._COMPILED) == 1
    assert "kaplan" in next(iter(nuts._COMPILED))[0][0]  # the oldest went first


def test_fast_compilation_flag_is_added_unless_the_user_chose():
    """bayeslaws asks XLA to skip LLVM's expensive passes (faster first fits, same draws), but
    never overrides a user's XLA_FLAGS setting of that flag, and BAYESLAWS_FAST_COMPILE=0 opts out."""
    import subprocess
    import sys

    def flags(**env):
        base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "BAYESLAWS_FAST_COMPILE")}
        code = "import os, bayeslaws; print(os.environ.get('XLA_FLAGS', ''))"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**base, **env}).stdout.strip()

    assert flags() == bl.FAST_COMPILE_FLAG
    assert flags(XLA_FLAGS="--xla_cpu_enable_fast_math=false") == f"--xla_cpu_enable_fast_math=false {bl.FAST_COMPILE_FLAG}"
    assert flags(XLA_FLAGS="--xla_llvm_disable_expensive_passes=false") == "--xla_llvm_disable_expensive_passes=false"
    assert flags(BAYESLAWS_FAST_COMPILE="0") == ""
