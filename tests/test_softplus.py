"""ssvae's softplus and Bernoulli log-likelihood are PyTorch's functions, value and gradient."""
import pyro.distributions as dist
import pytest
import torch
import torch.nn.functional as F

from ssvae.models import ACTIVATIONS, BernoulliDecoder
from ssvae.models.softplus import Bernoulli, Softplus, bernoulli_log_prob, softplus

EXTREMES = torch.tensor([-1e4, -100.0, -30.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 30.0, 100.0, 1e4])


def test_softplus_equals_torch_in_value_and_gradient_including_extremes():
    a = torch.cat([torch.randn(1000) * 10, EXTREMES]).requires_grad_()
    ours, theirs = softplus(a), F.softplus(a)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-6)
    (grad,) = torch.autograd.grad(ours.sum(), a)
    torch.testing.assert_close(grad, torch.sigmoid(a.detach()), atol=0, rtol=0)
    assert torch.autograd.gradcheck(softplus, (torch.randn(20, dtype=torch.double, requires_grad=True),))
    assert torch.autograd.gradgradcheck(softplus, (torch.randn(20, dtype=torch.double, requires_grad=True),))


def test_the_softplus_activation_is_ssvae_softplus():
    assert ACTIVATIONS["softplus"] is Softplus
    a = torch.randn(7, 5)
    torch.testing.assert_close(Softplus()(a), torch.nn.Softplus()(a))


@pytest.mark.parametrize("logits_shape, value_shape", [((10, 1, 6, 4), (6, 4)), ((6, 4), (6, 4)), ((1, 4), (6, 4))])
def test_bernoulli_log_prob_equals_torch_under_broadcasting(logits_shape, value_shape):
    """Shapes as under enumeration of y (logits with a class dimension), plain, and logits broadcast up."""
    logits = torch.cat([torch.randn(*logits_shape[:-1], 2) * 5, EXTREMES[:2].expand(*logits_shape[:-1], 2)], -1)
    logits.requires_grad_()
    value = torch.bernoulli(torch.rand(value_shape))
    ours = bernoulli_log_prob(logits, value)
    theirs = dist.Bernoulli(logits=logits).log_prob(value)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-6)
    weights = torch.rand(ours.shape)
    (grad_ours,) = torch.autograd.grad((weights * ours).sum(), logits)
    (grad_theirs,) = torch.autograd.grad((weights * theirs).sum(), logits)
    torch.testing.assert_close(grad_ours, grad_theirs)
    args = (torch.randn(3, 4, dtype=torch.double, requires_grad=True), torch.rand(4, dtype=torch.double, requires_grad=True))
    assert torch.autograd.gradcheck(bernoulli_log_prob, args)


def test_the_bernoulli_decoder_uses_it_and_keeps_pyros_distribution_api():
    decoder = BernoulliDecoder(z_dim=3, x_dim=8, hidden=(5,), activation="softplus")
    p = decoder(torch.randn(4, 3))
    assert isinstance(p.base_dist, Bernoulli) and isinstance(p.base_dist, dist.Bernoulli)
    x = torch.bernoulli(torch.rand(4, 8))
    expected = dist.Bernoulli(logits=p.base_dist.logits).to_event(1).log_prob(x)
    torch.testing.assert_close(p.log_prob(x), expected)
    expanded = p.expand([2, 4])
    assert isinstance(expanded.base_dist, Bernoulli) and expanded.log_prob(x).shape == (2, 4)
