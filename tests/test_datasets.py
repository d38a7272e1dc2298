import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayeslaws.datasets as ds
from bayeslaws.datasets import fetch, integrity, loaders, registry
from bayeslaws.datasets.home import ENV_VAR, resolve_data_home

# scaling/constants.py::SUBSET of mlfoundations/scaling: the paper's 17-task split.
GADRE_SUBSET17 = [
    "bigbench_operators", "pubmed_qa_labeled", "hellaswag_zeroshot", "boolq", "arc_easy", "coqa",
    "bigbench_dyck_languages", "lambada_openai", "bigbench_novel_concepts", "winograd",
    "bigbench_cs_algorithms", "commonsense_qa", "bigbench_qa_wikidata", "hellaswag", "copa",
    "squad", "piqa",
]


def err_columns(frame):
    return [c for c in frame.columns if c.startswith("err_")]


def assert_errors_in_unit_interval(frame):
    values = frame[err_columns(frame)].to_numpy(dtype=float)
    finite = values[~np.isnan(values)]
    assert finite.size > 0 and finite.min() >= 0.0 and finite.max() <= 1.0


def copy_dataset(data_home: Path, name: str, dest_home: Path) -> Path:
    """Writable copy of one dataset folder (the originals are read-only)."""
    folder = registry.get_spec(name).folder
    for src in (data_home / folder).rglob("*"):
        if src.is_file():
            dest = dest_home / folder / src.relative_to(data_home / folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())
    return dest_home / folder


# ---------------------------------------------------------------- registry


def test_list_needs_no_data_and_shows_every_table(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty"))
    table = ds.list()
    assert list(table.columns) == ["name", "table", "rows", "license", "citation", "description"]
    assert set(table["name"]) == {"gadre2024", "porian2024", "datablations2023", "obsscaling2024",
                                  "pythia", "colpret", "multipower_luo2025"}
    assert len(table) == sum(len(spec.tables) for spec in registry.DATASETS.values()) == 12
    printed = repr(table)
    for row in table.itertuples():
        assert row.name in printed and row.citation in printed and row.license in printed
        assert str(row.rows) in printed
    counts = dict(zip(table["name"] + "/" + table["table"], table["rows"]))
    assert counts["gadre2024/models"] == 104
    assert counts["datablations2023/final_losses"] == 296
    assert counts["obsscaling2024/base_models"] == 148
    assert counts["multipower_luo2025/curves"] == 4162


def test_registry_hashes_match_the_curated_files(data_home):
    for spec in registry.DATASETS.values():
        for file, file_spec in spec.files.items():
            path = data_home / spec.folder / file
            assert integrity.sha256_hex(path.read_bytes()) == file_spec.sha256, path


def test_metadata_is_plain_json(data_home):
    runs = ds.load("gadre2024", data_home=data_home)
    meta = json.loads(json.dumps(runs.metadata))
    assert meta["dataset"] == "gadre2024" and meta["table"] == "models"
    assert meta["license"] == "MIT" and "2403.08540" in meta["citation"]
    assert meta["source"]["commit"] == "a003c4913793ac2ae7ef87b28ecb562955d026d5"
    assert "including embeddings" in meta["units"]["N"]


# ---------------------------------------------------------------- loaders


def test_gadre2024(data_home):
    runs = ds.load("gadre2024", data_home=data_home)
    f = runs.frame
    assert len(f) == 104 and f["run_id"].is_unique
    assert 1e7 < f["N"].min() < 1.1e7 and 6.8e9 < f["N"].max() < 7e9
    assert f["family"].value_counts().to_dict() == {"rpj": 35, "rw_original": 35, "c4_original": 34}
    np.testing.assert_allclose(f["C"], 6 * f["N"] * f["D"], rtol=1e-15)  # C = 6ND (paper)
    np.testing.assert_allclose(f["D"] / f["N"], 20 * f["chinchilla_multiplier"], rtol=1e-3)
    assert 2.3 < f["loss"].min() and f["loss"].max() < 6.2
    tasks = [c for c in err_columns(f) if not c.startswith("err_avg")]
    assert len(tasks) == 46
    assert_errors_in_unit_interval(f)
    np.testing.assert_allclose(f["err_avg46"], f[tasks].mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(f["err_avg17"], f[[f"err_{t}" for t in GADRE_SUBSET17]].mean(axis=1), atol=1e-12)
    # err = 1 - accuracy of the upstream eval JSONs
    for run in f.itertuples():
        if run.Index % 25:
            continue
        path = data_home / "gadre2024_overtraining/exp_data/evals" / f"evaluation_{run.run_id}_heavy.json"
        accuracy = json.loads(path.read_text())["eval_metrics"]["icl"]
        assert len(accuracy) == 46
        for task, acc in accuracy.items():
            assert f.loc[run.Index, f"err_{task}"] == pytest.approx(1 - acc, abs=1e-12)
    # the 5 fitting runs per training set: 4 small shapes at M = 20, d=96 at M = 320
    small = f["model_name"].str.startswith("d=")
    fit = f[small & ((f["chinchilla_multiplier"] == 1) | ((f["model_name"] == "d=96_l=8_h=4") & (f["chinchilla_multiplier"] == 16)))]
    assert fit.groupby("family").size().to_dict() == {"c4_original": 5, "rpj": 5, "rw_original": 5}


def test_gadre_exact_flops_in_file(data_home):
    """flops_6ND overflows int64: check 6 * params * tokens with Python integers."""
    raw = pd.read_csv(data_home / "gadre2024_overtraining/gadre2024_models_tidy.csv", dtype=str)
    assert all(int(c) == 6 * int(n) * int(d) for c, n, d in zip(raw["flops_6ND"], raw["params"], raw["tokens"]))


def test_porian2024(data_home):
    points = ds.load("porian2024", "isoflop_points", data_home=data_home).frame
    assert len(points) == 1745 and points["family"].nunique() == 15
    np.testing.assert_allclose(points["C"], 6 * points["N"] * points["D"], rtol=1e-8)
    assert 3e5 < points["N"].min() and points["N"].max() < 1e9
    pairs = ds.load("porian2024", "optimal_pairs", data_home=data_home).frame
    assert len(pairs) == 177 and pairs["n_star"].isna().sum() == 4 and "N" not in pairs
    fits = ds.load("porian2024", "fit_results", data_home=data_home).frame
    assert len(fits) == 60
    # the weighted log-log fit of N*(C) reproduces the authors' exponents (paper table: a)
    published = {("rw", "Reproducing Kaplan et al."): 0.835, ("rw", "Optimizer tuning (no decay)"): 0.497,
                 ("owt2", "Reproducing Kaplan et al."): 0.864, ("owt2", "Optimizer tuning (no decay)"): 0.518}
    for (dataset, label), a in published.items():
        sel = pairs[(pairs["dataset"] == dataset) & (pairs["label"] == label)].dropna(subset=["n_star"])
        slope = np.polyfit(np.log(sel["C"]), np.log(sel["n_star"]), 1, w=1 / sel["n_star_std"])[0]
        row = fits[(fits["dataset"] == dataset) & (fits["label"] == label) & (fits["variant"] == "bs_median_weighted")]
        assert slope == pytest.approx(row["n_exponent"].item(), abs=1e-6)
        assert round(slope, 3) == a


def test_datablations2023(data_home):
    runs = ds.load("datablations2023", data_home=data_home)
    f = runs.frame
    assert len(f) == 296 and f["run_id"].is_unique
    assert 7e6 < f["N"].min() < 7.2e6 and f["N"].max() == 8.67e9
    assert f["D"].min() == 1e8 and f["D"].max() == 9e11
    np.testing.assert_allclose(f["epochs"], f["D"] / f["unique_tokens"], rtol=1e-6)  # 6 decimals
    np.testing.assert_allclose(f["C"], 6 * f["N"] * f["D"])
    # PROVENANCE check values: published Chinchilla fit evaluated (no fitting) on this CSV
    a, b, e, alpha = 6.255414, 7.3049974, 0.6254804, 0.3526596
    pred = np.exp(e) + np.exp(a) / f["N"] ** alpha + np.exp(b) / f["D"] ** alpha

    def r2(mask):
        y = f["loss"][mask]
        return 1 - ((y - pred[mask]) ** 2).sum() / ((y - y.mean()) ** 2).sum()

    assert r2(f["epochs"] > 0) == pytest.approx(0.00364, abs=5e-6)
    assert (f["epochs"] <= 44).sum() == 202 and r2(f["epochs"] <= 44) == pytest.approx(0.61818, abs=5e-6)


def test_obsscaling2024(data_home):
    f = ds.load("obsscaling2024", data_home=data_home).frame
    assert len(f) == 148 and f["family"].nunique() == 47 and f["run_id"].is_unique
    assert "loss" not in f and "D" not in f and "C" not in f
    assert f["N"].min() > 1e7 and f["N"].max() > 1e10  # raw counts, not billions
    llama = f.set_index("run_id").loc["meta-llama/Llama-2-7b-hf"]
    assert (llama["N"], llama["tokens"], llama["flops"]) == (7e9, 2e12, 8.4e22)
    known = f["tokens"].notna()
    assert known.sum() == 123 and f["flops"].notna().sum() == 123  # 25 unknown rows kept
    np.testing.assert_allclose(f["flops"][known], 6 * f["N"][known] * f["tokens"][known], rtol=1e-12)
    assert len(err_columns(f)) == 8
    assert_errors_in_unit_interval(f)
    missing = f[["err_arc_c", "err_xwinograd", "err_humaneval"]].isna().sum().tolist()
    assert missing == [3, 16, 21]


def test_pythia(data_home):
    f = ds.load("pythia", data_home=data_home).frame
    assert len(f) == 672 and f["run_id"].is_unique and f["model"].nunique() == 16
    assert f.groupby(["model", "num_fewshot"]).size().unstack().to_dict("list") == {0: [27] * 16, 5: [15] * 16}
    assert f.loc[f["model"] == "pythia-70m", "N"].iloc[0] == 70_426_624
    assert f["N"].max() == 11_846_072_320
    np.testing.assert_array_equal(f["tokens"], f["step"] * 2_097_152)
    assert_errors_in_unit_interval(f)
    final = f[(f["step"] == 143000) & (f["num_fewshot"] == 0)].sort_values("N")
    for _, family in final.groupby("family"):
        assert family["lambada_openai_ppl"].is_monotonic_decreasing
    ppl = final.set_index("model")["lambada_openai_ppl"]
    assert round(ppl["pythia-70m"], 2) == 142.43 and round(ppl["pythia-12b"], 2) == 3.92


def test_colpret(data_home):
    gpt3 = ds.load("colpret", "gpt3_curves", data_home=data_home).frame
    assert len(gpt3) == 12097 and gpt3["N"].nunique() == 8
    assert gpt3["loss_split"].value_counts().to_dict() == {"val": 6506, "train": 5591}
    assert 9e9 < gpt3["D"].min() and gpt3["D"].max() < 3.01e11
    assert set(gpt3.loc[gpt3["model"] == "175b", "N"]) == {175e9}
    opt = ds.load("colpret", "opt_trajectories", data_home=data_home).frame
    assert len(opt) == 142 and opt["N"].max() == 175e9
    np.testing.assert_allclose(opt["C"], 6 * opt["N"] * opt["D"], rtol=1e-9)
    olmo = ds.load("colpret", "olmo_checkpoints", data_home=data_home).frame
    assert len(olmo) == 1708 and set(olmo["family"]) == {"OLMo-1B", "OLMo-7B", "OLMo-7B-Twin-2T"}
    np.testing.assert_array_equal(olmo["D"], olmo["step"] * 4e6)
    assert olmo["tokens_revision"].isna().sum() == 181
    ratio = (olmo["tokens_revision"] / olmo["step"])[olmo["step"] > 50_000].dropna()
    assert ratio.between(4.3e6, 4.5e6).all()
    curves = ds.load("colpret", "datablations_curves", data_home=data_home).frame
    assert len(curves) == 9261 and set(curves["family"]) == {"c4", "oscar"}
    assert set(curves["N"]) == {2.8e9, 4.2e9, 8.7e9} and "flops" not in curves
    np.testing.assert_allclose(curves["C"], 6 * curves["N"] * curves["D"])


def test_unknown_names(data_home):
    with pytest.raises(KeyError, match="known"):
        ds.load("nope", data_home=data_home)
    with pytest.raises(KeyError, match="tables"):
        ds.load("porian2024", "nope", data_home=data_home)


# ---------------------------------------------------------------- data home


def test_data_home_resolution(monkeypatch, tmp_path, data_home):
    monkeypatch.setenv(ENV_VAR, str(data_home))
    assert resolve_data_home() == data_home
    assert len(ds.load("obsscaling2024")) == 148
    assert resolve_data_home(tmp_path) == tmp_path
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert resolve_data_home() == tmp_path / "bayeslaws" / "datasets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert resolve_data_home() == Path.home() / ".cache" / "bayeslaws" / "datasets"


def test_missing_data_home_says_how_to_get_it(tmp_path):
    home = tmp_path / "nowhere"
    with pytest.raises(ds.DatasetNotFoundError) as info:
        ds.load("obsscaling2024", data_home=home)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "download('obsscaling2024')" in message and ENV_VAR in message and "data_home=" in message
    with pytest.raises(ds.DatasetNotFoundError) as info:
        ds.load("gadre2024", data_home=home)
    message = str(info.value)
    assert "cannot be downloaded" in message and "shared/datasets/gadre2024_overtraining" in message
    assert ENV_VAR in message and "download(" not in message


# ---------------------------------------------------------------- integrity


@pytest.mark.parametrize("damage", ["one_byte", "truncated"])
def test_damaged_file_is_refused_before_parsing(data_home, tmp_path, monkeypatch, damage):
    folder = copy_dataset(data_home, "obsscaling2024", tmp_path)
    path = folder / "base_llm_benchmark_eval.csv"
    data = bytearray(path.read_bytes())
    if damage == "one_byte":
        data[len(data) // 2] ^= 1
    else:
        data = data[: len(data) - 200]
    path.write_bytes(bytes(data))

    def no_parsing(*args, **kwargs):
        raise AssertionError("a damaged file was parsed")

    monkeypatch.setattr(integrity.pd, "read_csv", no_parsing)
    with pytest.raises(ds.DatasetIntegrityError) as info:
        ds.load("obsscaling2024", data_home=tmp_path)
    expected = registry.get_spec("obsscaling2024").files[path.name].sha256
    message = str(info.value)
    assert str(path) in message and expected in message
    assert integrity.sha256_hex(bytes(data)) in message


def test_row_count_is_checked_after_parsing(data_home, monkeypatch):
    spec = registry.get_spec("obsscaling2024")
    file = "base_llm_benchmark_eval.csv"
    monkeypatch.setitem(spec.files, file, replace(spec.files[file], rows=149))
    with pytest.raises(ds.DatasetIntegrityError, match="expected 149 rows"):
        ds.load("obsscaling2024", data_home=data_home)


# ---------------------------------------------------------------- download


def mirror_upstream(data_home: Path, name: str, root: Path) -> None:
    """Lay out a dataset's upstream files as raw.githubusercontent.com would serve them."""
    spec = registry.get_spec(name)
    for file, file_spec in spec.files.items():
        if file_spec.upstream:
            dest = root / spec.repo / spec.commit / file_spec.upstream
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_home / spec.folder / file, dest)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    root = tmp_path / "mirror"
    monkeypatch.setattr(fetch, "RAW_URL", root.as_uri() + "/{repo}/{commit}/{path}")
    return root


def test_download_verifies_and_installs(data_home, tmp_path, mirror, monkeypatch):
    mirror_upstream(data_home, "obsscaling2024", mirror)
    home = tmp_path / "home"
    paths = ds.download("obsscaling2024", data_home=home)
    assert paths == [home / "obsscaling_ruan2024" / "base_llm_benchmark_eval.csv"]
    assert len(ds.load("obsscaling2024", data_home=home)) == 148

    def no_fetch(url, dest):
        raise AssertionError("a verified file was fetched again")

    monkeypatch.setattr(fetch, "_fetch", no_fetch)
    ds.download("obsscaling2024", data_home=home)


def test_download_with_wrong_hash_deletes_the_file(data_home, tmp_path, mirror):
    mirror_upstream(data_home, "obsscaling2024", mirror)
    spec = registry.get_spec("obsscaling2024")
    served = mirror / spec.repo / spec.commit / "eval_results/base_llm_benchmark_eval.csv"
    served.write_bytes(served.read_bytes().replace(b"Llama-2", b"Llama-3", 1))
    home = tmp_path / "home"
    with pytest.raises(ds.DatasetIntegrityError, match="expected"):
        ds.download("obsscaling2024", data_home=home)
    assert not (home / spec.folder).exists()  # nothing left behind: no file, no empty folder


def test_curator_derived_files_cannot_be_downloaded(data_home, tmp_path, mirror):
    with pytest.raises(ds.DatasetNotDownloadableError, match="derived by the dataset curators"):
        ds.download("gadre2024", data_home=tmp_path)
    mirror_upstream(data_home, "colpret", mirror)
    with pytest.warns(UserWarning, match="gpt3_metadata.csv"):
        paths = ds.download("colpret", data_home=tmp_path)
    assert len(paths) == 4
    assert len(ds.load("colpret", "opt_trajectories", data_home=tmp_path)) == 142
    with pytest.raises(ds.DatasetNotFoundError, match=r"gpt3_metadata.csv \(derived by the dataset curators\)"):
        ds.load("colpret", "gpt3_curves", data_home=tmp_path)


# ---------------------------------------------------------------- multipower_luo2025

MULTIPOWER_STEMS = ["cosine_24000", "cosine_72000", "constant_24000", "constant_72000", "wsd_20000_24000",
                    "wsdld_20000_24000", "wsdcon_3", "wsdcon_9", "wsdcon_18"]


def test_multipower_luo2025_rows_and_run_ids(data_home):
    runs = ds.load("multipower_luo2025", data_home=data_home)
    f = runs.frame
    assert runs.metadata["table"] == "curves" and "2503.12811" in runs.metadata["citation"]
    assert len(f) == 4162 and not f[["run_id", "step"]].duplicated().any()
    assert f.groupby(["family", "split"]).size().to_dict() == {
        ("25M", "train"): 437, ("25M", "test"): 1622, ("100M", "train"): 451, ("100M", "test"): 1652}
    assert f.groupby("family")["N"].unique().map(list).to_dict() == {"25M": [25e6], "100M": [100e6]}
    assert set(f["run_id"]) == {f"{size}/{stem}" for size in ("25M", "100M") for stem in MULTIPOWER_STEMS}
    assert set(f.loc[f["split"] == "train", "run_id"].str.split("/").str[1]) == {
        "cosine_24000", "constant_24000", "wsdcon_9"}
    counts = f.groupby("run_id").size()
    assert counts["25M/cosine_72000"] == 546 and counts["25M/wsd_20000_24000"] == 170
    assert counts["25M/wsdcon_9"] == 95 and counts["100M/wsdcon_9"] == 109  # 25M logs up to 14,144
    assert f.loc[0, "run_id"] == "25M/cosine_24000" and f.loc[0, "step"] == 2160
    raw = pd.read_csv(data_home / "multipower_luo2025/csv_100/wsdld_20000_24000.csv")
    sel = f[f["run_id"] == "100M/wsdld_20000_24000"]
    np.testing.assert_array_equal(sel[["step", "lr", "loss"]].to_numpy(), raw[["step", "lr", "loss"]].to_numpy())


def test_multipower_luo2025_schedules_and_lr(data_home):
    f = ds.load("multipower_luo2025", data_home=data_home).frame
    schedule = f.groupby("run_id")["schedule"].unique().map(list)
    assert (schedule.map(len) == 1).all()
    assert schedule["25M/wsd_20000_24000"] == [
        "wsd:warmup=2160,peak=3e-4,total=24000,decay_start=20000,final=3e-5,shape=geometric"]
    assert schedule["100M/wsdcon_18"] == ["step:warmup=2160,peak=3e-4,total=16000,drop_at=8000,to=18e-5"]
    assert schedule["100M/cosine_72000"] == ["cosine:warmup=2160,peak=3e-4,total=72000,final=3e-5"]
    assert all(s[0].split(":")[1].startswith("warmup=2160,peak=3e-4,") for s in schedule)
    # peak 3e-4 at step 2160: logged there by the cosine runs; the others log from 2176 and
    # hold 3e-4 there (the first logged point of every run)
    first = f.groupby("run_id").first()
    assert (first["lr"] == 3e-4).all() and first["step"].between(2160, 2176).all()
    at_2160 = f[f["step"] == 2160]
    assert set(at_2160["run_id"].str.split("/").str[1]) == {"cosine_24000", "cosine_72000"}
    assert (at_2160["lr"] == 3e-4).all()
    # the step drop: 3e-4 before step 8000, X * 1e-5 from it
    wsdcon = f[f["run_id"] == "25M/wsdcon_9"]
    assert (wsdcon.loc[wsdcon["step"] < 8000, "lr"] == 3e-4).all()
    assert (wsdcon.loc[wsdcon["step"] >= 8000, "lr"] == 9e-5).all()


def test_multipower_luo2025_upstream_eval_flag(data_home):
    f = ds.load("multipower_luo2025", data_home=data_home).frame
    assert f["upstream_eval"].dtype == bool
    assert f["upstream_eval"].all() and not (f["step"] == 24000).any()  # no file logs step 24,000
    # a point at step 24,000 is flagged in the 24,000-step runs only, and kept
    point = pd.DataFrame({"step": [23936, 24000], "lr": [3e-4, 3e-4], "loss": [3.35, 3.34]})
    frames = {"csv_25/constant_24000.csv": point, "csv_25/constant_72000.csv": point,
              "csv_100/wsdld_20000_24000.csv": point}
    out = loaders.multipower_luo2025_curves(frames).frame
    assert len(out) == 6
    assert out.groupby("run_id")["upstream_eval"].apply(list).to_dict() == {
        "25M/constant_24000": [True, False], "25M/constant_72000": [True, True],
        "100M/wsdld_20000_24000": [True, False]}
