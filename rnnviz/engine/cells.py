"""One time step of each recurrent cell: forward and backward side by side.

Notation follows the course: ``a<t>`` hidden state, ``c<t>`` LSTM cell state, ``Γ`` gates, ``c~``
the candidate. Shapes: N batch, D input features, H hidden units, G gate blocks (1 RNN, 4 LSTM,
3 for either GRU). Rows are examples (``a<t>`` is (N, H)), so the course's ``Waa a<t-1>`` is
``a<t-1> Waaᵀ``.

Fused layout: ``Wax`` (G·H, D), ``Waa`` (G·H, H) and ``ba`` (G·H,) stack one block of H rows per
gate. The input half of every pre-activation, ``xw<t> = x<t> Waxᵀ + ba`` (N, G·H), does not depend
on the recurrence, so :mod:`rnnviz.engine.sequence` computes it for all time steps in one matrix
product and a step adds only the recurrent half. Likewise a step's backward returns the
pre-activation gradient ``dz<t>`` (N, G·H) and the gradients on the previous state, and the
sequence sums the weight gradients over time in one product each: ``dWax = Σt dz<t>ᵀ x<t>``,
``dWaa = Σt dz<t>ᵀ a<t-1>`` (GRU block c: ``Σt dz_c<t>ᵀ (Γr * a<t-1>)``; PyTorch GRU block n:
``Σt (Γr * dz_n<t>)ᵀ a<t-1>``), ``dba = Σt Σn dz<t>``.

* RNN  (G = 1): ``a<t> = g(Wax x<t> + Waa a<t-1> + ba)``, g = tanh, relu or sigmoid.
* LSTM (G = 4), blocks ``f, i, o, c``: block k of ``[Waa | Wax]`` is the course's ``W_k``
  (H, H + D) acting on ``[a<t-1>; x<t>]``, block k of ``ba`` is ``b_k``.
  ``Γf, Γi, Γo = σ(z_f), σ(z_i), σ(z_o)``; ``c~ = tanh(z_c)``; ``c<t> = Γf*c<t-1> + Γi*c~``;
  ``a<t> = Γo * tanh(c<t>)``. (The course calls Γi the update gate Γu.)
* GRU  (G = 3), blocks ``r, u, c`` (the course's full GRU): ``Γr = σ(z_r)``, ``Γu = σ(z_u)``,
  ``c~ = tanh(xw_c + (Γr * a<t-1>) Waa_cᵀ)``; ``a<t> = Γu*c~ + (1-Γu)*a<t-1>``.
* PyTorch's GRU (cell ``gru_torch``, G = 3), blocks ``r, z, n`` as ``torch.nn.GRU`` orders them:
  ``Γr = σ(xw_r + a<t-1> Waa_rᵀ)``, ``Γz = σ(xw_z + a<t-1> Waa_zᵀ)``,
  ``n = tanh(xw_n + Γr * (a<t-1> Waa_nᵀ + baa))``; ``a<t> = (1-Γz)*n + Γz*a<t-1>``.
  The reset gate scales the recurrent product *after* it is taken, bias included, so the block's
  recurrent bias ``baa`` (H,) (PyTorch's ``b_hn``) is a parameter of its own; ``ba`` holds
  ``b_ir + b_hr``, ``b_iz + b_hz`` and ``b_in``. Γz weighs the old state (it plays the course's
  1-Γu) and n is the candidate (the course's c~).

Every forward writes its results into arrays the caller passes (``out``, ``gates``, ``c``, ``a``):
they are views of the sequence's (T, N, ·) buffers, so the step's cache is exactly what the
sequence keeps, and each backward names the cache entries it reads.
"""

from __future__ import annotations

import numpy as np

#: Speed switch: in float32, a product ``a Wᵀ`` of (rows, columns) with ``min_rows <= rows <=
#: max_rows`` and ``columns >= max(min_columns, columns_per_row · rows)``, the tuple's four entries
#: (one step's recurrent product at batch 4–64 and a gate width of 512 or more, and at least 16
#: per example) is taken as ``(W aᵀ)ᵀ``. OpenBLAS's AVX-512 float32 kernel runs the tall form
#: 1.2–3× faster there (its AVX2 kernel runs both alike; float64, batch 1 and batches past 64 gain
#: nothing; benchmarks/README.md). None takes every product as ``a Wᵀ``. The forward kernels take
#: the choice as their ``tall`` flag, made once per sequence by :func:`tall_form`.
TALL_PRODUCT: tuple[int, int, int, int] | None = (4, 64, 512, 16)


def tall_form(rows: int, columns: int, dtype) -> bool:
    """Whether a product ``a Wᵀ`` of shape (rows, columns) in ``dtype`` is taken as ``(W aᵀ)ᵀ``."""
    if TALL_PRODUCT is None or dtype != np.float32:
        return False
    min_rows, max_rows, min_columns, per_row = TALL_PRODUCT
    return min_rows <= rows <= max_rows and columns >= max(min_columns, per_row * rows)


def times_transposed(a: np.ndarray, W: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a Wᵀ`` (N, M) for a (N, K) and W (M, K), into ``out`` if given (else a new array or, in
    the tall form, a transposed view of one); :func:`tall_form` chooses the form."""
    if not tall_form(a.shape[0], W.shape[0], a.dtype):
        return np.dot(a, W.T) if out is None else np.matmul(a, W.T, out=out)
    product = np.dot(W, a.T).T                             # (M, N) computed, (N, M) seen
    if out is None:
        return product
    out[...] = product
    return out


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ(z) = 1 / (1 + e^-z), written as ``½·tanh(z/2) + ½`` (no overflow for any z)."""
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def relu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.maximum(z, 0.0, out=out)


#: the vanilla RNN's activations g(z, out=...)
ACTIVATIONS = {"tanh": np.tanh, "relu": relu, "sigmoid": sigmoid}


def activation_grad(a: np.ndarray, activation: str) -> np.ndarray:
    """g'(z) written from the output ``a = g(z)`` (so the cache need not keep z); shape of ``a``."""
    if activation == "tanh":
        return 1.0 - a * a
    if activation == "relu":
        return (a > 0.0).astype(a.dtype)
    if activation == "sigmoid":
        return a * (1.0 - a)
    raise ValueError(f"activation must be tanh, relu or sigmoid (got {activation!r})")


# --------------------------------------------------------------------------- vanilla RNN
def rnn_step_forward(xw: np.ndarray, a_prev: np.ndarray, Waa: np.ndarray, activation: str,
                     out: np.ndarray, tall: bool = False) -> np.ndarray:
    """``a<t> = g(xw<t> + a<t-1> Waaᵀ)``.

    xw: (N, H) input half ``x<t> Waxᵀ + ba``.  a_prev: (N, H).  Waa: (H, H).
    out: (N, H) receives ``a<t>`` (it may be ``xw`` itself). Cache for backward: ``(a<t-1>, a<t>)``.
    tall: take the recurrent product as ``(Waa a<t-1>ᵀ)ᵀ`` (see :func:`tall_form`; so in every kernel).
    """
    z = np.add(xw, np.dot(Waa, a_prev.T).T if tall else np.dot(a_prev, Waa.T), out=out)
    return ACTIVATIONS[activation](z, out=z)


def rnn_step_backward(da: np.ndarray, a: np.ndarray, Waa: np.ndarray, activation: str
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Backward of :func:`rnn_step_forward`.

    da: (N, H) total gradient on ``a<t>`` (readout at t plus step t+1).  a: (N, H) the cached ``a<t>``.
    Returns ``dz<t> = da * g'(z<t>)`` and ``da<t-1> = dz<t> Waa``, both (N, H).
    (``dWaa<t> = dz<t>ᵀ a<t-1>``.)
    """
    dz = da * activation_grad(a, activation)
    return dz, np.dot(dz, Waa)


# --------------------------------------------------------------------------- LSTM
def lstm_step_forward(xw: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, Waa: np.ndarray,
                      gates: np.ndarray, c: np.ndarray, a: np.ndarray, tall: bool = False) -> None:
    """One LSTM step.

    xw: (N, 4H) input half, blocks f, i, o, c.  a_prev, c_prev: (N, H).  Waa: (4H, H).
    Writes ``[Γf, Γi, Γo, c~]`` into gates (N, 4H), ``c<t>`` into c and ``a<t>`` into a (N, H).
    Cache for backward: ``(c<t-1>, c<t>, gates)``.
    """
    H = c.shape[1]
    z = np.add(xw, np.dot(Waa, a_prev.T).T if tall else np.dot(a_prev, Waa.T), out=gates)      # (N, 4H) pre-activations
    sigmoid(z[:, :3 * H], out=z[:, :3 * H])                # Γf, Γi, Γo
    np.tanh(z[:, 3 * H:], out=z[:, 3 * H:])                # c~
    f, i, o, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    np.add(f * c_prev, i * cand, out=c)
    np.multiply(o, np.tanh(c), out=a)


def lstm_step_backward(da: np.ndarray, dc_next: np.ndarray, c_prev: np.ndarray, c: np.ndarray,
                       gates: np.ndarray, Waa: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`lstm_step_forward`.

    da: (N, H) total gradient on ``a<t>``; dc_next: (N, H) gradient on ``c<t>`` from step t+1.
    c_prev, c (N, H), gates (N, 4H): the cache.
    Returns ``dz<t>`` (N, 4H) ``[dz_f, dz_i, dz_o, dz_c]``, ``da<t-1> = dz<t> Waa``,
    ``dc<t-1> = dc<t> * Γf`` and ``dc<t>`` the total gradient on the cell state (N, H).
    """
    H = c.shape[1]
    f, i, o, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    tanh_c = np.tanh(c)
    dc = dc_next + da * o * (1.0 - tanh_c * tanh_c)                 # total dL/dc<t>
    # dL/dΓf, dL/dΓi, dL/dΓo, dL/dc~, then through σ' = σ(1-σ) and tanh' = 1 - c~²
    dz = np.concatenate([dc * c_prev, dc * cand, da * tanh_c, dc * i], axis=1)
    sig = gates[:, :3 * H]
    dz[:, :3 * H] *= sig * (1.0 - sig)
    dz[:, 3 * H:] *= 1.0 - cand * cand
    return dz, np.dot(dz, Waa), dc * f, dc


# --------------------------------------------------------------------------- GRU
def gru_step_forward(xw: np.ndarray, a_prev: np.ndarray, Waa: np.ndarray,
                     gates: np.ndarray, ra: np.ndarray, a: np.ndarray, tall: bool = False) -> None:
    """One GRU step (the course's full GRU).

    xw: (N, 3H) input half, blocks r, u, c.  a_prev: (N, H).  Waa: (3H, H).
    Writes ``[Γr, Γu, c~]`` into gates (N, 3H), ``Γr * a<t-1>`` into ra (N, H) (for dWaa's
    block c) and ``a<t>`` into a (N, H). Cache for backward: ``(a<t-1>, gates)``.
    """
    H = a.shape[1]
    Wru, Wc = Waa[:2 * H], Waa[2 * H:]
    ru = np.add(xw[:, :2 * H], np.dot(Wru, a_prev.T).T if tall else np.dot(a_prev, Wru.T), out=gates[:, :2 * H])
    sigmoid(ru, out=ru)                                                  # Γr, Γu
    r, u = gates[:, :H], gates[:, H:2 * H]
    np.multiply(r, a_prev, out=ra)
    cand = np.add(xw[:, 2 * H:], np.dot(Wc, ra.T).T if tall else np.dot(ra, Wc.T), out=gates[:, 2 * H:])
    np.tanh(cand, out=cand)                                              # c~
    np.add(u * cand, (1.0 - u) * a_prev, out=a)


def gru_step_backward(da: np.ndarray, a_prev: np.ndarray, gates: np.ndarray, Waa: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Backward of :func:`gru_step_forward`.

    da: (N, H) total gradient on ``a<t>``.  a_prev (N, H), gates (N, 3H): the cache.
    Returns ``dz<t>`` (N, 3H) ``[dz_r, dz_u, dz_c]`` and ``da<t-1>`` (N, H).
    """
    H = a_prev.shape[1]
    r, u, cand = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dz_c = da * u * (1.0 - cand * cand)
    dz_u = da * (cand - a_prev) * u * (1.0 - u)
    dra = np.dot(dz_c, Waa[2 * H:])                           # dL/d(Γr * a<t-1>)
    dz_r = dra * a_prev * r * (1.0 - r)
    dz = np.concatenate([dz_r, dz_u, dz_c], axis=1)
    da_prev = da * (1.0 - u) + dra * r + np.dot(dz[:, :2 * H], Waa[:2 * H])
    return dz, da_prev


# --------------------------------------------------------------------------- PyTorch's GRU
def gru_torch_step_forward(xw: np.ndarray, a_prev: np.ndarray, Waa: np.ndarray, baa: np.ndarray,
                           gates: np.ndarray, hn: np.ndarray, a: np.ndarray, tall: bool = False) -> None:
    """One step of PyTorch's GRU (``torch.nn.GRU``), reset gate after the recurrent product.

    xw: (N, 3H) input half, blocks r, z, n.  a_prev: (N, H).  Waa: (3H, H).  baa: (H,) the
    recurrent bias of block n.
    ``Γr, Γz = σ(xw_r + a<t-1> Waa_rᵀ), σ(xw_z + a<t-1> Waa_zᵀ)``;
    ``hn<t> = a<t-1> Waa_nᵀ + baa``;  ``n = tanh(xw_n + Γr * hn<t>)``;  ``a<t> = (1-Γz)*n + Γz*a<t-1>``.
    Writes ``[Γr, Γz, n]`` into gates (N, 3H), ``hn<t>`` into hn (N, H) and ``a<t>`` into a (N, H).
    Cache for backward: ``(a<t-1>, gates, hn)``.
    """
    H = a.shape[1]
    Wrz, Wn = Waa[:2 * H], Waa[2 * H:]
    rz = np.add(xw[:, :2 * H], np.dot(Wrz, a_prev.T).T if tall else np.dot(a_prev, Wrz.T), out=gates[:, :2 * H])
    sigmoid(rz, out=rz)                                                  # Γr, Γz
    r, z = gates[:, :H], gates[:, H:2 * H]
    np.add(np.dot(Wn, a_prev.T).T if tall else np.dot(a_prev, Wn.T), baa, out=hn)
    n = np.add(xw[:, 2 * H:], r * hn, out=gates[:, 2 * H:])
    np.tanh(n, out=n)                                                    # n
    np.add(n, z * (a_prev - n), out=a)                                   # (1-Γz)*n + Γz*a<t-1>


def gru_torch_step_backward(da: np.ndarray, a_prev: np.ndarray, gates: np.ndarray, hn: np.ndarray,
                            Waa: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`gru_torch_step_forward`.

    da: (N, H) total gradient on ``a<t>``.  a_prev (N, H), gates (N, 3H), hn (N, H): the cache.
    Returns ``dz<t>`` (N, 3H) ``[dz_r, dz_z, dz_n]``, ``dhn<t> = Γr * dz_n`` (N, H), the gradient
    on ``a<t-1> Waa_nᵀ + baa`` (``dWaa_n<t> = dhn<t>ᵀ a<t-1>``, ``dbaa<t> = Σn dhn<t>``), and
    ``da<t-1> = da * Γz + [dz_r, dz_z, dhn] Waa`` (N, H).
    """
    H = a_prev.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dz_n = da * (1.0 - z) * (1.0 - n * n)
    dz_z = da * (a_prev - n) * z * (1.0 - z)
    dhn = dz_n * r
    dz_r = dz_n * hn * r * (1.0 - r)
    dz = np.concatenate([dz_r, dz_z, dz_n], axis=1)
    da_prev = da * z + np.dot(dz[:, :2 * H], Waa[:2 * H]) + np.dot(dhn, Waa[2 * H:])
    return dz, dhn, da_prev
