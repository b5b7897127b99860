r"""The amortized guide interface q_φ(z|x).

A guide is an *encoder*: an MLP maps each image x to features h_φ(x), and a
*family* turns h into the distribution q_φ(z|x) — for the diagonal family, the
parameters μ_φ(x) and σ_φ(x) of a Gaussian. φ, the encoder's weights, are the
*variational* parameters: :meth:`AmortizedGuide.parameters` lists exactly them,
disjoint from the model's θ. Because one network serves every x, inference is
*amortized*: no per-datapoint parameters are stored or optimized.

Every family has the same constructor arguments and call signature as
:class:`AmortizedGuide`; a family only implements :meth:`build_posterior`
(the pattern of Pyro's autoguides). The guide is a Pyro guide callable with the
same arguments as the model and the site ``"z"`` inside ``pyro.plate("data")``.
"""
import pyro
import torch
import torch.nn as nn
from pyro.nn import PyroModule

from ssvae.errors import SsvaeError
from ssvae.models.networks import mlp
from ssvae.models.sites import SiteNames, root_name


class AmortizedGuide(SiteNames, PyroModule):
    """Base class of q_φ(z|x): an MLP encoder ``x -> h`` and a family-specific head.

    :param int x_dim: input size (pixels).
    :param int z_dim: latent size; must match the model's.
    :param hidden: hidden layer sizes of the encoder MLP.
    :param str activation: ``"tanh"``, ``"softplus"`` or ``"relu"``.
    :param str name: root name of this guide's Pyro parameters (default ``"vae_guide"``).
    :param str prefix: the matching model's ``prefix``: the guide samples ``"<prefix>/z"``.
    :param int num_classes: if positive, the guide is q_φ(z|x,y), conditioned on a
        class label y as well (the M2 model's guide).
    """

    #: whether KL(q(z|x) || N(0, I)) has a closed form for this family
    has_analytic_kl = False

    def __init__(self, x_dim=784, z_dim=50, hidden=(400,), activation="tanh", name=None, num_classes=0,
                 prefix=None):
        super().__init__(root_name(prefix, name, "vae_guide"))
        self._set_prefix(prefix)
        if int(z_dim) < 1 or int(x_dim) < 1:
            raise SsvaeError(f"x_dim and z_dim must be positive, got x_dim={x_dim}, z_dim={z_dim}")
        self.x_dim, self.z_dim, self.num_classes = int(x_dim), int(z_dim), int(num_classes)
        self.encoder = mlp([self.x_dim, *hidden], activation)
        self.feature_dim = ([self.x_dim, *hidden])[-1]
        if self.num_classes:
            if not hidden:
                raise SsvaeError("a class-conditioned guide q(z|x,y) needs at least one hidden layer")
            # q(z|x,y): the first layer is W_x x + W_y onehot(y) + b; W_y onehot(y) is a lookup
            self.class_embedding = nn.Embedding(self.num_classes, int(hidden[0]))

    def build_posterior(self, h):
        """q(z|x) from encoder features ``h`` of shape ``(..., feature_dim)``.

        Returns a distribution with batch shape ``h.shape[:-1]`` and event shape ``(z_dim,)``.
        """
        raise NotImplementedError

    def features(self, x, y=None):
        """Encoder features h_φ(x) or, for a class-conditioned guide, h_φ(x, y).

        The x-part of the first layer is computed once and broadcast against the
        class part, so enumerating y over all classes (shape ``(K, 1)``) costs
        one x-projection, not K.
        """
        if x.shape[-1] != self.x_dim:
            raise SsvaeError(
                f"the guide's input x has shape {tuple(x.shape)} but it expects (N, {self.x_dim}); "
                f"build the guide with x_dim={x.shape[-1]}"
            )
        if not self.num_classes:
            return self.encoder(x)
        if y is None:
            raise SsvaeError("this guide is q(z|x,y): pass the class labels y")
        first = self.encoder[0](x) + self.class_embedding(y)
        return self.encoder[1:](first)

    def posterior(self, x, y=None):
        """q_φ(z|x) (or q_φ(z|x,y)) for a batch of images ``x`` of shape ``(batch, x_dim)``."""
        return self.build_posterior(self.features(x, y))

    def forward(self, x=None, num_data=None, batch_size=None):
        """Sample z ~ q_φ(z|x) (reparameterized) for each image, at site ``"z"``."""
        if x is None:
            raise SsvaeError("the guide q(z|x) needs the images x; pass the same x as to the model")
        with pyro.plate(self.site("data"), num_data or x.shape[0], subsample=x):
            return pyro.sample(self.site("z"), self.posterior(x))

    @torch.no_grad()
    def posterior_mean(self, x, y=None):
        """E_q[z|x] (or E_q[z|x,y]), e.g. as features or for latent-space plots."""
        return self.posterior(x, y).mean
