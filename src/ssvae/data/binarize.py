"""Binarization of [0, 1] images for the Bernoulli decoder, and minibatches.

- ``dynamic``: each training minibatch is a fresh Bernoulli draw with the pixel
  intensities as probabilities (a new binary image every epoch; the default with
  the Bernoulli decoder). Validation and test sets get one fixed, seeded draw so
  that evaluations are comparable across epochs and runs.
- ``static``: one seeded draw of every split, used for the whole run.
- ``none``: intensities as they are (for Gaussian and continuous Bernoulli decoders).
"""
import dataclasses

import torch

from ssvae.errors import SsvaeError

BINARIZATIONS = ("dynamic", "static", "none")


def _draw(x, generator):
    return torch.bernoulli(x, generator=generator)


def binarize(data, mode, seed=0):
    """A copy of ``data`` (:class:`ImageData`) binarized by ``mode`` (see module doc)."""
    if mode not in BINARIZATIONS:
        raise SsvaeError(f"unknown binarization {mode!r}; choose one of {', '.join(BINARIZATIONS)}")
    if mode == "none":
        return data
    generator = torch.Generator(device=data.x_train.device).manual_seed(seed)
    changes = {"x_val": _draw(data.x_val, generator), "x_test": _draw(data.x_test, generator)}
    if mode == "static":
        changes["x_train"] = _draw(data.x_train, generator)
    return dataclasses.replace(data, **changes)


def minibatches(num_items, batch_size, shuffle=True, device=None):
    """Index tensors covering ``range(num_items)`` in minibatches (shuffled by torch's RNG)."""
    if batch_size < 1:
        raise SsvaeError(f"batch size must be at least 1, got {batch_size}")
    order = torch.randperm(num_items, device=device) if shuffle else torch.arange(num_items, device=device)
    return order.split(batch_size)
