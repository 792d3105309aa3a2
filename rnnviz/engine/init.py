"""Weight initialisers. Every one takes a ``numpy.random.Generator``: equal seeds, equal weights.

Shapes: Wax (G·H, D), Waa (G·H, H), ba (G·H,), Wya (K, H), by (K,); G gate blocks; PyTorch's GRU
(cell "gru_torch") also baa (H,). A stacked network's layers l ≥ 2 (``Wax[l]`` (G·H, H), ``Waa[l]``,
``ba[l]``, ``baa[l]``) are initialised by the same scheme, their input being the layer below (D = H).
A bidirectional network's reverse directions (``Wax_rev``, ``Wax_rev[2]`` …) likewise; then layers
l ≥ 2 and the readout read both directions (``Wax[l]`` (G·H, 2H), ``Wya`` (K, 2H)).
Each gate block is initialised as its own matrix (fan-in and fan-out of one block).
"""

from __future__ import annotations

import numpy as np

from rnnviz.engine.stack import direction_key

SCHEMES = ("small", "uniform", "xavier", "orthogonal", "identity")


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A uniformly random (n, n) orthogonal matrix (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _xavier(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (rows + cols))
    return rng.uniform(-limit, limit, size=(rows, cols))


def init_params(cell: str, D: int, H: int, K: int, G: int, rng: np.random.Generator,
                scheme: str = "xavier", dtype=np.float64, forget_bias: float = 1.0,
                layers: int = 1, bidirectional: bool = False) -> dict[str, np.ndarray]:
    """Fresh parameters.

    small       ``randn·0.01`` everywhere (min-char-rnn).
    uniform     uniform in [-1, 1) (the binary-addition tutorial's ``2·random - 1``).
    xavier      Glorot uniform per block.
    orthogonal  orthogonal recurrent blocks, Glorot input and readout weights.
    identity    identity recurrent blocks, ``randn·0.001`` elsewhere (IRNN, Le et al. 2015).
    Biases (``baa`` too) start at zero, except the LSTM forget gate's at ``forget_bias`` (1 by
    default, so memory is kept at first: σ(1) ≈ 0.73 per step; 3 keeps σ(3) ≈ 0.95, for lags of
    tens of steps).
    layers: L; layer 1 and the readout draw first, as a one-layer network's do (the same seed gives
    a one-layer network the same weights as before stacking existed), then layers 2 … L in turn.
    bidirectional: each layer's reverse direction draws right after its forward one (layer 1's
    after the readout); layers l ≥ 2 and the readout then read 2H values.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"init must be one of {', '.join(SCHEMES)} (got {scheme!r})")
    width = 2 * H if bidirectional else H                     # what layers l ≥ 2 and the readout read
    Wax, Waa, Wya = _weights(scheme, rng, G, D, H, K, width)
    params = {"Wax": Wax, "Waa": Waa, **_biases(cell, G, H, forget_bias)}
    for layer in range(1, layers + 1):
        for reverse in ((False, True) if bidirectional else (False,)):
            if layer == 1 and not reverse:
                continue                                      # drawn above, with the readout
            Wax, Waa, _ = _weights(scheme, rng, G, D if layer == 1 else width, H, 0, width)
            params.update((direction_key(name, layer, reverse), value) for name, value in
                          {"Wax": Wax, "Waa": Waa, **_biases(cell, G, H, forget_bias)}.items())
    params.update(Wya=Wya, by=np.zeros(K))
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}


def _weights(scheme: str, rng: np.random.Generator, G: int, D: int, H: int, K: int, width: int):
    """``(Wax (G·H, D), Waa (G·H, H), Wya (K, width))`` of one layer by ``scheme`` (K = 0: no
    readout, whose draws are then skipped; width H, or 2H bidirectional)."""
    if scheme == "small":
        Wax = rng.standard_normal((G * H, D)) * 0.01
        Waa = rng.standard_normal((G * H, H)) * 0.01
        Wya = rng.standard_normal((K, width)) * 0.01
    elif scheme == "uniform":
        Wax = rng.uniform(-1.0, 1.0, size=(G * H, D))
        Waa = rng.uniform(-1.0, 1.0, size=(G * H, H))
        Wya = rng.uniform(-1.0, 1.0, size=(K, width))
    elif scheme == "xavier":
        Wax = np.concatenate([_xavier(rng, H, D) for _ in range(G)])
        Waa = np.concatenate([_xavier(rng, H, H) for _ in range(G)])
        Wya = _xavier(rng, K, width)
    elif scheme == "orthogonal":
        Wax = np.concatenate([_xavier(rng, H, D) for _ in range(G)])
        Waa = np.concatenate([orthogonal(rng, H) for _ in range(G)])
        Wya = _xavier(rng, K, width)
    else:  # identity
        Wax = rng.standard_normal((G * H, D)) * 0.001
        Waa = np.concatenate([np.eye(H) for _ in range(G)])
        Wya = rng.standard_normal((K, width)) * 0.001
    return Wax, Waa, Wya


def _biases(cell: str, G: int, H: int, forget_bias: float) -> dict[str, np.ndarray]:
    """One layer's ``ba`` (G·H,) (+ ``baa`` (H,) for "gru_torch"): zeros, the LSTM's forget block
    at ``forget_bias``."""
    ba = np.zeros(G * H)
    if cell == "lstm":
        ba[:H] = forget_bias
    return {"ba": ba, "baa": np.zeros(H)} if cell == "gru_torch" else {"ba": ba}
