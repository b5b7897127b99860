r"""The generative model of the variational autoencoder (AEVB; M1 of Kingma et al. 2014).

.. math::

    p_θ(x, z) = p(z)\, p_θ(x|z), \qquad p(z) = N(0, I),

with ``p_θ(x|z)`` one of the decoder families of :mod:`ssvae.models.decoders`.
θ are the decoder's weights: :meth:`VAEModel.parameters` lists exactly them.

The model is a Pyro model callable with the sites ``"z"`` (latent code) and
``"x"`` (image, observed when given) inside ``pyro.plate("data")``. Passing
``num_data`` (the size of the whole training set) makes the plate scale each
minibatch's log-density by ``num_data / batch`` so the ELBO is an unbiased
estimate for the full dataset.
"""
import pyro
from pyro.poutine.util import is_validation_enabled
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule

from ssvae.errors import SsvaeError
from ssvae.models.decoders import make_decoder
from ssvae.models.sites import SiteNames, check_latent, root_name


class VAEModel(SiteNames, PyroModule):
    """p(z) p_θ(x|z) with a Gaussian prior and an MLP decoder.

    :param int x_dim: pixels per image (784 for 28x28).
    :param int z_dim: latent size.
    :param hidden: hidden layer sizes of the decoder MLP, e.g. ``(400,)`` or ``(500, 500)``.
    :param str activation: ``"tanh"`` (the paper's), ``"softplus"`` or ``"relu"``.
    :param str likelihood: ``"bernoulli"``, ``"gaussian"`` or ``"cbernoulli"``.
    :param str name: the root name of this module's Pyro parameters (default ``"vae_model"``).
    :param str prefix: names the sites ``"<prefix>/z"``, ``"<prefix>/x"`` and the plate
        ``"<prefix>/data"`` (see :mod:`ssvae.models.sites`); give two instances in one
        program different prefixes.
    """

    def __init__(self, x_dim=784, z_dim=50, hidden=(400,), activation="tanh", likelihood="bernoulli",
                 name=None, prefix=None, **decoder_kwargs):
        super().__init__(root_name(prefix, name, "vae_model"))
        self._set_prefix(prefix)
        if int(z_dim) < 1 or int(x_dim) < 1:
            raise SsvaeError(f"x_dim and z_dim must be positive, got x_dim={x_dim}, z_dim={z_dim}")
        self.x_dim, self.z_dim, self.likelihood = int(x_dim), int(z_dim), likelihood
        self.decoder = make_decoder(likelihood, self.z_dim, self.x_dim, hidden, activation, **decoder_kwargs)
        self.register_buffer("_zero", torch.zeros(()), persistent=False)

    def prior(self):
        """p(z) = N(0, I) over ``z_dim`` dimensions (event shape ``(z_dim,)``)."""
        return dist.Normal(self._zero, 1.0).expand([self.z_dim]).to_event(1)

    def forward(self, x=None, num_data=None, batch_size=None):
        """Run the model: sample z, then x (observed when ``x`` is given).

        :param x: images ``(batch, x_dim)``, or None to sample new images.
        :param num_data: size of the full dataset ``x`` is a minibatch of (sets the scale).
        :param batch_size: how many images to generate when ``x`` is None.
        :returns: the images x (the observed ones, or new samples).
        """
        if x is not None:
            if is_validation_enabled():
                self.decoder.check_data(x, what=f"x (the model's observed site {self.site('x')!r})")
            batch = x.shape[0]
        elif batch_size is not None:
            batch = int(batch_size)
        else:
            raise SsvaeError("the model needs images x to condition on, or batch_size to generate new images")
        with pyro.plate(self.site("data"), num_data or batch, subsample=x if x is not None else None,
                        subsample_size=None if x is not None else batch):
            z = pyro.sample(self.site("z"), self.prior())
            if is_validation_enabled():
                check_latent(z, self.z_dim, self.site("z"))
            return pyro.sample(self.site("x"), self.decoder(z), obs=x)
