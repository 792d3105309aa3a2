"""The LSTM and GRU steps, and whole-sequence forward passes and losses, against plain NumPy.

The reference here is written from the course's equations ("Building your RNN step by step") and
shares no code with :mod:`rnnviz.engine`: the engine is imported only to build a Network, hand it
parameters, and read what it computes. Layout of the reference: examples as columns, one matrix
per gate acting on ``[a<t-1>; x<t>]`` (the course's ``W_k`` of shape (n_a, n_a + n_x)).

LSTM (course): Γf = σ(Wf[a; x] + bf), Γu = σ(Wu[a; x] + bu), Γo = σ(Wo[a; x] + bo),
c~ = tanh(Wc[a; x] + bc), c<t> = Γf*c<t-1> + Γu*c~, a<t> = Γo*tanh(c<t>).
The engine stacks the gate rows of ``Wax``, ``Waa`` and ``ba`` as f, i (the course's Γu), o, c.

GRU (the engine's docstring in cells.py, rows stacked r, u, c): Γr = σ(Wr[a; x] + br),
Γu = σ(Wu[a; x] + bu), c~ = tanh(Wc[Γr*a; x] + bc), a<t> = Γu*c~ + (1-Γu)*a<t-1>.

PyTorch's GRU (cell "gru_torch"), written from the equations of torch.nn.GRU's documentation with
its six weight and six bias names: r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h
+ b_hz), n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1-z)*n + z*h. The engine's Wax, Waa and ba
hold the blocks r, z, n of W_i*, W_h* and b_i*; its baa is b_hn (b_hr and b_hz are 0 here: the engine
keeps one bias for r and z, which the bridge tests cover).

Every comparison is float64 at 1e-12, on seeded random shapes, and needs no torch.
"""

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec

TOL = dict(rtol=1e-12, atol=1e-12)
GATE_ROWS = {"rnn": ("a",), "lstm": ("f", "u", "o", "c"), "gru": ("r", "u", "c"), "gru_torch": ("r", "z", "n")}


def logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


def course_weights(params, cell, n_a):
    """Per-gate ``W_k = [Waa_k | Wax_k]`` (n_a, n_a + n_x) and ``b_k`` (n_a, 1), by course name."""
    W, b = {}, {}
    for k, gate in enumerate(GATE_ROWS[cell]):
        rows = slice(k * n_a, (k + 1) * n_a)
        W[gate] = np.concatenate([params["Waa"][rows], params["Wax"][rows]], axis=1)
        b[gate] = params["ba"][rows].reshape(n_a, 1)
    return W, b


def lstm_cell_forward(xt, a_prev, c_prev, W, b):
    """The course's ``lstm_cell_forward``: xt (n_x, m), a_prev and c_prev (n_a, m)."""
    concat = np.concatenate([a_prev, xt], axis=0)
    ft = logistic(W["f"] @ concat + b["f"])
    it = logistic(W["u"] @ concat + b["u"])
    cct = np.tanh(W["c"] @ concat + b["c"])
    c_next = ft * c_prev + it * cct
    ot = logistic(W["o"] @ concat + b["o"])
    a_next = ot * np.tanh(c_next)
    return a_next, c_next, {"f": ft, "i": it, "o": ot, "cand": cct}


def gru_cell_forward(xt, a_prev, W, b):
    """The full GRU as the engine documents it: xt (n_x, m), a_prev (n_a, m)."""
    concat = np.concatenate([a_prev, xt], axis=0)
    rt = logistic(W["r"] @ concat + b["r"])
    ut = logistic(W["u"] @ concat + b["u"])
    cct = np.tanh(W["c"] @ np.concatenate([rt * a_prev, xt], axis=0) + b["c"])
    a_next = ut * cct + (1.0 - ut) * a_prev
    return a_next, {"r": rt, "u": ut, "cand": cct}


def torch_gru_weights(params, n_a):
    """torch.nn.GRU's per-gate ``W_i*`` (n_a, n_x), ``W_h*`` (n_a, n_a), ``b_i*``, ``b_h*`` (n_a, 1)."""
    Wi, Wh, bi, bh = {}, {}, {}, {}
    for k, gate in enumerate(("r", "z", "n")):
        rows = slice(k * n_a, (k + 1) * n_a)
        Wi[gate], Wh[gate] = params["Wax"][rows], params["Waa"][rows]
        bi[gate] = params["ba"][rows].reshape(n_a, 1)
        bh[gate] = np.zeros((n_a, 1))
    bh["n"] = params["baa"].reshape(n_a, 1)
    return Wi, Wh, bi, bh


def torch_gru_cell_forward(xt, h, Wi, Wh, bi, bh):
    """torch.nn.GRU's documented step: xt (n_x, m), h (n_a, m)."""
    r = logistic(Wi["r"] @ xt + bi["r"] + Wh["r"] @ h + bh["r"])
    z = logistic(Wi["z"] @ xt + bi["z"] + Wh["z"] @ h + bh["z"])
    n = np.tanh(Wi["n"] @ xt + bi["n"] + r * (Wh["n"] @ h + bh["n"]))
    return (1.0 - z) * n + z * h, {"r": r, "z": z, "cand": n}


def rnn_cell_forward(xt, a_prev, W, b):
    return np.tanh(W["a"] @ np.concatenate([a_prev, xt], axis=0) + b["a"]), {}


def reference_forward(cell, params, xs, a0, c0):
    """States over time in the course layout: lists of (n_a, m) arrays, and each step's gates."""
    n_a = a0.shape[0]
    if cell == "gru_torch":
        torch_weights = torch_gru_weights(params, n_a)
    else:
        W, b = course_weights(params, cell, n_a)
    a, c, gates = a0, c0, []
    A, C = [], []
    for xt in xs:
        if cell == "lstm":
            a, c, g = lstm_cell_forward(xt, a, c, W, b)
        elif cell == "gru":
            a, g = gru_cell_forward(xt, a, W, b)
        elif cell == "gru_torch":
            a, g = torch_gru_cell_forward(xt, a, *torch_weights)
        else:
            a, g = rnn_cell_forward(xt, a, W, b)
        A.append(a)
        C.append(c)
        gates.append(g)
    return A, C, gates


def reference_outputs_and_losses(readout, params, a, y):
    """Readout of one step in the course layout: a (n_a, m); returns ŷ (n_y, m) and each example's
    loss (m,). y: class ids (m,) for softmax, (n_y, m) targets otherwise."""
    z = params["Wya"] @ a + params["by"].reshape(-1, 1)
    if readout == "softmax":
        e = np.exp(z - z.max(axis=0))
        y_hat = e / e.sum(axis=0)
        return y_hat, -np.log(y_hat[y, np.arange(a.shape[1])])
    if readout == "sigmoid":
        y_hat = logistic(z)
        return y_hat, -(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat)).sum(axis=0)
    return z, ((z - y) ** 2).sum(axis=0)


def random_network(rng, cell, readout="softmax", tokens=False, many_to_one=False, reduction="mean"):
    n_x, n_a, n_y = (int(v) for v in rng.integers(2, 7, size=3))
    spec = NetworkSpec(cell, n_x, n_a, n_y, input_kind="tokens" if tokens else "dense", readout=readout,
                       many_to_one=many_to_one, reduction=reduction)
    G = len(GATE_ROWS[cell])
    params = {"Wax": 0.8 * rng.standard_normal((G * n_a, n_x)), "Waa": 0.8 * rng.standard_normal((G * n_a, n_a)),
              "ba": 0.5 * rng.standard_normal(G * n_a), "Wya": rng.standard_normal((n_y, n_a)),
              "by": 0.5 * rng.standard_normal(n_y)}
    if cell == "gru_torch":
        params["baa"] = 0.5 * rng.standard_normal(n_a)
    net = Network(spec, params)
    # the reference reads the parameters back from the network (as it holds them)
    return net, {k: np.array(net.params[k]) for k in params}


def random_inputs(rng, net, T, m):
    """x in the engine's layout and the same inputs as course columns (one-hot for tokens)."""
    n_x = net.spec.input_size
    if net.spec.input_kind == "tokens":
        x = rng.integers(0, n_x, size=(T, m))
        return x, [np.eye(n_x)[x[t]].T for t in range(T)]
    x = rng.standard_normal((T, m, n_x))
    return x, [x[t].T for t in range(T)]


def random_state(rng, net, m):
    n_a = net.spec.hidden_size
    a0, c0 = 0.7 * rng.standard_normal((n_a, m)), 0.7 * rng.standard_normal((n_a, m))
    state0 = {"a": a0.T.copy()}
    if net.spec.cell == "lstm":
        state0["c"] = c0.T.copy()
    return a0, c0, state0


# ----------------------------------------------------------------------------- one step
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_torch"])
def test_one_step_matches_the_course_cell(cell, seed):
    """T = 1 from a random state: the new a (and c), and every gate the engine exposes."""
    rng = np.random.default_rng(9100 + seed)
    net, params = random_network(rng, cell, tokens=bool(seed % 2))
    m = int(rng.integers(1, 6))
    x, xs = random_inputs(rng, net, 1, m)
    a0, c0, state0 = random_state(rng, net, m)

    res = net.forward(x, state0)

    A, C, gates = reference_forward(cell, params, xs, a0, c0)
    np.testing.assert_allclose(res.final_state["a"], A[0].T, **TOL)
    np.testing.assert_allclose(res.states["a"][0], A[0].T, **TOL)
    if cell == "lstm":
        np.testing.assert_allclose(res.final_state["c"], C[0].T, **TOL)
        np.testing.assert_allclose(res.states["c"][0], C[0].T, **TOL)
    for name, value in gates[0].items():
        np.testing.assert_allclose(res.states[name][0], value.T, err_msg=name, **TOL)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_step_from_hand_picked_gates(cell):
    """Saturated gates make each equation visible: an LSTM whose forget gate is open and update
    gate shut keeps c exactly; a GRU whose update gate is shut keeps a, and one whose update gate
    is open takes the candidate (the convention a<t> = Γu*c~ + (1-Γu)*a<t-1>)."""
    H, D, big = 3, 2, 40.0
    rng = np.random.default_rng(4)
    a0 = rng.uniform(-0.5, 0.5, (1, H))
    if cell == "lstm":
        spec = NetworkSpec("lstm", D, H, 2)
        ba = np.concatenate([np.full(H, big), np.full(H, -big), np.zeros(H), np.zeros(H)])  # f, i, o, c
        net = Network(spec, {"Wax": np.zeros((4 * H, D)), "Waa": np.zeros((4 * H, H)), "ba": ba,
                             "Wya": np.zeros((2, H)), "by": np.zeros(2)})
        c0 = rng.uniform(-1, 1, (1, H))
        res = net.forward(np.ones((1, 1, D)), {"a": a0, "c": c0})
        np.testing.assert_allclose(res.final_state["c"], c0, rtol=0, atol=1e-15)
        np.testing.assert_allclose(res.final_state["a"], 0.5 * np.tanh(c0), rtol=0, atol=1e-15)
        return
    spec = NetworkSpec("gru", D, H, 2)
    cand_bias = rng.uniform(-1, 1, H)
    for u_bias, expected in ((-big, a0), (big, np.tanh(cand_bias)[None, :])):
        ba = np.concatenate([np.zeros(H), np.full(H, u_bias), cand_bias])                # r, u, c
        net = Network(spec, {"Wax": np.zeros((3 * H, D)), "Waa": np.zeros((3 * H, H)), "ba": ba,
                             "Wya": np.zeros((2, H)), "by": np.zeros(2)})
        res = net.forward(np.ones((1, 1, D)), {"a": a0})
        np.testing.assert_allclose(res.final_state["a"], expected, rtol=0, atol=1e-15,
                                   err_msg=f"u bias {u_bias}")


# ----------------------------------------------------------------------------- whole sequences
CASES = [  # (readout, many_to_one, reduction, masked)
    ("softmax", False, "mean", False),
    ("softmax", False, "sum", True),
    ("sigmoid", False, "mean", True),
    ("linear", False, "sum", False),
    ("softmax", True, "mean", False),
    ("linear", True, "mean", False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c))
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_torch"])
def test_sequence_forward_and_loss_match_the_reference(cell, seed, case):
    readout, many_to_one, reduction, masked = case
    rng = np.random.default_rng(9200 + 17 * seed + CASES.index(case))
    net, params = random_network(rng, cell, readout, tokens=bool(seed % 2), many_to_one=many_to_one,
                                 reduction=reduction)
    T, m, n_y = int(rng.integers(1, 8)), int(rng.integers(1, 5)), net.spec.output_size
    x, xs = random_inputs(rng, net, T, m)
    a0, c0, state0 = random_state(rng, net, m)
    steps = 1 if many_to_one else T
    if readout == "softmax":
        y = rng.integers(0, n_y, size=(steps, m))
        y_course = list(y)
    else:
        y = rng.random((steps, m, n_y)) if readout == "sigmoid" else rng.standard_normal((steps, m, n_y))
        y_course = [y[t].T for t in range(steps)]
    mask = rng.uniform(0.0, 2.0, T) if masked else None

    A, C, _ = reference_forward(cell, params, xs, a0, c0)
    scored = [A[-1]] if many_to_one else A
    outputs, per_step = zip(*(reference_outputs_and_losses(readout, params, a, yt)
                              for a, yt in zip(scored, y_course)))
    step_loss = np.array([losses.mean() for losses in per_step])        # mean over the batch
    if many_to_one:
        expected_loss = step_loss[0]
    else:
        w = np.ones(T) if mask is None else mask
        expected_loss = (w * step_loss).sum() / (w.sum() if reduction == "mean" else 1.0)

    res = net.forward(x, state0)
    np.testing.assert_allclose(res.states["a"], np.stack([a.T for a in A]), **TOL)
    if cell == "lstm":
        np.testing.assert_allclose(res.states["c"], np.stack([c.T for c in C]), **TOL)
    expected_out = outputs[0].T if many_to_one else np.stack([o.T for o in outputs])
    np.testing.assert_allclose(res.outputs, expected_out, **TOL)

    y_net = y[0] if many_to_one else y
    assert net.loss(x, y_net, state0, mask) == pytest.approx(expected_loss, rel=1e-12, abs=1e-12)
    loss, _, _ = net.loss_and_grads(x, y_net, state0, mask)
    assert loss == pytest.approx(expected_loss, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_torch"])
def test_omitted_state_is_zero(cell):
    rng = np.random.default_rng(9300)
    net, params = random_network(rng, cell)
    x, xs = random_inputs(rng, net, 4, 2)
    zeros = np.zeros((net.spec.hidden_size, 2))
    A, _, _ = reference_forward(cell, params, xs, zeros, zeros)
    np.testing.assert_allclose(net.forward(x).states["a"], np.stack([a.T for a in A]), **TOL)


def test_torch_gru_from_hand_picked_gates():
    """PyTorch's convention made visible: Γz open keeps a<t-1> exactly, Γz shut takes n; and the reset
    gate multiplies the recurrent bias too: with Γr shut, n = tanh(b_in) whatever baa (b_hn) is, with
    Γr open, n = tanh(b_in + Waa_n a<t-1> + baa)."""
    H, D, big = 3, 2, 40.0
    rng = np.random.default_rng(5)
    a0 = rng.uniform(-0.5, 0.5, (1, H))
    spec = NetworkSpec("gru_torch", D, H, 2)
    b_in, baa, Wn = rng.uniform(-1, 1, H), rng.uniform(-1, 1, H), rng.uniform(-1, 1, (H, H))
    Waa = np.concatenate([np.zeros((2 * H, H)), Wn])
    for r_bias, z_bias, expected in ((0.0, big, a0),
                                     (-big, -big, np.tanh(b_in)[None, :]),
                                     (big, -big, np.tanh(b_in + a0 @ Wn.T + baa))):
        ba = np.concatenate([np.full(H, r_bias), np.full(H, z_bias), b_in])           # r, z, n
        net = Network(spec, {"Wax": np.zeros((3 * H, D)), "Waa": Waa, "ba": ba, "baa": baa,
                             "Wya": np.zeros((2, H)), "by": np.zeros(2)})
        res = net.forward(np.ones((1, 1, D)), {"a": a0})
        np.testing.assert_allclose(res.final_state["a"], expected, rtol=0, atol=1e-15,
                                   err_msg=f"r bias {r_bias}, z bias {z_bias}")
