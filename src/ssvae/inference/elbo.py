r"""The objective: the evidence lower bound and its two terms.

For one image x,

.. math::

    \log p(x) \ge ELBO(x) = E_{q_φ(z|x)}[\log p_θ(x|z)] - KL(q_φ(z|x) \| p(z)).

The first term (``log_lik``) rewards reconstructing x; the second (``kl``) keeps
the posterior close to the prior. Two Pyro estimators are offered:

- ``"meanfield"`` — :class:`pyro.infer.TraceMeanField_ELBO`: the KL term in
  closed form wherever one exists (Gaussian q and p), the likelihood term by
  Monte Carlo. Lower variance; the default.
- ``"trace"`` — :class:`pyro.infer.Trace_ELBO`: both terms by Monte Carlo,
  ``log p(x, z) - log q(z|x)`` at reparameterized samples z ~ q.

``num_particles`` > 1 averages several samples, vectorized over a particle plate.
"""
import pyro.poutine as poutine
from pyro.poutine.util import site_is_subsample
import torch
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO
from torch.distributions import kl_divergence

from ssvae.errors import SsvaeError

ELBOS = {"meanfield": TraceMeanField_ELBO, "trace": Trace_ELBO}


def make_elbo(kind="meanfield", num_particles=1, guide=None):
    """A Pyro ELBO of the given ``kind``; checks that ``guide`` admits the analytic KL."""
    if kind not in ELBOS:
        raise SsvaeError(f"unknown ELBO {kind!r}; choose one of {', '.join(ELBOS)}")
    if int(num_particles) < 1:
        raise SsvaeError(f"num_particles must be at least 1, got {num_particles}")
    if kind == "meanfield" and guide is not None and not getattr(guide, "has_analytic_kl", False):
        raise SsvaeError(
            f"the {type(guide).__name__} posterior has no closed-form KL; use --elbo trace (Monte Carlo KL)"
        )
    return ELBOS[kind](num_particles=int(num_particles), vectorize_particles=int(num_particles) > 1,
                       max_plate_nesting=1)


@torch.no_grad()
def elbo_terms(model, guide, x, **kwargs):
    """Per-image ELBO terms at one sample z ~ q(z|x): a dict of ``(batch,)`` tensors.

    ``log_lik`` is log p(x|z) summed over the observed sites; ``kl`` is
    KL(q||p) summed over latent sites, in closed form where torch registers one
    and as ``log q(z|x) - log p(z)`` at the same sample otherwise; ``elbo`` is
    their difference. Works for any model/guide pair with one ``"data"`` plate.
    """
    batch = x.shape[0]
    guide_trace = poutine.trace(guide).get_trace(x, **kwargs)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x, **kwargs)
    log_lik = x.new_zeros(batch)
    kl = x.new_zeros(batch)
    for name, site in model_trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        if site["is_observed"]:
            log_lik = log_lik + site["fn"].log_prob(site["value"])
            continue
        q = guide_trace.nodes[name]["fn"]
        try:
            term = kl_divergence(q, site["fn"])
        except NotImplementedError:
            term = q.log_prob(site["value"]) - site["fn"].log_prob(site["value"])
        kl = kl + term
    return {"elbo": log_lik - kl, "log_lik": log_lik, "kl": kl}
