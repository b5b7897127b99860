"""M2 against the labelled-only baseline on real MNIST digits (slow: run by `make test-all`).

Only the MNIST test file exists here (../shared/data/mnist), so the protocol is
scaled down (``benchmarks/m2_mnist_digits.py``, which also compares labelled batch
sizes): its first 7,000 digits are the training set (100 of them labelled, 10 per
class), the next 1,000 the validation set, the last 2,000 the test set.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from m2_mnist_digits import baseline_accuracy, fit_m2, load_digits  # noqa: E402


@pytest.mark.slow
def test_m2_beats_the_labelled_only_baseline_on_real_mnist_digits(mnist_test_dir):
    data, labelled, unlabelled = load_digits(mnist_test_dir)
    baseline = baseline_accuracy(data, labelled)
    m2, _ = fit_m2(data, labelled, unlabelled, epochs=30)  # every option at its default
    m2_accuracy = m2.accuracy(data.x_test, data.y_test)  # the last epoch's classifier
    print(f"M2 {m2_accuracy:.3f} vs baseline {baseline:.3f} on 2,000 real MNIST test digits")
    assert m2_accuracy > baseline + 0.02
