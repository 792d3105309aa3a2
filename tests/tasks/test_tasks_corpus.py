"""A user's text file either loads or gives a one-line message naming the problem and the fix."""

import os
import sys

import pytest

from rnnviz.tasks import corpus
from rnnviz.tasks.corpus import default_corpus, load_corpus


def test_utf8_text_loads_with_line_ends_normalised(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_bytes("\ufeffNel mezzo del cammin\r\ndi nostra vita\rmi ritrovai…\n".encode("utf-8"))
    assert load_corpus(path) == "Nel mezzo del cammin\ndi nostra vita\nmi ritrovai…\n"
    assert load_corpus(str(path)) == load_corpus(path)


def _problem(path, match):
    with pytest.raises(ValueError, match=match) as info:
        load_corpus(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_file(tmp_path):
    assert "check the path" in _problem(tmp_path / "nope.txt", "not found")


def test_directory(tmp_path):
    assert "choose a text file" in _problem(tmp_path, "folder")


def test_empty_and_blank_files(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b" \n\n\t ")
    _problem(tmp_path / "empty.txt", "empty")
    _problem(tmp_path / "blank.txt", "only whitespace")


def test_binary_file(tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "plain UTF-8" in _problem(tmp_path / "image.png", "binary")


def test_not_utf8(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9 cr\u00e8me".encode("latin-1"))
    assert "re-save it" in _problem(tmp_path / "latin1.txt", "not UTF-8.*offset 3")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("hidden", encoding="utf-8")
    path.chmod(0)
    try:
        _problem(path, "cannot read")
    finally:
        path.chmod(0o600)


def test_unreadable_reports_the_os_error(tmp_path, monkeypatch):
    path = tmp_path / "locked.txt"
    path.write_text("text", encoding="utf-8")

    def refuse(self):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(type(path), "read_bytes", refuse)
    assert "Permission denied" in _problem(path, "cannot read")


def test_too_large(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("a" * 2000, encoding="utf-8")
    monkeypatch.setattr(corpus, "MAX_CORPUS_BYTES", 1000)
    _problem(path, "too large")


def test_default_corpus_is_about_a_megabyte_of_deterministic_text():
    text = default_corpus()
    assert isinstance(text, str)
    assert 900_000 <= len(text) <= 1_000_000
    assert "\x00" not in text and text.isascii()
    assert "def " in text and "import " in text
    assert len(set(text)) < 100
    default_corpus.cache_clear()
    assert default_corpus() == text
    assert default_corpus() is default_corpus()          # cached in memory


def test_default_corpus_falls_back_to_rnnviz_sources(monkeypatch, tmp_path):
    monkeypatch.setattr(corpus.sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path / "no-stdlib")})
    default_corpus.cache_clear()
    try:
        text = default_corpus()
        assert "def load_corpus(" in text and "rnnviz" in text
    finally:
        default_corpus.cache_clear()
