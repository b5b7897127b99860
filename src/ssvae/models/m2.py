r"""The semi-supervised generative model M2 of Kingma et al. (2014).

.. math::

    p_θ(x, y, z) = p(y)\, p(z)\, p_θ(x | y, z), \qquad p(y) = Cat(π), \quad p(z) = N(0, I).

The class y and the "style" z are independent a priori; the decoder sees both
(``[z, onehot(y)]`` as its input), so z is free to describe what the label does
not: stroke width, slant, the cut of a shirt. y is observed where a label exists
and latent otherwise; in the second case the objective sums it out exactly
(enumeration over the K classes), see :mod:`ssvae.inference.semisupervised`.

Sites: ``"y"``, ``"z"`` and ``"x"`` inside ``pyro.plate("data")``. All shapes
broadcast, so under parallel enumeration ``y`` has shape ``(K, 1)`` and z, x
carry the enumeration dimension on the left.
"""
import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from pyro.nn import PyroModule
from pyro.poutine.util import is_validation_enabled

from ssvae.errors import SsvaeError
from ssvae.models.decoders import make_decoder
from ssvae.models.sites import SiteNames, check_latent, root_name


def observed_batch(model, x, y, batch_size):
    """The batch size of a call of an M2-like ``model`` with images ``x`` and/or labels ``y``,
    or ``batch_size`` to generate; the inputs are checked when Pyro's validation is on."""
    if x is not None:
        batch = x.shape[0]
        if is_validation_enabled():
            model.decoder.check_data(x, what=f"x (the model's observed site {model.site('x')!r})")
    elif y is not None:
        batch = y.shape[0]
    elif batch_size is not None:
        batch = int(batch_size)
    else:
        raise SsvaeError("the model needs images x, labels y or batch_size")
    if y is not None and is_validation_enabled():
        model.check_labels(y, batch)
    return batch


class M2Model(SiteNames, PyroModule):
    """p(y) p(z) p_θ(x|y,z).

    :param int x_dim: pixels per image.
    :param int z_dim: size of the continuous latent z.
    :param int num_classes: number of classes K.
    :param hidden: decoder hidden sizes.
    :param str activation: hidden activation (the paper used softplus).
    :param str likelihood: decoder family (``"bernoulli"``, ``"gaussian"``, ``"cbernoulli"``).
    :param class_probs: prior π over classes (default uniform).
    :param str name: root name of the model's Pyro parameters (default ``"m2_model"``).
    :param str prefix: names the sites ``"<prefix>/y"``, ``"<prefix>/z"``, ``"<prefix>/x"``
        and the plate ``"<prefix>/data"`` (see :mod:`ssvae.models.sites`).
    """

    def __init__(self, x_dim=784, z_dim=50, num_classes=10, hidden=(500,), activation="softplus",
                 likelihood="bernoulli", class_probs=None, name=None, prefix=None, **decoder_kwargs):
        super().__init__(root_name(prefix, name, "m2_model"))
        self._set_prefix(prefix)
        if int(num_classes) < 2:
            raise SsvaeError(f"num_classes must be at least 2, got {num_classes}")
        self.x_dim, self.z_dim, self.num_classes, self.likelihood = int(x_dim), int(z_dim), int(num_classes), likelihood
        self.decoder = make_decoder(likelihood, self.z_dim + self.num_classes, self.x_dim, hidden, activation,
                                    **decoder_kwargs)
        probs = torch.full((self.num_classes,), 1.0 / self.num_classes) if class_probs is None else \
            torch.as_tensor(class_probs, dtype=torch.float32)
        if probs.shape != (self.num_classes,) or (probs < 0).any() or abs(float(probs.sum()) - 1) > 1e-4:
            raise SsvaeError(f"class_probs must be {self.num_classes} non-negative numbers summing to 1")
        self.register_buffer("class_probs", probs)

    def class_prior(self):
        """p(y) = Cat(π)."""
        return dist.Categorical(self.class_probs)

    def prior(self):
        """p(z) = N(0, I)."""
        return dist.Normal(torch.zeros((), device=self.class_probs.device), 1.0).expand([self.z_dim]).to_event(1)

    def decode(self, z, y):
        """p_θ(x|y,z); ``y`` (integer labels) broadcasts against ``z``'s batch shape.

        The decoder's first layer acts on ``[z, onehot(y)]``:
        W [z; onehot(y)] + b = W_z z + W_y[:, y] + b. The class part is a column
        lookup, so under enumeration (``y`` of shape ``(K, 1)``) no one-hot copy
        of the batch is built and multiplied; same weights, same values.
        """
        body = self.decoder.body
        if not len(body):  # no hidden layer: the head itself reads [z, onehot(y)]
            onehot = F.one_hot(y, self.num_classes).to(z.dtype)
            shape = torch.broadcast_shapes(z.shape[:-1], onehot.shape[:-1])
            inputs = torch.cat([z.expand(*shape, self.z_dim), onehot.expand(*shape, self.num_classes)], -1)
            return self.decoder(inputs)
        first = body[0]
        weight_z, weight_y = first.weight[:, :self.z_dim], first.weight[:, self.z_dim:]
        hidden = F.linear(z, weight_z, first.bias) + F.embedding(y, weight_y.t())
        return self.decoder.head(body[1:](hidden))

    def check_labels(self, y, batch):
        if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or y.shape != (batch,):
            raise SsvaeError(f"labels y must be an integer tensor of shape ({batch},), got {y.dtype} {tuple(y.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise SsvaeError(f"labels must lie in 0..{self.num_classes - 1}, got values from {int(y.min())} to "
                             f"{int(y.max())}; relabel the data or set num_classes")

    def forward(self, x=None, y=None, num_data=None, batch_size=None):
        """Run the model; ``x`` and ``y`` are observed where given.

        :param x: images ``(batch, x_dim)`` or None to generate.
        :param y: labels ``(batch,)`` or None (latent: enumerated or sampled).
        :param num_data: size of the dataset this minibatch represents.
        :param batch_size: how many to generate when ``x`` and ``y`` are None.
        """
        batch = observed_batch(self, x, y, batch_size)
        with pyro.plate(self.site("data"), num_data or batch, subsample=x,
                        subsample_size=None if x is not None else batch, device=self.class_probs.device):
            y = pyro.sample(self.site("y"), self.class_prior(), obs=y)
            z = pyro.sample(self.site("z"), self.prior())
            if is_validation_enabled():
                check_latent(z, self.z_dim, self.site("z"))
            return pyro.sample(self.site("x"), self.decode(z, y), obs=x)
