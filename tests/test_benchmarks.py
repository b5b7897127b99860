"""The benchmarks' run reuse (benchmarks/common.py): a table never mixes settings silently."""
import json
import os
import sys

import pytest

from ssvae.errors import SsvaeError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
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
