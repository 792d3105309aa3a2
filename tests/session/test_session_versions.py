"""Older files keep opening through migrations; newer files give a clear 'please upgrade'."""

import numpy as np
import pytest

import rnnviz.session.format as session_format
from rnnviz.session import FORMAT_VERSION, MIGRATIONS, SessionError, load_tree, read_header, save_tree
from session_testing import assert_tree_equal, edit_session_json, example_tree


def write_version_0(path, tree):
    """A synthetic format-0 file: the layout before history.setting_changes existed."""
    old = {**tree, "history": {k: v for k, v in tree["history"].items() if k != "setting_changes"}}
    save_tree(path, old)
    edit_session_json(path, lambda env: env.update(format_version=0))


def add_setting_changes(tree):
    tree["history"]["setting_changes"] = {"step": np.zeros(0, dtype=np.int64), "name": [], "old": [], "new": []}
    return tree


def test_current_format_is_1():
    assert FORMAT_VERSION == 1


def test_old_file_is_migrated_on_load(tmp_path, monkeypatch):
    monkeypatch.setitem(MIGRATIONS, 0, add_setting_changes)
    tree = example_tree(np.random.default_rng(0))
    write_version_0(tmp_path / "old.rnnviz", tree)
    assert read_header(tmp_path / "old.rnnviz")["format_version"] == 0

    loaded = load_tree(tmp_path / "old.rnnviz")

    expected = add_setting_changes({**tree, "history": {k: v for k, v in tree["history"].items()
                                                       if k != "setting_changes"}})
    assert_tree_equal(expected, loaded)
    save_tree(tmp_path / "resaved.rnnviz", loaded)   # re-saving writes the current format
    assert read_header(tmp_path / "resaved.rnnviz")["format_version"] == FORMAT_VERSION


def test_migrations_run_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(session_format, "FORMAT_VERSION", 3)
    seen = []
    for v in range(3):
        monkeypatch.setitem(MIGRATIONS, v, lambda tree, v=v: seen.append(v) or {**tree, f"from_{v}": True})
    save_tree(tmp_path / "x.rnnviz", {"a": 1})
    edit_session_json(tmp_path / "x.rnnviz", lambda env: env.update(format_version=0))
    assert load_tree(tmp_path / "x.rnnviz") == {"a": 1, "from_0": True, "from_1": True, "from_2": True}
    assert seen == [0, 1, 2]


def test_old_format_without_a_migration_is_a_clear_error(tmp_path):
    write_version_0(tmp_path / "old.rnnviz", example_tree(np.random.default_rng(0)))
    with pytest.raises(SessionError, match="uses format 0, which this rnnviz can no longer read"):
        load_tree(tmp_path / "old.rnnviz")


def test_failing_migration_is_a_session_error(tmp_path, monkeypatch):
    monkeypatch.setitem(MIGRATIONS, 0, lambda tree: tree["no such key"])
    write_version_0(tmp_path / "old.rnnviz", example_tree(np.random.default_rng(0)))
    with pytest.raises(SessionError, match="could not be converted from format 0 to 1"):
        load_tree(tmp_path / "old.rnnviz")


@pytest.mark.parametrize("reader", [load_tree, read_header])
def test_newer_format_asks_to_upgrade(tmp_path, reader):
    save_tree(tmp_path / "new.rnnviz", {"a": 1})
    edit_session_json(tmp_path / "new.rnnviz", lambda env: env.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(SessionError) as info:
        reader(tmp_path / "new.rnnviz")
    assert str(info.value).endswith(
        f"was written by a newer rnnviz (format {FORMAT_VERSION + 1}); "
        f"this rnnviz reads up to format {FORMAT_VERSION}; please upgrade")


@pytest.mark.parametrize("version", [-1, "1", 1.0, True, None])
def test_nonsense_version_is_damaged(tmp_path, version):
    save_tree(tmp_path / "x.rnnviz", {"a": 1})
    edit_session_json(tmp_path / "x.rnnviz", lambda env: env.update(format_version=version))
    with pytest.raises(SessionError, match="bad format version"):
        load_tree(tmp_path / "x.rnnviz")
