r"""Normalizing-flow families on an amortized Gaussian base.

q_φ(z|x) is the distribution of ``z = f_K ∘ … ∘ f_1(z_0)`` where
``z_0 ~ N(μ_φ(x), diag σ²_φ(x))`` and each f_k is a *conditional* transform whose
parameters are computed from the encoder's features h_φ(x): every parameter of q
comes from the encoder, so inference stays amortized. Densities follow from the
change of variables, ``log q(z|x) = log q_0(z_0|x) - Σ_k log |det ∂f_k/∂z_{k-1}|``;
the log-determinants come from ``pyro.distributions.transforms``:

- ``iaf``: inverse autoregressive flow (Kingma et al. 2016), affine autoregressive steps;
- ``planar`` and ``radial`` (Rezende & Mohamed 2015);
- ``spline``: neural spline flow, autoregressive rational-quadratic splines (Durkan et al. 2019).

The autoregressive steps alternate the order of the latent dimensions (a
permutation between steps). Densities are evaluated at the guide's own samples
(the transforms cache them), which is all the ELBO and the IWAE estimate need.
There is no closed-form KL: the ELBO uses the Monte Carlo estimate.
"""
import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
import torch.nn as nn

from ssvae.errors import SsvaeError
from ssvae.guides.base import AmortizedGuide
from ssvae.guides.diagonal import diagonal_normal

FLOWS = {
    "iaf": lambda z, c, h: T.conditional_affine_autoregressive(z, c, hidden_dims=[h, h]),
    "planar": lambda z, c, h: T.conditional_planar(z, c, hidden_dims=[h]),
    "radial": lambda z, c, h: T.conditional_radial(z, c, hidden_dims=[h]),
    "spline": lambda z, c, h: T.conditional_spline_autoregressive(z, c, hidden_dims=[h, h], count_bins=8),
}


class FlowGuide(AmortizedGuide):
    """q_φ(z|x): a diagonal Gaussian base followed by ``flow_steps`` conditional flow steps.

    :param str flow: ``"iaf"``, ``"planar"``, ``"radial"`` or ``"spline"``.
    :param int flow_steps: K, the number of steps.
    :param int flow_hidden: hidden width of each step's conditioning network.
    """

    flow = None

    def __init__(self, *args, flow_steps=2, flow_hidden=None, flow=None, **kwargs):
        super().__init__(*args, **kwargs)
        flow = flow or self.flow
        if flow not in FLOWS:
            raise SsvaeError(f"unknown flow {flow!r}; choose one of {', '.join(FLOWS)}")
        if not int(flow_steps) >= 1:
            raise SsvaeError(f"flow_steps must be at least 1, got {flow_steps}; use --flow-steps 1 or more")
        self.flow, self.flow_steps = flow, int(flow_steps)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)
        self.log_var = nn.Linear(self.feature_dim, self.z_dim)
        width = int(flow_hidden or max(2 * self.z_dim, 32))
        self.steps = nn.ModuleList(FLOWS[flow](self.z_dim, self.feature_dim, width) for _ in range(self.flow_steps))
        # reverse the order of z between autoregressive steps so every dimension conditions on every other
        self.register_buffer("_reverse", torch.arange(self.z_dim - 1, -1, -1), persistent=False)

    def _transforms(self, h):
        transforms = []
        for k, step in enumerate(self.steps):
            if k and self.flow in ("iaf", "spline"):
                transforms.append(T.Permute(self._reverse))
            transforms.append(step.condition(h))
        return transforms

    def build_posterior(self, h):
        base = diagonal_normal(self.loc(h), self.log_var(h))
        return dist.TransformedDistribution(base, self._transforms(h), validate_args=False)

    @torch.no_grad()
    def posterior_mean(self, x, y=None):
        """The base mean μ(x) pushed through the flow: a deterministic point summary of q(z|x)."""
        h = self.features(x, y)
        z = self.loc(h)
        for transform in self._transforms(h):
            z = transform(z)
        return z


class IAFGuide(FlowGuide):
    """Inverse autoregressive flow (affine autoregressive steps) on a Gaussian base."""

    flow = "iaf"


class PlanarGuide(FlowGuide):
    """Planar flow steps on a Gaussian base."""

    flow = "planar"


class RadialGuide(FlowGuide):
    """Radial flow steps on a Gaussian base."""

    flow = "radial"


class SplineGuide(FlowGuide):
    """Neural spline flow (autoregressive rational-quadratic splines) on a Gaussian base."""

    flow = "spline"
