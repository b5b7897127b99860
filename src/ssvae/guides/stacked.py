r"""The guide of the stacked M1+M2 model: M1's encoder, then M2's guide on the code.

.. math::

    q(z_1, y, z_2 | x) = q_{φ_1}(z_1|x)\, q_φ(y|z_1)\, q_φ(z_2|z_1, y).

q_φ1(z1|x) is M1's encoder (frozen after M1 is trained); the classifier
q_φ(y|z1) and q_φ(z2|z1,y) form an :class:`~ssvae.guides.M2Guide` over codes.
``features="sample"`` draws z1 ~ q_φ1(z1|x) at every step, as the paper did;
``features="mean"`` uses the posterior mean μ_φ1(x) (a point mass at the
site ``"z1"``: the ELBO then lacks q(z1|x)'s entropy, a constant for M2).
Prediction chains the two encoders, x → E[z1|x] → q(y|z1).
"""
import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule

from ssvae.errors import SsvaeError
from ssvae.models.sites import SiteNames, root_name
from ssvae.models.stacked import FrozenM1, freeze

FEATURES = ("sample", "mean")


class StackedGuide(FrozenM1, SiteNames, PyroModule):
    """q_φ1(z1|x) q_φ(y|z1) q_φ(z2|z1,y) for :class:`~ssvae.models.StackedModel`.

    :param m1_guide: M1's :class:`~ssvae.guides.AmortizedGuide` q(z1|x); frozen.
    :param m2_guide: an :class:`~ssvae.guides.M2Guide` with ``x_dim = m1_guide.z_dim``.
    :param str features: ``"sample"`` or ``"mean"`` (see the module doc).
    """

    has_analytic_kl = False  # q(z2|z1,y) depends on z1: no closed-form KL term per site
    frozen_part = "m1_guide"

    def __init__(self, m1_guide, m2_guide, features="sample", name=None, prefix=None):
        super().__init__(root_name(prefix, name, "m1m2_guide"))
        self._set_prefix(prefix)
        if features not in FEATURES:
            raise SsvaeError(f"unknown features {features!r}; choose one of {', '.join(FEATURES)}")
        if m2_guide.x_dim != m1_guide.z_dim:
            raise SsvaeError(f"M2's guide reads M1's codes: its x_dim ({m2_guide.x_dim}) must be M1's z_dim "
                             f"({m1_guide.z_dim})")
        self.m1_guide, self.m2_guide, self.features = freeze(m1_guide), m2_guide, features
        self.x_dim, self.z_dim, self.num_classes = m1_guide.x_dim, m2_guide.z_dim, m2_guide.num_classes

    def code_posterior(self, x):
        """q_φ1(z1|x), or the point mass at its mean for ``features="mean"``."""
        q = self.m1_guide.posterior(x)
        return q if self.features == "sample" else dist.Delta(q.mean, event_dim=1)

    def code(self, x):
        """z1 for the classifier: a draw of q(z1|x) while training with sampled features, else its mean."""
        q = self.m1_guide.posterior(x)
        return q.rsample() if self.training and self.features == "sample" else q.mean

    def classify(self, x):
        """Class logits of q_φ(y|z1) at the code of each image, shape ``(batch, num_classes)``."""
        if x.shape[-1] != self.x_dim:
            raise SsvaeError(f"the classifier expects images of shape (N, {self.x_dim}), got {tuple(x.shape)}")
        return self.m2_guide.classify(self.code(x))

    @torch.no_grad()
    def predict_proba(self, x):
        """q(y|x) = q_φ(y | E[z1|x]) as probabilities, shape ``(batch, num_classes)``."""
        return self.m2_guide.predict_proba(self.m1_guide.posterior_mean(x))

    @torch.no_grad()
    def style_mean(self, x, y):
        """E[z2 | z1 = E[z1|x], y]: the style code, e.g. for analogies."""
        return self.m2_guide.style_mean(self.m1_guide.posterior_mean(x), y)

    def forward(self, x=None, y=None, num_data=None, batch_size=None):
        """Sample z1 ~ q(z1|x), y ~ q(y|z1) where y is None (enumerated by the objective), z2 ~ q(z2|z1,y)."""
        if x is None:
            raise SsvaeError("the guide q(z1,y,z2|x) needs the images x; pass the same x as to the model")
        with pyro.plate(self.site("data"), num_data or x.shape[0], subsample=x):
            z1 = pyro.sample(self.site("z1"), self.code_posterior(x))
            if y is None:
                y = pyro.sample(self.site("y"), dist.Categorical(logits=self.m2_guide.classify(z1)))
            return pyro.sample(self.site("z2"), self.m2_guide.z_guide.posterior(z1, y))
