r"""Correlated Gaussian families: full covariance and low rank plus diagonal.

Both let q(z|x) represent correlations between latent dimensions, which the
diagonal family cannot. The encoder outputs every parameter for each x:

- :class:`FullCovarianceGuide`: q(z|x) = N(μ(x), L(x) L(x)ᵀ) with
  L = diag σ(x) (I + A(x)), A strictly lower triangular and unconstrained, σ = exp(½ log σ²(x)):
  ``z(z+3)/2`` numbers per image.
- :class:`LowRankGuide`: q(z|x) = N(μ(x), diag σ²(x) + W(x) W(x)ᵀ) with
  W = diag σ(x) V(x) and V a ``z × rank`` matrix: ``z(rank + 2)`` numbers per image.

Both output μ(x) and log σ²(x) as the diagonal family does, so with the correlation part A
(or V) at zero they *are* the diagonal family; the full family starts there. The correlation
part is relative to σ: it rescales with each unit's own spread, as a correlation does.

Its head's output is multiplied by :data:`CORRELATION_STEP` (0.1). Adam moves every weight by
about the learning rate per step whatever the size of its gradient, and the correlation head's
gradients start out mostly noise, so at the full step size its ``z(z-1)/2`` (or ``z·rank``) outputs
wander and the bound pays for the random correlations: on Fashion-MNIST (z = 50, 30 epochs) the
full family's test log-likelihood went from −238.8 without the factor to −237.8 with it, where
the diagonal family reaches −238.5 (README, guide families).

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

#: the correlation head's output is scaled by this (Adam's steps on it are that much smaller)
CORRELATION_STEP = 0.1


class _CovarianceForm:
    """Marks checkpoints with the covariance parametrization above (a buffer ``covariance_form``).

    Checkpoints saved before it (where the same weights meant another covariance) then fail
    to load with an error that says so, instead of loading into a different posterior.
    """

    COVARIANCE_FORM = 2
    correlation_head = None  # the name of the family's correlation head

    def _mark_covariance_form(self):
        self.register_buffer("covariance_form", torch.tensor(self.COVARIANCE_FORM))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        saved = state_dict.get(prefix + "covariance_form")
        # a saved correlation head without the mark: an older checkpoint (a partial state without the
        # head, as in ``load_state_dict(..., strict=False)`` from a diagonal guide, is not one)
        older = saved is None and prefix + self.correlation_head + ".weight" in state_dict
        if older or (saved is not None and int(saved) != self.COVARIANCE_FORM):
            error_msgs.append(f"{type(self).__name__}: the checkpoint was saved by an older ssvae whose covariance "
                              "parametrization differs (diag σ (I + A) and diag σ V now); retrain the run")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


def _kl_to_diagonal_normal(q, p):
    """KL(q || p) for a Gaussian q with ``mean``, ``variance`` and ``entropy()`` and p = N(m, diag s²)."""
    if p.reinterpreted_batch_ndims != 1 or not isinstance(p.base_dist, Normal) or q.event_shape != p.event_shape:
        raise NotImplementedError  # TraceMeanField_ELBO then falls back to Monte Carlo
    m, s = p.base_dist.loc, p.base_dist.scale
    expected_log_p = (-0.5 * math.log(2 * math.pi) - s.log() - ((q.mean - m) ** 2 + q.variance) / (2 * s**2)).sum(-1)
    return -q.entropy() - expected_log_p


register_kl(MultivariateNormal, Independent)(_kl_to_diagonal_normal)
register_kl(LowRankMultivariateNormal, Independent)(_kl_to_diagonal_normal)


class FullCovarianceGuide(_CovarianceForm, AmortizedGuide):
    """q_φ(z|x) = N(μ_φ(x), L_φ(x) L_φ(x)ᵀ), L = diag σ_φ(x) (I + A_φ(x)), A strictly lower triangular."""

    has_analytic_kl = True
    correlation_head = "off_diag"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)
        self.log_var = nn.Linear(self.feature_dim, self.z_dim)
        rows, cols = torch.tril_indices(self.z_dim, self.z_dim, offset=-1)
        # positions of the strictly lower entries in the flattened z x z matrix
        self.register_buffer("_lower", rows * self.z_dim + cols, persistent=False)
        self.off_diag = nn.Linear(self.feature_dim, rows.numel())
        nn.init.zeros_(self.off_diag.weight), nn.init.zeros_(self.off_diag.bias)  # start diagonal
        self._mark_covariance_form()

    def correlation(self, h):
        """I + A(x), unit lower triangular, shape ``(..., z_dim, z_dim)``."""
        flat = h.new_zeros(*h.shape[:-1], self.z_dim * self.z_dim)
        flat = flat.index_copy(-1, self._lower, CORRELATION_STEP * self.off_diag(h))
        eye = torch.eye(self.z_dim, dtype=h.dtype, device=h.device)
        return flat.reshape(*h.shape[:-1], self.z_dim, self.z_dim) + eye

    def scale_tril(self, h):
        """L(x) = diag σ(x) (I + A(x)) from encoder features, shape ``(..., z_dim, z_dim)``."""
        sigma = torch.exp(0.5 * self.log_var(h).clamp(*LOG_VAR_RANGE))
        return sigma.unsqueeze(-1) * self.correlation(h)

    def build_posterior(self, h):
        return dist.MultivariateNormal(self.loc(h), scale_tril=self.scale_tril(h), validate_args=False)


class LowRankGuide(_CovarianceForm, AmortizedGuide):
    """q_φ(z|x) = N(μ_φ(x), diag σ²_φ(x) + W_φ(x) W_φ(x)ᵀ), W = diag σ_φ(x) V_φ(x) of ``rank`` columns."""

    has_analytic_kl = True
    correlation_head = "factor"

    def __init__(self, *args, rank=2, **kwargs):
        super().__init__(*args, **kwargs)
        if not int(rank) >= 1:
            raise SsvaeError(f"rank must be at least 1, got {rank}; use --rank 1 or more")
        self.rank = int(rank)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)
        self.log_var = nn.Linear(self.feature_dim, self.z_dim)
        # V = 0 is a stationary point of the ELBO (its gradient E[∇f(z) εᵀ] vanishes when W's noise ε is
        # independent of z), so V starts small and random (default init times CORRELATION_STEP), not at zero
        self.factor = nn.Linear(self.feature_dim, self.z_dim * self.rank)
        nn.init.zeros_(self.factor.bias)
        self._mark_covariance_form()

    def build_posterior(self, h):
        var = torch.exp(self.log_var(h).clamp(*LOG_VAR_RANGE))
        v = CORRELATION_STEP * self.factor(h).reshape(*h.shape[:-1], self.z_dim, self.rank)
        return dist.LowRankMultivariateNormal(self.loc(h), var.sqrt().unsqueeze(-1) * v, var, validate_args=False)
