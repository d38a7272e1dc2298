"""Bad and odd inputs, tried as a user would: how each one is handled.

    python benchmarks/bad_inputs.py            # a table: case, outcome, first line of the message

Outcomes: "clear" (refused, or warned, with a message saying what is wrong; the CLI exits 2 with
one line and no traceback), "unclear" (a traceback, a raw KeyError/TypeError, or a multi-line
CLI error), "silent" (accepted although it is wrong, ignored, or data lost). Uses the public API
and the CLI only, so the same script measures any version of the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.error
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

import bayeslaws as bl

TINY = {"chains": 2, "warmup": 100, "draws": 100, "progress": False}
CLEAR_ERRORS = (ValueError, OSError)  # RunTableError, FitFileError, ... are ValueErrors
UNCLEAR_ERRORS = (KeyError, TypeError, IndexError, AttributeError)


def outcome_of(call, expect_warning: type | None = None) -> tuple[str, str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
        except UNCLEAR_ERRORS as error:
            return "unclear", f"{type(error).__name__}: {error}"
        except CLEAR_ERRORS as error:
            text = str(error)
            return ("clear" if text and "Traceback" not in text else "unclear"), text
        except Exception as error:  # noqa: BLE001  anything else is not a message for a user
            return "unclear", f"{type(error).__name__}: {error}"
    if expect_warning is not None:
        hits = [w for w in caught if issubclass(w.category, expect_warning) and "ConvergenceWarning" not in w.category.__name__]
        if hits:
            return "clear", f"warning: {hits[0].message}"
    return "silent", "accepted without a word"


def cli(*argv, timeout: float = 90) -> tuple[str, str]:
    """Run the CLI in a new process (as a user would), stopped after ``timeout`` seconds."""
    try:
        done = subprocess.run([sys.executable, "-m", "bayeslaws.cli", *argv], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return "silent", f"still running after {timeout:.0f} s, without a word"
    err = done.stderr
    lines = [line for line in err.splitlines() if line.strip() and "Warning" not in line and not line.startswith("bayeslaws: NUTS")
             and not line.startswith("bayeslaws: done")]
    if "Traceback" in err:
        return "unclear", f"traceback: {lines[-1] if lines else ''}"
    if done.returncode == 0:
        return "silent", f"exit 0{'; stdout not valid JSON' if 'Infinity' in done.stdout or 'NaN' in done.stdout else ''}"
    if done.returncode == 2 and len(lines) == 1:
        return "clear", lines[0]
    return "unclear", f"exit {done.returncode}: {' | '.join(lines)[:200]}"


def cases(tmp: Path, zoo_csv: Path, fit, runs) -> dict:
    files = {
        "folder": None, "fake.parquet": b"N,D,loss\n1,2,3\n",
        "random.csv": bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8)),
        "latin1.csv": "N,D,loss,famille\n1e9,2e10,2.5,\xe9\n".encode("latin-1"),
        "runs.xlsx": b"PK\x03\x04" + b"\x00" * 100, "semicolon.csv": b"N;D;loss\n1e9;2e10;2.5\n",
        "empty.csv": b"", "dup.csv": b"N,D,loss,loss\n1e9,2e10,2.5,2.6\n",
    }
    for name, content in files.items():
        path = tmp / name
        path.mkdir() if content is None else path.write_bytes(content)
    out = {f"CLI fit on {name}": (lambda p=tmp / name: cli("fit", str(p), "--json")) for name in files}
    out["CLI fit on a missing file"] = lambda: cli("fit", str(tmp / "nope.csv"), "--json")
    for args in (["--draws", "0"], ["--chains", "0"], ["--warmup", "0"], ["--draws", "100000000"],
                 ["--draws", "abc"], ["--predict", "N=3e9,D=3e11,LR=0.1"], ["--predict", "N=3e9"],
                 ["--predict", "N=abc"], ["--columns", "N=N,foo=C"], ["--law", "nope"],
                 ["--penalty", "lr,batch_size"], ["--link", "gadre"], ["--metric", "err_x"], ["--bogus"]):
        out[f"CLI fit {' '.join(args)}"] = (lambda a=args: cli("fit", str(zoo_csv), "--json", *a))
    out["CLI with no command"] = lambda: cli()

    def save_then(bad_frame, label):
        def case():
            path = tmp / f"{label}.nc"
            fit.save(path)
            try:
                replace(fit, runs=bl.RunTable(bad_frame, {}, {})).save(path) if hasattr(fit, "law") and "runs" in fit.__dataclass_fields__ \
                    else replace(fit, tables={"runs": bl.RunTable(bad_frame, {}, {})}).save(path)
            except Exception as error:  # noqa: BLE001
                try:
                    bl.load_fit(path)
                except Exception:  # noqa: BLE001
                    return "silent", f"the save raised ({type(error).__name__}) and destroyed the earlier file"
                raise
            return "silent", "saved something it cannot read back exactly"
        return case

    frame = fit.runs.frame
    out["save: a column named 0 over an earlier file"] = lambda: outcome_of(save_then(frame.assign(x=1.0).rename(columns={"x": 0}), "zero"))
    out["save: a column of mixed types over an earlier file"] = lambda: outcome_of(save_then(frame.assign(m=[1, "a", 2.5, None] * 6), "mixed"))

    def missing_text():
        path = tmp / "missing.nc"
        fit.save(path)
        note = bl.load_fit(path).runs.frame["note"]
        return ("clear", "missing values kept") if note.isna().sum() == 12 else ("silent", f"missing became {note[1]!r}")
    out["save/load: text column with missing values"] = missing_text

    def flipped():
        import h5py

        path = tmp / "flip.nc"
        fit.save(path)
        with h5py.File(path, "r+") as handle:
            values = handle["posterior"]["alpha"][...]
            values[0, 0] *= 1.01
            handle["posterior"]["alpha"][...] = values
        return outcome_of(lambda: bl.load_fit(path))
    out["load: a flipped draw in the posterior"] = flipped

    def foreign():
        import xarray as xr

        path = tmp / "foreign.nc"
        xr.Dataset({"x": ("a", [1, 2])}).to_netcdf(path, engine="h5netcdf")
        return outcome_of(lambda: bl.load_fit(path))
    out["load: a foreign netCDF"] = foreign
    out["load: a text file"] = lambda: outcome_of(lambda: bl.load_fit(tmp / "semicolon.csv"))
    out["load: a folder"] = lambda: outcome_of(lambda: bl.load_fit(tmp))

    def metadata():
        import h5py

        path = tmp / "meta.nc"
        fit.save(path)
        with h5py.File(path, "r+") as handle:
            del handle.attrs["settings"]
        return outcome_of(lambda: bl.load_fit(path))
    out["load: metadata attribute removed"] = metadata

    def other_law():
        path = tmp / "law.nc"
        fit.save(path)
        loaded = bl.load_fit(path, law=bl.get_law("kaplan"))
        loaded.predict(N=1e9, D=2e10)
    out["load with another law"] = lambda: outcome_of(other_law)

    def per_draw():
        result = fit.predict(N=1e9, D=2e10, draws=True)
        return ("clear", "per-draw rows") if "draw" in result and len(result) == 200 else ("silent", "draws=True ignored")
    out["predict(draws=True)"] = lambda: outcome_of_value(per_draw)
    out["predict with C beside N and D"] = lambda: outcome_of(lambda: fit.predict(N=1e9, D=2e10, C=1e30))
    out["predict with lr on a fit without penalty"] = lambda: outcome_of(lambda: fit.predict(N=1e9, D=2e10, lr=1e-3))
    out["predict with an unknown name"] = lambda: outcome_of(lambda: fit.predict(N=1e9, D=2e10, steps=3))
    out["predict with a negative N"] = lambda: outcome_of(lambda: fit.predict(N=-1e9, D=2e10))
    out["load_runs columns={'c': 'flops'}"] = lambda: outcome_of(lambda: bl.load_runs(runs.rename(columns={"C": "flops"}), columns={"c": "flops"}))
    out["load_runs columns={'foo': 'C'}"] = lambda: outcome_of(lambda: bl.load_runs(runs, columns={"foo": "C"}))
    out["load_runs frame with a repeated column"] = lambda: outcome_of(
        lambda: bl.load_runs(pd.DataFrame([[1e9, 2e10, 2.5, 2.6]], columns=["N", "D", "loss", "loss"])))
    for setting, value in (("draws", 0), ("chains", 0), ("warmup", 0), ("target_accept", 1.5), ("init", "median")):
        out[f"fit {setting}={value!r}"] = (lambda s=setting, v=value: outcome_of(lambda: bl.fit(runs, progress=False, **{s: v})))
    one_size = runs.assign(N=1e9, C=6e9 * runs["D"])
    out["fit: all runs at one N"] = lambda: outcome_of(lambda: bl.fit(one_size, **TINY), UserWarning)
    sweep = bl.simulate_sweep(seed=0, n_lr=4, n_batch=3).runs.drop(columns="diverged")
    out["penalty fit, batch in sequences, no preset"] = lambda: outcome_of(
        lambda: bl.fit(sweep.assign(batch_size=sweep["batch_size"] / 2048), penalty="lr,batch_size", **TINY))

    def offline():
        from bayeslaws.datasets import fetch

        def no_network(url, dest):
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        saved, fetch._fetch = fetch._fetch, no_network
        home = tmp / "home"
        try:
            kind, text = outcome_of(lambda: bl.datasets.download("obsscaling2024", data_home=home))
        finally:
            fetch._fetch = saved
        if home.exists() and kind == "clear":
            return "silent", f"left {sorted(p.name for p in home.rglob('*'))} behind; {text}"
        return kind, text
    out["datasets.download offline"] = offline
    return out


def outcome_of_value(call):
    try:
        return call()
    except Exception as error:  # noqa: BLE001
        return ("clear" if isinstance(error, CLEAR_ERRORS) else "unclear"), f"{type(error).__name__}: {error}"


def run() -> pd.DataFrame:
    warnings.simplefilter("ignore")
    zoo = bl.simulate(seed=9, n_budgets=3, runs_per_budget=8)
    runs = zoo.runs.assign(note=["a", None] * 12, run_id=[f"run-{i}" for i in range(24)])
    fit = bl.fit(runs, **TINY)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        zoo_csv = tmp / "zoo.csv"
        zoo.runs.to_csv(zoo_csv, index=False)
        for name, case in cases(tmp, zoo_csv, fit, zoo.runs).items():
            result = case()
            kind, text = result if isinstance(result, tuple) else ("silent", "no outcome")
            rows.append({"case": name, "outcome": kind, "message": " ".join(str(text).split())[:140]})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    os.environ.setdefault("BAYESLAWS_DATA_HOME", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    table = run()
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 140, "display.width", 250):
        print(table.to_string(index=False))
    print("\ncounts:", table["outcome"].value_counts().to_dict(), f"of {len(table)} cases", file=sys.stderr)
