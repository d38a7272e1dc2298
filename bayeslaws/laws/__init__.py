"""The law library: a registry of named laws. Adding a law is one file and one line here."""

from .base import REGISTRY, Law, get_law, log_sum_exp, register
from .bnsl import BNSL
from .chinchilla import CHINCHILLA
from .chinchilla_interaction import CHINCHILLA_INTERACTION
from .data_constrained import DATA_CONSTRAINED
from .farseer import FARSEER
from .kaplan import KAPLAN
from .lr_annealing import LR_ANNEALING
from .multipower import MULTIPOWER
from .optimal_size import OPTIMAL_SIZE
from .overtraining import OVERTRAINING
from .power import power_law
from .sigmoid_compute import SIGMOID_COMPUTE

register(CHINCHILLA, KAPLAN, power_law("C"), power_law("N"), power_law("D"), OVERTRAINING, DATA_CONSTRAINED,
         OPTIMAL_SIZE)
register(BNSL, FARSEER, CHINCHILLA_INTERACTION)
register(MULTIPOWER, LR_ANNEALING)
register(SIGMOID_COMPUTE)

__all__ = ["Law", "REGISTRY", "get_law", "log_sum_exp", "power_law", "register"]
