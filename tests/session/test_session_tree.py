"""save_tree / load_tree / read_header: what goes in comes back out, exactly."""

import json
import sys

import numpy as np
import pytest

import rnnviz
from rnnviz.session import FORMAT_VERSION, ArrayRef, SessionError, load_tree, read_header, save_tree
from session_testing import assert_tree_equal, example_tree, read_members


def test_round_trip_gives_an_equal_tree(tmp_path):
    tree = example_tree(np.random.default_rng(0))
    save_tree(tmp_path / "run.rnnviz", tree)
    assert_tree_equal(tree, load_tree(tmp_path / "run.rnnviz"))


def test_floats_and_big_ints_round_trip_exactly(tmp_path):
    floats = [0.1, 1 / 3, 5e-324, sys.float_info.max, -0.0, 1e-300, 123456789.123456789,
              float("inf"), float("-inf"), float("nan")]
    ints = [0, -1, 2**63, 2**128 - 1, -(2**127) + 12345]
    save_tree(tmp_path / "x.rnnviz", {"floats": floats, "ints": ints})
    loaded = load_tree(tmp_path / "x.rnnviz")
    assert [x.hex() for x in loaded["floats"]] == [x.hex() for x in floats]
    assert loaded["ints"] == ints and all(type(i) is int for i in loaded["ints"])


def test_random_generator_state_restores_the_same_stream(tmp_path):
    rng = np.random.default_rng(12345)
    rng.standard_normal(17)
    save_tree(tmp_path / "x.rnnviz", {"rng": rng.bit_generator.state})
    expected = rng.standard_normal(100)
    restored = np.random.default_rng()
    restored.bit_generator.state = load_tree(tmp_path / "x.rnnviz")["rng"]
    assert np.array_equal(restored.standard_normal(100), expected)


def test_numpy_scalars_and_tuples_become_plain_values(tmp_path):
    tree = {"t": (1, (2.5, "a")), "f": np.float32(0.1), "i": np.int64(7), "b": np.bool_(True)}
    save_tree(tmp_path / "x.rnnviz", tree)
    loaded = load_tree(tmp_path / "x.rnnviz")
    assert loaded == {"t": [1, [2.5, "a"]], "f": float(np.float32(0.1)), "i": 7, "b": True}
    assert type(loaded["i"]) is int and type(loaded["b"]) is bool


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_every_allowed_dtype_round_trips(tmp_path, dtype):
    rng = np.random.default_rng(1)
    arrays = {"matrix": (rng.standard_normal((3, 4)) * 100).astype(dtype),
              "scalar": np.array(3, dtype=dtype), "empty": np.zeros((0, 5), dtype=dtype)}
    save_tree(tmp_path / "x.rnnviz", arrays)
    assert_tree_equal(arrays, load_tree(tmp_path / "x.rnnviz"))


def test_strided_and_big_endian_arrays_come_back_equal_native_and_writable(tmp_path):
    base = np.arange(24, dtype=">f8").reshape(4, 6)
    tree = {"strided": base[:, ::2], "transposed": base.T}
    save_tree(tmp_path / "x.rnnviz", tree)
    loaded = load_tree(tmp_path / "x.rnnviz")
    for key in tree:
        assert np.array_equal(loaded[key], tree[key])
        assert loaded[key].dtype == np.float64 and loaded[key].flags.writeable


def test_the_file_is_a_zip_of_json_and_npy_members(tmp_path):
    save_tree(tmp_path / "x.rnnviz", {"w": np.ones((2, 3)), "n": 1})
    members = read_members(tmp_path / "x.rnnviz")
    assert sorted(members) == ["arrays/0000.npy", "session.json"]
    envelope = json.loads(members["session.json"])
    assert envelope == {"format_version": FORMAT_VERSION, "rnnviz_version": rnnviz.__version__,
                        "tree": {"w": {"__array__": "arrays/0000.npy", "dtype": "float64", "shape": [2, 3]},
                                 "n": 1}}


def test_saving_the_same_tree_twice_gives_identical_bytes(tmp_path):
    tree = example_tree(np.random.default_rng(3))
    save_tree(tmp_path / "a.rnnviz", tree)
    save_tree(tmp_path / "b.rnnviz", tree)
    assert (tmp_path / "a.rnnviz").read_bytes() == (tmp_path / "b.rnnviz").read_bytes()


def test_read_header_gives_versions_and_json_without_arrays(tmp_path):
    tree = example_tree(np.random.default_rng(0))
    save_tree(tmp_path / "x.rnnviz", tree)
    header = read_header(tmp_path / "x.rnnviz")
    assert header["format_version"] == FORMAT_VERSION
    assert header["rnnviz_version"] == rnnviz.__version__
    assert header["tree"]["config"] == tree["config"]
    assert header["tree"]["step_count"] == 50
    ref = header["tree"]["params"]["Wax"]
    assert isinstance(ref, ArrayRef) and ref.dtype == "float64" and ref.shape == (8, 5)


@pytest.mark.parametrize("tree, phrase", [
    ({"x": np.array([object()], dtype=object)}, "dtype object"),
    ({"x": np.array(["a"])}, "dtype <U1"),
    ({"x": np.zeros(3, dtype=np.int16)}, "dtype int16"),
    ({"x": np.zeros(3, dtype=np.complex128)}, "dtype complex128"),
    ({1: "a"}, "not a string"),
    ({"x": {"__array__": "arrays/0000.npy"}}, "reserved key"),
    ({"x": {1, 2}}, "is a set"),
    ({"x": b"bytes"}, "is a bytes"),
], ids=["object", "unicode", "int16", "complex", "int-key", "reserved-key", "set", "bytes"])
def test_saving_what_cannot_load_back_is_refused_before_touching_disk(tmp_path, tree, phrase):
    with pytest.raises(SessionError, match=phrase):
        save_tree(tmp_path / "x.rnnviz", tree)
    assert list(tmp_path.iterdir()) == []


def test_saving_a_cyclic_tree_is_refused(tmp_path):
    tree = {"a": []}
    tree["a"].append(tree)
    with pytest.raises(SessionError, match="nested more than"):
        save_tree(tmp_path / "x.rnnviz", tree)
