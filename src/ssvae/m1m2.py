r"""M1+M2, the stacked model of Kingma et al. (2014), as one object.

Stage 1 (M1): a VAE (:class:`~ssvae.VAE`) learns codes z1 of all training
images, without labels — or a trained VAE run is reused (``--m1 DIR``). Stage 2:
M2 learns the codes, p(y)p(z2)p_θ(z1|y,z2) with a Gaussian decoder, while M1's
decoder and encoder stay fixed. Both halves live in one Pyro model
(:class:`~ssvae.models.StackedModel`) and one guide
(:class:`~ssvae.guides.StackedGuide`), trained by the same objective and trainer
as M2 on pixels, saved in one checkpoint, and predicting x → E[z1|x] → q(y|z1).

For comparison, a test evaluation also reports M1 + classifier: softmax
regression (``m1_linear``) and an MLP (``m1_mlp``) on the labelled codes, and
label spreading over all codes (``m1_spreading``, with scikit-learn), the
stand-in for the paper's M1+TSVM.

Example::

    m1 = VAE(z_dim=50, hidden=[400], activation="tanh")
    m1.fit(x_train, epochs=100, dynamic_binarization=True)
    stacked = M1M2(z1_dim=50)
    stacked.load_m1(m1)
    stacked.fit(x_l, y_l, x_u, epochs=30, dynamic_binarization=True, x_val=x_val, y_val=y_val)
"""
import os

import torch

from ssvae.baseline import latent_classifiers
from ssvae.errors import SsvaeError
from ssvae.guides import DiagonalNormalGuide, M2Guide
from ssvae.guides.stacked import StackedGuide
from ssvae.inference.checkpoint import load_json, save_json
from ssvae.m2 import M2
from ssvae.models import M2Model, VAEModel
from ssvae.models.stacked import StackedModel
from ssvae.vae import VAE

#: options of the M1 stage, taken from the m1m2 run into the VAE run it trains
M1_OPTIONS = {"z_dim": "z1_dim", "hidden": "m1_hidden", "epochs": "m1_epochs", "lr": "m1_lr",
              "batch_size": "m1_batch_size", "activation": "m1_activation", "likelihood": "likelihood"}


def m1_run_config(config):
    """The options of the VAE run that ``ssvae train --model m1m2`` with the full run ``config`` trains as M1.

    M1 shares the m1m2 run's data and run options (dataset, binarization, seed, device, ...) and takes
    its M1 options under the VAE's names (:data:`M1_OPTIONS`: ``z1_dim`` → ``z_dim``, ``m1_hidden`` →
    ``hidden``, ``m1_epochs`` → ``epochs``, ...); it skips the IWAE log-likelihood (it is a stage, not
    the result). Benchmarks that train M1 apart call this too, so their M1 is the one the CLI trains.
    """
    from ssvae import runs  # runs imports this module

    m1 = {k: config[k] for k in runs.COMMON_DEFAULTS if k != "model"}
    m1.update({k: config[v] for k, v in M1_OPTIONS.items()}, model="vae", iwae_k=0)
    return m1


def m1m2_options_of(m1_config):
    """The M1 options of an m1m2 run (``z1_dim``, ``m1_hidden``, ...) whose M1 is the VAE run of ``m1_config``."""
    return {m1m2_key: m1_config[m1_key] for m1_key, m1m2_key in M1_OPTIONS.items()}


class M1M2(M2):
    """The stacked model: M1 (a VAE on pixels, frozen) + M2 on its codes.

    Takes every option of :class:`~ssvae.M2` (``z_dim`` is the size of M2's z2; ``hidden``,
    ``classifier_hidden``, ``guide`` and the rest configure M2 on codes; ``likelihood`` also
    configures M1) plus:

    :param int z1_dim: size of M1's code z1.
    :param m1_hidden: hidden sizes of M1's encoder and decoder: one layer of 400 by default (the
        paper: two softplus layers of 500 or 600). On Fashion-MNIST the one-layer tanh M1 keeps 33
        of 50 latent units active where the two-layer one kept 12, and M2 on its codes is more
        accurate (see the README).
    :param str m1_activation: M1's activation: ``"tanh"`` by default, which kept more of the 50
        latent units active than softplus in our Fashion-MNIST runs.
    :param str features: ``"sample"`` (z1 ~ q(z1|x) at each step, as in the paper) or ``"mean"``.

    M2 on codes uses M2's default learning rate, 3e-3, which was also the best of 3e-4, 1e-3 and
    3e-3 by validation accuracy on codes (see the README).
    """

    kind = "m1m2"
    RUN_DEFAULTS = dict(M2.RUN_DEFAULTS, z1_dim=50, m1_hidden=[400], m1_activation="tanh",
                        features="sample", m1=None, m1_epochs=100, m1_lr=1e-3, m1_batch_size=128)

    def __init__(self, x_dim=784, *args, z1_dim=50, m1_hidden=(400,), m1_activation="tanh", features="sample",
                 **kwargs):
        self.stack = dict(z1_dim=int(z1_dim), m1_hidden=[int(h) for h in m1_hidden], m1_activation=m1_activation,
                          features=features)
        super().__init__(x_dim, *args, **kwargs)
        self.config.update(self.stack)

    @staticmethod
    def default_labelled_batch_size(num_labelled):
        """100 labelled codes per step at every N. On codes sampled afresh from q(z1|x) the
        classifier does not memorize 100 labels the way M2's does on pixels (classification
        loss 0.03 after 15 epochs, against 0.003), and a tenth of the labelled set per step
        (M2's default) lowered validation accuracy at N = 100 (see the README)."""
        return 100

    def build_model(self):
        c, s = self.config, self.stack
        m1 = VAEModel(c["x_dim"], s["z1_dim"], s["m1_hidden"], s["m1_activation"], c["likelihood"])
        m2 = M2Model(s["z1_dim"], c["z_dim"], c["num_classes"], c["hidden"], c["activation"], "gaussian")
        return StackedModel(m1, m2)

    def build_guide(self):
        c, s = self.config, self.stack
        m1 = DiagonalNormalGuide(c["x_dim"], s["z1_dim"], s["m1_hidden"], s["m1_activation"])
        m2 = M2Guide(s["z1_dim"], c["z_dim"], c["num_classes"], c["hidden"], c["classifier_hidden"], c["activation"],
                     c["guide"], rank=c["rank"], flow_steps=c["flow_steps"])
        return StackedGuide(m1, m2, s["features"])

    def load_m1(self, vae):
        """Take M1's decoder and encoder from a trained :class:`~ssvae.VAE` of the same shape."""
        if not isinstance(vae, VAE) or vae.config["guide"] != "diagonal":
            raise SsvaeError("M1 must be an ssvae VAE with the diagonal guide")
        wanted = {"x_dim": self.config["x_dim"], "z_dim": self.stack["z1_dim"], "hidden": self.stack["m1_hidden"],
                  "activation": self.stack["m1_activation"], "likelihood": self.config["likelihood"]}
        got = {k: vae.config[k] for k in wanted}
        if got != wanted:
            diff = ", ".join(f"{k}: M1 has {got[k]}, this model {wanted[k]}" for k in wanted if got[k] != wanted[k])
            raise SsvaeError(f"the M1 run does not match ({diff}); set the matching --z1-dim / --m1-hidden / "
                             "--m1-activation / --likelihood, or train M1 again (leave out --m1)")
        self.model.m1.load_state_dict(vae.model.state_dict())
        self.guide.m1_guide.load_state_dict(vae.guide.state_dict())

    @torch.no_grad()
    def codes(self, x, batch_size=2000):
        """M1's posterior means E[z1|x], shape (N, z1_dim): the features M1 + classifier uses."""
        self.guide.eval()
        try:
            return torch.cat([self.guide.m1_guide.posterior_mean(xb) for xb in x.to(self.device).split(batch_size)])
        finally:
            self.guide.train()

    # -- run hooks (ssvae.runs) ----------------------------------------------------------

    @staticmethod
    def _m1_run(directory):
        path = os.path.join(directory, "config.json")
        if not os.path.exists(path):
            raise SsvaeError(f"--m1 {directory} is not a run directory (no config.json); "
                             "train one with 'ssvae train --model vae' or leave out --m1")
        config = load_json(path)
        if config.get("model", "vae") != "vae":
            raise SsvaeError(f"--m1 {directory} is a {config.get('model')!r} run; M1 must be a --model vae run")
        return config

    def _load_m1_run(self, directory, device):
        self.load_m1(VAE.load(os.path.join(directory, "checkpoint.pt"), device=device))

    def check_run(self, data, config):
        super().check_run(data, config)
        if config["m1"] is not None:
            m1 = self._m1_run(config["m1"])
            if m1["dataset"] != config["dataset"] or m1.get("data_dir") != config.get("data_dir"):
                raise SsvaeError(f"--m1 {config['m1']} was trained on {m1['dataset']} "
                                 f"({m1.get('data_dir') or 'default location'}), this run uses {config['dataset']}")
            if m1["binarize"] != config["binarize"]:  # its codes would be of images unlike those it learned
                raise SsvaeError(f"--m1 {config['m1']} was trained with --binarize {m1['binarize']}, this run uses "
                                 f"--binarize {config['binarize']}; pass --binarize {m1['binarize']}")
            self._load_m1_run(config["m1"], config["device"])

    def start_run(self, out, data, config, progress=True, log=print):
        """Train M1 into ``out/m1`` (unless ``--m1`` names a trained one), then load it."""
        super().start_run(out, data, config, progress, log)
        if config["m1"] is None:
            from ssvae import runs  # runs imports this module

            m1_dir = os.path.join(out, "m1")
            log(f"stage 1: training M1 (a VAE, z={config['z1_dim']}, {config['m1_epochs']} epochs) into {m1_dir}")
            runs.train(m1_dir, m1_run_config(config), progress=progress, log=log)
            config["m1"] = m1_dir
            save_json(os.path.join(out, "config.json"), config)
            self._load_m1_run(m1_dir, config["device"])
        log(f"stage 2: M2 on M1's codes (M1 from {config['m1']})")

    def evaluate_data(self, data, split, config, batch_size=2000, progress=False, **ignored):
        """M1+M2's ``{split}_accuracy`` and, on the test split, the baseline and M1 + classifier."""
        metrics = super().evaluate_data(data, split, config, batch_size, progress)
        if split == "test" and config.get("baseline"):
            labelled, _ = self.split_labels(data, config)
            generator = torch.Generator().manual_seed(config["seed"])
            x_train = data.x_train.cpu()
            if config["binarize"] == "dynamic":  # codes of binary images, as M1 saw in training
                x_train = torch.bernoulli(x_train, generator=generator)
            accuracies = latent_classifiers(self.codes(x_train).cpu(), data.y_train.cpu(), labelled.cpu(),
                                            self.codes(data.x_val).cpu(), data.y_val.cpu(),
                                            self.codes(data.x_test).cpu(), data.y_test.cpu(), self.num_classes,
                                            config["classifier_hidden"], config["activation"], seed=config["seed"])
            metrics.update({f"m1_{name}_test_accuracy": value for name, value in accuracies.items()})
        m1_metrics = config["m1"] and os.path.join(config["m1"], "metrics.json")
        if m1_metrics and os.path.exists(m1_metrics):
            metrics["m1_train_seconds"] = load_json(m1_metrics).get("train_seconds")
        return metrics
