r"""Decoder families p_θ(x|z): the observation models of AEVB, appendix C.

Each decoder is an MLP ``z -> h`` followed by heads that give the parameters of
a distribution over the ``D`` pixels, independent given z (``to_event(1)``), so
``log p(x|z) = Σ_d log p(x_d|z)``:

- :class:`BernoulliDecoder` (C.1), for binary x:
  ``log p(x|z) = Σ_d x_d log π_d + (1 - x_d) log(1 - π_d)`` with ``π = sigmoid(logits)``,
  i.e. minus the binary cross-entropy between x and π.
- :class:`GaussianDecoder` (C.2), for real x: heads for the mean μ and the
  log-variance log σ²; ``log p(x|z) = -½ Σ_d [log 2π + log σ²_d + (x_d - μ_d)² / σ²_d]``.
  A floor ``min_scale`` is added to σ so the density stays bounded on images whose
  pixels sit exactly at 0 or 1.
- :class:`ContinuousBernoulliDecoder` (Loaiza-Ganem & Cunningham 2019), for
  intensities in [0, 1] that are not binary: the Bernoulli density with its
  normalizing constant, so it is a proper density on [0, 1].

A decoder's ``forward(z)`` returns the distribution; ``support`` says which x it
accepts and :meth:`Decoder.check_data` gives a clear error for anything else.
"""
import pyro.distributions as dist
import torch
import torch.nn as nn
from pyro.nn import PyroModule
from torch.distributions import constraints

from ssvae.errors import SsvaeError
from ssvae.models.networks import mlp
from ssvae.models.softplus import Bernoulli


class Decoder(PyroModule):
    """Base class: an MLP body ``z -> h``; subclasses add heads and :meth:`forward`."""

    support = constraints.real
    #: what to tell a user whose data is outside ``support``
    support_hint = ""

    def __init__(self, z_dim, x_dim, hidden=(400,), activation="tanh"):
        super().__init__()
        self.z_dim, self.x_dim = int(z_dim), int(x_dim)
        self.body = mlp([self.z_dim, *hidden], activation)
        self.feature_dim = ([self.z_dim, *hidden])[-1]

    def forward(self, z):
        """p(x|z): the body's features of ``z``, then the family's head."""
        return self.head(self.body(z))

    def head(self, h):  # pragma: no cover - abstract
        """The distribution of x from the body's features ``h`` (batch shape ``h.shape[:-1]``)."""
        raise NotImplementedError

    def mean(self, z):
        """E[x|z], the picture of what z decodes to."""
        return self(z).mean

    def check_data(self, x, what="data"):
        """Raise :class:`SsvaeError` unless ``x`` is a finite (N, x_dim) batch in the support."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise SsvaeError(f"{what} must be a floating-point tensor, got {type(x).__name__} {getattr(x, 'dtype', '')}")
        if x.dim() != 2 or x.shape[-1] != self.x_dim:
            raise SsvaeError(
                f"{what} has shape {tuple(x.shape)} but the model expects (N, {self.x_dim}); "
                f"flatten images to {self.x_dim} pixels or build the model with x_dim={x.shape[-1]}"
            )
        if not torch.isfinite(x).all():
            raise SsvaeError(f"{what} contains NaN or infinite values; clean or drop those images")
        if not bool(self.support.check(x).all()):
            raise SsvaeError(f"{what} has values outside the {type(self).__name__}'s support; {self.support_hint}")


class LogitsDecoder(Decoder):
    """A decoder with one logits head per pixel; subclasses name the distribution family."""

    #: the pyro.distributions class built from the logits
    family = None

    def __init__(self, z_dim, x_dim, hidden=(400,), activation="tanh"):
        super().__init__(z_dim, x_dim, hidden, activation)
        self.logits = nn.Linear(self.feature_dim, self.x_dim)

    def head(self, h):
        return self.family(logits=self.logits(h), validate_args=False).to_event(1)


class BernoulliDecoder(LogitsDecoder):
    """p(x|z) = Π_d Bernoulli(x_d | sigmoid(logits_d(z))), for binary images."""

    family = Bernoulli  # pyro.distributions.Bernoulli with a log_prob that is fast on CPUs
    support = constraints.boolean
    support_hint = "binarize the images (--binarize dynamic or static) or use --likelihood gaussian/cbernoulli"


class GaussianDecoder(Decoder):
    """p(x|z) = Π_d N(x_d | μ_d(z), σ_d(z)²), σ = min_scale + exp(½ log σ²(z)); AEVB C.2."""

    support = constraints.real
    support_hint = "the Gaussian decoder accepts any finite real values"

    def __init__(self, z_dim, x_dim, hidden=(400,), activation="tanh", min_scale=1e-2):
        super().__init__(z_dim, x_dim, hidden, activation)
        if not min_scale >= 0:
            raise SsvaeError(f"min_scale must be >= 0, got {min_scale}")
        self.min_scale = float(min_scale)
        self.loc = nn.Linear(self.feature_dim, self.x_dim)
        self.log_var = nn.Linear(self.feature_dim, self.x_dim)

    def head(self, h):
        scale = self.min_scale + torch.exp(0.5 * self.log_var(h))
        return dist.Normal(self.loc(h), scale, validate_args=False).to_event(1)


class ContinuousBernoulliDecoder(LogitsDecoder):
    """p(x|z) = Π_d CB(x_d | λ_d(z)), a normalized density for intensities in [0, 1]."""

    family = dist.ContinuousBernoulli
    support = constraints.unit_interval
    support_hint = "scale intensities into [0, 1] or use --likelihood gaussian"


DECODERS = {"bernoulli": BernoulliDecoder, "gaussian": GaussianDecoder, "cbernoulli": ContinuousBernoulliDecoder}


def make_decoder(likelihood, z_dim, x_dim, hidden=(400,), activation="tanh", **kwargs):
    """The decoder family named ``likelihood`` (a key of :data:`DECODERS`)."""
    if likelihood not in DECODERS:
        raise SsvaeError(f"unknown likelihood {likelihood!r}; choose one of {', '.join(DECODERS)}")
    return DECODERS[likelihood](z_dim, x_dim, hidden, activation, **kwargs)

