"""M2 against the labelled-only baseline on 7,000 real MNIST digits, for several labelled batch sizes.

Only MNIST's test file is on our machines (``../shared/data/mnist``), so this is a
scaled-down protocol (the one of ``tests/test_m2_mnist_slow.py``): its first 7,000
digits are the training set (100 of them labelled, 10 per class, drawn with the
seed), the next 1,000 the validation set, the last 2,000 the test set; dynamic
binarization. The baseline is trained once (seeded), then M2 once per labelled
batch size (seeded, all other options at their defaults). One table (CSV and
markdown) and a last-line JSON:

    python benchmarks/m2_mnist_digits.py --labelled-batch-sizes 100 50 20 10 5 --epochs 30
"""
import argparse
import json
import os
import time

import pandas as pd
import pyro

from common import write_table
from ssvae import M2
from ssvae.baseline import classifier_accuracy, train_baseline
from ssvae.data import ImageData, balanced_labelled_subset, binarize, load_images

MNIST_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


def load_digits(mnist_dir=MNIST_DIR, labels=100, seed=0):
    """``(data, labelled, unlabelled)``: the 7,000 / 1,000 / 2,000 split of MNIST's test file."""
    x, y, shape = load_images(os.path.join(mnist_dir, "t10k-images-idx3-ubyte.gz"),
                              os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz"))
    data = binarize(ImageData("mnist-test-digits", x[:7000], y[:7000], x[7000:8000], y[7000:8000], x[8000:], y[8000:],
                              shape), "dynamic", seed=seed)
    labelled, unlabelled = balanced_labelled_subset(data.y_train, labels, 10, seed=seed)
    return data, labelled, unlabelled


def baseline_accuracy(data, labelled, seed=0):
    """Test accuracy of the labelled-only baseline (early stopped on the validation digits)."""
    net, _ = train_baseline(data.x_train[labelled], data.y_train[labelled], data.x_val, data.y_val,
                            dynamic_binarization=True, seed=seed)
    return classifier_accuracy(net, data.x_test, data.y_test)


def fit_m2(data, labelled, unlabelled, epochs=30, seed=0, labelled_batch_size=None, **options):
    """A trained :class:`~ssvae.M2` (defaults but ``options``) and its history (a DataFrame)."""
    pyro.set_rng_seed(seed)
    m2 = M2(z_dim=50, **options)
    history = m2.fit(data.x_train[labelled], data.y_train[labelled], data.x_train[unlabelled], epochs=epochs,
                     labelled_batch_size=labelled_batch_size, dynamic_binarization=True, x_val=data.x_val,
                     y_val=data.y_val, x_test=data.x_test, y_test=data.y_test, progress=False)
    return m2, pd.DataFrame(history)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", default=MNIST_DIR)
    parser.add_argument("--labelled-batch-sizes", type=int, nargs="+", default=[100, 10])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/m2_mnist_digits")
    args = parser.parse_args()
    data, labelled, unlabelled = load_digits(args.mnist_dir, seed=args.seed)
    baseline = baseline_accuracy(data, labelled, args.seed)
    rows = []
    for size in args.labelled_batch_sizes:
        start = time.perf_counter()
        _, history = fit_m2(data, labelled, unlabelled, args.epochs, args.seed, labelled_batch_size=size)
        best = history.loc[history.val_accuracy.idxmax()]
        rows.append({"labelled batch": size, "best val %": round(100 * best.val_accuracy, 2),
                     "test % at best val": round(100 * best.test_accuracy, 2),
                     "test % last epoch": round(100 * history.test_accuracy.iloc[-1], 2),
                     "baseline test %": round(100 * baseline, 2), "epochs": args.epochs,
                     "minutes": round((time.perf_counter() - start) / 60, 2)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    write_table(table, args.out)
    print(table.to_string(index=False))
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
