"""Generative models p_θ: the VAE model p(z)p_θ(x|z) and its decoder families."""
from ssvae.models.decoders import (
    DECODERS,
    BernoulliDecoder,
    ContinuousBernoulliDecoder,
    Decoder,
    GaussianDecoder,
    make_decoder,
)
from ssvae.models.networks import ACTIVATIONS, mlp
from ssvae.models.vae import VAEModel

__all__ = [
    "ACTIVATIONS", "DECODERS", "BernoulliDecoder", "ContinuousBernoulliDecoder", "Decoder",
    "GaussianDecoder", "VAEModel", "make_decoder", "mlp",
]
