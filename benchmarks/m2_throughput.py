"""M2 training throughput: ssvae's Pyro step against a naive plain-PyTorch reference.

Both train the same networks (784-500-50, softplus, 10 classes) on the same
objective J^α (labelled ELBO + unlabelled ELBO with y summed over the 10
classes + α · cross-entropy), on real Fashion-MNIST, batch 200 unlabelled +
100 labelled images per step:

- **ssvae**: :class:`ssvae.M2` — Pyro's ``TraceEnum_ELBO`` enumerates y in
  parallel; the x-part of q(z|x,y)'s first layer is computed once and shared
  by the 10 classes; softplus and the Bernoulli log-likelihood are
  :mod:`ssvae.models.softplus` (the same functions, without PyTorch's slow
  ``log1p`` on CPUs).
- **naive reference**: hand-written PyTorch in which each of the 10
  enumerated copies runs the full encoder on ``[x, onehot(y)]`` and the decoder,
  with PyTorch's ``softplus`` and ``binary_cross_entropy_with_logits``.
- **naive reference, ssvae softplus**: the same with ssvae's softplus and
  log-likelihood, so ssvae's time against it is what the algorithmic savings
  alone give.
- **hand-written shared**: hand-written PyTorch with ssvae's algorithmic
  savings (x-projection once for the 10 classes, class parts of both first
  layers as lookups, all classes in one batched pass) and no Pyro, with either
  softplus: the ceiling for what those savings can give on this machine.

The implementations are timed in alternating rounds (the best round counts),
so a slow spell of the machine does not favour one of them.

Reports unlabelled images per second and the projected time of one epoch of
50k images, in one run; the last line is JSON. Usage:

    python benchmarks/m2_throughput.py [--steps 15 --rounds 8]
"""
import argparse
import json
import time

import pandas as pd
import pyro
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssvae import M2
from ssvae.data import balanced_labelled_subset, load_dataset
from ssvae.models.softplus import bernoulli_log_prob
from ssvae.models.softplus import softplus as ssvae_softplus

X, Z, K, H = 784, 50, 10, 500
OURS, NAIVE = "ssvae M2 (Pyro, TraceEnum_ELBO)", "naive PyTorch reference"
NAIVE_FAST = "naive reference, ssvae softplus"


class Lambda(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, a):
        return self.function(a)


class HandWrittenM2(nn.Module):
    """J^α written directly in PyTorch; subclasses say how the networks read ``[x, y]`` and ``[z, y]``."""

    def __init__(self, fast_softplus=False):
        super().__init__()
        # PyTorch's softplus and BCE, or ssvae's versions of the same functions (fast on CPUs)
        self.softplus = ssvae_softplus if fast_softplus else F.softplus
        self.log_lik = bernoulli_log_prob if fast_softplus else \
            (lambda logits, x: -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none"))
        self.classifier = nn.Sequential(nn.Linear(X, H), Lambda(self.softplus), nn.Linear(H, K))
        self.loc, self.log_var = nn.Linear(H, Z), nn.Linear(H, Z)

    def encode(self, x, y):
        """Hidden features of q(z|x,y)."""
        raise NotImplementedError

    def decode(self, z, y):
        """Logits of p(x|y,z)."""
        raise NotImplementedError

    def per_class_elbo(self, x):
        """L(x, y) for every image and every class, shape ``(batch, K)``."""
        raise NotImplementedError

    def elbo(self, x, y):
        h = self.encode(x, y)
        mu, log_var = self.loc(h), self.log_var(h)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
        logits = self.decode(z, y)
        log_lik = self.log_lik(logits, x).sum(-1)
        kl = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(-1)
        return log_lik - kl - torch.log(torch.tensor(float(K)))  # log p(y) uniform

    def loss(self, x_l, y_l, x_u, num_l, num_u, alpha):
        labelled = self.elbo(x_l, y_l)
        q = torch.softmax(self.classifier(x_u), -1)
        unlabelled = (q * self.per_class_elbo(x_u)).sum(-1) - (q * torch.log(q + 1e-12)).sum(-1)
        ce = F.cross_entropy(self.classifier(x_l), y_l)
        return -(num_l / x_l.shape[0]) * labelled.sum() - (num_u / x_u.shape[0]) * unlabelled.sum() + alpha * ce


class NaiveM2(HandWrittenM2):
    """Ten full encoder and decoder passes on ``[x, onehot(y)]``, one per class, for unlabelled x."""

    def __init__(self, fast_softplus=False):
        super().__init__(fast_softplus)
        self.encoder = nn.Sequential(nn.Linear(X + K, H), Lambda(self.softplus))
        self.decoder = nn.Sequential(nn.Linear(Z + K, H), Lambda(self.softplus), nn.Linear(H, X))

    def encode(self, x, y):
        return self.encoder(torch.cat([x, F.one_hot(y, K).float()], -1))

    def decode(self, z, y):
        return self.decoder(torch.cat([z, F.one_hot(y, K).float()], -1))

    def per_class_elbo(self, x):
        return torch.stack([self.elbo(x, torch.full((x.shape[0],), k)) for k in range(K)], -1)


class SharedM2(HandWrittenM2):
    """The x-projection computed once, the class parts of both first layers as lookups, the classes batched."""

    def __init__(self, fast_softplus=False):
        super().__init__(fast_softplus)
        self.encoder_x, self.encoder_y = nn.Linear(X, H), nn.Embedding(K, H)
        self.decoder_z, self.decoder_y, self.decoder_out = nn.Linear(Z, H), nn.Embedding(K, H), nn.Linear(H, X)

    def encode(self, x, y):  # y: (batch,) labels, or (K, 1) for all classes against every image
        return self.softplus(self.encoder_x(x) + self.encoder_y(y))

    def decode(self, z, y):
        return self.decoder_out(self.softplus(self.decoder_z(z) + self.decoder_y(y)))

    def per_class_elbo(self, x):
        return self.elbo(x, torch.arange(K).unsqueeze(-1)).T


def batches(x_l, y_l, x_u, steps, batch=200, labelled_batch=100):
    for _ in range(steps):
        i = torch.randint(0, x_u.shape[0], (batch,))
        j = torch.randint(0, x_l.shape[0], (labelled_batch,))
        yield torch.bernoulli(x_l[j]), y_l[j], torch.bernoulli(x_u[i])


def timed(steps_by_name, data, steps, rounds):
    """Seconds per step of each implementation: the best of ``rounds`` alternating rounds."""
    best = {}
    for step in steps_by_name.values():  # warm-up
        for args in batches(*data, 5):
            step(*args)
    for _ in range(rounds):
        for name, step in steps_by_name.items():
            start = time.perf_counter()
            for args in batches(*data, steps):
                step(*args)
            best[name] = min(best.get(name, float("inf")), (time.perf_counter() - start) / steps)
    return best


def hand_written(module, num_l, num_u, alpha):
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-4)

    def step(xl, yl, xu):
        optimizer.zero_grad(set_to_none=True)
        module.loss(xl, yl, xu, num_l, num_u, alpha).backward()
        optimizer.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=15, help="timed steps per implementation and round")
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds; the best counts")
    args = parser.parse_args()
    pyro.set_rng_seed(0)
    data = load_dataset("fashion-mnist", download=False)
    labelled, unlabelled = balanced_labelled_subset(data.y_train, 100, K, seed=0)
    x_l, y_l, x_u = data.x_train[labelled], data.y_train[labelled], data.x_train[unlabelled]
    num_l, num_u, alpha = x_l.shape[0], x_u.shape[0], 5000.0

    m2 = M2(z_dim=Z, hidden=[H], classifier_hidden=[H], alpha=alpha)

    def ours(xl, yl, xu):
        with pyro.validation_enabled(False):
            m2.trainer.step(xl, yl, xu, num_labelled=num_l, num_unlabelled=num_u)

    implementations = {
        OURS: ours,
        NAIVE: hand_written(NaiveM2(), num_l, num_u, alpha),
        NAIVE_FAST: hand_written(NaiveM2(fast_softplus=True), num_l, num_u, alpha),
        "hand-written shared (no Pyro)": hand_written(SharedM2(), num_l, num_u, alpha),
        "hand-written shared (no Pyro), ssvae softplus": hand_written(SharedM2(fast_softplus=True), num_l, num_u, alpha),
    }
    seconds = timed(implementations, (x_l, y_l, x_u), args.steps, args.rounds)
    naive = seconds[NAIVE]
    rows = [{"implementation": name, "ms_per_step": round(1000 * s, 1), "unlabelled_images_per_s": round(200 / s),
             "epoch_seconds_50k": round(50000 / 200 * s, 1), "speedup_vs_naive": round(naive / s, 2)}
            for name, s in seconds.items()]
    speedup, same_kernels = naive / seconds[OURS], seconds[NAIVE_FAST] / seconds[OURS]
    print(f"Fashion-MNIST, 784-500-50 softplus, batch 200 unlabelled + 100 labelled, best of {args.rounds} rounds "
          f"of {args.steps} steps, {torch.get_num_threads()} torch threads")
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"ssvae over the naive reference: {speedup:.2f}x; over the naive reference given ssvae's softplus "
          f"(the algorithmic part alone): {same_kernels:.2f}x")
    print(json.dumps({"results": rows, "speedup": round(speedup, 3), "speedup_same_softplus": round(same_kernels, 3)}))

if __name__ == "__main__":
    main()
