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
import torch
from torch.distributions import constraints

from ssvae.data.binarize import minibatches
from ssvae.errors import SsvaeError
from ssvae.guides import make_guide
from ssvae.inference.checkpoint import load_checkpoint, save_checkpoint
from ssvae.inference.evaluation import evaluate
from ssvae.inference.params import parameter_table
from ssvae.inference.trainer import Trainer
from ssvae.models.vae import VAEModel


class VAE:
    """AEVB variational autoencoder (also the M1 model of Kingma et al. 2014).

    :param int x_dim: pixels per image.
    :param int z_dim: latent size.
    :param hidden: hidden layer sizes, used by both the decoder and the encoder.
    :param str activation: ``"tanh"``, ``"softplus"`` or ``"relu"``.
    :param str likelihood: decoder family: ``"bernoulli"``, ``"gaussian"``, ``"cbernoulli"``.
    :param guide: guide family name (see ``ssvae.guides.GUIDES``) or class.
    :param str elbo: ``"meanfield"`` (closed-form KL) or ``"trace"`` (Monte Carlo KL).
    :param int num_particles: samples of z per image and step.
    :param str optimizer: ``"adam"`` or ``"clipped-adam"``.
    :param float lr: learning rate (θ, and φ unless ``guide_lr`` is set).
    :param float guide_lr: learning rate of the guide's φ.
    :param float clip_norm: gradient clipping threshold, or None.
    :param str device: ``"cpu"`` or ``"cuda"``.
    """

    def __init__(self, x_dim=784, z_dim=50, hidden=(400,), activation="tanh", likelihood="bernoulli",
                 guide="diagonal", elbo="meanfield", num_particles=1, optimizer="adam", lr=1e-3,
                 guide_lr=None, clip_norm=None, device="cpu"):
        self.config = dict(x_dim=int(x_dim), z_dim=int(z_dim), hidden=[int(h) for h in hidden],
                           activation=activation, likelihood=likelihood, guide=guide, elbo=elbo,
                           num_particles=int(num_particles), optimizer=optimizer, lr=float(lr),
                           guide_lr=guide_lr, clip_norm=clip_norm)
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise SsvaeError("--device cuda was asked for but torch finds no CUDA GPU; use --device cpu")
        self.model = VAEModel(x_dim, z_dim, hidden, activation, likelihood).to(self.device)
        self.guide = make_guide(guide, x_dim=x_dim, z_dim=z_dim, hidden=hidden, activation=activation).to(self.device)
        self.trainer = Trainer(self.model, self.guide, elbo=elbo, num_particles=num_particles, optimizer=optimizer,
                               lr=lr, guide_lr=guide_lr, clip_norm=clip_norm)

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

    def state_dict(self):
        state = self.trainer.state_dict()
        state.update(kind="vae", config=dict(self.config),
                     rng={"torch": torch.get_rng_state(),
                          "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []})
        return state

    def load_state_dict(self, state, path="checkpoint", restore_rng=False):
        if state.get("kind", "vae") != "vae":
            raise SsvaeError(f"{path} holds a {state.get('kind')!r} model, not a VAE; load it with the matching class")
        self.trainer.load_state_dict(state, path)
        if restore_rng and "rng" in state:
            torch.set_rng_state(state["rng"]["torch"])
            if state["rng"]["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])

    def save(self, path):
        """Write model, guide, optimizer, history and RNG state to ``path`` (atomically)."""
        save_checkpoint(path, self.state_dict())

    @classmethod
    def load(cls, path, device="cpu", restore_rng=False):
        """A VAE rebuilt from the config stored in the checkpoint at ``path``."""
        state = load_checkpoint(path, map_location=device)
        if "config" not in state:
            raise SsvaeError(f"{path} has no config; it was not written by ssvae.VAE.save")
        vae = cls(**state["config"], device=device)
        vae.load_state_dict(state, path, restore_rng)
        return vae

