"""One time step of each recurrent cell: forward and backward side by side.

Notation follows the course material (``a<t>`` hidden state, ``c<t>`` LSTM cell state, ``Γ`` gates).
Shapes: N batch, H hidden units, G gate blocks (1 RNN, 4 LSTM, 3 GRU).

The input half of every pre-activation, ``xw<t> = x<t> Waxᵀ + ba`` with shape (N, G·H), is computed
for all time steps at once by :mod:`rnnviz.engine.sequence`; a step function only adds the recurrent
half ``a<t-1> Waaᵀ``. Likewise the weight gradients are summed over time outside the steps, so a
step backward returns the pre-activation gradient ``dz<t>`` (N, G·H) and ``da<t-1>``.

Fused layout (rows of ``Wax`` (G·H, D), ``Waa`` (G·H, H) and ``ba`` (G·H,)), mapping to the course names:

* RNN  (G = 1): ``a<t> = g(Wax x<t> + Waa a<t-1> + ba)`` with g = tanh, relu or sigmoid.
* LSTM (G = 4), blocks ``f, i, o, c`` in that order: block k of ``[Waa | Wax]`` is the course's
  ``W_k`` (H, H + D) acting on ``[a<t-1>; x<t>]``, and block k of ``ba`` is ``b_k``.
  ``Γf, Γi, Γo = σ(z_f), σ(z_i), σ(z_o)``; ``c~ = tanh(z_c)``; ``c<t> = Γf*c<t-1> + Γi*c~``;
  ``a<t> = Γo * tanh(c<t>)``.
* GRU  (G = 3), blocks ``r, u, c``: ``Γr = σ(z_r)``, ``Γu = σ(z_u)`` with ``z = xw + Waa a<t-1>``
  for r and u, but ``c~ = tanh(xw_c + Waa_c (Γr * a<t-1>))``; ``a<t> = Γu*c~ + (1-Γu)*a<t-1>``.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function, computed as ``0.5·tanh(z/2) + 0.5`` (stable for any z, no overflow)."""
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def activate(z: np.ndarray, activation: str, out: np.ndarray | None = None) -> np.ndarray:
    """Hidden activation of the vanilla RNN, in place when ``out is z``."""
    if activation == "tanh":
        return np.tanh(z, out=out)
    if activation == "relu":
        return np.maximum(z, 0.0, out=out)
    if activation == "sigmoid":
        return sigmoid(z, out=out)
    raise ValueError(f"activation must be tanh, relu or sigmoid (got {activation!r})")


def _relu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.maximum(z, 0.0, out=out)


#: the vanilla RNN's activations as functions ``g(z, out=...)``, for loops that call one per step
ACTIVATIONS = {"tanh": np.tanh, "relu": _relu, "sigmoid": sigmoid}


def activation_grad(a: np.ndarray, activation: str, out: np.ndarray) -> np.ndarray:
    """Derivative g'(z) written from the activation's output ``a = g(z)``; shape of ``a``."""
    if activation == "tanh":
        np.multiply(a, a, out=out)
        np.subtract(1.0, out, out=out)
    elif activation == "relu":
        np.greater(a, 0.0, out=out, casting="unsafe")
    else:  # sigmoid; a·(1 - a) is safe when out aliases a (elementwise)
        np.multiply(a, 1.0 - a, out=out)
    return out


# --------------------------------------------------------------------------- vanilla RNN
def rnn_step_forward(z: np.ndarray, a_prev: np.ndarray, Waa: np.ndarray, activation: str) -> np.ndarray:
    """``a<t> = g(xw<t> + a<t-1> Waaᵀ)``, in place.

    z: (N, H) holds the input half ``x<t> Waxᵀ + ba`` on entry and ``a<t>`` on return (the only
    cache backward needs).  a_prev: (N, H).  Waa: (H, H).
    """
    z += a_prev @ Waa.T
    return activate(z, activation, out=z)


def rnn_step_backward(da: np.ndarray, a: np.ndarray, Waa: np.ndarray, activation: str,
                      dz_out: np.ndarray) -> np.ndarray:
    """Backward of :func:`rnn_step_forward`.

    da: (N, H) total gradient on ``a<t>`` (from the readout at t and from step t+1).
    a: (N, H) the cached ``a<t>``.  dz_out: (N, H), receives ``dz<t> = da * g'(z<t>)``; it may
    alias ``a`` (the value of ``a`` is consumed first).
    Returns ``da<t-1> = dz<t> Waa`` (N, H).
    """
    activation_grad(a, activation, out=dz_out)
    return rnn_step_backward_from_grad(da, dz_out, Waa)


def rnn_step_backward_from_grad(da: np.ndarray, dz: np.ndarray, Waa: np.ndarray) -> np.ndarray:
    """:func:`rnn_step_backward` when ``g'(z<t>)`` was computed beforehand (for all steps at once).

    dz: (N, H) holds ``g'(z<t>)`` on entry and ``dz<t> = da * g'(z<t>)`` on return.
    Returns ``da<t-1> = dz<t> Waa`` (N, H).
    """
    dz *= da
    return dz @ Waa


# --------------------------------------------------------------------------- LSTM
def lstm_step_forward(xw: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, Waa: np.ndarray,
                      gates: np.ndarray, c: np.ndarray, tanh_c: np.ndarray, a: np.ndarray) -> None:
    """One LSTM step; writes into the caller's buffers (the cache).

    xw: (N, 4H) input half of the pre-activations, blocks f, i, o, c.  a_prev, c_prev: (N, H).
    Waa: (4H, H).  Outputs: gates (N, 4H) receives ``[Γf, Γi, Γo, c~]``; c, tanh_c, a: (N, H).
    """
    H = c.shape[1]
    np.dot(a_prev, Waa.T, gates)
    gates += xw
    sigmoid(gates[:, :3 * H], out=gates[:, :3 * H])
    np.tanh(gates[:, 3 * H:], out=gates[:, 3 * H:])
    f, i, o, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    c += i * cand
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=a)


def lstm_step_forward_halved(xw_half: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray,
                             WaaT_half: np.ndarray, gates: np.ndarray, c: np.ndarray,
                             tanh_c: np.ndarray, a: np.ndarray) -> None:
    """:func:`lstm_step_forward` with the f, i, o pre-activations arriving halved, so the three
    sigmoids ``σ(z) = ½·tanh(z/2) + ½`` and the candidate's tanh take one tanh over all 4H
    (10 array calls instead of 12; identical results).

    xw_half (N, 4H) and WaaT_half (H, 4H): the input half and ``Waaᵀ`` with the f, i, o blocks
    multiplied by ½ (exact in binary floating point). Other arguments as in :func:`lstm_step_forward`.
    """
    H = c.shape[1]
    np.dot(a_prev, WaaT_half, gates)
    gates += xw_half
    np.tanh(gates, out=gates)
    sig = gates[:, :3 * H]
    sig *= 0.5
    sig += 0.5
    f, i, o, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    np.multiply(i, cand, out=tanh_c)          # tanh_c as scratch for Γi·c~
    c += tanh_c
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=a)


def lstm_step_backward(da: np.ndarray, dc_next: np.ndarray, c_prev: np.ndarray, gates: np.ndarray,
                       tanh_c: np.ndarray, Waa: np.ndarray, dz_out: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`lstm_step_forward`.

    da: (N, H) total gradient on ``a<t>``; dc_next: (N, H) gradient on ``c<t>`` from step t+1.
    c_prev (N, H), gates (N, 4H), tanh_c (N, H): the cache.  dz_out: (N, 4H) receives the
    pre-activation gradient ``[dz_f, dz_i, dz_o, dz_c]``; it may alias ``gates``.
    Returns ``(da<t-1>, dc<t-1>, dc<t>)``, all (N, H); ``dc<t>`` is the total cell-state gradient.
    """
    H = tanh_c.shape[1]
    f, i, o, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    # σ' = σ(1 - σ) for the three sigmoid gates at once, before dz_out (which may alias gates)
    dsig = np.subtract(1.0, gates[:, :3 * H])
    dsig *= gates[:, :3 * H]
    dc = np.multiply(tanh_c, tanh_c)
    np.subtract(1.0, dc, out=dc)
    dc *= o
    dc *= da
    dc += dc_next                                   # total dL/dc<t>
    dc_prev = dc * f
    dcand = np.multiply(cand, cand)                 # tanh' of the candidate, times Γi, times dc
    np.subtract(1.0, dcand, out=dcand)
    dcand *= i
    dcand *= dc
    # each block of dz_out is written after the last read of the gate it replaces
    np.multiply(dc, c_prev, out=dz_out[:, :H])
    np.multiply(dc, cand, out=dz_out[:, H:2 * H])
    np.multiply(da, tanh_c, out=dz_out[:, 2 * H:3 * H])
    dz_out[:, :3 * H] *= dsig
    dz_out[:, 3 * H:] = dcand
    return dz_out @ Waa, dc_prev, dc


def lstm_backward_factors(gates: np.ndarray, c_prev: np.ndarray, tanh_c: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """The parts of :func:`lstm_step_backward` that do not depend on the incoming gradient, for
    any number of steps at once (leading shape ``S``: (N,) for one step, (T, N) for a sequence).

    gates (S, 4H) ``[Γf, Γi, Γo, c~]``, c_prev and tanh_c (S, H): the forward cache.
    Returns ``P`` (S, 4H) ``[c<t-1>·Γf(1-Γf), c~·Γi(1-Γi), tanh(c<t>)·Γo(1-Γo), Γi·(1-c~²)]`` and
    ``R`` (S, H) ``Γo·(1 - tanh²(c<t>))``, so that ``dc = da·R + dc_next`` and
    ``dz = [dc, dc, da, dc] · P`` blockwise.
    """
    H = tanh_c.shape[-1]
    P = np.empty_like(gates)
    sig = gates[..., :3 * H]
    np.subtract(1.0, sig, out=P[..., :3 * H])
    P[..., :3 * H] *= sig                                      # σ' = σ(1 - σ) for f, i, o
    P[..., :H] *= c_prev
    P[..., H:2 * H] *= gates[..., 3 * H:]
    P[..., 2 * H:3 * H] *= tanh_c
    cand = gates[..., 3 * H:]
    np.multiply(cand, cand, out=P[..., 3 * H:])
    np.subtract(1.0, P[..., 3 * H:], out=P[..., 3 * H:])
    P[..., 3 * H:] *= gates[..., H:2 * H]
    R = np.multiply(tanh_c, tanh_c)
    np.subtract(1.0, R, out=R)
    R *= gates[..., 2 * H:3 * H]
    return P, R


def lstm_step_backward_from_factors(da: np.ndarray, dc_next: np.ndarray, P: np.ndarray, R: np.ndarray,
                                    f: np.ndarray, Waa: np.ndarray, dz_out: np.ndarray,
                                    dc_out: np.ndarray, dc_prev_out: np.ndarray) -> np.ndarray:
    """:func:`lstm_step_backward` given the step's :func:`lstm_backward_factors` (7 array calls).

    da, dc_next (N, H); P (N, 4H), R (N, H); f (N, H) the forget gate Γf (may alias
    ``dz_out[:, :H]``: it is read before dz_out is written).
    Writes ``dz<t>`` into dz_out (N, 4H), the total ``dc<t>`` into dc_out and ``dc<t-1> = dc·Γf``
    into dc_prev_out (N, H); returns ``da<t-1> = dz<t> Waa`` (N, H).
    """
    N, H = da.shape
    np.multiply(da, R, out=dc_out)
    dc_out += dc_next
    np.multiply(dc_out, f, out=dc_prev_out)
    np.multiply(dc_out[:, None, :], P.reshape(N, 4, H), out=dz_out.reshape(N, 4, H))
    np.multiply(da, P[:, 2 * H:3 * H], out=dz_out[:, 2 * H:3 * H])
    return np.dot(dz_out, Waa)


# --------------------------------------------------------------------------- GRU
def gru_step_forward(xw: np.ndarray, a_prev: np.ndarray, Waa: np.ndarray,
                     gates: np.ndarray, ra: np.ndarray, a: np.ndarray) -> None:
    """One GRU step (the course's full GRU); writes into the caller's buffers (the cache).

    xw: (N, 3H) input half, blocks r, u, c.  a_prev: (N, H).  Waa: (3H, H).
    Outputs: gates (N, 3H) receives ``[Γr, Γu, c~]``; ra (N, H) receives ``Γr * a<t-1>``;
    a (N, H) receives ``a<t>``.
    """
    H = a.shape[1]
    ru = gates[:, :2 * H]
    np.matmul(a_prev, Waa[:2 * H].T, out=ru)
    ru += xw[:, :2 * H]
    sigmoid(ru, out=ru)
    np.multiply(gates[:, :H], a_prev, out=ra)
    cand = gates[:, 2 * H:]
    np.matmul(ra, Waa[2 * H:].T, out=cand)
    cand += xw[:, 2 * H:]
    np.tanh(cand, out=cand)
    # a<t> = a<t-1> + Γu * (c~ - a<t-1>)
    np.subtract(cand, a_prev, out=a)
    a *= gates[:, H:2 * H]
    a += a_prev


def gru_step_backward(da: np.ndarray, a_prev: np.ndarray, gates: np.ndarray, Waa: np.ndarray,
                      dz_out: np.ndarray) -> np.ndarray:
    """Backward of :func:`gru_step_forward`.

    da: (N, H) total gradient on ``a<t>``.  a_prev (N, H), gates (N, 3H): the cache.
    dz_out: (N, 3H) receives ``[dz_r, dz_u, dz_c]``; it may alias ``gates``.
    Returns ``da<t-1>`` (N, H).  (``dWaa`` for block c needs ``Γr * a<t-1>``, kept by the caller.)
    """
    H = a_prev.shape[1]
    r, u, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    du = da * (cand - a_prev)
    du *= u * (1.0 - u)
    dcand = da * u
    dcand *= 1.0 - cand * cand
    da_prev = da * (1.0 - u)
    dra = dcand @ Waa[2 * H:]
    dr = dra * a_prev
    dr *= r * (1.0 - r)
    da_prev += dra * r
    dz_out[:, :H] = dr
    dz_out[:, H:2 * H] = du
    dz_out[:, 2 * H:] = dcand
    da_prev += dz_out[:, :2 * H] @ Waa[:2 * H]
    return da_prev
