"""Fits as netCDF files (DataTree via h5netcdf). No pickle: metadata is JSON text.

A saved fit is its DataTree plus one group per run table (``runs``, and ``runs_<name>`` for a
term's own table), a group ``attached`` holding an attached two-stage link fit the same way, and
attributes: the kind of result, the model spec, the sampler settings and the seconds the fit
took. This module converts between a fit's parts and a file; bayeslaws.results.fit builds the
Fit from the parts (load_fit).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from ..data import RunTable
from ..laws import Law, get_law
from ..model import ModelSpec, get_likelihood
from ..terms import term_from_dict

FORMAT_VERSION = 2


def save_fit(fit, path) -> None:
    """Write a Fit's posterior, stats, data, full run tables and metadata to one netCDF file."""
    _fit_to_tree(fit).to_netcdf(path, engine="h5netcdf")


def read_fit(path, law: Law | None = None) -> dict:
    """The parts of a saved fit: kind ("Fit" or "LinkFit"), spec, tree, tables, settings,
    seconds and attached (the parts of an attached link fit, or None). Pass ``law`` for a custom
    law not in the registry."""
    with xr.open_datatree(path, engine="h5netcdf") as stored:
        tree = stored.load()
    return _tree_to_parts(tree, law)


def _fit_to_tree(fit) -> xr.DataTree:
    groups = {f"/{name}": fit.tree[name].to_dataset() for name in fit.tree.children}
    for name, table in fit.tables.items():
        groups[f"/{_table_group(name)}"] = _table_to_dataset(table)
    tree = xr.DataTree.from_dict(groups)
    if fit.attached is not None:
        tree["attached"] = _fit_to_tree(fit.attached)
    tree.attrs = {
        "bayeslaws_format": FORMAT_VERSION,
        "kind": type(fit).__name__,
        "spec": json.dumps(fit.spec.to_dict()),
        "settings": json.dumps(fit.settings),
        "seconds": float(fit.seconds),
        "tables": json.dumps(list(fit.tables)),
    }
    return tree


def _tree_to_parts(tree: xr.DataTree, law: Law | None) -> dict:
    attrs = dict(tree.attrs)
    stored = json.loads(attrs["spec"])
    spec = ModelSpec(
        law=None if stored["law"] is None else (law or get_law(stored["law"])),
        likelihood=None if stored["likelihood"] is None else get_likelihood(stored["likelihood"]),
        terms=tuple(term_from_dict(t) for t in stored["terms"]),
        response=stored["response"],
    )
    names = json.loads(attrs["tables"])
    skip = {_table_group(n) for n in names} | {"attached"}
    posterior = xr.DataTree.from_dict({f"/{g}": tree[g].to_dataset() for g in tree.children if g not in skip})
    return {
        "kind": str(attrs["kind"]),
        "spec": spec,
        "tree": posterior,
        "tables": {n: _dataset_to_table(tree[_table_group(n)].to_dataset()) for n in names},
        "settings": json.loads(attrs["settings"]),
        "seconds": float(attrs["seconds"]),
        "attached": _tree_to_parts(tree["attached"], None) if "attached" in tree.children else None,
    }


def _table_group(name: str) -> str:
    return "runs" if name == "runs" else f"runs_{name}"


def _table_to_dataset(table: RunTable) -> xr.Dataset:
    frame = table.frame
    data = {}
    for name in frame.columns:
        values = frame[name]
        data[name] = ("row", values.to_numpy() if values.dtype.kind in "biuf" else values.astype(object).to_numpy())
    ds = xr.Dataset(data)
    ds.attrs = {
        "dtypes": json.dumps({name: str(frame[name].dtype) for name in frame.columns}),
        "columns": json.dumps(list(map(str, frame.columns))),
        "source_columns": json.dumps(dict(table.source_columns)),
        "run_metadata": json.dumps(dict(table.metadata)),
    }
    return ds


def _dataset_to_table(ds: xr.Dataset) -> RunTable:
    dtypes = json.loads(ds.attrs["dtypes"])
    columns = json.loads(ds.attrs["columns"])
    frame = pd.DataFrame({name: pd.Series(np.asarray(ds[name].values)).astype(dtypes[name]) for name in columns})
    return RunTable(frame, json.loads(ds.attrs["source_columns"]), json.loads(ds.attrs["run_metadata"]))
