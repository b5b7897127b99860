"""``pyro.infer.Predictive`` on a trained ssvae run: prior samples, posterior predictive, latents.

Loads the model and guide of a run directory (``ssvae train --out DIR``; with no
``--run``, trains a small VAE first) and uses them as plain Pyro callables:

1. prior samples: ``Predictive(model, num_samples=S)(batch_size=B)`` gives
   sites ``z`` (S, B, z_dim) and ``x`` (S, B, x_dim);
2. posterior predictive: ``Predictive(poutine.uncondition(model), guide=guide)(x)``
   draws z ~ q(z|x) from the amortized guide and then new images x ~ p(x|z)
   (``uncondition`` makes the observed ``x`` site sample again);
3. latents only: ``return_sites=["z"]``.

Writes ``prior.png`` and ``posterior_predictive.png`` (torchvision's ``save_image``).
Run: ``python examples/predictive_on_a_run.py --run runs/demo --out pictures``.
"""
import argparse
import os

import pyro
import pyro.poutine as poutine
import torch
from pyro.infer import Predictive
from torchvision.utils import save_image

from ssvae import runs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None, help="a run directory; default: train a small VAE into --out/run")
    p.add_argument("--out", default="predictive")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--train-size", type=int, default=5000, help="only when training the small VAE")
    p.add_argument("--epochs", type=int, default=5, help="only when training the small VAE")
    args = p.parse_args(argv)
    pyro.set_rng_seed(0)
    os.makedirs(args.out, exist_ok=True)
    run = args.run
    if run is None:
        run = os.path.join(args.out, "run")
        runs.train(run, dict(model="vae", train_size=args.train_size, epochs=args.epochs, z_dim=20, hidden=[200],
                             iwae_k=0), progress=False, log=lambda *a: None)
    estimator, config = runs.load_run(run)
    model, guide = estimator.model, estimator.guide
    data = runs.load_data(config)
    x = data.x_test[:10]
    side = int(data.x_dim ** 0.5)
    kwargs = {} if config["model"] == "vae" else {"y": None}

    prior = Predictive(model, num_samples=args.samples)(batch_size=10, **kwargs)
    posterior = Predictive(poutine.uncondition(model), guide=guide, num_samples=args.samples)(x)
    latents = Predictive(model, guide=guide, num_samples=args.samples, return_sites=["z"])(x)
    for name, samples in (("prior", prior["x"]), ("posterior_predictive", posterior["x"])):
        grid = torch.cat([x.unsqueeze(0), samples]) if name != "prior" else samples
        save_image(grid.reshape(-1, 1, side, side), os.path.join(args.out, f"{name}.png"), nrow=10)
    print({name: {k: tuple(v.shape) for k, v in d.items()} for name, d in
           (("prior", prior), ("posterior", posterior), ("latents", latents))})
    print(f"pictures in {args.out}/prior.png and {args.out}/posterior_predictive.png")
    return {"prior": prior, "posterior": posterior, "latents": latents, "x": x}


if __name__ == "__main__":
    main()
