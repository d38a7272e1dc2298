"""bayeslaws: Bayesian inference of neural scaling laws.

    runs = bl.load_runs("runs.csv", columns={"N": "params", "D": "tokens", "loss": "val_loss"})
    fit = bl.fit(runs, law="chinchilla")
    fit.predict(N=70e9, D=1.4e12); fit.compute_optimal(C=5.76e23); fit.plot()
"""

# NumPyro's package must initialise before its submodules are imported piecemeal below;
# otherwise numpyro.factor fails inside the sampler (found on numpyro 0.22).
import numpyro  # noqa: F401, I001

from . import datasets
from .compile_cache import set_compile_cache
from .data import RunTable, RunTableError, load_runs
from .diagnostics import ConvergenceWarning
from .downstream import LinkFit, error_draws, fit_joint, fit_link
from .fit import Fit, fit
from .laws import REGISTRY as LAWS
from .laws import Law, get_law
from .links import LINKS, Link, get_link
from .many import ManyFits, fit_many
from .penalties import Penalty
from .simulate import Zoo, simulate
from .simulate_sweeps import simulate_sweep
from .storage import load_fit

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "Fit",
    "LAWS",
    "LINKS",
    "Link",
    "LinkFit",
    "ManyFits",
    "Law",
    "Penalty",
    "RunTable",
    "RunTableError",
    "Zoo",
    "error_draws",
    "fit",
    "fit_joint",
    "fit_link",
    "fit_many",
    "get_law",
    "get_link",
    "load_fit",
    "load_runs",
    "set_compile_cache",
    "datasets",
    "simulate",
    "simulate_sweep",
]
