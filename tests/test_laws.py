"""Law functions against the test vectors of ../shared/reference/laws.md."""

import numpy as np
import pandas as pd
import pytest

from bayeslaws.results import forecast
from bayeslaws.laws import REGISTRY, get_law

ROUNDED = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
UNROUNDED = {"E": np.exp(0.5267228), "A": np.exp(6.0073404), "B": np.exp(6.0179186), "alpha": 0.33917084, "beta": 0.2849083}
BESIROGLU = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}  # paper table


def as_draws(params):
    return {k: np.array([v], dtype=np.float64) for k, v in params.items()}


def loss_at(law_name, params, **covariates):
    law = get_law(law_name)
    targets = forecast.target_covariates(law, **covariates)
    return forecast.law_log_loss_draws(law, as_draws(params), targets)[0]


@pytest.mark.parametrize(
    "params, loss, G, a, n_opt, d_opt, loss_opt",
    [
        (ROUNDED, 1.9366, 1.345, 0.4516, 3.219e10, 2.982e12, 1.9307),
        (UNROUNDED, 1.9208, 1.300, 0.4565, 4.036e10, 2.379e12, 1.9184),
        (BESIROGLU, 1.9739, 0.1196, 0.5126, 7.225e10, 1.329e12, 1.9744),
    ],
    ids=["rounded", "unrounded", "besiroglu"],
)
def test_chinchilla_test_vectors(params, loss, G, a, n_opt, d_opt, loss_opt):
    assert np.exp(loss_at("chinchilla", params, N=70e9, D=1.4e12)[0]) == pytest.approx(loss, abs=1e-4)
    optimum = forecast.compute_optimal_draws(get_law("chinchilla"), as_draws(params), np.array([5.76e23]))
    assert optimum["N_opt"][0, 0] == pytest.approx(n_opt, rel=2e-3)
    assert optimum["D_opt"][0, 0] == pytest.approx(d_opt, rel=2e-3)
    assert optimum["loss_opt"][0, 0] == pytest.approx(loss_opt, abs=1e-4)
    closed = get_law("chinchilla").compute_optimal({k: np.float64(v) for k, v in params.items()}, 5.76e23)
    assert float(closed["a"]) == pytest.approx(a, abs=1e-4)
    assert float(np.exp(np.log(closed["N_opt"]) - a * np.log(5.76e23 / 6))) == pytest.approx(G, rel=2e-3)


def test_chinchilla_small_budget_vectors():
    optimum = forecast.compute_optimal_draws(get_law("chinchilla"), as_draws(ROUNDED), np.array([1e21]))
    assert optimum["N_opt"][0, 0] == pytest.approx(1.824e9, rel=2e-3)
    assert optimum["D_opt"][0, 0] / optimum["N_opt"][0, 0] == pytest.approx(50.1, rel=2e-3)


def test_grid_search_agrees_with_closed_form():
    law = get_law("chinchilla")
    draws = {k: np.array([v, v * 1.1]) for k, v in BESIROGLU.items()}
    closed = forecast.compute_optimal_draws(law, draws, np.array([1e21, 5.76e23]))
    grid = forecast._grid_compute_optimal(law, draws, np.array([1e21, 5.76e23]))
    assert np.allclose(grid["N_opt"], closed["N_opt"], rtol=0.01)
    assert np.allclose(grid["loss_opt"], closed["loss_opt"], rtol=1e-5)


def test_kaplan_joint_law_vector():
    params = {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}
    assert np.exp(loss_at("kaplan", params, N=1e9, D=1e10)[0]) == pytest.approx(2.4197, abs=2e-4)


def test_power_law_is_e_plus_a_x_to_minus_alpha():
    params = {"E": 1.5, "A": 300.0, "alpha": 0.2}
    C = np.array([1e18, 1e21, 1e24])
    expected = 1.5 + 300.0 * C ** -0.2
    assert np.allclose(np.exp(loss_at("power", params, C=C)), expected, rtol=1e-5)


def test_laws_broadcast_draws_against_targets():
    law = get_law("chinchilla")
    draws = {k: np.full(5, v) for k, v in BESIROGLU.items()}
    targets = pd.DataFrame({"N": [1e9, 1e10, 1e11], "D": [2e10, 2e11, 2e12]})
    assert forecast.law_log_loss_draws(law, draws, targets).shape == (5, 3)


def test_unknown_law_lists_known_ones():
    with pytest.raises(ValueError, match="unknown law 'chinchila'; known laws: .*'chinchilla'"):
        get_law("chinchila")


def test_catalogue_file_lists_the_registry():
    """`bayeslaws laws` reads the catalogue file instead of importing the laws (JAX): it must say
    what the registry says. If this fails, rewrite it: python -m bayeslaws.laws.catalogue"""
    import json

    from bayeslaws.laws import catalogue

    assert json.loads(catalogue.CATALOGUE.read_text()) == catalogue.entries()


def test_laws_command_answers_without_importing_jax():
    import subprocess
    import sys

    code = ("import sys; from bayeslaws.cli import main; main(['laws']); "
            "print('jax imported' if 'jax' in sys.modules else 'no jax')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "no jax"
    assert sum(line.split()[0] in REGISTRY for line in out.splitlines()[:-1]) == len(REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_law_travels_to_other_processes_by_name(name):
    # Executors (ProcessPoolExecutor, Dask with processes) ship fit_many's job to workers; the
    # priors are lambdas, so a registered law is rebuilt there from its name, as the registry's object.
    rebuild, arguments = REGISTRY[name].__reduce__()
    assert arguments == (name,) and rebuild(*arguments) is REGISTRY[name]


# ---------------------------------------------------------------- bnsl, farseer, chinchilla_interaction

import jax  # noqa: E402

from bayeslaws.laws.farseer import N_REF, paper_constants  # noqa: E402

BNSL = {"a": 1.8, "b": 1e4, "c0": 0.2, "c1": 0.1, "d1": 1e20, "f1": 0.5}
FARSEER = {"S": 0.5, "s": -0.07, "q": -0.35, "Q": 7.0, "B": 0.05, "b": 0.3, "E": np.log(0.3), "A": 0.03, "a": 0.3}
INTERACTION = {**BESIROGLU, "G": 0.5 * 482.01 * 2085.43 / 1.8172}


def bnsl_direct(p, C):
    return p["a"] + p["b"] * C ** -p["c0"] * (1 + (C / p["d1"]) ** (1 / p["f1"])) ** (-p["c1"] * p["f1"])


def farseer_direct(p, N, D):
    """The paper's form with raw N, from paper_constants: an independent check of the reparameterisation."""
    k = paper_constants(p)
    data_exponent = np.exp(k["A"] * N ** k["a"] + k["E"])
    return np.exp(k["s"] * N ** k["q"] + k["S"]) + np.exp(k["B"] * N ** k["b"] + k["Q"]) * D ** -data_exponent


def interaction_direct(p, N, D):
    return p["E"] + p["A"] * N ** -p["alpha"] + p["B"] * D ** -p["beta"] + p["G"] * N ** -p["alpha"] * D ** -p["beta"]


def test_bnsl_at_known_parameters():
    # At C = d1 the break factor is 2^(-c1 f1) = 2^-0.05 and b C^-c0 = 1e4 * 1e-4 = 1: L = 1.8 + 0.965936.
    assert np.exp(loss_at("bnsl", BNSL, C=1e20)[0]) == pytest.approx(2.765936, abs=1e-5)
    C = np.array([1e15, 1e18, 1e21, 1e24])
    assert np.allclose(np.exp(loss_at("bnsl", BNSL, C=C)), bnsl_direct(BNSL, C), rtol=1e-5)


def test_bnsl_log_space_survives_extreme_breaks():
    sharp = {**BNSL, "f1": 0.1}  # (C/d1)^(1/f1) = 1e100 at C = 1e30: fine in float64, not in float32
    assert np.allclose(np.exp(loss_at("bnsl", sharp, C=[1e30])), bnsl_direct(sharp, 1e30), rtol=1e-5)
    kink = {**BNSL, "f1": 0.01}  # 1e1000 overflows float64: the direct formula returns a, dropping b C^-c0 ...
    with np.errstate(over="ignore"):
        assert bnsl_direct(kink, np.float64(1e30)) == kink["a"]
    # ... while the law gives the asymptote a + b C^-c0 (C/d1)^-c1 = 1.8 + 1e4 1e-6 0.1 = 1.801
    assert np.exp(loss_at("bnsl", kink, C=[1e30])[0]) == pytest.approx(1.801, rel=1e-6)
    assert np.isfinite(loss_at("bnsl", kink, C=[1e5, 1e40])).all()


def test_bnsl_without_a_slope_change_is_a_power_law():
    C = np.array([1e15, 1e19, 1e25])
    power = loss_at("power", {"E": BNSL["a"], "A": BNSL["b"], "alpha": BNSL["c0"]}, C=C)
    for d1, f1 in [(1e17, 0.05), (1e20, 0.5), (1e24, 5.0)]:
        flat = loss_at("bnsl", {**BNSL, "c1": 0.0, "d1": d1, "f1": f1}, C=C)
        assert np.allclose(flat, power, atol=1e-6)


def test_farseer_at_known_parameters():
    # At N = N_REF every bc(.) vanishes: L = e^S + e^Q D^-e^E = e^0.5 + e^7 (1e10)^-0.3.
    assert np.exp(loss_at("farseer", FARSEER, N=N_REF, D=1e10)[0]) == pytest.approx(1.648721 + 1.096633, abs=1e-5)
    N, D = np.array([1e7, 1e8, 1e10, 1e11]), np.array([1e9, 1e11, 2e11, 4e12])
    assert np.allclose(np.exp(loss_at("farseer", FARSEER, N=N, D=D)), farseer_direct(FARSEER, N, D), rtol=1e-5)


def test_farseer_extreme_inputs_and_flat_curvature():
    N, D = np.array([1e4, 1e13, 1e15]), np.array([1e5, 1e15, 1e9])
    log_loss = loss_at("farseer", FARSEER, N=N, D=D)
    assert np.allclose(np.exp(log_loss), farseer_direct(FARSEER, N, D), rtol=1e-4)
    # A D-exponent that overflows float32 (e^100) only removes the data term.
    steep = {**FARSEER, "A": 50.0, "a": 0.0}
    assert loss_at("farseer", steep, N=[1e11], D=[1e10])[0] == pytest.approx(loss_at(
        "farseer", {**steep, "Q": -1e4}, N=[1e11], D=[1e10])[0], abs=1e-6)
    # bc(q, n) is continuous through q = 0 (the log n limit), with a finite gradient there.
    law = get_law("farseer")
    # Around the series' switch (|q| = 1e-4) both branches agree; dL/dq = s log(n)^2 / 2 is 0.74 here.
    values = [loss_at("farseer", {**FARSEER, "q": q}, N=[1e7, 1e11], D=[1e9, 1e12])
              for q in (-1.01e-4, -0.99e-4, 0.0, 0.99e-4, 1.01e-4)]
    assert all(np.allclose(u, v, atol=1e-4) for u, v in zip(values, values[1:]))
    assert np.allclose(values[3], values[4], atol=5e-6) and np.allclose(values[0], values[1], atol=5e-6)
    gradient = jax.grad(lambda q: law.evaluate({**FARSEER, "q": q}, {"N": np.log(1e7), "D": np.log(1e9)}))(0.0)
    assert np.isfinite(gradient)


def test_farseer_paper_constants_rescale_n():
    raw, billions = paper_constants(FARSEER), paper_constants(FARSEER, n_unit=1e9)
    assert billions["s"] * 1.0 ** billions["q"] + billions["S"] == pytest.approx(FARSEER["S"])  # n = 1: bc = 0
    assert raw["s"] * 1e9 ** raw["q"] + raw["S"] == pytest.approx(FARSEER["S"])
    assert raw["Q"] == pytest.approx(FARSEER["Q"] - FARSEER["B"] / FARSEER["b"])


def test_chinchilla_interaction_at_known_parameters():
    N, D = np.array([1e3, 1e8, 70e9, 1e13]), np.array([1e3, 2e9, 1.4e12, 1e16])
    assert np.allclose(np.exp(loss_at("chinchilla_interaction", INTERACTION, N=N, D=D)),
                       interaction_direct(INTERACTION, N, D), rtol=1e-5)
    # Tiny covariates: N^-alpha D^-beta = 1e105 overflows float32; the log-space law does not.
    tiny = loss_at("chinchilla_interaction", INTERACTION, N=[1e-150], D=[1e-150])[0]
    expected = np.log(interaction_direct(INTERACTION, 1e-150, 1e-150))
    assert np.isfinite(tiny) and tiny == pytest.approx(expected, rel=1e-6)


def test_chinchilla_interaction_without_interaction_is_chinchilla():
    N, D = np.array([1e8, 70e9, 1e12]), np.array([2e9, 1.4e12, 1e14])
    no_g = loss_at("chinchilla_interaction", {**BESIROGLU, "G": 1e-30}, N=N, D=D)
    assert np.allclose(no_g, loss_at("chinchilla", BESIROGLU, N=N, D=D), atol=1e-6)
    assert np.exp(no_g[1]) == pytest.approx(1.9739, abs=1e-4)  # the Besiroglu test vector above
    # The grid search (no closed form) finds chinchilla's closed-form allocation.
    budgets = np.array([1e21, 5.76e23])
    no_interaction = as_draws({**BESIROGLU, "G": 1e-30})
    grid = forecast.compute_optimal_draws(get_law("chinchilla_interaction"), no_interaction, budgets)
    closed = forecast.compute_optimal_draws(get_law("chinchilla"), as_draws(BESIROGLU), budgets)
    assert np.allclose(grid["N_opt"], closed["N_opt"], rtol=0.01)
    assert np.allclose(grid["loss_opt"], closed["loss_opt"], rtol=1e-5)


def test_farseer_grid_compute_optimal():
    params = {**FARSEER, "B": 0.0, "A": 0.0}
    optimum = forecast.compute_optimal_draws(get_law("farseer"), as_draws(params), np.array([1e19, 1e21, 1e23]))
    n_opt = optimum["N_opt"][0]
    assert np.all(np.diff(n_opt) > 0) and 1e7 < n_opt[0] and n_opt[-1] < 1e12  # inside the grid, growing with C
    n_20 = np.sqrt(np.array([1e19, 1e21, 1e23]) / 120)  # D = 20 N
    at_20 = np.exp([loss_at("farseer", params, N=n, D=20 * n)[0] for n in n_20])
    assert np.all(optimum["loss_opt"][0] <= at_20 + 1e-6)


@pytest.mark.parametrize("name, covariates", [
    ("bnsl", {"C": [1e17, 1e20, 1e23]}),
    ("farseer", {"N": [1e8, 1e9, 1e10], "D": [2e9, 2e10, 2e11]}),
    ("chinchilla_interaction", {"N": [1e8, 1e9, 1e10], "D": [2e9, 2e10, 2e11]}),
])
def test_prior_predictive_loss_is_plausible(name, covariates):
    law = get_law(name)
    key = jax.random.PRNGKey(0)
    draws = {k: np.asarray(make().sample(jax.random.fold_in(key, i), (4000,)), np.float64)
             for i, (k, make) in enumerate(law.priors.items())}
    log_loss = forecast.law_log_loss_draws(law, draws, forecast.target_covariates(law, **covariates))
    assert np.isfinite(log_loss).all()
    loss = np.exp(log_loss)
    assert np.all(((loss > 1) & (loss < 20)).mean(axis=0) > 0.6)
    assert np.all((np.median(loss, axis=0) > 1.5) & (np.median(loss, axis=0) < 10))
