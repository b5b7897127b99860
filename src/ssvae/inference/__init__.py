"""Inference: the ELBO objective, the trainer, evaluation (ELBO terms, IWAE) and checkpoints."""
from ssvae.inference.checkpoint import load_checkpoint, save_checkpoint
from ssvae.inference.checks import check_model_guide
from ssvae.inference.elbo import ELBOS, elbo_terms, make_elbo
from ssvae.inference.evaluation import evaluate
from ssvae.inference.iwae import iwae_log_likelihood
from ssvae.inference.params import parameter_table
from ssvae.inference.trainer import OPTIMIZERS, Trainer

__all__ = [
    "ELBOS", "OPTIMIZERS", "Trainer", "check_model_guide", "elbo_terms", "evaluate", "iwae_log_likelihood",
    "load_checkpoint", "make_elbo", "parameter_table", "save_checkpoint",
]
