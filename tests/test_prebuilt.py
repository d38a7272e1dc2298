"""The exported samplers shipped with the package (bayeslaws.results.prebuilt): current, used by a
first fit with an empty cache, and drawing exactly what a freshly traced sampler draws."""

import json
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import bayeslaws as bl
from bayeslaws.inference import compile_cache, nuts
from bayeslaws.results import prebuilt


class Exported(Exception):
    """Raised instead of exporting: carries what the program's file name is made of."""


def exported_program(monkeypatch, runs) -> tuple[str, list]:
    """(identity, sources) of the program a default fit of runs would export, without tracing it."""
    def stop(jitted, example_args, identity, sources):
        raise Exported(identity, sources)

    monkeypatch.setattr(compile_cache, "load_or_export", stop)
    monkeypatch.setattr(compile_cache, "_state", {"configured": True, "dir": "unused"})
    monkeypatch.setattr(nuts, "_COMPILED", OrderedDict())  # not compiled in this worker yet
    with pytest.raises(Exported) as caught:
        bl.fit(runs, progress=False)
    return caught.value.args


def test_the_prebuilt_samplers_are_those_of_the_default_fit(monkeypatch):
    """Each shipped program is the one a default fit of its size would export now. If this fails
    (the sampler, model builder, chinchilla law or default priors changed), rewrite them:
    python -m bayeslaws.results.prebuilt"""
    manifest = json.loads((compile_cache.PREBUILT / prebuilt.MANIFEST).read_text())
    assert sorted(manifest["programs"].values()) == list(prebuilt.SIZES)
    shipped = {p.name for p in compile_cache.PREBUILT.iterdir()} - {prebuilt.MANIFEST}
    assert shipped == set(manifest["programs"])
    for name, runs in manifest["programs"].items():
        identity, sources = exported_program(monkeypatch, prebuilt.default_zoo(runs))
        assert f"'mask': (({runs},)" in identity
        assert f"{compile_cache.digest(identity, sources, manifest['made_with'])}.jaxexport" == name, \
            "stale prebuilt samplers: python -m bayeslaws.results.prebuilt"


@pytest.mark.slow
def test_a_first_fit_uses_the_prebuilt_sampler_and_draws_as_a_traced_one(tmp_path, monkeypatch):
    """With an empty cache, a default fit reads its program from the prebuilt folder (it exports
    nothing), and its draws equal those of a sampler traced in this process with no cache at all."""
    folder = tmp_path / "prebuilt"
    subprocess.run([sys.executable, "-m", "bayeslaws.results.prebuilt", "--folder", str(folder), "--sizes", "16"],
                   check=True, capture_output=True, text=True)
    assert len(list(folder.glob("*.jaxexport"))) == 1
    zoo = prebuilt.default_zoo(16)
    draws = {}
    for case, cache in (("prebuilt", tmp_path / "cache"), ("traced", None)):
        monkeypatch.setattr(compile_cache, "PREBUILT", folder)
        monkeypatch.setattr(compile_cache, "_state", {"configured": True, "dir": cache})
        monkeypatch.setattr(nuts, "_COMPILED", OrderedDict())
        draws[case] = bl.fit(zoo, progress=False).posterior
    assert not (tmp_path / "cache" / "exported").exists()
    for name in ("A", "alpha", "E", "nu"):
        np.testing.assert_array_equal(draws["prebuilt"][name].values, draws["traced"][name].values)
