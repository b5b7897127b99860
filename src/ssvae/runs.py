"""Run directories: what ``ssvae train`` / ``evaluate`` / ``sample`` read and write.

A run directory (``--out DIR``) holds:

- ``config.json``: every option of the run (model, data, training);
- ``checkpoint.pt``: state_dicts of model, guide and optimizer, the epoch
  history and the RNG state, rewritten atomically after every epoch;
- ``history.csv``: one row per epoch (train ELBO, validation ELBO and its terms, seconds);
- ``metrics.json``: test ELBO, its terms and the IWAE log-likelihood estimate;
- pictures: ``reconstructions.png``, ``samples.png``, ``learning_curves.png`` and,
  for a 2-D latent space, ``latent.png``.
"""
import os
import time

import pandas as pd
import pyro
from tqdm.auto import tqdm

from ssvae import plots
from ssvae.data import binarize, load_dataset
from ssvae.errors import SsvaeError, TrainingDiverged
from ssvae.inference.checkpoint import load_json, save_json, save_table
from ssvae.vae import VAE

#: options of a run and their defaults; ``config.json`` holds all of them
DEFAULTS = dict(
    # model and guide
    z_dim=50, hidden=[400], activation="tanh", likelihood="bernoulli", guide="diagonal",
    # objective and optimizer
    elbo="meanfield", num_particles=1, optimizer="adam", lr=1e-3, guide_lr=None, clip_norm=None,
    # data
    dataset="fashion-mnist", data_dir=None, train_size=None, binarize="dynamic", download=True,
    # training and evaluation
    epochs=10, batch_size=128, seed=0, iwae_k=100, device="cpu",
)
MODEL_KEYS = ("z_dim", "hidden", "activation", "likelihood", "guide", "elbo", "num_particles",
              "optimizer", "lr", "guide_lr", "clip_norm")


def make_config(**options):
    """A full run config: :data:`DEFAULTS` updated by ``options`` (None keeps the default)."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise SsvaeError(f"unknown option(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return dict(DEFAULTS, **{k: v for k, v in options.items() if v is not None})


def load_data(config, data_dir=None):
    """The run's dataset, binarized as configured (validation/test draws are seeded)."""
    data = load_dataset(config["dataset"], data_dir=data_dir or config["data_dir"],
                        download=config["download"], train_size=config["train_size"])
    return binarize(data.to(config["device"]), config["binarize"], seed=config["seed"])


def load_run(out, device=None, restore_rng=False):
    """``(vae, config)`` of the run in ``out``, from its config.json and checkpoint.pt."""
    config = load_json(os.path.join(out, "config.json"))
    if device is not None:
        config["device"] = device
    vae = VAE.load(os.path.join(out, "checkpoint.pt"), device=config["device"], restore_rng=restore_rng)
    return vae, config


def train(out, config=None, resume=False, epochs=None, progress=True, log=print):
    """Train a run into ``out``, or continue the one there (``resume=True``).

    Writes the files listed in the module docstring and returns ``(vae, metrics)``.
    """
    if resume:
        vae, config = load_run(out, restore_rng=True)
        if epochs is not None:
            config["epochs"] = int(epochs)
            save_json(os.path.join(out, "config.json"), config)
        log(f"resuming {out} after epoch {len(vae.history)} of {config['epochs']}")
        data = load_data(config)
    else:
        config = make_config(**(config or {}))
        if os.path.exists(os.path.join(out, "checkpoint.pt")):
            raise SsvaeError(f"{out} already holds a run; continue it with 'ssvae train --resume {out}' "
                             "or choose another --out")
        data = load_data(config)
        pyro.set_rng_seed(config["seed"])
        vae = VAE(x_dim=data.x_dim, device=config["device"], **{k: config[k] for k in MODEL_KEYS})
        vae.check_data(data.x_train, "training images", config["binarize"] == "dynamic")
        os.makedirs(out, exist_ok=True)
        save_json(os.path.join(out, "config.json"), config)
    checkpoint = os.path.join(out, "checkpoint.pt")

    def on_epoch_end(epoch, row):
        vae.save(checkpoint)
        save_table(os.path.join(out, "history.csv"), pd.DataFrame(vae.history))
        message = "  ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        (tqdm.write if progress else log)(message)

    start = time.perf_counter()
    try:
        vae.fit(data.x_train, config["epochs"], config["batch_size"],
                dynamic_binarization=config["binarize"] == "dynamic", x_val=data.x_val,
                progress=progress, on_epoch_end=on_epoch_end)
    except TrainingDiverged as e:
        kept = (f"the last good checkpoint (epoch {len(vae.history)}) is kept in {out}" if vae.history
                else "no checkpoint was written")
        raise TrainingDiverged(f"{e}; {kept}; lower --lr or set --clip-norm") from None
    metrics = evaluate_run(out, vae, data, "test", config["iwae_k"], progress=progress)
    history = pd.DataFrame(vae.history)
    metrics.update(epochs=len(history), train_seconds=round(float(history["seconds"].sum()), 2),
                   mean_epoch_seconds=round(float(history["seconds"].mean()), 3),
                   wall_seconds_this_call=round(time.perf_counter() - start, 2))
    save_json(os.path.join(out, "metrics.json"), metrics)
    write_pictures(out, vae, data, history)
    return vae, metrics


def evaluate_run(out, vae, data, split="test", iwae_k=None, batch_size=1000, progress=False):
    """Metrics of ``split`` (``{split}_elbo``, ``_log_lik``, ``_kl``, ``_log_px``), merged into metrics.json."""
    x, _ = data.split(split)
    start = time.perf_counter()
    values = vae.evaluate(x, iwae_samples=iwae_k or None, batch_size=batch_size,
                          iwae_batch_size=max(1, min(batch_size, 20000 // max(1, iwae_k or 1))),
                          progress=progress)
    metrics = {f"{split}_{k}": v for k, v in values.items()}
    if iwae_k:
        metrics[f"{split}_iwae_k"] = int(iwae_k)
    metrics[f"{split}_eval_seconds"] = round(time.perf_counter() - start, 2)
    path = os.path.join(out, "metrics.json")
    merged = load_json(path) if os.path.exists(path) else {}
    merged.update(metrics)
    save_json(path, merged)
    return merged


def write_pictures(out, vae, data, history):
    """Reconstructions, prior samples, learning curves and (2-D latent) the latent scatter."""
    shape = data.image_shape
    originals = data.x_test[:32]
    plots.save_grid(os.path.join(out, "reconstructions.png"),
                    plots.reconstruction_pairs(originals, vae.reconstruct(originals)), shape)
    plots.save_grid(os.path.join(out, "samples.png"), vae.sample(64), shape)
    plots.learning_curves(os.path.join(out, "learning_curves.png"), history)
    if vae.model.z_dim == 2:
        plots.latent_scatter(os.path.join(out, "latent.png"), vae.encode(data.x_test), data.y_test)
