"""Helpers shared by the session tests: example trees, deep comparison, editing a saved archive."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np


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
