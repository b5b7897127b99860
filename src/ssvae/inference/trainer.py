r"""One trainer for every model and guide: stochastic variational inference.

Each step draws z ~ q_φ(z|x), evaluates the Pyro ELBO's differentiable loss
``-ELBO`` (a :class:`pyro.infer.elbo.ELBOModule`), backpropagates into both θ
(model) and φ (guide), and takes one optimizer step. The optimizer is a plain
``torch.optim`` optimizer over the two modules' own parameters, with one
parameter group each — so the model and the guide can have different learning
rates, and saving/loading is ``state_dict`` only, independent of Pyro's global
param store.
"""
import math
import time

import pyro
import torch
from pyro.optim.clipped_adam import ClippedAdam
from tqdm.auto import tqdm

from ssvae.errors import SsvaeError, TrainingDiverged
from ssvae.inference.checkpoint import load_module_state
from ssvae.inference.checks import check_model_guide
from ssvae.inference.elbo import make_elbo

OPTIMIZERS = {"adam": torch.optim.Adam, "clipped-adam": ClippedAdam}


class Trainer:
    """SVI for a model/guide pair.

    :param model: Pyro model (a PyroModule; θ = its parameters).
    :param guide: Pyro guide (a PyroModule; φ = its parameters).
    :param str elbo: ``"meanfield"`` (closed-form KL) or ``"trace"`` (Monte Carlo KL).
    :param int num_particles: samples of z per image and step (vectorized).
    :param str optimizer: ``"adam"`` or ``"clipped-adam"`` (Pyro's Adam with element-wise
        gradient clipping at ``clip_norm``).
    :param float lr: learning rate of θ (and of φ unless ``guide_lr`` is given).
    :param float guide_lr: learning rate of φ.
    :param float clip_norm: clip the global gradient norm (Adam) or each gradient
        element (ClippedAdam) at this value; None for no clipping.
    :param float lr_decay: multiply every learning rate by this factor in (0, 1] after each
        epoch (``torch.optim.lr_scheduler.ExponentialLR``); None or 1 keeps them constant.
        The history then records each epoch's ``lr``.
    """

    def __init__(self, model, guide, elbo="meanfield", num_particles=1, optimizer="adam", lr=1e-3,
                 guide_lr=None, clip_norm=None, lr_decay=None, loss=None):
        if optimizer not in OPTIMIZERS:
            raise SsvaeError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        for what, value in (("lr", lr), ("guide_lr", guide_lr), ("clip_norm", clip_norm)):
            if value is not None and not value > 0:
                raise SsvaeError(f"{what} must be positive, got {value}")
        if lr_decay is not None and not 0 < lr_decay <= 1:
            raise SsvaeError(f"lr_decay multiplies the learning rates after every epoch: it must be in (0, 1], "
                             f"got {lr_decay}")
        self.model, self.guide = model, guide
        self.loss = loss if loss is not None else make_elbo(elbo, num_particles, guide)(model, guide)
        # frozen weights (requires_grad=False, e.g. a trained M1 under M2) are left out
        groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr},
                  {"params": [p for p in guide.parameters() if p.requires_grad], "lr": guide_lr or lr}]
        if optimizer == "clipped-adam":
            self.optimizer = ClippedAdam(groups, lr=lr, clip_norm=clip_norm or 10.0)
            self.clip_norm = None
        else:
            self.optimizer = torch.optim.Adam(groups, lr=lr)
            self.clip_norm = clip_norm
        # the decayed rates live in the optimizer's param groups, so a checkpoint keeps them and
        # the (chainable) exponential schedule goes on from there after a resume
        self.scheduler = None if lr_decay in (None, 1) else torch.optim.lr_scheduler.ExponentialLR(
            self.optimizer, gamma=lr_decay)
        self.history = []
        self._checked = False

    def check(self, *args, **kwargs):
        """Check once that the guide fits the model at these step arguments (see :mod:`ssvae.inference.checks`)."""
        if not self._checked:
            if hasattr(self.loss, "check"):
                self.loss.check(*args, **kwargs)
            else:
                check_model_guide(self.model, self.guide, *args, **kwargs)
            self._checked = True

    def step(self, *args, **kwargs):
        """One gradient step on the loss at these arguments; returns the loss value."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(*args, **kwargs)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(f"the loss became {value}")
        loss.backward()
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(
                [p for g in self.optimizer.param_groups for p in g["params"]], self.clip_norm)
        self.optimizer.step()
        return value

    def fit(self, batches, epochs, num_data, evaluate=None, on_epoch_end=None, progress=True):
        """Train from epoch ``len(self.history) + 1`` to ``epochs``.

        :param batches: ``batches(epoch)`` returns a sized iterable of ``(args, kwargs)``
            for :meth:`step`.
        :param int num_data: training set size; the reported ``train_elbo`` is the
            mean per-image ELBO, ``-loss / num_data``. A loss module with a
            ``last_terms`` dict has those terms averaged over the epoch instead.
        :param evaluate: ``evaluate(epoch)`` returns a dict of metrics for the row.
        :param on_epoch_end: ``on_epoch_end(epoch, row)``, e.g. to write a checkpoint.
        :returns: the history, a list of one dict per epoch.
        """
        for epoch in range(len(self.history) + 1, epochs + 1):
            start, total, steps, terms = time.perf_counter(), 0.0, 0, {}
            bar = tqdm(batches(epoch), desc=f"epoch {epoch}/{epochs}", disable=not progress,
                       leave=False, dynamic_ncols=True)
            with pyro.validation_enabled(False):  # data were checked once, up front
                for args, kwargs in bar:
                    self.check(*args, **kwargs)
                    try:
                        total += self.step(*args, **kwargs)
                    except TrainingDiverged as e:
                        raise TrainingDiverged(f"{e} at epoch {epoch}, step {steps + 1}") from None
                    for key, value in getattr(self.loss, "last_terms", {}).items():
                        terms[key] = terms.get(key, 0.0) + value
                    steps += 1
                    if steps % 20 == 0:
                        bar.set_postfix(loss=f"{total / steps / num_data:.2f}")
            steps = max(steps, 1)
            row = {"epoch": epoch, "seconds": time.perf_counter() - start}
            if terms:  # a loss that reports its own terms (e.g. the semi-supervised objective)
                row.update({"train_" + key: value / steps for key, value in terms.items()})
            else:
                row["train_elbo"] = -total / steps / num_data
            if self.scheduler is not None:
                row["lr"] = self.optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
                self.scheduler.step()
            if evaluate is not None:
                row.update(evaluate(epoch))
            self.history.append(row)
            if on_epoch_end is not None:
                on_epoch_end(epoch, row)
        return self.history

    def state_dict(self):
        return {"model": self.model.state_dict(), "guide": self.guide.state_dict(),
                "optimizer": self.optimizer.state_dict(), "history": list(self.history)}

    def load_state_dict(self, state, path="checkpoint"):
        load_module_state(self.model, state["model"], "model", path)
        load_module_state(self.guide, state["guide"], "guide", path)
        if "optimizer" in state:
            try:
                self.optimizer.load_state_dict(state["optimizer"])
            except (ValueError, KeyError) as e:
                raise SsvaeError(f"the optimizer state in {path} does not match ({e}); resume with the same --optimizer")
        self.history = list(state.get("history", []))
