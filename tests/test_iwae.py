"""The importance-weighted log-likelihood estimate."""
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.nn import PyroModule

from ssvae import AmortizedGuide, DiagonalNormalGuide, VAEModel, elbo_terms, iwae_log_likelihood


class LinearGaussian(PyroModule):
    """z ~ N(0, 1), x | z ~ N(z, 1): log p(x) = log N(x | 0, 2) exactly."""

    def forward(self, x, num_data=None):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(1), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z, 1.0).to_event(1), obs=x)


class ShiftedPosterior(AmortizedGuide):
    """q(z|x) = N(x/2 + shift, 1/2): the exact posterior when shift = 0."""

    def __init__(self, shift):
        super().__init__(x_dim=1, z_dim=1, hidden=())
        self.shift = shift

    def build_posterior(self, h):
        return dist.Normal(h / 2 + self.shift, math.sqrt(0.5)).to_event(1)


def _exact(x):
    return dist.Normal(0.0, math.sqrt(2.0)).log_prob(x).squeeze(-1)


def test_exact_posterior_gives_exact_log_likelihood_for_any_k_and_chunking():
    x = torch.linspace(-3, 3, 7).unsqueeze(-1)
    for k, chunk in [(1, None), (37, 5), (100, 100)]:
        est = iwae_log_likelihood(LinearGaussian(), ShiftedPosterior(0.0), x, k, chunk_size=chunk)
        assert torch.allclose(est, _exact(x), atol=1e-5)


def test_bound_tightens_with_k_and_converges_to_log_px():
    x = torch.linspace(-2, 2, 5).unsqueeze(-1)
    model, guide = LinearGaussian(), ShiftedPosterior(1.0)
    means = [iwae_log_likelihood(model, guide, x.repeat(400, 1), k).reshape(400, 5).mean(0) for k in (1, 10, 1000)]
    assert (means[0] < means[1] - 0.05).all() and (means[1] < means[2]).all()
    assert torch.allclose(means[2], _exact(x), atol=0.02)
    assert (means[2] <= _exact(x) + 0.01).all()


def test_iwae_is_at_least_the_elbo_on_real_images(binary_batch):
    model, guide = VAEModel(784, 8, (64,)), DiagonalNormalGuide(784, 8, (64,))
    elbo = torch.stack([elbo_terms(model, guide, binary_batch)["elbo"] for _ in range(20)]).mean(0)
    k1 = iwae_log_likelihood(model, guide, binary_batch, 1)
    k100 = iwae_log_likelihood(model, guide, binary_batch, 100, chunk_size=7)
    assert k1.shape == k100.shape == (64,)
    assert k1.mean().item() == pytest.approx(elbo.mean().item(), abs=3.0)
    assert (k100 >= elbo - 1e-3).float().mean() > 0.9
    assert k100.mean() > elbo.mean() + 1.0
    assert torch.isfinite(k100).all()


def test_k_must_be_positive(binary_batch):
    with pytest.raises(ValueError, match="at least 1"):
        iwae_log_likelihood(VAEModel(784, 2), DiagonalNormalGuide(784, 2), binary_batch, 0)
