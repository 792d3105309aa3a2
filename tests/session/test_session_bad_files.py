"""Every kind of bad file gives one SessionError with a one-line message, never a crash."""

import io
import os

import numpy as np
import pytest

import rnnviz.session.io as session_io
from rnnviz.session import SessionError, load_tree, read_header, save_tree
from session_testing import edit_session_json, example_tree, find_ref, read_members, write_members


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "run.rnnviz"
    save_tree(path, example_tree(np.random.default_rng(0)))
    return path


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def truncate(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[: keep(len(data))])


def random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(5000))


def zip_prefix_then_garbage(path):
    path.write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(3000))


def remove_member(path):
    members = read_members(path)
    del members["arrays/0002.npy"]
    write_members(path, members)


def add_member(path):
    members = read_members(path)
    members["evil.py"] = b"import os\n"
    write_members(path, members)


def add_unreferenced_array(path):
    members = read_members(path)
    members["arrays/0999.npy"] = npy_bytes(np.zeros(3))
    write_members(path, members)


def member_of_wrong_shape(path):
    members = read_members(path)
    members["arrays/0000.npy"] = npy_bytes(np.zeros((5, 8)))   # params.Wax is (8, 5)
    write_members(path, members)


def member_of_wrong_dtype(path):
    members = read_members(path)
    members["arrays/0000.npy"] = npy_bytes(np.zeros((8, 5), dtype=np.int64))
    write_members(path, members)


def pickled_object_member(path):
    members = read_members(path)
    members["arrays/0000.npy"] = npy_bytes(np.array([{"a": 1}] * 40, dtype=object).reshape(8, 5))
    write_members(path, members)


def declared_object_dtype(path):
    edit_session_json(path, lambda env: find_ref(env["tree"], "params", "Wax").update(dtype="object"))


def declared_shape_mismatch(path):
    edit_session_json(path, lambda env: find_ref(env["tree"], "params", "Wax").update(shape=[8, 6]))


def declared_huge_shape(path):
    edit_session_json(path, lambda env: find_ref(env["tree"], "params", "Wax").update(shape=[100_000, 100_000]))


def declared_negative_shape(path):
    edit_session_json(path, lambda env: find_ref(env["tree"], "params", "Wax").update(shape=[-8, 5]))


def reference_escapes_arrays_folder(path):
    edit_session_json(path, lambda env: find_ref(env["tree"], "params", "Wax").update(__array__="../x.npy"))


def same_array_twice(path):
    edit_session_json(path, lambda env: find_ref(env["tree"], "params", "Waa").update(
        __array__="arrays/0000.npy", shape=[8, 5]))


def nan_in_parameters(path):
    members = read_members(path)
    bad = np.zeros((8, 5))
    bad[3, 2] = np.nan
    members["arrays/0000.npy"] = npy_bytes(bad)
    write_members(path, members)


def inf_in_optimizer_state(path):
    members = read_members(path)
    bad = np.zeros((8, 5))
    bad[0, 0] = np.inf
    members["arrays/0005.npy"] = npy_bytes(bad)   # optimizer.memory.Wax
    write_members(path, members)


def future_version(path):
    edit_session_json(path, lambda env: env.update(format_version=7))


def not_json(path):
    members = read_members(path)
    members["session.json"] = b"{ this is not json"
    write_members(path, members)


def json_with_bare_nan(path):
    members = read_members(path)
    members["session.json"] = members["session.json"].replace(b'"lr":0.1', b'"lr":NaN')
    write_members(path, members)


def deeply_nested_json(path):
    members = read_members(path)
    nested = b"[" * 100_000 + b"]" * 100_000
    members["session.json"] = b'{"format_version":1,"rnnviz_version":"0","tree":{"a":' + nested + b"}}"
    write_members(path, members)


def numpy_npz(path):
    buffer = io.BytesIO()
    np.savez(buffer, a=np.zeros(3))
    path.write_bytes(buffer.getvalue())


def json_without_version(path):
    edit_session_json(path, lambda env: env.pop("format_version"))


def empty(path):
    path.write_bytes(b"")


def directory(path):
    path.unlink()
    path.mkdir()


def nonexistent(path):
    path.unlink()


BAD_FILES = [
    (lambda p: truncate(p, lambda n: n // 2), "damaged or incomplete"),
    (lambda p: truncate(p, lambda n: n - 1), "damaged or incomplete"),
    (lambda p: truncate(p, lambda n: 100), "damaged or incomplete"),
    (lambda p: truncate(p, lambda n: 3), "not an rnnviz session file"),
    (random_bytes, "not an rnnviz session file"),
    (zip_prefix_then_garbage, "damaged or incomplete"),
    (remove_member, "member arrays/0002.npy is missing"),
    (add_member, "unexpected member 'evil.py'"),
    (add_unreferenced_array, "unexpected member 'arrays/0999.npy'"),
    (member_of_wrong_shape, r"holds float64 \(5, 8\) but session.json declares float64 \(8, 5\)"),
    (member_of_wrong_dtype, "holds int64"),
    (pickled_object_member, "cannot hold|holds object"),
    (declared_object_dtype, "dtype 'object', which is not allowed"),
    (declared_shape_mismatch, r"holds float64 \(8, 5\) but session.json declares float64 \(8, 6\)"),
    (declared_huge_shape, "more than the limit"),
    (declared_negative_shape, "impossible shape"),
    (reference_escapes_arrays_folder, "bad array reference"),
    (same_array_twice, "referenced twice"),
    (nan_in_parameters, r"non-finite values \(NaN or infinity\) in params.Wax"),
    (inf_in_optimizer_state, r"non-finite values \(NaN or infinity\) in optimizer.memory.Wax"),
    (future_version, r"written by a newer rnnviz \(format 7\); this rnnviz reads up to format 1; please upgrade"),
    (not_json, "not valid JSON"),
    (json_with_bare_nan, "not valid JSON"),
    (deeply_nested_json, "nested"),
    (numpy_npz, r"not an rnnviz session file \(no session.json inside\)"),
    (json_without_version, "not an rnnviz session file"),
    (empty, r"is empty \(0 bytes\)"),
    (directory, "is a folder"),
    (nonexistent, "no such file"),
]


@pytest.mark.parametrize("damage, phrase", BAD_FILES, ids=[
    "truncated-half", "truncated-last-byte", "truncated-100", "truncated-3", "random-bytes",
    "zip-magic-then-garbage", "member-missing", "member-extra", "unreferenced-array", "wrong-shape",
    "wrong-dtype", "pickled-object", "declared-object-dtype", "declared-shape-mismatch",
    "declared-huge-shape", "declared-negative-shape", "path-escape", "array-twice", "nan-in-params",
    "inf-in-optimizer", "future-version", "not-json", "bare-nan-json", "deep-json", "numpy-npz",
    "no-version", "empty", "directory", "nonexistent"])
def test_bad_file_gives_one_clear_session_error(saved, damage, phrase):
    damage(saved)
    with pytest.raises(SessionError, match=phrase) as info:
        load_tree(saved, finite=[("params",), ("optimizer",)])
    message = str(info.value)
    assert "\n" not in message and str(saved) in message
    assert isinstance(info.value, ValueError)


def test_read_header_reports_the_same_problems(saved):
    remove_member(saved)
    with pytest.raises(SessionError, match="missing"):
        read_header(saved)


def test_unreadable_file_gives_permission_error(saved, monkeypatch):
    os.chmod(saved, 0)
    try:
        if os.access(saved, os.R_OK):  # running as root: permissions do not apply, simulate them
            def refuse(path, *args, **kwargs):
                raise PermissionError(13, "Permission denied", str(path))
            monkeypatch.setattr(session_io, "open", refuse, raising=False)
        with pytest.raises(SessionError, match="cannot read .*: permission denied"):
            load_tree(saved)
    finally:
        os.chmod(saved, 0o644)


def test_too_many_members_is_refused_before_reading(saved, monkeypatch):
    monkeypatch.setattr(session_io, "MAX_MEMBERS", 5)
    with pytest.raises(SessionError, match="more than the limit of 5"):
        load_tree(saved)


def test_small_file_claiming_a_huge_member_is_refused_before_reading(tmp_path, monkeypatch):
    """A few kB that would inflate to 20 MB where session.json promises 80 bytes."""
    path = tmp_path / "bomb.rnnviz"
    save_tree(path, {"x": np.zeros(10)})
    members = read_members(path)
    members["arrays/0000.npy"] = npy_bytes(np.zeros(10)) + bytes(20 << 20)
    write_members(path, members)
    assert path.stat().st_size < 100_000
    reads = []
    original = session_io._read_member

    def counting_reader(zf, info, source):
        reads.append(info.filename)
        return original(zf, info, source)

    monkeypatch.setattr(session_io, "_read_member", counting_reader)
    with pytest.raises(SessionError, match="cannot hold a float64 array of shape"):
        load_tree(path)
    assert reads == ["session.json"]


def test_member_larger_than_the_whole_file_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.rnnviz"
    save_tree(path, {"x": np.zeros(1000)})
    monkeypatch.setattr(session_io, "MAX_FILE_BYTES", 4000)
    with pytest.raises(SessionError, match="would unpack to more than"):
        load_tree(path)


def test_encrypted_or_strangely_compressed_members_are_refused(saved):
    data = bytearray(saved.read_bytes())
    central = int.from_bytes(data[-6:-2], "little")   # end-of-central-directory record: its offset
    assert data[central:central + 4] == b"PK\x01\x02"
    encrypted, lzma = bytearray(data), bytearray(data)
    encrypted[central + 8] |= 1                  # general purpose flags, bit 0: encrypted
    lzma[central + 10:central + 12] = (14).to_bytes(2, "little")   # compression method 14: LZMA
    for damaged, phrase in [(encrypted, "encrypted"), (lzma, "compression method")]:
        saved.write_bytes(bytes(damaged))
        with pytest.raises(SessionError, match=phrase):
            load_tree(saved)
