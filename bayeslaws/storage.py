"""Save and load fits as netCDF (DataTree via h5netcdf). No pickle: metadata is JSON text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from .data import RunTable
from .laws import Law, get_law
from .penalties import get_penalty

FORMAT_VERSION = 1


def save_fit(fit, path) -> None:
    """Write posterior, stats, data, the full run table and metadata to one netCDF file."""
    tree = fit.tree.copy()
    tree["runs"] = xr.DataTree(_frame_to_dataset(fit.runs.frame))
    tree.attrs = {
        "bayeslaws_format": FORMAT_VERSION,
        "law": fit.law.name,
        "likelihood": fit.likelihood,
        "settings": json.dumps(fit.settings),
        "seconds": float(fit.seconds),
        "source_columns": json.dumps(dict(fit.runs.source_columns)),
        "run_metadata": json.dumps(dict(fit.runs.metadata)),
    }
    tree.to_netcdf(path, engine="h5netcdf")


def load_fit(path, law: Law | None = None):
    """Read a fit written by Fit.save. Pass ``law`` for a custom law not in the registry."""
    from .fit import Fit

    with xr.open_datatree(path, engine="h5netcdf") as stored:
        tree = stored.load()
    attrs = dict(tree.attrs)
    runs = _dataset_to_frame(tree["runs"].to_dataset())
    table = RunTable(runs, json.loads(attrs["source_columns"]), json.loads(attrs["run_metadata"]))
    core = xr.DataTree.from_dict({f"/{name}": tree[name].to_dataset() for name in tree.children if name != "runs"})
    settings = json.loads(attrs["settings"])
    return Fit(
        law=law or get_law(attrs["law"]),
        likelihood=str(attrs["likelihood"]),
        tree=core,
        runs=table,
        settings=settings,
        seconds=float(attrs["seconds"]),
        penalty=get_penalty(settings.get("penalty")),
    )


def _frame_to_dataset(frame: pd.DataFrame) -> xr.Dataset:
    data = {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype.kind in "biuf":
            data[name] = ("row", values.to_numpy())
        else:
            data[name] = ("row", values.astype(object).to_numpy())
    ds = xr.Dataset(data)
    ds.attrs["dtypes"] = json.dumps({name: str(frame[name].dtype) for name in frame.columns})
    ds.attrs["columns"] = json.dumps(list(map(str, frame.columns)))
    return ds


def _dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    dtypes = json.loads(ds.attrs["dtypes"])
    columns = json.loads(ds.attrs["columns"])
    return pd.DataFrame({name: pd.Series(np.asarray(ds[name].values)).astype(dtypes[name]) for name in columns})
