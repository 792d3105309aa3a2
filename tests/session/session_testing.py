"""Helpers shared by the session tests: example trees, deep comparison, editing a saved archive,
small trainers for every task."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np

from rnnviz.training import Config, Trainer


def example_tree(rng: np.random.Generator, steps: int = 50) -> dict:
    """A small tree shaped like a session: config, parameters, optimizer state, RNG state, history."""
    params = {"Wax": rng.standard_normal((8, 5)) * 0.01, "Waa": rng.standard_normal((8, 8)) * 0.01,
              "ba": np.zeros(8), "Wya": rng.standard_normal((5, 8)) * 0.01, "by": np.zeros(5)}
    return {
        "config": {"task": "charlm", "hidden": 8, "lr": 0.1, "eps": 1e-8, "corpus": None, "prime": "héllo"},
        "step_count": steps,
        "params": params,
        "optimizer": {"name": "adagrad", "memory": {k: v ** 2 for k, v in params.items()}},
        "rng": np.random.default_rng(7).bit_generator.state,
        "data": {"position": 125, "state": {"a": rng.standard_normal((1, 8))}},
        "history": {
            "loss": rng.random(steps) * 40, "steps": np.arange(1, steps + 1),
            "grad_a_norms": rng.random((steps, 4)).astype(np.float32),
            "setting_changes": {"step": np.array([3]), "name": ["lr"], "old": [0.1], "new": [0.05]},
            "evals": [[10, {"loss": 1.5, "accuracy": float("nan")}]],
            "flags": np.array([True, False, True]), "bytes": np.arange(4, dtype=np.uint8),
            "small_ints": np.arange(3, dtype=np.int32),
        },
    }


def assert_tree_equal(a, b, where: str = "tree") -> None:
    """Equal values and equal types; arrays equal in dtype, shape and every bit (NaN == NaN)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), f"{where}: {type(b).__name__} instead of an array"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {b.dtype}{b.shape} != {a.dtype}{a.shape}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{where}: values differ"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys differ"
        for key in a:
            assert_tree_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: list differs"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_tree_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), f"{where}: {b!r} != nan"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {b!r} != {a!r}"


def read_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def write_members(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def edit_session_json(path, edit) -> None:
    """Rewrite ``path`` with ``edit(envelope)`` applied to its session.json (edit changes it in place)."""
    members = read_members(path)
    envelope = json.loads(members["session.json"])
    edit(envelope)
    members["session.json"] = json.dumps(envelope).encode()
    write_members(path, members)


def find_ref(tree, *keys) -> dict:
    """The array reference at ``keys`` inside a JSON tree."""
    for key in keys:
        tree = tree[key]
    assert "__array__" in tree
    return tree


# --------------------------------------------------------------------------- small trainers

SMALL = dict(hidden=6, n_test=16, eval_every=1000, sample_every=1000)
TASKS = {
    "parity": dict(task="parity", n_train=32, seq_length=5, batch_size=4),
    "addition": dict(task="addition", n_bits=4, batch_size=4),
    "charlm": dict(task="charlm", seq_length=8, batch_size=2),
    "copy": dict(task="copy", seq_length=3, copy_length=2, n_symbols=4, batch_size=4),
    "adding": dict(task="adding", seq_length=6, batch_size=4),
}
OPTIMIZERS = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01}


def small_text(seed: int = 0, words: int = 400) -> str:
    """A few kB of pseudo-English: enough for a character model with chunks of 8."""
    rng = np.random.default_rng(seed)
    vocabulary = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away,", "home.", "\n"]
    return " ".join(rng.choice(vocabulary, size=words))


def make_trainer(config: Config) -> Trainer:
    return Trainer(config, corpus_text=small_text() if config.task == "charlm" else None)


def first_part(trainer: Trainer) -> list[float]:
    """N = 5 steps with a live change, an evaluation and (charlm) a sample in between."""
    losses = [trainer.step().loss for _ in range(3)]
    trainer.set_live(lr=trainer.config.lr / 2, clip_mode="norm", clip=1.0)
    trainer.evaluate()
    if trainer.is_charlm:
        trainer.sample(length=12)
    return losses + [trainer.step().loss for _ in range(2)]


def second_part(trainer: Trainer) -> list[float]:
    """M = 4 more steps and an evaluation."""
    losses = [trainer.step().loss for _ in range(4)]
    trainer.evaluate()
    return losses
