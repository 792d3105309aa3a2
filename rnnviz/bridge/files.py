"""``rnnviz export`` and ``rnnviz import``: sessions to and from safetensors files in PyTorch's names.

A safetensors file holds named arrays and a string-to-string header, never code, so nothing is
unpickled on import. See :mod:`rnnviz.bridge.torch_names` for the mapping.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile

import numpy as np

from rnnviz.engine.network import check_params
from rnnviz.errors import FileError, InputError
from rnnviz.session import check_save_target, load_session, save_session
from rnnviz.training.config import CELL_TITLES, Config
from rnnviz.training.trainer import Trainer

from .torch_names import FORMAT, TORCH_MODULES, from_torch, is_bidirectional, layer_count, to_torch

MAX_FILE_BYTES = 2 << 30


def export_session(session_path: str, out_path: str, *, force: bool = False) -> dict[str, str]:
    """Write the weights of the session at ``session_path`` to ``out_path``; returns the metadata."""
    from safetensors.numpy import save_file

    trainer = load_session(session_path)
    config = trainer.config
    if trainer.is_encoder_decoder:
        raise InputError(f"{session_path} holds an encoder–decoder ({config.task}); export writes one recurrent "
                         "layer and a read-out (nn.RNN, nn.LSTM, nn.GRU and nn.Linear), and no PyTorch module "
                         "holds an encoder, a decoder and attention")
    vocabulary = trainer.task.vocab if config.task == "charlm" else None
    tensors, metadata = to_torch(trainer.network.params, config.cell, config.activation, vocabulary,
                                 config.task)
    if config.task != "charlm":      # the task's settings fix the data's sizes: import rebuilds the task
        metadata["rnnviz_config"] = json.dumps({k: v for k, v in config.to_dict().items() if k != "preset"})
    target = _check_target(out_path, force)
    folder = os.path.dirname(target) or "."
    fd, temporary = tempfile.mkstemp(prefix=".rnnviz-export-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        save_file(tensors, temporary, metadata=metadata)
        os.replace(temporary, target)
    except OSError as exc:
        raise FileError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return metadata


def _check_target(path: str, force: bool) -> str:
    if not path:
        raise InputError("the output file needs a name")
    target = os.path.realpath(path)
    if os.path.isdir(target):
        raise FileError(f"cannot write {path}: it is a folder")
    if not os.path.isdir(os.path.dirname(target) or "."):
        raise FileError(f"cannot write {path}: its folder does not exist")
    if os.path.exists(target) and not force:
        raise FileError(f"{path} exists; add --force to replace it")
    return target


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays and header metadata of a safetensors file; ``FileError`` for anything unreadable."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, safe_open

    if not os.path.exists(path):
        raise FileError(f"no such file: {path}")
    if not os.path.isfile(path):
        raise FileError(f"{path} is not a regular file")
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise FileError(f"{path} is larger than the {MAX_FILE_BYTES >> 30} GiB limit")
    try:
        with safe_open(path, framework="np") as handle:
            metadata = dict(handle.metadata() or {})
        tensors = load_file(path)
    except (SafetensorError, ValueError, TypeError) as exc:   # a damaged or foreign file
        raise FileError(f"{path} is not a readable safetensors file ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        raise FileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return tensors, metadata


def import_weights(path: str, save_path: str, *, corpus_path: str | None = None, cell: str | None = None,
                   force: bool = False) -> Trainer:
    """A character-model session built from the PyTorch-named weights at ``path``, saved at
    ``save_path`` and returned.

    The vocabulary comes from the file's metadata (rnnviz's own exports carry it) or from the
    corpus; with both, the corpus must use exactly the file's symbols. Without a corpus the
    session's text is the vocabulary itself: enough to look inside the model (probe texts,
    ``rnnviz explain``), not to train or evaluate on.

    A file rnnviz exported from another task (parity, copy, …; metadata ``rnnviz_config``, the
    run's settings) makes a session of that task instead; this is how a bidirectional network comes
    back, since a character model cannot be one.
    """
    tensors, metadata = read_safetensors(path)
    fmt = metadata.get("format")
    if fmt is not None and fmt.startswith("rnnviz-torch") and fmt != FORMAT:
        raise InputError(f"{path} was written by a newer rnnviz ({fmt}); update rnnviz to read it")
    cell = cell or metadata.get("cell") or _cell_of(tensors)
    nonlinearity = metadata.get("nonlinearity") or "tanh"
    if cell == "rnn" and nonlinearity not in ("tanh", "relu"):
        raise InputError(f"{path} names the nonlinearity {nonlinearity!r}; nn.RNN has tanh and relu")
    params = from_torch(tensors, cell)
    layers = layer_count(params)
    if metadata.get("num_layers", str(layers)) != str(layers):
        raise InputError(f"{path} says num_layers {metadata['num_layers']} but holds the weights of {layers}")
    bidirectional = is_bidirectional(params)
    if metadata.get("bidirectional", str(bidirectional).lower()) != str(bidirectional).lower():
        raise InputError(f"{path} says bidirectional {metadata['bidirectional']} but holds the weights of "
                         f"{'a bidirectional' if bidirectional else 'a one-direction'} network")
    if "rnnviz_config" in metadata:
        return _import_task_session(path, metadata["rnnviz_config"], cell, params, save_path, force)
    if bidirectional:
        raise InputError(f"{path} holds a bidirectional nn.{TORCH_MODULES[cell]}; import makes character models, "
                         "which cannot be bidirectional (the reverse direction would read the character to "
                         "predict); rnnviz reads a bidirectional file only with the task settings its own "
                         "export writes (metadata rnnviz_config)")
    vocabulary = _vocabulary(metadata, path)
    corpus_text = None
    if corpus_path is not None:
        from rnnviz.tasks.corpus import load_corpus
        corpus_text = load_corpus(corpus_path)
        symbols = sorted(set(corpus_text))
        if vocabulary is not None and set(symbols) != set(vocabulary):
            extra = sorted(set(symbols) - set(vocabulary))
            lacking = sorted(set(vocabulary) - set(symbols))
            what = (f"characters the model never saw: {''.join(extra)!r}" if extra
                    else f"none of the model's characters {''.join(lacking)!r}")
            raise InputError(f"the corpus {corpus_path} does not match the model's vocabulary: it has {what}")
        if vocabulary is None:
            vocabulary = symbols
    if vocabulary is None:
        raise InputError(f"{path} does not list its vocabulary; give --corpus (the text the model was "
                         "trained on) so its symbols can be matched to the weights")
    D, K = params["Wax"].shape[1], params["Wya"].shape[0]
    if not D == K == len(vocabulary):
        raise InputError(f"the weights read {D} input and {K} output symbols, the vocabulary has "
                         f"{len(vocabulary)}")
    order = np.argsort(np.array(vocabulary, dtype=object), kind="stable")  # rnnviz's ids: sorted symbols
    params["Wax"], params["Wya"], params["by"] = params["Wax"][:, order], params["Wya"][order], params["by"][order]
    H = params["Waa"].shape[1]
    config = Config(task="charlm", cell=cell, activation=nonlinearity if cell == "rnn" else "tanh", hidden=H,
                    layers=layers, corpus=os.path.abspath(corpus_path) if corpus_path else None)
    if corpus_text is None:
        corpus_text = _placeholder_text(sorted(vocabulary), config.seq_length)
    check_save_target(save_path, force=force)
    state = Trainer(config, corpus_text=corpus_text).state_dict()   # a fresh run, then these weights
    state["params"] = params
    state["previous_params"] = {k: v.copy() for k, v in params.items()}
    trainer = Trainer.from_state_dict(state, corpus_text=corpus_text)
    save_session(trainer, save_path)
    return trainer


def _import_task_session(path: str, raw_config: str, cell: str, params: dict, save_path: str,
                         force: bool) -> Trainer:
    """A session of the task in the file's ``rnnviz_config`` metadata holding ``params``."""
    try:
        settings = json.loads(raw_config)
    except ValueError:
        raise InputError(f"{path}: its rnnviz_config metadata is not JSON") from None
    if not isinstance(settings, dict):
        raise InputError(f"{path}: its rnnviz_config metadata must be a JSON object of settings")
    config = Config.from_dict({**settings, "cell": cell})         # SettingError names a bad setting
    if config.task == "charlm":
        raise InputError(f"{path}: its rnnviz_config names the charlm task, whose files carry a vocabulary instead")
    check_save_target(save_path, force=force)
    trainer = Trainer(config)
    try:
        check_params(trainer.spec, params)
    except ValueError as exc:
        raise InputError(f"{path} does not fit its own settings ({config.task}): {exc}") from None
    state = trainer.state_dict()
    state["params"] = params
    state["previous_params"] = {k: v.copy() for k, v in params.items()}
    trainer = Trainer.from_state_dict(state)
    save_session(trainer, save_path)
    return trainer


def _cell_of(tensors) -> str:
    """The cell a file that does not say holds, from weight_hh_l0's (G*H, H): G = 4 LSTM, 3 GRU
    (an nn.GRU is rnnviz's gru_torch), else RNN (from_torch then checks the shapes)."""
    w = tensors.get("weight_hh_l0")
    blocks = w.shape[0] / w.shape[1] if w is not None and w.ndim == 2 and w.shape[1] else 1
    return {4: "lstm", 3: "gru_torch"}.get(blocks, "rnn")


def _vocabulary(metadata: dict, path: str) -> list[str] | None:
    raw = metadata.get("vocabulary")
    if raw is None:
        return None
    try:
        vocabulary = json.loads(raw)
    except ValueError:
        raise InputError(f"{path}: its vocabulary metadata is not a JSON list") from None
    if not (isinstance(vocabulary, list) and vocabulary and all(isinstance(s, str) and len(s) == 1 for s in vocabulary)):
        raise InputError(f"{path}: its vocabulary metadata must be a list of single characters")
    if len(set(vocabulary)) != len(vocabulary):
        raise InputError(f"{path}: its vocabulary lists a character twice")
    return vocabulary


def _placeholder_text(symbols: list[str], seq_length: int) -> str:
    """The vocabulary repeated: long enough for the character task's training and held-out parts."""
    alphabet = "".join(symbols)
    repeats = max(2, math.ceil(20 * (seq_length + 2) / len(alphabet)))
    return alphabet * repeats


# ---- the command line ----------------------------------------------------------------------------
def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="an rnnviz session file (.rnnviz) with an RNN (tanh or relu), LSTM or "
                        "gru_torch (PyTorch's GRU)")
    parser.add_argument("output", help="the safetensors file to write (PyTorch's parameter names)")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")


def run_export(args) -> int:
    metadata = export_session(args.session, args.output, force=args.force)
    layers = "" if metadata["num_layers"] == "1" else f", num_layers {metadata['num_layers']}"
    layers += ", bidirectional" if metadata["bidirectional"] == "true" else ""
    print(f"wrote {args.output}: nn.{TORCH_MODULES[metadata['cell']]} (hidden {metadata['hidden_size']}, "
          f"input {metadata['input_size']}{layers}) + nn.Linear 'fc' (output {metadata['output_size']})")
    return 0


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", help="a safetensors file with PyTorch's names (weight_ih_l0, ..., fc.weight; "
                        "weight_ih_l1 and on for a stacked network)")
    parser.add_argument("--save", required=True, metavar="SESSION", help="the session file to write")
    parser.add_argument("--corpus", help="the text the model was trained on (needed when the file "
                        "does not list its vocabulary)")
    parser.add_argument("--cell", choices=tuple(TORCH_MODULES), help="the cell, when the file does not say "
                        "(an nn.GRU is gru_torch; default: from weight_hh_l0's shape)")
    parser.add_argument("--force", action="store_true", help="replace an existing file")


def run_import(args) -> int:
    trainer = import_weights(args.weights, args.save, corpus_path=args.corpus, cell=args.cell, force=args.force)
    spec = trainer.spec
    cell = CELL_TITLES.get(spec.cell, spec.cell)
    layers = ("" if spec.layers == 1 else f"{spec.layers} layers of ") + ("bidirectional " if spec.bidirectional else "")
    if not trainer.is_charlm:
        print(f"wrote {args.save}: {trainer.config.task} task, {cell} with {layers}{spec.hidden_size} hidden units")
        return 0
    print(f"wrote {args.save}: character model, {cell} with {layers}{spec.hidden_size} hidden units, "
          f"{spec.input_size} symbols" + ("" if args.corpus else " (no corpus: the session's text is "
                                          "the vocabulary; open it to inspect, not to train)"))
    return 0
