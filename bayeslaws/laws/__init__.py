"""The law library: a registry of named laws. Adding a law is one file and one line here."""

from .base import Law, log_sum_exp
from .chinchilla import CHINCHILLA
from .data_constrained import DATA_CONSTRAINED
from .kaplan import KAPLAN
from .optimal_size import OPTIMAL_SIZE
from .overtraining import OVERTRAINING
from .power import power_law

REGISTRY: dict[str, Law] = {
    law.name: law
    for law in (CHINCHILLA, KAPLAN, power_law("C"), power_law("N"), power_law("D"),
                OVERTRAINING, DATA_CONSTRAINED, OPTIMAL_SIZE)
}


def get_law(law: str | Law) -> Law:
    """Look a law up by name (or pass a Law through)."""
    if isinstance(law, Law):
        return law
    if law not in REGISTRY:
        raise ValueError(f"unknown law '{law}'; known laws: {sorted(REGISTRY)}")
    return REGISTRY[law]


__all__ = ["Law", "REGISTRY", "get_law", "log_sum_exp", "power_law"]
