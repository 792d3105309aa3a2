"""The course notebooks' functions and shape conventions, computed by the engine's own kernels.

A student who wrote ``rnn_cell_forward``, ``lstm_backward`` … in a course notebook can call these
with the same arguments and compare every array with their own. Nothing numeric is implemented
twice: each cell function calls the engine's step kernels (:mod:`rnnviz.engine.cells`), its input
projection and gradient (:mod:`rnnviz.engine.sequence`) and its softmax
(:mod:`rnnviz.engine.readouts`); this module only transposes, splits and joins arrays, and sums
the per-step weight gradients the way the course does.

Course layout (feature first, batch second, time last), with the course's letters:

* ``x`` (n_x, m, T_x), ``xt`` (n_x, m); hidden states ``a`` (n_a, m, T_x), ``a_prev`` (n_a, m);
  predictions ``y_pred`` (n_y, m, T_x), a softmax over n_y; biases are columns (n_a, 1), (n_y, 1).
* Vanilla RNN parameters ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``Wya (n_y, n_a)``, ``ba (n_a, 1)``,
  ``by (n_y, 1)``: ``a<t> = tanh(Wax x<t> + Waa a<t-1> + ba)``, ``ŷ<t> = softmax(Wya a<t> + by)``.
* LSTM ``Wf, bf, Wi, bi, Wc, bc, Wo, bo, Wy, by``; each ``W_k`` is (n_a, n_a + n_x) acting on
  ``[a<t-1>; x<t>]`` (hidden rows first), each ``b_k`` (n_a, 1); ``Wy (n_y, n_a)``, ``by (n_y, 1)``.
* GRU (the course's full GRU) ``Wr, br, Wu, bu, Wc, bc, Wy, by`` in the same layout;
  ``Wc`` acts on ``[Γr * a<t-1>; x<t>]``.

The engine is batch-first and time-major: ``x`` (T, N, D), states (N, H), biases (G·H,), with the
gate matrices fused into ``Wax`` (G·H, D), ``Waa`` (G·H, H), ``ba`` (G·H,) in block order
f, i, o, c (LSTM) or r, u, c (GRU). So the course's ``Wf`` is ``[Waa_f | Wax_f]``, block f of
``Waa`` beside block f of ``Wax``; :func:`to_engine_params` and :func:`to_course_params` convert.

Inputs of any numeric dtype are accepted and the results are float64, as in the notebooks.

Caches have the course's structure, so a student's own backward function can consume ours and
ours can consume theirs: ``rnn_cell_forward`` returns ``(a_next, a_prev, xt, parameters)``;
``lstm_cell_forward`` ``(a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)``;
``gru_cell_forward`` ``(a_next, a_prev, rt, ut, cct, xt, parameters)``; the sequence functions
return ``(list of per-step caches, x)``.

Bugs in the course material that these functions do *not* reproduce (compare with care):

* The XOR-parity tutorial's ``rnn_cell_backward`` multiplies ``dxt``, ``da_prev``, ``dWax``,
  ``dWaa`` and ``dba`` by ``1/m`` at every step. The batch mean belongs once, in the loss
  gradient; applied per step it shrinks the gradient reaching ``a<t>`` by ``(1/m)^(T_x - t)``.
  Its ``rnn_backward`` also sets ``da = Waa.T · da_prevt`` although ``da_prevt`` already is
  ``Waa.T · dtanh``, so the recurrent matrix is applied twice per step.
* The step-by-step notebook's ``backward_rnnCell`` returns ``W_aa`` under the key ``dW_aa``
  (the weights where their gradient was meant), so its summed ``dWaa`` is ``T_x · Waa``.
* The course notes write the LSTM cell update with ``ĉ<t-1>`` (it is ``c~<t>``) and the output gate
  as ``σ(Wo[a<t-1>, x<t>], bo)`` (it is ``+ bo``); some docstrings give ``da_prev`` the shape
  (n_a, n_x) (it is (n_a, m)) and ``dx`` (n_x, m) (it is (n_x, m, T_x)).
* The min-char-rnn copy in the course material never accumulates ``dby``, so ``by`` never learns.
"""

from __future__ import annotations

import numpy as np

from rnnviz.engine import cells, readouts, sequence

#: the course's parameter names for each cell
COURSE_NAMES = {
    "rnn": ("Wax", "Waa", "Wya", "ba", "by"),
    "lstm": ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo", "Wy", "by"),
    "gru": ("Wr", "br", "Wu", "bu", "Wc", "bc", "Wy", "by"),
}
#: gate blocks in the engine's fused order
GATES = {"lstm": ("f", "i", "o", "c"), "gru": ("r", "u", "c")}
ENGINE_NAMES = ("Wax", "Waa", "ba", "Wya", "by")


# --------------------------------------------------------------------------- checks
def _float_array(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array ({exc})") from None
    return arr


def _check(name: str, value, shape: tuple, letters: str) -> np.ndarray:
    """``value`` as a float64 array of exactly ``shape`` (None matches any size), all finite.

    letters: the shape in the course's letters, e.g. "(n_a, m)", used in the error message.
    """
    arr = _float_array(name, value)
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        names = letters.strip("()").rstrip(",").split(", ")
        parts = [n if s is None else str(s) for s, n in zip(shape, names)]
        want = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {letters} = {want}; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def _check_names(name: str, params, expected: tuple) -> None:
    if not isinstance(params, dict):
        raise ValueError(f"{name} must be a dict with keys {list(expected)}; got {type(params).__name__}")
    missing = [k for k in expected if k not in params]
    extra = sorted(str(k) for k in params if k not in expected)
    if missing or extra:
        raise ValueError(f"{name}: missing {missing or 'none'}, unexpected {extra or 'none'}; "
                         f"expected exactly {list(expected)}")


def _matrix(name: str, value) -> np.ndarray:
    arr = _float_array(name, value)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix; got shape {arr.shape}")
    return arr


def check_course_params(parameters, cell: str) -> tuple[dict, int, int, int]:
    """Validate a course parameter dict; returns ``(float64 copies, n_a, n_x, n_y)``.

    The sizes are read from ``Waa`` / ``Wax`` / ``Wya`` (RNN) or ``Wy`` and the first gate matrix
    (LSTM, GRU); every other array must then match exactly. Raises ``ValueError`` naming the
    parameter and the expected shape.
    """
    if cell not in COURSE_NAMES:
        raise ValueError(f"cell must be rnn, lstm or gru (got {cell!r})")
    names = COURSE_NAMES[cell]
    _check_names("parameters", parameters, names)
    if cell == "rnn":
        n_a = _matrix("parameters['Waa']", parameters["Waa"]).shape[0]
        n_x = _matrix("parameters['Wax']", parameters["Wax"]).shape[1]
        n_y = _matrix("parameters['Wya']", parameters["Wya"]).shape[0]
        shapes = {"Wax": ((n_a, n_x), "(n_a, n_x)"), "Waa": ((n_a, n_a), "(n_a, n_a)"),
                  "Wya": ((n_y, n_a), "(n_y, n_a)"), "ba": ((n_a, 1), "(n_a, 1)"),
                  "by": ((n_y, 1), "(n_y, 1)")}
    else:
        n_y, n_a = _matrix("parameters['Wy']", parameters["Wy"]).shape
        first = "W" + GATES[cell][0]
        n_x = _matrix(f"parameters[{first!r}]", parameters[first]).shape[1] - n_a
        if n_x < 1:
            raise ValueError(f"parameters[{first!r}] must have shape (n_a, n_a + n_x) with n_a = {n_a} "
                             f"(from Wy) and n_x >= 1; got {np.shape(parameters[first])}")
        shapes = {"Wy": ((n_y, n_a), "(n_y, n_a)"), "by": ((n_y, 1), "(n_y, 1)")}
        for g in GATES[cell]:
            shapes["W" + g] = ((n_a, n_a + n_x), "(n_a, n_a + n_x)")
            shapes["b" + g] = ((n_a, 1), "(n_a, 1)")
    out = {k: _check(f"parameters[{k!r}]", parameters[k], *shapes[k]) for k in names}
    return out, n_a, n_x, n_y


def _check_cache(name: str, cache, size: int, made_by: str) -> tuple:
    if not isinstance(cache, (tuple, list)) or len(cache) != size:
        raise ValueError(f"{name} must be the {size}-tuple returned by {made_by}")
    return tuple(cache)


def _check_caches(caches, made_by: str) -> tuple[list, np.ndarray]:
    if not isinstance(caches, (tuple, list)) or len(caches) != 2 or not isinstance(caches[0], (list, tuple)):
        raise ValueError(f"caches must be the (list of per-step caches, x) pair returned by {made_by}")
    steps, x = caches
    x = _float_array("caches x", x)
    if x.ndim != 3 or len(steps) != x.shape[2] or x.shape[2] < 1:
        raise ValueError(f"caches must hold one step cache per time step of x (n_x, m, T_x); "
                         f"got {len(steps)} caches and x of shape {x.shape}")
    return list(steps), x


# --------------------------------------------------------------------------- conversions
def to_engine_params(course_params: dict, cell: str) -> dict[str, np.ndarray]:
    """Course parameters -> the engine's fused ``{Wax (G·H, D), Waa (G·H, H), ba (G·H,), Wya (K, H), by (K,)}``.

    LSTM: block k of ``Waa`` / ``Wax`` is ``W_k[:, :n_a]`` / ``W_k[:, n_a:]``, blocks in order
    f, i, o, c; GRU likewise in order r, u, c. New float64 arrays; the input is not modified.
    """
    p, n_a, _, _ = check_course_params(course_params, cell)
    if cell == "rnn":
        return {"Wax": p["Wax"].copy(), "Waa": p["Waa"].copy(), "ba": p["ba"][:, 0].copy(),
                "Wya": p["Wya"].copy(), "by": p["by"][:, 0].copy()}
    blocks = [p["W" + g] for g in GATES[cell]]
    return {"Wax": np.concatenate([W[:, n_a:] for W in blocks]),
            "Waa": np.concatenate([W[:, :n_a] for W in blocks]),
            "ba": np.concatenate([p["b" + g][:, 0] for g in GATES[cell]]),
            "Wya": p["Wy"].copy(), "by": p["by"][:, 0].copy()}


def to_course_params(engine_params: dict, cell: str) -> dict[str, np.ndarray]:
    """The engine's fused parameters -> the course's dict (inverse of :func:`to_engine_params`)."""
    if cell not in COURSE_NAMES:
        raise ValueError(f"cell must be rnn, lstm or gru (got {cell!r})")
    _check_names("engine_params", engine_params, ENGINE_NAMES)
    G = 1 if cell == "rnn" else len(GATES[cell])
    Waa = _matrix("engine_params['Waa']", engine_params["Waa"])
    H = Waa.shape[1]
    D = _matrix("engine_params['Wax']", engine_params["Wax"]).shape[1]
    K = _matrix("engine_params['Wya']", engine_params["Wya"]).shape[0]
    shapes = {"Wax": ((G * H, D), "(G·H, D)"), "Waa": ((G * H, H), "(G·H, H)"), "ba": ((G * H,), "(G·H,)"),
              "Wya": ((K, H), "(K, H)"), "by": ((K,), "(K,)")}
    e = {k: _check(f"engine_params[{k!r}]", engine_params[k], *shapes[k]) for k in ENGINE_NAMES}
    if cell == "rnn":
        return {"Wax": e["Wax"].copy(), "Waa": e["Waa"].copy(), "Wya": e["Wya"].copy(),
                "ba": e["ba"][:, None].copy(), "by": e["by"][:, None].copy()}
    out = {}
    for k, g in enumerate(GATES[cell]):
        rows = slice(k * H, (k + 1) * H)
        out["W" + g] = np.concatenate([e["Waa"][rows], e["Wax"][rows]], axis=1)
        out["b" + g] = e["ba"][rows, None].copy()
    out["Wy"] = e["Wya"].copy()
    out["by"] = e["by"][:, None].copy()
    return {k: out[k] for k in COURSE_NAMES[cell]}


def _engine(p: dict, cell: str, n_a: int) -> dict[str, np.ndarray]:
    """Fused engine arrays from already checked course parameters (no second validation)."""
    if cell == "rnn":
        return {"Wax": p["Wax"], "Waa": p["Waa"], "ba": p["ba"][:, 0], "Wya": p["Wya"], "by": p["by"][:, 0]}
    blocks = [p["W" + g] for g in GATES[cell]]
    return {"Wax": np.concatenate([W[:, n_a:] for W in blocks]),
            "Waa": np.concatenate([W[:, :n_a] for W in blocks]),
            "ba": np.concatenate([p["b" + g][:, 0] for g in GATES[cell]]),
            "Wya": p["Wy"], "by": p["by"][:, 0]}


def _input_half(e: dict, xt: np.ndarray) -> np.ndarray:
    """The engine's ``x<t> Waxᵀ + ba`` for one step: xt (n_x, m) -> (m, G·H)."""
    m = xt.shape[1]
    out = np.empty((1, m, e["Wax"].shape[0]))
    return sequence.input_projection(e["Wax"], e["ba"], xt.T[None], out=out)[0]


def _input_grads(e: dict, dz: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The input half's gradients from dz (m, G·H): ``dxt`` (n_x, m), ``dWax`` (G·H, n_x), ``dba`` (G·H,)."""
    dWax = sequence.summed_over_time(dz[None], xt.T[None], out=np.empty_like(e["Wax"]))
    return (dz @ e["Wax"]).T, dWax, dz.sum(axis=0)


def _softmax_readout(e: dict, a: np.ndarray) -> np.ndarray:
    """``softmax(Wya a + by)`` for a (m, n_a) engine-layout state; returns course layout (n_y, m)."""
    return readouts.softmax(a @ e["Wya"].T + e["by"]).T


def _split_blocks(d: np.ndarray, cell: str, n_a: int) -> dict[str, np.ndarray]:
    return {g: d[k * n_a:(k + 1) * n_a] for k, g in enumerate(GATES[cell])}


# --------------------------------------------------------------------------- vanilla RNN
def rnn_cell_forward(xt, a_prev, parameters) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One step: ``a<t> = tanh(Wax x<t> + Waa a<t-1> + ba)``, ``ŷ<t> = softmax(Wya a<t> + by)``.

    xt (n_x, m), a_prev (n_a, m), parameters Wax, Waa, Wya, ba, by.
    Returns ``a_next`` (n_a, m), ``yt_pred`` (n_y, m) and ``cache = (a_next, a_prev, xt, parameters)``.
    """
    p, n_a, n_x, _ = check_course_params(parameters, "rnn")
    xt = _check("xt", xt, (n_x, None), "(n_x, m)")
    m = xt.shape[1]
    a_prev = _check("a_prev", a_prev, (n_a, m), "(n_a, m)")
    e = _engine(p, "rnn", n_a)
    z = _input_half(e, xt)                                    # (m, n_a), becomes a<t>
    cells.rnn_step_forward(z, a_prev.T, e["Waa"], "tanh", out=z)
    a_next = np.ascontiguousarray(z.T)
    return a_next, _softmax_readout(e, z), (a_next, a_prev, xt, p)


def rnn_cell_backward(da_next, cache) -> dict[str, np.ndarray]:
    """Backward of one step, given the total gradient ``da_next`` (n_a, m) on ``a<t>``.

    Returns ``dxt`` (n_x, m), ``da_prev`` (n_a, m), ``dWax`` (n_a, n_x), ``dWaa`` (n_a, n_a),
    ``dba`` (n_a, 1). With ``dz = (1 - a<t>²) * da_next``: ``dWaa = dz a<t-1>ᵀ``, ``dWax = dz x<t>ᵀ``,
    ``dba = Σ_m dz``, ``da_prev = Waaᵀ dz``, ``dxt = Waxᵀ dz``. No 1/m here: the batch mean belongs
    in the loss gradient that produced ``da_next`` (the XOR-parity tutorial applies it per step).
    """
    a_next, a_prev, xt, parameters = _check_cache("cache", cache, 4, "rnn_cell_forward")
    p, n_a, n_x, _ = check_course_params(parameters, "rnn")
    xt = _check("cache xt", xt, (n_x, None), "(n_x, m)")
    m = xt.shape[1]
    a_next = _check("cache a_next", a_next, (n_a, m), "(n_a, m)")
    a_prev = _check("cache a_prev", a_prev, (n_a, m), "(n_a, m)")
    da_next = _check("da_next", da_next, (n_a, m), "(n_a, m)")
    dz, da_prev = cells.rnn_step_backward(da_next.T, a_next.T, p["Waa"], "tanh")
    dxt, dWax, dba = _input_grads(_engine(p, "rnn", n_a), dz, xt)
    dWaa = sequence.summed_over_time(dz[None], a_prev.T[None], out=np.empty((n_a, n_a)))
    return {"dxt": dxt, "da_prev": np.ascontiguousarray(da_prev.T),
            "dWax": dWax, "dWaa": dWaa, "dba": dba[:, None]}


def rnn_forward(x, a0, parameters) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The RNN over all steps, starting from ``a0`` (n_a, m).

    x (n_x, m, T_x). Returns ``a`` (n_a, m, T_x), ``y_pred`` (n_y, m, T_x) (softmax over n_y) and
    ``caches = (list of rnn_cell_forward caches, x)``.
    """
    p, n_a, n_x, n_y = check_course_params(parameters, "rnn")
    x = _check("x", x, (n_x, None, None), "(n_x, m, T_x)")
    _, m, T_x = x.shape
    a_next = _check("a0", a0, (n_a, m), "(n_a, m)")
    a, y_pred, steps = np.empty((n_a, m, T_x)), np.empty((n_y, m, T_x)), []
    for t in range(T_x):
        a_next, y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_next, p)
        a[:, :, t] = a_next
        steps.append(cache)
    return a, y_pred, (steps, x)


def rnn_backward(da, caches) -> dict[str, np.ndarray]:
    """BPTT over the whole sequence.

    da (n_a, m, T_x): upstream gradient on every hidden state (from the readout, not including
    the recurrent path). Returns ``dx`` (n_x, m, T_x), ``da0`` (n_a, m), ``dWax`` (n_a, n_x),
    ``dWaa`` (n_a, n_a), ``dba`` (n_a, 1): the sums over time of the per-step gradients, each step
    receiving ``da[:, :, t] + da_prev`` of the step after it.
    """
    steps, x = _check_caches(caches, "rnn_forward")
    n_x, m, T_x = x.shape
    n_a = _float_array("caches[0] a_next", _check_cache("caches[0]", steps[0], 4, "rnn_cell_forward")[0]).shape[0]
    da = _check("da", da, (n_a, m, T_x), "(n_a, m, T_x)")
    grads = {"dx": np.empty((n_x, m, T_x))}
    da_prev = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        g = rnn_cell_backward(da[:, :, t] + da_prev, steps[t])
        grads["dx"][:, :, t] = g["dxt"]
        da_prev = g["da_prev"]
        for k in ("dWax", "dWaa", "dba"):
            grads[k] = grads[k] + g[k] if k in grads else g[k]
    grads["da0"] = da_prev
    return {k: grads[k] for k in ("dx", "da0", "dWax", "dWaa", "dba")}


# --------------------------------------------------------------------------- LSTM
def lstm_cell_forward(xt, a_prev, c_prev, parameters) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """One LSTM step with ``concat = [a<t-1>; x<t>]``.

    ``Γf = σ(Wf concat + bf)``, ``Γi = σ(Wi concat + bi)``, ``c~ = tanh(Wc concat + bc)``,
    ``c<t> = Γf * c<t-1> + Γi * c~``, ``Γo = σ(Wo concat + bo)``, ``a<t> = Γo * tanh(c<t>)``,
    ``ŷ<t> = softmax(Wy a<t> + by)``.
    xt (n_x, m), a_prev and c_prev (n_a, m). Returns ``a_next``, ``c_next`` (n_a, m), ``yt_pred``
    (n_y, m) and ``cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)``.
    """
    p, n_a, n_x, _ = check_course_params(parameters, "lstm")
    xt = _check("xt", xt, (n_x, None), "(n_x, m)")
    m = xt.shape[1]
    a_prev = _check("a_prev", a_prev, (n_a, m), "(n_a, m)")
    c_prev = _check("c_prev", c_prev, (n_a, m), "(n_a, m)")
    e = _engine(p, "lstm", n_a)
    gates, c, a = _input_half(e, xt), np.empty((m, n_a)), np.empty((m, n_a))     # gates (m, 4·n_a)
    cells.lstm_step_forward(gates, a_prev.T, c_prev.T, e["Waa"], gates, c, a)
    g = _split_blocks(np.ascontiguousarray(gates.T), "lstm", n_a)
    a_next, c_next = np.ascontiguousarray(a.T), np.ascontiguousarray(c.T)
    cache = (a_next, c_next, a_prev, c_prev, g["f"], g["i"], g["c"], g["o"], xt, p)
    return a_next, c_next, _softmax_readout(e, a), cache


def lstm_cell_backward(da_next, dc_next, cache) -> dict[str, np.ndarray]:
    """Backward of one LSTM step.

    da_next (n_a, m): total gradient on ``a<t>``; dc_next (n_a, m): gradient on ``c<t>`` from step
    t+1. Returns ``dxt`` (n_x, m), ``da_prev``, ``dc_prev`` (n_a, m), and for each gate k in
    f, i, c, o: ``dW_k`` (n_a, n_a + n_x) ``= dz_k concatᵀ`` and ``db_k`` (n_a, 1) ``= Σ_m dz_k``.
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = _check_cache(
        "cache", cache, 10, "lstm_cell_forward")
    p, n_a, n_x, _ = check_course_params(parameters, "lstm")
    xt = _check("cache xt", xt, (n_x, None), "(n_x, m)")
    m = xt.shape[1]
    state = {name: _check(f"cache {name}", v, (n_a, m), "(n_a, m)") for name, v in
             (("c_next", c_next), ("a_prev", a_prev), ("c_prev", c_prev), ("ft", ft), ("it", it),
              ("cct", cct), ("ot", ot))}
    da_next = _check("da_next", da_next, (n_a, m), "(n_a, m)")
    dc_next = _check("dc_next", dc_next, (n_a, m), "(n_a, m)")
    e = _engine(p, "lstm", n_a)
    gates = np.concatenate([state["ft"], state["it"], state["ot"], state["cct"]]).T    # (m, 4·n_a)
    dz, da_prev, dc_prev, _ = cells.lstm_step_backward(
        da_next.T, dc_next.T, state["c_prev"].T, state["c_next"].T, gates, e["Waa"])
    dxt, dWax, dba = _input_grads(e, dz, xt)
    dWaa = sequence.summed_over_time(dz[None], state["a_prev"].T[None], out=np.empty_like(e["Waa"]))
    dW = _split_blocks(np.concatenate([dWaa, dWax], axis=1), "lstm", n_a)   # W_k = [Waa_k | Wax_k]
    db = _split_blocks(dba[:, None], "lstm", n_a)
    out = {"dxt": dxt, "da_prev": np.ascontiguousarray(da_prev.T),
           "dc_prev": np.ascontiguousarray(dc_prev.T)}
    for g in ("f", "i", "c", "o"):
        out["dW" + g], out["db" + g] = dW[g], db[g]
    return out


def lstm_forward(x, a0, parameters) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """The LSTM over all steps from ``a0`` (n_a, m) with ``c<0> = 0``, as the course does.

    x (n_x, m, T_x). Returns ``a`` (n_a, m, T_x), ``y`` (n_y, m, T_x), ``c`` (n_a, m, T_x) and
    ``caches = (list of lstm_cell_forward caches, x)``.
    """
    p, n_a, n_x, n_y = check_course_params(parameters, "lstm")
    x = _check("x", x, (n_x, None, None), "(n_x, m, T_x)")
    _, m, T_x = x.shape
    a_next = _check("a0", a0, (n_a, m), "(n_a, m)")
    c_next = np.zeros((n_a, m))
    a, c, y, steps = np.empty((n_a, m, T_x)), np.empty((n_a, m, T_x)), np.empty((n_y, m, T_x)), []
    for t in range(T_x):
        a_next, c_next, y[:, :, t], cache = lstm_cell_forward(x[:, :, t], a_next, c_next, p)
        a[:, :, t], c[:, :, t] = a_next, c_next
        steps.append(cache)
    return a, y, c, (steps, x)


def lstm_backward(da, caches) -> dict[str, np.ndarray]:
    """BPTT for the LSTM. da (n_a, m, T_x): upstream gradient on every ``a<t>``.

    Returns ``dx`` (n_x, m, T_x), ``da0`` (n_a, m), and ``dW_k`` (n_a, n_a + n_x), ``db_k``
    (n_a, 1) for k in f, i, c, o, summed over time. (``c<0>`` is the constant zero: no ``dc0``.)
    """
    steps, x = _check_caches(caches, "lstm_forward")
    n_x, m, T_x = x.shape
    n_a = _float_array("caches[0] a_next", _check_cache("caches[0]", steps[0], 10, "lstm_cell_forward")[0]).shape[0]
    da = _check("da", da, (n_a, m, T_x), "(n_a, m, T_x)")
    names = ("dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")
    grads = {"dx": np.empty((n_x, m, T_x))}
    da_prev, dc_prev = np.zeros((n_a, m)), np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        g = lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, steps[t])
        grads["dx"][:, :, t] = g["dxt"]
        da_prev, dc_prev = g["da_prev"], g["dc_prev"]
        for k in names:
            grads[k] = grads[k] + g[k] if k in grads else g[k]
    grads["da0"] = da_prev
    return {k: grads[k] for k in ("dx", "da0") + names}


# --------------------------------------------------------------------------- GRU
def gru_cell_forward(xt, a_prev, parameters) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One step of the course's full GRU.

    ``Γr = σ(Wr [a<t-1>; x<t>] + br)``, ``Γu = σ(Wu [a<t-1>; x<t>] + bu)``,
    ``c~ = tanh(Wc [Γr * a<t-1>; x<t>] + bc)``, ``a<t> = Γu * c~ + (1 - Γu) * a<t-1>``,
    ``ŷ<t> = softmax(Wy a<t> + by)``. (PyTorch's GRU differs: it applies the reset gate after the
    matrix product, ``Γr * (W a<t-1> + b)``, and its update gate keeps the old state.)
    xt (n_x, m), a_prev (n_a, m). Returns ``a_next`` (n_a, m), ``yt_pred`` (n_y, m) and
    ``cache = (a_next, a_prev, rt, ut, cct, xt, parameters)``.
    """
    p, n_a, n_x, _ = check_course_params(parameters, "gru")
    xt = _check("xt", xt, (n_x, None), "(n_x, m)")
    m = xt.shape[1]
    a_prev = _check("a_prev", a_prev, (n_a, m), "(n_a, m)")
    e = _engine(p, "gru", n_a)
    gates, ra, a = _input_half(e, xt), np.empty((m, n_a)), np.empty((m, n_a))    # gates (m, 3·n_a)
    cells.gru_step_forward(gates, a_prev.T, e["Waa"], gates, ra, a)
    g = _split_blocks(np.ascontiguousarray(gates.T), "gru", n_a)
    a_next = np.ascontiguousarray(a.T)
    return a_next, _softmax_readout(e, a), (a_next, a_prev, g["r"], g["u"], g["c"], xt, p)


def gru_cell_backward(da_next, cache) -> dict[str, np.ndarray]:
    """Backward of one GRU step, given the total gradient ``da_next`` (n_a, m) on ``a<t>``.

    Returns ``dxt`` (n_x, m), ``da_prev`` (n_a, m), ``dWr``, ``dWu`` ``= dz_k [a<t-1>; x<t>]ᵀ``,
    ``dWc = dz_c [Γr * a<t-1>; x<t>]ᵀ`` (n_a, n_a + n_x) and ``dbr``, ``dbu``, ``dbc`` (n_a, 1).
    """
    a_next, a_prev, rt, ut, cct, xt, parameters = _check_cache("cache", cache, 7, "gru_cell_forward")
    p, n_a, n_x, _ = check_course_params(parameters, "gru")
    xt = _check("cache xt", xt, (n_x, None), "(n_x, m)")
    m = xt.shape[1]
    s = {name: _check(f"cache {name}", v, (n_a, m), "(n_a, m)") for name, v in
         (("a_prev", a_prev), ("rt", rt), ("ut", ut), ("cct", cct))}
    da_next = _check("da_next", da_next, (n_a, m), "(n_a, m)")
    e = _engine(p, "gru", n_a)
    gates = np.concatenate([s["rt"], s["ut"], s["cct"]]).T                          # (m, 3·n_a)
    dz, da_prev = cells.gru_step_backward(da_next.T, s["a_prev"].T, gates, e["Waa"])
    dxt, dWax, dba = _input_grads(e, dz, xt)
    dWaa = np.concatenate([       # block c of Waa acts on Γr * a<t-1>
        sequence.summed_over_time(dz[None, :, :2 * n_a], s["a_prev"].T[None], out=np.empty((2 * n_a, n_a))),
        sequence.summed_over_time(dz[None, :, 2 * n_a:], (s["rt"] * s["a_prev"]).T[None], out=np.empty((n_a, n_a)))])
    dW = _split_blocks(np.concatenate([dWaa, dWax], axis=1), "gru", n_a)    # W_k = [Waa_k | Wax_k]
    db = _split_blocks(dba[:, None], "gru", n_a)
    return {"dxt": dxt, "da_prev": np.ascontiguousarray(da_prev.T),
            "dWr": dW["r"], "dbr": db["r"], "dWu": dW["u"], "dbu": db["u"], "dWc": dW["c"], "dbc": db["c"]}


def gru_forward(x, a0, parameters) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The course's GRU over all steps from ``a0`` (n_a, m).

    x (n_x, m, T_x). Returns ``a`` (n_a, m, T_x), ``y`` (n_y, m, T_x) and
    ``caches = (list of gru_cell_forward caches, x)``.
    """
    p, n_a, n_x, n_y = check_course_params(parameters, "gru")
    x = _check("x", x, (n_x, None, None), "(n_x, m, T_x)")
    _, m, T_x = x.shape
    a_next = _check("a0", a0, (n_a, m), "(n_a, m)")
    a, y, steps = np.empty((n_a, m, T_x)), np.empty((n_y, m, T_x)), []
    for t in range(T_x):
        a_next, y[:, :, t], cache = gru_cell_forward(x[:, :, t], a_next, p)
        a[:, :, t] = a_next
        steps.append(cache)
    return a, y, (steps, x)


def gru_backward(da, caches) -> dict[str, np.ndarray]:
    """BPTT for the GRU. da (n_a, m, T_x): upstream gradient on every ``a<t>``.

    Returns ``dx`` (n_x, m, T_x), ``da0`` (n_a, m), ``dWr, dbr, dWu, dbu, dWc, dbc`` summed over time.
    """
    steps, x = _check_caches(caches, "gru_forward")
    n_x, m, T_x = x.shape
    n_a = _float_array("caches[0] a_next", _check_cache("caches[0]", steps[0], 7, "gru_cell_forward")[0]).shape[0]
    da = _check("da", da, (n_a, m, T_x), "(n_a, m, T_x)")
    names = ("dWr", "dbr", "dWu", "dbu", "dWc", "dbc")
    grads = {"dx": np.empty((n_x, m, T_x))}
    da_prev = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        g = gru_cell_backward(da[:, :, t] + da_prev, steps[t])
        grads["dx"][:, :, t] = g["dxt"]
        da_prev = g["da_prev"]
        for k in names:
            grads[k] = grads[k] + g[k] if k in grads else g[k]
    grads["da0"] = da_prev
    return {k: grads[k] for k in ("dx", "da0") + names}
