"""How much class information M1's codes keep: one classifier trained with every label, on codes and on pixels.

M1+M2 classifies M1's codes z1 instead of pixels. If the codes lost class
information, no amount of labels could make up for it. This trains M2's classifier
network (50-500-10 or 784-500-10, softplus, Adam) on all training labels, once on
E[z1|x] of a trained M1 and once on the pixels (dynamically binarized if M1 was trained
so, its grey levels if M1 was trained on them), early stopped on validation, and writes
test accuracy of both (CSV, markdown, last-line JSON):

    python benchmarks/m1_codes_vs_pixels.py --m1 results/m2-protocol/fashion-mnist-m1-s0
"""
import argparse
import json
import os
import time

import pandas as pd
import torch

from common import write_table
from ssvae import runs
from ssvae.baseline import classifier_accuracy, train_baseline


@torch.no_grad()
def code_means(vae, x, batch_size=5000):
    """E[z1|x] for every row of ``x``."""
    return torch.cat([vae.guide.posterior_mean(batch) for batch in x.split(batch_size)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--m1", required=True, metavar="RUN_DIR", help="a VAE run (ssvae train --model vae)")
    parser.add_argument("--data-dir")
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/m1_codes_vs_pixels")
    args = parser.parse_args()
    m1, config = runs.load_run(args.m1)
    data = runs.load_data(config, data_dir=args.data_dir)  # binarized as M1 was trained
    binary_draws = config["binarize"] == "dynamic"  # then codes and pixels are of binary draws, as M1 saw
    x_coded = data.x_train
    if binary_draws:
        x_coded = torch.bernoulli(x_coded, generator=torch.Generator().manual_seed(args.seed))
    inputs = {"M1 codes (means of q(z1|x))":
              (code_means(m1, x_coded), code_means(m1, data.x_val), code_means(m1, data.x_test), False),
              "pixels": (data.x_train, data.x_val, data.x_test, binary_draws)}
    rows = []
    for name, (x_train, x_val, x_test, dynamic) in inputs.items():
        start = time.perf_counter()
        net, info = train_baseline(x_train, data.y_train, x_val, data.y_val, 10, (500,), "softplus", args.lr,
                                   batch_size=500, max_epochs=args.max_epochs, patience=args.patience,
                                   dynamic_binarization=dynamic, seed=args.seed)
        rows.append({"classifier input": name, "labels": int(data.y_train.shape[0]),
                     "test %": round(100 * classifier_accuracy(net, x_test, data.y_test), 2),
                     "best val %": round(100 * info["val_accuracy"], 2), "best epoch": info["best_epoch"],
                     "minutes": round((time.perf_counter() - start) / 60, 2)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    write_table(table, args.out, f"M1: {os.path.normpath(args.m1)}; MLP 500 softplus, Adam {args.lr}, "
                                 f"batch 500, seed {args.seed}\n\n")
    print(table.to_string(index=False))
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
