"""A save that fails raises SessionError, keeps the previous file intact and leaves no temporary file."""

import errno
import os

import numpy as np
import pytest

import rnnviz.session.io as session_io
from rnnviz.session import SessionError, load_tree, save_tree
from session_testing import assert_tree_equal, example_tree

OLD = {"version": "old", "w": np.arange(6.0).reshape(2, 3)}
NEW = example_tree(np.random.default_rng(0))


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "run.rnnviz"
    save_tree(path, OLD)
    return path


def assert_old_file_intact(path):
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "a temporary file was left behind"
    assert_tree_equal(OLD, load_tree(path))


def test_saving_over_an_old_file_replaces_it(old_file):
    save_tree(old_file, NEW)
    assert_tree_equal(NEW, load_tree(old_file))
    assert sorted(p.name for p in old_file.parent.iterdir()) == [old_file.name]


def test_new_file_gets_ordinary_permissions(tmp_path):
    path = tmp_path / "new.rnnviz"
    umask = os.umask(0o022)
    os.umask(umask)
    save_tree(path, NEW)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_disk_full_in_the_middle_of_writing(old_file, monkeypatch):
    real_write_zip = session_io._write_zip

    def fill_disk(file, json_bytes, arrays):
        real_write_zip(file, json_bytes, arrays[:1])  # part of the archive reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(session_io, "_write_zip", fill_disk)
    with pytest.raises(SessionError, match="the disk is full; any previous file there is unchanged"):
        save_tree(old_file, NEW)
    assert_old_file_intact(old_file)


def test_failure_when_renaming_into_place(old_file, monkeypatch):
    def refuse(src, dst):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(session_io.os, "replace", refuse)
    with pytest.raises(SessionError, match="input/output error"):
        save_tree(old_file, NEW)
    monkeypatch.undo()
    assert_old_file_intact(old_file)


def test_interrupted_save_leaves_no_temporary_file(old_file, monkeypatch):
    def interrupt(file, json_bytes, arrays):
        file.write(b"PK")
        raise KeyboardInterrupt

    monkeypatch.setattr(session_io, "_write_zip", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_tree(old_file, NEW)
    assert_old_file_intact(old_file)


def test_no_permission_to_write_in_the_folder(old_file, monkeypatch):
    folder = old_file.parent
    os.chmod(folder, 0o555)
    try:
        if os.access(folder, os.W_OK):  # running as root: permissions do not apply, simulate them
            real_open = os.open

            def refuse(path, flags, *args, **kwargs):
                if os.path.dirname(os.fspath(path)) == str(folder) and flags & os.O_CREAT:
                    raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
                return real_open(path, flags, *args, **kwargs)

            monkeypatch.setattr(session_io.os, "open", refuse)
        with pytest.raises(SessionError, match="cannot save .*: permission denied"):
            save_tree(old_file, NEW)
    finally:
        monkeypatch.undo()
        os.chmod(folder, 0o755)
    assert_old_file_intact(old_file)


def test_path_is_a_folder(old_file):
    (old_file.parent / "folder.rnnviz").mkdir()
    with pytest.raises(SessionError, match="is a folder"):
        save_tree(old_file.parent / "folder.rnnviz", NEW)
    (old_file.parent / "folder.rnnviz").rmdir()
    assert_old_file_intact(old_file)


def test_parent_folder_missing(old_file):
    with pytest.raises(SessionError, match="the folder .*missing.* does not exist"):
        save_tree(old_file.parent / "missing" / "run.rnnviz", NEW)
    assert_old_file_intact(old_file)


def test_tree_that_cannot_be_saved_leaves_old_file_alone(old_file):
    with pytest.raises(SessionError):
        save_tree(old_file, {"bad": object()})
    assert_old_file_intact(old_file)
