"""Which weights are θ (generative model) and which are φ (variational guide)."""
import pandas as pd

from ssvae.errors import SsvaeError


def parameter_table(model, guide):
    """A pandas table of every trainable weight: role (θ model / φ guide), name, shape, size.

    Raises :class:`SsvaeError` if a tensor is shared between model and guide,
    since then "the variational parameters" would not be well defined.
    """
    model_ids = {id(p) for p in model.parameters()}
    shared = [n for n, p in guide.named_parameters() if id(p) in model_ids]
    if shared:
        raise SsvaeError(f"model and guide share parameters {shared}; give each its own networks")
    rows = []
    for role, module in (("theta (model)", model), ("phi (guide)", guide)):
        prefix = getattr(module, "_pyro_name", "") or type(module).__name__
        for name, p in module.named_parameters():
            rows.append({"role": role, "name": f"{prefix}.{name}", "shape": tuple(p.shape), "size": p.numel()})
    return pd.DataFrame(rows, columns=["role", "name", "shape", "size"])
