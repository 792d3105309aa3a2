"""One-step Jacobians of each recurrent cell, their products over time, and their spectrum.

The engine computes vector-Jacobian products (BPTT); here the Jacobian matrices themselves are
written out, one function per cell, from the states of a forward pass (:class:`~rnnviz.insight.trace.Trace`)
and the weights. Shapes: T steps, H hidden, D input, S state size (H; 2H for the LSTM).

* ``Js[t] = ∂state<t>/∂state<t-1>`` (T, S, S) and ``Jx[t] = ∂state<t>/∂x<t>`` (T, S, D).
* The state is ``a<t>`` for the RNN and the GRUs and the stack ``[a<t>; c<t>]`` for the LSTM.
* Gate blocks of ``Waa``/``Wax`` follow the engine (:mod:`rnnviz.engine.cells`): LSTM ``f, i, o, c``,
  GRU ``r, u, c`` with the candidate reading ``Γr * a<t-1>``, PyTorch's GRU ``r, z, n`` with the
  candidate reading ``Γr * (Waa_n a<t-1> + baa)``.

A product ``∂state<τ>/∂state<s> = Js[τ] ⋯ Js[s+1]`` tells how much of a change at step s
survives to step τ; its largest singular value is the most it can grow or shrink by.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnviz.engine.cells import activation_grad
from rnnviz.insight.trace import Trace

CONTRACTING_BELOW = 0.9
"""A step whose largest one-step singular value is below this shrinks every direction: contracting."""
EXPANDING_ABOVE = 1.1
"""A step whose largest one-step singular value is above this stretches some direction: expanding.
Between the two the step is near-isometric along its strongest direction (a signal can pass
through many such steps without vanishing or exploding)."""


class StepJacobians(NamedTuple):
    """``state`` (T, S, S): ∂state<t>/∂state<t-1>; ``input`` (T, S, D): ∂state<t>/∂x<t>."""

    state: np.ndarray
    input: np.ndarray


def rnn_step_jacobians(a: np.ndarray, Wax: np.ndarray, Waa: np.ndarray, activation: str) -> StepJacobians:
    """Vanilla RNN ``a<t> = g(Wax x<t> + Waa a<t-1> + ba)``.

    a: (T, H) the states a<t>.  Wax: (H, D).  Waa: (H, H).
    ``∂a<t>/∂a<t-1> = diag(g'(z<t>)) Waa`` (T, H, H); ``∂a<t>/∂x<t> = diag(g'(z<t>)) Wax`` (T, H, D).
    """
    d = activation_grad(a, activation)[:, :, None]                         # (T, H, 1)
    return StepJacobians(d * Waa[None], d * Wax[None])


def lstm_step_jacobians(a_prev: np.ndarray, c_prev: np.ndarray, c: np.ndarray, f: np.ndarray,
                        i: np.ndarray, o: np.ndarray, cand: np.ndarray, Wax: np.ndarray,
                        Waa: np.ndarray) -> StepJacobians:
    """LSTM, state ``[a; c]``: ``c<t> = Γf c<t-1> + Γi c~``, ``a<t> = Γo tanh(c<t>)``.

    a_prev, c_prev, c, f, i, o, cand: (T, H) (``a<t-1>``, ``c<t-1>``, ``c<t>``, the gates, ``c~``).
    Wax: (4H, D), Waa: (4H, H), blocks f, i, o, c. With W any input matrix (Waa or Wax):

        ∂c/∂· = diag(c<t-1> Γf(1-Γf)) W_f + diag(c~ Γi(1-Γi)) W_i + diag(Γi (1-c~²)) W_c
        ∂a/∂· = diag(tanh(c) Γo(1-Γo)) W_o + diag(Γo (1-tanh²c)) ∂c/∂·
        ∂c/∂c<t-1> = diag(Γf),  ∂a/∂c<t-1> = diag(Γo (1-tanh²c) Γf)

    Returns ``state`` (T, 2H, 2H) ``[[∂a/∂a<t-1>, ∂a/∂c<t-1>], [∂c/∂a<t-1>, ∂c/∂c<t-1>]]`` and
    ``input`` (T, 2H, D) ``[∂a/∂x; ∂c/∂x]``.
    """
    T, H = c.shape
    tc = np.tanh(c)
    k = o * (1.0 - tc * tc)                               # ∂a<t>/∂c<t>, elementwise (T, H)
    gate_scale = np.stack([c_prev * f * (1.0 - f), cand * i * (1.0 - i), i * (1.0 - cand * cand)], 1)
    out_scale = tc * o * (1.0 - o)                        # (T, H)

    def through(W):                                       # W (4H, M) -> ∂c/∂·, ∂a/∂· (T, H, M)
        Wf, Wi, Wo, Wc = W[:H], W[H:2 * H], W[2 * H:3 * H], W[3 * H:]
        dc = (gate_scale[:, 0, :, None] * Wf + gate_scale[:, 1, :, None] * Wi
              + gate_scale[:, 2, :, None] * Wc)
        da = out_scale[:, :, None] * Wo + k[:, :, None] * dc
        return dc, da

    dc_da, da_da = through(Waa)
    dc_dx, da_dx = through(Wax)
    Js = np.zeros((T, 2 * H, 2 * H))
    Js[:, :H, :H] = da_da
    Js[:, H:, :H] = dc_da
    diag = np.arange(H)
    Js[:, diag, H + diag] = k * f                         # ∂a/∂c<t-1>
    Js[:, H + diag, H + diag] = f                         # ∂c/∂c<t-1>
    return StepJacobians(Js, np.concatenate([da_dx, dc_dx], axis=1))


def gru_step_jacobians(a_prev: np.ndarray, r: np.ndarray, u: np.ndarray, cand: np.ndarray,
                       Wax: np.ndarray, Waa: np.ndarray) -> StepJacobians:
    """GRU (the engine's): ``c~ = tanh(Wax_c x + Waa_c (Γr a<t-1>) + b_c)``, ``a<t> = (1-Γu) a<t-1> + Γu c~``.

    a_prev, r, u, cand: (T, H). Wax: (3H, D), Waa: (3H, H), blocks r, u, c.

        ∂c~pre/∂a<t-1> = Waa_c diag(Γr) + Waa_c diag(a<t-1> Γr(1-Γr)) Waa_r
        ∂c~pre/∂x<t>   = Wax_c + Waa_c diag(a<t-1> Γr(1-Γr)) Wax_r
        ∂a<t>/∂·       = [diag(1-Γu)] + diag((c~ - a<t-1>) Γu(1-Γu)) W_u + diag(Γu (1-c~²)) ∂c~pre/∂·

    (the bracketed identity term for ∂a<t-1> only). Returns (T, H, H) and (T, H, D).
    """
    T, H = cand.shape
    Ar, Au, Ac = Waa[:H], Waa[H:2 * H], Waa[2 * H:]
    Xr, Xu, Xc = Wax[:H], Wax[H:2 * H], Wax[2 * H:]
    via_r = Ac[None] * (a_prev * r * (1.0 - r))[:, None, :]          # Waa_c diag(a Γr(1-Γr)) (T, H, H)
    pre_a = Ac[None] * r[:, None, :] + via_r @ Ar                      # (T, H, H)
    pre_x = Xc[None] + via_r @ Xr                                      # (T, H, D)
    u_scale = ((cand - a_prev) * u * (1.0 - u))[:, :, None]
    c_scale = (u * (1.0 - cand * cand))[:, :, None]
    Js = u_scale * Au[None] + c_scale * pre_a
    diag = np.arange(H)
    Js[:, diag, diag] += 1.0 - u
    Jx = u_scale * Xu[None] + c_scale * pre_x
    return StepJacobians(Js, Jx)


def gru_torch_step_jacobians(a_prev: np.ndarray, r: np.ndarray, z: np.ndarray, n: np.ndarray,
                             Wax: np.ndarray, Waa: np.ndarray, baa: np.ndarray) -> StepJacobians:
    """PyTorch's GRU: ``n = tanh(Wax_n x + b_n + Γr (Waa_n a<t-1> + baa))``, ``a<t> = (1-Γz) n + Γz a<t-1>``.

    a_prev, r, z, n: (T, H). Wax: (3H, D), Waa: (3H, H), blocks r, z, n; baa: (H,).
    With ``hn = Waa_n a<t-1> + baa`` (recomputed here, (T, H)):

        ∂npre/∂a<t-1> = diag(Γr) Waa_n + diag(hn Γr(1-Γr)) Waa_r
        ∂npre/∂x<t>   = Wax_n + diag(hn Γr(1-Γr)) Wax_r
        ∂a<t>/∂·      = [diag(Γz)] + diag((a<t-1> - n) Γz(1-Γz)) W_z + diag((1-Γz)(1-n²)) ∂npre/∂·

    (the bracketed term for ∂a<t-1> only). Returns (T, H, H) and (T, H, D).
    """
    T, H = n.shape
    Ar, Az, An = Waa[:H], Waa[H:2 * H], Waa[2 * H:]
    Xr, Xz, Xn = Wax[:H], Wax[H:2 * H], Wax[2 * H:]
    hn = a_prev @ An.T + baa                                           # (T, H)
    via_r = (hn * r * (1.0 - r))[:, :, None]                           # ∂npre/∂rpre, (T, H, 1)
    pre_a = r[:, :, None] * An[None] + via_r * Ar[None]                # (T, H, H)
    pre_x = Xn[None] + via_r * Xr[None]                                # (T, H, D)
    z_scale = ((a_prev - n) * z * (1.0 - z))[:, :, None]
    n_scale = ((1.0 - z) * (1.0 - n * n))[:, :, None]
    Js = z_scale * Az[None] + n_scale * pre_a
    diag = np.arange(H)
    Js[:, diag, diag] += z
    Jx = z_scale * Xz[None] + n_scale * pre_x
    return StepJacobians(Js, Jx)


def step_jacobians(trace: Trace) -> StepJacobians:
    """The one-step Jacobians of ``trace``'s cell along its sequence (see the module docstring)."""
    p, s = trace.params, trace.states
    if trace.cell == "rnn":
        return rnn_step_jacobians(s["a"], p["Wax"], p["Waa"], trace.activation)
    if trace.cell == "lstm":
        return lstm_step_jacobians(trace.previous("a"), trace.previous("c"), s["c"], s["f"], s["i"],
                                   s["o"], s["cand"], p["Wax"], p["Waa"])
    if trace.cell == "gru_torch":
        return gru_torch_step_jacobians(trace.previous("a"), s["r"], s["z"], s["cand"], p["Wax"], p["Waa"],
                                        p["baa"])
    return gru_step_jacobians(trace.previous("a"), s["r"], s["u"], s["cand"], p["Wax"], p["Waa"])


def largest_singular_values(M: np.ndarray) -> np.ndarray:
    """σmax of each matrix of a stack M (B, m, n) -> (B,); inf where a matrix is not finite."""
    out = np.full(M.shape[0], np.inf)
    ok = np.isfinite(M).all(axis=(1, 2))
    if ok.any():
        out[ok] = np.linalg.svd(M[ok], compute_uv=False)[:, 0]
    return out


POWER_ITERATIONS = 40
"""Power-iteration steps of :func:`estimated_singular_values`."""


def estimated_singular_values(M: np.ndarray, iterations: int = POWER_ITERATIONS) -> np.ndarray:
    """σmax of each matrix of a stack M (B, m, n) -> (B,), by power iteration on MᵀM from a fixed
    start: an estimate from below, for the window, where an exact SVD of every product is too slow
    (T²/2 SVDs of a 256×256 matrix take minutes for an LSTM of 128 units). inf where not finite."""
    out = np.full(M.shape[0], np.inf)
    ok = np.isfinite(M).all(axis=(1, 2))
    if not ok.any():
        return out
    A = M[ok]
    v = np.random.default_rng(0).standard_normal((A.shape[2], 1))
    v = np.broadcast_to(v / np.linalg.norm(v), (A.shape[0],) + v.shape).copy()     # (B, n, 1)
    At = A.transpose(0, 2, 1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(iterations):
            v = At @ (A @ v)
            scale = np.linalg.norm(v, axis=1, keepdims=True)
            v = np.divide(v, scale, out=np.zeros_like(v), where=scale > 0)
        out[ok] = np.linalg.norm(A @ v, axis=1)[:, 0]
    return out


def product_norms(Js: np.ndarray, block: tuple[slice, slice] | None = None,
                  sigma=largest_singular_values) -> np.ndarray:
    """``N[τ, s] = σmax(∂state<τ>/∂state<s>) = σmax(Js[τ] ⋯ Js[s+1])`` for s ≤ τ (1 on the
    diagonal), 0 above it.

    Js: (T, S, S) one-step Jacobians.  block: (rows, cols) to take σmax of one block of each
    product instead (e.g. the LSTM's ∂a<τ>/∂a<s> or ∂c<τ>/∂c<s>); the diagonal then holds the
    block of the identity's σmax.  sigma: σmax of a stack (exact SVD by default;
    :func:`estimated_singular_values` for speed).  Returns (T, T).
    Cost: T(T-1)/2 products and SVDs of S×S matrices (see benchmarks/bench_insight.py).
    """
    return block_product_norms(Js, [block], sigma)[0]


def block_product_norms(Js: np.ndarray, blocks: list, sigma=largest_singular_values) -> list[np.ndarray]:
    """:func:`product_norms` for several blocks (None: the whole product) from one chain of products."""
    T, S, _ = Js.shape
    blocks = [b if b is not None else (slice(None), slice(None)) for b in blocks]
    norms = [np.zeros((T, T)) for _ in blocks]
    eye = np.eye(S)
    P = np.empty((T, S, S))           # P[τ] = ∂state<τ>/∂state<s> for τ > s, at the current s
    for s in range(T - 1, -1, -1):
        for out, (rows, cols) in zip(norms, blocks):
            if s + 1 < T:
                out[s + 1:, s] = sigma(P[s + 1:, rows, cols])
            out[s, s] = largest_singular_values(eye[None, rows, cols])[0]
        if s > 0:                     # extend every product one step further back: · Js[s]
            P[s] = eye
            with np.errstate(over="ignore", invalid="ignore"):
                np.matmul(P[s:], Js[s], out=P[s:])
    return norms


def step_singular_values(Js: np.ndarray) -> np.ndarray:
    """All singular values of each one-step Jacobian, largest first: (T, S)."""
    return np.linalg.svd(Js, compute_uv=False)


def classify_steps(sigma_max: np.ndarray) -> list[str]:
    """"contracting", "near-isometric" or "expanding" per step from the largest one-step singular
    value (T,), with the bounds ``CONTRACTING_BELOW`` and ``EXPANDING_ABOVE``."""
    return ["contracting" if s < CONTRACTING_BELOW else "expanding" if s > EXPANDING_ABOVE
            else "near-isometric" for s in np.asarray(sigma_max, dtype=float)]
