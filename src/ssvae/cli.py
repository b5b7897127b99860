"""The ``ssvae`` command line: ``train``, ``evaluate``, ``sample`` and ``predict``.

Run ``ssvae COMMAND --help`` for every flag. Problems with input, data or files
are reported as one line, ``ssvae: error: ...``, with exit status 2.
"""
import argparse
import os
import sys

import numpy as np
import pandas as pd
import pyro
import torch

from ssvae import plots, runs
from ssvae.data import BINARIZATIONS, DATASETS, read_idx
from ssvae.errors import SsvaeError
from ssvae.guides import GUIDES
from ssvae.inference import ELBOS, OPTIMIZERS
from ssvae.inference.checkpoint import save_table
from ssvae.inference.semisupervised import ENUMERATIONS
from ssvae.m2 import M2
from ssvae.models import ACTIVATIONS, DECODERS

DEFAULTS = {model: runs.defaults(model) for model in ("vae", "m2", "m1m2")}
D, M, S = DEFAULTS["vae"], DEFAULTS["m2"], DEFAULTS["m1m2"]


def _per_model(key):
    """'vae X, m2 Y, m1m2 Z' for options whose default depends on the model, else the one default."""
    values = {model: d[key] for model, d in DEFAULTS.items() if key in d}
    if len(set(map(str, values.values()))) == 1:
        return next(iter(values.values()))
    return ", ".join(f"{model} {value}" for model, value in values.items())


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
    p = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train the AEVB variational autoencoder (--model vae), the semi-supervised M2 "
                                   "(--model m2) or the stacked M1+M2 (--model m1m2) with SVI and write a run "
                                   "directory (config.json, checkpoint.pt, history.csv, metrics.json, pictures).")
    p.add_argument("--model", choices=sorted(runs.ESTIMATORS), help="vae: unsupervised AEVB / M1; m2: semi-supervised "
                   "M2 with a few labels; m1m2: M2 stacked on M1's codes (default: vae)")
    p.add_argument("--out", default="runs/run", help="run directory to create (default: runs/run)")
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
                   help=f"hidden layer sizes of decoder and encoder, e.g. 500 500 (default: {_per_model('hidden')})")
    g.add_argument("--activation", choices=sorted(ACTIVATIONS), help=f"hidden activation (default: {_per_model('activation')})")
    g.add_argument("--guide", choices=list(GUIDES), help="posterior family q(z|x): diagonal Gaussian, full covariance, "
                   "low rank + diagonal, or a normalizing flow (iaf, planar, radial, spline) on a Gaussian base "
                   f"(default: {D['guide']})")
    g.add_argument("--rank", type=_positive_int, help="rank of the lowrank family's covariance factor (default: 2)")
    g.add_argument("--flow-steps", type=_positive_int, metavar="K", help="steps of a flow family (default: 2)")
    g = p.add_argument_group("M2 (--model m2)")
    g.add_argument("--labels", type=_positive_int, metavar="N", help="labelled training images, balanced per "
                   f"class and drawn with --seed; the rest are unlabelled (default: {M['labels']})")
    g.add_argument("--alpha", type=float, help="weight of the classification loss, absolute (default: "
                   "--alpha-per-image x the number of training images)")
    g.add_argument("--alpha-per-image", type=float, metavar="A", help="alpha = A x N training images; the paper "
                   f"used 0.1 (default: {M['alpha_per_image']})")
    g.add_argument("--enumerate", choices=ENUMERATIONS, help="how unlabelled y is summed out: parallel or sequential "
                   f"enumeration (exact), or sample (score function) (default: {M['enumerate']})")
    g.add_argument("--labelled-batch-size", type=_positive_int, metavar="B", help="labelled images per step, "
                   "cycled (default: M2 min(100, N // 10) for N labels, M1+M2 100)")
    g.add_argument("--classifier-hidden", type=_positive_int, nargs="+", metavar="H",
                   help=f"hidden sizes of the classifier q(y|x) (default: {M['classifier_hidden'][0]})")
    g.add_argument("--no-baseline", dest="baseline", action="store_const", const=False,
                   help="skip training the labelled-only baseline classifier")
    g = p.add_argument_group("M1+M2 (--model m1m2; every M2 flag applies to M2 on the codes)")
    g.add_argument("--m1", metavar="DIR", help="reuse the trained VAE run in DIR as M1 (default: train M1 first, "
                   "into OUT/m1)")
    g.add_argument("--z1-dim", type=_positive_int, help=f"size of M1's code z1 (default: {S['z1_dim']})")
    g.add_argument("--m1-hidden", type=_positive_int, nargs="+", metavar="H",
                   help=f"M1's hidden sizes (default: {' '.join(map(str, S['m1_hidden']))})")
    g.add_argument("--m1-activation", choices=sorted(ACTIVATIONS), help=f"M1's activation (default: "
                   f"{S['m1_activation']})")
    g.add_argument("--m1-epochs", type=_positive_int, help=f"M1 training epochs (default: {S['m1_epochs']})")
    g.add_argument("--m1-lr", type=_positive_float, help=f"M1 learning rate (default: {S['m1_lr']})")
    g.add_argument("--m1-batch-size", type=_positive_int, help=f"M1 minibatch size (default: {S['m1_batch_size']})")
    g.add_argument("--features", choices=["sample", "mean"], help="M2 learns from z1 ~ q(z1|x) drawn at every step "
                   f"(sample, the paper's) or from E[z1|x] (mean) (default: {S['features']})")
    g = p.add_argument_group("objective and optimizer")
    g.add_argument("--elbo", choices=["auto", *ELBOS], help="(vae) meanfield: closed-form KL (TraceMeanField_ELBO); "
                   "trace: Monte Carlo KL (Trace_ELBO); auto: meanfield where the guide family has a closed-form KL, "
                   f"else trace (default: {D['elbo']})")
    g.add_argument("--num-particles", type=_positive_int, help="samples of z per image and step (default: 1)")
    g.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help=f"(default: {D['optimizer']})")
    g.add_argument("--lr", type=_positive_float, help=f"learning rate (default: {_per_model('lr')})")
    g.add_argument("--guide-lr", type=_positive_float, help="learning rate of the guide (default: --lr)")
    g.add_argument("--clip-norm", type=_positive_float, help="clip the gradient norm (adam) or each gradient "
                   "element (clipped-adam) at this value (default: no clipping; clipped-adam: 10)")
    g.add_argument("--lr-decay", type=_positive_float, metavar="GAMMA", help="multiply the learning rates by GAMMA "
                   "in (0, 1] after every epoch, e.g. 0.9 (default: constant)")
    g = p.add_argument_group("run")
    g.add_argument("--epochs", type=_positive_int, help=f"training epochs (default: {D['epochs']})")
    g.add_argument("--batch-size", type=_positive_int, help=f"minibatch size (m2: unlabelled images per step) "
                   f"(default: {_per_model('batch_size')})")
    g.add_argument("--seed", type=int, help=f"random seed (default: {D['seed']})")
    g.add_argument("--iwae-k", type=int, metavar="K", help="(vae) importance samples for the test log-likelihood "
                   f"after training; 0 skips it (default: {D['iwae_k']})")
    g.add_argument("--device", choices=["cpu", "cuda"], help="where to train (default: cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(run=cmd_train)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="ELBO and IWAE log-likelihood (vae) or accuracy (m2, m1m2) of a run",
                       description="Evaluate a run, merged into RUN_DIR/metrics.json. vae: mean per-image ELBO, its "
                                   "terms E_q[log p(x|z)] and KL, and the importance-weighted estimate of log p(x); "
                                   "m2 and m1m2: classification accuracy.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="directory written by 'ssvae train'")
    p.add_argument("--split", choices=["test", "val", "train"], default="test", help="(default: test)")
    p.add_argument("--iwae-k", type=int, metavar="K",
                   help="(vae) importance samples per image; 0 skips the estimate (default: 1000)")
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


def _add_predict(sub):
    p = sub.add_parser("predict", help="classify images with a trained M2 or M1+M2 run",
                       description="Class probabilities q(y|x) and labels for images in an idx, .npy or .pt file "
                                   "((N, 28, 28) or (N, 784); uint8 0..255 or float 0..1), as CSV.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="directory written by 'ssvae train --model m2' (or m1m2)")
    p.add_argument("input", metavar="INPUT", help="images to classify")
    p.add_argument("--out", help="CSV file to write (default: print to stdout)")
    p.add_argument("--checkpoint", default="best.pt", choices=["best.pt", "checkpoint.pt"],
                   help="best validation accuracy (default) or last epoch")
    p.add_argument("--seed", type=int, default=0, help="seed of the binarization draw (default: 0)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="(default: the run's)")
    p.set_defaults(run=cmd_predict)


def build_parser():
    parser = argparse.ArgumentParser(prog="ssvae", description="Deep generative models of images with few labels, "
                                     "in Pyro: the AEVB variational autoencoder (Kingma & Welling 2013) and the "
                                     "semi-supervised M2 and the stacked M1+M2 (Kingma et al. 2014).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_evaluate(sub)
    _add_sample(sub)
    _add_predict(sub)
    return parser


#: every train option of any model; with --resume only epochs (and device) may be given
RUN_OPTIONS = sorted(set().union(*(runs.defaults(model) for model in runs.ESTIMATORS)))


def cmd_train(args):
    if args.resume:
        fixed = [k for k in RUN_OPTIONS if k not in ("epochs", "device") and getattr(args, k, None) is not None]
        if fixed:
            flags = ", ".join("--" + k.replace("_", "-") for k in fixed)
            raise SsvaeError(f"{flags} cannot change with --resume: the run's config.json fixes them; "
                             "start a new run with --out instead")
        runs.train(args.resume, resume=True, epochs=args.epochs, progress=not args.quiet)
        out = args.resume
    else:
        options = {k: getattr(args, k, None) for k in RUN_OPTIONS}
        runs.train(args.out, options, progress=not args.quiet)
        out = args.out
    print(_summary(runs.load_json(os.path.join(out, "metrics.json")), "test"))
    print(f"run written to {out}/ (history.csv, metrics.json, checkpoint.pt, pictures)")


def cmd_evaluate(args):
    estimator, config = runs.load_run(args.run_dir, device=args.device)
    options = {"batch_size": args.batch_size}
    if config.get("model", "vae") == "vae":
        options["iwae_k"] = 1000 if args.iwae_k is None else args.iwae_k
    elif args.iwae_k is not None:
        raise SsvaeError(f"--iwae-k applies to vae runs; an {config['model']} run is evaluated by its accuracy")
    data = runs.load_data(config, data_dir=args.data_dir)
    pyro.set_rng_seed(args.seed)
    metrics = runs.evaluate_run(args.run_dir, estimator, data, args.split, config, progress=not args.quiet,
                                **options)
    print(_summary(metrics, args.split))


def cmd_sample(args):
    estimator, config = runs.load_run(args.run_dir, device=args.device)
    pyro.set_rng_seed(args.seed)
    if isinstance(estimator, M2):  # rows of each class (m2 and m1m2)
        k = estimator.num_classes
        labels = torch.arange(k).repeat(-(-args.num // k))[:args.num]
        images, nrow = estimator.sample(labels, mean=not args.binary), k
    else:
        images, nrow = estimator.sample(args.num, mean=not args.binary), args.nrow
    x_dim = estimator.model.x_dim
    side = int(round(x_dim ** 0.5))
    out = args.out or os.path.join(args.run_dir, f"samples-seed{args.seed}.png")
    plots.save_grid(out, images, (side, side) if side * side == x_dim else (1, x_dim), nrow=nrow)
    print(f"wrote {args.num} samples to {out}")


def cmd_predict(args):
    estimator, config = runs.load_run(args.run_dir, device=args.device, checkpoint=args.checkpoint)
    if not isinstance(estimator, M2):
        raise SsvaeError(f"{args.run_dir} is a {estimator.kind!r} run; predict needs a classifier (--model m2 or m1m2)")
    x = read_images(args.input, estimator.model.x_dim)
    if config["binarize"] != "none":  # as the test set: one seeded Bernoulli draw
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(args.seed))
    probs, labels = estimator.predict(x)
    frame = pd.DataFrame(probs.cpu().numpy(), columns=[f"prob_{k}" for k in range(probs.shape[1])])
    frame.insert(0, "label", labels.cpu().numpy())
    if args.out:
        save_table(args.out, frame.reset_index(names="index"))
        print(f"wrote predictions for {len(frame)} images to {args.out}")
    else:
        print(frame.reset_index(names="index").to_csv(index=False), end="")


def read_images(path, x_dim):
    """Images from an idx file, a .npy or a .pt tensor: (N, H, W) or (N, H*W), uint8 0..255 or float 0..1."""
    if not os.path.isfile(path):
        raise SsvaeError(f"input {path} not found; give an idx, .npy or .pt file of images")
    if path.endswith(".npy"):
        x = torch.from_numpy(np.load(path))
    elif path.endswith(".pt"):
        x = torch.load(path, weights_only=True)
        if not torch.is_tensor(x):
            raise SsvaeError(f"{path} holds a {type(x).__name__}, not a tensor of images")
    else:
        x = read_idx(path)
    x = x.reshape(x.shape[0], -1) if x.dim() > 1 else x
    if x.dim() != 2 or x.shape[1] != x_dim:
        raise SsvaeError(f"{path} holds images of shape {tuple(x.shape)}, but the model takes {x_dim} pixels each")
    x = x.float() / 255.0 if not x.is_floating_point() else x.float()
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise SsvaeError(f"{path}: pixel values must be 0..255 (integers) or 0..1 (floats) without NaN")
    return x


def _summary(metrics, split):
    if f"{split}_accuracy" in metrics:
        text = f"{split} accuracy {100 * metrics[f'{split}_accuracy']:.2f}%"
        if split == "test" and "baseline_test_accuracy" in metrics:
            text += f" | labelled-only baseline {100 * metrics['baseline_test_accuracy']:.2f}%"
        for name in ("linear", "mlp", "spreading"):
            if split == "test" and f"m1_{name}_test_accuracy" in metrics:
                text += f" | M1 + {name} {100 * metrics[f'm1_{name}_test_accuracy']:.2f}%"
        return text
    parts = [f"{split} ELBO {metrics[f'{split}_elbo']:.2f}",
             f"E_q[log p(x|z)] {metrics[f'{split}_log_lik']:.2f}", f"KL {metrics[f'{split}_kl']:.2f}"]
    if f"{split}_log_px" in metrics:
        parts.append(f"log p(x) ≈ {metrics[f'{split}_log_px']:.2f} (IWAE, K={metrics[f'{split}_iwae_k']})")
    text = " | ".join(parts) + " nats per image"
    if f"{split}_active_units" in metrics:
        text += f" | {metrics[f'{split}_active_units']} active latent units"
    return text


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
