"""The persistent JAX compilation cache: compiled samplers are reused across processes.

On by default, in ``$BAYESLAWS_CACHE_DIR`` or ``$XDG_CACHE_HOME/bayeslaws/jax`` (else
``~/.cache/bayeslaws/jax``). Set ``BAYESLAWS_COMPILE_CACHE=0`` or call
``set_compile_cache(None)`` to turn it off. This is the package's only global state.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

_state = {"configured": False}


def default_cache_dir() -> Path:
    if os.environ.get("BAYESLAWS_CACHE_DIR"):
        return Path(os.environ["BAYESLAWS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bayeslaws" / "jax"


def set_compile_cache(path: str | os.PathLike | None) -> None:
    """Use ``path`` for JAX's persistent compilation cache, or turn it off with None."""
    _state["configured"] = True
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
