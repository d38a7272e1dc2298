"""IsoFLOP designs: at each compute budget, model sizes around 20 tokens per parameter."""

from __future__ import annotations

import numpy as np
import pandas as pd

COMPUTE_PER_TOKEN_PARAM = 6.0  # C = 6 N D [FLOPs]
TOKENS_PER_PARAMETER = 20.0  # the centre of each isoFLOP curve (Chinchilla's rule of thumb)


def isoflop_grid(budgets, sizes_per_budget: int = 10, size_span: float = 1.0) -> pd.DataFrame:
    """Runs N [parameters], D [tokens], C [FLOPs]: at each budget C, sizes_per_budget model sizes
    log-spaced over +-size_span decades around D/N = 20, with D = C / (6N)."""
    budgets = np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    offsets = np.linspace(-size_span, size_span, sizes_per_budget)
    C = np.repeat(budgets, sizes_per_budget)
    N = np.sqrt(C / (COMPUTE_PER_TOKEN_PARAM * TOKENS_PER_PARAMETER)) * 10 ** np.tile(offsets, len(budgets))
    return pd.DataFrame({"N": N, "D": C / (COMPUTE_PER_TOKEN_PARAM * N), "C": C})
