"""One function per dataset table: verified raw frames in, canonical run-table columns out.

Each loader receives ``frames`` (file name -> DataFrame, already checked against the
registry) and returns a :class:`Prepared` table for :func:`bayeslaws.data.load_runs`.
Canonical columns (see ``bayeslaws.data``): N [parameters, raw count], D [tokens, raw
count], C [FLOPs], loss [nats], err_* [1 - accuracy, in [0, 1]]. The validator refuses
missing values in N, D, C and loss, so a quantity that is unknown for some rows stays under
a non-canonical name (with NaN) instead of rows being dropped; each docstring says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

Frames = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class Prepared:
    """A frame plus the ``columns`` and ``required`` arguments for ``load_runs``."""

    frame: pd.DataFrame
    columns: Mapping[str, str]
    required: tuple[str, ...]


def parse_size(label: str) -> float:
    """Nominal parameter count from a size label: '125m' -> 1.25e8, '2.8B' -> 2.8e9."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([mMbB])\s*", label)
    if match is None:
        raise ValueError(f"cannot read a parameter count from size label {label!r}")
    return float(match.group(1)) * {"m": 1e6, "b": 1e9}[match.group(2).lower()]


def gadre2024_models(frames: Frames) -> Prepared:
    """104 runs: N = params (raw, incl. embeddings), D = tokens, loss = loss_c4_val [nats],
    C = flops_6ND = 6ND, family = dataset (c4_original, rpj, rw_original), run_id = name.

    err_<task> (46 tasks), err_avg46 and err_avg17 are the tidy file's columns, unchanged.
    ``global_bs`` (sequences of 2048 tokens; 1 for the 7B runs upstream) is not mapped to
    batch_size.
    """
    frame = frames["gadre2024_models_tidy.csv"].copy()
    # 6ND exceeds int64 for the larger runs, so pandas reads Python ints; use float64.
    frame["flops_6ND"] = frame["flops_6ND"].astype("float64")
    columns = {"N": "params", "D": "tokens", "loss": "loss_c4_val", "C": "flops_6ND",
               "family": "dataset", "run_id": "name"}
    return Prepared(frame, columns, ("N", "D", "loss", "C"))


def _porian(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["family"] = frame["dataset"] + "/" + frame["label"]
    return frame


def porian2024_isoflop_points(frames: Frames) -> Prepared:
    """1,745 IsoFLOP points: C = flops [FLOPs], N = n, D = t = C / (6 N), loss [nats; train or
    val per ``loss_split``]. N counts parameters per ``param_count`` (kaplan = non-embedding,
    standard = incl. output layer, attention = effective incl. attention FLOPs).
    family = "<dataset>/<label>" names one of the 15 configurations.
    """
    columns = {"N": "n", "D": "t", "C": "flops"}
    return Prepared(_porian(frames["porian2024_isoflop_points.csv"]), columns, ("N", "D", "loss", "C"))


def porian2024_optimal_pairs(frames: Frames) -> Prepared:
    """177 compute-optimal points: C = flops; n_star, t_star, loss_star stay under their own
    names because 4 budgets have no estimated optimum (NaN); *_std are bootstrap log-stds.
    """
    return Prepared(_porian(frames["porian2024_optimal_pairs.csv"]), {"C": "flops"}, ("C",))


def porian2024_fit_results(frames: Frames) -> Prepared:
    """60 fits (15 configurations x 4 variants) of N*(C) = n_coef C^n_exponent etc.; no runs."""
    return Prepared(_porian(frames["porian2024_fit_results.csv"]), {}, ())


def datablations2023_final_losses(frames: Frames) -> Prepared:
    """296 runs: N = params, D = tokens (incl. repeats), loss = val_loss [nats, C4 val],
    run_id = run_key; unique_tokens and epochs = D / unique_tokens carried along; C = 6ND.
    """
    columns = {"N": "params", "D": "tokens", "loss": "val_loss", "run_id": "run_key"}
    return Prepared(frames["datablations_final_val_losses.csv"], columns, ("N", "D", "loss"))


OBSSCALING_BENCHMARKS = {
    "MMLU": "mmlu", "ARC-C": "arc_c", "HellaSwag": "hellaswag", "Winograd": "winograd",
    "TruthfulQA": "truthfulqa", "GSM8K": "gsm8k", "XWinograd": "xwinograd", "HumanEval": "humaneval",
}


def obsscaling2024_base_models(frames: Frames) -> Prepared:
    """148 base models of 47 families: N = Model Size (B) * 1e9, family = Model Family,
    run_id = Model, err_<bench> = 1 - accuracy (HumanEval: 1 - pass@1; NaN where not evaluated).

    There is no loss. Training tokens and compute are unknown for 25 models, so they are
    kept as non-canonical ``tokens`` = Pretraining Data Size (T) * 1e12 and ``flops`` =
    FLOPs (1E21) * 1e21 (= 6 N tokens) with NaN there: no D or C column, no row dropped.
    """
    raw = frames["base_llm_benchmark_eval.csv"]
    frame = raw[["Model", "Model Family"]].copy()
    frame["N"] = raw["Model Size (B)"] * 1e9
    frame["tokens"] = raw["Pretraining Data Size (T)"] * 1e12
    frame["flops"] = raw["FLOPs (1E21)"] * 1e21
    for column, bench in OBSSCALING_BENCHMARKS.items():
        frame[f"err_{bench}"] = 1.0 - raw[column]
    return Prepared(frame, {"family": "Model Family", "run_id": "Model"}, ("N",))


PYTHIA_KEYS = ["model", "size_label", "deduped", "bf16", "params_total", "params_nonembedding",
               "step", "tokens", "num_fewshot", "hf_revision"]
PYTHIA_SUFFIX = {"acc": "", "acc_norm": "_norm", "ppl": "_ppl"}


def pythia_checkpoint_evals(frames: Frames) -> Prepared:
    """672 rows, one per (model, checkpoint step, 0- or 5-shot), from the long tidy file:
    N = params_total (raw, untied embeddings), step = optimizer step, family = pythia or
    pythia-deduped, run_id = "<model>/step<step>/<k>-shot".

    err_<task> = 1 - acc, err_<task>_norm = 1 - acc_norm, lambada_openai_ppl = perplexity
    (ln of it is a loss in nats); stderr_<same name> = the harness standard error (none for
    mmlu_avg). ``tokens`` = step * 2,097,152 stays non-canonical because step 0 has 0 tokens.
    """
    long = frames["pythia_v1_evals_tidy.csv"]
    is_accuracy = (long["metric"] != "ppl").to_numpy()
    name = long["task"] + long["metric"].map(PYTHIA_SUFFIX)
    long = long.assign(
        column=np.where(is_accuracy, "err_" + name, name),
        value=np.where(is_accuracy, 1.0 - long["value"], long["value"]),
    )
    values = long.pivot(index=PYTHIA_KEYS, columns="column", values="value")
    stderr = long.pivot(index=PYTHIA_KEYS, columns="column", values="stderr")
    stderr.columns = ["stderr_" + c.removeprefix("err_") for c in stderr.columns]
    frame = pd.concat([values, stderr], axis=1).reset_index()
    frame.columns.name = None
    frame["family"] = np.where(frame["deduped"], "pythia-deduped", "pythia")
    frame["run_id"] = (frame["model"] + "/step" + frame["step"].astype(str) + "/"
                       + frame["num_fewshot"].astype(str) + "-shot")
    return Prepared(frame, {"N": "params_total"}, ("N",))


def colpret_gpt3_curves(frames: Frames) -> Prepared:
    """12,097 digitised GPT-3 curve points: D = step [billions of tokens] * 1e9, loss =
    train_loss or val_loss [nats] (``loss_split`` says which), N = num_params_int (nominal,
    paper Table 2.1), batch_size [tokens], lr, family = GPT-3; ``model`` names the curve.
    """
    curves = frames["gpt3_extracted.csv"]
    sizes = frames["gpt3_metadata.csv"][
        ["extracted_model_key", "model_name", "num_params_int", "num_layers", "d_model",
         "num_heads", "head_dim", "batch_size_tokens_int", "lr_float"]]
    frame = curves.merge(sizes, left_on="model", right_on="extracted_model_key", how="left",
                         validate="many_to_one")
    frame["tokens"] = curves["step"] * 1e9
    frame["loss"] = curves["train_loss"].fillna(curves["val_loss"])
    frame["loss_split"] = np.where(curves["train_loss"].notna(), "train", "val")
    frame["family"] = "GPT-3"
    frame = frame.drop(columns=["step", "train_loss", "val_loss", "extracted_model_key"])
    columns = {"N": "num_params_int", "D": "tokens", "batch_size": "batch_size_tokens_int", "lr": "lr_float"}
    return Prepared(frame, columns, ("N", "D", "loss"))


def colpret_opt_trajectories(frames: Frames) -> Prepared:
    """142 OPT checkpoints: N = nominal size from model_size, D = 10**num_token, C =
    10**flops (= 6ND), loss = ln(ppl) [nats], step = steps, family = OPT. The log10 columns
    are kept as log10_tokens and log10_flops.
    """
    raw = frames["opt_trajectories.csv"]
    frame = raw.rename(columns={"num_token": "log10_tokens", "flops": "log10_flops", "model_name": "family"})
    frame["N"] = raw["model_size"].map(parse_size)
    frame["D"] = 10.0 ** raw["num_token"]
    frame["C"] = 10.0 ** raw["flops"]
    frame["loss"] = np.log(raw["ppl"])
    return Prepared(frame, {"step": "steps"}, ("N", "D", "loss", "C"))


OLMO_TOKENS_PER_STEP = 4e6


def colpret_olmo_checkpoints(frames: Frames) -> Prepared:
    """1,708 OLMo checkpoints: N = nominal 1e9 / 7e9 from num_params, step = Step,
    D = Step * 4e6 (ColPret's convention), family = model_name stripped of spaces.

    No canonical loss: the many ``*-validation/CrossEntropyLoss`` [nats] columns are each
    missing for some rows. ``tokens_revision`` = tokens from the HF revision string
    (e.g. step1000-tokens4B, rounded to 1e9; NaN for the 181 rows without one); it implies
    about 4.42e6 tokens per step, so D is about 10% below it.
    """
    raw = frames["olmo.csv"]
    frame = raw.copy()
    frame["family"] = raw["model_name"].str.strip()
    frame["N"] = raw["num_params"].map(parse_size)
    frame["D"] = raw["Step"] * OLMO_TOKENS_PER_STEP
    frame["tokens_revision"] = raw["checkpoint"].str.extract(r"tokens(\d+)B")[0].astype("float64") * 1e9
    return Prepared(frame, {"step": "Step"}, ("N", "D"))


def colpret_datablations_curves(frames: Frames) -> Prepared:
    """9,261 training-loss points of the 2.8B/4.2B/8.7B datablations runs: N = nominal size
    from num_params, D = token_num (tokens seen), loss [nats, train], family = data (c4 or
    oscar); epochs and tokens_per_epoch carried along. C = 6ND; the upstream ``flops`` column
    (not a compute count: it decreases along a run) and the pandas ``index`` are dropped.
    """
    raw = frames["datablations_losses.csv"]
    frame = raw.drop(columns=["index", "flops"])
    frame["N"] = raw["num_params"].map(parse_size)
    return Prepared(frame, {"D": "token_num", "family": "data"}, ("N", "D", "loss"))


# Luo et al. 2025 (Multi-Power Law): one CSV per run, csv_<size>/<schedule>.csv.
MULTIPOWER_SIZES = {"csv_25": "25M", "csv_100": "100M"}
MULTIPOWER_WARMUP, MULTIPOWER_PEAK, MULTIPOWER_FINAL = "warmup=2160", "peak=3e-4", "final=3e-5"
MULTIPOWER_SCHEDULES = {
    # file stem -> schedule string, grammar KIND:key=value,... (bayeslaws CLI contract)
    "cosine_24000": f"cosine:{MULTIPOWER_WARMUP},{MULTIPOWER_PEAK},total=24000,{MULTIPOWER_FINAL}",
    "cosine_72000": f"cosine:{MULTIPOWER_WARMUP},{MULTIPOWER_PEAK},total=72000,{MULTIPOWER_FINAL}",
    "constant_24000": f"constant:{MULTIPOWER_WARMUP},{MULTIPOWER_PEAK},total=24000",
    "constant_72000": f"constant:{MULTIPOWER_WARMUP},{MULTIPOWER_PEAK},total=72000",
    "wsd_20000_24000": (f"wsd:{MULTIPOWER_WARMUP},{MULTIPOWER_PEAK},total=24000,decay_start=20000,"
                        f"{MULTIPOWER_FINAL},shape=geometric"),
    "wsdld_20000_24000": (f"wsd:{MULTIPOWER_WARMUP},{MULTIPOWER_PEAK},total=24000,decay_start=20000,"
                          f"{MULTIPOWER_FINAL},shape=linear"),
    **{f"wsdcon_{x}": f"step:{MULTIPOWER_WARMUP},{MULTIPOWER_PEAK},total=16000,drop_at=8000,to={x}e-5"
       for x in (3, 9, 18)},
}
MULTIPOWER_TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")  # upstream's fitting curves
MULTIPOWER_EVAL_DROPPED_STEP = 24000  # upstream's evaluation drops this point of the 24,000-step runs


def multipower_luo2025_curves(frames: Frames) -> Prepared:
    """Loss curves of 18 runs (25M and 100M models x 9 learning-rate schedules), one row per
    logged point, every row of every file kept: step, lr and loss [nats per token] as in the
    files; N = 25e6 or 100e6, the nominal size of the folder name; family = "25M" / "100M";
    run_id = "<size>/<file stem>" (e.g. "25M/cosine_24000") names the run (a curve: its rows
    are its logged steps); schedule = the run's schedule string
    (``MULTIPOWER_SCHEDULES``); split = upstream's train (cosine_24000, constant_24000,
    wsdcon_9) or test; upstream_eval = False for a point at step 24,000 of a 24,000-step run
    (upstream's evaluation drops it), True otherwise. No D: tokens per step are not given.
    """
    parts = []
    for file, raw in frames.items():
        folder, name = file.split("/")
        stem = name.removesuffix(".csv")
        size = MULTIPOWER_SIZES[folder]
        schedule = MULTIPOWER_SCHEDULES[stem]
        frame = raw[["step", "lr", "loss"]].copy()
        frame["run_id"] = f"{size}/{stem}"
        frame["N"] = parse_size(size)
        frame["family"] = size
        frame["schedule"] = schedule
        frame["split"] = "train" if stem in MULTIPOWER_TRAIN else "test"
        runs_24000 = f",total={MULTIPOWER_EVAL_DROPPED_STEP}," in schedule + ","
        frame["upstream_eval"] = ~(runs_24000 & (raw["step"] == MULTIPOWER_EVAL_DROPPED_STEP))
        parts.append(frame)
    frame = pd.concat(parts, ignore_index=True)
    return Prepared(frame, {}, ("N", "loss"))
