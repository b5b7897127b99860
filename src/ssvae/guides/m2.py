r"""The M2 guide: q_φ(y|x) q_φ(z|x,y).

- q_φ(y|x) = Cat(softmax(classifier(x))): an MLP classifier, the part a user
  keeps for prediction;
- q_φ(z|x,y): any guide family of :mod:`ssvae.guides` built with
  ``num_classes`` (the diagonal Gaussian N(μ_φ(x,y), diag σ²_φ(x,y)) by default).

Unlabelled y is a latent site of the guide; the objective enumerates it
(:func:`pyro.infer.config_enumerate`) so the ELBO sums over the K classes
exactly, weighting each by q(y|x), or samples it for comparison. Labelled y is
passed in and the classifier is not run by the guide; the classification loss
of the paper's Eq. 9 evaluates the classifier once on those images.
"""
import pyro
import pyro.distributions as dist
import torch
import torch.nn as nn
from pyro.nn import PyroModule

from ssvae.errors import SsvaeError
from ssvae.models.networks import mlp
from ssvae.models.sites import SiteNames, root_name


class Classifier(nn.Module):
    """An MLP from x to class logits: ``mlp([x_dim, *hidden]) -> Linear(num_classes)``."""

    def __init__(self, x_dim, num_classes, hidden=(500,), activation="softplus"):
        super().__init__()
        self.body = mlp([x_dim, *hidden], activation)
        self.logits = nn.Linear(([x_dim, *hidden])[-1], num_classes)

    def forward(self, x):
        return self.logits(self.body(x))


class M2Guide(SiteNames, PyroModule):
    """q_φ(y|x) q_φ(z|x,y) for :class:`~ssvae.models.M2Model`.

    :param int x_dim: pixels per image.
    :param int z_dim: size of z.
    :param int num_classes: K.
    :param hidden: hidden sizes of the q(z|x,y) encoder.
    :param classifier_hidden: hidden sizes of the classifier q(y|x).
    :param str activation: hidden activation.
    :param family: guide family of q(z|x,y): a name in ``ssvae.guides.GUIDES`` or a class.
    :param str name: root name of the guide's Pyro parameters (default ``"m2_guide"``).
    :param str prefix: the matching model's ``prefix`` (sites ``"<prefix>/y"``, ``"<prefix>/z"``).
    """

    def __init__(self, x_dim=784, z_dim=50, num_classes=10, hidden=(500,), classifier_hidden=(500,),
                 activation="softplus", family="diagonal", name=None, rank=None, flow_steps=None, prefix=None):
        from ssvae.guides import make_guide  # the registry imports this module

        super().__init__(root_name(prefix, name, "m2_guide"))
        self._set_prefix(prefix)
        self.x_dim, self.z_dim, self.num_classes = int(x_dim), int(z_dim), int(num_classes)
        self.classifier = Classifier(x_dim, num_classes, classifier_hidden, activation)
        self.z_guide = make_guide(family, x_dim=x_dim, z_dim=z_dim, hidden=hidden, activation=activation,
                                  num_classes=num_classes, rank=rank, flow_steps=flow_steps)

    @property
    def has_analytic_kl(self):
        return self.z_guide.has_analytic_kl

    def classify(self, x):
        """Class logits of q_φ(y|x), shape ``(batch, num_classes)``."""
        if x.shape[-1] != self.x_dim:
            raise SsvaeError(f"the classifier expects images of shape (N, {self.x_dim}), got {tuple(x.shape)}")
        return self.classifier(x)

    def forward(self, x=None, y=None, num_data=None, batch_size=None):
        """Sample (or enumerate) y ~ q(y|x) where y is None, then z ~ q(z|x,y)."""
        if x is None:
            raise SsvaeError("the guide q(y,z|x) needs the images x; pass the same x as to the model")
        with pyro.plate(self.site("data"), num_data or x.shape[0], subsample=x):
            if y is None:
                y = pyro.sample(self.site("y"), dist.Categorical(logits=self.classify(x)))
            return pyro.sample(self.site("z"), self.z_guide.posterior(x, y))

    @torch.no_grad()
    def predict_proba(self, x):
        """q_φ(y|x) as probabilities, shape ``(batch, num_classes)``."""
        return torch.softmax(self.classify(x), -1)

    @torch.no_grad()
    def style_mean(self, x, y):
        """E[z|x,y], the style code of each image given its class (for analogies and latent plots)."""
        return self.z_guide.posterior_mean(x, y)
