"""The stacked M1+M2 model: its ELBO, the M1 stage, reuse of a trained M1, bad input, an end-to-end run."""
import json
import os

import numpy as np
import pandas as pd
import pyro.poutine as poutine
import pytest
import torch

from ssvae import M2, VAE, M2Guide, M2Model, DiagonalNormalGuide, VAEModel
from ssvae.cli import main
from ssvae.errors import SsvaeError
from ssvae.guides.stacked import StackedGuide
from ssvae.inference.semisupervised import SemiSupervisedELBO
from ssvae.m1m2 import M1M2, m1_run_config, m1m2_options_of
from ssvae.models.stacked import StackedModel


def _stack(features="sample", z1=6, z2=3):
    model = StackedModel(VAEModel(784, z1, (32,), "softplus"), M2Model(z1, z2, 10, (16,), "softplus", "gaussian"))
    guide = StackedGuide(DiagonalNormalGuide(784, z1, (32,), "softplus"),
                         M2Guide(z1, z2, 10, (16,), (16,), "softplus"), features)
    return model, guide


def _log_weight(model, guide, *args):
    guide_trace = poutine.trace(guide).get_trace(*args)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args)
    return model_trace.log_prob_sum() - guide_trace.log_prob_sum(), guide_trace


def test_stacked_elbo_is_the_sum_of_its_parts(binary_batch):
    model, guide = _stack()
    x, y = binary_batch[:8], torch.arange(8)
    stacked, guide_trace = _log_weight(model, guide, x, y)
    z1, z2 = guide_trace.nodes["z1"]["value"], guide_trace.nodes["z2"]["value"]
    # M1's part at the same z1: log p(x|z1) - log q(z1|x)
    m1_part = (model.m1.decoder(z1).log_prob(x) - guide.m1_guide.posterior(x).log_prob(z1)).sum()
    # M2's part, M2 on the code z1 as its "image": log p(y) + log p(z2) + log p(z1|y,z2) - log q(z2|z1,y)
    z2_fixed = {"z": z2}
    m2_model, m2_guide = poutine.condition(model.m2, data=z2_fixed), poutine.condition(guide.m2_guide, data=z2_fixed)
    m2_part = (poutine.trace(m2_model).get_trace(z1, y).log_prob_sum()
               - poutine.trace(m2_guide).get_trace(z1, y).log_prob_sum())
    assert torch.allclose(stacked, m1_part + m2_part, rtol=1e-5)


def test_m1_is_frozen_and_m2_trains(binary_batch):
    model, guide = _stack()
    objective = SemiSupervisedELBO(model, guide, alpha=10.0)
    objective(binary_batch[:8], torch.arange(8), binary_batch[8:24]).backward()
    for module in (model.m1, guide.m1_guide):
        assert all(p.grad is None and not p.requires_grad for p in module.parameters())
    for module in (model.m2, guide.m2_guide):
        assert all(p.grad is not None for p in module.parameters())
    model.train(), guide.train()
    assert not model.m1.training and not guide.m1_guide.training  # frozen parts stay in eval mode


def test_mean_features_are_deterministic(binary_batch):
    model, guide = _stack(features="mean")
    first = poutine.trace(guide).get_trace(binary_batch[:5]).nodes["z1"]["value"]
    second = poutine.trace(guide).get_trace(binary_batch[:5]).nodes["z1"]["value"]
    assert torch.equal(first, second) and torch.equal(first, guide.m1_guide.posterior_mean(binary_batch[:5]))
    assert torch.equal(guide.code(binary_batch[:5]), first)  # the classifier's input too, even while training
    _, sampled = _stack(features="sample")
    assert not torch.equal(sampled.code(binary_batch[:5]), sampled.code(binary_batch[:5]))


def test_analogies_and_samples_go_through_both_decoders(binary_batch):
    stacked = M1M2(z1_dim=6, z_dim=3, hidden=[16], classifier_hidden=[16], m1_hidden=[32])
    grid = stacked.analogies(binary_batch[:4])
    assert grid.shape == (4, 10, 784) and ((grid >= 0) & (grid <= 1)).all()
    z2 = stacked.guide.style_mean(binary_batch[:4], stacked.predict(binary_batch[:4])[1])
    z1 = stacked.model.m2.decode(z2[:, None], torch.arange(10)[None]).mean
    assert torch.allclose(grid, stacked.model.m1.decoder(z1).mean)
    assert stacked.sample(torch.arange(10)).shape == (10, 784)


def test_load_m1_checks_shapes():
    stacked = M1M2(z1_dim=6, z_dim=3, hidden=[16], classifier_hidden=[16], m1_hidden=[32])
    with pytest.raises(SsvaeError, match="z_dim: M1 has 4, this model 6"):
        stacked.load_m1(VAE(z_dim=4, hidden=[32], activation="tanh"))
    with pytest.raises(SsvaeError, match="x_dim: M1 has 100, this model 784"):
        stacked.load_m1(VAE(x_dim=100, z_dim=6, hidden=[32], activation="tanh"))
    with pytest.raises(SsvaeError, match="activation: M1 has softplus, this model tanh"):
        stacked.load_m1(VAE(z_dim=6, hidden=[32], activation="softplus"))
    m1 = VAE(z_dim=6, hidden=[32], activation="tanh")
    stacked.load_m1(m1)
    assert torch.equal(stacked.model.m1.decoder.logits.weight, m1.model.decoder.logits.weight)
    assert torch.equal(stacked.guide.m1_guide.loc.weight, m1.guide.loc.weight)


SMALL = ["--train-size", "2000", "--labels", "100", "--hidden", "64", "--classifier-hidden", "64", "--z-dim", "8",
         "--z1-dim", "16", "--m1-hidden", "128", "--quiet", "--no-download"]


def test_m1m2_run_end_to_end_and_reuse_of_m1(tmp_path, fmnist_small, capsys):
    run = str(tmp_path / "stacked")
    assert main(["train", "--model", "m1m2", "--out", run, "--epochs", "8", "--m1-epochs", "4", "--lr", "3e-3",
                 *SMALL]) == 0
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["test_accuracy"] > 0.4  # chance: 0.1
    for key in ("baseline_test_accuracy", "m1_linear_test_accuracy", "m1_mlp_test_accuracy", "m1_train_seconds",
                "train_seconds"):
        assert key in metrics, key
    config = json.load(open(os.path.join(run, "config.json")))
    assert config["m1"] == os.path.join(run, "m1") and os.path.exists(os.path.join(run, "m1", "checkpoint.pt"))
    m1_config = json.load(open(os.path.join(run, "m1", "config.json")))
    assert m1_config["epochs"] == 4 and m1_config["z_dim"] == config["z1_dim"]
    assert m1m2_options_of(m1_config) == {k: config[k] for k in m1m2_options_of(m1_config)}
    for name in ("best.pt", "analogies.png", "samples.png", "latent.png", "confusion.png", "labelled.csv"):
        assert os.path.getsize(os.path.join(run, name)) > 0, name

    # one checkpoint holds both halves; predict and evaluate work on the unit
    images = str(tmp_path / "x.npy")
    np.save(images, (fmnist_small.x_test[:20].reshape(20, 28, 28) * 255).to(torch.uint8).numpy())
    assert main(["predict", run, images, "--out", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 20
    assert main(["evaluate", run, "--split", "val"]) == 0
    loaded = M1M2.load(os.path.join(run, "checkpoint.pt"))
    m1 = VAE.load(os.path.join(run, "m1", "checkpoint.pt"))
    assert torch.equal(loaded.model.m1.decoder.logits.weight, m1.model.decoder.logits.weight)

    # reuse the trained M1: no M1 stage, the same M1 weights
    capsys.readouterr()
    reuse = str(tmp_path / "reuse")
    assert main(["train", "--model", "m1m2", "--out", reuse, "--m1", os.path.join(run, "m1"), "--epochs", "1",
                 "--no-baseline", *SMALL]) == 0
    assert not os.path.exists(os.path.join(reuse, "m1"))
    assert "stage 1" not in capsys.readouterr().out
    reused = M1M2.load(os.path.join(reuse, "checkpoint.pt"))
    assert torch.equal(reused.guide.m1_guide.loc.weight, m1.guide.loc.weight)

    # a mismatched M1 is refused before anything is written
    bad = str(tmp_path / "bad")
    args = ["train", "--model", "m1m2", "--out", bad, "--m1", os.path.join(run, "m1"), *SMALL]
    assert main([*args[:-len(SMALL)], *[a if a != "16" else "12" for a in SMALL]]) == 2
    assert "z_dim: M1 has 16, this model 12" in capsys.readouterr().err and not os.path.exists(bad)
    assert main([*args, "--binarize", "static"]) == 2
    assert "trained with --binarize dynamic, this run uses --binarize static" in capsys.readouterr().err
    assert not os.path.exists(bad)
    assert main(["train", "--model", "m1m2", "--out", bad, "--m1", str(tmp_path), *SMALL]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["train", "--model", "m1m2", "--out", bad, "--m1", run, *SMALL]) == 2
    assert "M1 must be a --model vae run" in capsys.readouterr().err


def test_python_and_cli_defaults_agree():
    """M1M2() and `ssvae train --model m1m2` use the same defaults (the ones the README's table was run with)."""
    from ssvae import runs

    stacked, defaults = M1M2(), runs.defaults("m1m2")
    assert stacked.config["lr"] == defaults["lr"] == 3e-3
    assert stacked.stack["m1_hidden"] == defaults["m1_hidden"] == [400]
    assert M2().config["lr"] == runs.defaults("m2")["lr"] == 3e-3
    assert M1M2(lr=1e-3).config["lr"] == 1e-3


def test_m1_run_config_is_the_vae_run_m1m2_trains():
    """The M1 options of an m1m2 config go to the VAE under its names, M2's own ones do not (benchmarks use this)."""
    from ssvae import runs

    config = runs.make_config(model="m1m2", z1_dim=7, m1_hidden=[32], m1_epochs=2, m1_lr=1e-2, m1_batch_size=64,
                              m1_activation="relu", likelihood="cbernoulli", binarize="none", seed=3, epochs=9,
                              hidden=[16], z_dim=4, lr=5e-4, batch_size=100, activation="softplus", download=False)
    m1 = m1_run_config(config)
    assert m1 == dict(model="vae", dataset="fashion-mnist", data_dir=None, train_size=None, binarize="none",
                      download=False, seed=3, device="cpu", z_dim=7, hidden=[32], epochs=2, lr=1e-2, batch_size=64,
                      activation="relu", likelihood="cbernoulli", iwae_k=0)
    assert m1m2_options_of(runs.make_config(**m1)) == dict(z1_dim=7, m1_hidden=[32], m1_epochs=2, m1_lr=1e-2,
                                                           m1_batch_size=64, m1_activation="relu",
                                                           likelihood="cbernoulli")


def test_label_spreading_classifies_codes_cut_off_from_every_label_by_the_nearest_labelled_code():
    pytest.importorskip("sklearn")
    import warnings

    from ssvae.baseline import label_spreading_accuracy

    # two labelled clusters (classes 0 and 1) and, far off, an unlabelled cluster of class 1 nearer to
    # class 1's: its k-NN graph component holds no label, so its codes get no label mass
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [30.0, 0.0]])
    features = centres.repeat_interleave(30, 0) + 0.1 * torch.randn(90, 2, generator=generator)
    y = torch.tensor([0] * 30 + [1] * 60)
    labelled = torch.tensor([0, 1, 2, 30, 31, 32])
    test = torch.tensor([[0.05, 0.0], [10.05, 0.0], [30.0, 0.05], [29.95, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0
        accuracy = label_spreading_accuracy(features, y, labelled, test, torch.tensor([0, 1, 1, 1]), neighbours=5)
    assert accuracy == 1.0  # scikit-learn's own predict calls the cut-off codes class 0: 0.5
