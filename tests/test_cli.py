"""The command line end to end on real Fashion-MNIST, checkpoints, resume and bad input."""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

import ssvae.inference.trainer as trainer_module
from ssvae import VAE
from ssvae.cli import main
from ssvae.errors import SsvaeError
from ssvae.inference.checkpoint import atomic_write

SMALL = ["--train-size", "1000", "--hidden", "64", "--batch-size", "100", "--quiet", "--no-download"]


def _history(run):
    return pd.read_csv(os.path.join(run, "history.csv")).drop(columns="seconds")


def test_train_evaluate_sample_end_to_end(tmp_path, fmnist_small, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--out", run, "--epochs", "4", "--z-dim", "10", "--iwae-k", "20", *SMALL]) == 0
    history = _history(run)
    assert list(history.epoch) == [1, 2, 3, 4]
    assert history.val_elbo.iloc[-1] > history.val_elbo.iloc[0] + 10  # it learns
    assert history.train_elbo.iloc[-1] > history.train_elbo.iloc[0]
    assert (history.val_elbo - (history.val_log_lik - history.val_kl)).abs().max() < 1e-3
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["test_log_px"] > metrics["test_elbo"] and metrics["test_iwae_k"] == 20
    trained = VAE.load(os.path.join(run, "checkpoint.pt"))
    assert metrics["guide_parameters"] == sum(p.numel() for p in trained.guide.parameters())  # φ
    assert metrics["model_parameters"] == sum(p.numel() for p in trained.model.parameters())  # θ
    for name in ("config.json", "checkpoint.pt", "reconstructions.png", "samples.png", "learning_curves.png"):
        assert os.path.getsize(os.path.join(run, name)) > 0, name
    assert "test ELBO" in capsys.readouterr().out

    assert main(["evaluate", run, "--split", "val", "--iwae-k", "5", "--quiet"]) == 0
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["val_iwae_k"] == 5 and "test_log_px" in metrics
    assert abs(metrics["val_elbo"] - history.val_elbo.iloc[-1]) < 2.0
    out = str(tmp_path / "s.png")
    assert main(["sample", run, "--num", "16", "--out", out]) == 0
    assert open(out, "rb").read(4) == b"\x89PNG"


@pytest.mark.parametrize("decay", [[], ["--lr-decay", "0.5"]], ids=["constant-lr", "lr-decay"])
def test_resume_continues_the_same_history(tmp_path, fmnist_small, decay):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    common = ["--z-dim", "2", "--iwae-k", "0", *decay, *SMALL]
    assert main(["train", "--out", straight, "--epochs", "3", *common]) == 0
    assert main(["train", "--out", resumed, "--epochs", "1", *common]) == 0
    assert len(_history(resumed)) == 1
    assert main(["train", "--resume", resumed, "--epochs", "3", "--quiet"]) == 0
    pd.testing.assert_frame_equal(_history(straight), _history(resumed), rtol=1e-5)
    assert os.path.exists(os.path.join(resumed, "latent.png"))  # 2-D latent scatter
    assert json.load(open(os.path.join(resumed, "config.json")))["epochs"] == 3
    if decay:  # the decayed rate is in the checkpoint: the resumed run goes on halving it
        assert list(_history(resumed)["lr"]) == pytest.approx([1e-3, 5e-4, 2.5e-4])


def test_checkpoint_round_trip_reproduces_outputs(tmp_path, binary_batch):
    vae = VAE(z_dim=6, hidden=[32])
    vae.fit(binary_batch, epochs=2, batch_size=32, progress=False)
    path = str(tmp_path / "vae.pt")
    vae.save(path)
    loaded = VAE.load(path)
    assert torch.equal(loaded.reconstruct(binary_batch), vae.reconstruct(binary_batch))
    torch.manual_seed(5)
    a = vae.evaluate(binary_batch, iwae_samples=10)
    torch.manual_seed(5)
    b = loaded.evaluate(binary_batch, iwae_samples=10)
    assert a == b and loaded.history == vae.history


def test_bad_cli_input_gets_one_line_errors(tmp_path, fmnist_small, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--likelihood", "poisson"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "decay"), "--lr-decay", "1.5", *SMALL]) == 2
    assert "it must be in (0, 1], got 1.5" in capsys.readouterr().err and not os.path.exists(tmp_path / "decay")

    run = str(tmp_path / "run")
    assert main(["train", "--out", run, "--epochs", "1", "--z-dim", "3", "--iwae-k", "0", *SMALL]) == 0
    capsys.readouterr()
    assert main(["train", "--out", run, "--epochs", "1", *SMALL]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--resume", run, "--z-dim", "5"]) == 2
    assert "--z-dim cannot change with --resume" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "grey"), "--binarize", "none", "--epochs", "1", *SMALL]) == 2
    err = capsys.readouterr().err
    assert "outside the BernoulliDecoder's support" in err and "--binarize" in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "grey")  # refused before anything was written
    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert "a run directory made by 'ssvae train'" in capsys.readouterr().err

    with open(os.path.join(run, "checkpoint.pt"), "wb") as f:
        f.write(b"not a checkpoint")
    assert main(["evaluate", run]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


def test_bad_python_input_gets_clear_errors(binary_batch, tmp_path):
    vae = VAE(z_dim=3, hidden=[16])
    with pytest.raises(SsvaeError, match=r"shape \(64, 28, 28\).*expects \(N, 784\)"):
        vae.fit(binary_batch.reshape(64, 28, 28), epochs=1)
    with pytest.raises(SsvaeError, match="NaN"):
        vae.fit(torch.where(binary_batch > 0, float("nan"), 0.0), epochs=1)
    with pytest.raises(SsvaeError, match="floating-point"):
        vae.fit(binary_batch.long(), epochs=1)
    with pytest.raises(SsvaeError, match="support"):
        vae.fit(binary_batch * 0.5, epochs=1)
    with pytest.raises(SsvaeError, match="unknown likelihood"):
        VAE(likelihood="poisson")
    with pytest.raises(SsvaeError, match="no closed-form KL"):
        from ssvae.guides import AmortizedGuide
        from ssvae.inference import make_elbo
        make_elbo("meanfield", guide=AmortizedGuide(784, 2))
    path = str(tmp_path / "small.pt")
    vae.save(path)
    other = VAE(z_dim=5, hidden=[16])
    with pytest.raises(SsvaeError, match="does not match this model"):
        other.load_state_dict(torch.load(path, weights_only=True), path)
    state = torch.load(path, weights_only=True)
    state["kind"] = "m2"
    with pytest.raises(SsvaeError, match="holds a 'm2' model"):
        vae.load_state_dict(state, path)
    if not torch.cuda.is_available():
        with pytest.raises(SsvaeError, match="no CUDA GPU"):
            VAE(device="cuda")


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path, fmnist_small, monkeypatch, capsys):
    real_make_elbo = trainer_module.make_elbo
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        elbo_module_factory = real_make_elbo(*args, **kwargs)

        def build(model, guide):
            module = elbo_module_factory(model, guide)

            def loss(*a, **k):
                calls["n"] += 1
                value = module(*a, **k)
                return value * float("nan") if calls["n"] > 15 else value  # 10 steps per epoch
            return loss
        return build

    monkeypatch.setattr(trainer_module, "make_elbo", poisoned)
    run = str(tmp_path / "run")
    assert main(["train", "--out", run, "--epochs", "3", "--iwae-k", "0", *SMALL]) == 2
    err = capsys.readouterr().err
    assert "loss became nan at epoch 2, step 6" in err and "last good checkpoint (epoch 1)" in err
    assert len(_history(run)) == 1
    state = torch.load(os.path.join(run, "checkpoint.pt"), weights_only=True)
    assert len(state["history"]) == 1 and state["epoch"] == 1


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / "f.bin")
    atomic_write(path, lambda f: f.write(b"good"))

    def broken(f):
        f.write(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert open(path, "rb").read() == b"good" and os.listdir(tmp_path) == ["f.bin"]


def test_python_dash_m_and_help_explain_every_flag():
    out = subprocess.run([sys.executable, "-m", "ssvae", "train", "--help"], capture_output=True, text=True, check=True)
    for flag in ("--likelihood", "--binarize", "--elbo", "--num-particles", "--clip-norm", "--resume", "--iwae-k"):
        assert flag in out.stdout
