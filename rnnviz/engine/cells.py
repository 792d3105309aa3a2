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
    np.matmul(a_prev, Waa.T, out=gates)
    gates += xw
    sigmoid(gates[:, :3 * H], out=gates[:, :3 * H])
    np.tanh(gates[:, 3 * H:], out=gates[:, 3 * H:])
    f, i, o, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    c += i * cand
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
    dc = da * o
    dc *= 1.0 - tanh_c * tanh_c
    dc += dc_next
    dc_prev = dc * f
    # pre-activation gradients; each line reads its gate before overwriting that block of dz_out
    d_o = da * tanh_c
    d_o *= o * (1.0 - o)
    df = dc * c_prev
    df *= f * (1.0 - f)
    di = dc * cand
    di *= i * (1.0 - i)
    dcand = dc * i
    dcand *= 1.0 - cand * cand
    dz_out[:, :H] = df
    dz_out[:, H:2 * H] = di
    dz_out[:, 2 * H:3 * H] = d_o
    dz_out[:, 3 * H:] = dcand
    return dz_out @ Waa, dc_prev, dc


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
