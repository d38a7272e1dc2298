"""Sampler output -> ArviZ DataTree, with ArviZ's group names and dims.

Groups: posterior (the spec's reported parameters), sample_stats (with tree_depth), prior,
log_likelihood, posterior_predictive and prior_predictive (one variable per observed site, named
after its run-table column, in that column's units), observed_data and constant_data (the
columns the model reads). Rows of the fitted runs are dim "run"; a term's own table has its own
dim (e.g. "link_run"), and its constant columns are prefixed with the table name.
"""

from __future__ import annotations

from arviz_base import from_dict  # ArviZ's converter without its plotting package (import time)
import numpy as np
import xarray as xr

from ..model import ModelSpec
from ..model.term import Tables


def load_array_libraries() -> None:
    """Make xarray's first array, which imports the optional array libraries it finds installed
    (dask: 0.3 s): a thread of bl.fit does it while the sampler runs."""
    xr.DataArray(np.zeros(1))


def to_datatree(spec: ModelSpec, tables: Tables, samples: dict) -> xr.DataTree:
    """The DataTree of one fit from sample()'s groups (NumPy arrays, padded rows included)."""
    names = spec.parameter_names()
    stats = dict(samples["sample_stats"])
    stats["tree_depth"] = np.ceil(np.log2(stats["n_steps"] + 1)).astype(np.int64)
    groups = {"posterior": {k: samples["posterior"][k] for k in names}, "sample_stats": stats}
    dims, coords = {}, {}
    if "prior" in samples:
        groups.update(_extras(spec, tables, samples))
        groups["prior"] = {k: samples["prior"][k] for k in names if k in samples["prior"]}
    for term in spec.terms:
        for variable, (dim, labels) in term.coords(tables).items():
            dims[variable], coords[dim] = [dim], np.asarray(labels)
    groups["observed_data"] = {}
    for site in spec.observed_sites():
        n = len(tables[site.table])
        coords[site.dim] = np.arange(n)
        dims[site.variable] = [site.dim]
        groups["observed_data"][site.variable] = tables[site.table].frame[site.variable].to_numpy(np.float64)
    groups["constant_data"] = {}
    for table, columns in spec.columns().items():
        dim = next((s.dim for s in spec.observed_sites() if s.table == table), "run")
        coords.setdefault(dim, np.arange(len(tables[table])))
        for column in columns:
            name = column if table == "runs" else f"{table}_{column}"
            dims[name] = [dim]
            groups["constant_data"][name] = tables[table].frame[column].to_numpy(np.float64)
    return from_dict(groups, dims=dims, coords=coords)


def _extras(spec: ModelSpec, tables: Tables, samples: dict) -> dict:
    """log_likelihood, posterior_predictive and prior_predictive, without padding rows."""
    out = {"log_likelihood": {}, "posterior_predictive": {}, "prior_predictive": {}}
    with np.errstate(over="ignore"):  # wide priors draw absurd losses: inf in the prior predictive, not a warning
        _fill_extras(out, spec, tables, samples)
    return out


def _fill_extras(out: dict, spec: ModelSpec, tables: Tables, samples: dict) -> None:
    for site in spec.observed_sites():
        n = len(tables[site.table])
        out["log_likelihood"][site.variable] = samples["log_likelihood"][site.site][..., :n]
        out["posterior_predictive"][site.variable] = site.to_column(samples["posterior_predictive"][site.site][..., :n])
        out["prior_predictive"][site.variable] = site.to_column(samples["prior"][site.site][..., :n])
