"""rnnviz's weights under the names and gate orders PyTorch's recurrent modules use (no torch here).

A one-layer rnnviz network computes, in the course's notation (blocks of H rows stacked in Wax,
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

The course's GRU (cell "gru") keeps the reset gate inside the recurrent product
(``Waa_c (Γr * a<t-1>)``); PyTorch's applies it after (``r * (W_hn h + b_hn)``), so no renaming
turns one into the other: it is refused (its message names "gru_torch"). So is the sigmoid RNN,
which ``nn.RNN`` does not offer.
"""

from __future__ import annotations

import json

import numpy as np

from rnnviz.engine.sequence import GATE_BLOCKS
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


def to_torch(params: dict, cell: str, activation: str, vocabulary: list[str] | None,
             task: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """PyTorch-named tensors and the file's metadata for a one-layer network's ``params``.

    params: Wax (G*H, D), Waa (G*H, H), ba (G*H,), Wya (K, H), by (K,) (+ baa (H,) for "gru_torch").
    Returns ``{"weight_ih_l0": (G*H, D), "weight_hh_l0": (G*H, H), "bias_ih_l0": (G*H,),
    "bias_hh_l0": (G*H,) zeros (the GRU's block n: baa), "fc.weight": (K, H), "fc.bias": (K,)}``
    (contiguous copies) and
    string metadata: format, cell, nonlinearity, sizes, layers, task and the vocabulary as JSON.
    """
    check_exportable(cell, activation)
    order = LSTM_TO_TORCH if cell == "lstm" else (0,)
    Wax, Waa, ba = (np.asarray(params[k]) for k in ("Wax", "Waa", "ba"))
    H = Waa.shape[1]
    bias_hh = np.zeros_like(ba)
    if cell == "gru_torch":
        bias_hh[2 * H:] = params["baa"]                      # b_hn, inside the reset gate
    tensors = {
        "weight_ih_l0": _blocks(Wax, order),
        "weight_hh_l0": _blocks(Waa, order),
        "bias_ih_l0": _blocks(ba, order),
        "bias_hh_l0": bias_hh,
        "fc.weight": np.array(params["Wya"]),
        "fc.bias": np.array(params["by"]),
    }
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "cell": cell,
        "nonlinearity": activation if cell == "rnn" else "",
        "input_size": str(Wax.shape[1]),
        "hidden_size": str(H),
        "output_size": str(params["Wya"].shape[0]),
        "num_layers": "1",
        "bidirectional": "false",
        "task": task,
    }
    if vocabulary is not None:
        metadata["vocabulary"] = json.dumps(list(vocabulary), ensure_ascii=False)
    return tensors, metadata


def from_torch(tensors: dict[str, np.ndarray], cell: str) -> dict[str, np.ndarray]:
    """rnnviz ``params`` (float64) from PyTorch-named tensors of a one-layer RNN, LSTM or GRU
    (cell "gru_torch": ``ba = bias_ih_l0 + [b_hr, b_hz, 0]``, ``baa = b_hn``).

    Sizes come from the shapes. ``InputError`` naming the tensor for a missing, extra, mis-shaped
    or non-finite one.
    """
    if cell == "gru":
        raise InputError("an nn.GRU is rnnviz's cell gru_torch (PyTorch's GRU); the cell gru is the "
                         "course's, which applies the reset gate before the recurrent product")
    if cell not in TORCH_MODULES:
        raise InputError(f"cell must be {', '.join(TORCH_MODULES)} (got {cell!r})")
    module = TORCH_MODULES[cell]
    G = GATE_BLOCKS[cell]
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "fc.weight", "fc.bias")
    missing = [n for n in names if n not in tensors]
    if missing:
        raise InputError(f"the file has no tensor {missing[0]} (a one-layer nn.{module} with an "
                         f"nn.Linear named fc has {', '.join(names)})")
    extra = sorted(set(tensors) - set(names))
    if extra:
        hint = " (more than one layer or a bidirectional layer: not supported yet)" \
            if any(e.startswith(("weight_", "bias_")) for e in extra) else ""
        raise InputError(f"the file has a tensor rnnviz does not know: {extra[0]}{hint}")
    t = {n: np.asarray(tensors[n]) for n in names}
    whh = t["weight_hh_l0"]
    if whh.ndim != 2 or whh.shape[0] != G * whh.shape[1] or whh.shape[1] == 0:
        raise InputError(f"weight_hh_l0 has shape {whh.shape}; an nn.{module} of hidden size H has "
                         f"({G}*H, H)")
    H = whh.shape[1]
    wih = t["weight_ih_l0"]
    D = wih.shape[1] if wih.ndim == 2 else -1
    K = t["fc.weight"].shape[0] if t["fc.weight"].ndim == 2 else -1
    expected = {"weight_ih_l0": (G * H, D), "bias_ih_l0": (G * H,), "bias_hh_l0": (G * H,),
                "fc.weight": (K, H), "fc.bias": (K,)}
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
    bias_hh = f64["bias_hh_l0"]
    if cell == "gru_torch":                                  # b_hn stays apart: the reset gate scales it
        baa, bias_hh = bias_hh[2 * H:].copy(), np.concatenate([bias_hh[:2 * H], np.zeros(H)])
    params = {
        "Wax": _blocks(f64["weight_ih_l0"], order),
        "Waa": _blocks(f64["weight_hh_l0"], order),
        "ba": _blocks(f64["bias_ih_l0"] + bias_hh, order),
    }
    if cell == "gru_torch":
        params["baa"] = baa
    params.update({"Wya": f64["fc.weight"].copy(), "by": f64["fc.bias"].copy()})
    return params
