"""rnnviz's weights under the names and gate orders PyTorch's recurrent modules use (no torch here).

One layer of an rnnviz network computes, in the course's notation (blocks of H rows stacked in Wax,
Waa and ba)::

    RNN   a<t> = g(Wax x<t> + Waa a<t-1> + ba)                      g: tanh or relu
    LSTM  [Γf; Γi; Γo; c~] = [σ; σ; σ; tanh](Wax x<t> + Waa a<t-1> + ba)
          c<t> = Γf * c<t-1> + Γi * c~,   a<t> = Γo * tanh(c<t>)
    PyTorch's GRU (cell "gru_torch")
          [Γr; Γz] = σ(Wax_rz x<t> + Waa_rz a<t-1> + ba_rz)
          n = tanh(Wax_n x<t> + ba_n + Γr * (Waa_n a<t-1> + baa)),   a<t> = (1-Γz) * n + Γz * a<t-1>
    out   ŷ<t> = softmax(Wya a<t> + by)

``torch.nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` compute the same with ``weight_ih_l0`` for Wax,
``weight_hh_l0`` for Waa and ``bias_ih_l0 + bias_hh_l0`` for ba, but order the LSTM's blocks
i, f, g, o (g is c~); the GRU's blocks r, z, n are rnnviz's order. The read-out is an ``nn.Linear``
named ``fc``. So the mapping is a reordering of row blocks, and ``bias_hh_l0`` is written as zeros
(on import the two biases are added), except the GRU's block n, ``b_hn``, which is ``baa``: the
reset gate multiplies it, so it cannot be added to ``b_in``.

A stacked network of L layers is the module with ``num_layers=L``: rnnviz's layer l (``Wax[l]``,
``Waa[l]``, ``ba[l]``, ``baa[l]``; layer 1's without the superscript) is torch's ``*_l{l-1}``, and
in both a layer above the first reads the hidden states of the layer below.

A bidirectional network is the module with ``bidirectional=True``: the reverse direction of
rnnviz's layer l (``Wax_rev``, ``Wax_rev[l]`` …, see :mod:`rnnviz.engine.stack`) is torch's
``*_l{l-1}_reverse``. Both read the sequence the same way (torch's reverse direction runs from the
last step and its ``output`` holds it in time order, ``[forward; reverse]``), a layer above the
first reads both directions (input 2H), and ``fc`` reads the top layer's 2H values at each step.

The course's GRU (cell "gru") keeps the reset gate inside the recurrent product
(``Waa_c (Γr * a<t-1>)``); PyTorch's applies it after (``r * (W_hn h + b_hn)``), so no renaming
turns one into the other: it is refused (its message names "gru_torch"). So is the sigmoid RNN,
which ``nn.RNN`` does not offer.
"""

from __future__ import annotations

import json
import re

import numpy as np

from rnnviz.engine.sequence import GATE_BLOCKS
from rnnviz.engine.stack import MAX_LAYERS, REVERSE, direction_key
from rnnviz.errors import InputError

FORMAT = "rnnviz-torch-1"
TORCH_MODULES = {"rnn": "RNN", "lstm": "LSTM", "gru_torch": "GRU"}
"""The ``torch.nn`` module computing each cell that has one."""
TORCH_NONLINEARITY = {"tanh": "tanh", "relu": "relu"}
LSTM_TO_TORCH = (1, 0, 3, 2)
"""rnnviz's LSTM blocks are f, i, o, c~; PyTorch's i, f, g, o: torch block k is rnnviz block
``LSTM_TO_TORCH[k]`` (the permutation is its own inverse)."""


def _blocks(array: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """``array`` (G*H, ...) with its G row blocks taken in ``order``."""
    blocks = np.split(array, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def check_exportable(cell: str, activation: str) -> None:
    """``InputError`` unless PyTorch has a module computing exactly this cell."""
    if cell == "gru":
        raise InputError("PyTorch's GRU applies the reset gate after the recurrent product, the course's "
                         "GRU before it, so this session cannot be written in PyTorch's layout; "
                         "a GRU trained with --cell gru_torch (PyTorch's GRU) can")
    if cell == "rnn" and activation not in TORCH_NONLINEARITY:
        raise InputError(f"torch.nn.RNN has no {activation} nonlinearity (only tanh and relu), "
                         "so this session cannot be written in PyTorch's layout")
    if cell not in TORCH_MODULES:
        raise InputError(f"unknown cell {cell!r}")


def layer_count(params: dict) -> int:
    """L, the stacked layers of rnnviz ``params`` (layer l ≥ 2's names end in ``[l]``)."""
    return 1 + sum(1 for name in params if name.startswith("Waa["))


def is_bidirectional(params: dict) -> bool:
    """Do rnnviz ``params`` hold reverse directions (``Waa_rev``)?"""
    return "Waa" + REVERSE in params


def _suffix(reverse: bool) -> str:
    return "_reverse" if reverse else ""


def to_torch(params: dict, cell: str, activation: str, vocabulary: list[str] | None,
             task: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """PyTorch-named tensors and the file's metadata for a network's ``params`` of L layers.

    params: Wax (G*H, D), Waa (G*H, H), ba (G*H,), Wya (K, H), by (K,) (+ baa (H,) for "gru_torch");
    for each layer l = 2 … L also Wax[l] (G*H, H), Waa[l], ba[l] (+ baa[l]).
    Returns, for k = 0 … L-1 (rnnviz's layer k+1), ``{"weight_ih_l{k}": (G*H, D or H),
    "weight_hh_l{k}": (G*H, H), "bias_ih_l{k}": (G*H,), "bias_hh_l{k}": (G*H,) zeros (the GRU's
    block n: baa)}`` and ``{"fc.weight": (K, H), "fc.bias": (K,)}`` (contiguous copies), and
    string metadata: format, cell, nonlinearity, sizes, num_layers, bidirectional, task and the
    vocabulary as JSON. Bidirectional ``params`` (``Wax_rev`` …) also give ``*_l{k}_reverse``;
    layers k ≥ 1 and ``fc.weight`` then read 2H.
    """
    check_exportable(cell, activation)
    order = LSTM_TO_TORCH if cell == "lstm" else (0,)
    layers = layer_count(params)
    bidirectional = is_bidirectional(params)
    H = np.asarray(params["Waa"]).shape[1]
    tensors = {}
    for k in range(layers):
        for reverse in ((False, True) if bidirectional else (False,)):
            Wax, Waa, ba = (np.asarray(params[direction_key(name, k + 1, reverse)]) for name in ("Wax", "Waa", "ba"))
            bias_hh = np.zeros_like(ba)
            if cell == "gru_torch":
                bias_hh[2 * H:] = params[direction_key("baa", k + 1, reverse)]     # b_hn, inside the reset gate
            s = _suffix(reverse)
            tensors.update({f"weight_ih_l{k}{s}": _blocks(Wax, order), f"weight_hh_l{k}{s}": _blocks(Waa, order),
                            f"bias_ih_l{k}{s}": _blocks(ba, order), f"bias_hh_l{k}{s}": bias_hh})
    tensors.update({"fc.weight": np.array(params["Wya"]), "fc.bias": np.array(params["by"])})
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "cell": cell,
        "nonlinearity": activation if cell == "rnn" else "",
        "input_size": str(np.asarray(params["Wax"]).shape[1]),
        "hidden_size": str(H),
        "output_size": str(params["Wya"].shape[0]),
        "num_layers": str(layers),
        "bidirectional": "true" if bidirectional else "false",
        "task": task,
    }
    if vocabulary is not None:
        metadata["vocabulary"] = json.dumps(list(vocabulary), ensure_ascii=False)
    return tensors, metadata


LAYER_TENSOR = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")


def from_torch(tensors: dict[str, np.ndarray], cell: str) -> dict[str, np.ndarray]:
    """rnnviz ``params`` (float64) from PyTorch-named tensors of an RNN, LSTM or GRU of
    ``num_layers`` L (read from the names ``*_l0`` … ``*_l{L-1}``) and its read-out ``fc``
    (cell "gru_torch": ``ba = bias_ih_l{k} + [b_hr, b_hz, 0]``, ``baa = b_hn``; torch's layer k is
    rnnviz's layer k+1: ``Wax``, ``Wax[2]``, …). A file with any ``*_reverse`` tensor is a
    bidirectional module: every layer then needs both directions (``Wax_rev``, ``Wax_rev[2]`` …).

    Sizes come from the shapes. ``InputError`` naming the tensor for a missing, extra, mis-shaped
    or non-finite one, and for more layers than rnnviz stacks.
    """
    if cell == "gru":
        raise InputError("an nn.GRU is rnnviz's cell gru_torch (PyTorch's GRU); the cell gru is the "
                         "course's, which applies the reset gate before the recurrent product")
    if cell not in TORCH_MODULES:
        raise InputError(f"cell must be {', '.join(TORCH_MODULES)} (got {cell!r})")
    module = TORCH_MODULES[cell]
    G = GATE_BLOCKS[cell]
    found = [LAYER_TENSOR.fullmatch(name) for name in tensors]
    layers = 1 + max((int(m.group(2)) for m in found if m), default=0)
    bidirectional = any(m and m.group(3) for m in found)
    dirs = (False, True) if bidirectional else (False,)
    if layers > MAX_LAYERS:
        raise InputError(f"the file has weight_hh_l{layers - 1}: an nn.{module} of {layers} layers; rnnviz "
                         f"stacks at most {MAX_LAYERS}")
    names = [f"{kind}_l{k}{_suffix(rev)}" for k in range(layers) for rev in dirs
             for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    names += ["fc.weight", "fc.bias"]
    missing = [n for n in names if n not in tensors]
    if missing:
        what = ("a one-layer" if layers == 1 else f"a {layers}-layer") + (" bidirectional" if bidirectional else "")
        raise InputError(f"the file has no tensor {missing[0]} ({what} nn.{module} with an nn.Linear named "
                         f"fc has {', '.join(names)})")
    extra = sorted(set(tensors) - set(names))
    if extra:
        raise InputError(f"the file has a tensor rnnviz does not know: {extra[0]}")
    t = {n: np.asarray(tensors[n]) for n in names}
    whh = t["weight_hh_l0"]
    if whh.ndim != 2 or whh.shape[0] != G * whh.shape[1] or whh.shape[1] == 0:
        raise InputError(f"weight_hh_l0 has shape {whh.shape}; an nn.{module} of hidden size H has "
                         f"({G}*H, H)")
    H = whh.shape[1]
    wih = t["weight_ih_l0"]
    D = wih.shape[1] if wih.ndim == 2 else -1
    K = t["fc.weight"].shape[0] if t["fc.weight"].ndim == 2 else -1
    width = H * len(dirs)             # what layers k ≥ 1 and fc read: H, or 2H bidirectional
    expected = {"weight_ih_l0": (G * H, D), "fc.weight": (K, width), "fc.bias": (K,)}
    for k in range(layers):           # layer k ≥ 1 reads layer k-1's hidden states: input size H (2H)
        for s in map(_suffix, dirs):
            expected.update({f"weight_ih_l{k}{s}": (G * H, D if k == 0 else width), f"weight_hh_l{k}{s}": (G * H, H),
                             f"bias_ih_l{k}{s}": (G * H,), f"bias_hh_l{k}{s}": (G * H,)})
    for name, shape in expected.items():
        if t[name].shape != shape or min(shape) <= 0:
            raise InputError(f"{name} has shape {t[name].shape}; with hidden size {H} it must be {shape}")
    for name in names:
        if not np.issubdtype(t[name].dtype, np.floating):
            raise InputError(f"{name} holds {t[name].dtype} values, not floating point")
        if not np.isfinite(t[name]).all():
            raise InputError(f"{name} holds non-finite values (NaN or infinity)")
    order = LSTM_TO_TORCH if cell == "lstm" else (0,)
    f64 = {n: v.astype(np.float64) for n, v in t.items()}
    params = {}
    for k in range(layers):
        for rev in dirs:
            s = _suffix(rev)
            bias_hh = f64[f"bias_hh_l{k}{s}"]
            if cell == "gru_torch":                          # b_hn stays apart: the reset gate scales it
                baa, bias_hh = bias_hh[2 * H:].copy(), np.concatenate([bias_hh[:2 * H], np.zeros(H)])
            params[direction_key("Wax", k + 1, rev)] = _blocks(f64[f"weight_ih_l{k}{s}"], order)
            params[direction_key("Waa", k + 1, rev)] = _blocks(f64[f"weight_hh_l{k}{s}"], order)
            params[direction_key("ba", k + 1, rev)] = _blocks(f64[f"bias_ih_l{k}{s}"] + bias_hh, order)
            if cell == "gru_torch":
                params[direction_key("baa", k + 1, rev)] = baa
    params.update({"Wya": f64["fc.weight"].copy(), "by": f64["fc.bias"].copy()})
    return params
