"""Synthetic families: a zoo whose model families draw their law parameters from a population,
the way bl.fit(..., groups="family") models them (bayeslaws.terms.hierarchy)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..laws import Law, get_law
from ..terms.hierarchy import Hierarchy, family_parameters
from .zoo import DEFAULT_TRUTH, Zoo, true_loss

COMPUTE_PER_TOKEN_PARAM = 6.0


def simulate_families(
    law: str | Law = "chinchilla",
    params: dict | None = None,
    *,
    runs_per_family: Sequence[int] = (8, 8, 8),
    spread: float = 0.1,
    vary: Sequence[str] | None = None,
    compute_range: tuple[float, float] = (1e18, 1e21),
    tokens_per_parameter: tuple[float, float] = (10.0, 80.0),
    noise: float = 0.01,
    seed: int = 0,
) -> Zoo:
    """Families of runs with their own law parameters, drawn from a population around ``params``.

    runs_per_family: how many runs each family has (families are named f0, f1, ...). A family's
        runs sit at budgets log-spaced over ``compute_range`` [FLOPs], each at a tokens-per-parameter
        ratio drawn log-uniformly from ``tokens_per_parameter`` (so N and D vary apart).
    spread: the population sd of each varying parameter [log units: 0.1 is about 10 %].
    vary: the parameters that differ by family (default as the hierarchy's: all but E and
        chance); the offsets act on the law at the design's centre, as in the model
        (bayeslaws.terms.hierarchy).
    Returns a Zoo: runs (run_id, family, N, D, C, loss), truth {"population": params,
    "families": {label: that family's parameters}}.
    """
    law = get_law(law)
    population = dict(params or DEFAULT_TRUTH[law.name])
    rng = np.random.default_rng(seed)
    frames = []
    for g, count in enumerate(runs_per_family):
        C = np.geomspace(*compute_range, int(count))
        ratio = np.exp(rng.uniform(*np.log(tokens_per_parameter), int(count)))
        N = np.sqrt(C / (COMPUTE_PER_TOKEN_PARAM * ratio))
        frames.append(pd.DataFrame({"family": f"f{g}", "N": N, "D": C / (COMPUTE_PER_TOKEN_PARAM * N), "C": C}))
    frame = pd.concat(frames, ignore_index=True)
    term = Hierarchy(params=vary).for_law(law)
    centre = {c: float(np.log(frame[c]).mean()) for c in law.covariates}
    logs = {**population, **{f"log_{k}": np.log(v) for k, v in population.items() if v > 0}}
    offsets = spread * rng.standard_normal((len(runs_per_family), len(term.params)))
    values = family_parameters(term, logs, offsets, centre, np)
    truth = {f"f{g}": {**population, **{p: float(values[p][g]) for p in term.varying}}
             for g in range(len(runs_per_family))}
    frame["loss"] = np.concatenate([true_loss(law, truth[f"f{g}"], frame[frame["family"] == f"f{g}"])
                                    for g in range(len(runs_per_family))])
    frame["loss"] *= np.exp(noise * rng.standard_normal(len(frame)))
    frame.insert(0, "run_id", np.arange(len(frame)))
    design = {"runs_per_family": list(map(int, runs_per_family)), "spread": spread, "vary": list(term.params),
              "compute_range": list(compute_range), "tokens_per_parameter": list(tokens_per_parameter),
              "noise": noise, "seed": seed}
    return Zoo(frame, {"population": population, "families": truth}, design)
