"""``--device cuda``: every model and guide family trains on a GPU, and a GPU run loads on a CPU.

Skipped where torch finds no CUDA GPU (CI never has one); run on a GPU machine with
``make test`` or ``python -m pytest tests/test_cuda.py``.
"""
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ssvae import M2, VAE
from ssvae.cli import main
from ssvae.guides import GUIDES
from ssvae.m1m2 import M1M2
from ssvae.models.softplus import bernoulli_log_prob, softplus

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

OPTIONS = {"lowrank": {"rank": 2}, "iaf": {"flow_steps": 2}, "planar": {"flow_steps": 2},
           "radial": {"flow_steps": 2}, "spline": {"flow_steps": 1}}


def _on_cuda(*modules):
    return all(p.is_cuda for module in modules for p in module.parameters())


def test_softplus_and_bernoulli_log_prob_on_cuda_equal_torch():
    a = (torch.randn(4096, device="cuda") * 20).requires_grad_()
    torch.testing.assert_close(softplus(a), F.softplus(a))
    (grad,) = torch.autograd.grad(softplus(a).sum(), a)
    torch.testing.assert_close(grad, torch.sigmoid(a.detach()))
    x = torch.bernoulli(torch.rand(4096, device="cuda"))
    torch.testing.assert_close(bernoulli_log_prob(a, x), -F.binary_cross_entropy_with_logits(a, x, reduction="none"))


@pytest.mark.parametrize("family", list(GUIDES))
def test_every_vae_family_trains_on_cuda_and_loads_on_cpu(family, binary_batch, tmp_path):
    vae = VAE(z_dim=4, hidden=[32], guide=family, device="cuda", **OPTIONS.get(family, {}))
    assert _on_cuda(vae.model, vae.guide)
    before = vae.evaluate(binary_batch)["elbo"]
    vae.fit(binary_batch, epochs=15, batch_size=32, progress=False)
    metrics = vae.evaluate(binary_batch, iwae_samples=8)
    assert metrics["elbo"] > before and np.isfinite(metrics["log_px"])
    path = str(tmp_path / "vae.pt")
    vae.save(path)
    on_cpu = VAE.load(path, device="cpu")
    assert not any(p.is_cuda for p in on_cpu.guide.parameters())
    torch.testing.assert_close(on_cpu.encode(binary_batch), vae.encode(binary_batch).cpu(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", list(GUIDES))
def test_every_m2_family_under_parallel_enumeration_on_cuda(family, binary_batch, tmp_path):
    x, y = binary_batch, torch.arange(binary_batch.shape[0]) % 10
    m2 = M2(z_dim=4, hidden=[32], classifier_hidden=[32], guide=family, device="cuda", **OPTIONS.get(family, {}))
    m2.fit(x[:20], y[:20], x, epochs=2, batch_size=32, progress=False)
    row = m2.history[-1]
    assert all(np.isfinite(row[k]) for k in ("train_labelled_elbo", "train_unlabelled_elbo"))
    probs, labels = m2.predict(x)
    assert probs.is_cuda and probs.shape == (x.shape[0], 10)
    assert m2.analogies(x[:3]).shape == (3, 10, 784)
    path = str(tmp_path / "m2.pt")
    m2.save(path)
    cpu_probs, cpu_labels = M2.load(path, device="cpu").predict(x)
    torch.testing.assert_close(cpu_probs, probs.cpu(), atol=1e-4, rtol=1e-4)


def test_cli_m1m2_on_cuda_then_predict_and_evaluate_on_cpu(tmp_path, fmnist_small, capsys):
    run = str(tmp_path / "stacked")
    assert main(["train", "--model", "m1m2", "--device", "cuda", "--out", run, "--epochs", "8", "--m1-epochs", "4", "--lr", "3e-3",
                 "--train-size", "1000", "--hidden", "64", "--z-dim", "8", "--z1-dim", "16", "--m1-hidden", "64",
                 "--quiet", "--no-download"]) == 0
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["test_accuracy"] > 0.4  # chance: 0.1
    images = str(tmp_path / "x.npy")
    np.save(images, (fmnist_small.x_test[:20].reshape(20, 28, 28) * 255).to(torch.uint8).numpy())
    on_gpu, on_cpu = str(tmp_path / "gpu.csv"), str(tmp_path / "cpu.csv")
    assert main(["predict", run, images, "--out", on_gpu]) == 0  # the run's device: cuda
    assert main(["predict", run, images, "--out", on_cpu, "--device", "cpu"]) == 0
    a, b = pd.read_csv(on_gpu), pd.read_csv(on_cpu)
    np.testing.assert_allclose(a.filter(like="prob_").to_numpy(), b.filter(like="prob_").to_numpy(), atol=1e-4)
    assert main(["evaluate", run, "--split", "val", "--device", "cpu"]) == 0
    assert "val accuracy" in capsys.readouterr().out
    loaded = M1M2.load(os.path.join(run, "checkpoint.pt"), device="cpu")
    assert not any(p.is_cuda for p in loaded.guide.parameters())
