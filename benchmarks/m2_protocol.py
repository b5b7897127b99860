"""The semi-supervised protocol: M2 and the labelled-only baseline for several N and seeds.

For each number of labels N and each seed, trains ``ssvae train --model m2``
(balanced labelled subset drawn with the seed; validation 10k for model
selection; test 10k) and the baseline classifier, then writes one table —
mean ± std test accuracy of M2 (at the epoch of best validation accuracy, i.e.
``best.pt``) and of the baseline, epochs and wall time — as CSV and markdown.

    python benchmarks/m2_protocol.py --dataset fashion-mnist --labels 100 600 1000 3000 --seeds 0 1 2 --epochs 50

Run directories go under ``--runs`` (default ``results/m2-protocol``); the
table goes to ``--out`` (default ``benchmarks/results/m2_protocol_<dataset>``).
"""
import argparse
import os
import time

import pandas as pd

from common import markdown
from ssvae import runs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 600, 1000, 3000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--alpha-per-image", type=float)
    parser.add_argument("--runs", default="results/m2-protocol")
    parser.add_argument("--out")
    args = parser.parse_args()
    out = args.out or f"benchmarks/results/m2_protocol_{args.dataset}"
    rows = []
    for n in args.labels:
        for seed in args.seeds:
            run = os.path.join(args.runs, f"{args.dataset}-n{n}-s{seed}")
            start = time.perf_counter()
            if os.path.exists(os.path.join(run, "metrics.json")):
                print(f"reusing {run}")
            else:
                runs.train(run, dict(model="m2", dataset=args.dataset, data_dir=args.data_dir, labels=n, seed=seed,
                                     epochs=args.epochs, train_size=args.train_size,
                                     alpha_per_image=args.alpha_per_image, download=False), progress=False,
                           log=lambda *_: None)
            metrics = runs.load_json(os.path.join(run, "metrics.json"))
            history = pd.read_csv(os.path.join(run, "history.csv"))
            best = history.loc[history.val_accuracy.idxmax()]
            rows.append({"labels": n, "seed": seed, "m2_test_accuracy": float(best.test_accuracy),
                         "m2_best_epoch": int(best.epoch), "m2_last_test_accuracy": metrics["test_accuracy"],
                         "baseline_test_accuracy": metrics["baseline_test_accuracy"], "epochs": int(metrics["epochs"]),
                         "train_minutes": round(metrics["train_seconds"] / 60, 1),
                         "wall_minutes": round((time.perf_counter() - start) / 60, 1)})
            print(rows[-1], flush=True)
    per_run = pd.DataFrame(rows)
    summary = per_run.groupby("labels").agg(
        m2_mean=("m2_test_accuracy", "mean"), m2_std=("m2_test_accuracy", "std"),
        baseline_mean=("baseline_test_accuracy", "mean"), baseline_std=("baseline_test_accuracy", "std"),
        seeds=("seed", "count"), epochs=("epochs", "max"), train_minutes=("train_minutes", "mean")).reset_index()
    table = pd.DataFrame({
        "N labels": summary["labels"],
        "M2 test accuracy %": [f"{100 * m:.2f} ± {100 * (s if s == s else 0):.2f}" for m, s in
                               zip(summary.m2_mean, summary.m2_std)],
        "baseline test accuracy %": [f"{100 * m:.2f} ± {100 * (s if s == s else 0):.2f}" for m, s in
                                     zip(summary.baseline_mean, summary.baseline_std)],
        "seeds": summary.seeds, "epochs": summary.epochs, "minutes per M2 run": summary.train_minutes.round(1)})
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    per_run.to_csv(out + "_runs.csv", index=False)
    table.to_csv(out + ".csv", index=False)
    with open(out + ".md", "w") as f:
        f.write(markdown(table))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
