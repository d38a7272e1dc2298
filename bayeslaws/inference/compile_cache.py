"""Caches that make a new process fit fast: JAX's persistent compilation cache (compiled
XLA code) and exported samplers (the traced program, via jax.export, which spares a new
process the seconds of Python tracing). The default fit's exported samplers also ship with the
package (``PREBUILT``, written by ``python -m bayeslaws.results.prebuilt``), so that even a first
fit, with both caches empty, skips its tracing.

On by default, in ``$BAYESLAWS_CACHE_DIR`` or ``$XDG_CACHE_HOME/bayeslaws/jax`` (else
``~/.cache/bayeslaws/jax``). Set ``BAYESLAWS_COMPILE_CACHE=0`` or call
``set_compile_cache(None)`` to turn it off. This is the package's only global state.

Both caches are bounded, oldest first out: JAX's compiled programs at ``JAX_CACHE_BYTES``
(trimmed when a process turns the cache on, oldest written first: JAX's own bound would need the
filelock package and a lock on every read), the exported programs at ``EXPORTED_BYTES`` (also
trimmed after each new export, least recently used first: one read from disk counts as a use).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import jax

_state = {"configured": False, "dir": None}
JAX_CACHE_BYTES = 1 << 30  # compiled XLA programs: 0.2-2 MB each
EXPORTED_BYTES = 256 << 20  # exported programs: about 0.15 MB each
PREBUILT = Path(__file__).parent / "prebuilt"  # read-only exported programs shipped with the package


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
    trim(Path(path), JAX_CACHE_BYTES, "*-cache")
    trim(Path(path) / "exported", EXPORTED_BYTES)


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
    A program missing from the cache folder is read from PREBUILT when shipped there (same name),
    else exported. Without a cache folder, returns ``jitted`` unchanged.
    """
    folder = _state["dir"]
    if folder is None:
        return jitted
    name = f"{digest(identity, sources)}.jaxexport"
    path = folder / "exported" / name
    exported = _read(path)
    if exported is not None:
        with contextlib.suppress(OSError):  # a cache others share read-only still serves
            path.touch()  # used: the last to be trimmed
    else:
        exported = _read(PREBUILT / name)
    if exported is None:
        exported = _export(jitted, example_args, path)
    return jax.jit(exported.call)


def _read(path: Path):
    """The exported program at path, or None when there is none (or it cannot be read)."""
    try:
        return jax.export.deserialize(bytearray(path.read_bytes()))
    except (OSError, ValueError):
        return None


def _export(jitted, example_args: tuple, path: Path):
    """jitted exported at the example's shapes, written to path (atomically) and returned."""
    exported = jax.export.export(jitted)(*example_args)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_suffix(f".{os.getpid()}.tmp")
    partial_path.write_bytes(exported.serialize())
    partial_path.replace(path)
    trim(path.parent, EXPORTED_BYTES)
    return exported


def trim(folder: Path, max_bytes: int, pattern: str = "*.jaxexport") -> None:
    """Delete the files of folder matching pattern, oldest modified first, until they take at most
    max_bytes. Another process may delete or replace a file meanwhile: such files are skipped."""
    entries = []
    for path in folder.glob(pattern):
        try:
            info = path.stat()
        except OSError:
            continue
        entries.append((info.st_mtime, info.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
            total -= size


def versions() -> dict:
    """What an exported program depends on besides its identity and sources."""
    import numpyro

    return {"jax": jax.__version__, "numpyro": numpyro.__version__, "backend": jax.default_backend()}


def digest(identity: str, sources, made_with: dict | None = None) -> str:
    """The file name (without suffix) of an exported program: a hash of its identity, the
    versions it was made with (default: this process's, see versions) and its sources' contents."""
    made_with = made_with or versions()
    hasher = hashlib.sha256("|".join([identity, made_with["jax"], made_with["numpyro"], made_with["backend"]]).encode())
    for source in sorted({Path(s) for s in sources}):
        hasher.update(source.read_bytes())
    return hasher.hexdigest()[:32]
