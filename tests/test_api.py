"""ssvae's models and guides as components of a user's own Pyro program (issue: importable models)."""
import importlib.util
import os
import subprocess
import sys

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import pytest
import torch
from pyro.infer import SVI, Predictive, Trace_ELBO, TraceEnum_ELBO, config_enumerate
from pyro.infer.autoguide import AutoDelta, AutoNormal

import ssvae
from ssvae import DiagonalNormalGuide, M2Guide, M2Model, SsvaeError, VAEModel, check_model_guide, parameter_table

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def small_vae(prefix=None, z_dim=4):
    return VAEModel(784, z_dim, (16,), prefix=prefix), DiagonalNormalGuide(784, z_dim, (16,), prefix=prefix)


def test_public_api_reexports_the_main_classes():
    for name in ("VAEModel", "M2Model", "AmortizedGuide", "DiagonalNormalGuide", "M2Guide", "Trainer",
                 "SemiSupervisedELBO", "check_model_guide", "parameter_table", "VAE", "M2", "make_guide"):
        assert name in ssvae.__all__ and getattr(ssvae, name) is not None
    assert ssvae.models.VAEModel is ssvae.VAEModel and ssvae.guides.M2Guide is ssvae.M2Guide
    for cls in (VAEModel, M2Model, DiagonalNormalGuide, M2Guide):
        assert "math" in (importlib.import_module(cls.__module__).__doc__ or "") or "q_φ" in (cls.__doc__ or "")


def test_two_instances_in_one_program_keep_sites_and_params_apart(binary_batch):
    (ma, ga), (mb, gb) = small_vae("a"), small_vae("b")

    def model(xa, xb):
        ma(xa)
        mb(xb)

    def guide(xa, xb):
        ga(xa)
        gb(xb)

    xa, xb = binary_batch[:10], binary_batch[10:30]
    trace = poutine.trace(poutine.replay(model, trace=poutine.trace(guide).get_trace(xa, xb))).get_trace(xa, xb)
    assert {"a/z", "a/x", "b/z", "b/x", "a/data", "b/data"} <= set(trace.nodes)
    assert trace.nodes["a/z"]["value"].shape == (10, 4) and trace.nodes["b/z"]["value"].shape == (20, 4)
    svi = SVI(model, guide, pyro.optim.Adam({"lr": 1e-2}), Trace_ELBO())
    before = mb.decoder.logits.weight.detach().clone()
    svi.step(xa, xb)
    keys = set(pyro.get_param_store().keys())
    assert any(k.startswith("a_vae_model.") for k in keys) and any(k.startswith("b_vae_guide.") for k in keys)
    expected = sum(1 for m in (ma, ga, mb, gb) for _ in m.parameters())
    assert len(keys) == expected  # no key shared between the two instances
    assert not torch.equal(before, mb.decoder.logits.weight)


def test_our_model_inside_a_users_plate_and_next_to_a_global_latent(binary_batch):
    model, guide = small_vae()
    x = binary_batch[:6]

    def user_model(x):
        scale = pyro.sample("temperature", dist.LogNormal(0.0, 1.0))  # the user's own global latent
        with pyro.plate("replicas", 3, dim=-2):
            with poutine.scale(scale=1.0 / 3):
                return model(x), scale

    trace = poutine.trace(user_model).get_trace(x)
    trace.compute_log_prob()
    assert trace.nodes["temperature"]["value"].shape == ()
    assert trace.nodes["z"]["value"].shape == (3, 6, 4)
    assert trace.nodes["x"]["log_prob"].shape == (3, 6)


def test_effect_handlers(binary_batch):
    model, guide = small_vae()
    x = binary_batch[:5]
    z0 = torch.randn(5, 4)
    # condition: z is observed, x's distribution is the decoder at z0
    tr = poutine.trace(poutine.condition(model, data={"z": z0})).get_trace(x)
    assert tr.nodes["z"]["is_observed"] and torch.equal(tr.nodes["z"]["value"], z0)
    assert torch.allclose(tr.nodes["x"]["fn"].mean, model.decoder(z0).mean)
    # do: downstream x sees the intervened z0, while the site z keeps its own draw from the prior
    tr = poutine.trace(poutine.do(model, data={"z": z0})).get_trace(batch_size=5)
    assert torch.allclose(tr.nodes["x"]["fn"].mean, model.decoder(z0).mean)
    assert not torch.equal(tr.nodes["z"]["value"], z0)
    # block: the hidden site is not recorded
    tr = poutine.trace(poutine.block(model, hide=["z"])).get_trace(x)
    assert "z" not in tr.nodes and "x" in tr.nodes
    # scale and mask multiply the log-densities
    plain = poutine.trace(poutine.condition(model, data={"z": z0})).get_trace(x).log_prob_sum()
    scaled = poutine.trace(poutine.scale(poutine.condition(model, data={"z": z0}), 0.25)).get_trace(x).log_prob_sum()
    assert torch.allclose(scaled, 0.25 * plain)
    mask = torch.tensor([True, False, True, False, False])
    masked = poutine.trace(poutine.mask(poutine.condition(model, data={"z": z0}), mask=mask)).get_trace(x)
    masked.compute_log_prob()
    assert torch.equal(masked.nodes["x"]["log_prob"][~mask], torch.zeros(3))
    # replay: the model reuses the guide's z
    guide_trace = poutine.trace(guide).get_trace(x)
    tr = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x)
    assert torch.equal(tr.nodes["z"]["value"], guide_trace.nodes["z"]["value"])


def test_predictive_prior_posterior_and_latents(binary_batch):
    model, guide = small_vae()
    prior = Predictive(model, num_samples=3)(batch_size=7)
    assert prior["z"].shape == (3, 7, 4) and prior["x"].shape == (3, 7, 784)
    assert set(prior["x"].unique().tolist()) <= {0.0, 1.0}
    x = binary_batch[:5]
    post = Predictive(poutine.uncondition(model), guide=guide, num_samples=4)(x)
    assert post["x"].shape == (4, 5, 784) and not torch.equal(post["x"][0], x)
    latents = Predictive(model, guide=guide, num_samples=4, return_sites=["z"])(x)
    assert set(latents) == {"z"} and latents["z"].shape == (4, 5, 4)
    # the posterior z of an image is centred on the guide's mean
    many = Predictive(model, guide=guide, num_samples=400, return_sites=["z"])(x)["z"]
    assert torch.allclose(many.mean(0), guide.posterior_mean(x), atol=0.25)


def test_predictive_with_m2_samples_classes_from_the_classifier(binary_batch):
    model, guide = M2Model(784, 3, 10, (16,)), M2Guide(784, 3, 10, (16,), (16,))
    x = binary_batch[:6]
    out = Predictive(model, guide=guide, num_samples=500, return_sites=["y", "z"])(x)
    assert out["y"].shape == (500, 6) and out["z"].shape == (500, 6, 3)
    freq = torch.stack([(out["y"] == k).float().mean(0) for k in range(10)], -1)
    assert torch.allclose(freq, guide.predict_proba(x), atol=0.07)
    prior = Predictive(model, num_samples=2)(batch_size=4)
    assert prior["y"].shape == (2, 4) and prior["x"].shape == (2, 4, 784)


def test_predictive_without_its_arguments_is_a_clear_error():
    model, guide = small_vae()
    with pytest.raises(SsvaeError, match="batch_size"):
        Predictive(model, num_samples=2)()
    with pytest.raises(SsvaeError, match="needs the images x"):
        Predictive(model, guide=guide, num_samples=2)()


def test_autonormal_and_autodelta_fit_the_model_on_a_small_dataset(binary_batch):
    x = binary_batch[:32]
    for auto in (AutoNormal, AutoDelta):
        pyro.clear_param_store()
        model = VAEModel(784, 4, (16,))
        guide = auto(model)
        svi = SVI(model, guide, pyro.optim.Adam({"lr": 2e-2}), Trace_ELBO())
        losses = [svi.step(x) for _ in range(150)]
        assert sum(losses[-10:]) < sum(losses[:10]) * 0.8, auto.__name__
        z = guide.median(x)["z"]
        assert z.shape == (32, 4)  # one code per image: a non-amortized posterior


def test_autoguide_with_m2_enumerates_y_in_the_model(binary_batch):
    model = M2Model(784, 3, 10, (16,))
    x = binary_batch[:16]
    enum_model = config_enumerate(model, default="parallel")
    guide = AutoNormal(poutine.block(enum_model, hide=["y"]))
    elbo = TraceEnum_ELBO(max_plate_nesting=1)
    svi = SVI(enum_model, guide, pyro.optim.Adam({"lr": 2e-2}), elbo)
    losses = [svi.step(x) for _ in range(60)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) < sum(losses[:5])
    assert "y" not in poutine.trace(guide).get_trace(x).nodes


def test_check_model_guide_names_the_site_and_shape(binary_batch):
    x = binary_batch[:4]
    model, guide = small_vae(z_dim=4)
    check_model_guide(model, guide, x)  # matching pair: no error
    with pytest.raises(SsvaeError, match=r"site 'z'.*\(4, 3\).*\(4, 4\)"):
        check_model_guide(model, DiagonalNormalGuide(784, 3, (16,)), x)
    with pytest.raises(SsvaeError, match=r"\['z'\] are not sampled by the guide"):
        check_model_guide(model, DiagonalNormalGuide(784, 4, (16,), prefix="other"), x)
    # the model itself refuses a replayed z of the wrong size, naming the site
    wrong = poutine.trace(DiagonalNormalGuide(784, 3, (16,))).get_trace(x)
    with pytest.raises(SsvaeError, match="site 'z' has shape"):
        poutine.replay(model, trace=wrong)(x)


def test_model_refuses_wrong_data_naming_the_site():
    model = VAEModel(784, 4, (16,), prefix="digits")
    with pytest.raises(SsvaeError, match=r"site 'digits/x'.*\(N, 784\)"):
        model(torch.zeros(3, 100))
    with pytest.raises(SsvaeError, match="floating-point"):
        model(torch.zeros(3, 784, dtype=torch.long))
    with pytest.raises(SsvaeError, match="prefix"):
        VAEModel(784, 4, prefix="a/b")


def test_trainer_checks_the_pair_before_training(binary_batch):
    model, guide = VAEModel(784, 4, (16,)), DiagonalNormalGuide(784, 5, (16,))
    trainer = ssvae.Trainer(model, guide)
    with pytest.raises(SsvaeError, match="site 'z'"):
        trainer.fit(lambda epoch: [((binary_batch,), {})], 1, 64, progress=False)


def test_theta_phi_helper_and_gradients_of_a_decoder_only_loss(binary_batch):
    model, guide = small_vae()
    table = parameter_table(model, guide)
    assert set(table.role) == {"theta (model)", "phi (guide)"}
    # a loss on log p(x|z) at fixed z reaches θ only
    z0 = torch.randn(binary_batch.shape[0], 4)
    poutine.trace(poutine.condition(model, data={"z": z0})).get_trace(binary_batch).log_prob_sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())
    assert all(p.grad is None for p in guide.parameters())


SAVE_AND_LOAD = r"""
import sys, torch, pyro
from ssvae import M2Model, M2Guide
pyro.set_rng_seed(int(sys.argv[2]))
model, guide = M2Model(784, 3, 10, (16,)), M2Guide(784, 3, 10, (16,), (16,), family="iaf", flow_steps=2)
x = torch.linspace(0, 1, 784).repeat(4, 1).bernoulli(generator=torch.Generator().manual_seed(0))
path = sys.argv[1]
if sys.argv[3] == "save":
    torch.save({"model": model.state_dict(), "guide": guide.state_dict()}, path)
else:
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"]); guide.load_state_dict(state["guide"])
pyro.clear_param_store()
torch.manual_seed(5)
z = guide.z_guide.posterior(x, torch.arange(4)).rsample()
out = torch.cat([guide.predict_proba(x).flatten(), z.flatten(), model.decode(z, torch.arange(4)).mean.flatten()])
torch.save(out, path + "." + sys.argv[3])
"""


def test_state_dicts_saved_in_one_process_give_identical_outputs_in_another(tmp_path):
    path = str(tmp_path / "pair.pt")
    for seed, mode in ((0, "save"), (123, "load")):  # a different init seed: only loading can make them agree
        subprocess.run([sys.executable, "-c", SAVE_AND_LOAD, path, str(seed), mode], check=True)
    saved, loaded = torch.load(path + ".save"), torch.load(path + ".load")
    assert torch.equal(saved, loaded)


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so a class defined there is importable as name:Class
    spec.loader.exec_module(module)
    return module


def test_example_own_svi_loop(fmnist_small):
    out = _example("m2_own_svi_loop").main(["--steps", "40", "--train-size", "2000", "--hidden", "64",
                                            "--z-dim", "8", "--batch-size", "50"])
    assert out["accuracy"] > 0.3  # 10 classes: chance is 0.1
    assert sum(out["losses"][-5:]) < sum(out["losses"][:5])


def test_example_decoder_in_bigger_model(fmnist_small):
    out = _example("decoder_in_bigger_model").main(["--steps", "100", "--train-size", "1000", "--hidden", "32",
                                                    "--z-dim", "4", "--batch-size", "64"])
    losses = out["losses"]
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10])
    keys = set(pyro.get_param_store().keys())
    assert {"global_mean_guide.mu_loc", "global_mean_guide.mu_log_scale"} <= keys
    assert any(k.startswith("global_mean_vae.decoder.") for k in keys)
    assert any(k.startswith("global_mean_guide.encoder.loc") for k in keys)  # our encoder, inside the user guide


def test_example_custom_guide_trains_and_round_trips(fmnist_small, tmp_path):
    path = str(tmp_path / "laplace.pt")
    out = _example("custom_guide").main(["--epochs", "1", "--train-size", "1000", "--hidden", "32", "--z-dim", "4",
                                         "--save", path])
    assert set(out["results"]) == {"diagonal", "custom_guide:LaplaceGuide"}
    for metrics in out["results"].values():
        assert metrics["log_px"] >= metrics["elbo"] - 1.0 and metrics["elbo"] < 0
    loaded = ssvae.VAE.load(path)
    assert type(loaded.guide).__name__ == "LaplaceGuide"
    x = torch.bernoulli(torch.full((3, 784), 0.3))
    assert torch.allclose(loaded.encode(x), out["vae"].encode(x))


def test_example_predictive_on_a_run(fmnist_small, tmp_path):
    out = _example("predictive_on_a_run").main(["--out", str(tmp_path), "--train-size", "500", "--epochs", "1",
                                                "--samples", "3"])
    assert out["prior"]["x"].shape == (3, 10, 784) and out["posterior"]["x"].shape == (3, 10, 784)
    assert out["latents"]["z"].shape == (3, 10, 20)
    assert (tmp_path / "prior.png").stat().st_size > 0 and (tmp_path / "posterior_predictive.png").stat().st_size > 0
