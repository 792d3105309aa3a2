"""Factored BPTT: the one fast path of the engine, for steps of at most
``sequence.FACTORED_BPTT_MAX_STEP`` hidden values (0 switches it off).

A step's backward (:mod:`rnnviz.engine.cells`) multiplies the incoming gradient by factors that
depend on the forward cache only: ``g'(z<t>)`` for the vanilla RNN; for the LSTM ``Γ(1-Γ)`` of the
three sigmoid gates, ``1 - c~²`` and ``1 - tanh²(c<t>)`` with the cached values they multiply.
Here those factors are computed for all T steps in a few whole-array calls before the loop, and
each step keeps only the products with the incoming gradient (3 array calls per RNN step instead
of 8, 7 per LSTM step instead of 19). At batch 1, where a call costs more than its arithmetic,
that is most of the backward pass; ``benchmarks/README.md`` gives the measurement. The maths is
that of ``rnn_step_backward`` and ``lstm_step_backward``, regrouped; tests run both paths and
compare the gradients to 1e-12.

Shapes: T time, N batch, H hidden.  Both loops return ``dz<t>`` for every step (the RNN's in a
new (T, N, H) array, the LSTM's in its gates buffer) and the gradient on the initial state;
``norms`` (T,) receives ``||dL/da<t>||`` (and ``c_norms`` ``||dL/dc<t>||``).
"""

from __future__ import annotations

import math

import numpy as np

from rnnviz.engine.cells import activation_grad


def _total_da(dA_out: np.ndarray | None, dnext: np.ndarray, t: int, norms: np.ndarray) -> np.ndarray:
    """Total dL/da<t> (N, H): the readout's gradient at t (summed into dA_out[t] in place) plus the
    one from step t+1; many-to-one (dA_out None): only the latter, whose norm is recorded here."""
    if dA_out is None:
        norms[t] = math.sqrt(np.vdot(dnext, dnext))
        return dnext
    da = dA_out[t]
    da += dnext
    return da


def rnn_bptt(dA_out: np.ndarray | None, dnext: np.ndarray, A: np.ndarray, Waa: np.ndarray,
             activation: str, norms: np.ndarray, poll) -> tuple[np.ndarray, np.ndarray]:
    """Vanilla-RNN BPTT. dA_out (T, N, H) readout gradients (overwritten with the total dL/da<t>),
    or None (many-to-one); dnext (N, H) gradient on a<T>; A (T+1, N, H). Returns (dZ, da<0>)."""
    T = A.shape[0] - 1
    dZ = activation_grad(A[1:], activation)                  # g'(z<t>) for every t, becomes dz<t>
    for t in range(T - 1, -1, -1):
        poll()
        da = _total_da(dA_out, dnext, t, norms)
        dz = dZ[t]
        dz *= da                                               # dz<t> = da * g'(z<t>)
        dnext = np.dot(dz, Waa)
    if dA_out is not None:
        D = dA_out.reshape(T, -1)
        np.sqrt(np.einsum("ij,ij->i", D, D), out=norms)
    return dZ, dnext


def lstm_factors(gates: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For gates (T, N, 4H) ``[Γf, Γi, Γo, c~]`` and C (T+1, N, H):
    ``P`` (T, N, 4H) ``[c<t-1>·Γf(1-Γf), c~·Γi(1-Γi), tanh(c<t>)·Γo(1-Γo), Γi·(1-c~²)]`` and
    ``R`` (T, N, H) ``Γo·(1 - tanh²(c<t>))``, so that ``dc<t> = da·R + dc<t+1>·Γf<t+1>`` and
    ``dz<t> = [dc, dc, da, dc] · P`` block by block."""
    H = C.shape[-1]
    f, i, o, cand = (gates[..., k * H:(k + 1) * H] for k in range(4))
    tanh_c = np.tanh(C[1:])
    sig = gates[..., :3 * H]
    P = np.empty_like(gates)
    P[..., :3 * H] = sig * (1.0 - sig)
    P[..., :H] *= C[:-1]
    P[..., H:2 * H] *= cand
    P[..., 2 * H:3 * H] *= tanh_c
    P[..., 3 * H:] = i * (1.0 - cand * cand)
    R = o * (1.0 - tanh_c * tanh_c)
    return P, R


def lstm_bptt(dA_out: np.ndarray | None, dnext: np.ndarray, dc_next: np.ndarray, gates: np.ndarray,
              C: np.ndarray, Waa: np.ndarray, norms: np.ndarray, c_norms: np.ndarray, poll
              ) -> tuple[np.ndarray, np.ndarray]:
    """LSTM BPTT; dz<t> overwrites gates[t] (the factors are taken first), dA_out is overwritten
    with the total dL/da<t>. Returns (da<0>, dc<0>)."""
    T, N, H = C.shape[0] - 1, C.shape[1], C.shape[2]
    P, R = lstm_factors(gates, C)
    F = gates[..., :H].copy()                                  # Γf, before gates become dz
    P4, Z4 = P.reshape(T, N, 4, H), gates.reshape(T, N, 4, H)  # blocks f, i, o, c
    DC = np.empty_like(R)                                      # total dL/dc<t>
    for t in range(T - 1, -1, -1):
        poll()
        da = _total_da(dA_out, dnext, t, norms)
        dc = np.multiply(da, R[t], out=DC[t])
        dc += dc_next                                          # total dL/dc<t>
        np.multiply(dc[:, None], P4[t], out=Z4[t])             # dz<t> = [dc, dc, dc, dc] · P ...
        np.multiply(da, P4[t, :, 2], out=Z4[t, :, 2])          # ... but da for block o
        dnext, dc_next = np.dot(gates[t], Waa), dc * F[t]
    if dA_out is not None:
        D = dA_out.reshape(T, -1)
        np.sqrt(np.einsum("ij,ij->i", D, D), out=norms)
    D = DC.reshape(T, -1)
    np.sqrt(np.einsum("ij,ij->i", D, D), out=c_norms)
    return dnext, dc_next
