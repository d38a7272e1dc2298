"""The Link: how downstream error follows the loss (or the compute), as data plus one pure JAX
function, in the style of :class:`bayeslaws.laws.Law`.

A link maps its input x to the mean error (1 - accuracy, a fraction in (0, 1)) of a model:

- input "loss": x = L, the validation loss [nats] (already a log-scale quantity);
- input "C": x = ln(C / 1 FLOP), the natural log of training compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import jax.numpy as jnp
import numpy as np
from numpyro.distributions import Distribution

from ..laws.base import with_logs

INPUTS = ("loss", "C")
ERROR_CLIP = 1e-6  # mean errors are kept in [1e-6, 1 - 1e-6] so every likelihood is finite

Params = Mapping[str, jnp.ndarray]


@dataclass(frozen=True, eq=False)
class Link:
    """A parametric downstream-error law.

    name: registry name.
    input: "loss" (x = L [nats]) or "C" (x = ln C, C in FLOPs).
    priors: parameter name -> zero-argument function returning its default prior, a NumPyro
        distribution in the parameter's original units. All link parameters are positive, and
        each also comes as ``log_<name>`` to ``error``.
    error: (params, x) -> mean error in (0, 1); must broadcast params of shape (S, 1) against x
        of shape (M,) or (S, M).
    formula: the link in plain text.
    centring: parameter -> (input, coefficient), as Law.centring: the sampler sees
        log(P) - coefficient * mean(x) instead of log(P), which removes the correlation between
        a prefactor (or midpoint) and its slope.

    Links compare and hash by identity, so a compiled sampler is reused for the same Link object.
    """

    name: str
    input: str
    priors: Mapping[str, Callable[[], Distribution]]
    error: Callable[[Params, jnp.ndarray], jnp.ndarray]
    formula: str
    centring: Mapping[str, tuple[str, str | float]] = field(default_factory=dict)

    def __post_init__(self):
        if self.input not in INPUTS:
            raise ValueError(f"link '{self.name}': input must be one of {INPUTS}, not {self.input!r}")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.priors)

    def x(self, values) -> np.ndarray:
        """The link's input scale from input values: L [nats] as is, C [FLOPs] as ln C."""
        values = np.asarray(values, dtype=np.float64)
        return np.log(values) if self.input == "C" else values

    def evaluate(self, params: Params, x: jnp.ndarray) -> jnp.ndarray:
        """Mean error in [1e-6, 1 - 1e-6] from parameters in original units (logs added)."""
        return jnp.clip(self.error(with_logs(params), x), ERROR_CLIP, 1.0 - ERROR_CLIP)

    def __repr__(self) -> str:
        return f"Link({self.name!r}: {self.formula})"
