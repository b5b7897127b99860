"""M1+M2 variants at one N and seed: which change to M2 on M1's codes (or to M1) moves its accuracy.

Each variant is ``ssvae train --model m1m2`` with the variant's options added to the
common ones: M1 from ``--m1`` (whose dataset, binarization and decoder every run shares),
or for a variant with another code size an M1 trained here with ``--m1``'s options but z.
Model selection by validation accuracy, as in ``m2_protocol.py``. ``--reference RUN ...``
adds rows read from finished runs (e.g. the protocol's M2 run at the same N and seed)
without training anything. The table (best
validation accuracy, test accuracy at that epoch, the last epoch's classification loss,
training minutes) goes to ``--out`` as CSV and markdown, and a JSON line ends the output.

    python benchmarks/m1m2_variants.py --m1 results/m2-protocol-grey/fashion-mnist-m1-s1 \\
        --labels 3000 --seed 1 --epochs 30 --runs results/exp \\
        --reference results/m2-protocol-grey/fashion-mnist-m2-n3000-s1 results/m2-protocol-grey/fashion-mnist-m1m2-n3000-s1

Finished runs with the same options are reused (``common.train_or_reuse``).
"""
import argparse
import json
import os

import pandas as pd

from common import best_and_last_epoch, train_or_reuse, write_table
from ssvae import runs
from ssvae.m1m2 import m1_run_config, m1m2_options_of

#: name -> options added to the common ones (the default M1+M2 first)
VARIANTS = {
    "default": {},
    "mean": {"features": "mean"},
    "cls1000x2": {"classifier_hidden": [1000, 1000]},
    "a1": {"alpha_per_image": 1.0},
    "a50": {"alpha_per_image": 50.0},
    "z10": {"z_dim": 10},
    "z20": {"z_dim": 20},
    "z1_100": {"z1_dim": 100},
    "lrd0.9": {"lr_decay": 0.9},
    "lrd0.8": {"lr_decay": 0.8},
}


def table_row(name, flags, run, metrics):
    best, last = best_and_last_epoch(run)
    return {"variant": name, "options": flags, "best val %": round(100 * float(best.val_accuracy), 2),
            "test % at best val": round(100 * float(best.test_accuracy), 2), "best epoch": int(best.epoch),
            "epochs": int(metrics["epochs"]),
            "last classification loss": round(float(last.train_classification_loss), 3),
            "train min": round(metrics["train_seconds"] / 60, 1)}


def flags_of(options):
    """``ssvae train`` flags of a variant's options, e.g. ``--classifier-hidden 1000 1000``."""
    def value(v):
        return " ".join(map(str, v)) if isinstance(v, list) else str(v)
    return " ".join(f"--{k.replace('_', '-')} {value(v)}" for k, v in options.items()) or "(defaults)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--m1", required=True,
                        help="the trained M1 run of the variants; its dataset, images and M1 options hold for all")
    parser.add_argument("--labels", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--reference", nargs="*", default=[], metavar="RUN", help="finished runs to list as they are")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--runs", default="results/m1m2-variants")
    parser.add_argument("--out")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.m1, "config.json")):
        parser.error(f"--m1 {args.m1}: no trained run there (config.json missing); train one with "
                     "'ssvae train --model vae' or run benchmarks/m2_protocol.py first")
    m1_config = runs.load_json(os.path.join(args.m1, "config.json"))
    data = {k: m1_config[k] for k in ("dataset", "data_dir", "train_size", "binarize")}
    out = args.out or f"benchmarks/results/m1m2_variants_{data['dataset']}_n{args.labels}_s{args.seed}"
    stack = m1m2_options_of(m1_config)  # the M1 options of an m1m2 run whose M1 is --m1
    common = dict(data, **stack, download=False, device=args.device, model="m1m2", labels=args.labels,
                  seed=args.seed, epochs=args.epochs, baseline=False)
    rows = []
    for name in args.variants:
        options = dict(common, **VARIANTS[name])
        m1 = args.m1
        if options.get("z1_dim", m1_config["z_dim"]) != m1_config["z_dim"]:
            # an M1 of another code size: --m1's options but z_dim, trained (or reused) beside the variants
            m1 = os.path.join(args.runs, f"m1-z{options['z1_dim']}")
            train_or_reuse(m1, m1_run_config(runs.make_config(**options)))
        run = os.path.join(args.runs, name)
        metrics = train_or_reuse(run, dict(options, m1=m1))
        rows.append(table_row(name, flags_of(VARIANTS[name]), run, metrics))
        print(rows[-1], flush=True)
    for run in args.reference:
        config = runs.load_json(os.path.join(run, "config.json"))
        rows.append(table_row(f"{config['model']} (reference)", run, run, runs.load_json(os.path.join(run, "metrics.json"))))
    table = pd.DataFrame(rows)
    write_table(table, out)
    print(table.to_string(index=False))
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
