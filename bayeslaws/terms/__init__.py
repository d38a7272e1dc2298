"""The term library: what a model adds to a law (bayeslaws.model.term.Term). Adding a term is one
file here and one line in TERMS, which saved fits use to rebuild their terms by kind."""

from ..model.term import Term
from .discrepancy import Discrepancy
from .hierarchy import Hierarchy
from .link import LinkTerm
from .noise_scale import NoiseScale
from .penalty import Penalty, get_penalty

TERMS: dict[str, type[Term]] = {}


def register(*classes: type[Term]) -> None:
    """Make term classes known to load_fit, by their kind."""
    for cls in classes:
        TERMS[cls.kind] = cls


register(Penalty, LinkTerm, Discrepancy, Hierarchy, NoiseScale)


def term_from_dict(settings: dict) -> Term:
    """The term a saved fit names: {"kind": ..., **its to_dict()}."""
    settings = dict(settings)
    kind = settings.pop("kind")
    if kind not in TERMS:
        raise ValueError(f"unknown term kind '{kind}'; known: {sorted(TERMS)} (register yours with "
                         "bayeslaws.terms.register)")
    return TERMS[kind].from_dict(settings)


__all__ = ["Discrepancy", "Hierarchy", "LinkTerm", "NoiseScale", "Penalty", "TERMS", "Term", "get_penalty", "register", "term_from_dict"]
