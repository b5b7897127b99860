r"""Correlated Gaussian families: full covariance and low rank plus diagonal.

Both let q(z|x) represent correlations between latent dimensions, which the
diagonal family cannot. The encoder outputs every parameter for each x:

- :class:`FullCovarianceGuide`: q(z|x) = N(μ(x), L(x) L(x)ᵀ) with L lower
  triangular; its diagonal is exp(½ log σ²(x)), its strictly lower part is
  unconstrained. ``z(z+3)/2`` numbers per image.
- :class:`LowRankGuide`: q(z|x) = N(μ(x), D(x) + W(x) W(x)ᵀ), D = diag exp(log σ²(x))
  and W a ``z × rank`` matrix: ``z(rank + 2)`` numbers per image.

Both output μ(x) and log σ²(x) as the diagonal family does, so with L's lower part (or
W) at zero they *are* the diagonal family, and the full family starts there.

Both have a closed-form KL against a diagonal Gaussian prior p = N(m, diag s²) such as
the model's N(0, I), from q's mean μ, marginal variances v = diag Σ and entropy H(q):

.. math::

    KL(q \| p) = -H(q) + \sum_i \Big[\tfrac12 \log(2π s_i^2) + \frac{(μ_i - m_i)^2 + v_i}{2 s_i^2}\Big],

with H(q) = ½ log det(2πe Σ). Registering it with ``torch.distributions.register_kl``
lets :class:`pyro.infer.TraceMeanField_ELBO` (``--elbo meanfield``, the default for both
families) use it, so only the likelihood term is estimated by Monte Carlo;
``--elbo trace`` estimates the KL by Monte Carlo instead.
"""
import math

import pyro.distributions as dist
import torch
import torch.nn as nn
from torch.distributions import Independent, LowRankMultivariateNormal, MultivariateNormal, Normal, register_kl

from ssvae.errors import SsvaeError
from ssvae.guides.base import AmortizedGuide
from ssvae.guides.diagonal import LOG_VAR_RANGE


def _kl_to_diagonal_normal(q, p):
    """KL(q || p) for a Gaussian q with ``mean``, ``variance`` and ``entropy()`` and p = N(m, diag s²)."""
    if p.reinterpreted_batch_ndims != 1 or not isinstance(p.base_dist, Normal) or q.event_shape != p.event_shape:
        raise NotImplementedError  # TraceMeanField_ELBO then falls back to Monte Carlo
    m, s = p.base_dist.loc, p.base_dist.scale
    expected_log_p = (-0.5 * math.log(2 * math.pi) - s.log() - ((q.mean - m) ** 2 + q.variance) / (2 * s**2)).sum(-1)
    return -q.entropy() - expected_log_p


register_kl(MultivariateNormal, Independent)(_kl_to_diagonal_normal)
register_kl(LowRankMultivariateNormal, Independent)(_kl_to_diagonal_normal)


class FullCovarianceGuide(AmortizedGuide):
    """q_φ(z|x) = N(μ_φ(x), L_φ(x) L_φ(x)ᵀ), L lower triangular with positive diagonal."""

    has_analytic_kl = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)
        self.log_var = nn.Linear(self.feature_dim, self.z_dim)
        rows, cols = torch.tril_indices(self.z_dim, self.z_dim, offset=-1)
        # positions of the strictly lower entries in the flattened z x z matrix
        self.register_buffer("_lower", rows * self.z_dim + cols, persistent=False)
        self.off_diag = nn.Linear(self.feature_dim, rows.numel())
        nn.init.zeros_(self.off_diag.weight), nn.init.zeros_(self.off_diag.bias)  # start diagonal

    def scale_tril(self, h):
        """L(x) from encoder features, shape ``(..., z_dim, z_dim)``."""
        diag = torch.exp(0.5 * self.log_var(h).clamp(*LOG_VAR_RANGE))
        lower = h.new_zeros(*h.shape[:-1], self.z_dim * self.z_dim).index_copy(-1, self._lower, self.off_diag(h))
        return lower.reshape(*h.shape[:-1], self.z_dim, self.z_dim) + torch.diag_embed(diag)

    def build_posterior(self, h):
        return dist.MultivariateNormal(self.loc(h), scale_tril=self.scale_tril(h), validate_args=False)


class LowRankGuide(AmortizedGuide):
    """q_φ(z|x) = N(μ_φ(x), D_φ(x) + W_φ(x) W_φ(x)ᵀ) with a ``rank``-column factor W."""

    has_analytic_kl = True

    def __init__(self, *args, rank=2, **kwargs):
        super().__init__(*args, **kwargs)
        if not int(rank) >= 1:
            raise SsvaeError(f"rank must be at least 1, got {rank}; use --rank 1 or more")
        self.rank = int(rank)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)
        self.log_var = nn.Linear(self.feature_dim, self.z_dim)
        self.factor = nn.Linear(self.feature_dim, self.z_dim * self.rank)
        nn.init.zeros_(self.factor.bias)
        self.factor.weight.data.mul_(0.1)

    def build_posterior(self, h):
        factor = self.factor(h).reshape(*h.shape[:-1], self.z_dim, self.rank)
        diag = torch.exp(self.log_var(h).clamp(*LOG_VAR_RANGE))
        return dist.LowRankMultivariateNormal(self.loc(h), factor, diag, validate_args=False)
