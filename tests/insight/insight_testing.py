"""Helpers shared by the insight tests: seeded random networks, finite differences on the engine."""

from __future__ import annotations

import dataclasses

import numpy as np

from rnnviz.engine import Network, NetworkSpec

CASES = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh"),
         ("gru_torch", "tanh")]


def random_network(cell="rnn", activation="tanh", *, D=3, H=5, K=4, readout="softmax",
                   input_kind="dense", many_to_one=False, seed=0, scale=0.7, layers=1) -> Network:
    """A float64 network with N(0, scale²/H)-ish weights (biases too, so ReLU units vary)."""
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(cell, D, H, K, input_kind=input_kind, activation=activation, readout=readout,
                       many_to_one=many_to_one, layers=layers)
    params = {name: rng.standard_normal(shape) * scale / np.sqrt(shape[-1] if len(shape) > 1 else 2.0)
              for name, shape in spec.param_shapes().items()}
    if activation == "relu":
        for name in params:
            if name.startswith("ba") and not name.startswith("baa"):
                params[name] = params[name] + 0.3
    return Network(spec, params)


def dense_twin(net: Network) -> Network:
    """The same weights reading dense input vectors: one-hot rows give the token network's pass."""
    return Network(dataclasses.replace(net.spec, input_kind="dense"), dict(net.params.items()))


def state_vector(result, t: int, cell: str) -> np.ndarray:
    """state<t> of a batch-1 forward result: a, or [a; c] for the LSTM."""
    a = result.states["a"][t, 0]
    return np.concatenate([a, result.states["c"][t, 0]]) if cell == "lstm" else a.copy()


def split_state(v: np.ndarray, cell: str, H: int) -> dict:
    return {"a": v[None, :H], "c": v[None, H:]} if cell == "lstm" else {"a": v[None, :]}


def fd_state_jacobian(net: Network, x: np.ndarray, tau: int, s: int, h: float = 1e-6) -> np.ndarray:
    """∂state<τ>/∂state<s> by centred differences: the engine run from a perturbed state<s>."""
    cell, H = net.spec.cell, net.spec.hidden_size
    base = state_vector(net.forward(x), s, cell)
    rest = x[s + 1:tau + 1]
    cols = []
    for j in range(base.size):
        e = np.zeros_like(base)
        e[j] = h
        plus = state_vector(net.forward(rest, split_state(base + e, cell, H)), tau - s - 1, cell)
        minus = state_vector(net.forward(rest, split_state(base - e, cell, H)), tau - s - 1, cell)
        cols.append((plus - minus) / (2 * h))
    return np.stack(cols, axis=1)


def score_of(net: Network, x: np.ndarray, tau: int, target) -> float:
    """The insight score of output τ computed from the engine's outputs (dense x (T, 1, D))."""
    out = np.asarray(net.forward(x).outputs)
    o = out[0] if net.spec.many_to_one else out[tau, 0]
    if net.spec.readout == "softmax":
        return float(np.log(o[target]))
    if net.spec.readout == "sigmoid":
        y = np.asarray(target, dtype=float)
        return float(np.sum(y * np.log(o) + (1 - y) * np.log(1 - o)))
    return float(o.sum())


def fd_saliency_row(net: Network, x: np.ndarray, tau: int, target, h: float = 1e-6) -> np.ndarray:
    """‖∂score<τ>/∂x<s>‖ for s = 0 … T-1 by centred differences on the dense input (T, 1, D)."""
    T, _, D = x.shape
    row = np.zeros(T)
    for s in range(T):
        g = np.zeros(D)
        for j in range(D):
            xp, xm = x.copy(), x.copy()
            xp[s, 0, j] += h
            xm[s, 0, j] -= h
            g[j] = (score_of(net, xp, tau, target) - score_of(net, xm, tau, target)) / (2 * h)
        row[s] = np.linalg.norm(g)
    return row


def rel_error(a, b) -> float:
    """‖a - b‖ / ‖b‖ (Frobenius), b = 0 counted as a tiny norm."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def jacobian_product(Js: np.ndarray, tau: int, s: int) -> np.ndarray:
    """``∂state<τ>/∂state<s>`` as the product J<τ> J<τ-1> … J<s+1> of one-step Jacobians Js (T, S, S)."""
    P = np.eye(Js.shape[1])
    for t in range(tau, s, -1):
        P = P @ Js[t]
    return P
