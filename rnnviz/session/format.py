"""The session file schema: version, limits, and the tree <-> JSON encoding.

A session file is a zip archive holding one ``session.json`` and one ``.npy`` member per array::

    session.json        {"format_version": 1, "rnnviz_version": "0.1.0", "tree": {...}}
    arrays/0000.npy     each array the tree holds, in the order the tree is walked
    arrays/0001.npy     ...

Inside ``tree`` an array is replaced by a reference
``{"__array__": "arrays/0007.npy", "dtype": "float64", "shape": [100, 95]}`` and a non-finite
float by ``{"__float__": "nan"}`` (so ``session.json`` is standard JSON). Nothing in the file is
executable: no pickle, only JSON and plain numeric ``.npy`` arrays.

Old files keep opening: ``MIGRATIONS[v]`` turns a loaded tree written in format ``v`` into
format ``v + 1``; loading applies them in order up to ``FORMAT_VERSION``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnviz.errors import SessionError  # noqa: F401  (re-exported: raised throughout this package)

FORMAT_VERSION = 1
"""The format this rnnviz writes, and the newest it reads."""

JSON_MEMBER = "session.json"
ARRAY_MEMBER_PATTERN = re.compile(r"arrays/[0-9]{4,5}\.npy")

ALLOWED_DTYPES = ("float32", "float64", "int64", "int32", "uint8", "bool")
"""Array dtypes a session file may hold (stored little-endian)."""

# Hard limits on what a file may make rnnviz allocate, checked before anything is read.
MAX_FILE_BYTES = 1 << 30           # the whole file, and the sum of all members uncompressed
MAX_ARRAY_BYTES = 256 << 20        # one array's data
MAX_JSON_BYTES = 64 << 20          # session.json
MAX_MEMBERS = 10_000               # zip members, session.json included
MAX_NPY_HEADER_BYTES = 4096        # an .npy header (ours are 128 bytes)
MAX_NDIM = 8
MAX_DEPTH = 64                     # nesting of dicts and lists in the tree

Migration = Callable[[dict], dict]
MIGRATIONS: dict[int, Migration] = {}
"""``{from_version: fn(tree) -> tree}``; ``fn`` takes a loaded tree of format ``from_version``
(arrays already numpy arrays) and returns the same content in format ``from_version + 1``."""




@dataclass(frozen=True)
class ArrayRef:
    """Where one array of the tree is stored, and what it must look like."""

    member: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize

    def to_json(self) -> dict:
        return {"__array__": self.member, "dtype": self.dtype, "shape": list(self.shape)}


def array_member_name(index: int) -> str:
    return f"arrays/{index:04d}.npy"


# --------------------------------------------------------------------------- encoding (save)

def encode_tree(tree: dict) -> tuple[dict, list[tuple[ArrayRef, np.ndarray]]]:
    """Split ``tree`` into a JSON-able tree with array references and the list of arrays.

    Tuples become lists; numpy scalars become Python numbers; arrays become C-ordered
    little-endian copies. Raises ``SessionError`` for anything that would not load back the same.
    """
    if not isinstance(tree, dict):
        raise SessionError(f"a session tree must be a dict (got {type(tree).__name__})")
    arrays: list[tuple[ArrayRef, np.ndarray]] = []
    return _encode(tree, arrays, "tree", 0), arrays


def _encode(value, arrays: list, where: str, depth: int):
    if depth > MAX_DEPTH:
        raise SessionError(f"cannot save: {where} is nested more than {MAX_DEPTH} levels deep (a cycle?)")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isfinite(value):
            return value
        return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, np.ndarray):
        return _encode_array(value, arrays, where)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise SessionError(f"cannot save: {where} has a key that is not a string: {key!r}")
            if key in ("__array__", "__float__"):
                raise SessionError(f"cannot save: {where} uses the reserved key {key!r}")
            out[key] = _encode(item, arrays, f"{where}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise SessionError(f"cannot save: {where} is a {type(value).__name__}, which a session file cannot hold")


def _encode_array(array: np.ndarray, arrays: list, where: str) -> dict:
    name = array.dtype.name
    if name not in ALLOWED_DTYPES:
        raise SessionError(f"cannot save: {where} has dtype {array.dtype}; allowed: {', '.join(ALLOWED_DTYPES)}")
    if array.ndim > MAX_NDIM:
        raise SessionError(f"cannot save: {where} has {array.ndim} dimensions (at most {MAX_NDIM})")
    if array.nbytes > MAX_ARRAY_BYTES:
        raise SessionError(f"cannot save: {where} is {array.nbytes} bytes (at most {MAX_ARRAY_BYTES})")
    if len(arrays) + 1 >= MAX_MEMBERS:
        raise SessionError(f"cannot save: the tree holds more than {MAX_MEMBERS - 1} arrays")
    ref = ArrayRef(array_member_name(len(arrays)), name, tuple(int(n) for n in array.shape))
    stored = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")  # keeps 0-d arrays 0-d
    arrays.append((ref, stored))
    return ref.to_json()


# --------------------------------------------------------------------------- decoding (load)

def decode_tree(data, source: str) -> tuple[dict, list[ArrayRef]]:
    """The tree from parsed JSON, with every array reference replaced by a checked ``ArrayRef``.

    ``source`` names the file in error messages. Raises ``SessionError`` on anything unexpected.
    """
    if not isinstance(data, dict):
        raise SessionError(f"{source} is damaged: its session tree is not a JSON object")
    refs: list[ArrayRef] = []
    tree = _decode(data, refs, source, 0)
    seen = set()
    for ref in refs:
        if ref.member in seen:
            raise SessionError(f"{source} is damaged: array {ref.member} is referenced twice")
        seen.add(ref.member)
    return tree, refs


def _decode(value, refs: list, source: str, depth: int):
    if depth > MAX_DEPTH:
        raise SessionError(f"{source} is damaged: its tree is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, list):
        return [_decode(item, refs, source, depth + 1) for item in value]
    if isinstance(value, dict):
        if "__array__" in value:
            ref = _decode_ref(value, source)
            refs.append(ref)
            return ref
        if "__float__" in value:
            return _decode_float(value, source)
        return {key: _decode(item, refs, source, depth + 1) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise SessionError(f"{source} is damaged: its JSON holds a bare non-finite number")
    return value  # str, int, float, bool, None: all JSON can hold


def _decode_float(value: dict, source: str) -> float:
    text = value.get("__float__")
    if set(value) != {"__float__"} or text not in ("nan", "inf", "-inf"):
        raise SessionError(f"{source} is damaged: bad special number {value!r:.80}")
    return float(text)


def _decode_ref(value: dict, source: str) -> ArrayRef:
    member, dtype, shape = value.get("__array__"), value.get("dtype"), value.get("shape")
    if set(value) != {"__array__", "dtype", "shape"} or not isinstance(member, str) \
            or not ARRAY_MEMBER_PATTERN.fullmatch(member):
        raise SessionError(f"{source} is damaged: bad array reference {value!r:.120}")
    if dtype not in ALLOWED_DTYPES:
        raise SessionError(f"{source} declares array {member} with dtype {dtype!r:.40}, "
                           f"which is not allowed ({', '.join(ALLOWED_DTYPES)})")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_ARRAY_BYTES for n in shape):
        raise SessionError(f"{source} declares array {member} with an impossible shape {shape!r:.80}")
    ref = ArrayRef(member, dtype, tuple(shape))
    if ref.nbytes > MAX_ARRAY_BYTES:
        raise SessionError(f"{source} declares array {member} of {ref.nbytes} bytes, "
                           f"more than the limit of {MAX_ARRAY_BYTES}")
    return ref


def replace_refs(tree, arrays: dict[str, np.ndarray]):
    """A copy of ``tree`` with every ``ArrayRef`` replaced by ``arrays[ref.member]``."""
    if isinstance(tree, ArrayRef):
        return arrays[tree.member]
    if isinstance(tree, dict):
        return {key: replace_refs(item, arrays) for key, item in tree.items()}
    if isinstance(tree, list):
        return [replace_refs(item, arrays) for item in tree]
    return tree


# --------------------------------------------------------------------------- versions

def check_version(version, source: str) -> None:
    """Raise ``SessionError`` unless files of format ``version`` can be read (maybe after migration)."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SessionError(f"{source} is damaged: bad format version {version!r:.40}")
    if version > FORMAT_VERSION:
        raise SessionError(f"{source} was written by a newer rnnviz (format {version}); "
                           f"this rnnviz reads up to format {FORMAT_VERSION}; please upgrade")
    missing = [v for v in range(version, FORMAT_VERSION) if v not in MIGRATIONS]
    if missing:
        raise SessionError(f"{source} uses format {version}, which this rnnviz can no longer read "
                           f"(no conversion from format {missing[0]})")


def migrate(tree: dict, version: int, source: str) -> dict:
    """Bring a loaded tree of format ``version`` up to ``FORMAT_VERSION``."""
    check_version(version, source)
    for v in range(version, FORMAT_VERSION):
        try:
            tree = MIGRATIONS[v](tree)
        except SessionError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise SessionError(f"{source} could not be converted from format {v} to {v + 1}: "
                               f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(tree, dict):
            raise SessionError(f"converting {source} from format {v} did not give a tree")
    return tree
