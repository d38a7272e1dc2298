"""The link library: downstream error as a function of loss or compute. Adding a link is one
file and one line here. Error likelihoods (beta, logit_normal, binomial) live in .likelihoods."""

from .base import Link
from .gadre import GADRE
from .logit_linear import logit_linear_link
from .sigmoid import sigmoid_link

LINKS: dict[str, Link] = {
    link.name: link
    for link in (GADRE, sigmoid_link("C"), sigmoid_link("loss"), logit_linear_link("C"), logit_linear_link("loss"))
}


def get_link(link: str | Link) -> Link:
    """Look a link up by name (or pass a Link through)."""
    if isinstance(link, Link):
        return link
    if link not in LINKS:
        raise ValueError(f"unknown link '{link}'; known links: {sorted(LINKS)}")
    return LINKS[link]


__all__ = ["LINKS", "Link", "get_link", "logit_linear_link", "sigmoid_link"]
