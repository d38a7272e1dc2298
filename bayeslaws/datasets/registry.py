"""The dataset registry: sources, licenses, files with SHA-256, tables with row counts.

Hashes and counts were computed from the curated collection (shared/datasets); nothing here
needs the data files. ``upstream`` is a file's path in the source repository at the pinned
commit, or None when the curators derived the file (it cannot be downloaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import pandas as pd

from . import loaders


@dataclass(frozen=True)
class FileSpec:
    sha256: str
    rows: int  # data rows parsed by pandas
    n_columns: int
    columns: tuple[str, ...]  # the columns the loader relies on
    upstream: str | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    files: tuple[str, ...]
    rows: int  # rows of the returned run table
    loader: Callable[[loaders.Frames], loaders.Prepared]
    description: str
    units: Mapping[str, str]
    also_cite: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folder: str
    repo: str  # GitHub owner/name
    commit: str
    license: str
    citation: str
    files: Mapping[str, FileSpec]
    tables: tuple[TableSpec, ...]

    @property
    def repo_url(self) -> str:
        return f"https://github.com/{self.repo}"

    def table(self, name: str | None) -> TableSpec:
        """The named table, or the first (default) one when ``name`` is None."""
        if name is None:
            return self.tables[0]
        for table in self.tables:
            if table.name == name:
                return table
        names = [t.name for t in self.tables]
        raise KeyError(f"dataset '{self.name}' has no table '{name}'; tables: {names}")


_N_RAW = "parameters, raw count"

_PORIAN_CONFIG = ("dataset", "label")

DATASETS: dict[str, DatasetSpec] = {}


def _register(spec: DatasetSpec) -> None:
    DATASETS[spec.name] = spec


_register(DatasetSpec(
    name="gadre2024",
    folder="gadre2024_overtraining",
    repo="mlfoundations/scaling",
    commit="a003c4913793ac2ae7ef87b28ecb562955d026d5",
    license="MIT",
    citation="Gadre et al. 2024, arXiv:2403.08540",
    files={
        "gadre2024_models_tidy.csv": FileSpec(
            "b09c2c53f4f1cbd513346d6ee2a2fbbfd9e5bb77316a00ec3b9cc38c97473c84", 104, 89,
            ("name", "dataset", "model_name", "params", "tokens", "flops_6ND",
             "chinchilla_multiplier", "loss_c4_val", "err_avg46", "err_avg17")),
    },
    tables=(TableSpec(
        "models", ("gadre2024_models_tidy.csv",), 104, loaders.gadre2024_models,
        "over-training testbed: 3 datasets x small shapes at M=D/N 5..640, plus 1.4B and 6.9B runs",
        {"N": f"{_N_RAW}, including embeddings (params_no_embed excludes them)",
         "D": "training tokens, raw count", "C": "FLOPs = 6 N D", "loss": "C4 eval loss, nats",
         "loss_*": "other validation splits, nats", "err_*": "1 - top-1 accuracy",
         "chinchilla_multiplier": "M / 20, where M = D / N", "lr": "peak learning rate"}),),
))

_register(DatasetSpec(
    name="porian2024",
    folder="porian2024_resolving",
    repo="formll/resolving-scaling-law-discrepancies",
    commit="0dc60d91b8a525858a3067fc9e4a46ff5374cc6f",
    license="MIT",
    citation="Porian et al. 2024, arXiv:2406.19146",
    files={
        "porian2024_isoflop_points.csv": FileSpec(
            "250053dd7aec284125e278788e7345a7d91efc1d1dec18618c07aaaa5060f2ae", 1745, 12,
            (*_PORIAN_CONFIG, "param_count", "loss_split", "flops", "n", "t", "loss")),
        "porian2024_optimal_pairs.csv": FileSpec(
            "d5a638fd135652575f8089f7bd55bed50b4135d3e66e1a017618e84ce62c87e5", 177, 18,
            (*_PORIAN_CONFIG, "flops", "n_star", "t_star", "loss_star", "n_star_std")),
        "porian2024_fit_results.csv": FileSpec(
            "ddf4559e725d700d31d017d9862826976cee8dad9e3d84a15b7f6b6af7841b5e", 60, 24,
            (*_PORIAN_CONFIG, "variant", "n_exponent", "n_exponent_ci95_lo", "n_exponent_ci95_hi")),
    },
    tables=(
        TableSpec(
            "isoflop_points", ("porian2024_isoflop_points.csv",), 1745, loaders.porian2024_isoflop_points,
            "every IsoFLOP-curve point of 15 configurations (RefinedWeb, OpenWebText2)",
            {"N": f"{_N_RAW}, counted per param_count (kaplan: non-embedding)",
             "D": "tokens = C / (6 N)", "C": "FLOPs budget, 1.25e16 ... 2.56e19",
             "loss": "nats; train or val per loss_split"}),
        TableSpec(
            "optimal_pairs", ("porian2024_optimal_pairs.csv",), 177, loaders.porian2024_optimal_pairs,
            "compute-optimal N*, D*, L* per configuration and budget (4 budgets without one)",
            {"C": "FLOPs budget", "n_star": f"{_N_RAW} (NaN where no optimum)",
             "t_star": "tokens", "loss_star": "nats", "*_std": "bootstrap std of the log"}),
        TableSpec(
            "fit_results", ("porian2024_fit_results.csv",), 60, loaders.porian2024_fit_results,
            "authors' power-law fits N*(C), D*(C), L*(C): 15 configurations x 4 variants",
            {"n_exponent": "a in N* = n_coef * C^a (C in FLOPs)", "A, E, alpha": "L*(C) = E + A C^-alpha"}),
    ),
))

_register(DatasetSpec(
    name="datablations2023",
    folder="datablations_muennighoff2023",
    repo="huggingface/datablations",
    commit="13701315b163f1c54642b94ad237b2699187c3ee",
    license="Apache-2.0",
    citation="Muennighoff et al. 2023, arXiv:2305.16264",
    files={
        "datablations_final_val_losses.csv": FileSpec(
            "4433c5a805cc1cf614388bd5f40eb5106edaef6c8579f2a59320e2d73d0174cb", 296, 7,
            ("run_key", "params", "tokens", "unique_tokens", "epochs", "val_loss")),
    },
    tables=(TableSpec(
        "final_losses", ("datablations_final_val_losses.csv",), 296, loaders.datablations2023_final_losses,
        "final C4 validation losses of data-constrained runs, 1 to 9000 epochs",
        {"N": f"{_N_RAW} as parsed by the authors from run names", "D": "training tokens incl. repeats",
         "unique_tokens": "tokens in the unique subset", "epochs": "D / unique_tokens",
         "loss": "C4 validation loss, nats", "C": "FLOPs = 6 N D"}),),
))

_register(DatasetSpec(
    name="obsscaling2024",
    folder="obsscaling_ruan2024",
    repo="ryoungj/ObsScaling",
    commit="4d6e1e43fd2635d04654aa77d1df9d5266ea0382",
    license="Apache-2.0",
    citation="Ruan et al. 2024, arXiv:2405.10938",
    files={
        "base_llm_benchmark_eval.csv": FileSpec(
            "511996815735a4c46251dc585dcc525e370d148201f86561e6f927f9df2d0db8", 148, 13,
            ("Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)",
             *loaders.OBSSCALING_BENCHMARKS),
            upstream="eval_results/base_llm_benchmark_eval.csv"),
    },
    tables=(TableSpec(
        "base_models", ("base_llm_benchmark_eval.csv",), 148, loaders.obsscaling2024_base_models,
        "8 benchmarks for 148 public base LLMs of 47 families (no loss)",
        {"N": f"{_N_RAW} = Model Size (B) * 1e9", "tokens": "training tokens (NaN for 25 models)",
         "flops": "training FLOPs = 6 N tokens (NaN for 25 models)", "err_*": "1 - accuracy"}),),
))

_register(DatasetSpec(
    name="pythia",
    folder="pythia_evals",
    repo="EleutherAI/pythia",
    commit="a19eecb807ec2c79a39ebf18108816e6ffffc1d5",
    license="Apache-2.0",
    citation="Biderman et al. 2023, arXiv:2304.01373",
    files={
        "pythia_v1_evals_tidy.csv": FileSpec(
            "2f54c1706223da86da4a70f46bf9f1d19f1eae9539b707e7670c48e59717bc3c", 10080, 15,
            (*loaders.PYTHIA_KEYS, "task", "metric", "value", "stderr")),
    },
    tables=(TableSpec(
        "checkpoint_evals", ("pythia_v1_evals_tidy.csv",), 672, loaders.pythia_checkpoint_evals,
        "downstream evals over training checkpoints, 8 sizes x {standard, deduped}",
        {"N": f"{_N_RAW}, untied embeddings included", "step": "optimizer step (0 ... 143000)",
         "tokens": "step * 2,097,152", "err_*": "1 - accuracy",
         "lambada_openai_ppl": "perplexity of the final word"}),),
))

_register(DatasetSpec(
    name="colpret",
    folder="colpret_hitchhiker_subset",
    repo="IBM/ColPret",
    commit="16f23bbe054277ddc4afd07a972dd7cfbe3f48c3",
    license="MIT",
    citation="Choshen et al. 2024, arXiv:2410.11840",
    files={
        "gpt3_extracted.csv": FileSpec(
            "ea73b550de60d8b278523fa69385df0c2892546f8820aea12b4d1fe2d4f98962", 12097, 4,
            ("model", "step", "train_loss", "val_loss"), upstream="raw_data/gpt3/extracted.csv"),
        "gpt3_metadata.csv": FileSpec(
            "e185a340ad28fd382243e15a7a2bd28d0dc0ef151edfe19b77dc84e87b324bad", 8, 12,
            ("extracted_model_key", "model_name", "num_params_int", "num_layers", "d_model",
             "num_heads", "head_dim", "batch_size_tokens_int", "lr_float")),
        "opt_trajectories.csv": FileSpec(
            "c3a53ccc7a412f0caff4179ce484acf1c2aab36b25677473658f094362449ff5", 142, 6,
            ("model_name", "model_size", "steps", "num_token", "flops", "ppl"),
            upstream="aggregated_eval/opt_trajectories.csv"),
        "olmo.csv": FileSpec(
            "008a3a0ff6a6f0832ecbe6498e1720f17864f23ffda4a9ce3239bf2ceec0ad8a", 1708, 66,
            ("Step", "model_name", "num_params", "checkpoint"), upstream="aggregated_eval/olmo.csv"),
        "datablations_losses.csv": FileSpec(
            "b3c448c2cd1a17128e06ee3120a9c377c4e2bf649e09b2446db59f98ef957b48", 9261, 10,
            ("index", "data", "epochs", "token_num", "loss", "num_params", "tokens_per_epoch", "flops"),
            upstream="aggregated_eval/datablations_losses.csv"),
    },
    tables=(
        TableSpec(
            "gpt3_curves", ("gpt3_extracted.csv", "gpt3_metadata.csv"), 12097, loaders.colpret_gpt3_curves,
            "GPT-3 train/val loss curves digitised from the paper, 8 sizes",
            {"N": f"{_N_RAW}, nominal (paper Table 2.1)", "D": "tokens seen", "loss": "nats",
             "batch_size": "tokens", "lr": "peak learning rate"},
            also_cite=("Brown et al. 2020, arXiv:2005.14165",)),
        TableSpec(
            "opt_trajectories", ("opt_trajectories.csv",), 142, loaders.colpret_opt_trajectories,
            "OPT validation perplexity along training, 125M to 175B",
            {"N": f"{_N_RAW}, nominal from the size label", "D": "tokens seen", "C": "FLOPs",
             "loss": "ln(ppl), nats", "step": "optimizer step"},
            also_cite=("Xia et al. 2023, arXiv:2212.09803",)),
        TableSpec(
            "olmo_checkpoints", ("olmo.csv",), 1708, loaders.colpret_olmo_checkpoints,
            "OLMo-1B/7B/7B-Twin-2T checkpoint losses and downstream accuracies (no canonical loss)",
            {"N": f"{_N_RAW}, nominal (1B, 7B)", "D": "tokens = step * 4e6 (ColPret convention)",
             "tokens_revision": "tokens from the HF revision name, rounded to 1e9",
             "*/CrossEntropyLoss": "nats", "downstream/*": "accuracy (not converted)"},
            also_cite=("Groeneveld et al. 2024, arXiv:2402.00838",)),
        TableSpec(
            "datablations_curves", ("datablations_losses.csv",), 9261, loaders.colpret_datablations_curves,
            "training-loss curves of 2.8B/4.2B/8.7B datablations runs, C4 and OSCAR, 1-44 epochs",
            {"N": f"{_N_RAW}, nominal from num_params", "D": "tokens seen so far",
             "loss": "training loss, nats", "C": "FLOPs = 6 N D", "tokens_per_epoch": "unique tokens"},
            also_cite=("Muennighoff et al. 2023, arXiv:2305.16264",)),
    ),
))

# file -> (sha256, rows); byte copies of loss_curve_repo/<file> upstream, columns step, lr, loss
_MULTIPOWER_FILES = {
    "csv_25/cosine_24000.csv": ("554e35f9efbe28a614c9ae1121b3bf55490df6b72a5898957f68a52770038e3a", 171),
    "csv_25/cosine_72000.csv": ("af3b25a485966a0f7fc34824774cf8ec85af14848a6dc7b64d6a8d3d044befa5", 546),
    "csv_25/constant_24000.csv": ("5a7c0b440751e258e7199eeefe9f0ae58520a2f2d64c5f81524d8d375f75f0ce", 171),
    "csv_25/constant_72000.csv": ("99ee51a9be7b7fb71511d0af28edd6bc6221350d2ad26a66c615467cb5c83247", 546),
    "csv_25/wsd_20000_24000.csv": ("8649b7de4b4b31db5c35f4ff0458af9472a50168177de6372c3ceb37ace9fc62", 170),
    "csv_25/wsdld_20000_24000.csv": ("8e3a9ae33ed586e5040a114fad215f4f245c6a2ff7d96f61cba02ccd8b74b3e7", 170),
    "csv_25/wsdcon_3.csv": ("3d37fcf82c237e5c1ba2ee34c4b9e606ecba781536d4fea9a7dde5463207fc3d", 95),
    "csv_25/wsdcon_9.csv": ("b7579f38b5e175d9e9dc9b9598b409efdf2cba0a68819857ba28649c242c2bd8", 95),
    "csv_25/wsdcon_18.csv": ("9b9bd40f519d20ecbf540d4c9451f6a01b7b379b1d335407ba4651025cc5926f", 95),
    "csv_100/cosine_24000.csv": ("dd544dc61a11fa138c98ac0b673d5512287062d2d2d2e9c2867976abc8c46e69", 171),
    "csv_100/cosine_72000.csv": ("2e637203b48b3e3a84063f49035cde2f6a40c69ecd15d95b6551774b9a279f44", 546),
    "csv_100/constant_24000.csv": ("034a75e2415373a9be1097e9d406f98524344f4718d200d3a188dcbd5115103b", 171),
    "csv_100/constant_72000.csv": ("52b5752009e1e4c396f15016e98897238fccb3816f58576ea944f03fe529dbc3", 546),
    "csv_100/wsd_20000_24000.csv": ("e66df98c85dba705ebc85512c6a09a8ebec5675878a20d4d783c0bf80d031002", 171),
    "csv_100/wsdld_20000_24000.csv": ("0ef6b02e260ff5efa51a5885655ead8cf126a7e9c4ea3034d403e11852c06fe2", 171),
    "csv_100/wsdcon_3.csv": ("a1cbb8c730ae0628d69bb1d7aefadbad5cda5f6a92272f85203cd33d7b8f4912", 109),
    "csv_100/wsdcon_9.csv": ("510256497a0ea9d4270919fb37c56140e1b4d07e50b96b46334891ba316f144e", 109),
    "csv_100/wsdcon_18.csv": ("33cfea673dc0efde9e4fd74cc47d8daabdebfdc6d5a2659835bd780347f6e651", 109),
}

_register(DatasetSpec(
    name="multipower_luo2025",
    folder="multipower_luo2025",
    repo="thu-yao-01-luo/MultiPowerLaw",
    commit="8da9f1902602f3391b971a811e3cc51604541769",
    license="MIT",
    citation="Luo et al. 2025, arXiv:2503.12811",
    files={
        file: FileSpec(sha256, rows, 3, ("step", "lr", "loss"), upstream=f"loss_curve_repo/{file}")
        for file, (sha256, rows) in _MULTIPOWER_FILES.items()
    },
    tables=(TableSpec(
        "curves", tuple(_MULTIPOWER_FILES), 4162, loaders.multipower_luo2025_curves,
        "loss curves of 25M and 100M models under 9 learning-rate schedules (cosine, constant, WSD, "
        "step drop), every logged point; split = upstream's train (cosine_24000, constant_24000, "
        "wsdcon_9) or test; upstream_eval = False for a point at step 24,000 of a 24,000-step run "
        "(upstream's evaluation drops it; none of these files logs one)",
        {"N": f"{_N_RAW}, nominal (the 25M / 100M folder names)", "step": "optimizer step",
         "lr": "learning rate at that step (not the peak)", "loss": "training loss, nats per token",
         "schedule": "KIND:key=value,... (warmup, peak, total, ...; steps and learning rates)"}),),
))


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset '{name}'; known: {sorted(DATASETS)}") from None


class DatasetList(pd.DataFrame):
    """``list_datasets()``'s frame; printing shows name, table, rows, license and citation in full."""

    def __repr__(self) -> str:
        shown = ["name", "table", "rows", "license", "citation"]
        return pd.DataFrame(self).to_string(columns=shown, index=False)


def list_datasets() -> DatasetList:
    """One row per dataset table: name, table, rows, license, citation, description."""
    rows = [
        {"name": spec.name, "table": table.name, "rows": table.rows, "license": spec.license,
         "citation": spec.citation, "description": table.description}
        for spec in DATASETS.values()
        for table in spec.tables
    ]
    return DatasetList(rows)
