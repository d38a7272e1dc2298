"""The model room: a ModelSpec (law + likelihood + terms), the Term protocol, and the builder
that turns a spec into one NumPyro model. It knows no term by name (the terms live in
bayeslaws.terms)."""

from .arrays import bucket_size
from .build import RESPONSE_SITE, build
from .likelihoods import LIKELIHOODS, Likelihood, get_likelihood
from .spec import ModelSpec, priors_text
from .term import ObservedSite, Term

__all__ = ["LIKELIHOODS", "Likelihood", "ModelSpec", "ObservedSite", "RESPONSE_SITE", "Term", "bucket_size",
           "build", "get_likelihood", "priors_text"]
