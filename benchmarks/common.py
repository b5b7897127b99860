"""Helpers shared by the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""
import os


def markdown(frame):
    """A pandas DataFrame as a GitHub markdown table (pandas' own needs the tabulate package)."""
    def cell(value):
        return str(value).replace("|", "\\|")  # a bare | would end the cell

    lines = ["| " + " | ".join(map(cell, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(table, out, title=""):
    """Write ``table`` to ``out + ".csv"`` and ``out + ".md"`` (``title`` above the markdown), each atomically."""
    from ssvae.inference.checkpoint import atomic_write

    atomic_write(out + ".csv", lambda f: table.to_csv(f, index=False), binary=False)
    atomic_write(out + ".md", lambda f: f.write(title + markdown(table)), binary=False)


def train_or_reuse(run, options, log=print):
    """The metrics of the run in ``run`` trained with ``options`` (a dict of ``ssvae train`` options).

    A finished run with the same options is reused; one with fewer epochs, or one
    that was interrupted, is continued from its last checkpoint (constant learning
    rate, restored RNG: the same as training it in one go). A finished run needs only its
    ``config.json``, ``metrics.json`` and ``history.csv`` (its checkpoints may be deleted or
    left on the machine that trained it). A run made with other options (the defaults of
    options not given included; the device aside) is an error, so that a table never mixes
    settings silently.
    """
    from ssvae import runs
    from ssvae.errors import SsvaeError

    metrics_path, checkpoint = os.path.join(run, "metrics.json"), os.path.join(run, "checkpoint.pt")
    if not os.path.exists(checkpoint) and not os.path.exists(metrics_path):
        runs.train(run, options, progress=False, log=log)
        return runs.load_json(metrics_path)
    saved = runs.load_json(os.path.join(run, "config.json"))
    # every option, the defaults included, so a run made before a default changed is not reused;
    # None and "auto" are resolved at training time (alpha, elbo) and are not compared
    wanted = runs.make_config(**options)
    differ = {k: (saved.get(k), v) for k, v in wanted.items()
              if v not in (None, "auto") and k not in ("epochs", "download", "device") and saved.get(k) != v}
    if differ:
        listed = ", ".join(f"{k}: {old!r} there, {new!r} asked" for k, (old, new) in differ.items())
        raise SsvaeError(f"{run} was trained with other options ({listed}); delete it or choose another --runs")
    done = runs.load_json(metrics_path)["epochs"] if os.path.exists(metrics_path) else 0
    if done >= options["epochs"]:
        if done > options["epochs"]:
            raise SsvaeError(f"{run} has {done} epochs, more than the {options['epochs']} asked; "
                             "delete it or choose another --runs")
        log(f"reusing {run}")
    elif not os.path.exists(checkpoint):
        raise SsvaeError(f"{run} has {done} epochs and no checkpoint.pt to continue from; delete it or choose "
                         "another --runs")
    else:
        log(f"continuing {run} to {options['epochs']} epochs")
        runs.train(run, resume=True, epochs=options["epochs"], progress=False, log=log)
    return runs.load_json(metrics_path)


def best_and_last_epoch(run):
    """(history row at the best validation accuracy, last history row) of a finished run in ``run``.

    Model selection of the semi-supervised benchmarks: a run is read at its epoch of best
    validation accuracy (the first such epoch on a tie).
    """
    import pandas as pd

    history = pd.read_csv(os.path.join(run, "history.csv"))
    return history.loc[history.val_accuracy.idxmax()], history.iloc[-1]
