"""The benchmarks' run reuse (benchmarks/common.py): a table never mixes settings silently."""
import json
import os
import sys

import pandas as pd
import pytest

from ssvae.errors import SsvaeError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import m1m2_variants  # noqa: E402
import m2_protocol  # noqa: E402
from common import train_or_reuse  # noqa: E402


def test_train_or_reuse_reuses_continues_and_refuses_other_settings(tmp_path, fmnist_small):
    run = str(tmp_path / "run")
    options = dict(model="vae", dataset="fashion-mnist", train_size=500, download=False, epochs=1, z_dim=4,
                   hidden=[16], iwae_k=0, batch_size=100)
    log = []
    first = train_or_reuse(run, options, log=log.append)
    assert first["epochs"] == 1
    log.clear()
    assert train_or_reuse(run, options, log=log.append) == first
    assert any(line.startswith("reusing") for line in log)

    assert train_or_reuse(run, dict(options, epochs=2), log=log.append)["epochs"] == 2

    with pytest.raises(SsvaeError, match="z_dim"):
        train_or_reuse(run, dict(options, epochs=2, z_dim=8), log=log.append)
    with pytest.raises(SsvaeError, match="more than the 1 asked"):
        train_or_reuse(run, options, log=log.append)

    # a run made under an older default of an option the caller does not pass is not reused either
    path = os.path.join(run, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["lr"] = config["lr"] / 3
    with open(path, "w") as f:
        json.dump(config, f)
    with pytest.raises(SsvaeError, match="lr"):
        train_or_reuse(run, dict(options, epochs=2), log=log.append)


def test_a_finished_run_is_reused_without_its_checkpoint_and_from_another_device(tmp_path, fmnist_small):
    """Runs trained on a GPU machine come back without checkpoints; the table is rebuilt from their files."""
    run = str(tmp_path / "run")
    options = dict(model="vae", dataset="fashion-mnist", train_size=500, download=False, epochs=1, z_dim=4,
                   hidden=[16], iwae_k=0, batch_size=100)
    first = train_or_reuse(run, options, log=lambda line: None)
    for name in ("checkpoint.pt", "best.pt"):
        if os.path.exists(os.path.join(run, name)):
            os.remove(os.path.join(run, name))
    path = os.path.join(run, "config.json")
    with open(path) as f:
        config = json.load(f)
    with open(path, "w") as f:
        json.dump(dict(config, device="cuda"), f)
    log = []
    assert train_or_reuse(run, options, log=log.append) == first
    assert log == [f"reusing {run}"]
    with pytest.raises(SsvaeError, match="no checkpoint.pt to continue from"):
        train_or_reuse(run, dict(options, epochs=2), log=log.append)


def test_protocol_merges_per_run_files_of_different_seeds(tmp_path, monkeypatch, capsys):
    """Seeds run apart (other machines, other sessions) make one table; mixed settings are refused."""
    def per_run(seed, m2, m1m2, epochs=30, binarize="none", name=None, **more):
        path = tmp_path / (name or f"s{seed}_runs.csv")
        m2_options, m1m2_options = ({"binarize": binarize, "epochs": epochs, "model": model, **more}
                                    for model in ("m2", "m1m2"))
        frame = pd.DataFrame([
            {"method": "baseline (labelled only)", "labels": 100, "seed": seed, "test_accuracy": 0.68,
             "options": m2_options},
            {"method": "M2", "labels": 100, "seed": seed, "test_accuracy": m2, "best_epoch": 20, "epochs": epochs,
             "train_minutes": 15.0, "options": m2_options},
            {"method": "M1+M2", "labels": 100, "seed": seed, "test_accuracy": m1m2, "best_epoch": 25,
             "epochs": epochs, "train_minutes": 5.0, "m1_train_minutes": 7.0, "options": m1m2_options},
        ])
        frame["options"] = frame["options"].map(lambda o: json.dumps(o, sort_keys=True))
        if name and name.startswith("old"):  # written before the options column
            frame = frame.drop(columns="options")
        frame.to_csv(path, index=False)
        return str(path)

    def merge(*paths):
        files = [p for p in paths if p.endswith(".csv")]  # the rest: flags
        monkeypatch.setattr(sys, "argv", ["m2_protocol.py", "--merge", *files,
                                          *(p for p in paths if p not in files), "--out", str(tmp_path / "t")])
        m2_protocol.main()

    merge(per_run(0, 0.70, 0.72), per_run(1, 0.72, 0.76))
    table = pd.read_csv(tmp_path / "t.csv").set_index("test accuracy % (mean ± std over seeds)")
    assert table.loc["M2", "N=100"] == "71.00 ± 1.41" and table.loc["M1+M2", "N=100"] == "74.00 ± 2.83"
    assert table.loc["M2", "seeds"] == 2 and len(pd.read_csv(tmp_path / "t_runs.csv")) == 6
    # an option that is unset (None) compares equal to one that did not exist when a run was made
    merge(per_run(0, 0.70, 0.72), per_run(1, 0.72, 0.76, name="new_runs.csv", lr_decay=None))
    # files written before the options column still merge with each other
    merge(per_run(0, 0.70, 0.72, name="old_runs.csv"), per_run(1, 0.72, 0.76, name="old1_runs.csv"))

    # with recorded ones, only when told to trust them (and recorded options must still agree)
    old = per_run(1, 0.72, 0.76, name="old1_runs.csv")
    merge(per_run(0, 0.70, 0.72), old, "--trust-unrecorded")
    assert pd.read_csv(tmp_path / "t.csv").set_index("test accuracy % (mean ± std over seeds)").loc["M2", "seeds"] == 2
    # --methods keeps those rows only
    merge(per_run(0, 0.70, 0.72), per_run(1, 0.72, 0.76), "--methods", "M2")
    assert list(pd.read_csv(tmp_path / "t.csv").iloc[:, 0]) == ["M2"] and len(pd.read_csv(tmp_path / "t_runs.csv")) == 2

    os.remove(tmp_path / "t.csv")
    for paths, message in [((per_run(0, 0.7, 0.7), per_run(0, 0.7, 0.7)), "seed 0 is in the rows twice"),
                           ((per_run(0, 0.7, 0.7), per_run(1, 0.7, 0.7, epochs=15, name="e15_runs.csv")),
                            "different numbers of epochs"),
                           ((per_run(0, 0.7, 0.7), per_run(1, 0.7, 0.7, binarize="dynamic", name="b_runs.csv")),
                            "runs at N=100 were made with different options (binarize)"),
                           ((per_run(0, 0.7, 0.7), per_run(1, 0.7, 0.7, name="d_runs.csv", lr_decay=0.9)),
                            "different options (lr_decay)"),
                           ((per_run(0, 0.7, 0.7), per_run(1, 0.7, 0.7, name="old_runs.csv")),
                            "do not record their options"),
                           ((per_run(0, 0.7, 0.7), per_run(1, 0.7, 0.7, binarize="dynamic", name="b_runs.csv"),
                             per_run(2, 0.7, 0.7, name="old2_runs.csv"), "--trust-unrecorded"),
                            "different options (binarize)"),
                           ((str(tmp_path / "absent.csv"),), "no such per-run file")]:
        with pytest.raises(SystemExit):
            merge(*paths)
        assert message in capsys.readouterr().err and not os.path.exists(tmp_path / "t.csv")
    # the merge-only options are refused, not ignored, when training
    for flags in (["--methods", "M2"], ["--trust-unrecorded"], ["--select-on-validation"]):
        monkeypatch.setattr(sys, "argv", ["m2_protocol.py", "--models", "m2", "--runs", str(tmp_path / "r"), *flags])
        with pytest.raises(SystemExit):
            m2_protocol.main()
        assert f"{flags[0]}: only used with --merge" in capsys.readouterr().err and not os.path.exists(tmp_path / "r")


def test_protocol_selects_each_cells_setting_on_validation_never_on_test(tmp_path, monkeypatch, capsys):
    """Runs with and without a learning-rate decay: per N the setting of higher mean validation accuracy is kept."""
    def per_run(name, rows, lr_decay=None, options=True):
        frame = pd.DataFrame([{"method": "M1+M2", "labels": n, "seed": seed, "test_accuracy": test,
                               "best_val_accuracy": val, "best_epoch": 10, "epochs": 30, "train_minutes": 10.0,
                               "m1_train_minutes": 9.0,
                               "options": json.dumps({"model": "m1m2", "epochs": 30, "lr_decay": lr_decay})}
                              for n, seed, val, test in rows])
        (frame.drop(columns="options") if not options else frame).to_csv(tmp_path / name, index=False)
        return str(tmp_path / name)

    def merge(*paths):
        monkeypatch.setattr(sys, "argv", ["m2_protocol.py", "--merge", *paths, "--select-on-validation",
                                          "--out", str(tmp_path / "t")])
        m2_protocol.main()

    constant = per_run("c_runs.csv", [(100, 0, 0.76, 0.75), (100, 1, 0.78, 0.77), (3000, 0, 0.85, 0.86),
                                      (3000, 1, 0.85, 0.86)])
    # the decay: worse on validation at N = 100; better on validation (though worse on test) at N = 3000
    decay = per_run("d_runs.csv", [(100, 0, 0.75, 0.79), (100, 1, 0.77, 0.79), (3000, 0, 0.86, 0.84),
                                   (3000, 1, 0.87, 0.84)], lr_decay=0.9)
    merge(constant, decay)
    table = pd.read_csv(tmp_path / "t.csv").set_index("test accuracy % (mean ± std over seeds)")
    assert table.loc["M1+M2", "N=100"] == "76.00 ± 1.41" and table.loc["M1+M2", "N=3000"] == "84.00 ± 0.00"
    chosen = pd.read_csv(tmp_path / "t_runs.csv")
    assert len(chosen) == 4 and {(n, json.loads(o)["lr_decay"]) for n, o in zip(chosen.labels, chosen.options)} \
        == {(100, None), (3000, 0.9)}
    selection = pd.read_csv(tmp_path / "t_selection.csv")
    assert list(selection.columns) == ["method", "labels", "setting", "seeds", "mean best val %", "mean test %",
                                       "chosen"]
    assert selection.set_index(["labels", "setting"])["chosen"].to_dict() == {
        (100, "lr_decay=unset"): True, (100, "lr_decay=0.9"): False,
        (3000, "lr_decay=unset"): False, (3000, "lr_decay=0.9"): True}
    assert selection.set_index(["labels", "setting"]).loc[(3000, "lr_decay=0.9"), "mean best val %"] == 86.5

    # one setting per cell: nothing to choose, nothing written beside the table
    os.remove(tmp_path / "t_selection.csv")
    merge(constant)
    assert "nothing to choose" in capsys.readouterr().out and not os.path.exists(tmp_path / "t_selection.csv")

    os.remove(tmp_path / "t.csv")
    other_seeds = per_run("s_runs.csv", [(100, 0, 0.75, 0.79), (100, 2, 0.77, 0.79)], lr_decay=0.9)
    no_val = per_run("v_runs.csv", [(100, 0, None, 0.79), (100, 1, None, 0.79)], lr_decay=0.9)
    unrecorded = per_run("u_runs.csv", [(100, 2, 0.75, 0.79)], options=False)
    for paths, message in [((constant, other_seeds), "each must be run on the same seeds"),
                           ((constant, no_val), "record best_val_accuracy"),
                           ((constant, decay, unrecorded), "do not record their options")]:
        with pytest.raises(SystemExit):
            merge(*paths)
        assert message in capsys.readouterr().err and not os.path.exists(tmp_path / "t.csv")


def test_protocol_trains_m1_as_the_cli_would_and_m1m2_on_it(tmp_path, monkeypatch, capsys, fmnist_small):
    """--m1-hidden reaches M1 and is recorded by the M1+M2 runs on it; a second call trains nothing."""
    runs_dir, out = str(tmp_path / "runs"), str(tmp_path / "table")
    argv = ["m2_protocol.py", "--models", "m1m2", "--labels", "100", "--seeds", "0", "--epochs", "1",
            "--m1-epochs", "1", "--m1-hidden", "16", "--train-size", "500", "--runs", runs_dir, "--out", out]
    monkeypatch.setattr(sys, "argv", argv)
    m2_protocol.main()
    m1_run, m1m2_run = (os.path.join(runs_dir, f"fashion-mnist-{name}-s0") for name in ("m1", "m1m2-n100"))
    with open(os.path.join(m1_run, "config.json")) as f:
        m1 = json.load(f)
    with open(os.path.join(m1m2_run, "config.json")) as f:
        m1m2 = json.load(f)
    assert (m1["model"], m1["hidden"], m1["epochs"], m1["train_size"], m1["iwae_k"]) == ("vae", [16], 1, 500, 0)
    assert (m1m2["m1"], m1m2["m1_hidden"], m1m2["m1_epochs"], m1m2["epochs"]) == (m1_run, [16], 1, 1)
    per_run = pd.read_csv(out + "_runs.csv")
    assert set(per_run["method"]) == {"M1 + linear", "M1 + MLP", "M1 + label spreading", "M1+M2"}
    assert json.loads(per_run["options"].iloc[-1])["m1_hidden"] == [16]
    # M1+M2's row records the validation accuracy it was selected at; the M1 + classifier rows have none
    assert 0 < per_run["best_val_accuracy"].iloc[-1] <= 1 and per_run["best_val_accuracy"].iloc[:-1].isna().all()
    capsys.readouterr()
    m2_protocol.main()
    printed = capsys.readouterr().out
    assert printed.count("reusing") == 2 and "epoch=" not in printed


def test_m1m2_variants_trains_each_variant_once_and_an_m1_of_another_code_size(tmp_path, monkeypatch, capsys,
                                                                                  fmnist_small):
    m1 = str(tmp_path / "m1")
    train_or_reuse(m1, dict(model="vae", dataset="fashion-mnist", train_size=500, download=False, epochs=1, z_dim=4,
                            hidden=[16], iwae_k=0, batch_size=100), log=lambda line: None)
    out, runs_dir = str(tmp_path / "table"), str(tmp_path / "runs")
    argv = ["m1m2_variants.py", "--m1", m1, "--labels", "100", "--epochs", "1",
            "--variants", "default", "z1_100", "--runs", runs_dir, "--out", out]
    monkeypatch.setattr(sys, "argv", argv)
    m1m2_variants.main()
    table = pd.read_csv(out + ".csv").set_index("variant")
    assert list(table.index) == ["default", "z1_100"] and table.loc["z1_100", "options"] == "--z1-dim 100"
    assert table.loc["default", "options"] == "(defaults)" and (table["epochs"] == 1).all()
    assert 0 < table.loc["default", "best val %"] <= 100
    # the z1 = 100 variant ran on an M1 trained here with --m1's options but the code size
    with open(os.path.join(runs_dir, "m1-z100", "config.json")) as f:
        trained_m1 = json.load(f)
    assert trained_m1["z_dim"] == 100 and trained_m1["hidden"] == [16] and trained_m1["train_size"] == 500
    with open(os.path.join(runs_dir, "z1_100", "config.json")) as f:
        assert json.load(f)["m1"] == os.path.join(runs_dir, "m1-z100")
    capsys.readouterr()

    # a second call reuses every run (and lists a finished run given with --reference)
    monkeypatch.setattr(sys, "argv", argv + ["--reference", os.path.join(runs_dir, "default")])
    m1m2_variants.main()
    printed = capsys.readouterr().out
    assert printed.count("reusing") == 3 and "epoch=" not in printed  # M1 z = 100 and both variants
    assert list(pd.read_csv(out + ".csv")["variant"]) == ["default", "z1_100", "m1m2 (reference)"]
    assert json.loads(printed.strip().splitlines()[-1])["rows"][0]["variant"] == "default"

    monkeypatch.setattr(sys, "argv", ["m1m2_variants.py", "--m1", str(tmp_path / "absent")])
    with pytest.raises(SystemExit):
        m1m2_variants.main()
    assert "no trained run there" in capsys.readouterr().err
