"""Generative models p_θ: the VAE p(z)p_θ(x|z), M2 p(y)p(z)p_θ(x|y,z), M1+M2
p(y)p(z2)p_θ(z1|y,z2)p_θ1(x|z1), and the decoder families."""
from ssvae.models.decoders import (
    DECODERS,
    BernoulliDecoder,
    ContinuousBernoulliDecoder,
    Decoder,
    GaussianDecoder,
    make_decoder,
)
from ssvae.models.m2 import M2Model
from ssvae.models.networks import ACTIVATIONS, mlp
from ssvae.models.sites import SiteNames
from ssvae.models.stacked import StackedModel
from ssvae.models.vae import VAEModel

__all__ = [
    "ACTIVATIONS", "DECODERS", "BernoulliDecoder", "ContinuousBernoulliDecoder", "Decoder",
    "GaussianDecoder", "M2Model", "SiteNames", "StackedModel", "VAEModel", "make_decoder", "mlp",
]
