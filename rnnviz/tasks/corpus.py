"""Text for the character model: a user's UTF-8 file, or a built-in corpus assembled at run time.

The built-in corpus is Python source code: the standard library of the interpreter running
rnnviz (nothing third-party is stored in the repository). It is built the same way every time
for a given interpreter, so runs with the same seed see the same text.
"""

from __future__ import annotations

import functools
import os
import sysconfig
from pathlib import Path

from rnnviz.errors import InputError

MAX_CORPUS_BYTES = 64 * 1024 * 1024
"""Larger files are refused: the whole text is held in memory as token ids."""

DEFAULT_CORPUS_CHARS = 1_000_000
"""Size of the built-in corpus in characters (ASCII, so also in bytes)."""

MIN_FILE_BYTES = 1024
MAX_FILE_BYTES = 64 * 1024
# Test suites, installed third-party packages, and codec tables (data rather than code).
_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "encodings"})


def load_corpus(path) -> str:
    """The text of a UTF-8 file, with Windows/old-Mac line ends turned into ``\\n``.

    Raises ``ValueError`` with a one-line message naming the problem and the fix for a missing
    file, a folder, an unreadable or too large file, an empty file, binary data, or text that
    is not UTF-8.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"corpus file not found: {p} (check the path, or leave corpus empty for the built-in text)")
    if p.is_dir():
        raise InputError(f"corpus path is a folder, not a file: {p} (choose a text file inside it)")
    try:
        size = p.stat().st_size
        if size > MAX_CORPUS_BYTES:
            raise InputError(f"corpus file is too large ({size / 2**20:.0f} MB): {p} "
                             f"(use a file under {MAX_CORPUS_BYTES // 2**20} MB, e.g. a slice of it)")
        data = p.read_bytes()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise InputError(f"cannot read corpus file {p} ({reason}); check that it is a readable file") from None
    if not data:
        raise InputError(f"corpus file is empty: {p} (choose a file that contains text)")
    if b"\x00" in data:
        raise InputError(f"corpus file looks binary (it contains NUL bytes): {p} (choose a plain UTF-8 text file)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"corpus file is not UTF-8 text (bad byte at offset {err.start}): {p} "
                         "(re-save it with UTF-8 encoding)") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"corpus file holds only whitespace: {p} (choose a file that contains text)")
    return text


@functools.lru_cache(maxsize=1)
def default_corpus() -> str:
    """About 1 MB of Python source: the running interpreter's standard library.

    The selection is deterministic: public modules (no leading underscore, so no generated
    files such as ``_sysconfigdata``) of 1 to 64 KB outside test folders, codec tables and
    site-packages, in sorted path order, taken with an even stride across the whole library so
    the text mixes many modules instead of a few huge ones; files that are not plain ASCII are
    skipped (the vocabulary stays under 100 characters). They are concatenated up to ``DEFAULT_CORPUS_CHARS``
    (cut at a line end). If the standard library sources are missing (some embedded or slimmed
    installs), rnnviz's own source files are used instead.
    """
    text = _concatenate(_spread(_stdlib_files(), DEFAULT_CORPUS_CHARS), DEFAULT_CORPUS_CHARS)
    if len(text) < DEFAULT_CORPUS_CHARS // 10:
        text = _concatenate(_python_files(Path(__file__).resolve().parents[1]), DEFAULT_CORPUS_CHARS)
    return text


def _stdlib_files() -> list[Path]:
    stdlib = sysconfig.get_paths().get("stdlib")
    return _python_files(Path(stdlib)) if stdlib else []


def _python_files(root: Path) -> list[Path]:
    """*.py files under ``root`` in sorted relative-path order, outside test and package folders."""
    if not root.is_dir():
        return []
    found: list[tuple[str, Path]] = []
    for folder, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in _SKIP_DIRS]
        base = Path(folder)
        for name in names:
            if name.endswith(".py"):
                f = base / name
                found.append((f.relative_to(root).as_posix(), f))
    return [f for _, f in sorted(found)]


def _spread(files: list[Path], limit: int) -> list[Path]:
    """Eligible ``files`` reordered as every s-th file, then the ones after those, ... (stride s)."""
    sized = []
    for f in files:
        name = f.name
        if name.startswith("_") and name != "__init__.py":
            continue
        try:
            size = f.stat().st_size
        except OSError:
            continue
        if MIN_FILE_BYTES <= size <= MAX_FILE_BYTES:
            sized.append((f, size))
    total = sum(size for _, size in sized)
    stride = max(1, total // limit)
    return [f for offset in range(stride) for f, _ in sized[offset::stride]]


def _concatenate(files: list[Path], limit: int) -> str:
    parts: list[str] = []
    total = 0
    for f in files:
        try:
            data = f.read_bytes()
        except OSError:
            continue
        if not data or not data.isascii() or b"\x00" in data:
            continue
        part = data.decode("ascii").replace("\r\n", "\n").replace("\r", "\n")
        if not part.endswith("\n"):
            part += "\n"
        parts.append(part)
        total += len(part)
        if total >= limit:
            break
    text = "".join(parts)
    if len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        text = text[:cut + 1] if cut > 0 else text[:limit]
    return text
