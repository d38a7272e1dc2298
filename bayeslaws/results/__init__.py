"""The results room: the fitting pipeline (fitting), the Fit it returns (fit), per-draw forecasts
(forecast), storage and plots. Everything here reads a posterior; only fitting samples one."""

from .fit import Fit, LinkFit, error_draws, load_fit
from .fitting import fit, fit_joint, fit_link

__all__ = ["Fit", "LinkFit", "error_draws", "fit", "fit_joint", "fit_link", "load_fit"]
