"""The ``ssvae`` command line: ``train``, ``evaluate`` and ``sample``.

Run ``ssvae COMMAND --help`` for every flag. Problems with input, data or files
are reported as one line, ``ssvae: error: ...``, with exit status 2.
"""
import argparse
import os
import sys

import pyro

from ssvae import plots, runs
from ssvae.data import BINARIZATIONS, DATASETS
from ssvae.errors import SsvaeError
from ssvae.guides import GUIDES
from ssvae.inference import ELBOS, OPTIMIZERS
from ssvae.models import ACTIVATIONS, DECODERS

D = runs.DEFAULTS


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _add_train(sub):
    p = sub.add_parser("train", help="train a VAE and write a run directory",
                       description="Train the AEVB variational autoencoder with SVI and write a run directory "
                                   "(config.json, checkpoint.pt, history.csv, metrics.json, pictures).")
    p.add_argument("--out", default="runs/vae", help="run directory to create (default: runs/vae)")
    p.add_argument("--resume", metavar="DIR", help="continue the interrupted or finished run in DIR from its "
                   "checkpoint (only --epochs, --device and --quiet may be given with it)")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=sorted(DATASETS), help=f"image dataset (default: {D['dataset']})")
    g.add_argument("--data-dir", metavar="DIR", help="directory of idx files (train-images-idx3-ubyte[.gz] and "
                   "friends) to use instead of the defaults")
    g.add_argument("--no-download", dest="download", action="store_const", const=False,
                   help="never download; fail with instructions when the data are missing")
    g.add_argument("--train-size", type=_positive_int, metavar="N",
                   help="use only the first N of the 50k training images (quick runs)")
    g.add_argument("--binarize", choices=BINARIZATIONS, help="dynamic: fresh Bernoulli draw per minibatch; "
                   f"static: one seeded draw; none: raw intensities (default: {D['binarize']})")
    g = p.add_argument_group("model and guide")
    g.add_argument("--likelihood", choices=sorted(DECODERS), help="decoder p(x|z): bernoulli (binary images), "
                   f"gaussian, cbernoulli (continuous Bernoulli on [0,1]) (default: {D['likelihood']})")
    g.add_argument("--z-dim", type=_positive_int, help=f"latent size (default: {D['z_dim']})")
    g.add_argument("--hidden", type=_positive_int, nargs="+", metavar="H",
                   help=f"hidden layer sizes of decoder and encoder, e.g. 500 500 (default: {D['hidden'][0]})")
    g.add_argument("--activation", choices=sorted(ACTIVATIONS), help=f"hidden activation (default: {D['activation']})")
    g.add_argument("--guide", choices=sorted(GUIDES), help=f"posterior family q(z|x) (default: {D['guide']})")
    g = p.add_argument_group("objective and optimizer")
    g.add_argument("--elbo", choices=sorted(ELBOS), help="meanfield: closed-form KL (TraceMeanField_ELBO); trace: "
                   f"Monte Carlo KL (Trace_ELBO) (default: {D['elbo']})")
    g.add_argument("--num-particles", type=_positive_int, help="samples of z per image and step (default: 1)")
    g.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help=f"(default: {D['optimizer']})")
    g.add_argument("--lr", type=_positive_float, help=f"learning rate (default: {D['lr']})")
    g.add_argument("--guide-lr", type=_positive_float, help="learning rate of the guide (default: --lr)")
    g.add_argument("--clip-norm", type=_positive_float, help="clip the gradient norm (adam) or each gradient "
                   "element (clipped-adam) at this value (default: no clipping; clipped-adam: 10)")
    g = p.add_argument_group("run")
    g.add_argument("--epochs", type=_positive_int, help=f"training epochs (default: {D['epochs']})")
    g.add_argument("--batch-size", type=_positive_int, help=f"minibatch size (default: {D['batch_size']})")
    g.add_argument("--seed", type=int, help=f"random seed (default: {D['seed']})")
    g.add_argument("--iwae-k", type=int, metavar="K", help="importance samples for the test log-likelihood after "
                   f"training; 0 skips it (default: {D['iwae_k']})")
    g.add_argument("--device", choices=["cpu", "cuda"], help="where to train (default: cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(run=cmd_train)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="ELBO and IWAE log-likelihood of a trained run",
                       description="Evaluate a run: mean per-image ELBO, its terms E_q[log p(x|z)] and KL, and the "
                                   "importance-weighted estimate of log p(x); merged into RUN_DIR/metrics.json.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="directory written by 'ssvae train'")
    p.add_argument("--split", choices=["test", "val", "train"], default="test", help="(default: test)")
    p.add_argument("--iwae-k", type=int, default=1000, metavar="K",
                   help="importance samples per image; 0 skips the estimate (default: 1000)")
    p.add_argument("--batch-size", type=_positive_int, default=1000, help="images per ELBO batch (default: 1000)")
    p.add_argument("--data-dir", metavar="DIR", help="read the data from DIR instead of where the run found them")
    p.add_argument("--device", choices=["cpu", "cuda"], help="(default: the run's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo samples (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_evaluate)


def _add_sample(sub):
    p = sub.add_parser("sample", help="draw new images from a trained run",
                       description="Draw z ~ N(0, I) and write a PNG grid of E[x|z] (or of x ~ p(x|z) with --binary).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="directory written by 'ssvae train'")
    p.add_argument("--num", type=_positive_int, default=64, help="number of images (default: 64)")
    p.add_argument("--out", help="PNG file to write (default: RUN_DIR/samples-seedS.png)")
    p.add_argument("--nrow", type=_positive_int, default=8, help="images per row (default: 8)")
    p.add_argument("--binary", action="store_true", help="draw x ~ p(x|z) instead of showing the mean E[x|z]")
    p.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="(default: the run's)")
    p.set_defaults(run=cmd_sample)


def build_parser():
    parser = argparse.ArgumentParser(prog="ssvae", description="Deep generative models of images in Pyro: the "
                                     "AEVB variational autoencoder (Kingma & Welling 2013).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_evaluate(sub)
    _add_sample(sub)
    return parser


RUN_OPTIONS = [k for k in runs.DEFAULTS if k != "device"]


def cmd_train(args):
    if args.resume:
        fixed = [k for k in RUN_OPTIONS if k != "epochs" and getattr(args, k, None) is not None]
        if fixed:
            flags = ", ".join("--" + k.replace("_", "-") for k in fixed)
            raise SsvaeError(f"{flags} cannot change with --resume: the run's config.json fixes them; "
                             "start a new run with --out instead")
        runs.train(args.resume, resume=True, epochs=args.epochs, progress=not args.quiet)
        out = args.resume
    else:
        options = {k: getattr(args, k, None) for k in runs.DEFAULTS}
        _, metrics = runs.train(args.out, options, progress=not args.quiet)
        out = args.out
    metrics = runs.load_json(os.path.join(out, "metrics.json"))
    print(_summary(metrics, "test"))
    print(f"run written to {out}/ (history.csv, metrics.json, checkpoint.pt, pictures)")


def cmd_evaluate(args):
    vae, config = runs.load_run(args.run_dir, device=args.device)
    data = runs.load_data(config, data_dir=args.data_dir)
    pyro.set_rng_seed(args.seed)
    metrics = runs.evaluate_run(args.run_dir, vae, data, args.split, args.iwae_k, args.batch_size,
                                progress=not args.quiet)
    print(_summary(metrics, args.split))


def cmd_sample(args):
    vae, config = runs.load_run(args.run_dir, device=args.device)
    pyro.set_rng_seed(args.seed)
    images = vae.sample(args.num, mean=not args.binary)
    side = int(round(vae.model.x_dim ** 0.5))
    shape = (side, side) if side * side == vae.model.x_dim else (1, vae.model.x_dim)
    out = args.out or os.path.join(args.run_dir, f"samples-seed{args.seed}.png")
    plots.save_grid(out, images, shape, nrow=args.nrow)
    print(f"wrote {args.num} samples to {out}")


def _summary(metrics, split):
    parts = [f"{split} ELBO {metrics[f'{split}_elbo']:.2f}",
             f"E_q[log p(x|z)] {metrics[f'{split}_log_lik']:.2f}", f"KL {metrics[f'{split}_kl']:.2f}"]
    if f"{split}_log_px" in metrics:
        parts.append(f"log p(x) ≈ {metrics[f'{split}_log_px']:.2f} (IWAE, K={metrics[f'{split}_iwae_k']})")
    return " | ".join(parts) + " nats per image"


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except SsvaeError as e:
        print(f"ssvae: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssvae: interrupted; the last completed epoch's checkpoint is kept (continue with --resume)",
              file=sys.stderr)
        return 130
    return 0
