"""Reading and writing session files: atomic saves, loads that check everything before reading.

``save_tree`` writes to a temporary file in the target's folder, syncs it to disk and renames it
over the target, so a failed save never damages the previous file. ``load_tree`` checks every
zip member's name, declared size, dtype and shape against ``session.json`` and the limits in
``format`` before reading it, reads at most the declared bytes, and turns every problem into a
``SessionError`` with a one-line message.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import secrets
import shutil
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from rnnviz import __version__
from rnnviz.session.format import (
    FORMAT_VERSION, JSON_MEMBER, MAX_FILE_BYTES, MAX_JSON_BYTES, MAX_MEMBERS, MAX_NPY_HEADER_BYTES,
    ArrayRef, SessionError, check_version, decode_tree, encode_tree, migrate, replace_refs,
)

_ZIP_MAGIC = b"PK\x03\x04"
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)   # identical content gives identical bytes
_ENVELOPE_KEYS = {"format_version", "rnnviz_version", "tree"}


# --------------------------------------------------------------------------- saving

def save_tree(path: str | os.PathLike, tree: dict) -> None:
    """Write ``tree`` (nested dicts/lists of str, int, float, bool, None, np.ndarray) to ``path``.

    Atomic: the data goes to a temporary file beside ``path``, is flushed and fsync'ed, then
    renamed over ``path``. On any failure ``SessionError`` is raised, the previous file at
    ``path`` (if any) is unchanged and no temporary file is left behind. A symlink is saved
    through (its target is replaced, the link kept); a replaced file keeps its permissions; a
    folder, device, pipe or socket is never replaced.
    """
    target = os.fspath(path)
    source = f"'{target}'"
    encoded, arrays = encode_tree(tree)
    envelope = {"format_version": FORMAT_VERSION, "rnnviz_version": __version__, "tree": encoded}
    json_bytes = json.dumps(envelope, allow_nan=False, ensure_ascii=False,
                            separators=(",", ":")).encode("utf-8")
    if len(json_bytes) > MAX_JSON_BYTES:
        raise SessionError(f"cannot save {source}: its JSON part would exceed {MAX_JSON_BYTES} bytes")
    if len(json_bytes) + sum(a.nbytes for _, a in arrays) > MAX_FILE_BYTES:
        raise SessionError(f"cannot save {source}: the session would exceed {MAX_FILE_BYTES} bytes")

    target, existing = _resolve_target(target, source)
    folder = os.path.dirname(target)

    temp = _create_temp(target, source)
    try:
        with open(temp, "wb") as file:
            _write_zip(file, json_bytes, arrays)
            file.flush()
            os.fsync(file.fileno())
        if existing is not None:       # the replacement keeps the old file's permissions and owner
            os.chmod(temp, stat.S_IMODE(existing.st_mode))
            with contextlib.suppress(OSError, AttributeError):
                os.chown(temp, existing.st_uid, existing.st_gid)
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.remove(temp)
        if isinstance(exc, OSError):
            raise SessionError(f"cannot save {source}: {_reason(exc)}; any previous file there is unchanged") from exc
        raise
    _sync_folder(folder)


def _resolve_target(path: str, source: str) -> tuple[str, os.stat_result | None]:
    """The file a save at ``path`` writes: symlinks followed to their target, so that the link
    survives; with the target's current ``stat`` (None if it does not exist yet).

    ``SessionError`` for an empty name, a missing folder, a folder, or a special file (a device,
    a pipe, a socket), which a save must never replace."""
    if not path:
        raise SessionError("cannot save: no file name given")
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise SessionError(f"cannot save {source}: the folder '{folder}' does not exist")
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        return target, None
    except OSError as exc:
        raise SessionError(f"cannot save {source}: {_reason(exc)}") from None
    if stat.S_ISDIR(existing.st_mode):
        raise SessionError(f"cannot save {source}: it is a folder")
    if not stat.S_ISREG(existing.st_mode):
        raise SessionError(f"cannot save {source}: it is not a regular file (a device, pipe or socket), "
                           f"which a save never replaces")
    return target, existing


def is_session_file(path: str | os.PathLike) -> bool:
    """True if ``path`` looks like a session file: a zip archive holding ``session.json``
    (read from its directory only; the file may still be damaged or from a newer version)."""
    try:
        with open(path, "rb") as file:
            if file.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
                return False
            file.seek(0)
            with zipfile.ZipFile(file) as zf:
                return JSON_MEMBER in zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def check_save_target(path: str | os.PathLike, *, protect: Iterable[str | os.PathLike] = (),
                      force: bool = False, need_bytes: int = 0) -> str:
    """Check, before any work is done, that a session can be saved at ``path``; return the file
    that will be written (``path`` with symlinks resolved).

    Refused with ``SessionError``: an empty name; a missing folder; a folder or special file; a
    file in ``protect`` (the corpus being trained on), even with ``force``; an existing non-empty
    file that is not a session, unless ``force``; a folder where a temporary file cannot be made
    (read-only, no permission) or with less than ``need_bytes`` free.
    """
    raw = os.fspath(path)
    source = f"'{raw}'"
    target, existing = _resolve_target(raw, source)
    for other in protect:
        other = os.path.realpath(os.fspath(other))
        if other == target or (existing is not None and os.path.exists(other)
                               and os.path.samefile(other, target)):
            raise SessionError(f"cannot save {source}: it is the corpus being trained on; choose another file name")
    if existing is not None and existing.st_size > 0 and not force and not is_session_file(target):
        raise SessionError(f"cannot save {source}: the file exists and is not an rnnviz session; "
                           f"choose another name (or --force to replace it)")
    folder = os.path.dirname(target)
    temp = _create_temp(target, source)
    with contextlib.suppress(OSError):
        os.remove(temp)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < need_bytes:
        raise SessionError(f"cannot save {source}: its folder has {free / 2**20:.1f} MB free, and the session "
                           f"needs about {need_bytes / 2**20:.1f} MB")
    return target


def _create_temp(target: str, source: str) -> str:
    """Create an empty, uniquely named temporary file in ``target``'s folder (mode follows umask)."""
    folder, name = os.path.split(os.path.abspath(target))
    for _ in range(100):
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise SessionError(f"cannot save {source}: {_reason(exc)}") from exc
        os.close(fd)
        return temp
    raise SessionError(f"cannot save {source}: could not create a temporary file beside it")


def _write_zip(file, json_bytes: bytes, arrays: list[tuple[ArrayRef, np.ndarray]]) -> None:
    """The archive: ``session.json`` first, then one .npy member per array, all deflated."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr(_member_info(JSON_MEMBER), json_bytes)
        for ref, array in arrays:
            with zf.open(_member_info(ref.member), "w") as member:
                np.lib.format.write_array(member, array, version=(1, 0), allow_pickle=False)


def _member_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable where the platform allows it (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(exc: OSError) -> str:
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOENT: "the file or its folder does not exist",
        errno.EROFS: "the file system is read-only",
        errno.EISDIR: "it is a folder",
    }
    return reasons.get(exc.errno) or (exc.strerror or str(exc) or type(exc).__name__).lower()


# --------------------------------------------------------------------------- loading

def load_tree(path: str | os.PathLike, *, finite: Iterable[tuple[str, ...]] = ()) -> dict:
    """The tree saved at ``path``, migrated to the current format.

    ``finite`` lists key paths (e.g. ``("trainer", "params")``) under which every float must be
    finite. Raises ``SessionError`` (one line, for the user) if the file cannot be read or is
    not a valid session file; never another exception for bad file contents.
    """
    source = f"'{os.fspath(path)}'"
    with _open_zip(path, source) as zf:
        with _damaged(source):
            version, _, tree, refs = _read_json(zf, source)
            arrays = {ref.member: _read_array(zf, ref, source) for ref in refs}
    tree = migrate(replace_refs(tree, arrays), version, source)
    for key_path in finite:
        _check_finite(tree, tuple(key_path), source)
    return tree


def read_header(path: str | os.PathLike) -> dict:
    """Version information and the JSON part of ``path`` without reading any array.

    Returns ``{"format_version": int, "rnnviz_version": str, "tree": dict}`` where each array of
    the tree is an ``ArrayRef`` (member, dtype, shape). The tree is as written (not migrated):
    check ``format_version`` before relying on its layout. Member names and sizes are checked.
    """
    source = f"'{os.fspath(path)}'"
    with _open_zip(path, source) as zf:
        with _damaged(source):
            version, writer, tree, refs = _read_json(zf, source)
            for ref in refs:
                _check_member_size(zf.getinfo(ref.member), ref, source)
    return {"format_version": version, "rnnviz_version": writer, "tree": tree}


def read_array(path: str | os.PathLike, ref: ArrayRef) -> np.ndarray:
    """One array of ``path``, given its ``ArrayRef`` from ``read_header``, checked like ``load_tree``."""
    source = f"'{os.fspath(path)}'"
    with _open_zip(path, source) as zf:
        with _damaged(source):
            _, _, _, refs = _read_json(zf, source)
            if ref not in refs:
                raise SessionError(f"{source} holds no array {ref.member} of {ref.dtype} {ref.shape}")
            return _read_array(zf, ref, source)


@contextlib.contextmanager
def _open_zip(path, source: str) -> Iterator[zipfile.ZipFile]:
    """The open archive, after checking that ``path`` is a readable, plausible file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SessionError(f"no such file: {source}") from None
    except OSError as exc:
        raise SessionError(f"cannot read {source}: {_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise SessionError(f"{source} is a folder, not a session file")
    if not stat.S_ISREG(info.st_mode):
        raise SessionError(f"{source} is not a regular file")
    if info.st_size == 0:
        raise SessionError(f"{source} is empty (0 bytes), not a session file")
    if info.st_size > MAX_FILE_BYTES:
        raise SessionError(f"{source} is larger than the {MAX_FILE_BYTES >> 20} MiB limit for session files")
    try:
        file = open(path, "rb")
    except OSError as exc:
        raise SessionError(f"cannot read {source}: {_reason(exc)}") from None
    with file:
        with _damaged(source):
            if file.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
                raise SessionError(f"{source} is not an rnnviz session file")
            file.seek(0)
            try:
                archive = zipfile.ZipFile(file)
            except zipfile.BadZipFile:
                raise SessionError(f"{source} is damaged or incomplete (truncated?): "
                                   f"it is not a readable zip archive") from None
        with archive:
            yield archive


@contextlib.contextmanager
def _damaged(source: str) -> Iterator[None]:
    """Turn whatever a damaged archive makes zipfile, zlib, json or numpy raise into SessionError."""
    try:
        yield
    except SessionError:
        raise
    except RecursionError:
        raise SessionError(f"{source} is damaged: its JSON is nested too deeply") from None
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # a seek to a damaged offset
            raise SessionError(f"{source} is damaged or incomplete (bad offset inside the archive)") from None
        raise SessionError(f"cannot read {source}: {_reason(exc)}") from None
    # What the parsers raise on bad bytes: zipfile also raises NotImplementedError for a damaged
    # header's "needs zip version 14.2". RuntimeError and MemoryError are not the file's fault
    # (encrypted members are refused before reading; sizes are checked against limits first).
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, struct.error, ValueError,
            TypeError, KeyError, IndexError, OverflowError, NotImplementedError, UnicodeError) as exc:
        detail = str(exc)[:160] or type(exc).__name__
        raise SessionError(f"{source} is damaged or incomplete ({detail})") from None


def _read_json(zf: zipfile.ZipFile, source: str) -> tuple[int, str, dict, list[ArrayRef]]:
    """Check the archive's member list, read ``session.json``, and check it names exactly the members."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise SessionError(f"{source} has {len(infos)} members, more than the limit of {MAX_MEMBERS}")
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise SessionError(f"{source} is damaged: it holds a member name twice")
    if JSON_MEMBER not in names:
        raise SessionError(f"{source} is not an rnnviz session file (no {JSON_MEMBER} inside)")
    for info in infos:
        if info.flag_bits & 0x1:
            raise SessionError(f"{source} holds an encrypted member, which session files never do")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise SessionError(f"{source} uses a compression method session files never use")
    if sum(info.file_size for info in infos) > MAX_FILE_BYTES:
        raise SessionError(f"{source} would unpack to more than the {MAX_FILE_BYTES >> 20} MiB limit")

    info = zf.getinfo(JSON_MEMBER)
    if info.file_size > MAX_JSON_BYTES:
        raise SessionError(f"{source}: {JSON_MEMBER} is larger than the {MAX_JSON_BYTES >> 20} MiB limit")
    text = _read_member(zf, info, source).decode("utf-8")
    try:
        envelope = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise SessionError(f"{source} is damaged: {JSON_MEMBER} is not valid JSON") from None
    if not isinstance(envelope, dict) or "format_version" not in envelope:
        raise SessionError(f"{source} is not an rnnviz session file ({JSON_MEMBER} has no format version)")
    version = envelope["format_version"]
    check_version(version, source)
    if set(envelope) != _ENVELOPE_KEYS or not isinstance(envelope["rnnviz_version"], str):
        raise SessionError(f"{source} is damaged: {JSON_MEMBER} does not have the expected layout")
    tree, refs = decode_tree(envelope["tree"], source)

    expected = {JSON_MEMBER} | {ref.member for ref in refs}
    extra = sorted(set(names) - expected)
    if extra:
        raise SessionError(f"{source} contains an unexpected member {extra[0]!r:.80}")
    missing = sorted(expected - set(names))
    if missing:
        raise SessionError(f"{source} is damaged: member {missing[0]} is missing")
    return version, envelope["rnnviz_version"], tree, refs


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def _check_member_size(info: zipfile.ZipInfo, ref: ArrayRef, source: str) -> None:
    """The declared uncompressed size must fit an .npy of the declared dtype and shape."""
    if not ref.nbytes + 10 <= info.file_size <= ref.nbytes + MAX_NPY_HEADER_BYTES:
        raise SessionError(f"{source} is damaged: {ref.member} is {info.file_size} bytes, which cannot "
                           f"hold a {ref.dtype} array of shape {ref.shape}")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> bytes:
    """Exactly ``info.file_size`` bytes (zipfile checks the CRC on reaching the end)."""
    with zf.open(info) as member:
        data = member.read(info.file_size)
    if len(data) != info.file_size:
        raise SessionError(f"{source} is damaged or incomplete: {info.filename} is cut short")
    return data


def _read_array(zf: zipfile.ZipFile, ref: ArrayRef, source: str) -> np.ndarray:
    info = zf.getinfo(ref.member)
    _check_member_size(info, ref, source)
    data = _read_member(zf, info, source)
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=MAX_NPY_HEADER_BYTES)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=MAX_NPY_HEADER_BYTES)
    else:
        raise SessionError(f"{source} is damaged: {ref.member} is in an unknown .npy version {version}")
    expected = np.dtype(ref.dtype).newbyteorder("<")
    if dtype != expected or tuple(shape) != ref.shape or fortran_order:
        raise SessionError(f"{source} is damaged: {ref.member} holds {dtype} {tuple(shape)} but "
                           f"{JSON_MEMBER} declares {ref.dtype} {ref.shape}")
    if stream.tell() + ref.nbytes != len(data):
        raise SessionError(f"{source} is damaged: {ref.member} has {len(data) - stream.tell()} bytes of data, "
                           f"expected {ref.nbytes}")
    array = np.load(io.BytesIO(data), allow_pickle=False)
    if array.dtype != expected or array.shape != ref.shape:  # np.load re-reads the same header
        raise SessionError(f"{source} is damaged: {ref.member} does not match its declaration")
    return array.astype(np.dtype(ref.dtype), copy=False)


def _check_finite(tree, key_path: tuple[str, ...], source: str) -> None:
    node = tree
    for key in key_path:
        if not isinstance(node, dict) or key not in node:
            return  # absent: whoever needs it reports it missing
        node = node[key]
    for where, value in _leaves(node, list(key_path)):
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            ok = bool(np.isfinite(value).all())
        elif isinstance(value, float):
            ok = math.isfinite(value)
        else:
            continue
        if not ok:
            name = ".".join(str(k) for k in where)
            raise SessionError(f"{source} contains non-finite values (NaN or infinity) in {name}")


def _leaves(node, where: list):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, where + [key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, where + [i])
    else:
        yield where, node
