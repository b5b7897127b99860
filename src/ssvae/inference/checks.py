"""Does a guide fit a model? One clear error instead of a shape error deep in a decoder.

SVI runs the guide, then replays its samples into the model: every latent
(unobserved) sample site of the model must be sampled by the guide, with the
same name and shape, and the guide must not sample sites the model does not
have. Pyro only warns about missing sites (and then silently draws them from
the prior); :func:`check_model_guide` makes each mismatch an error that names
the site and the expected shape. The :class:`~ssvae.inference.Trainer` calls it
on its first batch; call it yourself before your own SVI loop.
"""
import pyro.poutine as poutine
import torch
from pyro.poutine.util import site_is_subsample

from ssvae.errors import SsvaeError


def _sample_sites(trace, observed):
    return {name: site for name, site in trace.nodes.items()
            if site["type"] == "sample" and not site_is_subsample(site)
            and bool(site["is_observed"]) == observed and not site["infer"].get("is_auxiliary")}


@torch.no_grad()
def check_model_guide(model, guide, *args, **kwargs):
    """Raise :class:`SsvaeError` unless ``guide`` samples exactly the model's latent sites, in their shapes.

    Both are run once (the model on its own, from the prior) with ``*args, **kwargs``, on a
    forked random state: checking does not change the draws of the training that follows.
    """
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        model_sites = _sample_sites(poutine.trace(model).get_trace(*args, **kwargs), observed=False)
        guide_sites = _sample_sites(poutine.trace(guide).get_trace(*args, **kwargs), observed=False)
    missing = sorted(set(model_sites) - set(guide_sites))
    if missing:
        raise SsvaeError(f"the model's latent site(s) {missing} are not sampled by the guide "
                         f"(it samples {sorted(guide_sites)}); build the guide with the model's site names "
                         "(the same prefix) or block those sites")
    extra = sorted(set(guide_sites) - set(model_sites))
    if extra:
        raise SsvaeError(f"the guide samples {extra}, which the model does not have as latent sites "
                         f"(model latent sites: {sorted(model_sites)})")
    for name, site in model_sites.items():
        expected, got = tuple(site["value"].shape), tuple(guide_sites[name]["value"].shape)
        if expected != got:
            raise SsvaeError(f"site {name!r}: the guide samples shape {got} but the model expects {expected}; "
                             "build the guide with the model's latent size")
