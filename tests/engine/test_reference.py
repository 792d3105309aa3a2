"""The engine against an independent plain-NumPy reference written here from the course's equations.

Nothing in this file calls engine code except the Network under test: the reference keeps the
course's layout (examples as columns, one matrix ``W_k`` (n_a, n_a + n_x) per gate acting on
``[a<t-1>; x<t>]``, biases (n_a, 1)), writes every gate out, and backpropagates step by step as
the course's ``lstm_cell_backward`` / ``gru_cell_backward`` would. It checks the forward states,
the loss, every gradient of ``Network.loss_and_grads``, the gradient on the initial state and the
per-step gradient norms, on seeded random shapes in float64, with and without the engine's kept
workspace (its allocating path).
"""

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec, sequence

GATES = {"rnn": ("a",), "lstm": ("f", "u", "o", "c"), "gru": ("r", "u", "c")}
RTOL, ATOL = 1e-10, 1e-13


def sigma(z):
    return 1.0 / (1.0 + np.exp(-z))


def split_params(params, cell, n_a):
    """The network's stacked arrays -> one (W_k, b_k) per gate: ``W_k = [Waa_k | Wax_k]``."""
    W, b = {}, {}
    for k, g in enumerate(GATES[cell]):
        rows = slice(k * n_a, (k + 1) * n_a)
        W[g] = np.hstack([params["Waa"][rows], params["Wax"][rows]])
        b[g] = params["ba"][rows][:, None]
    return W, b, params["Wya"], params["by"][:, None]


def join_grads(dW, db, dWy, dby, cell, n_a):
    """Per-gate gradients -> the network's layout."""
    return {"Wax": np.vstack([dW[g][:, n_a:] for g in GATES[cell]]),
            "Waa": np.vstack([dW[g][:, :n_a] for g in GATES[cell]]),
            "ba": np.concatenate([db[g][:, 0] for g in GATES[cell]]),
            "Wya": dWy, "by": dby[:, 0]}


def reference(cell, params, xs, labels, a0, c0, weights):
    """Forward, softmax cross-entropy at every step, and BPTT, in the course's column layout.

    xs: T arrays (n_x, m); labels (T, m) class ids; weights (T,) the loss weight of each step
    (the engine's mean over the batch and the time reduction). Returns the loss, the states, the
    gradients in the network's layout, the gradients on a<0> (and c<0>) and ||dL/da<t>|| (||dL/dc<t>||).
    """
    n_a = a0.shape[0]
    W, b, Wy, by = split_params(params, cell, n_a)
    T, m = len(xs), a0.shape[1]
    a, c = [a0], [c0]
    gates, y_hat = [], []
    for t in range(T):
        concat = np.vstack([a[t], xs[t]])
        if cell == "rnn":
            a.append(np.tanh(W["a"] @ concat + b["a"]))
            gates.append({})
        elif cell == "lstm":
            ft = sigma(W["f"] @ concat + b["f"])
            ut = sigma(W["u"] @ concat + b["u"])
            ot = sigma(W["o"] @ concat + b["o"])
            cct = np.tanh(W["c"] @ concat + b["c"])
            c.append(ft * c[t] + ut * cct)
            a.append(ot * np.tanh(c[t + 1]))
            gates.append({"f": ft, "u": ut, "o": ot, "c": cct})
        else:
            rt = sigma(W["r"] @ concat + b["r"])
            ut = sigma(W["u"] @ concat + b["u"])
            cct = np.tanh(W["c"] @ np.vstack([rt * a[t], xs[t]]) + b["c"])
            a.append(ut * cct + (1.0 - ut) * a[t])
            gates.append({"r": rt, "u": ut, "c": cct})
        logits = Wy @ a[t + 1] + by
        e = np.exp(logits - logits.max(axis=0))
        y_hat.append(e / e.sum(axis=0))
    loss = -sum(weights[t] * np.log(y_hat[t][labels[t], np.arange(m)]).sum() for t in range(T))

    dW = {g: np.zeros_like(W[g]) for g in W}
    db = {g: np.zeros_like(b[g]) for g in b}
    dWy, dby = np.zeros_like(Wy), np.zeros_like(by)
    da_next, dc_next = np.zeros_like(a0), np.zeros_like(a0)
    a_norms, c_norms = np.zeros(T), np.zeros(T)
    for t in reversed(range(T)):
        dy = y_hat[t].copy()
        dy[labels[t], np.arange(m)] -= 1.0
        dy *= weights[t]
        dWy += dy @ a[t + 1].T
        dby += dy.sum(axis=1, keepdims=True)
        da = Wy.T @ dy + da_next
        a_norms[t] = np.linalg.norm(da)
        concat = np.vstack([a[t], xs[t]])
        if cell == "rnn":
            dz = da * (1.0 - a[t + 1] ** 2)
            dW["a"] += dz @ concat.T
            db["a"] += dz.sum(axis=1, keepdims=True)
            da_next = (W["a"].T @ dz)[:n_a]
        elif cell == "lstm":
            g = gates[t]
            tanh_c = np.tanh(c[t + 1])
            dc = dc_next + da * g["o"] * (1.0 - tanh_c ** 2)
            c_norms[t] = np.linalg.norm(dc)
            dz = {"o": da * tanh_c * g["o"] * (1.0 - g["o"]),
                  "f": dc * c[t] * g["f"] * (1.0 - g["f"]),
                  "u": dc * g["c"] * g["u"] * (1.0 - g["u"]),
                  "c": dc * g["u"] * (1.0 - g["c"] ** 2)}
            dconcat = np.zeros_like(concat)
            for k in dz:
                dW[k] += dz[k] @ concat.T
                db[k] += dz[k].sum(axis=1, keepdims=True)
                dconcat += W[k].T @ dz[k]
            da_next = dconcat[:n_a]
            dc_next = dc * g["f"]
        else:
            g = gates[t]
            dcc = da * g["u"]
            du = da * (g["c"] - a[t])
            da_prev = da * (1.0 - g["u"])
            dzc = dcc * (1.0 - g["c"] ** 2)
            concat_c = np.vstack([g["r"] * a[t], xs[t]])
            dW["c"] += dzc @ concat_c.T
            db["c"] += dzc.sum(axis=1, keepdims=True)
            dra = (W["c"].T @ dzc)[:n_a]                     # gradient on Γr * a<t-1>
            da_prev += dra * g["r"]
            dz = {"r": dra * a[t] * g["r"] * (1.0 - g["r"]), "u": du * g["u"] * (1.0 - g["u"])}
            for k in dz:
                dW[k] += dz[k] @ concat.T
                db[k] += dz[k].sum(axis=1, keepdims=True)
                da_prev += (W[k].T @ dz[k])[:n_a]
            da_next = da_prev
    grads = join_grads(dW, db, dWy, dby, cell, n_a)
    states = {"a": np.stack(a[1:]), "c": np.stack(c[1:]) if cell == "lstm" else None}
    return loss, states, grads, da_next, dc_next, a_norms, c_norms


def random_case(cell, seed, tokens):
    rng = np.random.default_rng(seed)
    n_x, n_a, n_y = int(rng.integers(2, 6)), int(rng.integers(2, 7)), int(rng.integers(2, 6))
    m, T = int(rng.integers(1, 5)), int(rng.integers(1, 7))
    reduction = ("mean", "sum")[seed % 2]
    spec = NetworkSpec(cell, n_x, n_a, n_y, input_kind="tokens" if tokens else "dense", reduction=reduction)
    G = spec.gate_blocks
    params = {"Wax": rng.standard_normal((G * n_a, n_x)), "Waa": rng.standard_normal((G * n_a, n_a)),
              "ba": rng.standard_normal(G * n_a), "Wya": rng.standard_normal((n_y, n_a)),
              "by": rng.standard_normal(n_y)}
    if tokens:
        x = rng.integers(0, n_x, (T, m))
        xs = [np.eye(n_x)[x[t]].T for t in range(T)]                   # one-hot columns
    else:
        x = rng.standard_normal((T, m, n_x))
        xs = [x[t].T for t in range(T)]
    labels = rng.integers(0, n_y, (T, m))
    a0 = 0.5 * rng.standard_normal((n_a, m))
    c0 = 0.5 * rng.standard_normal((n_a, m))
    weights = np.full(T, 1.0 / m if reduction == "sum" else 1.0 / (m * T))
    state0 = {"a": a0.T.copy()}
    if cell == "lstm":
        state0["c"] = c0.T.copy()
    return Network(spec, params), params, x, xs, labels, a0, c0, weights, state0


@pytest.mark.parametrize("path", ["factored", "plain"])
@pytest.mark.parametrize("tokens", [False, True], ids=["dense", "tokens"])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_network_agrees_with_the_plain_numpy_reference(monkeypatch, cell, seed, tokens, path):
    if path == "plain":
        monkeypatch.setattr(sequence, "FACTORED_BPTT_MAX_STEP", 0)
    net, params, x, xs, labels, a0, c0, weights, state0 = random_case(cell, 1000 + seed, tokens)
    loss, states, grads, da0, dc0, a_norms, c_norms = reference(cell, params, xs, labels, a0, c0, weights)

    res = net.forward(x, state0)
    np.testing.assert_allclose(res.states["a"], states["a"].transpose(0, 2, 1), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(res.final_state["a"], states["a"][-1].T, rtol=RTOL, atol=ATOL)
    if cell == "lstm":
        np.testing.assert_allclose(res.states["c"], states["c"].transpose(0, 2, 1), rtol=RTOL, atol=ATOL)

    net_loss, net_grads, res = net.loss_and_grads(x, labels, state0)
    assert net_loss == pytest.approx(loss, rel=RTOL)
    for name in ("Wax", "Waa", "ba", "Wya", "by"):
        np.testing.assert_allclose(net_grads[name], grads[name], rtol=RTOL, atol=ATOL, err_msg=name)
    np.testing.assert_allclose(res.grad_state0["a"], da0.T, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(res.grad_a_norms, a_norms, rtol=RTOL, atol=ATOL)
    if cell == "lstm":
        np.testing.assert_allclose(res.grad_state0["c"], dc0.T, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(res.grad_c_norms, c_norms, rtol=RTOL, atol=ATOL)
