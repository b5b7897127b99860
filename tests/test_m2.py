"""M2: enumeration, the objective's terms, the classifier, predictions, pictures and bad input."""
import os

import numpy as np
import pandas as pd
import pyro
import pyro.distributions as dist
import pytest
import torch
import torch.nn as nn

from ssvae import M2, VAE, AmortizedGuide, M2Guide, M2Model, SemiSupervisedELBO
from ssvae.cli import main
from ssvae.data import balanced_labelled_subset
from ssvae.errors import SsvaeError

K, Z = 10, 4


class PointMass(AmortizedGuide):
    """q(z|x,y) = δ(z - μ(x,y)): deterministic, so the ELBO can be written out exactly."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loc = nn.Linear(self.feature_dim, self.z_dim)

    def build_posterior(self, h):
        return dist.Delta(self.loc(h), event_dim=1)


def _pair(family=PointMass):
    model = M2Model(784, Z, K, hidden=(32,))
    guide = M2Guide(784, Z, K, hidden=(32,), classifier_hidden=(32,), family=family)
    return model, guide


def _labelled_elbo_by_hand(model, guide, x, y):
    z = guide.z_guide.posterior(x, y).mean
    return (model.decode(z, y).log_prob(x) + dist.Categorical(model.class_probs).log_prob(y)
            + model.prior().log_prob(z))


@pytest.mark.parametrize("hidden", [(32,), ()])
def test_decode_is_the_decoder_on_z_concatenated_with_onehot_y(binary_batch, hidden):
    """The first-layer lookup of the class part equals the decoder run on ``[z, onehot(y)]``."""
    model = M2Model(784, Z, K, hidden=hidden)
    x = binary_batch[:6]
    for z, y in ((torch.randn(6, Z), torch.arange(6) % K),                # labelled: one class per image
                 (torch.randn(K, 6, Z), torch.arange(K).unsqueeze(-1))):  # enumerated: (K, 1) against (K, 6)
        onehot = nn.functional.one_hot(y, K).float().expand(*z.shape[:-1], K)
        expected = model.decoder(torch.cat([z, onehot], -1))
        got = model.decode(z, y)
        assert got.batch_shape == expected.batch_shape == z.shape[:-1]
        assert torch.allclose(got.log_prob(x), expected.log_prob(x), atol=1e-4)


def test_enumerated_elbo_is_the_explicit_sum_over_classes(binary_batch):
    model, guide = _pair()
    x = binary_batch[:8]
    probs = guide.predict_proba(x)
    by_hand = torch.stack([_labelled_elbo_by_hand(model, guide, x, torch.full((8,), k)) for k in range(K)], -1)
    expected = (probs * by_hand).sum(-1) + dist.Categorical(probs).entropy()
    for enumerate_ in ("parallel", "sequential"):
        objective = SemiSupervisedELBO(model, guide, alpha=0.0, enumerate=enumerate_)
        objective(x[:2], torch.tensor([0, 1]), x)
        assert objective.last_terms["unlabelled_elbo"] == pytest.approx(expected.mean().item(), rel=1e-5)


def test_labelled_elbo_equals_the_vae_elbo_with_y_fixed(binary_batch):
    model, guide = _pair()
    x, y = binary_batch[:8], torch.arange(8) % K
    objective = SemiSupervisedELBO(model, guide, alpha=0.0)
    objective(x, y, x)
    by_hand = _labelled_elbo_by_hand(model, guide, x, y).mean().item()
    assert objective.last_terms["labelled_elbo"] == pytest.approx(by_hand, rel=1e-5)


def test_diagonal_family_labelled_term_uses_the_closed_form_kl(binary_batch):
    model, guide = _pair("diagonal")
    x, y = binary_batch[:16], torch.arange(16) % K
    objective = SemiSupervisedELBO(model, guide, alpha=0.0)
    assert type(objective.labelled_elbo).__name__ == "TraceMeanField_ELBO"
    q = guide.z_guide.posterior(x, y)
    kl = torch.distributions.kl_divergence(q, model.prior()).mean()
    values = []
    for _ in range(400):
        objective(x, y, x[:2])
        values.append(objective.last_terms["labelled_elbo"])
    z = q.sample((2000,))
    log_lik = (model.decode(z, y).log_prob(x) + dist.Categorical(model.class_probs).log_prob(y)).mean()
    assert np.mean(values) == pytest.approx((log_lik - kl).item(), rel=5e-3)


def test_classification_gradient_reaches_only_the_classifier(binary_batch):
    model, guide = _pair("diagonal")
    x, y = binary_batch[:8], torch.arange(8) % K
    grads = []
    for alpha in (0.0, 50.0):
        for p in list(model.parameters()) + list(guide.parameters()):
            p.grad = None
        pyro.set_rng_seed(0)
        SemiSupervisedELBO(model, guide, alpha=alpha)(x, y, x).backward()
        grads.append({name: p.grad.clone() for name, p in list(model.named_parameters(prefix="model"))
                      + list(guide.named_parameters(prefix="guide"))})
    for name in grads[0]:
        diff = (grads[1][name] - grads[0][name]).abs().max().item()
        if name.startswith("guide.classifier"):
            assert diff > 0, name
        else:
            assert diff < 1e-4, name


def test_sampled_y_uses_the_score_function_elbo(binary_batch):
    model, guide = _pair("diagonal")
    objective = SemiSupervisedELBO(model, guide, alpha=1.0, enumerate="sample")
    loss = objective(binary_batch[:4], torch.arange(4), binary_batch)
    loss.backward()
    assert torch.isfinite(loss) and guide.classifier.logits.weight.grad.abs().sum() > 0
    with pytest.raises(SsvaeError, match="unknown enumeration"):
        SemiSupervisedELBO(model, guide, alpha=1.0, enumerate="exhaustive")


def test_predictions_do_not_depend_on_batch_size(binary_batch):
    m2 = M2(z_dim=Z, hidden=[32], classifier_hidden=[32])
    p1, l1 = m2.predict(binary_batch, batch_size=7)
    p2, l2 = m2.predict(binary_batch, batch_size=1000)
    assert torch.allclose(p1, p2, atol=1e-6) and torch.equal(l1, l2)
    assert torch.allclose(p1.sum(-1), torch.ones(64))


def test_analogies_keep_z_and_change_y(binary_batch):
    m2 = M2(z_dim=Z, hidden=[32], classifier_hidden=[32])
    x = binary_batch[:3]
    grid = m2.analogies(x)
    assert grid.shape == (3, K, 784)
    z = m2.guide.z_guide.posterior(x, m2.predict(x)[1]).mean
    for k in range(K):
        assert torch.allclose(grid[:, k], m2.model.decode(z, torch.full((3,), k)).mean, atol=1e-6)
    assert (grid[:, 0] - grid[:, 1]).abs().max() > 0


def test_labelled_batch_size_defaults_to_a_tenth_of_the_labels_up_to_100(binary_batch, monkeypatch):
    from ssvae import runs

    for model, expected in (("m2", [1, 10, 60, 100, 100]), ("m1m2", [100] * 5)):  # M1+M2: 100 at every N
        sizes = [runs.make_config(model=model, labels=n)["labelled_batch_size"] for n in (5, 100, 600, 1000, 3000)]
        assert sizes == expected
        assert runs.make_config(model=model, labels=100, labelled_batch_size=30)["labelled_batch_size"] == 30
    seen = []
    m2 = M2(z_dim=Z, hidden=[32], classifier_hidden=[32])
    forward = m2.objective.forward
    monkeypatch.setattr(m2.objective, "forward", lambda x_l, *args, **kw: seen.append(x_l.shape[0]) or
                        forward(x_l, *args, **kw))
    y = torch.arange(40) % K
    m2.fit(binary_batch[:40], y, binary_batch[40:], epochs=1, batch_size=8, progress=False)
    assert seen == [4, 4, 4]  # 40 labels: 4 per step, as many steps as unlabelled batches


def test_lr_decay_lowers_the_rates_of_model_and_guide_each_epoch_and_survives_a_checkpoint(binary_batch, tmp_path):
    m2 = M2(z_dim=Z, hidden=[32], classifier_hidden=[32], lr=1e-2, guide_lr=4e-2, lr_decay=0.5)
    y = torch.arange(40) % K
    m2.fit(binary_batch[:40], y, binary_batch[40:], epochs=2, batch_size=8, progress=False)
    assert [row["lr"] for row in m2.history] == pytest.approx([1e-2, 5e-3])
    assert [g["lr"] for g in m2.trainer.optimizer.param_groups] == pytest.approx([2.5e-3, 1e-2])  # θ, φ
    m2.save(str(tmp_path / "m2.pt"))
    loaded = M2.load(str(tmp_path / "m2.pt"))
    assert loaded.config["lr_decay"] == 0.5
    assert [g["lr"] for g in loaded.trainer.optimizer.param_groups] == pytest.approx([2.5e-3, 1e-2])
    with pytest.raises(SsvaeError, match=r"must be in \(0, 1\], got 0"):
        M2(z_dim=Z, hidden=[32], lr_decay=0)


def test_seeded_baseline_depends_on_its_seed_alone_and_leaves_the_global_rng_alone(binary_batch):
    from ssvae.baseline import train_baseline

    x, y = binary_batch[:40], torch.arange(40) % K

    def weights(seed, before):
        torch.manual_seed(before)  # as if some other model had trained first
        state = torch.get_rng_state()
        net, info = train_baseline(x, y, binary_batch[40:], torch.arange(24) % K, K, [16], max_epochs=3,
                                   dynamic_binarization=True, seed=seed)
        assert torch.equal(torch.get_rng_state(), state)
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(weights(seed=0, before=1), weights(seed=0, before=2))
    assert not torch.equal(weights(seed=0, before=1), weights(seed=1, before=1))


def test_balanced_labelled_subsets(fmnist_small):
    y = fmnist_small.y_train
    labelled, unlabelled = balanced_labelled_subset(y, 100, 10, seed=3)
    assert torch.bincount(y[labelled], minlength=10).tolist() == [10] * 10
    assert len(set(labelled.tolist()) | set(unlabelled.tolist())) == y.shape[0] and len(labelled) == 100
    assert torch.equal(labelled, balanced_labelled_subset(y, 100, 10, seed=3)[0])
    assert not torch.equal(labelled, balanced_labelled_subset(y, 100, 10, seed=4)[0])
    with pytest.raises(SsvaeError, match="multiple of 10"):
        balanced_labelled_subset(y, 105, 10)
    with pytest.raises(SsvaeError, match="leave no unlabelled"):
        balanced_labelled_subset(y, 2000, 10)
    with pytest.raises(SsvaeError, match="fewer than the"):
        balanced_labelled_subset(y, 1990, 10)


def test_bad_m2_input(binary_batch, tmp_path):
    m2 = M2(z_dim=Z, hidden=[32], classifier_hidden=[32])
    x = binary_batch
    with pytest.raises(SsvaeError, match=r"labels must lie in 0..9"):
        m2.fit(x[:4], torch.tensor([0, 1, 2, 10]), x, epochs=1, progress=False)
    with pytest.raises(SsvaeError, match="integer tensor"):
        m2.fit(x[:4], torch.zeros(4), x, epochs=1, progress=False)
    with pytest.raises(SsvaeError, match="0 labelled"):
        m2.fit(x[:0], torch.zeros(0, dtype=torch.long), x, epochs=1, progress=False)
    with pytest.raises(SsvaeError, match="0 unlabelled"):
        m2.fit(x[:4], torch.arange(4), x[:0], epochs=1, progress=False)
    with pytest.raises(SsvaeError, match=r"expects \(N, 784\)"):
        m2.fit(x[:4], torch.arange(4), x.reshape(64, 28, 28), epochs=1, progress=False)
    with pytest.raises(SsvaeError, match=r"expects \(N, 784\)"):
        m2.predict(x[:, :100])
    vae_path = str(tmp_path / "vae.pt")
    VAE(z_dim=2, hidden=[8]).save(vae_path)
    with pytest.raises(SsvaeError, match="holds a 'vae' model, not 'm2'"):
        M2.load(vae_path)


def test_m2_run_end_to_end_beats_chance(tmp_path, fmnist_small, capsys):
    run = str(tmp_path / "m2")
    args = ["train", "--model", "m2", "--out", run, "--train-size", "3000", "--labels", "100", "--epochs", "3",
            "--hidden", "64", "--classifier-hidden", "64", "--z-dim", "8", "--lr", "1e-3", "--quiet", "--no-download"]
    assert main(args) == 0
    history = pd.read_csv(os.path.join(run, "history.csv"))
    for column in ("train_labelled_elbo", "train_unlabelled_elbo", "train_classification_loss", "val_accuracy",
                   "test_accuracy"):
        assert column in history
    metrics = pd.read_json(os.path.join(run, "metrics.json"), typ="series")
    assert metrics["test_accuracy"] > 0.4 and 0 < metrics["baseline_test_accuracy"] <= 1
    assert "test accuracy" in capsys.readouterr().out
    labelled = pd.read_csv(os.path.join(run, "labelled.csv"))
    assert len(labelled) == 100 and labelled.label.value_counts().tolist() == [10] * 10
    confusion = pd.read_csv(os.path.join(run, "confusion.csv"))
    assert confusion.drop(columns="class").to_numpy().sum() == 10000
    for name in ("best.pt", "analogies.png", "samples.png", "latent.png", "confusion.png", "learning_curves.png"):
        assert os.path.getsize(os.path.join(run, name)) > 0, name

    images = str(tmp_path / "x.npy")
    np.save(images, (fmnist_small.x_test[:20].reshape(20, 28, 28) * 255).to(torch.uint8).numpy())
    out = str(tmp_path / "pred.csv")
    assert main(["predict", run, images, "--out", out]) == 0
    predictions = pd.read_csv(out)
    assert len(predictions) == 20 and np.allclose(predictions.filter(like="prob_").sum(axis=1), 1, atol=1e-4)
    assert main(["evaluate", run, "--split", "val"]) == 0
    assert "val accuracy" in capsys.readouterr().out
    assert main(["evaluate", run, "--iwae-k", "10"]) == 2
    assert main(["train", "--model", "vae", "--labels", "100", "--out", str(tmp_path / "x")]) == 2
    assert "--labels do(es) not apply to --model vae" in capsys.readouterr().err
    assert main(["train", "--model", "m2", "--labels", "105", "--out", str(tmp_path / "y"), "--train-size", "3000",
                 "--quiet", "--no-download"]) == 2
    assert "multiple of 10" in capsys.readouterr().err and not os.path.exists(tmp_path / "y")
    bad = str(tmp_path / "bad.npy")
    np.save(bad, np.zeros((3, 10, 10), dtype=np.uint8))
    assert main(["predict", run, bad]) == 2
    assert "takes 784 pixels" in capsys.readouterr().err
