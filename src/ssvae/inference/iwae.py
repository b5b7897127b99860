r"""Importance-weighted estimate of the marginal log-likelihood log p(x).

With K samples z_k ~ q_φ(z|x) (Burda et al. 2016),

.. math::

    \log p(x) \ge \mathcal{L}_K(x) = \log \frac{1}{K} \sum_{k=1}^K
        \frac{p_θ(x, z_k)}{q_φ(z_k|x)},

a bound that equals the ELBO at K = 1, tightens as K grows and converges to
log p(x). It is computed in log space with ``logsumexp`` (numerically stable),
batched over images and samples: the samples run in a vectorized Pyro plate
outside the model's ``"data"`` plate, in chunks so memory stays bounded, and
the chunks are combined with a running ``logsumexp``. Only the traces' log
densities are used, so any guide that follows the interface works (a flow or a
full-covariance posterior as well as the diagonal one).
"""
import math

import pyro
import pyro.poutine as poutine
from pyro.poutine.util import site_is_subsample
import torch

from ssvae.errors import SsvaeError

#: floats per chunk of decoder output (samples x images x pixels); bounds memory
CHUNK_ELEMENTS = 2**23


def _log_weights(model, guide, x, num_samples, **kwargs):
    """log p(x, z_k) - log q(z_k|x) for k < num_samples: shape ``(num_samples, batch)``."""
    with pyro.plate("iwae_samples", num_samples, dim=-2):
        guide_trace = poutine.trace(guide).get_trace(x, **kwargs)
        model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x, **kwargs)
    log_w = x.new_zeros(num_samples, x.shape[0])
    for trace, sign in ((model_trace, 1.0), (guide_trace, -1.0)):
        for site in trace.nodes.values():
            if site["type"] == "sample" and not site_is_subsample(site):
                log_w = log_w + sign * site["fn"].log_prob(site["value"])
    return log_w


@torch.no_grad()
def iwae_log_likelihood(model, guide, x, num_samples=1000, chunk_size=None, **kwargs):
    """Per-image estimate of log p(x) with ``num_samples`` importance samples, shape ``(batch,)``."""
    num_samples = int(num_samples)
    if num_samples < 1:
        raise SsvaeError(f"the number of importance samples K must be at least 1, got {num_samples}")
    if chunk_size is None:
        chunk_size = max(1, CHUNK_ELEMENTS // max(1, x.shape[0] * x.shape[-1]))
    total = None
    for start in range(0, num_samples, chunk_size):
        log_w = _log_weights(model, guide, x, min(chunk_size, num_samples - start), **kwargs)
        chunk = torch.logsumexp(log_w, dim=0)
        total = chunk if total is None else torch.logaddexp(total, chunk)
    return total - math.log(num_samples)
