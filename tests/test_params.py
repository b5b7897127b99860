"""θ (model) and φ (guide) are disjoint, named, and trained by the right gradients."""
import pyro
import pyro.poutine as poutine
import torch

from ssvae import VAE, DiagonalNormalGuide, VAEModel, make_elbo, parameter_table


def test_theta_and_phi_are_disjoint_and_named():
    vae = VAE(z_dim=4, hidden=[16])
    table = vae.parameters_table()
    theta = table[table.role == "theta (model)"]
    phi = table[table.role == "phi (guide)"]
    assert theta.name.str.startswith("vae_model.decoder.").all()
    assert phi.name.str.startswith("vae_guide.encoder.").any() and phi.name.str.startswith("vae_guide.").all()
    assert set(theta.name).isdisjoint(phi.name)
    assert theta["size"].sum() == sum(p.numel() for p in vae.model.parameters())
    assert phi["size"].sum() == sum(p.numel() for p in vae.guide.parameters())
    ids = {id(p) for p in vae.model.parameters()}
    assert not ids & {id(p) for p in vae.guide.parameters()}


def test_shared_parameters_are_refused():
    model, guide = VAEModel(784, 4, (16,)), DiagonalNormalGuide(784, 4, (16,))
    guide.encoder = model.decoder.body
    try:
        parameter_table(model, guide)
    except ValueError as e:
        assert "share parameters" in str(e)
    else:
        raise AssertionError("shared parameters were not reported")


def test_param_sites_have_unique_root_names(binary_batch):
    model, guide = VAEModel(784, 4, (16,)), DiagonalNormalGuide(784, 4, (16,))
    guide_trace = poutine.trace(guide).get_trace(binary_batch)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(binary_batch)
    guide_names = {n for n, s in guide_trace.nodes.items() if s["type"] == "param"}
    model_names = {n for n, s in model_trace.nodes.items() if s["type"] == "param"}
    assert guide_names and all(n.startswith("vae_guide.") for n in guide_names)
    assert model_names and all(n.startswith("vae_model.") for n in model_names)
    assert set(pyro.get_param_store().keys()) == guide_names | model_names


def test_elbo_gradient_reaches_both_theta_and_phi(binary_batch):
    model, guide = VAEModel(784, 4, (16,)), DiagonalNormalGuide(784, 4, (16,))
    make_elbo("meanfield")(model, guide)(binary_batch).backward()
    for module in (model, guide):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_separate_learning_rates_for_model_and_guide():
    vae = VAE(z_dim=4, hidden=[16], lr=1e-3, guide_lr=5e-4)
    groups = vae.trainer.optimizer.param_groups
    assert [g["lr"] for g in groups] == [1e-3, 5e-4]
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in vae.model.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in vae.guide.parameters()}


def test_fit_changes_weights_through_the_trainer(binary_batch):
    vae = VAE(z_dim=4, hidden=[16])
    before = [p.detach().clone() for p in vae.model.parameters()] + [p.detach().clone() for p in vae.guide.parameters()]
    vae.fit(binary_batch, epochs=1, batch_size=16, progress=False)
    after = list(vae.model.parameters()) + list(vae.guide.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(after, before))


def test_pyro_svi_with_pyro_optim_trains_the_modules_own_weights(binary_batch):
    from pyro.infer import SVI, TraceMeanField_ELBO
    from pyro.optim import Adam

    model, guide = VAEModel(784, 4, (16,)), DiagonalNormalGuide(784, 4, (16,))
    decoder_w = model.decoder.logits.weight.detach().clone()
    encoder_w = guide.loc.weight.detach().clone()
    svi = SVI(model, guide, Adam({"lr": 1e-2}), TraceMeanField_ELBO())
    losses = [svi.step(binary_batch, num_data=1000) for _ in range(30)]
    assert losses[-1] < losses[0]
    assert not torch.equal(model.decoder.logits.weight, decoder_w)
    assert not torch.equal(guide.loc.weight, encoder_w)
