"""Damaged files never crash rnnviz: every flipped or truncated file loads equal or raises SessionError."""

import numpy as np

from rnnviz.session import SessionError, load_tree, read_header, save_tree
from session_testing import assert_tree_equal, example_tree


def test_flipped_and_truncated_bytes_load_equal_or_raise_session_error(tmp_path):
    rng = np.random.default_rng(2024)
    tree = example_tree(rng, steps=12)
    save_tree(tmp_path / "good.rnnviz", tree)
    good = (tmp_path / "good.rnnviz").read_bytes()
    expected = load_tree(tmp_path / "good.rnnviz")
    path = tmp_path / "fuzzed.rnnviz"
    outcomes = {"equal": 0, "error": 0}
    for trial in range(400):
        data = bytearray(good)
        kind = trial % 4
        if kind in (0, 1):      # flip a few bits anywhere
            for _ in range(rng.integers(1, 4)):
                data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        elif kind == 2:         # damage the zip directory at the end, where structure lives
            tail = min(len(data), 600)
            data[len(data) - 1 - rng.integers(tail)] = int(rng.integers(256))
        else:                   # truncate, sometimes after a flip
            data = data[: rng.integers(len(data))]
            if data and rng.random() < 0.5:
                data[rng.integers(len(data))] ^= 0xFF
        path.write_bytes(bytes(data))
        try:
            loaded = load_tree(path, finite=[("params",)])
        except SessionError as error:
            assert "\n" not in str(error)
            outcomes["error"] += 1
        else:
            assert_tree_equal(expected, loaded)
            outcomes["equal"] += 1
        try:
            read_header(path)
        except SessionError:
            pass
    assert outcomes["error"] > 300
