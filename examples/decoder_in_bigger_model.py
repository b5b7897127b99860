"""A custom Pyro model that uses ssvae's decoder as its likelihood inside a bigger model.

The user's model adds a *global* latent to the VAE: the prior mean μ of every
image's code z is unknown and shared,

    μ ~ N(0, I),   z_n | μ ~ N(μ, I),   x_n | z_n ~ p_θ(x|z)  (ssvae's Bernoulli decoder),

so the images are exchangeable but not independent. The guide pairs a
mean-field Normal for the global μ (``pyro.param`` locals) with ssvae's
amortized encoder for the local z_n, q_φ(z_n|x_n). Minibatches use
``pyro.plate(..., subsample_size=...)``; the global site sits outside the plate.
Run: ``python examples/decoder_in_bigger_model.py --steps 1000``.
"""
import argparse

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.nn import PyroModule

from ssvae.data import load_dataset
from ssvae.guides import DiagonalNormalGuide
from ssvae.models import make_decoder


class GlobalMeanVAE(PyroModule):
    """p(μ) ∏_n p(z_n|μ) p_θ(x_n|z_n), with ssvae's decoder as p_θ(x|z)."""

    def __init__(self, x_dim, z_dim, hidden):
        super().__init__("global_mean_vae")
        self.z_dim = z_dim
        self.decoder = make_decoder("bernoulli", z_dim, x_dim, hidden, "tanh")

    def forward(self, x, batch_size):
        mu = pyro.sample("mu", dist.Normal(x.new_zeros(self.z_dim), 1.0).to_event(1))
        with pyro.plate("images", x.shape[0], subsample_size=batch_size) as idx:
            z = pyro.sample("z", dist.Normal(mu, 1.0).to_event(1))
            pyro.sample("x", self.decoder(z), obs=torch.bernoulli(x[idx]))


class GlobalMeanGuide(PyroModule):
    """q(μ) = N(m, diag s²) (global parameters) times ssvae's amortized q_φ(z_n|x_n)."""

    def __init__(self, x_dim, z_dim, hidden):
        super().__init__("global_mean_guide")
        self.encoder = DiagonalNormalGuide(x_dim, z_dim, hidden, name="encoder")
        self.mu_loc = torch.nn.Parameter(torch.zeros(z_dim))
        self.mu_log_scale = torch.nn.Parameter(torch.full((z_dim,), -2.0))

    def forward(self, x, batch_size):
        pyro.sample("mu", dist.Normal(self.mu_loc, self.mu_log_scale.exp()).to_event(1))
        with pyro.plate("images", x.shape[0], subsample_size=batch_size) as idx:
            # the encoder's own distribution, at the user's site name, in the user's plate
            pyro.sample("z", self.encoder.posterior(x[idx]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--z-dim", type=int, default=20)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    x = load_dataset("fashion-mnist", data_dir=args.data_dir, train_size=args.train_size).x_train

    model = GlobalMeanVAE(x.shape[-1], args.z_dim, [args.hidden])
    guide = GlobalMeanGuide(x.shape[-1], args.z_dim, [args.hidden])
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-3}), Trace_ELBO())
    losses = [svi.step(x, args.batch_size) / len(x) for _ in range(args.steps)]
    window = max(1, args.steps // 10)
    first, last = sum(losses[:window]) / window, sum(losses[-window:]) / window
    print(f"-ELBO per image: first {window} steps {first:.1f}, last {window} steps {last:.1f}")
    print(f"q(mu): mean {guide.mu_loc.detach().norm():.3f} (norm), scale {guide.mu_log_scale.exp().mean():.3f} (mean)")
    return {"losses": losses, "model": model, "guide": guide}


if __name__ == "__main__":
    main()
