"""Atomic files: a run killed mid-write leaves the previous good file in place.

Every file a run writes goes to a temporary file in the same directory first
and is moved over the old one with :func:`os.replace`, which is atomic on POSIX
and Windows. Checkpoints are plain ``torch.save`` dicts of state_dicts (never the
global Pyro param store), loaded with ``weights_only=True``.
"""
import json
import os
import tempfile

import torch

from ssvae.errors import SsvaeError


def atomic_write(path, write, binary=True):
    """Call ``write(fileobj)`` on a temporary file, then move it to ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_json(path, obj):
    atomic_write(path, lambda f: json.dump(obj, f, indent=2, sort_keys=True), binary=False)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SsvaeError(f"{path} not found; is {os.path.dirname(path) or '.'} a run directory made by 'ssvae train'?")
    except (OSError, ValueError) as e:
        raise SsvaeError(f"cannot read {path}: {e}; the file is damaged, re-run 'ssvae train'")


def save_table(path, frame):
    """Write a pandas DataFrame as CSV, atomically."""
    atomic_write(path, lambda f: frame.to_csv(f, index=False), binary=False)


def save_checkpoint(path, state):
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path, map_location="cpu"):
    """The dict saved by :func:`save_checkpoint`, with a clear error for a bad file."""
    if not os.path.isfile(path):
        raise SsvaeError(f"checkpoint {path} not found; train a run first ('ssvae train --out DIR')")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged file
        raise SsvaeError(f"cannot read checkpoint {path} ({type(e).__name__}); it is damaged or not an ssvae checkpoint")
    if not isinstance(state, dict) or not {"model", "guide"} <= set(state):
        raise SsvaeError(f"{path} is not an ssvae checkpoint (no model/guide state); point at a run made by 'ssvae train'")
    return state


def load_module_state(module, state, what, path):
    """``module.load_state_dict(state)`` with a clear error when sizes or names differ."""
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        detail = " ".join(line.strip() for line in str(e).strip().splitlines())
        detail = detail if len(detail) <= 600 else detail[:600] + " ..."
        raise SsvaeError(f"checkpoint {path} does not match this {what} ({detail}); "
                         "load it with the config.json it was saved with (or retrain it, if an older ssvae saved it)")
