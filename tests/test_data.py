"""Loading idx files, splits, binarization and clear errors for missing data."""
import gzip
import hashlib
import os
import struct

import pytest
import torch

from ssvae.data import binarize, load_dataset, load_images, minibatches, read_idx
from ssvae.errors import SsvaeError


def _write_idx(path, tensor):
    codes = {torch.uint8: 0x08}
    header = bytes([0, 0, codes[tensor.dtype], tensor.dim()]) + struct.pack(">" + "i" * tensor.dim(), *tensor.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + tensor.numpy().tobytes())


def _fake_dataset(directory, n_train=30, n_test=10, side=4):
    torch.manual_seed(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"),
                   torch.randint(0, 256, (n, side, side), dtype=torch.uint8))
        _write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte"),
                   (torch.arange(n) % 10).to(torch.uint8))


def test_idx_round_trip_plain_and_gzip(tmp_path):
    data = torch.randint(0, 256, (5, 3, 2), dtype=torch.uint8)
    for name in ("a-idx3-ubyte", "b-idx3-ubyte.gz"):
        _write_idx(str(tmp_path / name), data)
        assert torch.equal(read_idx(str(tmp_path / name)), data)


def test_corrupt_idx_files_get_clear_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"hello world")
    with pytest.raises(SsvaeError, match="not an idx file"):
        read_idx(str(tmp_path / "bad"))
    _write_idx(str(tmp_path / "short"), torch.zeros(4, 2, 2, dtype=torch.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(SsvaeError, match="truncated"):
        read_idx(str(tmp_path / "short"))


def test_user_directory_of_idx_files_and_splits(tmp_path):
    _fake_dataset(str(tmp_path))
    data = load_dataset("mnist", data_dir=str(tmp_path), download=False, val_size=10)
    assert data.x_train.shape == (20, 16) and data.x_val.shape == (10, 16) and data.x_test.shape == (10, 16)
    assert data.x_train.dtype == torch.float32 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert data.image_shape == (4, 4)
    small = load_dataset("mnist", data_dir=str(tmp_path), download=False, val_size=10, train_size=5)
    assert torch.equal(small.x_train, data.x_train[:5]) and torch.equal(small.x_val, data.x_val)
    with pytest.raises(SsvaeError, match="--train-size 21"):
        load_dataset("mnist", data_dir=str(tmp_path), download=False, val_size=10, train_size=21)


def test_real_mnist_test_digits_load_and_missing_train_files_are_explained(mnist_test_dir):
    images = os.path.join(mnist_test_dir, "t10k-images-idx3-ubyte.gz")
    with open(images, "rb") as f:
        assert hashlib.md5(f.read()).hexdigest() == "9fb629c4189551a2d022fa330f9573f3"
    x, y, shape = load_images(images, os.path.join(mnist_test_dir, "t10k-labels-idx1-ubyte.gz"))
    assert x.shape == (10000, 784) and shape == (28, 28) and torch.bincount(y).tolist()[0] == 980
    with pytest.raises(SsvaeError, match=r"train-images-idx3-ubyte missing .*--data-dir"):
        load_dataset("mnist", data_dir=mnist_test_dir, download=False)


def test_missing_data_without_download_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SSVAE_DATA", str(tmp_path))
    with pytest.raises(SsvaeError, match="downloads itself"):
        load_dataset("mnist", download=False)
    with pytest.raises(SsvaeError, match="not a directory"):
        load_dataset("mnist", data_dir=str(tmp_path / "nope"))
    with pytest.raises(SsvaeError, match="unknown dataset"):
        load_dataset("cifar")


def test_fashion_mnist_full_split_sizes(fmnist_small):
    full = load_dataset("fashion-mnist", download=False)
    assert (full.x_train.shape[0], full.x_val.shape[0], full.x_test.shape[0]) == (50000, 10000, 10000)
    assert full.num_classes == 10 and torch.equal(full.x_val, fmnist_small.x_val)


def test_binarization_modes(fmnist_small):
    static_a, static_b = binarize(fmnist_small, "static", seed=1), binarize(fmnist_small, "static", seed=1)
    assert torch.equal(static_a.x_train, static_b.x_train)
    assert set(static_a.x_train.unique().tolist()) == {0.0, 1.0}
    dynamic = binarize(fmnist_small, "dynamic", seed=1)
    assert torch.equal(dynamic.x_train, fmnist_small.x_train)  # drawn per minibatch
    assert torch.equal(dynamic.x_test, static_a.x_test) and set(dynamic.x_val.unique().tolist()) == {0.0, 1.0}
    assert binarize(fmnist_small, "none") is fmnist_small
    with pytest.raises(SsvaeError, match="unknown binarization"):
        binarize(fmnist_small, "sometimes")


def test_minibatches_cover_every_item_once():
    batches = minibatches(103, 10)
    assert len(batches) == 11 and sorted(torch.cat(batches).tolist()) == list(range(103))
