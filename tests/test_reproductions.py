"""Reproductions of three published scaling-law results with bayeslaws (issue 3, parts 3-4).

- Gadre et al. 2024 (over-training law): fit on the same 5 small RedPajama runs as the paper,
  forecast the 1.4B M=640 and 6.9B M=20 runs (published point fit misses by 0.71 % and 0.73 %).
- Muennighoff et al. 2023 (data-constrained law): the published constants reproduce the official
  test losses; the posterior of R_D*, R_N* on the authors' 182-run fit set and on all 296 runs.
- Porian et al. 2024: posterior of the compute-optimal exponent a in N*(C) = k C^a on RefinedWeb.

Results on a 2-core CPU (seed 0, sampler of commit dd27bf8) are quoted next to each assertion;
other sampler versions move them within Monte Carlo error. Where a goal was missed, the test
asserts what is achieved and says so.
"""

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import scipy.optimize

import bayeslaws as bl
from bayeslaws.results.forecast import compute_optimal_draws
from bayeslaws.laws.data_constrained import (
    PUBLISHED,
    PUBLISHED_FIT_RUNS,
    data_constrained_loss,
)

SAMPLER = dict(chains=4, warmup=500, draws=500, seed=0, progress=False)


def assert_converged(fit, max_r_hat=1.02):
    d = fit.diagnostics
    assert d["divergences"] == 0, d
    assert d["max_r_hat"] < max_r_hat, d
    assert d["tree_depth_saturation"] == 0.0, d


def test_registry_has_the_reproduction_laws():
    assert bl.get_law("overtraining").covariates == ("N", "D")
    assert set(bl.get_law("overtraining").param_names) == {"a", "b", "eta", "E"}
    law = bl.get_law("data_constrained")
    assert law.covariates == ("N", "D", "unique_tokens")
    assert set(law.param_names) == {"R_D_star", "R_N_star"}  # A, B, E, alpha = beta fixed
    size = bl.get_law("optimal_size")
    assert size.response == "n_star" and size.covariates == ("C",)
    assert size.centring == {"k": ("C", "a")}


# ---------------------------------------------------------------- Gadre et al. 2024

GADRE_SMALL = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]
GADRE_TARGETS = ["rpj-open_lm_1b-32.0", "rpj-open_lm_7b-1.0"]  # 1.4B at M=640, 6.9B at M=20


def gadre_runs(data_home):
    frame = bl.datasets.load("gadre2024", data_home=data_home).frame
    rpj = frame[frame["family"] == "rpj"]
    at_20 = rpj["model_name"].isin(GADRE_SMALL) & (rpj["chinchilla_multiplier"] == 1)
    at_320 = (rpj["model_name"] == "d=96_l=8_h=4") & (rpj["chinchilla_multiplier"] == 16)
    train = rpj[at_20 | at_320]
    targets = rpj.set_index("run_id").loc[GADRE_TARGETS].reset_index()
    return train, targets


@pytest.mark.slow
def test_overtraining_law_reproduces_the_published_rpj_fit(data_home):
    # Upstream code form L = a_c N^c + b 6^(c/2) (M N)^c + E, rpj fit (PROVENANCE.md):
    a_c, b, c, E = 166.211, 366.687, -0.272851, 1.83665
    eta = -c / 2
    params = {"a": a_c * 6**eta, "b": b, "eta": eta, "E": E}
    law = bl.get_law("overtraining")

    def ours(N, M):
        x = {"N": jnp.log(jnp.asarray(N)), "D": jnp.log(jnp.asarray(M * np.asarray(N)))}
        return np.exp(np.asarray(law.evaluate(params, x), dtype=np.float64))

    N = np.array([1e7, 1.4e9, 6.9e9, 1e11])
    for M in (5.0, 20.0, 640.0):
        upstream = a_c * N**c + b * 6 ** (c / 2) * (M * N) ** c + E
        np.testing.assert_allclose(ours(N, M), upstream, rtol=2e-6)

    # The upstream notebook's published forecast errors, from our law on the real runs:
    _, targets = gadre_runs(data_home)
    pred = ours(targets["N"].to_numpy(), targets["D"].to_numpy() / targets["N"].to_numpy())
    rel = 100 * np.abs(pred / targets["loss"].to_numpy() - 1)
    np.testing.assert_allclose(rel, [0.7103, 0.7320], atol=2e-4)

    # laws.md section 4 test vectors (2.7717, 2.5242, 2.4417) sit 0.03-0.04 % below what these
    # parameters give (2.7728, 2.5251, 2.4425); the upstream errors above match exactly, so the
    # sheet's vectors carry a small inconsistency. Checked to 0.1 %.
    np.testing.assert_allclose(ours([1.4e9, 1.4e9, 6.9e9], np.array([20.0, 640.0, 20.0])),
                               [2.7717, 2.5242, 2.4417], rtol=1e-3)

    # Closed-form compute-optimal allocation: M_opt = (b/a)^(1/(2 eta)), C = 6 N D, and the
    # loss there is the minimum along the budget (checked against a grid over N).
    draws = {k: np.array([v]) for k, v in params.items()}
    C = np.array([1e19, 1e22])
    best = compute_optimal_draws(law, draws, C)
    np.testing.assert_allclose(best["D_opt"] / best["N_opt"], (b / params["a"]) ** (1 / (2 * eta)), rtol=1e-4)
    np.testing.assert_allclose(6 * best["N_opt"] * best["D_opt"], C[None, :], rtol=1e-4)
    N_grid = np.geomspace(1e6, 1e13, 2001)
    for budget, loss_opt in zip(C, best["loss_opt"][0]):
        assert loss_opt <= ours(N_grid, budget / (6 * N_grid**2)).min() * (1 + 1e-6)


@pytest.mark.slow
def test_gadre_forecast_from_five_small_runs(data_home):
    """Fit the over-training law to the paper's 5 rpj runs and forecast 1.4B M=640 and 6.9B M=20.

    Likelihood: Normal on log loss. The Student-t needs 6 parameters (4 + sigma + nu) for 5 runs
    (bl.fit refuses it) and nu cannot be learnt from 5 points anyway. The noise prior
    sigma ~ LogNormal(log 0.01, 0.5) (about 0.4-2.3 % relative scatter, 90 %) encodes run-to-run
    and law-misfit scatter of final losses of ~1 %; the default HalfNormal(0.1) lets sigma run to 0
    with 1 residual degree of freedom, which gives a funnel (divergences, R-hat 1.2). The law keeps
    its default priors (eta ~ LogNormal(log 0.15, 0.5), a, b ~ LogNormal(log 200, 2.5),
    E ~ LogNormal(log 1.7, 0.5)). target_accept 0.99 for the 5-point geometry.

    Seed 0, 4 x (1000 + 1000): posterior-median errors +0.03 % (1.4B, M=640) and -0.10 % (6.9B,
    M=20) vs the published point fit's 0.71 % and 0.73 %; 90 % intervals 2.33-2.65 and 2.25-2.57
    nats hold the truths (2.502, 2.425). Other seeds and sampler versions gave 0.06-0.35 %. The
    intervals are wide (+-7 %): 5 runs pin E and eta down only loosely (eta 0.106-0.159).
    """
    train, targets = gadre_runs(data_home)
    assert len(train) == 5 and sorted(train["chinchilla_multiplier"]) == [1, 1, 1, 1, 16]
    fit = bl.fit(train, law="overtraining", likelihood="normal",
                 priors={"sigma": dist.LogNormal(jnp.log(0.01), 0.5)}, target_accept=0.99,
                 **{**SAMPLER, "warmup": 1000, "draws": 1000})
    assert_converged(fit)
    assert fit.diagnostics["min_ess_bulk"] > 400
    forecast = fit.predict(N=targets["N"].to_numpy(), D=targets["D"].to_numpy())
    truth = targets["loss"].to_numpy()
    rel = forecast["loss_median"].to_numpy() / truth - 1
    assert np.all(np.abs(rel) <= 0.01), rel
    assert np.all(np.abs(rel) < np.array([0.007103, 0.007320])), rel  # beats the published fit
    assert np.all((forecast["loss_q05"] <= truth) & (truth <= forecast["loss_q95"]))
    assert np.all((forecast["loss_pred_q05"] <= truth) & (truth <= forecast["loss_pred_q95"]))
    eta = fit.summary().loc["eta"]
    assert eta["q05"] < 0.1364 < eta["q95"]  # the published rpj eta


# ---------------------------------------------------------------- Muennighoff et al. 2023


def test_data_constrained_published_test_vectors():
    # datablations README: L(6.34e9, 242e9, 25e9), L(8.67e9, 178e9, 25e9)
    official = np.array([2.2256440889984477, 2.2269634075087867])
    N, D, U = np.array([6.34e9, 8.67e9]), np.array([242e9, 178e9]), np.array([25e9, 25e9])
    np.testing.assert_allclose(data_constrained_loss(PUBLISHED, N, D, U), official, rtol=0, atol=1e-6)
    # The registered law (same formula, float32 JAX as in the sampler): about 6e-7 off.
    law = bl.get_law("data_constrained")
    x = {"N": jnp.log(N), "D": jnp.log(D), "unique_tokens": jnp.log(U)}
    decay = {k: PUBLISHED[k] for k in ("R_D_star", "R_N_star")}
    np.testing.assert_allclose(np.exp(np.asarray(law.evaluate(decay, x))), official, atol=5e-6)
    # laws.md: D'/U_D = 1.968 at 2 epochs, 3.726 at 4, 15.24 at 41, asymptote 1 + R_D* = 16.39
    r = np.array([1.0, 3.0, 40.0])
    np.testing.assert_allclose(1 + PUBLISHED["R_D_star"] * (1 - np.exp(-r / PUBLISHED["R_D_star"])),
                               [1.968, 3.726, 15.24], atol=6e-3)


def datablations_runs(data_home):
    frame = bl.datasets.load("datablations2023", data_home=data_home).frame
    assert len(frame) == 296
    subset = frame[frame["run_id"].isin(PUBLISHED_FIT_RUNS)]
    assert len(subset) == len(PUBLISHED_FIT_RUNS) == 182
    return frame, subset


def huber_objective(decay, runs):
    params = {**PUBLISHED, "R_D_star": decay[0], "R_N_star": decay[1]}
    pred = data_constrained_loss(params, runs["N"], runs["D"], runs["unique_tokens"])
    r = np.abs(np.log(pred) - np.log(runs["loss"].to_numpy()))
    return np.sum(np.where(r <= 1e-3, 0.5 * r**2, 1e-3 * (r - 0.5e-3)))


def test_datablations_published_point_fit_is_reproduced_on_the_182_runs(data_home):
    """The authors' objective (sum of Huber, delta 1e-3, on log loss; L-BFGS from a grid) on the
    182 runs of their fit set returns their R_D*, R_N*: checks the formula and the run subset."""
    _, subset = datablations_runs(data_home)
    best = min(
        (scipy.optimize.minimize(huber_objective, [rd, rn], args=(subset,), method="L-BFGS-B",
                                 bounds=[(1e-3, 1e4)] * 2)
         for rd in np.linspace(1, 20, 3) for rn in np.linspace(1, 20, 3)),
        key=lambda res: res.fun,
    )
    np.testing.assert_allclose(best.x, [PUBLISHED["R_D_star"], PUBLISHED["R_N_star"]], rtol=0.01)


@pytest.mark.slow
def test_datablations_posterior_of_the_decay_constants(data_home):
    """Bayesian fits of R_D*, R_N* (A, B, E, alpha = beta fixed at the C4 Chinchilla values).

    Seed 0, 4 x (500 + 500); medians and 90 % intervals:
    - 182-run fit set, Huber likelihood (the authors' objective as a density): R_D* 16.3
      (7.8-49.8), R_N* 4.38 (1.96-10.3). Both published values inside.
    - 182-run fit set, Student-t: R_D* 33.6 (14.8-84.5) holds 15.39 (near the edge: other seeds
      give lower bounds 14.1-14.8), but R_N* 1.96 (1.25-3.51) misses 5.31. nu is about 22, i.e. nearly
      Normal: squared-error weighting of the ~8 % systematic misfit of the fixed-Chinchilla law
      (single-epoch runs sit above it) moves R_N* down.
    - all 296 runs, Student-t: R_D* 152 (63-430), R_N* 0.45 (0.26-0.71): MISSES the published
      values. The 114 extra runs (seed replicates, runs the authors removed as outliers, e.g. the
      100M-unique-token runs of 0.6-8.7B models at 90-660 epochs with losses 5-11 nats) are outside
      the law, and even the robust Student-t (nu about 3) cannot reconcile them with the fixed
      A, B, E, alpha. The Huber likelihood on 296 runs gives R_D* 165 (78-415) as well.
    """
    frame, subset = datablations_runs(data_home)

    huber = bl.fit(subset, law="data_constrained", likelihood="huber", **SAMPLER)
    assert_converged(huber)
    s = huber.summary()
    for name in ("R_D_star", "R_N_star"):
        assert s.loc[name, "q05"] < PUBLISHED[name] < s.loc[name, "q95"], s

    robust = bl.fit(subset, law="data_constrained", likelihood="student_t", **SAMPLER)
    assert_converged(robust)
    s = robust.summary()
    assert s.loc["R_D_star", "q05"] < PUBLISHED["R_D_star"] < s.loc["R_D_star", "q95"], s
    # the R_N* miss of this fit is reported by benchmarks/datablations_fits.py, not locked in here

    everything = bl.fit(frame, law="data_constrained", likelihood="student_t", **SAMPLER)
    assert_converged(everything)
    s = everything.summary()
    # its R_D* miss on all 296 runs is reported by benchmarks/datablations_fits.py
    assert s.loc["nu", "median"] < 5  # heavy tails: the outlying runs are recognised as such


# ---------------------------------------------------------------- Porian et al. 2024

PORIAN = {
    # label -> (published exponent a, its 95 % bootstrap CI from PROVENANCE.md)
    "Optimizer tuning (no decay)": (0.50, (0.491, 0.505)),
    "Reproducing Kaplan et al.": (0.83, (0.824, 0.846)),
}


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(PORIAN))
def test_porian_compute_optimal_exponent(data_home, label):
    """N*(C) = k C^a on the RefinedWeb ("rw") optimal pairs of one configuration.

    Rows with NaN n_star (budgets without an estimated optimum) are dropped explicitly; there are
    none in these two configurations (the 4 NaN rows belong to the FLOP-counting variants).
    Seed 0, Student-t likelihood: Optimizer tuning a = 0.4975 (0.4824-0.5127), Reproducing Kaplan
    a = 0.8315 (0.8167-0.8482).
    """
    pairs = bl.datasets.load("porian2024", "optimal_pairs", data_home=data_home).frame
    assert set(pairs["dataset"]) == {"rw", "owt2"}
    runs = pairs[(pairs["dataset"] == "rw") & (pairs["label"] == label)]
    runs = runs[runs["n_star"].notna()]
    assert len(runs) in (11, 12)
    fit = bl.fit(runs, law="optimal_size", **SAMPLER)
    assert fit.response == "n_star"
    assert_converged(fit)
    a = fit.summary().loc["a"]
    target, (lo, hi) = PORIAN[label]
    assert a["q05"] < target < a["q95"], a
    assert lo - 0.01 < a["median"] < hi + 0.01, a
    forecast = fit.predict(C=runs["C"].to_numpy())
    assert {"n_star_median", "n_star_q05", "n_star_q95"} <= set(forecast.columns)
    rel = forecast["n_star_median"].to_numpy() / runs["n_star"].to_numpy() - 1
    assert np.all(np.abs(rel) < 0.25)
