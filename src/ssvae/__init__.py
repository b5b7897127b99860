"""ssvae: deep generative models of images with few labels, in Pyro.

The variational autoencoder of Kingma & Welling (2013) and, building on it, the
semi-supervised models of Kingma, Rezende, Mohamed & Welling (2014).

- :mod:`ssvae.models`: generative models p_θ (decoders, :class:`VAEModel`);
- :mod:`ssvae.guides`: amortized guides q_φ (encoders);
- :mod:`ssvae.inference`: the ELBO, the trainer, evaluation and checkpoints;
- :mod:`ssvae.data`: MNIST-like datasets as tensors;
- :class:`VAE`, :class:`M2`, :class:`M1M2`: model, guide and trainer in one object;
- :mod:`ssvae.cli`: the command line.
"""
from ssvae.errors import SsvaeError, TrainingDiverged
from ssvae.guides import (GUIDES, AmortizedGuide, Classifier, DiagonalNormalGuide, M2Guide, StackedGuide,
                          make_guide)
from ssvae.inference import (Trainer, check_model_guide, elbo_terms, evaluate, iwae_log_likelihood, make_elbo,
                             parameter_table)
from ssvae.inference.semisupervised import SemiSupervisedELBO
from ssvae.m1m2 import M1M2
from ssvae.m2 import M2
from ssvae.models import M2Model, StackedModel, VAEModel, make_decoder
from ssvae.vae import VAE

__version__ = "0.1.0"

__all__ = [
    "GUIDES", "M1M2", "M2", "VAE", "AmortizedGuide", "Classifier", "DiagonalNormalGuide", "M2Guide", "M2Model",
    "SemiSupervisedELBO", "SsvaeError", "StackedGuide", "StackedModel", "Trainer", "TrainingDiverged", "VAEModel",
    "check_model_guide", "elbo_terms", "evaluate", "iwae_log_likelihood", "make_decoder", "make_elbo", "make_guide",
    "parameter_table",
]
