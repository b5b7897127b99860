import os

import pyro
import pytest
import torch

from ssvae.data import load_dataset
from ssvae.data.datasets import DEBIAN_FASHION_MNIST

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


@pytest.fixture(autouse=True)
def _fresh_pyro():
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    yield


def _need(path, what):
    if not os.path.isdir(path):
        if os.environ.get("CI"):
            pytest.fail(f"{what} missing at {path}; .ci/run should have installed it")
        pytest.skip(f"{what} not available at {path}")


@pytest.fixture(scope="session")
def fmnist_small():
    """Real Fashion-MNIST (Debian package): 2,000 training images, full val/test."""
    _need(DEBIAN_FASHION_MNIST, "Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    return load_dataset("fashion-mnist", download=False, train_size=2000)


@pytest.fixture(scope="session")
def mnist_test_dir():
    """The real MNIST test set (10k digits) beside the checkout."""
    _need(SHARED_MNIST, "the MNIST test set (../shared/data/mnist)")
    return os.path.abspath(SHARED_MNIST)


@pytest.fixture
def binary_batch(fmnist_small):
    torch.manual_seed(1)
    return torch.bernoulli(fmnist_small.x_val[:64])
