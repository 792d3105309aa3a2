"""Presets load, validate, and keep the settings the tutorials and papers used."""

import json

import numpy as np
import pytest

from rnnviz.tasks import make_task
from rnnviz.training import presets
from rnnviz.training.presets import list_presets, load_preset

REQUIRED = ["parity", "parity-100k", "parity-short", "addition", "char-rnn", "char-lstm",
            "copy-rnn", "copy-lstm", "copy-gru", "adding-rnn", "adding-lstm", "adding-gru"]


def test_every_required_preset_loads_and_builds_its_task():
    names = [p.name for p in list_presets()]
    assert set(REQUIRED) <= set(names)
    for p in list_presets():
        assert p.config.preset == p.name and p.steps > 0
        assert p.title and p.description and p.source
        if p.name == "parity-100k":
            continue                        # 100,000 strings: building it is slow, the settings are checked below
        task = make_task(p.config, np.random.default_rng(0))
        assert task.name == p.config.task


def test_tutorial_settings_are_kept():
    parity = load_preset("parity").config
    assert (parity.task, parity.cell, parity.activation, parity.hidden, parity.lr, parity.optimizer) == \
        ("parity", "rnn", "tanh", 25, 0.07, "sgd")
    assert (parity.batch_size, parity.seq_length, parity.n_train, parity.clip_mode) == (0, 50, 10_000, "none")
    assert load_preset("parity").steps == 1000
    big = load_preset("parity-100k").config
    assert big.n_train == 100_000 and big.replace(n_train=10_000, preset="parity") == parity
    assert load_preset("parity-short").config.seq_length == 8

    add = load_preset("addition")
    c = add.config
    assert add.steps == 10_000
    assert (c.hidden, c.activation, c.optimizer, c.lr, c.batch_size, c.n_bits, c.init, c.reduction, c.clip_mode) == \
        (16, "sigmoid", "sgd", 0.1, 1, 8, "uniform", "sum", "none")

    char = load_preset("char-rnn")
    c = char.config
    assert char.steps == 20_000 and c.corpus is None
    assert (c.cell, c.hidden, c.seq_length, c.optimizer, c.lr, c.clip_mode, c.clip, c.reduction, c.init, c.batch_size) \
        == ("rnn", 100, 25, "adagrad", 0.1, "value", 5.0, "sum", "small", 1)
    lstm = load_preset("char-lstm").config
    assert (lstm.cell, lstm.hidden, lstm.seq_length, lstm.batch_size) == ("lstm", 128, 25, 1)


@pytest.mark.parametrize("task", ["copy", "adding"])
def test_memory_presets_differ_only_in_the_cell(task):
    """Same problem, budget and optimizer; what may differ is the cell and what belongs to it
    (its initialisation, learning rate, the LSTM's forget-gate bias)."""
    configs = {cell: load_preset(f"{task}-{cell}").config for cell in ("rnn", "lstm", "gru")}
    steps = {load_preset(f"{task}-{cell}").steps for cell in ("rnn", "lstm", "gru")}
    assert len(steps) == 1
    base = configs["rnn"].to_dict()
    for cell, config in configs.items():
        assert config.task == task and config.cell == cell
        other = config.to_dict()
        changed = {k for k in base if base[k] != other[k]} - {"cell", "preset", "init", "lr", "forget_bias"}
        assert not changed, f"{task}-{cell} also changes {changed}"


def test_unknown_preset_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown preset 'parrity'.*parity-short"):
        load_preset("parrity")
    with pytest.raises(ValueError, match="unknown preset"):
        load_preset("../presets/parity")


@pytest.mark.parametrize(("content", "match"), [
    ("{not json", "cannot be read"),
    ('{"name": "x"}', "exactly the keys"),
    (json.dumps({"name": "other", "title": "t", "description": "d", "source": "s", "steps": 5,
                 "config": {}}), "match the file name"),
    (json.dumps({"name": "x", "title": "t", "description": "d", "source": "s", "steps": 0,
                 "config": {}}), "steps"),
    (json.dumps({"name": "x", "title": "t", "description": "d", "source": "s", "steps": 5,
                 "config": {"hidden": -3}}), "hidden"),
    (json.dumps({"name": "x", "title": "t", "description": "d", "source": "s", "steps": 5,
                 "config": {"colour": "red"}}), "colour"),
])
def test_broken_preset_files_are_reported_by_name(tmp_path, monkeypatch, content, match):
    (tmp_path / "x.json").write_text(content, encoding="utf-8")
    monkeypatch.setattr(presets, "PRESETS_DIR", tmp_path)
    with pytest.raises(ValueError, match=f"preset file x.json.*{match}"):
        load_preset("x")


def test_presets_are_package_data():
    """The files sit inside the package (so a wheel has them), found through importlib.resources."""
    from importlib.resources import files
    shipped = {e.name.removesuffix(".json") for e in (files("rnnviz") / "presets").iterdir()
               if e.name.endswith(".json")}
    assert set(REQUIRED) <= shipped and {p.name for p in presets.list_presets()} == shipped


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_no_preset_files_is_one_clear_error(tmp_path, monkeypatch, folder):
    """An installation that lost its preset files says so, instead of failing somewhere later."""
    where = tmp_path / folder
    if folder == "empty":
        where.mkdir()
    monkeypatch.setattr(presets, "PRESETS_DIR", where)
    with pytest.raises(ValueError, match="no preset files found in .*installation is incomplete"):
        list_presets()
    with pytest.raises(ValueError, match="unknown preset 'parity'; known presets: none"):
        load_preset("parity")


def test_rnnviz_presets_without_preset_files_says_so(tmp_path, monkeypatch, capsys):
    from rnnviz.cli import main
    monkeypatch.setattr(presets, "PRESETS_DIR", tmp_path)
    assert main(["presets"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnviz: error: no preset files found in") and err.count("\n") == 1
