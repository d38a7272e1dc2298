"""The inference room: NUTS (nuts), its Laplace start (laplace), the compiled-program caches
(compile_cache), convergence checks (diagnostics), the DataTree (tree), many fits at once (many)
and simulation-based calibration (sbc)."""

from .compile_cache import set_compile_cache
from .diagnostics import ConvergenceWarning
from .nuts import SamplerSettings, sample

__all__ = ["ConvergenceWarning", "SamplerSettings", "sample", "set_compile_cache"]
