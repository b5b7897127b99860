"""Guides q_φ(z|x): one amortized interface, families differ in the posterior they build.

``GUIDES`` maps the names accepted by ``ssvae train --guide`` to classes;
:func:`make_guide` builds one, with a clear error for unknown names.
"""
from ssvae.errors import SsvaeError
from ssvae.guides.base import AmortizedGuide
from ssvae.guides.diagonal import DiagonalNormalGuide
from ssvae.guides.m2 import Classifier, M2Guide

GUIDES = {"diagonal": DiagonalNormalGuide}


def make_guide(family="diagonal", **kwargs):
    """Build the guide family ``family`` (a name in :data:`GUIDES` or an :class:`AmortizedGuide` subclass)."""
    if isinstance(family, type) and issubclass(family, AmortizedGuide):
        return family(**kwargs)
    if family not in GUIDES:
        raise SsvaeError(f"unknown guide family {family!r}; choose one of {', '.join(GUIDES)}")
    return GUIDES[family](**kwargs)


__all__ = ["GUIDES", "AmortizedGuide", "Classifier", "DiagonalNormalGuide", "M2Guide", "make_guide"]
