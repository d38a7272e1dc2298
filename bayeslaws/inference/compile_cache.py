"""Caches that make a new process fit fast: JAX's persistent compilation cache (compiled
XLA code) and exported samplers (the traced program, via jax.export, which spares a new
process the seconds of Python tracing).

On by default, in ``$BAYESLAWS_CACHE_DIR`` or ``$XDG_CACHE_HOME/bayeslaws/jax`` (else
``~/.cache/bayeslaws/jax``). Set ``BAYESLAWS_COMPILE_CACHE=0`` or call
``set_compile_cache(None)`` to turn it off. This is the package's only global state.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import jax

_state = {"configured": False, "dir": None}


def default_cache_dir() -> Path:
    if os.environ.get("BAYESLAWS_CACHE_DIR"):
        return Path(os.environ["BAYESLAWS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bayeslaws" / "jax"


def set_compile_cache(path: str | os.PathLike | None) -> None:
    """Use ``path`` for JAX's persistent compilation cache, or turn it off with None."""
    _state["configured"] = True
    _state["dir"] = None if path is None else Path(path)
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def enable_default() -> None:
    """Turn the cache on at its default place, unless the user configured it already."""
    if _state["configured"]:
        return
    off = os.environ.get("BAYESLAWS_COMPILE_CACHE", "1").lower() in ("0", "false", "off", "no")
    set_compile_cache(None if off else default_cache_dir())


def load_or_export(jitted, example_args: tuple, identity: str, sources):
    """``jitted`` as a program exported once to the cache folder and reloaded in later processes.

    identity must name everything the program depends on besides its code; sources are the
    files of that code (the sampler, the model builder, the law's and terms' modules), hashed
    with the JAX and NumPyro versions, so an edit to an unrelated module keeps the program.
    Without a cache folder, returns ``jitted`` unchanged.
    """
    folder = _state["dir"]
    if folder is None:
        return jitted
    path = folder / "exported" / f"{_digest(identity, sources)}.jaxexport"
    try:
        exported = jax.export.deserialize(bytearray(path.read_bytes()))
    except (OSError, ValueError):
        exported = jax.export.export(jitted)(*example_args)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial_path = path.with_suffix(f".{os.getpid()}.tmp")
        partial_path.write_bytes(exported.serialize())
        partial_path.replace(path)
    return jax.jit(exported.call)


def _digest(identity: str, sources) -> str:
    import numpyro

    digest = hashlib.sha256("|".join([identity, jax.__version__, numpyro.__version__, jax.default_backend()]).encode())
    for source in sorted({Path(s) for s in sources}):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:32]
