"""The ELBO and decoder log-densities against formulas computed by hand."""
import math

import pyro
import pytest
import torch
import torch.nn.functional as F

from ssvae import DiagonalNormalGuide, VAEModel, elbo_terms, make_elbo


def _pair(likelihood="bernoulli", z_dim=5, x_dim=784, hidden=(32,)):
    return VAEModel(x_dim, z_dim, hidden, likelihood=likelihood), DiagonalNormalGuide(x_dim, z_dim, hidden)


def test_closed_form_kl_matches_formula_and_monte_carlo(binary_batch):
    model, guide = _pair()
    q = guide.posterior(binary_batch)
    mu, sigma = q.base_dist.loc, q.base_dist.scale
    by_hand = -0.5 * (1 + torch.log(sigma**2) - mu**2 - sigma**2).sum(-1)
    kl = elbo_terms(model, guide, binary_batch)["kl"]
    assert torch.allclose(kl, by_hand, atol=1e-4)
    with torch.no_grad():
        z = q.sample((20000,))
        monte_carlo = (q.log_prob(z) - model.prior().log_prob(z)).mean(0)
    assert torch.allclose(monte_carlo, by_hand, atol=0.15, rtol=0.02)


def test_bernoulli_log_likelihood_is_minus_binary_cross_entropy(binary_batch):
    model, _ = _pair()
    z = torch.randn(64, 5)
    logits = model.decoder.logits(model.decoder.body(z))
    bce = F.binary_cross_entropy(torch.sigmoid(logits), binary_batch, reduction="none").sum(-1)
    assert torch.allclose(model.decoder(z).log_prob(binary_batch), -bce, atol=1e-3)


def test_gaussian_decoder_log_density_by_hand(fmnist_small):
    model, _ = _pair("gaussian")
    x = fmnist_small.x_val[:16]
    z = torch.randn(16, 5)
    h = model.decoder.body(z)
    mu = model.decoder.loc(h)
    sigma = model.decoder.min_scale + torch.exp(0.5 * model.decoder.log_var(h))
    by_hand = (-0.5 * (math.log(2 * math.pi) + torch.log(sigma**2) + (x - mu) ** 2 / sigma**2)).sum(-1)
    assert torch.allclose(model.decoder(z).log_prob(x), by_hand, rtol=1e-5, atol=1e-2)


def test_continuous_bernoulli_is_a_normalized_density():
    model, _ = _pair("cbernoulli", x_dim=1)
    grid = torch.linspace(0, 1, 20001).unsqueeze(-1)
    density = model.decoder(torch.randn(1, 5)).log_prob(grid).exp()
    assert torch.trapezoid(density, grid.squeeze(-1)).item() == pytest.approx(1.0, abs=1e-3)


def test_trained_loss_is_minus_reported_elbo_scaled_to_the_dataset(binary_batch):
    """The loss SVI minimizes is -(N/B) Σ_batch ELBO(x) with the KL in closed form."""
    model, guide = _pair()
    num_data = 50000
    pyro.set_rng_seed(3)
    loss = make_elbo("meanfield")(model, guide)(binary_batch, num_data=num_data).item()
    pyro.set_rng_seed(3)
    terms = elbo_terms(model, guide, binary_batch)
    expected = -terms["elbo"].sum().item() * num_data / binary_batch.shape[0]
    assert loss == pytest.approx(expected, rel=1e-5)


def test_monte_carlo_elbo_agrees_with_meanfield_on_average(binary_batch):
    model, guide = _pair()
    meanfield = make_elbo("meanfield")(model, guide)
    trace = make_elbo("trace", num_particles=2000)(model, guide)
    x = binary_batch[:4]
    with torch.no_grad():
        a = torch.stack([meanfield(x) for _ in range(200)]).mean()
        b = trace(x)
    assert b.item() == pytest.approx(a.item(), rel=2e-3)
