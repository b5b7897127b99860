r"""The semi-supervised M2 model as one object: model, guide, objective, trainer.

:class:`M2` builds :class:`~ssvae.models.M2Model` (p_θ(x|y,z) p(y) p(z)) and
:class:`~ssvae.guides.M2Guide` (q_φ(y|x) q_φ(z|x,y)), trains them with the
objective J^α of :mod:`ssvae.inference.semisupervised` and predicts with the
classifier q_φ(y|x).

Every minibatch holds ``batch_size`` unlabelled images and ``labelled_batch_size``
labelled ones; the small labelled set is reshuffled and cycled, so the
classifier sees labels at every step. An epoch is one pass over the unlabelled set.

Example::

    m2 = M2(z_dim=50)
    m2.fit(x_l, y_l, x_u, epochs=50, x_val=x_val, y_val=y_val, dynamic_binarization=True)
    probs, labels = m2.predict(x_test)
"""
import os

import pandas as pd
import torch

from ssvae import plots
from ssvae.baseline import classifier_accuracy, train_baseline
from ssvae.data.binarize import minibatches
from ssvae.data.labels import balanced_labelled_subset
from ssvae.errors import SsvaeError
from ssvae.estimator import Estimator, resolve_device
from ssvae.inference.checkpoint import save_table
from ssvae.guides import guide_name
from ssvae.guides.m2 import M2Guide
from ssvae.inference.semisupervised import SemiSupervisedELBO
from ssvae.inference.trainer import Trainer
from ssvae.models.m2 import M2Model

#: the paper's choice: α = 0.1 · N, N the number of training images
PAPER_ALPHA_PER_IMAGE = 0.1
#: our default, chosen by validation accuracy (see the README): the paper's 0.1 learns the classifier far slower
DEFAULT_ALPHA_PER_IMAGE = 10.0
#: Adam's learning rate, chosen by validation accuracy at N = 100 and 3000 (see the README)
DEFAULT_LR = 3e-3


class M2(Estimator):
    """M2 of Kingma et al. (2014): a generative semi-supervised classifier.

    :param int x_dim: pixels per image.
    :param int z_dim: size of the style latent z.
    :param int num_classes: number of classes K.
    :param hidden: hidden sizes of the decoder p(x|y,z) and the encoder q(z|x,y).
    :param classifier_hidden: hidden sizes of the classifier q(y|x).
    :param str activation: hidden activation (``"softplus"`` as in the paper).
    :param str likelihood: decoder family.
    :param guide: family of q(z|x,y) (see ``ssvae.guides.GUIDES``).
    :param int rank, flow_steps: options of the ``lowrank`` and flow families.
    :param float alpha: weight of the classification loss; None means
        ``alpha_per_image`` × the number of training images, fixed at the first fit.
    :param float alpha_per_image: see ``alpha`` (the paper: 0.1).
    :param str enumerate: how unlabelled y is summed out: ``"parallel"``, ``"sequential"``, ``"sample"``.
    :param int num_particles, optimizer, lr, guide_lr, clip_norm, lr_decay: as for :class:`~ssvae.VAE`; the
        default lr, 3e-3, learned the classifier fastest and was best on validation (see the README).
    """

    kind = "m2"
    #: ``ssvae train --model m2`` options and their defaults
    RUN_DEFAULTS = dict(z_dim=50, hidden=[500], classifier_hidden=[500], activation="softplus",
                        likelihood="bernoulli", guide="diagonal", rank=None, flow_steps=None, labels=100, alpha=None,
                        alpha_per_image=DEFAULT_ALPHA_PER_IMAGE, enumerate="parallel", num_particles=1,
                        optimizer="adam", lr=DEFAULT_LR, guide_lr=None, clip_norm=None, lr_decay=None, batch_size=200,
                        labelled_batch_size=None, baseline=True)
    selection_metric = "val_accuracy"

    def __init__(self, x_dim=784, z_dim=50, num_classes=10, hidden=(500,), classifier_hidden=(500,),
                 activation="softplus", likelihood="bernoulli", guide="diagonal", rank=None, flow_steps=None, alpha=None,
                 alpha_per_image=DEFAULT_ALPHA_PER_IMAGE, enumerate="parallel", num_particles=1, optimizer="adam",
                 lr=DEFAULT_LR, guide_lr=None, clip_norm=None, lr_decay=None, device="cpu"):
        self.config = dict(x_dim=int(x_dim), z_dim=int(z_dim), num_classes=int(num_classes),
                           hidden=[int(h) for h in hidden], classifier_hidden=[int(h) for h in classifier_hidden],
                           activation=activation, likelihood=likelihood, guide=guide_name(guide), rank=rank,
                           flow_steps=flow_steps, alpha=alpha,
                           alpha_per_image=float(alpha_per_image), enumerate=enumerate,
                           num_particles=int(num_particles), optimizer=optimizer, lr=float(lr),
                           guide_lr=guide_lr, clip_norm=clip_norm, lr_decay=lr_decay)
        self.device = resolve_device(device)
        self.model = self.build_model().to(self.device)
        self.guide = self.build_guide().to(self.device)
        self.objective = SemiSupervisedELBO(self.model, self.guide, alpha if alpha is not None else 0.0,
                                            enumerate, num_particles)
        self.trainer = Trainer(self.model, self.guide, optimizer=optimizer, lr=lr, guide_lr=guide_lr,
                               clip_norm=clip_norm, lr_decay=lr_decay, loss=self.objective)

    def build_model(self):
        """p(y) p(z) p_θ(x|y,z) from ``self.config``."""
        c = self.config
        return M2Model(c["x_dim"], c["z_dim"], c["num_classes"], c["hidden"], c["activation"], c["likelihood"])

    def build_guide(self):
        """q_φ(y|x) q_φ(z|x,y) from ``self.config``."""
        c = self.config
        return M2Guide(c["x_dim"], c["z_dim"], c["num_classes"], c["hidden"], c["classifier_hidden"], c["activation"],
                       c["guide"], rank=c["rank"], flow_steps=c["flow_steps"])

    @property
    def num_classes(self):
        return self.model.num_classes

    @staticmethod
    def default_labelled_batch_size(num_labelled):
        """Labelled images per step when none is given: min(100, N_l // 10), at least 1.

        A step sees at most a tenth of the labelled set: with 100 labels shown all at
        every step, the classifier memorized them within two epochs and M2 fell behind
        the labelled-only baseline on MNIST digits. From 1,000 labels on it is 100.
        Chosen by validation accuracy (see the README).
        """
        return max(1, min(100, int(num_labelled) // 10))

    def fit(self, x_labelled, y_labelled, x_unlabelled, epochs=10, batch_size=200, labelled_batch_size=None,
            dynamic_binarization=False, x_val=None, y_val=None, x_test=None, y_test=None, progress=True,
            on_epoch_end=None):
        """Train on labelled ``(x_labelled, y_labelled)`` and unlabelled ``x_unlabelled`` images.

        :param labelled_batch_size: labelled images per step (default
            :meth:`default_labelled_batch_size`: ``min(100, N_l // 10)``).
        :param x_val, y_val: validation set; each epoch's row gets ``val_accuracy``.
        :param x_test, y_test: test set; each epoch's row gets ``test_accuracy``.
        :returns: the history as a list of dicts.
        """
        dev = self.device
        x_l, y_l, x_u = x_labelled.to(dev), y_labelled.to(dev), x_unlabelled.to(dev)
        self.check_data(x_l, "labelled images", dynamic_binarization)
        self.check_data(x_u, "unlabelled images", dynamic_binarization)
        if x_l.shape[0] == 0 or x_u.shape[0] == 0:
            raise SsvaeError(f"M2 needs labelled and unlabelled images, got {x_l.shape[0]} labelled and "
                             f"{x_u.shape[0]} unlabelled")
        self.model.check_labels(y_l, x_l.shape[0])
        if x_l.shape[0] != y_l.shape[0]:
            raise SsvaeError(f"{x_l.shape[0]} labelled images but {y_l.shape[0]} labels; pass one label per image")
        evaluation_sets = []
        for name, x, y in (("val", x_val, y_val), ("test", x_test, y_test)):
            if x is not None:
                x, y = x.to(dev), y.to(dev)
                self.check_data(x, f"{name} images")
                self.model.check_labels(y, x.shape[0])
                evaluation_sets.append((name, x, y))
        if self.config["alpha"] is None:
            self.config["alpha"] = self.config["alpha_per_image"] * (x_l.shape[0] + x_u.shape[0])
        self.objective.alpha = float(self.config["alpha"])
        num_l, num_u = x_l.shape[0], x_u.shape[0]
        per_step = min(num_l, int(labelled_batch_size or self.default_labelled_batch_size(num_l)))

        def labelled_stream():
            while True:
                yield from minibatches(num_l, per_step, device=dev)

        def binary(x):
            return torch.bernoulli(x) if dynamic_binarization else x

        def batches(epoch):
            stream = labelled_stream()
            for idx in minibatches(num_u, batch_size, device=dev):
                idx_l = next(stream)
                if idx_l.shape[0] < per_step:  # the labelled set's last, short batch: take the next full one
                    idx_l = next(stream)
                yield (binary(x_l[idx_l]), y_l[idx_l], binary(x_u[idx])), {"num_labelled": num_l,
                                                                            "num_unlabelled": num_u}

        def evaluate(epoch):
            return {f"{name}_accuracy": self.accuracy(x, y) for name, x, y in evaluation_sets}

        return self.trainer.fit(batches, int(epochs), num_l + num_u, evaluate, on_epoch_end, progress)

    @torch.no_grad()
    def predict(self, x, batch_size=2000):
        """Class probabilities q(y|x), shape (N, K), and the most probable labels, shape (N,)."""
        x = x.to(self.device)
        if x.dim() != 2 or x.shape[-1] != self.model.x_dim:
            raise SsvaeError(f"images have shape {tuple(x.shape)} but the model expects (N, {self.model.x_dim})")
        self.guide.eval()
        try:
            probs = torch.cat([self.guide.predict_proba(xb) for xb in x.split(batch_size)])
        finally:
            self.guide.train()
        return probs, probs.argmax(-1)

    def accuracy(self, x, y, batch_size=2000):
        """Fraction of images whose most probable class under q(y|x) is ``y``."""
        return (self.predict(x, batch_size)[1] == y.to(self.device)).float().mean().item()

    @torch.no_grad()
    def analogies(self, x, y=None):
        """For each image, z from q(z|x,y) decoded with every class: shape (N, K, x_dim).

        ``y`` defaults to the classifier's prediction. The style z stays, the class changes
        (the paper's Figure 1).
        """
        x = x.to(self.device)
        if y is None:
            y = self.predict(x)[1]
        z = self.guide.style_mean(x, y.to(self.device))  # (N, z_dim)
        classes = torch.arange(self.num_classes, device=self.device)
        return self.model.decode(z.unsqueeze(1), classes.unsqueeze(0)).mean

    @torch.no_grad()
    def sample(self, y, mean=True):
        """Images of the given classes ``y`` (N,) from z ~ N(0, I): E[x|y,z] or x ~ p(x|y,z)."""
        y = y.to(self.device)
        z = self.model.prior().sample((y.shape[0],))
        decoded = self.model.decode(z, y)
        return decoded.mean if mean else decoded.sample()

    # -- run hooks (ssvae.runs) ----------------------------------------------------------

    @classmethod
    def resolve_config(cls, config):
        """Fix the labelled batch size from ``labels`` when not given, so that the config holds it."""
        if config.get("labelled_batch_size") is None:
            config["labelled_batch_size"] = cls.default_labelled_batch_size(config["labels"])
        return config

    @staticmethod
    def split_labels(data, config):
        """``(labelled, unlabelled)`` training indices: ``labels`` balanced per class, drawn with ``seed``."""
        return balanced_labelled_subset(data.y_train, config["labels"], data.num_classes, config["seed"])

    def check_run(self, data, config):
        super().check_run(data, config)
        self.split_labels(data, config)

    def start_run(self, out, data, config, progress=True, log=print):
        labelled, _ = self.split_labels(data, config)
        save_table(os.path.join(out, "labelled.csv"),
                   pd.DataFrame({"index": labelled.tolist(), "label": data.y_train[labelled].tolist()}))

    def fit_data(self, data, config, progress=True, on_epoch_end=None):
        labelled, unlabelled = self.split_labels(data, config)
        history = self.fit(data.x_train[labelled], data.y_train[labelled], data.x_train[unlabelled],
                           config["epochs"], config["batch_size"], config["labelled_batch_size"],
                           dynamic_binarization=config["binarize"] == "dynamic", x_val=data.x_val, y_val=data.y_val,
                           x_test=data.x_test, y_test=data.y_test, progress=progress, on_epoch_end=on_epoch_end)
        config["alpha"] = self.config["alpha"]
        return history

    def evaluate_data(self, data, split, config, batch_size=2000, progress=False, **ignored):
        """``{split}_accuracy`` and, for the test split with ``baseline``, the baseline's accuracy."""
        x, y = data.split(split)
        metrics = {f"{split}_accuracy": self.accuracy(x, y, batch_size)}
        if split == "test" and config.get("baseline"):
            labelled, _ = self.split_labels(data, config)
            net, info = train_baseline(data.x_train[labelled], data.y_train[labelled], data.x_val, data.y_val,
                                       self.num_classes, config["classifier_hidden"], config["activation"],
                                       config["lr"], dynamic_binarization=config["binarize"] == "dynamic",
                                       seed=config["seed"])
            metrics.update(baseline_test_accuracy=classifier_accuracy(net, x, y),
                           baseline_val_accuracy=info["val_accuracy"], baseline_epochs=info["epochs"])
        return metrics

    def write_pictures(self, out, data):
        """Confusion matrix (CSV and PNG), style analogies, conditional samples, latent scatter."""
        shape, k = data.image_shape, self.num_classes
        predicted = self.predict(data.x_test)[1].cpu()
        confusion = torch.zeros(k, k, dtype=torch.long)
        confusion.index_put_((data.y_test.cpu(), predicted), torch.ones_like(predicted), accumulate=True)
        frame = pd.DataFrame(confusion.numpy(), index=[f"true_{i}" for i in range(k)],
                             columns=[f"pred_{i}" for i in range(k)])
        save_table(os.path.join(out, "confusion.csv"), frame.reset_index(names="class"))
        plots.confusion_matrix(os.path.join(out, "confusion.png"), confusion)
        originals = data.x_test[:8]
        grid = torch.cat([originals.unsqueeze(1), self.analogies(originals)], 1)  # (8, 1 + K, D)
        plots.save_grid(os.path.join(out, "analogies.png"), grid.reshape(-1, grid.shape[-1]), shape, nrow=k + 1)
        classes = torch.arange(k).repeat_interleave(8)
        samples = self.sample(classes).reshape(k, 8, -1).transpose(0, 1).reshape(k * 8, -1)
        plots.save_grid(os.path.join(out, "samples.png"), samples, shape, nrow=k)
        z = self.guide.style_mean(data.x_test.to(self.device), predicted.to(self.device))
        if z.shape[-1] > 2:
            z = plots.project_2d(z)
        plots.latent_scatter(os.path.join(out, "latent.png"), z, data.y_test,
                             title="q(z|x,y) means of test images (PCA if z > 2-D), coloured by true class")
