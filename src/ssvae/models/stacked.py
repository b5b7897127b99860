r"""The stacked model M1+M2 of Kingma et al. (2014, Section 3.2.3).

M1, a VAE trained without labels, turns each image into a code z1; M2 is then
a model of those codes rather than of pixels:

.. math::

    p(x, y, z_1, z_2) = p(y)\, p(z_2)\, p_θ(z_1 | y, z_2)\, p_{θ_1}(x | z_1),

with p(y) = Cat(π), p(z2) = N(0, I), p_θ(z1|y,z2) M2's decoder with the
Gaussian family (z1 is real-valued) and p_θ1(x|z1) M1's decoder. The M1 part
is trained first and then frozen: while M2 learns, log p_θ1(x|z1) and the M1
guide's density are constants, so maximizing the stacked ELBO trains M2 on the
codes z1 ~ q_φ1(z1|x), exactly the paper's recipe, with the same objective code
(:class:`~ssvae.inference.SemiSupervisedELBO`) as M2 on pixels.

Sites (inside ``pyro.plate("data")``): ``"y"``, ``"z2"``, ``"z1"``, ``"x"``.
"""
import pyro
from pyro.nn import PyroModule
from pyro.poutine.util import is_validation_enabled

from ssvae.errors import SsvaeError
from ssvae.models.m2 import observed_batch
from ssvae.models.sites import SiteNames, check_latent, root_name


def freeze(module):
    """Stop gradients into ``module``'s weights (the trained M1 half of the stack) and keep it in eval
    mode (:class:`FrozenM1` does so across ``train()`` calls), where Pyro expects frozen weights."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module.train(False)


class FrozenM1:
    """Mixin for a module whose ``m1`` part stays frozen: ``train()`` leaves that part in eval mode."""

    frozen_part = "m1"

    def train(self, mode=True):
        super().train(mode)
        getattr(self, self.frozen_part).train(False)
        return self


class StackedModel(FrozenM1, SiteNames, PyroModule):
    """p(y) p(z2) p_θ(z1|y,z2) p_θ1(x|z1): an M2 model of M1's codes, stacked on M1's decoder.

    :param m1: a :class:`~ssvae.models.VAEModel` (its decoder is p_θ1(x|z1)); frozen.
    :param m2: an :class:`~ssvae.models.M2Model` with ``x_dim = m1.z_dim`` and a Gaussian decoder.
    :param str name: root name of the parameters (default ``"m1m2_model"``).
    :param str prefix: site-name prefix (see :mod:`ssvae.models.sites`).
    """

    def __init__(self, m1, m2, name=None, prefix=None):
        super().__init__(root_name(prefix, name, "m1m2_model"))
        self._set_prefix(prefix)
        if m2.x_dim != m1.z_dim:
            raise SsvaeError(f"M2 models M1's codes: its x_dim ({m2.x_dim}) must be M1's z_dim ({m1.z_dim})")
        self.m1, self.m2 = freeze(m1), m2
        self.x_dim, self.z_dim, self.num_classes = m1.x_dim, m2.z_dim, m2.num_classes

    @property
    def decoder(self):
        """p_θ1(x|z1), the decoder that models pixels (used to check data)."""
        return self.m1.decoder

    def prior(self):
        """p(z2) = N(0, I)."""
        return self.m2.prior()

    def check_labels(self, y, batch):
        self.m2.check_labels(y, batch)

    def decode(self, z2, y):
        """Images through both decoders: p_θ1(x | z1 = E[z1|y,z2]); ``y`` broadcasts against ``z2``."""
        return self.m1.decoder(self.m2.decode(z2, y).mean)

    def forward(self, x=None, y=None, num_data=None, batch_size=None):
        """Run the model; ``x`` (images) and ``y`` (labels) are observed where given."""
        batch = observed_batch(self, x, y, batch_size)
        with pyro.plate(self.site("data"), num_data or batch, subsample=x,
                        subsample_size=None if x is not None else batch, device=self.m2.class_probs.device):
            y = pyro.sample(self.site("y"), self.m2.class_prior(), obs=y)
            z2 = pyro.sample(self.site("z2"), self.prior())
            z1 = pyro.sample(self.site("z1"), self.m2.decode(z2, y))
            if is_validation_enabled():
                check_latent(z1, self.m1.z_dim, self.site("z1"))
            return pyro.sample(self.site("x"), self.m1.decoder(z1), obs=x)
