"""Evaluating a trained model and guide on a dataset, in minibatches.

:func:`evaluate` returns the mean per-image ELBO and its two terms, and — when
``iwae_samples`` is given — the importance-weighted log-likelihood estimate.
All values are in nats per image (higher is better). With a guide that has
``posterior_mean``, it also counts the *active units* of the code (Burda et al.
2016): latent dimensions u with Var_x(E_q[z_u|x]) > 0.01 — dimensions left at
the prior ("posterior collapse") carry no information about x.
"""
import pyro
from tqdm.auto import tqdm
import torch

from ssvae.inference.elbo import elbo_terms
from ssvae.inference.iwae import iwae_log_likelihood


@torch.no_grad()
def evaluate(model, guide, x, batch_size=1000, iwae_samples=None, iwae_batch_size=None, progress=False):
    """Means over ``x`` of ``elbo``, ``log_lik`` (E_q log p(x|z)), ``kl`` and, optionally, ``log_px``.

    :param iwae_samples: K for the importance-weighted bound; None skips it.
    :param iwae_batch_size: images per IWAE batch (defaults to ``batch_size``).
    """
    totals, means = {}, []
    model_mode, guide_mode = model.training, guide.training
    model.eval(), guide.eval()
    try:
        with pyro.validation_enabled(False):
            for xb in x.split(batch_size):
                for key, value in elbo_terms(model, guide, xb).items():
                    totals[key] = totals.get(key, 0.0) + value.sum().item()
                if hasattr(guide, "posterior_mean"):
                    means.append(guide.posterior_mean(xb))
            if iwae_samples:
                chunks = x.split(iwae_batch_size or batch_size)
                if progress:
                    chunks = tqdm(chunks, desc=f"IWAE K={iwae_samples}", leave=False)
                totals["log_px"] = sum(iwae_log_likelihood(model, guide, xb, iwae_samples).sum().item()
                                       for xb in chunks)
    finally:
        model.train(model_mode), guide.train(guide_mode)
    metrics = {key: value / x.shape[0] for key, value in totals.items()}
    if len(means) and x.shape[0] > 1:
        metrics["active_units"] = active_units(torch.cat(means))
    return metrics


def active_units(codes, threshold=0.01):
    """How many columns of ``codes`` (posterior means, one row per image) vary more than ``threshold``."""
    return int((codes.var(0) > threshold).sum())
