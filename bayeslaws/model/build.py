"""Build the NumPyro model of a ModelSpec: the law, its likelihood, and each term's additions.

The model takes one argument, ``data``, a dict of arrays (ModelSpec.arrays), so the same
compiled sampler serves every dataset of the same padded size:

- ``logx``, ``centre``, ``mask``: the law's log covariates at the runs (or its features, for a
  law of whole curves), their means, real rows;
- ``likelihood``: the likelihood's arrays (the run structure of training curves; else empty);
- ``terms``: each term's arrays, by kind;
- ``observed``: observed values by site (the law's log response at ``log_loss``; a term's own
  sites); an empty dict turns every observed site into a draw (prior and posterior predictive).

The builder knows no term by name: it samples the law's parameters and the likelihood's, lets
each term change the parameters (Term.parameters, e.g. per family), the noise (Term.noise) and the
location (Term.location), observes the response, then lets each term add
its own observed sites (Term.observe).
"""

from __future__ import annotations

from functools import partial
from typing import Mapping

import numpyro

from .parameters import sample_parameters

RESPONSE_SITE = "log_loss"  # the law's observed site: log(response) of the runs


def build(spec, priors: Mapping):
    """The NumPyro model of ``spec`` (a ModelSpec) with resolved ``priors`` (name -> distribution)."""
    law, likelihood, terms = spec.law, spec.likelihood, spec.terms

    def model(data):
        law_log_loss = None
        if law is not None:
            params = sample_parameters(law, priors, data["centre"])
            for term in terms:
                params = term.parameters(params, priors, data["terms"][term.kind], data)
            nuisance = {name: numpyro.sample(name, priors[name]) for name in likelihood.priors}
            for term in terms:
                nuisance = term.noise(nuisance, priors, data["terms"][term.kind])
            law_log_loss = partial(law.log_loss, params)
            loc = law_log_loss(data["logx"])
            for term in terms:
                loc = term.location(loc, priors, data["terms"][term.kind], data)
            with numpyro.handlers.mask(mask=data["mask"]):
                numpyro.sample(RESPONSE_SITE, likelihood.observation(loc, nuisance, data["likelihood"]),
                               obs=data["observed"].get(RESPONSE_SITE))
        for term in terms:
            term.observe(law_log_loss, priors, data["terms"][term.kind], data["observed"])

    return model
