"""The exported samplers shipped with the package (bayeslaws/inference/prebuilt): those of the
default fit, ``bl.fit(runs)`` or ``bayeslaws fit runs.csv`` (chinchilla, Student-t likelihood,
default priors and sampler settings, on CPU), at every padded size whose fit is not long enough to
show its progress (a program with a progress callback cannot be exported). A first fit of that
kind then skips its Python tracing (about a second) even with an empty cache, if JAX and NumPyro
are the versions the programs were made with (MANIFEST says which; other versions trace as before).

``python -m bayeslaws.results.prebuilt`` rewrites them; tests/test_prebuilt.py fails when they
are stale (an edit to the sampler, the model builder or the law, or other default priors).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import jax

from ..inference import compile_cache
from ..synthetic import simulate
from .fitting import fit

SIZES = (16, 64, 256, 512, 1024)  # runs: the padded sizes (model.arrays.SHAPE_BUCKETS) of short default fits
MANIFEST = "manifest.json"


def default_zoo(runs: int):
    """A simulated zoo of ``runs`` runs (a multiple of 8), whose default fit pads to ``runs``."""
    return simulate(n_budgets=8, runs_per_budget=runs // 8, seed=0).runs


def build(folder: Path = compile_cache.PREBUILT, sizes=SIZES) -> dict:
    """Fit a default zoo of each size with empty caches, keep the program each fit exported in
    folder (replacing what was there) and write its manifest: the versions, and file name -> runs.
    Run it in a new process: a program this process compiled already is not exported again."""
    folder = Path(folder)
    programs = {}
    with tempfile.TemporaryDirectory() as scratch:
        kept = Path(scratch) / "kept"
        kept.mkdir()
        compile_cache.PREBUILT = Path(scratch) / "none"  # export every program, whatever ships now
        jax.config.update("jax_traceback_in_locations_limit", 0)  # no source paths of this machine in them
        for runs in sizes:
            cache = Path(scratch) / f"cache{runs}"
            compile_cache.set_compile_cache(cache)
            fit(default_zoo(runs), progress=False)
            made = sorted((cache / "exported").glob("*.jaxexport"))
            if len(made) != 1:
                raise RuntimeError(f"the default fit of {runs} runs exported {len(made)} programs, not 1")
            shutil.copy(made[0], kept / made[0].name)
            programs[made[0].name] = runs
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(kept, folder)
    manifest = {"made_with": compile_cache.versions(), "programs": programs}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=compile_cache.PREBUILT)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="runs per fit, comma-separated")
    args = parser.parse_args(argv)
    manifest = build(args.folder, [int(size) for size in args.sizes.split(",")])
    print(f"{len(manifest['programs'])} programs in {args.folder}, made with {manifest['made_with']}")


if __name__ == "__main__":
    main()
