"""The same VAE with each guide family, under the same budget: one comparison table.

Trains ``ssvae train`` on Fashion-MNIST (dynamic binarization, z = 50,
784-400-50 tanh, Bernoulli decoder, Adam 1e-3, batch 128, seed 0) once per
guide family for the same number of epochs, evaluates the test set (ELBO, its
KL term and the IWAE log-likelihood with K samples) and writes one table (CSV
and markdown) with the time per epoch and the guide's parameter count.

    python benchmarks/guide_families.py --epochs 10 --iwae-k 1000

With several ``--seeds`` each family is trained once per seed and the table shows
mean ± std over seeds (every run's row also goes to ``--out`` + ``_runs.csv``).
Run directories go under ``--runs`` (``FAMILY`` for seed 0, ``FAMILY-sN`` for seed N);
the table to ``--out``.
"""
import argparse
import json
import os

import pandas as pd

from common import train_or_reuse, write_table
from ssvae import runs
from ssvae.guides import GUIDES, FlowGuide, LowRankGuide, make_guide
from ssvae.inference.checkpoint import atomic_write


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(GUIDES))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--z-dim", type=int, default=50)
    parser.add_argument("--flow-steps", type=int, default=2)
    parser.add_argument("--rank", type=int, default=2)
    parser.add_argument("--iwae-k", type=int, default=1000)
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--runs", default="results/guide-families")
    parser.add_argument("--out", default="benchmarks/results/guide_families")
    args = parser.parse_args()
    rows = []
    for family in args.families:
        for seed in args.seeds:
            run = os.path.join(args.runs, family if seed == 0 else f"{family}-s{seed}")
            options = dict(guide=family, z_dim=args.z_dim, epochs=args.epochs, iwae_k=args.iwae_k,
                           train_size=args.train_size, download=False, device=args.device, seed=seed)
            if issubclass(GUIDES[family], LowRankGuide):
                options["rank"] = args.rank
            if issubclass(GUIDES[family], FlowGuide):
                options["flow_steps"] = args.flow_steps
            rows.append(run_row(run, options))
            print(rows[-1], flush=True)
    per_run = pd.DataFrame(rows)
    table = summarize(per_run)
    title = f"Fashion-MNIST, z = {args.z_dim}, {args.epochs} epochs per family, same decoder and optimizer\n\n"
    if len(args.seeds) > 1:
        atomic_write(args.out + "_runs.csv", lambda f: per_run.to_csv(f, index=False), binary=False)
    write_table(table, args.out, title)
    print(table.to_string(index=False))
    print(json.dumps({"rows": table.to_dict(orient="records")}))


def run_row(run, options):
    """One finished (trained or reused) run as a table row."""
    metrics = train_or_reuse(run, options)
    config = runs.load_json(os.path.join(run, "config.json"))
    if "guide_parameters" not in metrics:  # a run from before metrics.json counted them: rebuild its guide
        guide = make_guide(config["guide"], x_dim=28 * 28, z_dim=config["z_dim"], hidden=config["hidden"],
                           activation=config["activation"], rank=config["rank"], flow_steps=config["flow_steps"])
        metrics["guide_parameters"] = sum(p.numel() for p in guide.parameters())
    return {
        "guide": config["guide"] + (f" (rank {config['rank']})" if config.get("rank") else "")
        + (f" (K={config['flow_steps']})" if config.get("flow_steps") else ""),
        "seed": config["seed"],
        "ELBO": "closed-form KL" if config["elbo"] == "meanfield" else "Monte Carlo KL",
        "test ELBO": metrics["test_elbo"],
        f"test log p(x), IWAE K={metrics['test_iwae_k']}": metrics["test_log_px"],
        "KL term": metrics["test_kl"],
        # the median is robust to epochs slowed by other work on the machine
        "s/epoch (median)": float(pd.read_csv(os.path.join(run, "history.csv"))["seconds"].median()),
        "guide parameters": metrics["guide_parameters"],
    }


def summarize(per_run):
    """One row per family: the metrics rounded, or as mean ± std where a family has several seeds."""
    groups = per_run.groupby(["guide", "ELBO", "guide parameters"], sort=False)
    several = groups.size().max() > 1
    table = groups.size().rename("seeds").reset_index()[["guide", "ELBO", "guide parameters", "seeds"]]
    for column in per_run.columns[3:-1]:  # test ELBO ... s/epoch
        values = groups[column]
        if column.startswith("s/epoch") or not several:
            table[column] = values.mean().round(2).to_numpy()
        else:
            table[column] = [f"{m:.2f} ± {s:.2f}" if s == s else f"{m:.2f}"
                             for m, s in zip(values.mean(), values.std())]
    columns = ["guide", "ELBO", *per_run.columns[3:-1], "guide parameters"] + (["seeds"] if several else [])
    return table[columns]


if __name__ == "__main__":
    main()
