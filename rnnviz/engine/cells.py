"""One time step of each recurrent cell: forward and backward side by side, in the course's notation.

Shapes: N batch, D input, H hidden. Examples are rows here (the course's columns), so the course's
``Waa a<t-1>`` is written ``a<t-1> Waaᵀ``. Parameters, with G gate blocks stacked (1 RNN, 4 LSTM,
3 GRU): ``Wax`` (G·H, D), ``Waa`` (G·H, H), ``ba`` (G·H,).

Every forward kernel takes ``xw = x<t> Waxᵀ + ba`` (N, G·H), the input's share of the
pre-activations, and returns the new state and a cache: a tuple holding everything its backward
kernel reads. Every backward kernel takes the gradient on the step's output and the cache, and
returns ``dz`` (N, G·H), the gradient on the pre-activations, with the gradients on the previous
state. A step's weight gradients follow from ``dz``:

    dWax = dzᵀ x<t>        dWaa = dzᵀ a<t-1>        dba = Σ_n dz

(GRU: block c of Waa multiplies ``Γr * a<t-1>``, so its rows of dWaa are ``dz_cᵀ (Γr * a<t-1>)``).
:func:`rnnviz.engine.sequence.add_weight_grads` forms and sums them over time, and
:func:`rnnviz.engine.sequence.input_projection` computes ``xw``.

The cells (blocks of the stacked arrays in this order; block k of ``[Waa | Wax]`` is the course's
``W_k`` acting on ``[a<t-1>; x<t>]``, block k of ``ba`` is ``b_k``):

* RNN:  ``a<t> = g(Waa a<t-1> + Wax x<t> + ba)``, g = tanh (or relu, sigmoid).
* LSTM, blocks f, u, o, c: ``Γf = σ(z_f)``, ``Γu = σ(z_u)``, ``Γo = σ(z_o)``, ``c~ = tanh(z_c)``,
  ``c<t> = Γf * c<t-1> + Γu * c~``, ``a<t> = Γo * tanh(c<t>)``, with ``z = Waa a<t-1> + Wax x<t> + ba``.
  (Γu is the update gate, which other texts call the input gate i; the app names its block "i".)
* GRU (the course's full GRU), blocks r, u, c: ``Γr = σ(z_r)``, ``Γu = σ(z_u)`` as above,
  ``c~ = tanh(Waa_c (Γr * a<t-1>) + Wax_c x<t> + ba_c)``, ``a<t> = Γu * c~ + (1 - Γu) * a<t-1>``.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^-z), computed as ``½·tanh(z/2) + ½`` (equal, and never overflows)."""
    return 0.5 * np.tanh(0.5 * z) + 0.5


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


#: the vanilla RNN's activations g
ACTIVATIONS = {"tanh": np.tanh, "relu": relu, "sigmoid": sigmoid}


def activation_grad(a: np.ndarray, activation: str) -> np.ndarray:
    """g'(z) written with the activation's output ``a = g(z)``: tanh ``1 - a²``, sigmoid
    ``a(1 - a)``, relu ``1 where a > 0``."""
    if activation == "tanh":
        return 1.0 - a * a
    if activation == "sigmoid":
        return a * (1.0 - a)
    return (a > 0.0).astype(a.dtype)


# --------------------------------------------------------------------------- vanilla RNN
def rnn_step_forward(xw, a_prev, Waa, activation="tanh"):
    """``a<t> = g(Waa a<t-1> + Wax x<t> + ba)``.

    xw (N, H): ``x<t> Waxᵀ + ba``.  a_prev (N, H).  Waa (H, H).
    Returns ``a`` (N, H) and the cache ``(a_prev, a, Waa, activation)``.
    """
    a = ACTIVATIONS[activation](xw + a_prev.dot(Waa.T))
    return a, (a_prev, a, Waa, activation)


def rnn_step_backward(da, cache):
    """Backward of :func:`rnn_step_forward`.

    da (N, H): the total gradient on ``a<t>`` (from the readout at t and from step t+1).
    Returns ``dz = da * g'(z)`` (N, H) and ``da_prev = dz Waa`` (N, H).
    """
    a_prev, a, Waa, activation = cache
    dz = da * activation_grad(a, activation)
    return dz, dz.dot(Waa)


# --------------------------------------------------------------------------- LSTM
def lstm_step_forward(xw, a_prev, c_prev, Waa):
    """One LSTM step.

    xw (N, 4H): ``x<t> Waxᵀ + ba``, blocks f, u, o, c.  a_prev, c_prev (N, H).  Waa (4H, H).
    Returns ``a``, ``c`` (N, H) and the cache ``(a_prev, c_prev, gates, tanh_c, Waa)`` with
    ``gates`` (N, 4H) = ``[Γf, Γu, Γo, c~]``.
    """
    H = a_prev.shape[1]
    z = xw + a_prev.dot(Waa.T)
    gates = np.concatenate([sigmoid(z[:, :3 * H]), np.tanh(z[:, 3 * H:])], axis=1)
    f, u, o, cc = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    c = f * c_prev + u * cc
    tanh_c = np.tanh(c)
    a = o * tanh_c
    return a, c, (a_prev, c_prev, gates, tanh_c, Waa)


def lstm_step_backward(da, dc_next, cache):
    """Backward of :func:`lstm_step_forward`.

    da (N, H): the total gradient on ``a<t>``; dc_next (N, H): the gradient on ``c<t>`` from
    step t+1. Returns ``dz`` (N, 4H) = ``[dz_f, dz_u, dz_o, dz_c]``, ``da_prev = dz Waa``,
    ``dc_prev = dc * Γf`` and ``dc`` (all (N, H)), the total gradient on ``c<t>``.
    """
    a_prev, c_prev, gates, tanh_c, Waa = cache
    H = a_prev.shape[1]
    f, u, o, cc = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dc = dc_next + da * o * (1.0 - tanh_c * tanh_c)
    dsig = gates[:, :3 * H] * (1.0 - gates[:, :3 * H])          # σ' = σ(1 - σ) of Γf, Γu, Γo
    dz = np.concatenate([dc * c_prev, dc * cc, da * tanh_c, dc * u * (1.0 - cc * cc)], axis=1)
    dz[:, :3 * H] *= dsig
    return dz, dz.dot(Waa), dc * f, dc


# --------------------------------------------------------------------------- GRU
def gru_step_forward(xw, a_prev, Waa):
    """One step of the course's full GRU.

    xw (N, 3H): ``x<t> Waxᵀ + ba``, blocks r, u, c.  a_prev (N, H).  Waa (3H, H).
    Returns ``a`` (N, H) and the cache ``(a_prev, gates, ra, Waa)`` with ``gates`` (N, 3H) =
    ``[Γr, Γu, c~]`` and ``ra = Γr * a_prev`` (N, H).
    """
    H = a_prev.shape[1]
    ru = sigmoid(xw[:, :2 * H] + a_prev.dot(Waa[:2 * H].T))
    r, u = ru[:, :H], ru[:, H:]
    ra = r * a_prev
    cc = np.tanh(xw[:, 2 * H:] + ra.dot(Waa[2 * H:].T))
    a = u * cc + (1.0 - u) * a_prev
    return a, (a_prev, np.concatenate([ru, cc], axis=1), ra, Waa)


def gru_step_backward(da, cache):
    """Backward of :func:`gru_step_forward`.

    da (N, H): the total gradient on ``a<t>``.
    Returns ``dz`` (N, 3H) = ``[dz_r, dz_u, dz_c]`` and ``da_prev`` (N, H).
    """
    a_prev, gates, ra, Waa = cache
    H = a_prev.shape[1]
    r, u, cc = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dz_c = da * u * (1.0 - cc * cc)
    dra = dz_c.dot(Waa[2 * H:])                                 # gradient on Γr * a<t-1>
    dz_r = dra * a_prev * r * (1.0 - r)
    dz_u = da * (cc - a_prev) * u * (1.0 - u)
    dz = np.concatenate([dz_r, dz_u, dz_c], axis=1)
    da_prev = da * (1.0 - u) + dra * r + dz[:, :2 * H].dot(Waa[:2 * H])
    return dz, da_prev

