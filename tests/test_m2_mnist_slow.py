"""M2 against the labelled-only baseline on real MNIST digits (slow: run by `make test-all`).

Only the MNIST test file exists here (../shared/data/mnist), so the protocol is
scaled down: its first 7,000 digits are the training set (100 of them labelled,
10 per class), the next 1,000 the validation set, the last 2,000 the test set.
"""
import os

import pyro
import pytest

from ssvae import M2
from ssvae.baseline import classifier_accuracy, train_baseline
from ssvae.data import ImageData, balanced_labelled_subset, binarize, load_images


@pytest.mark.slow
@pytest.mark.xfail(reason="with 30 epochs M2 scored 80.2% against the baseline's 81.9% here (issue 3): "
                          "M2's training still needs tuning", strict=False)
def test_m2_beats_the_labelled_only_baseline_on_real_mnist_digits(mnist_test_dir):
    x, y, shape = load_images(os.path.join(mnist_test_dir, "t10k-images-idx3-ubyte.gz"),
                              os.path.join(mnist_test_dir, "t10k-labels-idx1-ubyte.gz"))
    data = binarize(ImageData("mnist-test-digits", x[:7000], y[:7000], x[7000:8000], y[7000:8000], x[8000:], y[8000:],
                              shape), "dynamic", seed=0)
    labelled, unlabelled = balanced_labelled_subset(data.y_train, 100, 10, seed=0)
    pyro.set_rng_seed(0)
    m2 = M2(z_dim=50)
    m2.fit(data.x_train[labelled], data.y_train[labelled], data.x_train[unlabelled], epochs=EPOCHS,
           dynamic_binarization=True, x_val=data.x_val, y_val=data.y_val, progress=False)
    m2_accuracy = m2.accuracy(data.x_test, data.y_test)
    net, _ = train_baseline(data.x_train[labelled], data.y_train[labelled], data.x_val, data.y_val,
                            dynamic_binarization=True)
    baseline_accuracy = classifier_accuracy(net, data.x_test, data.y_test)
    print(f"M2 {m2_accuracy:.3f} vs baseline {baseline_accuracy:.3f} on 2,000 real MNIST test digits")
    assert m2_accuracy > baseline_accuracy + 0.02


EPOCHS = 30
