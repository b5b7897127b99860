"""Multi-layer perceptrons shared by decoders (θ) and encoders (φ)."""
import torch.nn as nn

from ssvae.errors import SsvaeError
from ssvae.models.softplus import Softplus

#: softplus is :class:`ssvae.models.softplus.Softplus`, the same function as ``nn.Softplus`` but fast on CPUs
ACTIVATIONS = {"tanh": nn.Tanh, "softplus": Softplus, "relu": nn.ReLU}


def mlp(sizes, activation="tanh"):
    """``Linear -> activation`` for each consecutive pair of ``sizes``.

    Every layer, the last included, is followed by the activation: the result
    is a feature extractor, and the distribution heads sit on top of it.
    ``mlp([d])`` is the identity (no hidden layers).
    """
    if activation not in ACTIVATIONS:
        raise SsvaeError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    sizes = [int(s) for s in sizes]
    if any(s < 1 for s in sizes):
        raise SsvaeError(f"layer sizes must be positive integers, got {sizes}")
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)
