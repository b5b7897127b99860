"""The semi-supervised protocol: M2, M1+M2, M1 + classifiers and the baseline for several N and seeds.

For each seed, M1 (a VAE on all training images, no labels) is trained once
(``--model vae``, into ``RUNS/<dataset>-m1-s<seed>``) and reused by every M1+M2 run of that
seed (``--m1``). For each number of labels N and seed it trains
``ssvae train --model m2`` and ``--model m1m2`` (balanced labelled subset drawn
with the seed; validation 10k for model selection; test 10k). Each run also
trains the labelled-only baseline; the M1+M2 runs also fit the M1 + classifier
rows (softmax regression and an MLP on M1's codes of the labelled images, label
spreading over the codes of all images). One table — mean ± std test accuracy per
method and N (M2 and M1+M2 at the epoch of best validation accuracy), epochs and
training time of each stage — is written as CSV and markdown.

    python benchmarks/m2_protocol.py --dataset fashion-mnist --labels 100 600 1000 3000 --seeds 0 1 2 \\
        --epochs 50 --m1-epochs 100

``--binarize none --likelihood cbernoulli`` runs every model on grey levels instead of
binary draws (M1 and M2 with a continuous Bernoulli decoder; the baseline on grey pixels).
Run directories go under ``--runs`` (default ``results/m2-protocol``); the
table goes to ``--out`` (default ``benchmarks/results/m2_protocol_<dataset>``).
Finished runs with the same options are reused and shorter or interrupted ones continued
(see ``common.train_or_reuse``), so an interrupted benchmark goes on where it stopped.
``--merge A_runs.csv B_runs.csv --out OUT`` trains nothing and writes the table of the
per-run files together (seeds run apart). Each per-run row records its run's options (the
``options`` column: the run's config.json but for seed, device and paths); a method whose runs
at one N differ in them (e.g. epochs, α, binarization; unset options count as absent), or the
same method, N and seed twice, is refused. Per-run files written before the options column merge
with each other; with recorded ones only under ``--trust-unrecorded`` (their rows are taken to share the settings of the
recorded rows of their cells: check the commands that made them). ``--methods M ...`` keeps the
rows of those methods only (e.g. M2 and the baseline from one set of files, the M1 rows from another).
``--select-on-validation`` lets a method's runs at one N come with several settings (e.g. runs
with and without ``--lr-decay``) and keeps, per method and N, the setting with the higher mean
best validation accuracy over seeds; the choices go to ``OUT_selection.csv``/``.md``.
"""
import argparse
import json
import os

import pandas as pd

from common import best_and_last_epoch, train_or_reuse, write_table
from ssvae import runs
from ssvae.errors import SsvaeError
from ssvae.inference.checkpoint import atomic_write
from ssvae.m1m2 import m1_run_config, m1m2_options_of

#: table rows: (method, run model, metrics key of its test accuracy; None = at the best validation epoch)
METHODS = [("baseline (labelled only)", "m2", "baseline_test_accuracy"), ("M2", "m2", None),
           ("M1 + linear", "m1m2", "m1_linear_test_accuracy"), ("M1 + MLP", "m1m2", "m1_mlp_test_accuracy"),
           ("M1 + label spreading", "m1m2", "m1_spreading_test_accuracy"), ("M1+M2", "m1m2", None)]


#: config keys that may differ between the runs of one table cell (seeds, machines, places)
NOT_SETTINGS = ("seed", "device", "m1", "data_dir", "download")


def run_options(run):
    """The options of ``run`` that define its table cell, as one JSON string (see ``NOT_SETTINGS``)."""
    config = runs.load_json(os.path.join(run, "config.json"))
    return json.dumps({k: v for k, v in config.items() if k not in NOT_SETTINGS}, sort_keys=True)


def settings(options):
    """A per-run row's ``options`` (JSON) without unset (None) options, for comparing: runs made before
    an option (off by default) existed then compare equal to runs made after. A row that records no
    options (NaN: files written before that column) stays as it is."""
    if not isinstance(options, str):
        return options
    return json.dumps({k: v for k, v in json.loads(options).items() if v is not None}, sort_keys=True)


def select_on_validation(per_run):
    """Per method and N, the rows of the setting with the best mean validation accuracy, and a table of the choice.

    Where the runs of a method at one N were made with more than one setting (e.g. with and without
    ``--lr-decay``), the setting whose runs reach the higher best validation accuracy on average over
    seeds is kept; the test set takes no part. Every setting of such a cell must have been run on the
    same seeds and record ``best_val_accuracy``.
    """
    if "options" not in per_run:
        return per_run, pd.DataFrame()
    per_run = per_run.assign(setting=per_run["options"].map(settings))
    keep, choices = [], []
    for (method, n), cell in per_run.groupby(["method", "labels"], sort=False):
        groups = dict(list(cell.groupby("setting")))  # recorded settings only
        if len(groups) <= 1:
            keep.append(cell)
            continue
        if cell["setting"].isna().any():
            raise SsvaeError(f"some {method} rows at N={n} do not record their options (files written before the "
                             "options column), so which setting they belong to is unknown: re-run the protocol on "
                             "their runs, or leave them out")
        options = {setting: json.loads(setting) for setting in groups}
        keys = differing_options(options.values())
        described = {setting: ", ".join(f"{k}={o.get(k, 'unset')}" for k in keys) for setting, o in options.items()}
        seeds = {setting: tuple(sorted(rows["seed"])) for setting, rows in groups.items()}
        if len(set(seeds.values())) > 1 or "best_val_accuracy" not in cell or cell["best_val_accuracy"].isna().any():
            raise SsvaeError(f"cannot choose between the settings of the {method} runs at N={n} "
                             f"({'; '.join(described.values())}) on validation: each must be run on the same seeds and "
                             "record best_val_accuracy (per-run files written since that column; re-run the protocol "
                             "on older runs to write them again)")
        val = {setting: rows["best_val_accuracy"].mean() for setting, rows in groups.items()}
        chosen = max(val, key=val.get)
        keep.append(groups[chosen])
        choices += [{"method": method, "labels": n, "setting": described[setting], "seeds": len(rows),
                     "mean best val %": round(100 * val[setting], 2),
                     "mean test %": round(100 * rows["test_accuracy"].mean(), 2), "chosen": setting == chosen}
                    for setting, rows in groups.items()]
    return pd.concat(keep).drop(columns="setting"), pd.DataFrame(choices)


def differing_options(options):
    """The keys (sorted) whose values differ between the option dicts ``options``; absent keys count as None."""
    options = list(options)
    return sorted(k for k in set().union(*options) if len({json.dumps(o.get(k)) for o in options}) > 1)


def summarize(per_run, trust_unrecorded=False):
    """The table of per-run rows (columns as in ``*_runs.csv``): mean ± std test accuracy per method and N.

    Rows without ``options`` (files written before that column) are refused beside rows with them,
    unless ``trust_unrecorded``.
    """
    mixed = per_run.dropna(subset=["epochs"]).groupby("method")["epochs"].nunique()
    if (mixed > 1).any():
        raise SsvaeError(f"the runs of {', '.join(mixed[mixed > 1].index)} were trained for different numbers of "
                         "epochs; a table holds one setting only")
    if "options" in per_run:
        per_run = per_run.assign(options=per_run["options"].map(settings))
        cells = per_run.groupby(["method", "labels"])["options"]
        if not trust_unrecorded and cells.apply(lambda o: o.isna().any() and o.notna().any()).any():
            raise SsvaeError("some per-run rows do not record their options (files written before the options "
                             "column): re-run the protocol on their runs to write them again, or pass "
                             "--trust-unrecorded if you know they share the recorded rows' settings")
        differ = cells.nunique()
        if (differ > 1).any():
            method, n = differ[differ > 1].index[0]
            options = [json.loads(o) for o in per_run.loc[(per_run.method == method) & (per_run.labels == n),
                                                          "options"].dropna().unique()]
            keys = differing_options(options)
            raise SsvaeError(f"the {method} runs at N={n} were made with different options ({', '.join(keys)}); "
                             "a table holds one setting only")
    repeated = per_run.duplicated(["method", "labels", "seed"])
    if repeated.any():
        first = per_run[repeated].iloc[0]
        raise SsvaeError(f"{first['method']} at N={first['labels']}, seed {first['seed']} is in the rows twice; "
                         "merge the per-run files of different seeds only")
    order = {name: i for i, (name, _, _) in enumerate(METHODS)}
    summary = (per_run.groupby(["method", "labels"])
               .agg(mean=("test_accuracy", "mean"), std=("test_accuracy", "std"), seeds=("seed", "count"),
                    epochs=("epochs", "max"), minutes=("train_minutes", "mean"),
                    m1_minutes=("m1_train_minutes", "mean"))
               .reset_index())
    summary["cell"] = [f"{100 * m:.2f} ± {100 * s:.2f}" if s == s else f"{100 * m:.2f}"
                       for m, s in zip(summary["mean"], summary["std"])]
    table = summary.pivot(index="method", columns="labels", values="cell")
    table = table.loc[sorted(table.index, key=order.get)]
    table.columns = [f"N={n}" for n in table.columns]
    timing = summary.groupby("method").agg(seeds=("seeds", "max"), epochs=("epochs", "max"),
                                           minutes=("minutes", "mean"), m1_minutes=("m1_minutes", "mean"))
    table["seeds"] = timing["seeds"]
    table["epochs"] = timing["epochs"].map(lambda v: "" if v != v else int(v))
    table["train min/run"] = timing["minutes"].map(lambda v: "" if v != v else f"{v:.1f}")
    table["M1 train min"] = timing["m1_minutes"].map(lambda v: "" if v != v else f"{v:.1f}")
    table = table.reset_index().rename(columns={"method": "test accuracy % (mean ± std over seeds)"})
    return table


def main():
    defaults = runs.defaults("m1m2")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 600, 1000, 3000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["m2", "m1m2"], choices=["m2", "m1m2"])
    parser.add_argument("--epochs", type=int, default=50, help="epochs of M2 and of M2 on M1's codes")
    parser.add_argument("--m1-epochs", type=int, default=defaults["m1_epochs"])
    parser.add_argument("--m1-hidden", type=int, nargs="+", default=defaults["m1_hidden"], metavar="H",
                        help="M1's hidden sizes, e.g. 1000 (default: %(default)s)")
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where new runs train")
    parser.add_argument("--alpha-per-image", type=float)
    parser.add_argument("--lr-decay", type=float, metavar="GAMMA", help="of M2 and of M2 on M1's codes (not of M1): "
                        "multiply the learning rates by GAMMA after every epoch (default: constant)")
    parser.add_argument("--binarize", default=defaults["binarize"], choices=["dynamic", "static", "none"],
                        help="of every model's images (none: grey levels, with --likelihood cbernoulli or gaussian)")
    parser.add_argument("--likelihood", default=defaults["likelihood"], choices=["bernoulli", "cbernoulli", "gaussian"],
                        help="decoder p(x|.) of M2 and of M1")
    parser.add_argument("--runs", default="results/m2-protocol")
    parser.add_argument("--out")
    parser.add_argument("--merge", nargs="+", metavar="RUNS_CSV",
                        help="train nothing: the table of these per-run files (*_runs.csv) together, e.g. of seeds "
                             "run on different machines or in different sessions")
    parser.add_argument("--trust-unrecorded", action="store_true",
                        help="with --merge: take rows of per-run files written before the options column to share "
                             "the settings of the recorded rows of their cells")
    parser.add_argument("--methods", nargs="+", metavar="METHOD", choices=[name for name, _, _ in METHODS],
                        help="with --merge: the rows of these methods only (table row names, e.g. M2)")
    parser.add_argument("--select-on-validation", action="store_true",
                        help="with --merge: where a method's runs at one N were made with different settings (e.g. "
                             "with and without --lr-decay), keep the setting with the best mean validation accuracy "
                             "(choices in OUT_selection.csv/.md)")
    args = parser.parse_args()
    out = args.out or f"benchmarks/results/m2_protocol_{args.dataset}"
    merge_only = [flag for flag, given in (("--methods", args.methods), ("--trust-unrecorded", args.trust_unrecorded),
                                           ("--select-on-validation", args.select_on_validation)) if given]
    if merge_only and not args.merge:
        parser.error(f"{' and '.join(merge_only)}: only used with --merge RUNS_CSV ...; add --merge with the per-run "
                     "files to table, or leave them out to train")
    if args.merge:
        missing = [path for path in args.merge if not os.path.exists(path)]
        if missing:
            parser.error(f"no such per-run file: {', '.join(missing)}")
        try:
            per_run = pd.concat([pd.read_csv(path) for path in args.merge], ignore_index=True)
            if args.methods:
                per_run = per_run[per_run["method"].isin(args.methods)]
            if args.select_on_validation:
                per_run, choices = select_on_validation(per_run)
            write_outputs(per_run.reset_index(drop=True), out, args.trust_unrecorded)
            if args.select_on_validation and choices.empty:
                print("--select-on-validation: every method has one setting per N; nothing to choose")
            elif args.select_on_validation:
                write_table(choices, out + "_selection")
                print(choices.to_string(index=False))
        except SsvaeError as e:
            parser.error(str(e))
        return
    common = dict(dataset=args.dataset, data_dir=args.data_dir, train_size=args.train_size, download=False,
                  device=args.device, binarize=args.binarize, likelihood=args.likelihood)
    rows = []
    for seed in args.seeds:
        m1_run = os.path.join(args.runs, f"{args.dataset}-m1-s{seed}")
        if "m1m2" in args.models:
            # the M1 that `ssvae train --model m1m2` would train for these options
            m1_options = m1_run_config(dict(defaults, **common, seed=seed, m1_epochs=args.m1_epochs,
                                            m1_hidden=args.m1_hidden))
            m1_metrics = train_or_reuse(m1_run, m1_options)
            stack = dict(m1m2_options_of(m1_options), m1=m1_run)  # the M1+M2 runs record the M1 they use
        for n in args.labels:
            for model in args.models:
                run = os.path.join(args.runs, f"{args.dataset}-{model}-n{n}-s{seed}")
                extra = stack if model == "m1m2" else {}
                metrics = train_or_reuse(run, dict(common, model=model, labels=n, seed=seed, epochs=args.epochs,
                                                   alpha_per_image=args.alpha_per_image, lr_decay=args.lr_decay,
                                                   **extra))
                options = run_options(run)
                best, _ = best_and_last_epoch(run)
                minutes = metrics["train_seconds"] / 60
                for method, source, key in METHODS:
                    if source != model or (key is not None and key not in metrics):
                        continue
                    rows.append({"method": method, "labels": n, "seed": seed,
                                 "test_accuracy": float(best.test_accuracy) if key is None else metrics[key],
                                 "best_epoch": int(best.epoch) if key is None else None,
                                 "best_val_accuracy": float(best.val_accuracy) if key is None else None,
                                 "epochs": int(metrics["epochs"]) if key is None else None,
                                 "train_minutes": round(minutes, 2) if key is None else None,
                                 "m1_train_minutes": round(m1_metrics["train_seconds"] / 60, 2)
                                 if model == "m1m2" else None, "options": options})
                print({k: v for k, v in rows[-1].items() if k != "options"}, flush=True)
    write_outputs(pd.DataFrame(rows), out)


def write_outputs(per_run, out, trust_unrecorded=False):
    """``OUT_runs.csv`` (per run), ``OUT.csv`` and ``OUT.md`` (the table); prints the table and a JSON line."""
    table = summarize(per_run, trust_unrecorded)
    atomic_write(out + "_runs.csv", lambda f: per_run.to_csv(f, index=False), binary=False)
    write_table(table, out)
    print(table.to_string(index=False))
    print(json.dumps({"rows": table.to_dict(orient="records")}))


if __name__ == "__main__":
    main()
