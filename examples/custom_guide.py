"""Swapping in a user-written guide: a Laplace posterior q_φ(z|x) for the same VAE.

A guide family only builds a distribution from the encoder's features h_φ(x)
(:meth:`ssvae.guides.AmortizedGuide.build_posterior`); the encoder MLP, the
plate, the site names, checkpoints and the trainer come from the base class.
The model does not change. Laplace has no closed-form KL to N(0, I), so the VAE
uses the Monte Carlo ELBO (``elbo="auto"`` says so). The class is saved in the
checkpoint as ``module:Class``, so the module must be importable when loading.
Run: ``python examples/custom_guide.py --epochs 10``.
"""
import argparse
import importlib

import pyro
import pyro.distributions as dist
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssvae import VAE
from ssvae.data import load_dataset
from ssvae.guides import AmortizedGuide


class LaplaceGuide(AmortizedGuide):
    """q_φ(z|x) = ∏_i Laplace(z_i; μ_φ(x)_i, b_φ(x)_i), b = softplus(·) + 1e-4."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)
        self.scale = nn.Linear(self.feature_dim, self.z_dim)

    def build_posterior(self, h):
        return dist.Laplace(self.loc(h), F.softplus(self.scale(h)) + 1e-4).to_event(1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--z-dim", type=int, default=20)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--save", default=None, help="write the trained VAE to this checkpoint path")
    args = p.parse_args(argv)
    pyro.set_rng_seed(0)
    data = load_dataset("fashion-mnist", data_dir=args.data_dir, train_size=args.train_size)

    # run as a script, this module is __main__; the checkpoint should name the class custom_guide:LaplaceGuide
    laplace = importlib.import_module("custom_guide").LaplaceGuide if __name__ == "__main__" else LaplaceGuide
    results = {}
    for guide in ("diagonal", laplace):
        vae = VAE(z_dim=args.z_dim, hidden=[args.hidden], guide=guide)
        print(vae.elbo_note or f"{vae.config['guide']}: closed-form KL")
        vae.fit(data.x_train, epochs=args.epochs, dynamic_binarization=True, progress=False)
        x = torch.bernoulli(data.x_val[:1000], generator=torch.Generator().manual_seed(0))
        metrics = vae.evaluate(x, iwae_samples=100)
        results[vae.config["guide"]] = {k: float(v) for k, v in metrics.items()}
        print(f"{vae.config['guide']}: validation ELBO {metrics['elbo']:.2f}, IWAE(100) {metrics['log_px']:.2f}")
    if args.save:
        vae.save(args.save)
    return {"results": results, "vae": vae}


if __name__ == "__main__":
    main()
