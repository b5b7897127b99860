r"""The variational autoencoder as one object: model, guide and trainer.

:class:`VAE` is the thin user-facing class (in the manner of
``pyro.contrib.cevae.CEVAE``): it builds :class:`~ssvae.models.VAEModel`
(p_θ) and a guide from :mod:`ssvae.guides` (q_φ), trains them with the one
:class:`~ssvae.inference.Trainer`, and evaluates, reconstructs and samples.
Everything it does is also available from the parts; see the README for an
SVI loop written by hand.

Example::

    vae = VAE(z_dim=50, hidden=[400])
    vae.fit(x_train, epochs=10, dynamic_binarization=True, x_val=x_val)
    print(vae.evaluate(x_test, iwae_samples=1000))
"""
import os

import torch

from ssvae import plots
from ssvae.data.binarize import minibatches
from ssvae.errors import SsvaeError
from ssvae.estimator import Estimator, resolve_device
from ssvae.guides import guide_name, make_guide
from ssvae.inference.evaluation import evaluate
from ssvae.inference.trainer import Trainer
from ssvae.models.vae import VAEModel


class VAE(Estimator):
    """AEVB variational autoencoder (also the M1 model of Kingma et al. 2014).

    :param int x_dim: pixels per image.
    :param int z_dim: latent size.
    :param hidden: hidden layer sizes, used by both the decoder and the encoder.
    :param str activation: ``"tanh"``, ``"softplus"`` or ``"relu"``.
    :param str likelihood: decoder family: ``"bernoulli"``, ``"gaussian"``, ``"cbernoulli"``.
    :param guide: guide family name (see ``ssvae.guides.GUIDES``) or class.
    :param int rank: rank of the ``lowrank`` family's covariance factor.
    :param int flow_steps: number of steps of a flow family.
    :param str elbo: ``"meanfield"`` (closed-form KL), ``"trace"`` (Monte Carlo KL) or
        ``"auto"``: meanfield where the guide family has a closed-form KL, else trace.
    :param int num_particles: samples of z per image and step.
    :param str optimizer: ``"adam"`` or ``"clipped-adam"``.
    :param float lr: learning rate (θ, and φ unless ``guide_lr`` is set).
    :param float guide_lr: learning rate of the guide's φ.
    :param float clip_norm: gradient clipping threshold, or None.
    :param float lr_decay: factor in (0, 1] on the learning rates after each epoch, or None (constant).
    :param str device: ``"cpu"`` or ``"cuda"``.
    """

    kind = "vae"
    #: ``ssvae train`` options of this model and their defaults
    RUN_DEFAULTS = dict(z_dim=50, hidden=[400], activation="tanh", likelihood="bernoulli", guide="diagonal",
                        rank=None, flow_steps=None, elbo="auto", num_particles=1, optimizer="adam", lr=1e-3,
                        guide_lr=None, clip_norm=None, lr_decay=None, batch_size=128, iwae_k=100)

    def __init__(self, x_dim=784, z_dim=50, hidden=(400,), activation="tanh", likelihood="bernoulli",
                 guide="diagonal", rank=None, flow_steps=None, elbo="auto", num_particles=1, optimizer="adam",
                 lr=1e-3, guide_lr=None, clip_norm=None, lr_decay=None, device="cpu"):
        self.device = resolve_device(device)
        self.model = VAEModel(x_dim, z_dim, hidden, activation, likelihood).to(self.device)
        self.guide = make_guide(guide, x_dim=x_dim, z_dim=z_dim, hidden=hidden, activation=activation, rank=rank,
                                flow_steps=flow_steps).to(self.device)
        #: a line for the user when ``elbo="auto"`` had to fall back to the Monte Carlo KL
        self.elbo_note = None
        if elbo == "auto":
            elbo = "meanfield" if self.guide.has_analytic_kl else "trace"
            if elbo == "trace":
                self.elbo_note = (f"the {type(self.guide).__name__} posterior has no closed-form KL: "
                                  "using the Monte Carlo ELBO (Trace_ELBO)")
        self.config = dict(x_dim=int(x_dim), z_dim=int(z_dim), hidden=[int(h) for h in hidden],
                           activation=activation, likelihood=likelihood, guide=guide_name(guide), rank=rank,
                           flow_steps=flow_steps, elbo=elbo, num_particles=int(num_particles), optimizer=optimizer,
                           lr=float(lr), guide_lr=guide_lr, clip_norm=clip_norm, lr_decay=lr_decay)
        self.trainer = Trainer(self.model, self.guide, elbo=elbo, num_particles=num_particles, optimizer=optimizer,
                               lr=lr, guide_lr=guide_lr, clip_norm=clip_norm, lr_decay=lr_decay)

    def fit(self, x, epochs=10, batch_size=128, dynamic_binarization=False, x_val=None, progress=True,
            on_epoch_end=None):
        """Train on images ``x`` (N, x_dim) for ``epochs`` epochs (continuing a loaded run).

        :param dynamic_binarization: draw a fresh binary image x ~ Bernoulli(intensities)
            for every minibatch (needs x in [0, 1]).
        :param x_val: validation images; each epoch's row then has ``val_elbo``,
            ``val_log_lik`` and ``val_kl``.
        :param on_epoch_end: ``on_epoch_end(epoch, row)`` after each epoch.
        :returns: the history as a list of dicts.
        """
        x = x.to(self.device)
        self.check_data(x, "training images", dynamic_binarization)
        if x_val is not None:
            x_val = x_val.to(self.device)
            self.check_data(x_val, "validation images")
        if int(epochs) < 1:
            raise SsvaeError(f"epochs must be at least 1, got {epochs}")
        num_data = x.shape[0]

        def batches(epoch):
            for idx in minibatches(num_data, batch_size, device=self.device):
                xb = x[idx]
                if dynamic_binarization:
                    xb = torch.bernoulli(xb)
                yield (xb,), {"num_data": num_data}

        def validate(epoch):
            if x_val is None:
                return {}
            return {"val_" + k: v for k, v in evaluate(self.model, self.guide, x_val).items()}

        return self.trainer.fit(batches, int(epochs), num_data, validate, on_epoch_end, progress)

    def evaluate(self, x, iwae_samples=None, batch_size=1000, iwae_batch_size=None, progress=False):
        """Mean per-image ``elbo``, ``log_lik``, ``kl`` and (with ``iwae_samples``) ``log_px`` on ``x``."""
        x = x.to(self.device)
        self.check_data(x, "evaluation images")
        return evaluate(self.model, self.guide, x, batch_size, iwae_samples, iwae_batch_size, progress)

    @torch.no_grad()
    def encode(self, x):
        """Posterior means E_q[z|x], shape (N, z_dim)."""
        return self.guide.posterior_mean(x.to(self.device))

    @torch.no_grad()
    def reconstruct(self, x):
        """E[x|z] at z = E_q[z|x]: what the model makes of each image."""
        return self.model.decoder.mean(self.encode(x))

    @torch.no_grad()
    def sample(self, num_samples, mean=True):
        """New images from the prior: E[x|z] (``mean=True``) or x ~ p(x|z), z ~ N(0, I)."""
        z = self.model.prior().sample((int(num_samples),))
        return self.model.decoder.mean(z) if mean else self.model.decoder(z).sample()

    # -- run hooks (ssvae.runs) ----------------------------------------------------------

    def fit_data(self, data, config, progress=True, on_epoch_end=None):
        return self.fit(data.x_train, config["epochs"], config["batch_size"],
                        dynamic_binarization=config["binarize"] == "dynamic", x_val=data.x_val,
                        progress=progress, on_epoch_end=on_epoch_end)

    def evaluate_data(self, data, split, config, iwae_k=None, batch_size=1000, progress=False):
        """``{split}_elbo``, ``_log_lik``, ``_kl`` and, with ``iwae_k``, ``_log_px`` (IWAE)."""
        x, _ = data.split(split)
        iwae_k = config["iwae_k"] if iwae_k is None else iwae_k
        values = self.evaluate(x, iwae_samples=iwae_k or None, batch_size=batch_size,
                               iwae_batch_size=max(1, min(batch_size, 20000 // max(1, iwae_k or 1))),
                               progress=progress)
        metrics = {f"{split}_{k}": v for k, v in values.items()}
        if iwae_k:
            metrics[f"{split}_iwae_k"] = int(iwae_k)
        return metrics

    def write_pictures(self, out, data):
        """Reconstructions, prior samples and, for a 2-D latent space, the latent scatter."""
        shape = data.image_shape
        originals = data.x_test[:32]
        plots.save_grid(os.path.join(out, "reconstructions.png"),
                        plots.reconstruction_pairs(originals, self.reconstruct(originals)), shape)
        plots.save_grid(os.path.join(out, "samples.png"), self.sample(64), shape)
        if self.model.z_dim == 2:
            plots.latent_scatter(os.path.join(out, "latent.png"), self.encode(data.x_test), data.y_test)
