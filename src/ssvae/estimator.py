"""What the user-facing model classes (:class:`~ssvae.VAE`, :class:`~ssvae.M2`) share.

An estimator owns a Pyro model (θ), a guide (φ) and a :class:`~ssvae.inference.Trainer`,
and saves/loads them as one checkpoint (state_dicts, history, RNG state, config).
Subclasses set ``kind`` and ``RUN_DEFAULTS`` and implement the run hooks used by
:mod:`ssvae.runs`: ``fit_data``, ``evaluate_data`` and ``write_pictures``.
"""
import inspect

import torch
from torch.distributions import constraints

from ssvae.errors import SsvaeError
from ssvae.inference.checkpoint import load_checkpoint, save_checkpoint
from ssvae.inference.params import parameter_table


def resolve_device(device):
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SsvaeError("--device cuda was asked for but torch finds no CUDA GPU; use --device cpu")
    return device


class Estimator:
    """Base class: model + guide + trainer, with checkpoints."""

    #: the name stored in checkpoints and used by ``ssvae train --model``
    kind = None
    #: ``ssvae train`` options of this model and their defaults
    RUN_DEFAULTS = {}
    #: history column whose maximum marks the best epoch (``best.pt``)
    selection_metric = "val_elbo"

    @property
    def history(self):
        return self.trainer.history

    def parameters_table(self):
        """θ (model) and φ (guide) weights by name, as a pandas DataFrame."""
        return parameter_table(self.model, self.guide)

    def check_data(self, x, what="data", dynamic_binarization=False):
        """Raise :class:`SsvaeError` unless the decoder can model ``x``."""
        decoder = self.model.decoder
        if dynamic_binarization:
            decoder.check_data(x.clamp(0, 1).round(), what)  # shape, dtype, NaN
            if not bool(constraints.unit_interval.check(x).all()):
                raise SsvaeError(f"{what} must hold intensities in [0, 1] for dynamic binarization")
        else:
            decoder.check_data(x, what)

    def state_dict(self):
        state = self.trainer.state_dict()
        state.update(kind=self.kind, config=dict(self.config), epoch=len(self.history),
                     rng={"torch": torch.get_rng_state(),
                          "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []})
        return state

    @classmethod
    def _check_kind(cls, state, path):
        if state.get("kind", "vae") != cls.kind:
            raise SsvaeError(f"{path} holds a {state.get('kind')!r} model, not {cls.kind!r}; "
                             "load it with the matching class (or --model)")

    def load_state_dict(self, state, path="checkpoint", restore_rng=False):
        self._check_kind(state, path)
        self.trainer.load_state_dict(state, path)
        if restore_rng and "rng" in state:
            torch.set_rng_state(state["rng"]["torch"])
            if state["rng"]["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])

    def save(self, path):
        """Write model, guide, optimizer, history, config and RNG state to ``path`` (atomically)."""
        save_checkpoint(path, self.state_dict())

    @classmethod
    def load(cls, path, device="cpu", restore_rng=False):
        """An estimator rebuilt from the config stored in the checkpoint at ``path``."""
        state = load_checkpoint(path, map_location=device)
        if "config" not in state:
            raise SsvaeError(f"{path} has no config; it was not written by ssvae")
        cls._check_kind(state, path)  # before building: another kind's config would not fit this class
        estimator = cls(**state["config"], device=device)
        estimator.load_state_dict(state, path, restore_rng)
        return estimator

    # -- run hooks (ssvae.runs); subclasses add fit_data, evaluate_data, write_pictures

    @classmethod
    def from_config(cls, config, data):
        """Build from a run config: the options in ``RUN_DEFAULTS`` that the constructor takes,
        with sizes (``x_dim``, ``num_classes``) from the data."""
        accepted = {name for klass in cls.__mro__ if "__init__" in vars(klass)
                    for name in inspect.signature(klass.__init__).parameters}
        sizes = {"x_dim": data.x_dim, "num_classes": data.num_classes}
        kwargs = {k: config[k] for k in cls.RUN_DEFAULTS if k in accepted}
        kwargs.update({k: v for k, v in sizes.items() if k in accepted})
        return cls(device=config["device"], **kwargs)

    @classmethod
    def resolve_config(cls, config):
        """Fill in options whose default depends on other options (none by default); returns ``config``."""
        return config

    def check_run(self, data, config):
        """Raise :class:`SsvaeError` if this run cannot work on ``data`` (called before writing anything)."""
        self.check_data(data.x_train, "training images", config["binarize"] == "dynamic")

    def start_run(self, out, data, config, progress=True, log=print):
        """Write files a fresh run needs beside its config (none by default)."""
