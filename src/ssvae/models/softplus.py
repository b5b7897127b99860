r"""Softplus and the Bernoulli log-likelihood, computed fast on CPUs.

Both are the function ``softplus(a) = log(1 + e^a)``:

- the paper's hidden activation (M2's networks, M1's on MNIST);
- the Bernoulli decoder's log-likelihood per pixel, with logits ``a``,
  ``log p(x_d|z) = x_d a_d - softplus(a_d)`` (minus the binary cross-entropy).

In an M2 step on 784-pixel images these take over a third of the time: the
decoder runs once per class (K = 10 copies of the batch), and PyTorch's CPU
kernels for ``softplus``, ``logsigmoid`` and ``binary_cross_entropy_with_logits``
go through ``log1p``, which is not vectorized there (about 6 ns per element,
against 0.3 ns for ``exp``; ``python benchmarks/m2_throughput.py``).

Here the value is written with the vectorized ``exp`` and ``log``,

.. math::

    \operatorname{softplus}(a) = \max(a, 0) + \log\bigl(1 + e^{-|a|}\bigr),

which never overflows; the only rounding beyond PyTorch's is that of
``1 + e^{-|a|}`` (absolute error below 6·10⁻⁸, e.g. 0 instead of e⁻³⁰ for a = −30).
The gradient is exact and cheap: d softplus(a)/da = sigmoid(a), and
d log p(x_d|z)/da_d = x_d - sigmoid(a_d). On other devices (CUDA), where the
fused kernels are fast, PyTorch's own functions are used.
"""
import pyro.distributions as dist
import torch
import torch.nn as nn
import torch.nn.functional as F


def _softplus_cpu(a):
    return a.abs().neg_().exp_().add_(1).log_().add_(a.clamp(min=0))


class _Softplus(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(a):
        return _softplus_cpu(a)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * torch.sigmoid(a)


class _BernoulliLogProb(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(logits, value):
        return (value * logits).sub_(_softplus_cpu(logits))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        logits, value = ctx.saved_tensors
        grad_logits = grad_value = None
        if ctx.needs_input_grad[0]:
            grad_logits = (grad * (value - torch.sigmoid(logits))).sum_to_size(logits.shape)
        if ctx.needs_input_grad[1]:
            grad_value = (grad * logits).sum_to_size(value.shape)
        return grad_logits, grad_value


def softplus(a):
    """``log(1 + exp(a))``, elementwise; the same function as :func:`torch.nn.functional.softplus`."""
    if a.device.type != "cpu":
        return F.softplus(a)
    return _Softplus.apply(a)


def bernoulli_log_prob(logits, value):
    """``value * logits - softplus(logits)``: log Bernoulli(value | sigmoid(logits)), elementwise, broadcasting."""
    if logits.device.type != "cpu":
        logits, value = torch.broadcast_tensors(logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")
    return _BernoulliLogProb.apply(logits, value)


class Softplus(nn.Module):
    """The softplus activation (a drop-in for :class:`torch.nn.Softplus` with its defaults)."""

    def forward(self, a):
        return softplus(a)


class Bernoulli(dist.Bernoulli):
    """:class:`pyro.distributions.Bernoulli` whose ``log_prob`` uses :func:`bernoulli_log_prob`."""

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return bernoulli_log_prob(self.logits, value)
