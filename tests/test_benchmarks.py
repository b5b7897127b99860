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
