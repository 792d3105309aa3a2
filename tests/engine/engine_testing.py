"""Shared by the stacked and bidirectional engine tests: a seeded random problem."""

from __future__ import annotations

from rnnviz.engine import Network, NetworkSpec


def stack_problem(rng, cell, layers, many_to_one, input_kind, activation="tanh", readout="softmax",
                  bidirectional=False):
    """A random network of ``layers`` layers (random small T, N, D, H, K) with non-zero biases,
    inputs, targets, a random initial state for every layer, and (many-to-many) a random mask.
    Returns ``(net, x, y, state0, mask)``."""
    T, N = int(rng.integers(2, 6)), int(rng.integers(1, 4))
    D, H, K = int(rng.integers(2, 5)), int(rng.integers(2, 6)), int(rng.integers(2, 4))
    spec = NetworkSpec(cell, D, H, K, input_kind=input_kind, activation=activation, readout=readout,
                       many_to_one=many_to_one, reduction="mean", layers=layers, bidirectional=bidirectional)
    net = Network.create(spec, rng, "xavier")
    for v in net.params.values():      # non-zero biases so every term is exercised
        v += 0.1 * rng.standard_normal(v.shape)
    x = rng.integers(0, D, (T, N)) if input_kind == "tokens" else rng.standard_normal((T, N, D))
    lead = (N,) if many_to_one else (T, N)
    y = rng.integers(0, K, lead) if readout == "softmax" else rng.standard_normal(lead + (K,))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    mask = None
    if not many_to_one:
        mask = rng.random(T).round(1)
        mask[0] = 1.0
    return net, x, y, state0, mask
