"""The same VAE with each guide family, under the same budget: one comparison table.

Trains ``ssvae train`` on Fashion-MNIST (dynamic binarization, z = 50,
784-400-50 tanh, Bernoulli decoder, Adam 1e-3, batch 128, seed 0) once per
guide family for the same number of epochs, evaluates the test set (ELBO, its
KL term and the IWAE log-likelihood with K samples) and writes one table (CSV
and markdown) with the time per epoch and the guide's parameter count.

    python benchmarks/guide_families.py --epochs 10 --iwae-k 1000

Run directories go under ``--runs``; the table to ``--out``.
"""
import argparse
import json
import os

import pandas as pd

from common import train_or_reuse, write_table
from ssvae import runs
from ssvae.guides import GUIDES, FlowGuide, LowRankGuide


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(GUIDES))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--z-dim", type=int, default=50)
    parser.add_argument("--flow-steps", type=int, default=2)
    parser.add_argument("--rank", type=int, default=2)
    parser.add_argument("--iwae-k", type=int, default=1000)
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--runs", default="results/guide-families")
    parser.add_argument("--out", default="benchmarks/results/guide_families")
    args = parser.parse_args()
    rows = []
    for family in args.families:
        run = os.path.join(args.runs, family)
        options = dict(guide=family, z_dim=args.z_dim, epochs=args.epochs, iwae_k=args.iwae_k,
                       train_size=args.train_size, download=False, device=args.device)
        if issubclass(GUIDES[family], LowRankGuide):
            options["rank"] = args.rank
        if issubclass(GUIDES[family], FlowGuide):
            options["flow_steps"] = args.flow_steps
        metrics = train_or_reuse(run, options)
        config = runs.load_json(os.path.join(run, "config.json"))
        if "guide_parameters" not in metrics:  # a run from before metrics.json counted them
            metrics["guide_parameters"] = sum(p.numel() for p in runs.load_run(run)[0].guide.parameters())
        rows.append({
            "guide": family + (f" (rank {config['rank']})" if config.get("rank") else "")
            + (f" (K={config['flow_steps']})" if config.get("flow_steps") else ""),
            "ELBO": "closed-form KL" if config["elbo"] == "meanfield" else "Monte Carlo KL",
            "test ELBO": round(metrics["test_elbo"], 2),
            f"test log p(x), IWAE K={metrics['test_iwae_k']}": round(metrics["test_log_px"], 2),
            "KL term": round(metrics["test_kl"], 2),
            # the median is robust to epochs slowed by other work on the machine
            "s/epoch (median)": round(float(pd.read_csv(os.path.join(run, "history.csv"))["seconds"].median()), 2),
            "guide parameters": metrics["guide_parameters"],
        })
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    write_table(table, args.out, f"Fashion-MNIST, z = {args.z_dim}, {args.epochs} epochs per family, "
                "same decoder and optimizer\n\n")
    print(table.to_string(index=False))
    print(json.dumps({"rows": table.to_dict(orient="records")}))


if __name__ == "__main__":
    main()
