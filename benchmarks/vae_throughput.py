"""VAE training throughput on this machine: images/s and seconds per epoch.

Trains on the full Fashion-MNIST training split (50k images, dynamic
binarization, batch 128, 784-400-50 tanh MLPs) for one timed epoch per
configuration, after a short warm-up:

- ssvae + TraceMeanField_ELBO (closed-form KL, the default),
- ssvae + Trace_ELBO (Monte Carlo KL),
- a plain PyTorch VAE step with the same networks and closed-form KL, for
  reference (the cost of Pyro's tracing).

Prints a table and, as the last line, JSON. Usage:

    python benchmarks/vae_throughput.py [--epochs 1] [--threads N]
"""
import argparse
import json
import time

import pandas as pd
import pyro
import torch
import torch.nn.functional as F

from ssvae import VAE
from ssvae.data import load_dataset, minibatches


def time_epoch(step, x, batch_size, epochs):
    for idx in minibatches(x.shape[0], batch_size)[:20]:  # warm-up
        step(torch.bernoulli(x[idx]))
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in minibatches(x.shape[0], batch_size):
            step(torch.bernoulli(x[idx]))
    return (time.perf_counter() - start) / epochs


def ssvae_step(elbo, num_data):
    vae = VAE(z_dim=50, hidden=[400], elbo=elbo)

    def step(xb):
        with pyro.validation_enabled(False):
            vae.trainer.step(xb, num_data=num_data)
    return step


def torch_step(num_data):
    """The same VAE written directly in PyTorch (no Pyro), for reference."""
    vae = VAE(z_dim=50, hidden=[400])
    enc, dec, guide = vae.guide.encoder, vae.model.decoder, vae.guide
    optimizer = torch.optim.Adam(list(vae.model.parameters()) + list(vae.guide.parameters()), lr=1e-3)

    def step(xb):
        h = enc(xb)
        mu, log_var = guide.loc(h), guide.log_var(h)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        logits = dec.logits(dec.body(z))
        rec = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
        kl = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum()
        loss = (rec + kl) * num_data / xb.shape[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per configuration")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pyro.set_rng_seed(0)
    x = load_dataset("fashion-mnist", download=False).x_train
    n = x.shape[0]
    rows = []
    for name, step in [("ssvae TraceMeanField_ELBO", ssvae_step("meanfield", n)),
                       ("ssvae Trace_ELBO", ssvae_step("trace", n)),
                       ("plain PyTorch (reference)", torch_step(n))]:
        seconds = time_epoch(step, x, args.batch_size, args.epochs)
        rows.append({"configuration": name, "epoch_seconds": round(seconds, 2), "images_per_s": round(n / seconds)})
    table = pd.DataFrame(rows)
    print(f"Fashion-MNIST train split: {n} images, batch {args.batch_size}, 784-400-50, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, pyro {pyro.__version__}")
    print(table.to_string(index=False))
    print(json.dumps({"images": n, "batch_size": args.batch_size, "results": rows}))



if __name__ == "__main__":
    main()
