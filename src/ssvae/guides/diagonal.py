r"""The diagonal Gaussian family: q_φ(z|x) = N(μ_φ(x), diag σ²_φ(x)).

The encoder's last layer outputs μ_φ(x) and log σ²_φ(x) (AEVB appendix C.2).
Samples use the reparameterization trick, ``z = μ + σ ⊙ ε`` with ``ε ~ N(0, I)``,
so gradients flow through z into φ. With the prior p(z) = N(0, I) both
distributions are Gaussian and the KL has a closed form,

.. math::

    KL(q(z|x) \| p(z)) = -½ Σ_j (1 + log σ_j² - μ_j² - σ_j²),

which :class:`pyro.infer.TraceMeanField_ELBO` uses in place of a Monte Carlo estimate.
"""
import pyro.distributions as dist
import torch
import torch.nn as nn

from ssvae.guides.base import AmortizedGuide

#: log σ² is clamped to this range so that exp() neither underflows nor overflows
LOG_VAR_RANGE = (-20.0, 15.0)


def diagonal_normal(loc, log_var):
    """N(loc, diag exp(log_var)) as a distribution over vectors, with log σ² clamped to :data:`LOG_VAR_RANGE`."""
    return dist.Normal(loc, torch.exp(0.5 * log_var.clamp(*LOG_VAR_RANGE)), validate_args=False).to_event(1)


class DiagonalNormalGuide(AmortizedGuide):
    """q_φ(z|x) = N(μ_φ(x), diag σ²_φ(x)), the AEVB encoder."""

    has_analytic_kl = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)
        self.log_var = nn.Linear(self.feature_dim, self.z_dim)

    def build_posterior(self, h):
        return diagonal_normal(self.loc(h), self.log_var(h))
