"""Saving and resuming a training run: a ``Trainer`` to and from one ``*.rnnviz`` file.

The file's tree is the trainer's ``state_dict`` wrapped in an envelope::

    {"kind": "rnnviz-session",
     "corpus": None | {"name", "chars", "bytes", "sha256", "text": uint8 array | None},
     "trainer": trainer.state_dict(), with the history's event lists stored as columns}

The corpus text (UTF-8, as trained on) is embedded when it is at most ``EMBED_CORPUS_BYTES``;
otherwise loading reads the file again and checks its size and SHA-256.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np

from rnnviz.errors import InputError
from rnnviz.session.format import FORMAT_VERSION, ArrayRef, SessionError
from rnnviz.session.io import load_tree, read_array, read_header, save_tree
from rnnviz.tasks.corpus import default_corpus, load_corpus
from rnnviz.training import Trainer

KIND = "rnnviz-session"
EMBED_CORPUS_BYTES = 2 * 1024 * 1024
BUILT_IN_CORPUS = "<built-in>"

FINITE_PATHS = (("trainer", "params"), ("trainer", "optimizer", "slots"), ("trainer", "carried_state"))
"""Where every float must be finite: a file with NaN weights cannot continue training."""

_TREE_KEYS = {"kind", "corpus", "trainer"}
_CORPUS_KEYS = {"name", "chars", "bytes", "sha256", "text"}


def save_session(trainer: Trainer, path: str | os.PathLike) -> None:
    """Write everything needed to continue ``trainer`` exactly to ``path`` (atomically).

    Raises ``SessionError`` with a one-line message if the file cannot be written; any previous
    file at ``path`` is then left as it was.
    """
    state = trainer.state_dict()
    state["history"] = _history_to_columns(state["history"])
    tree = {"kind": KIND, "corpus": _corpus_identity(trainer), "trainer": state}
    save_tree(path, tree)


def load_session(path: str | os.PathLike, corpus_path: str | os.PathLike | None = None) -> Trainer:
    """The trainer saved at ``path``, ready to continue as if it had never stopped.

    ``corpus_path`` is only needed when the corpus was too large to embed and the file has
    moved since; its contents must be the text the session was trained on.
    Raises ``SessionError`` with a one-line message for any file that cannot be resumed.
    """
    source = f"'{os.fspath(path)}'"
    tree = load_tree(path, finite=FINITE_PATHS)
    _check_envelope(tree, source)
    state = tree["trainer"]
    config = state.get("config")
    if not isinstance(config, dict):
        raise SessionError(f"{source} is damaged: it has no run configuration")
    corpus_text, used_path = _corpus_text(tree["corpus"], config, corpus_path, source)
    if used_path is not None:
        config["corpus"] = used_path
    state["history"] = _history_from_columns(state.get("history"), source)
    try:
        return Trainer.from_state_dict(state, corpus_text=corpus_text)
    except InputError as exc:   # the file's own fault; anything else is a bug and is not hidden
        raise SessionError(f"{source} cannot be resumed: {exc}") from None


def describe_session(path: str | os.PathLike) -> dict:
    """A summary for ``rnnviz info``, read without loading the weights.

    Keys: task, cell, hidden, layers (1 for a file from before stacked layers), bidirectional (False
    for a file from before bidirectional layers), optimizer, steps,
    last_loss (None before the first step),
    format_version, rnnviz_version, corpus (file name, ``"<built-in>"`` or None),
    corpus_embedded, file_size (bytes).
    """
    source = f"'{os.fspath(path)}'"
    header = read_header(path)
    if header["format_version"] == FORMAT_VERSION:
        tree = header["tree"]
    else:  # an older layout: migrate the whole file rather than guess at it
        tree = load_tree(path)
    _check_envelope(tree, source)
    state, corpus = tree["trainer"], tree["corpus"]
    try:
        config = state["config"]
        loss = state["history"]["loss"]
        if isinstance(loss, ArrayRef):
            loss = read_array(path, loss)
        summary = {
            "task": str(config["task"]), "cell": str(config["cell"]), "hidden": int(config["hidden"]),
            "layers": int(config.get("layers", 1)), "bidirectional": config.get("bidirectional", False) is True,
            "optimizer": str(config["optimizer"]), "steps": int(state["step"]),
            "last_loss": float(loss[-1]) if len(loss) else None,
        }
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SessionError(f"{source} is damaged: its summary cannot be read ({exc})") from None
    summary.update(
        format_version=header["format_version"], rnnviz_version=header["rnnviz_version"],
        corpus=corpus["name"] if isinstance(corpus, dict) else None,
        corpus_embedded=isinstance(corpus, dict) and corpus.get("text") is not None,
        file_size=os.stat(path).st_size,
    )
    return summary


# --------------------------------------------------------------------------- envelope

def _check_envelope(tree: dict, source: str) -> None:
    kind = tree.get("kind")
    if kind != KIND:
        raise SessionError(f"{source} is not an rnnviz session (it holds {kind!r:.40})")
    if set(tree) != _TREE_KEYS or not isinstance(tree["trainer"], dict):
        raise SessionError(f"{source} is damaged: its session tree does not have the expected layout")
    corpus = tree["corpus"]
    if corpus is not None and (not isinstance(corpus, dict) or set(corpus) != _CORPUS_KEYS
                               or not isinstance(corpus["name"], str)):
        raise SessionError(f"{source} is damaged: its corpus record does not have the expected layout")


def _corpus_identity(trainer: Trainer) -> dict | None:
    """Name, size and SHA-256 of the text the trainer learns from; the text itself if small."""
    text = getattr(trainer, "corpus_text", None)
    if text is None:
        return None
    data = text.encode("utf-8")
    path = trainer.config.corpus
    return {
        "name": os.path.basename(path) if path else BUILT_IN_CORPUS,
        "chars": len(text),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "text": np.frombuffer(data, dtype=np.uint8) if len(data) <= EMBED_CORPUS_BYTES else None,
    }


def _corpus_text(corpus: dict | None, config: dict, corpus_path, source: str) -> tuple[str | None, str | None]:
    """The corpus text to rebuild the trainer with, and the path it was read from (if read)."""
    if corpus is None:
        return None, None
    if corpus["text"] is not None:
        data = corpus["text"]
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 1:
            raise SessionError(f"{source} is damaged: its embedded corpus is not text")
        data = data.tobytes()
        if not _matches(data, corpus):
            raise SessionError(f"{source} is damaged: its embedded corpus does not match its recorded SHA-256")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SessionError(f"{source} is damaged: its embedded corpus is not UTF-8 text") from None
        if corpus_path is not None:   # a resumed run keeps its corpus: another text is a mistake
            try:
                same = _matches(load_corpus(corpus_path).encode("utf-8"), corpus)
            except ValueError:
                same = False
            if not same:
                raise SessionError(f"{source} was trained on {corpus['name']!r}, which it holds; the corpus "
                                   f"file '{os.fspath(corpus_path)}' is a different text, and a resumed run "
                                   f"keeps its corpus (start a new run to train on another text)")
        return text, None

    recorded = config.get("corpus")
    where = os.fspath(corpus_path) if corpus_path is not None else recorded
    size_mb = corpus["bytes"] / 2**20 if isinstance(corpus["bytes"], int) else float("nan")
    why = f"the session needs its {size_mb:.1f} MB corpus {corpus['name']!r}, which is too large to embed"
    if where is None:
        text = default_corpus()
        if not _matches(text.encode("utf-8"), corpus):
            raise SessionError(f"{source}: {why}, and this Python's built-in corpus differs from it; "
                               f"pass the original text as the corpus file")
        return text, None
    if not isinstance(where, str):
        raise SessionError(f"{source} is damaged: its corpus path is not text")
    try:
        text = load_corpus(where)
    except ValueError as exc:
        raise SessionError(f"{source}: {why}; it cannot be read ({exc}); "
                           f"pass its current location as the corpus file") from None
    if not _matches(text.encode("utf-8"), corpus):
        raise SessionError(f"{source}: {why}; '{where}' has changed since the session was saved "
                           f"(size or SHA-256 differs); restore the original text or pass its location")
    return text, (where if where != recorded else None)


def _matches(data: bytes, corpus: dict) -> bool:
    return len(data) == corpus["bytes"] and hashlib.sha256(data).hexdigest() == corpus["sha256"]


# --------------------------------------------------------------------------- history events as columns

def _history_to_columns(history: dict) -> dict:
    """The history's event lists as arrays: steps and metric values become int64/float64 columns.

    evals [[step, {metric: value}]]          -> {"step": (E,), "metrics": {metric: (E,)}, "missing": [[i, metric]]}
    setting_changes [[step, name, old, new]] -> {"step": (C,), "name": [...], "old": [...], "new": [...]}
    samples [[step, text]]                   -> {"step": (S,), "text": [...]}
    """
    history = dict(history)
    evals = history["evals"]
    names: list[str] = []
    for _, metrics in evals:
        names += [name for name in metrics if name not in names]
    history["evals"] = {
        "step": np.array([step for step, _ in evals], dtype=np.int64),
        "metrics": {name: np.array([m.get(name, math.nan) for _, m in evals], dtype=np.float64)
                    for name in names},
        "missing": [[i, name] for i, (_, m) in enumerate(evals) for name in names if name not in m],
    }
    changes = history["setting_changes"]
    history["setting_changes"] = {
        "step": np.array([c[0] for c in changes], dtype=np.int64),
        "name": [c[1] for c in changes], "old": [c[2] for c in changes], "new": [c[3] for c in changes],
    }
    samples = history["samples"]
    history["samples"] = {"step": np.array([s[0] for s in samples], dtype=np.int64),
                          "text": [s[1] for s in samples]}
    return history


def _history_from_columns(history, source: str) -> dict:
    """Inverse of ``_history_to_columns``."""
    if not isinstance(history, dict):
        raise SessionError(f"{source} is damaged: it has no training history")
    history = dict(history)
    try:
        evals = history["evals"]
        steps = _steps(evals["step"])
        columns = evals["metrics"]
        missing = {(int(i), str(name)) for i, name in evals["missing"]}
        if any(c.shape != steps.shape for c in columns.values()):
            raise ValueError("metric columns differ in length")
        history["evals"] = [[int(s), {name: float(col[i]) for name, col in columns.items()
                                      if (i, name) not in missing}] for i, s in enumerate(steps)]
        changes = history["setting_changes"]
        steps = _steps(changes["step"])
        if not len(steps) == len(changes["name"]) == len(changes["old"]) == len(changes["new"]):
            raise ValueError("setting change columns differ in length")
        history["setting_changes"] = [[int(s), n, o, v] for s, n, o, v
                                      in zip(steps, changes["name"], changes["old"], changes["new"])]
        samples = history["samples"]
        steps = _steps(samples["step"])
        if len(steps) != len(samples["text"]):
            raise ValueError("sample columns differ in length")
        history["samples"] = [[int(s), t] for s, t in zip(steps, samples["text"])]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SessionError(f"{source} is damaged: its history is malformed ({exc})") from None
    return history


def _steps(value) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype != np.int64:
        raise ValueError("event steps must be a 1-d int64 array")
    return value
