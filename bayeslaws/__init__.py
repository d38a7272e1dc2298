"""bayeslaws: Bayesian inference of neural scaling laws.

    runs = bl.load_runs("runs.csv", columns={"N": "params", "D": "tokens", "loss": "val_loss"})
    fit = bl.fit(runs, law="chinchilla")
    fit.predict(N=70e9, D=1.4e12); fit.compute_optimal(C=5.76e23); fit.plot()

The public names below are imported on first use, so ``import bayeslaws`` stays light.
"""

import os
from importlib import import_module

__version__ = "0.1.0"

FAST_COMPILE_FLAG = "--xla_llvm_disable_expensive_passes=true"


def _prefer_fast_compilation() -> None:
    """Let XLA skip LLVM's expensive optimisation passes: a first fit on CPU compiles about 1.5 s
    (a fifth) faster, with the same draws and no slower sampling (benchmarks/vs_peers.py). Set
    before JAX starts its backend; left alone when XLA_FLAGS names the flag already (set it to
    false there to opt out) or when BAYESLAWS_FAST_COMPILE=0."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_llvm_disable_expensive_passes" in flags or os.environ.get("BAYESLAWS_FAST_COMPILE") == "0":
        return
    os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE_FLAG}".strip()


_prefer_fast_compilation()

# public name -> (module, attribute); attribute None: the module itself
_PUBLIC = {
    "Backtest": ("bayeslaws.results.backtest", "Backtest"),
    "ConvergenceWarning": ("bayeslaws.inference.diagnostics", "ConvergenceWarning"),
    "ExtrapolationWarning": ("bayeslaws.results.checks", "ExtrapolationWarning"),
    "HeavyTailWarning": ("bayeslaws.results.residuals", "HeavyTailWarning"),
    "Discrepancy": ("bayeslaws.terms.discrepancy", "Discrepancy"),
    "Fit": ("bayeslaws.results.fit", "Fit"),
    "LAWS": ("bayeslaws.laws", "REGISTRY"),
    "LINKS": ("bayeslaws.links", "LINKS"),
    "Law": ("bayeslaws.laws", "Law"),
    "Link": ("bayeslaws.links", "Link"),
    "LinkFit": ("bayeslaws.results.fit", "LinkFit"),
    "ManyFits": ("bayeslaws.inference.many", "ManyFits"),
    "ModelSpec": ("bayeslaws.model", "ModelSpec"),
    "NoiseScale": ("bayeslaws.terms.noise_scale", "NoiseScale"),
    "Penalty": ("bayeslaws.terms.penalty", "Penalty"),
    "RunTable": ("bayeslaws.data", "RunTable"),
    "RunTableError": ("bayeslaws.data", "RunTableError"),
    "Stack": ("bayeslaws.results.stacking", "Stack"),
    "TERMS": ("bayeslaws.terms", "TERMS"),
    "Term": ("bayeslaws.model", "Term"),
    "TooFewRunsError": ("bayeslaws.data", "TooFewRunsError"),
    "Zoo": ("bayeslaws.synthetic", "Zoo"),
    "backtest": ("bayeslaws.results.backtest", "backtest"),
    "compare": ("bayeslaws.results.comparison", "compare"),
    "critical_batch": ("bayeslaws.laws.critical_batch", None),
    "crossing_compute": ("bayeslaws.results.decisions", "crossing_compute"),
    "datasets": ("bayeslaws.datasets", None),
    "error_draws": ("bayeslaws.results.fit", "error_draws"),
    "fit": ("bayeslaws.results.fitting", "fit"),
    "fit_joint": ("bayeslaws.results.fitting", "fit_joint"),
    "fit_link": ("bayeslaws.results.fitting", "fit_link"),
    "fit_many": ("bayeslaws.inference.many", "fit_many"),
    "get_law": ("bayeslaws.laws", "get_law"),
    "get_link": ("bayeslaws.links", "get_link"),
    "load_fit": ("bayeslaws.results.fit", "load_fit"),
    "load_runs": ("bayeslaws.data", "load_runs"),
    "prob_better": ("bayeslaws.results.decisions", "prob_better"),
    "sbc": ("bayeslaws.inference.sbc", "sbc"),
    "set_compile_cache": ("bayeslaws.inference.compile_cache", "set_compile_cache"),
    "simulate": ("bayeslaws.synthetic", "simulate"),
    "simulate_sweep": ("bayeslaws.synthetic", "simulate_sweep"),
    "simulate_curves": ("bayeslaws.synthetic", "simulate_curves"),
    "simulate_families": ("bayeslaws.synthetic", "simulate_families"),
    "stack": ("bayeslaws.results.stacking", "stack"),
    "suggest_runs": ("bayeslaws.results.design", "suggest_runs"),
    "isoflop_candidates": ("bayeslaws.data", "isoflop_grid"),  # candidate runs for suggest_runs
    "stacking_weights": ("bayeslaws.results.comparison", "stacking_weights"),
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'bayeslaws' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = import_module(module) if attribute is None else getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return __all__ + ["__version__"]
