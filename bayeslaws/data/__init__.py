"""Run tables (validated zoos of training runs) and summaries of posterior draws.

The lowest room of the package: it imports nothing else from bayeslaws.
"""

from .designs import isoflop_grid
from .runs import (
    RunTable,
    RunTableError,
    TooFewRunsError,
    check_enough_runs,
    check_error_column,
    check_has_columns,
    check_positive_columns,
    load_runs,
)
from .summaries import finite_quantiles, quantile_name, summarise_draws

__all__ = [
    "RunTable",
    "RunTableError",
    "TooFewRunsError",
    "check_enough_runs",
    "check_error_column",
    "check_has_columns",
    "check_positive_columns",
    "finite_quantiles",
    "isoflop_grid",
    "load_runs",
    "quantile_name",
    "summarise_draws",
]
