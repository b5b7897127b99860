"""Run directories: what ``ssvae train`` / ``evaluate`` / ``sample`` / ``predict`` read and write.

One flow serves every model (``--model vae`` or ``m2``): the model class
(:class:`~ssvae.VAE`, :class:`~ssvae.M2`) supplies its options and defaults
(``RUN_DEFAULTS``) and hooks (fit on a dataset, evaluate a split, draw pictures);
this module handles configs, checkpoints, resuming, divergence and metrics.

A run directory (``--out DIR``) holds:

- ``config.json``: every option of the run;
- ``checkpoint.pt``: state_dicts of model, guide and optimizer, the epoch
  history, the RNG state and the model config, rewritten atomically after every
  epoch; ``best.pt``: the same at the epoch with the best validation score;
- ``history.csv``: one row per epoch; ``metrics.json``: the test metrics;
- pictures (``learning_curves.png`` and the model's own) and, for M2,
  ``labelled.csv`` (the labelled subset) and ``confusion.csv``.
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
from ssvae.m1m2 import M1M2
from ssvae.m2 import M2
from ssvae.vae import VAE

ESTIMATORS = {"vae": VAE, "m2": M2, "m1m2": M1M2}

#: options every run has, whatever the model
COMMON_DEFAULTS = dict(model="vae", dataset="fashion-mnist", data_dir=None, train_size=None, binarize="dynamic",
                       download=True, epochs=10, seed=0, device="cpu")


def defaults(model="vae"):
    """All options of a ``model`` run with their defaults."""
    if model not in ESTIMATORS:
        raise SsvaeError(f"unknown model {model!r}; choose one of {', '.join(ESTIMATORS)}")
    return dict(COMMON_DEFAULTS, model=model, **ESTIMATORS[model].RUN_DEFAULTS)


def make_config(**options):
    """A full run config: the model's defaults updated by ``options`` (None keeps the default)."""
    base = defaults(options.get("model") or "vae")
    given = {k: v for k, v in options.items() if v is not None}
    foreign = sorted(set(given) - set(base))
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise SsvaeError(f"{flags} do(es) not apply to --model {base['model']}; drop it or choose another --model")
    return ESTIMATORS[base["model"]].resolve_config(dict(base, **given))


def load_data(config, data_dir=None):
    """The run's dataset, binarized as configured (validation/test draws are seeded)."""
    data = load_dataset(config["dataset"], data_dir=data_dir or config["data_dir"],
                        download=config["download"], train_size=config["train_size"])
    return binarize(data.to(config["device"]), config["binarize"], seed=config["seed"])


def load_run(out, device=None, restore_rng=False, checkpoint="checkpoint.pt"):
    """``(estimator, config)`` of the run in ``out``."""
    config = load_json(os.path.join(out, "config.json"))
    if device is not None:
        config["device"] = device
    cls = ESTIMATORS.get(config.get("model", "vae"))
    if cls is None:
        raise SsvaeError(f"{out}/config.json names an unknown model {config.get('model')!r}")
    return cls.load(os.path.join(out, checkpoint), device=config["device"], restore_rng=restore_rng), config


def train(out, config=None, resume=False, epochs=None, progress=True, log=print):
    """Train a run into ``out``, or continue the one there (``resume=True``); returns ``(estimator, metrics)``."""
    if resume:
        estimator, config = load_run(out, restore_rng=True)
        if epochs is not None:
            config["epochs"] = int(epochs)
            save_json(os.path.join(out, "config.json"), config)
        log(f"resuming {out} after epoch {len(estimator.history)} of {config['epochs']}")
        data = load_data(config)
    else:
        config = make_config(**(config or {}))
        if os.path.exists(os.path.join(out, "checkpoint.pt")):
            raise SsvaeError(f"{out} already holds a run; continue it with 'ssvae train --resume {out}' "
                             "or choose another --out")
        data = load_data(config)
        pyro.set_rng_seed(config["seed"])
        estimator = ESTIMATORS[config["model"]].from_config(config, data)
        estimator.check_run(data, config)  # refuse bad input before anything is written
        if getattr(estimator, "elbo_note", None):
            log(estimator.elbo_note)
        config.update({k: v for k, v in estimator.config.items() if k in config})  # resolved values
        os.makedirs(out, exist_ok=True)
        save_json(os.path.join(out, "config.json"), config)
        estimator.start_run(out, data, config, progress=progress, log=log)
    metric = estimator.selection_metric

    def on_epoch_end(epoch, row):
        estimator.save(os.path.join(out, "checkpoint.pt"))
        scores = [r[metric] for r in estimator.history if metric in r]
        if metric in row and row[metric] >= max(scores):
            estimator.save(os.path.join(out, "best.pt"))
        save_table(os.path.join(out, "history.csv"), pd.DataFrame(estimator.history))
        message = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        (tqdm.write if progress else log)(message)

    start = time.perf_counter()
    try:
        estimator.fit_data(data, config, progress=progress, on_epoch_end=on_epoch_end)
    except TrainingDiverged as e:
        kept = (f"the last good checkpoint (epoch {len(estimator.history)}) is kept in {out}" if estimator.history
                else "no checkpoint was written")
        raise TrainingDiverged(f"{e}; {kept}; lower --lr or set --clip-norm") from None
    save_json(os.path.join(out, "config.json"), config)  # with values fixed during fit (M2's alpha)
    history = pd.DataFrame(estimator.history)
    metrics = evaluate_run(out, estimator, data, "test", config, progress=progress)
    metrics.update(epochs=len(history), train_seconds=round(float(history["seconds"].sum()), 2),
                   mean_epoch_seconds=round(float(history["seconds"].mean()), 3),
                   wall_seconds_this_call=round(time.perf_counter() - start, 2),
                   model_parameters=sum(p.numel() for p in estimator.model.parameters()),  # θ
                   guide_parameters=sum(p.numel() for p in estimator.guide.parameters()))  # φ
    save_json(os.path.join(out, "metrics.json"), metrics)
    estimator.write_pictures(out, data)
    plots.learning_curves(os.path.join(out, "learning_curves.png"), history)
    return estimator, metrics


def evaluate_run(out, estimator, data, split, config, progress=False, **options):
    """The estimator's metrics on ``split``, merged into ``out/metrics.json``."""
    start = time.perf_counter()
    metrics = estimator.evaluate_data(data, split, config, progress=progress, **options)
    metrics[f"{split}_eval_seconds"] = round(time.perf_counter() - start, 2)
    path = os.path.join(out, "metrics.json")
    merged = load_json(path) if os.path.exists(path) else {}
    merged.update(metrics)
    save_json(path, merged)
    return merged
