"""The term protocol: a new term is one class (here, in this file) and a registry line; the
builder, forecasts, DataTree and storage take it without knowing it. And the DataTree is complete
enough for ArviZ's posterior-predictive and prior-vs-posterior plots."""

from dataclasses import dataclass

import arviz as az
import matplotlib
import numpy as np
import pytest
import xarray as xr

import bayeslaws as bl
from bayeslaws.data import check_has_columns
from bayeslaws.model.arrays import pad
from bayeslaws.terms import register

matplotlib.use("Agg")
SAMPLER = {"chains": 4, "warmup": 300, "draws": 300, "progress": False}
SHIFT = 0.08  # log-loss offset of the shifted runs (e.g. losses measured with another tokenizer)


@dataclass(frozen=True)
class KnownOffset(bl.Term):
    """log L_run = log L_law(N, D) + offset_run, with the offset known per run (a column)."""

    column: str = "offset"
    kind = "known_offset"

    def columns(self):
        return (self.column,)

    def check(self, tables):
        check_has_columns(tables["runs"], (self.column,), "the known_offset term")

    def arrays(self, tables, size):
        return {"offset": pad(tables["runs"].frame[self.column], size)}

    def location(self, log_loss, priors, arrays, data):
        return log_loss + arrays["offset"]

    def target_names(self):
        return (self.column,)

    def forecast(self, log_loss, draws, targets):
        return log_loss + targets[self.column].to_numpy()[None, :] if self.column in targets else log_loss

    def to_dict(self):
        return {"column": self.column}


register(KnownOffset)


@pytest.fixture(scope="module")
def shifted():
    """A 64-run zoo in which every other run's loss is exp(SHIFT) times the law's."""
    zoo = bl.simulate(seed=3, n_budgets=4, runs_per_budget=16)
    offset = np.where(np.arange(len(zoo.runs)) % 2 == 1, SHIFT, 1e-9)  # positive: targets must be
    runs = zoo.runs.assign(offset=offset, loss=zoo.runs["loss"] * np.exp(offset))
    return zoo, runs, bl.fit(runs, terms=[KnownOffset()], seed=0, **SAMPLER)


def test_a_new_term_changes_the_model_through_the_protocol(shifted):
    zoo, runs, fit = shifted
    d = fit.diagnostics
    assert d["divergences"] == 0 and d["max_r_hat"] <= 1.01, d
    summary = fit.summary()
    for name in ("alpha", "beta", "E"):
        assert summary.loc[name, "q05"] <= zoo.truth[name] <= summary.loc[name, "q95"], name
    assert summary.loc["sigma", "median"] < 0.02  # the offsets are explained, not absorbed as noise
    plain = bl.fit(runs, seed=0, **SAMPLER).summary()
    assert plain.loc["sigma", "median"] > 2 * summary.loc["sigma", "median"]
    assert "constant_data" in fit.tree and "offset" in fit.tree["constant_data"]
    base = fit.predict(N=1e10, D=2e11, offset=1e-9)
    shifted_forecast = fit.predict(N=1e10, D=2e11, offset=SHIFT)
    ratio = shifted_forecast["loss_median"].iloc[0] / base["loss_median"].iloc[0]
    assert ratio == pytest.approx(np.exp(SHIFT), rel=1e-3)
    with pytest.raises(ValueError, match=r"unknown target\(s\) \['steps'\]: law 'chinchilla' takes \['N', 'D', 'offset'\]"):
        fit.predict(N=1e10, D=2e11, steps=3)


def test_saved_fit_rebuilds_its_terms_from_the_registry(shifted, tmp_path):
    _, _, fit = shifted
    fit.save(tmp_path / "fit.nc")
    loaded = bl.load_fit(tmp_path / "fit.nc")
    assert loaded.spec.terms == fit.spec.terms
    for group in fit.tree.children:
        xr.testing.assert_identical(loaded.tree[group].to_dataset(), fit.tree[group].to_dataset())
    np.testing.assert_array_equal(loaded.predict(N=1e10, D=2e11, offset=SHIFT), fit.predict(N=1e10, D=2e11, offset=SHIFT))


def test_datatree_serves_arviz_checks(shifted):
    _, runs, fit = shifted
    tree = fit.tree
    assert {"posterior", "prior", "posterior_predictive", "prior_predictive", "log_likelihood", "observed_data",
            "constant_data", "sample_stats"} <= set(tree.children)
    assert tree["posterior_predictive"]["loss"].dims == ("chain", "draw", "run")
    assert tree["posterior_predictive"]["loss"].shape == (4, 300, len(runs))
    # the posterior predictive is in nats, around the observed losses
    median = tree["posterior_predictive"]["loss"].median(("chain", "draw")).values
    np.testing.assert_allclose(median, runs["loss"], rtol=0.05)
    assert set(tree["prior"].data_vars) >= {"alpha", "beta", "A", "B", "E", "sigma", "nu"}
    # prior draws are the prior: alpha ~ LogNormal(log 0.35, 0.5) has median 0.35
    assert np.median(tree["prior"]["alpha"].values) == pytest.approx(0.35, rel=0.15)
    az.plot_ppc_dist(tree)
    az.plot_prior_posterior(tree, var_names=["alpha", "beta"])
    assert np.isfinite(az.loo(tree).elpd)


def test_a_parameter_named_twice_is_an_error_not_a_silent_replacement():
    import numpyro.distributions as dist

    from bayeslaws.model import ModelSpec, get_likelihood

    power = bl.get_law("power")
    clashing = bl.Law("noisy_power", ("C",), {**power.priors, "sigma": lambda: dist.HalfNormal(1.0)},
                      power.log_loss, power.formula, dict(power.centring))
    with pytest.raises(ValueError, match="parameter 'sigma' is named by both law 'noisy_power' and the student_t"):
        ModelSpec(clashing, get_likelihood("student_t")).resolve_priors()
