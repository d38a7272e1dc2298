"""The command line: the --json contract, the demo, and bad input without tracebacks."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws.cli import main

SAMPLER = ["--chains", "4", "--warmup", "500", "--draws", "500"]


@pytest.fixture(scope="module")
def user_csv(tmp_path_factory):
    zoo = bl.simulate(seed=21)
    frame = zoo.runs.rename(columns={"N": "params", "D": "tokens", "loss": "val_loss"}).drop(columns=["C"])
    path = tmp_path_factory.mktemp("cli") / "runs.csv"
    frame.to_csv(path, index=False)
    return path


def test_fit_json_matches_the_contract(user_csv, tmp_path, capsys):
    residuals = tmp_path / "residuals.csv"
    code = main(["fit", str(user_csv), "--law", "chinchilla", "--columns", "N=params,D=tokens,loss=val_loss",
                 "--predict", "N=7e10,D=1.4e12", "--predict", "N=1e9,D=2e10", "--seed", "1", "--json",
                 "--residuals", str(residuals), *SAMPLER])
    captured = capsys.readouterr()
    assert code == 0
    report = json.loads(captured.out)
    assert set(report) == {"law", "n_runs", "parameters", "predictions", "diagnostics", "seconds"}
    assert report["law"] == "chinchilla" and report["n_runs"] == 240
    assert set(report["parameters"]) >= {"A", "B", "E", "alpha", "beta"}
    for stats in report["parameters"].values():
        assert set(stats) == {"mean", "median", "sd", "q05", "q95", "r_hat", "ess_bulk"}
        assert stats["q05"] <= stats["median"] <= stats["q95"]
    assert [(p["N"], p["D"]) for p in report["predictions"]] == [(7e10, 1.4e12), (1e9, 2e10)]
    for p in report["predictions"]:
        assert set(p["loss"]) == {"median", "q05", "q95"}
    assert report["predictions"][0]["loss"]["median"] < report["predictions"][1]["loss"]["median"]
    assert set(report["diagnostics"]) == {"divergences", "max_r_hat", "min_ess_bulk"}
    assert isinstance(report["diagnostics"]["divergences"], int)
    assert report["seconds"] > 0
    assert "NUTS" in captured.err  # progress goes to stderr, never into the JSON
    table, given = pd.read_csv(residuals), pd.read_csv(user_csv)  # one row per run, in the CSV's order
    assert len(table) == len(given) and (table["loss"] == given["val_loss"]).all()  # canonical names
    assert {"fitted", "residual", "z", "pit", "covered"} <= set(table.columns)
    assert table["residual"].abs().median() < 0.02 and table["covered"].mean() > 0.8


def test_fit_passes_the_discrepancy_and_noise_terms_and_checks_them_before_fitting(user_csv, monkeypatch, capsys):
    """`bayeslaws fit --discrepancy [AMPLITUDE] [--discrepancy-lengthscale L] [--noise-by COLUMN]
    [--target-accept P]` reaches bl.fit as its terms and sampler setting; a target without the
    --noise-by column, a lengthscale without the term, or P outside (0, 1) exits 2 before any fit."""
    seen = []

    def stop(runs, **options):
        seen.append({k: options.get(k) for k in ("discrepancy", "terms", "target_accept")})
        raise ValueError("stopped before fitting")

    monkeypatch.setattr(bl, "fit", stop)
    columns = ["--columns", "N=params,D=tokens,loss=val_loss"]
    assert main(["fit", str(user_csv), *columns, "--discrepancy"]) == 2
    assert main(["fit", str(user_csv), *columns, "--discrepancy", "0.02", "--discrepancy-lengthscale", "0.5",
                 "--target-accept", "0.99"]) == 2
    assert main(["fit", str(user_csv), *columns, "--noise-by", "N", "--predict", "N=1e9,D=2e10"]) == 2
    assert seen == [{"discrepancy": bl.Discrepancy(), "terms": None, "target_accept": None},
                    {"discrepancy": bl.Discrepancy(amplitude=0.02, lengthscale=0.5), "terms": None, "target_accept": 0.99},
                    {"discrepancy": None, "terms": (bl.NoiseScale("N"),), "target_accept": None}]
    capsys.readouterr()
    assert main(["fit", str(user_csv), *columns, "--noise-by", "epochs", "--predict", "N=1e9,D=2e10"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert main(["fit", str(user_csv), *columns, "--discrepancy-lengthscale", "0.5"]) == 2
    assert "give --discrepancy too" in capsys.readouterr().err
    assert main(["fit", str(user_csv), *columns, "--target-accept", "1.5"]) == 2
    assert "target_accept must lie strictly between 0 and 1" in capsys.readouterr().err
    assert len(seen) == 3


def test_suggest_json_lists_the_chosen_runs_and_refuses_a_bad_exponent_before_sampling(user_csv, tmp_path, capsys):
    pool = bl.isoflop_candidates([1e21, 1e22], sizes_per_budget=3)
    pool_csv = tmp_path / "pool.csv"
    pool.rename(columns={"N": "params", "D": "tokens"}).to_csv(pool_csv, index=False)
    command = ["suggest", str(user_csv), "--candidates", str(pool_csv), "--columns", "N=params,D=tokens,loss=val_loss",
               "--target", "C=1e24", "--k", "2", "--json", *SAMPLER]
    assert main([*command, "--cost-exponent", "1.5"]) == 2
    captured = capsys.readouterr()
    assert "cost_exponent must lie in [0, 1]" in captured.err and "NUTS" not in captured.err
    assert main([*command, "--cost-exponent", "0.4"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cost_exponent"] == 0.4 and report["strategy"] == "suggest"
    chosen = pd.DataFrame(report["chosen"])
    assert len(chosen) == 2 and set(zip(chosen["N"], chosen["D"])) <= set(zip(pool["N"], pool["D"]))
    assert (chosen["cumulative_cost"].diff().dropna() > 0).all()
    assert chosen["target_sd_after"].iloc[-1] < chosen["target_sd_before"].iloc[0]


def test_bad_input_exits_nonzero_with_message_and_no_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("params,tokens,val_loss\n1e8,2e9,3.1\n2e8,-4e9,2.9\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bayeslaws.cli", "fit", str(path), "--columns", "N=params,D=tokens,loss=val_loss", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "column 'tokens' (used as D) must be positive but is not at row 1" in proc.stderr
    assert "Traceback" not in proc.stderr


def _buffered_env() -> dict:
    """This environment without PYTHONUNBUFFERED: stdout into a pipe or file is then block-buffered."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def test_command_process_flushes_everything_before_its_fast_exit():
    # `bayeslaws` (cli.run) leaves with os._exit, skipping the interpreter's teardown: its output,
    # block-buffered into a pipe, must be flushed first, and the status kept.
    catalogue = json.loads((Path(bl.__file__).parent / "laws" / "catalogue.json").read_text())
    proc = subprocess.run([sys.executable, "-m", "bayeslaws.cli", "laws"], capture_output=True, text=True, timeout=60,
                          env=_buffered_env())
    assert proc.returncode == 0
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(catalogue)
    with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as handle:
        assert tomllib.load(handle)["project"]["scripts"]["bayeslaws"] == "bayeslaws.cli:run"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (a device that is always full)")
def test_command_output_that_cannot_be_written_is_an_error():
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "bayeslaws.cli", "laws"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60, env=_buffered_env())
    assert proc.returncode == 120
    assert proc.stderr.startswith("bayeslaws: error: could not write the output") and "Traceback" not in proc.stderr


def test_missing_file_and_unknown_law_are_clean_errors(user_csv, capsys):
    assert main(["fit", "/nonexistent/runs.csv", "--json"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["fit", str(user_csv), "--law", "nope", "--columns", "N=params,D=tokens,loss=val_loss"]) == 2
    assert "unknown law 'nope'" in capsys.readouterr().err
    assert main(["fit", str(user_csv), "--likelihood", "t", "--columns", "N=params,D=tokens,loss=val_loss"]) == 2
    assert "unknown likelihood 't'" in capsys.readouterr().err


def test_demo_writes_its_plot(tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path / "out"), *SAMPLER]) == 0
    out = capsys.readouterr().out
    plot = tmp_path / "out" / "demo_fit.png"
    assert plot.is_file() and plot.stat().st_size > 20_000
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Forecast for a Chinchilla-sized run" in out and str(plot.resolve()) in out


def test_bundled_zoo_is_exactly_what_its_command_makes(tmp_path):
    from bayeslaws.synthetic.bundled import NAME, default_zoo_files, write_default_zoo

    csv, meta = default_zoo_files()
    write_default_zoo(tmp_path)
    made, bundled = pd.read_csv(tmp_path / f"{NAME}.csv"), pd.read_csv(csv)
    # Equal to 1e-12: the last printed digit of a float can differ between CPUs (vectorised exp/log).
    pd.testing.assert_frame_equal(made, bundled, check_exact=False, rtol=1e-12)
    assert json.loads((tmp_path / f"{NAME}.json").read_text()) == json.loads(meta.read_text())
