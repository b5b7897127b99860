"""The guide families: densities, swapping, enumeration under M2, particles, save/load, errors."""
import math

import pyro
import pyro.poutine as poutine
import pytest
import torch
from pyro.infer import TraceEnum_ELBO, config_enumerate

from ssvae import VAE, M2Guide, M2Model, VAEModel, iwae_log_likelihood
from ssvae.cli import main
from ssvae.errors import SsvaeError
from ssvae.guides import GUIDES, AmortizedGuide, FullCovarianceGuide, LowRankGuide, make_guide
from ssvae.guides.gaussian import CORRELATION_STEP

FLOWS = ["iaf", "planar", "radial", "spline"]


def _x(n=16, d=6):
    torch.manual_seed(0)
    return torch.rand(n, d)


def test_full_covariance_matches_torch_multivariate_normal():
    guide = FullCovarianceGuide(x_dim=6, z_dim=3, hidden=(8,))
    torch.nn.init.normal_(guide.off_diag.weight)
    x = _x()
    h = guide.encoder(x)
    unit = torch.eye(3).repeat(16, 1, 1)
    rows, cols = torch.tril_indices(3, 3, offset=-1)
    unit[:, rows, cols] = CORRELATION_STEP * guide.off_diag(h)
    tril = torch.exp(0.5 * guide.log_var(h)).unsqueeze(-1) * unit  # diag σ (I + A)
    reference = torch.distributions.MultivariateNormal(guide.loc(h), scale_tril=tril)
    q = guide.posterior(x)
    z = q.sample((5,))
    assert torch.allclose(q.log_prob(z), reference.log_prob(z), atol=1e-5)
    samples = q.sample((40000,))[:, 0]
    assert torch.allclose(torch.cov(samples.T), tril[0] @ tril[0].T, atol=0.05)


@pytest.mark.parametrize("family", ["full", "lowrank"])
def test_gaussian_families_have_the_closed_form_kl_of_torch_multivariate_normals(family, binary_batch):
    """KL(q || N(0, I)) equals torch's MVN-MVN KL, value and gradient, and the ELBO uses it."""
    guide = make_guide(family, x_dim=6, z_dim=3, hidden=(8,))
    for p in guide.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = _x()
    q = guide.posterior(x)
    prior = VAEModel(6, 3, hidden=(8,)).prior().expand([x.shape[0]])  # as under the model's plate
    ours = torch.distributions.kl_divergence(q, prior)
    reference = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(q.mean, covariance_matrix=q.covariance_matrix),
        torch.distributions.MultivariateNormal(torch.zeros(3), torch.eye(3)))
    assert ours.shape == (x.shape[0],)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    g_ours = torch.autograd.grad(ours.sum(), list(guide.parameters()), retain_graph=True)
    g_ref = torch.autograd.grad(reference.sum(), list(guide.parameters()))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)

    vae = VAE(z_dim=4, hidden=[16], guide=family)
    assert vae.config["elbo"] == "meanfield" and vae.elbo_note is None
    # the reported KL is the closed form: the same at different samples of z
    first, second = (vae.evaluate(binary_batch)["kl"] for _ in range(2))
    assert first == pytest.approx(second, abs=1e-6)


@pytest.mark.parametrize("family", ["full", "lowrank"])
def test_gaussian_families_contain_the_diagonal_family(family, binary_batch):
    """With the correlation part at zero, the same μ(x), log σ²(x) weights give the diagonal posterior."""
    diagonal = make_guide("diagonal", x_dim=784, z_dim=4, hidden=(16,))
    richer = make_guide(family, x_dim=784, z_dim=4, hidden=(16,))
    richer.load_state_dict(diagonal.state_dict(), strict=False)  # encoder, loc, log_var
    extra = richer.off_diag if family == "full" else richer.factor
    torch.nn.init.zeros_(extra.weight), torch.nn.init.zeros_(extra.bias)
    x = binary_batch[:8]
    q, p = richer.posterior(x), diagonal.posterior(x)
    z = p.sample((3,))
    torch.testing.assert_close(q.log_prob(z), p.log_prob(z), atol=1e-4, rtol=1e-5)
    prior = VAEModel(784, 4, hidden=(16,)).prior().expand([8])
    torch.testing.assert_close(torch.distributions.kl_divergence(q, prior),
                               torch.distributions.kl_divergence(p, prior), atol=1e-5, rtol=1e-5)


def test_low_rank_matches_torch_multivariate_normal():
    guide = LowRankGuide(x_dim=6, z_dim=4, hidden=(8,), rank=2)
    x = _x()
    h = guide.encoder(x)
    factor = torch.exp(0.5 * guide.log_var(h)).unsqueeze(-1) * CORRELATION_STEP * guide.factor(h).reshape(16, 4, 2)
    cov = torch.diag_embed(torch.exp(guide.log_var(h))) + factor @ factor.transpose(-1, -2)
    reference = torch.distributions.MultivariateNormal(guide.loc(h), covariance_matrix=cov)
    z = guide.posterior(x).sample((5,))
    assert torch.allclose(guide.posterior(x).log_prob(z), reference.log_prob(z), atol=1e-4)


@pytest.mark.parametrize("flow", FLOWS)
def test_flow_density_obeys_the_change_of_variables(flow):
    guide = make_guide(flow, x_dim=6, z_dim=2, hidden=(8,), flow_steps=2)
    q = guide.posterior(_x(1))
    z = q.rsample()
    z0 = q.base_dist.rsample().detach()
    transforms = q.transforms  # densities are evaluated at q's own samples, which its transforms cache

    def push(v):
        for t in transforms:
            v = t(v)
        return v

    jacobian = torch.autograd.functional.jacobian(lambda v: push(v.unsqueeze(0)).squeeze(0), z0[0])
    z1 = push(z0)
    expected = q.base_dist.log_prob(z0) - torch.linalg.slogdet(jacobian).logabsdet
    assert torch.allclose(q.log_prob(z1), expected, atol=1e-4)
    assert z.shape == (1, 2)


@pytest.mark.parametrize("flow", ["iaf", "spline"])
def test_invertible_flow_density_integrates_to_one_in_2d(flow):
    guide = make_guide(flow, x_dim=6, z_dim=2, hidden=(8,), flow_steps=2)
    q = guide.posterior(_x(1))
    with torch.no_grad():
        center = q.sample((2000,)).mean(0)[0]
        grid = torch.linspace(-6, 6, 301)
        zz = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2) + center
        density = q.log_prob(zz.unsqueeze(1)).exp().reshape(301, 301)
    mass = torch.trapezoid(torch.trapezoid(density, grid), grid).item()
    assert mass == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("family", list(GUIDES))
def test_every_family_swaps_in_trains_saves_and_loads(family, binary_batch, tmp_path):
    vae = VAE(z_dim=4, hidden=[32], guide=family, num_particles=3)
    assert vae.config["elbo"] == ("trace" if family in FLOWS else "meanfield")
    assert type(vae.model) is VAEModel  # the model does not change with the guide
    vae.fit(binary_batch, epochs=2, batch_size=32, progress=False)
    assert all(math.isfinite(r["train_elbo"]) for r in vae.history)
    log_px = iwae_log_likelihood(vae.model, vae.guide, binary_batch[:8], 20)
    assert log_px.shape == (8,) and torch.isfinite(log_px).all()
    path = str(tmp_path / "vae.pt")
    vae.save(path)
    loaded = VAE.load(path)
    assert torch.allclose(loaded.guide.posterior_mean(binary_batch), vae.guide.posterior_mean(binary_batch))
    draws = []
    for guide in (vae.guide, loaded.guide):  # the same posterior: the same draws and densities from one seed
        torch.manual_seed(1)
        q = guide.posterior(binary_batch[:8])
        z = q.rsample()  # a flow's density is evaluated at its own samples
        draws.append((z, q.log_prob(z)))
    torch.testing.assert_close(draws[0], draws[1])


@pytest.mark.parametrize("family", ["full", "lowrank"])
def test_checkpoints_of_the_older_covariance_parametrization_are_refused(family, tmp_path):
    """The same weight names once meant another covariance: such a checkpoint must not load silently."""
    vae = VAE(z_dim=4, hidden=[16], guide=family)
    path = str(tmp_path / "vae.pt")
    vae.save(path)
    state = torch.load(path, weights_only=True)
    del state["guide"]["covariance_form"]  # what a checkpoint saved before the parametrization changed has
    torch.save(state, path)
    with pytest.raises(SsvaeError, match="older ssvae whose covariance parametrization differs"):
        VAE.load(path)


@pytest.mark.parametrize("family", list(GUIDES))
def test_every_family_under_m2_parallel_enumeration(family, binary_batch):
    model = M2Model(784, 3, 10, hidden=(16,))
    guide = M2Guide(784, 3, 10, hidden=(16,), classifier_hidden=(16,), family=family)
    x = binary_batch[:5]
    enumerated = config_enumerate(guide, "parallel")
    trace = poutine.trace(poutine.enum(enumerated, first_available_dim=-2)).get_trace(x)
    assert trace.nodes["y"]["value"].shape == (10, 1)
    assert trace.nodes["z"]["value"].shape == (10, 5, 3)
    assert trace.nodes["z"]["fn"].log_prob(trace.nodes["z"]["value"]).shape == (10, 5)
    loss = TraceEnum_ELBO(max_plate_nesting=1).differentiable_loss(model, enumerated, x)
    loss.backward()
    assert torch.isfinite(loss)


def test_flow_guide_improves_the_elbo_on_real_images(fmnist_small):
    pyro.set_rng_seed(0)
    vae = VAE(z_dim=8, hidden=[64], guide="iaf", flow_steps=2)
    x = torch.bernoulli(fmnist_small.x_train[:1000])
    vae.fit(x, epochs=4, batch_size=100, x_val=torch.bernoulli(fmnist_small.x_val[:500]), progress=False)
    assert vae.history[-1]["val_elbo"] > vae.history[0]["val_elbo"] + 10


def test_unknown_families_and_bad_options_are_clear_errors(tmp_path, capsys):
    with pytest.raises(SsvaeError, match="unknown guide family 'gaussian'; choose one of diagonal, full"):
        make_guide("gaussian")
    with pytest.raises(SsvaeError, match="rank must be at least 1"):
        make_guide("lowrank", rank=0)
    with pytest.raises(SsvaeError, match="flow_steps must be at least 1"):
        make_guide("iaf", flow_steps=0)
    with pytest.raises(SsvaeError, match="--rank does not apply to the 'diagonal' guide"):
        make_guide("diagonal", rank=3)
    with pytest.raises(SsvaeError, match="no closed-form KL"):
        VAE(guide="iaf", elbo="meanfield")
    with pytest.raises(SystemExit):
        main(["train", "--guide", "maf"])
    assert "invalid choice" in capsys.readouterr().err


def test_cli_flow_run_says_it_uses_the_monte_carlo_elbo(tmp_path, fmnist_small, capsys):
    run = str(tmp_path / "iaf")
    assert main(["train", "--out", run, "--guide", "iaf", "--flow-steps", "2", "--train-size", "500", "--epochs", "1",
                 "--hidden", "32", "--z-dim", "4", "--iwae-k", "5", "--quiet", "--no-download"]) == 0
    assert "no closed-form KL: using the Monte Carlo ELBO" in capsys.readouterr().out
    config = pd_read_json(run)
    assert config["elbo"] == "trace" and config["flow_steps"] == 2


def pd_read_json(run):
    import json
    import os

    with open(os.path.join(run, "config.json")) as f:
        return json.load(f)


class ScaledDiagonal(AmortizedGuide):
    """A user's own family: a Gaussian with one learned scale per latent dimension."""

    def __init__(self, x_dim=784, z_dim=50, hidden=(400,), activation="tanh", name="vae_guide", num_classes=0):
        super().__init__(x_dim, z_dim, hidden, activation, name, num_classes)
        self.loc = torch.nn.Linear(self.feature_dim, self.z_dim)
        self.log_scale = torch.nn.Parameter(torch.zeros(self.z_dim))

    def build_posterior(self, h):
        import pyro.distributions as dist

        return dist.Normal(self.loc(h), self.log_scale.exp()).to_event(1)


def test_a_user_written_guide_class_plugs_in_and_round_trips(binary_batch, tmp_path):
    vae = VAE(z_dim=3, hidden=[16], guide=ScaledDiagonal)
    assert vae.config["guide"] == "test_guides:ScaledDiagonal" and vae.config["elbo"] == "trace"
    vae.fit(binary_batch, epochs=1, batch_size=32, progress=False)
    assert not torch.equal(vae.guide.log_scale, torch.zeros(3))
    path = str(tmp_path / "user.pt")
    vae.save(path)
    loaded = VAE.load(path)
    assert isinstance(loaded.guide, ScaledDiagonal)
    assert torch.allclose(loaded.guide.posterior_mean(binary_batch), vae.guide.posterior_mean(binary_batch))
    with pytest.raises(SsvaeError, match="cannot import the guide class"):
        make_guide("nowhere_module:Guide")
