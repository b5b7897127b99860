"""Guides q_φ(z|x): one amortized interface, families differ in the posterior they build.

``GUIDES`` maps the names accepted by ``ssvae train --guide`` to classes:

- ``diagonal``: N(μ(x), diag σ²(x)) — closed-form KL;
- ``full``: N(μ(x), L(x)L(x)ᵀ); ``lowrank``: N(μ(x), D(x) + W(x)W(x)ᵀ) (``--rank``) — closed-form KL;
- ``iaf``, ``planar``, ``radial``, ``spline``: ``--flow-steps`` conditional flow steps on a
  Gaussian base.

Every class takes the same constructor arguments (``x_dim, z_dim, hidden,
activation, name, num_classes, prefix``) plus its own options; :func:`make_guide` builds
one by name (or from a user's own :class:`AmortizedGuide` subclass), with a clear
error for unknown names and for options the family does not take.
"""
import importlib
import inspect

from ssvae.errors import SsvaeError
from ssvae.guides.base import AmortizedGuide
from ssvae.guides.diagonal import DiagonalNormalGuide
from ssvae.guides.flows import FlowGuide, IAFGuide, PlanarGuide, RadialGuide, SplineGuide
from ssvae.guides.gaussian import FullCovarianceGuide, LowRankGuide
from ssvae.guides.m2 import Classifier, M2Guide
from ssvae.guides.stacked import StackedGuide

GUIDES = {
    "diagonal": DiagonalNormalGuide,
    "full": FullCovarianceGuide,
    "lowrank": LowRankGuide,
    "iaf": IAFGuide,
    "planar": PlanarGuide,
    "radial": RadialGuide,
    "spline": SplineGuide,
}
#: options that only some families take, and the flag that sets them
FAMILY_OPTIONS = {"rank": "--rank", "flow_steps": "--flow-steps"}


def guide_class(family):
    """The class of ``family``: a name in :data:`GUIDES`, an :class:`AmortizedGuide` subclass,
    or ``"package.module:ClassName"`` naming one (how checkpoints store a user's own class)."""
    if isinstance(family, type) and issubclass(family, AmortizedGuide):
        return family
    if isinstance(family, str) and ":" in family:
        module, _, name = family.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            raise SsvaeError(f"cannot import the guide class {family!r} ({e}); make its module importable")
        if not (isinstance(cls, type) and issubclass(cls, AmortizedGuide)):
            raise SsvaeError(f"{family!r} is not a subclass of ssvae.guides.AmortizedGuide")
        return cls
    if family not in GUIDES:
        raise SsvaeError(f"unknown guide family {family!r}; choose one of {', '.join(GUIDES)}")
    return GUIDES[family]


def make_guide(family="diagonal", **kwargs):
    """Build the guide family ``family``; family options set to None are left at their defaults."""
    cls = guide_class(family)
    accepted = inspect.signature(cls.__init__).parameters
    for option, flag in FAMILY_OPTIONS.items():
        value = kwargs.pop(option, None)
        if value is None:
            continue
        if option not in accepted:
            name = family if isinstance(family, str) else cls.__name__
            raise SsvaeError(f"{flag} does not apply to the {name!r} guide; drop it or choose a family that takes it")
        kwargs[option] = value
    return cls(**kwargs)


def guide_name(family):
    """How ``family`` is written in a config: its registry name, or ``"module:ClassName"`` for a user class."""
    if isinstance(family, str):
        return family
    for name, cls in GUIDES.items():
        if cls is family:
            return name
    return f"{family.__module__}:{family.__qualname__}"


__all__ = [
    "GUIDES", "AmortizedGuide", "Classifier", "DiagonalNormalGuide", "FlowGuide", "FullCovarianceGuide", "IAFGuide",
    "LowRankGuide", "M2Guide", "PlanarGuide", "RadialGuide", "SplineGuide", "StackedGuide", "guide_class", "guide_name",
    "make_guide",
]
