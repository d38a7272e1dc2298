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


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_law_travels_to_other_processes_by_name(name):
    # Executors (ProcessPoolExecutor, Dask with processes) ship fit_many's job to workers; the
    # priors are lambdas, so a registered law is rebuilt there from its name, as the registry's object.
    rebuild, arguments = REGISTRY[name].__reduce__()
    assert arguments == (name,) and rebuild(*arguments) is REGISTRY[name]
