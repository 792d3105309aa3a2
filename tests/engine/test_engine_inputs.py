"""What the engine accepts and refuses, float32, reproducibility, non-finite reports and memory."""

import tracemalloc

import numpy as np
import pytest

from rnnviz.engine import (Network, NetworkSpec, clip_gradients, make_optimizer, nonfinite_report,
                           sequence)

T, N, D, H, K = 4, 3, 5, 6, 3


def net_for(cell="rnn", input_kind="dense", readout="softmax", many_to_one=False, dtype="float64", seed=0):
    spec = NetworkSpec(cell, D, H, K, input_kind=input_kind, readout=readout, many_to_one=many_to_one,
                       dtype=dtype)
    return Network.create(spec, np.random.default_rng(seed))


def data(rng, input_kind="dense", readout="softmax", many_to_one=False):
    x = rng.integers(0, D, (T, N)) if input_kind == "tokens" else rng.standard_normal((T, N, D))
    lead = (N,) if many_to_one else (T, N)
    y = rng.integers(0, K, lead) if readout == "softmax" else rng.random(lead + (K,))
    return x, y


# --------------------------------------------------------------------------- refused input
@pytest.mark.parametrize("x,match", [
    (np.zeros((T, N, D + 1)), r"x must have shape \(T, N, 5\); got \(4, 3, 6\)"),
    (np.zeros((T, N)), r"x must have shape \(T, N, 5\)"),
    (np.zeros((0, N, D)), "at least one time step"),
    (np.zeros((T, 0, D)), "at least one time step and one sequence"),
    (np.full((T, N, D), np.nan), "x holds NaN or infinite"),
    (np.full((T, N, D), -np.inf), "x holds NaN or infinite"),
])
def test_dense_x_is_checked(x, match):
    net = net_for()
    y = np.zeros((max(x.shape[0], 1), x.shape[1] if x.ndim > 1 else N), dtype=int)
    with pytest.raises(ValueError, match=match):
        net.loss_and_grads(x, y)
    with pytest.raises(ValueError, match=match):
        net.forward(x)


@pytest.mark.parametrize("x,match", [
    (np.full((T, N), D), r"token ids outside \[0, 5\)"),
    (np.full((T, N), -1), r"token ids outside \[0, 5\)"),
    (np.full((T, N), -1, dtype=np.int8), r"token ids outside \[0, 5\)"),
    (np.full((T, N), -7, dtype=">i4"), r"token ids outside \[0, 5\)"),     # big-endian
    (np.full((T, N), D, dtype=np.uint16), r"token ids outside \[0, 5\)"),
    (np.full((T, 2 * N), -1)[:, ::2], r"token ids outside \[0, 5\)"),      # a strided view
    (np.zeros((T, N), dtype=float), r"integer token ids of shape \(T, N\)"),
    (np.zeros((T, N, 1), dtype=int), r"integer token ids of shape \(T, N\)"),
])
def test_token_x_is_checked(x, match):
    net = net_for(input_kind="tokens")
    with pytest.raises(ValueError, match=match):
        net.loss_and_grads(x, np.zeros((T, N), dtype=int))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, ">i4", np.int64, np.uint8, np.uint64])
def test_token_ids_of_any_integer_type_at_both_ends_of_the_range_are_accepted(dtype):
    net = net_for(input_kind="tokens")
    x = np.zeros((T, N), dtype=dtype)
    x[0, 0], x[-1, -1] = D - 1, 0
    y = np.zeros((T, N), dtype=dtype)
    y[1, 1] = K - 1
    loss, _, _ = net.loss_and_grads(x, y)
    assert loss == pytest.approx(net.loss(x.astype(np.int64), y.astype(np.int64)))


@pytest.mark.parametrize("readout,many_to_one,y,match", [
    ("softmax", False, np.zeros((T, N + 1), dtype=int), r"y must be integer class ids of shape \(4, 3\)"),
    ("softmax", False, np.zeros((T, N)), r"y must be integer class ids"),
    ("softmax", False, np.full((T, N), K), r"class ids outside \[0, 3\)"),
    ("softmax", False, np.full((T, N), -1, dtype=np.int32), r"class ids outside \[0, 3\)"),
    ("softmax", True, np.zeros((T, N), dtype=int), r"shape \(3,\)"),
    ("sigmoid", False, np.zeros((T, N)), r"y must have shape \(4, 3, 3\); got \(4, 3\)"),
    ("sigmoid", True, np.zeros((N, K + 1)), r"y must have shape \(3, 3\)"),
    ("linear", False, np.full((T, N, K), np.nan), "y holds NaN or infinite"),
])
def test_y_is_checked(readout, many_to_one, y, match):
    net = net_for(readout=readout, many_to_one=many_to_one)
    with pytest.raises(ValueError, match=match):
        net.loss_and_grads(np.zeros((T, N, D)), y)


@pytest.mark.parametrize("cell,state0,match", [
    ("rnn", {"a": np.zeros((N, H + 1))}, r"state0\['a'\] must have shape \(3, 6\); got \(3, 7\)"),
    ("rnn", {"a": np.zeros((N, H)), "c": np.zeros((N, H))}, r"state0 must be a dict with keys \['a'\]"),
    ("lstm", {"a": np.zeros((N, H))}, r"state0 must be a dict with keys \['a', 'c'\]"),
    ("lstm", {"a": np.zeros((N, H)), "c": np.full((N, H), np.nan)}, r"state0\['c'\] holds NaN"),
    ("gru", np.zeros((N, H)), r"state0 must be a dict"),
])
def test_initial_state_is_checked(cell, state0, match):
    net = net_for(cell)
    x, y = data(np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        net.loss_and_grads(x, y, state0)


@pytest.mark.parametrize("mask,match", [
    (np.ones(T + 1), "mask must be 4 non-negative finite weights"),
    (np.array([1.0, -1.0, 1.0, 1.0]), "non-negative"),
    (np.array([1.0, np.nan, 1.0, 1.0]), "finite"),
    (np.zeros(T), "at least one time step"),
])
def test_mask_is_checked(mask, match):
    net = net_for()
    x, y = data(np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        net.loss_and_grads(x, y, None, mask)


def test_parameters_are_checked():
    spec = net_for().spec
    good = net_for().params
    with pytest.raises(ValueError, match=r"missing \['Wya'\], unexpected none"):
        Network(spec, {k: v for k, v in good.items() if k != "Wya"})
    with pytest.raises(ValueError, match=r"missing none, unexpected \['Wy'\]"):
        Network(spec, {**good, "Wy": good["Wya"]})
    with pytest.raises(ValueError, match=r"params\['ba'\] must have shape \(6,\); got \(6, 1\)"):
        Network(spec, {**good, "ba": good["ba"][:, None]})
    with pytest.raises(ValueError, match=r"params\['Waa'\] must have shape \(6, 6\); got \(6, 5\)"):
        Network(spec, {**good, "Waa": good["Waa"][:, :5]})
    with pytest.raises(ValueError, match=r"params\['Wax'\] must be floating point"):
        Network(spec, {**good, "Wax": good["Wax"].astype(int)})
    with pytest.raises(ValueError, match=r"params\['by'\] holds NaN or infinite"):
        Network(spec, {**good, "by": good["by"] + np.inf})
    with pytest.raises(ValueError, match="params must be a dict"):
        Network(spec, list(good.values()))


@pytest.mark.parametrize("field,value,match", [
    ("cell", "transformer", "cell must be one of rnn, lstm, gru, gru_torch"),
    ("hidden_size", 0, "hidden_size must be a positive integer"),
    ("input_size", 2.5, "input_size must be a positive integer"),
    ("output_size", True, "output_size must be a positive integer"),
    ("readout", "tanh", "readout must be softmax, sigmoid or linear"),
    ("reduction", "max", "reduction must be mean or sum"),
    ("dtype", "float16", "dtype must be float64 or float32"),
    ("input_kind", "image", "input_kind must be dense or tokens"),
    ("activation", "gelu", "activation must be tanh, relu or sigmoid"),
])
def test_spec_is_checked(field, value, match):
    kwargs = {"cell": "rnn", "input_size": D, "hidden_size": H, "output_size": K, field: value}
    with pytest.raises(ValueError, match=match):
        NetworkSpec(**kwargs)


def test_inputs_are_not_modified_and_no_silent_broadcast():
    net = net_for("lstm")
    rng = np.random.default_rng(1)
    x, y = data(rng)
    state0 = {"a": rng.standard_normal((N, H)), "c": rng.standard_normal((N, H))}
    copies = x.copy(), y.copy(), {k: v.copy() for k, v in state0.items()}
    net.loss_and_grads(x, y, state0)
    np.testing.assert_array_equal(x, copies[0])
    np.testing.assert_array_equal(y, copies[1])
    for k in state0:
        np.testing.assert_array_equal(state0[k], copies[2][k])
    # a (1, H) state would broadcast over the batch; it is refused instead
    with pytest.raises(ValueError, match=r"must have shape \(3, 6\); got \(1, 6\)"):
        net.loss_and_grads(x, y, {"a": state0["a"][:1], "c": state0["c"]})


# --------------------------------------------------------------------------- float32, seeds
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("input_kind,readout,many_to_one", [("dense", "softmax", False),
                                                            ("tokens", "softmax", False),
                                                            ("dense", "sigmoid", True)])
def test_float32_end_to_end_agrees_with_float64(cell, input_kind, readout, many_to_one):
    net64 = net_for(cell, input_kind, readout, many_to_one, seed=3)
    net32 = Network(NetworkSpec(**{**net64.spec.__dict__, "dtype": "float32"}), net64.params)
    x, y = data(np.random.default_rng(4), input_kind, readout, many_to_one)
    loss64, g64, r64 = net64.loss_and_grads(x, y)
    loss32, g32, r32 = net32.loss_and_grads(x, y)
    assert np.isfinite(loss32) and loss32 == pytest.approx(loss64, rel=1e-5)
    for k in g64:
        assert g32[k].dtype == np.float32, k
        scale = np.abs(g64[k]).max() + 1e-12
        assert np.abs(g32[k] - g64[k]).max() <= 1e-4 * scale, k
    assert r32.outputs.dtype == np.float32 and r32.final_state["a"].dtype == np.float32
    np.testing.assert_allclose(r32.grad_a_norms, r64.grad_a_norms, rtol=1e-4)
    # and it trains: parameters stay float32 and finite
    opt = make_optimizer("adam", net32.params, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)
    for _ in range(5):
        loss, grads, _ = net32.loss_and_grads(x, y)
        clip_gradients(grads, "norm", 1.0)
        opt.step(net32.params, grads)
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in net32.params.values())
    assert net32.loss(x, y) < loss32


def train_run(seed: int, cell: str, steps: int = 5):
    rng = np.random.default_rng(seed)
    net = Network.create(NetworkSpec(cell, D, H, K, input_kind="tokens", reduction="sum"), rng, "orthogonal")
    opt = make_optimizer("adagrad", net.params, lr=0.1, eps=1e-8)
    state = None
    for _ in range(steps):
        x, y = rng.integers(0, D, (T, N)), rng.integers(0, K, (T, N))
        _, grads, res = net.loss_and_grads(x, y, state)
        clip_gradients(grads, "value", 5.0)
        opt.step(net.params, grads)
        state = res.final_state
    return net.params, state


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_equal_seeds_give_bit_identical_runs(cell):
    p1, s1 = train_run(11, cell)
    p2, s2 = train_run(11, cell)
    p3, _ = train_run(12, cell)
    for k in p1:
        assert p1[k].tobytes() == p2[k].tobytes(), k
    for k in s1:
        assert s1[k].tobytes() == s2[k].tobytes(), k
    assert p1["Waa"].tobytes() != p3["Waa"].tobytes()


@pytest.mark.parametrize("scheme", ["small", "uniform", "xavier", "orthogonal", "identity"])
def test_initialisers_are_seeded(scheme):
    spec = NetworkSpec("lstm", D, H, K)
    a = Network.create(spec, np.random.default_rng(7), scheme).params
    b = Network.create(spec, np.random.default_rng(7), scheme).params
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    with pytest.raises(ValueError, match="init must be one of"):
        Network.create(spec, np.random.default_rng(7), "he")


# --------------------------------------------------------------------------- non-finite
def test_nonfinite_report_names_the_parameter_and_the_time_step():
    grads = {"Wax": np.zeros((2, 2)), "Waa": np.array([[np.nan, 0.0]]), "by": np.array([np.inf])}
    norms = np.array([np.nan, np.nan, np.inf, 1.0, 2.0])
    msg = nonfinite_report(1.0, grads, norms)
    assert "Waa" in msg and "by" in msg and "Wax" not in msg
    assert "t=2" in msg
    assert nonfinite_report(1.0, {"Wax": np.zeros(2)}, np.ones(5)) is None
    assert "loss is nan" in nonfinite_report(float("nan"), {"Wax": np.zeros(2)}, None)
    assert "hidden state a<T>" in nonfinite_report(0.0, {}, None, {"a": np.array([np.inf])})


def test_an_exploding_network_is_reported_not_silently_used():
    """A ReLU RNN whose recurrence overflows float32: the report names parameters and a time step,
    and a caller that refuses the step keeps its parameters."""
    spec = NetworkSpec("rnn", 1, 4, 1, activation="relu", readout="linear", dtype="float32")
    net = Network(spec, {"Wax": np.ones((4, 1)), "Waa": np.eye(4) * 1e5, "ba": np.ones(4),
                         "Wya": np.ones((1, 4)), "by": np.zeros(1)})
    x, y = np.ones((12, 2, 1)), np.zeros((12, 2, 1))
    with np.errstate(all="ignore"):
        loss, grads, res = net.loss_and_grads(x, y)
    msg = nonfinite_report(loss, grads, res.grad_a_norms, res.final_state)
    assert msg is not None
    assert "Waa" in msg and "t=" in msg and "loss is" in msg
    bad_t = int(msg.split("t=")[1].split()[0].rstrip(";"))
    assert 0 <= bad_t < 12 and not np.isfinite(res.grad_a_norms[bad_t])
    assert np.isfinite(res.grad_a_norms[bad_t + 1:]).all()


# --------------------------------------------------------------------------- both BPTT paths
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("input_kind,readout,many_to_one", [("tokens", "softmax", False),
                                                            ("dense", "sigmoid", True),
                                                            ("dense", "linear", False)])
def test_bptt_paths_agree(monkeypatch, cell, input_kind, readout, many_to_one):
    """The factored fast path (sequence.FACTORED_BPTT_MAX_STEP), the step kernels of cells.py, and the
    vanilla RNN's in-place BPTT of large problems (above SEPARATE_DZ_BYTES): forced onto one
    problem, they give the same loss, gradients and per-step norms."""
    net = net_for(cell, input_kind, readout, many_to_one, seed=9)
    x, y = data(np.random.default_rng(10), input_kind, readout, many_to_one)
    mask = None if many_to_one else np.array([1.0, 0.5, 0.0, 2.0])
    monkeypatch.setattr(sequence, "FACTORED_BPTT_MAX_STEP", 1 << 30)
    loss_a, grads_a, res_a = net.loss_and_grads(x, y, None, mask)
    monkeypatch.setattr(sequence, "FACTORED_BPTT_MAX_STEP", 0)
    loss_b, grads_b, res_b = net.loss_and_grads(x, y, None, mask)
    monkeypatch.setattr(sequence, "SEPARATE_DZ_BYTES", 0)
    _, grads_c, _ = net.loss_and_grads(x, y, None, mask)
    assert loss_a == loss_b
    for k in grads_a:
        np.testing.assert_allclose(grads_a[k], grads_b[k], rtol=1e-12, atol=1e-15, err_msg=k)
        np.testing.assert_allclose(grads_a[k], grads_c[k], rtol=1e-12, atol=1e-15, err_msg=k)
    np.testing.assert_allclose(res_a.grad_a_norms, res_b.grad_a_norms, rtol=1e-12)
    for k in res_a.grad_state0:
        np.testing.assert_allclose(res_a.grad_state0[k], res_b.grad_state0[k], rtol=1e-12, atol=1e-15)
    if cell == "lstm":
        np.testing.assert_allclose(res_a.grad_c_norms, res_b.grad_c_norms, rtol=1e-12)


# --------------------------------------------------------------------------- memory
def peak_extra_bytes(net, x, y) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        net.loss_and_grads(x, y)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_vanilla_rnn_bptt_keeps_about_one_copy_of_the_hidden_states():
    """Full-batch parity-style BPTT (many-to-one, dense 1-bit input), above the size where the
    engine switches to reusing the hidden-state buffer: peak extra memory stays near T·N·H."""
    Tm, Nm, Hm = 50, 4000, 25
    rng = np.random.default_rng(0)
    peaks = {}
    for dtype in ("float64", "float32"):
        net = Network.create(NetworkSpec("rnn", 1, Hm, 1, readout="sigmoid", many_to_one=True, dtype=dtype), rng)
        bits = rng.integers(0, 2, (Tm, Nm))
        x = bits[:, :, None].astype(dtype)
        y = (bits.sum(0) % 2)[:, None].astype(dtype)
        hidden = Tm * Nm * Hm * np.dtype(dtype).itemsize
        assert hidden > sequence.SEPARATE_DZ_BYTES or dtype == "float32"
        peaks[dtype] = peak_extra_bytes(net, x, y)
        if hidden > sequence.SEPARATE_DZ_BYTES:
            assert peaks[dtype] < 1.5 * hidden, (dtype, peaks[dtype] / hidden)
    assert peaks["float32"] < 0.6 * peaks["float64"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_large_batch_equals_the_mean_of_its_sequences(cell):
    """The loss and gradients of a batch of 20 are the mean of those of its sequences run one at
    a time."""
    rng = np.random.default_rng(13)
    net = Network.create(NetworkSpec(cell, D, H, K, input_kind="tokens", reduction="sum"), rng)
    Nb = 20
    x, y = rng.integers(0, D, (T, Nb)), rng.integers(0, K, (T, Nb))
    state0 = {k: 0.3 * rng.standard_normal((Nb, H)) for k in net.zero_state(Nb)}
    loss, grads, res = net.loss_and_grads(x, y, state0)
    singles = [net.loss_and_grads(x[:, n:n + 1], y[:, n:n + 1], {k: v[n:n + 1] for k, v in state0.items()})
               for n in range(Nb)]
    assert loss == pytest.approx(np.mean([s[0] for s in singles]), rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], np.mean([s[1][k] for s in singles], axis=0), rtol=1e-10, atol=1e-13)
    for k in state0:
        np.testing.assert_allclose(res.grad_state0[k], np.concatenate([s[2].grad_state0[k] for s in singles]) / Nb,
                                   rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(res.final_state[k], np.concatenate([s[2].final_state[k] for s in singles]),
                                   rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_input_feature_path(cell):
    """One dense input feature (parity's bit) takes a broadcast product instead of a matrix product:
    same projection as the matrix product, and gradients that pass the finite-difference check."""
    from rnnviz.engine import gradcheck
    rng = np.random.default_rng(14)
    net = Network.create(NetworkSpec(cell, 1, H, 1, readout="sigmoid", many_to_one=True), rng)
    x = rng.integers(0, 2, (T, N, 1)).astype(float)
    y = rng.integers(0, 2, (N, 1)).astype(float)
    G = net.spec.gate_blocks
    out = np.empty((T, N, G * H))
    sequence.input_projection(net.params["Wax"], net.params["ba"], x, out)
    np.testing.assert_array_equal(out, x @ net.params["Wax"].T + net.params["ba"])
    assert max(gradcheck(net, x, y).values()) < 1e-6


@pytest.mark.parametrize("T_, N_, V", [(2, 1, 40), (6, 3, 3)])
def test_lstm_halved_gate_paths(T_, N_, V):
    """The LSTM forward halves either the weights or the projection, whichever is smaller (a wide
    vocabulary with a short chunk, or the reverse); both pass the finite-difference check and
    give the same outputs as the course notebook's LSTM cell equations."""
    from rnnviz.engine import gradcheck
    rng = np.random.default_rng(15)
    net = Network.create(NetworkSpec("lstm", V, H, K, input_kind="tokens", reduction="sum"), rng)
    for v in net.params.values():
        v += 0.3 * rng.standard_normal(v.shape)
    x, y = rng.integers(0, V, (T_, N_)), rng.integers(0, K, (T_, N_))
    assert max(gradcheck(net, x, y, max_entries=40, rng=np.random.default_rng(0)).values()) < 1e-6
    p = net.params
    a, c = np.zeros((N_, H)), np.zeros((N_, H))
    for t in range(T_):
        z = p["Wax"][:, x[t]].T + a @ p["Waa"].T + p["ba"]
        f, i, o = (1 / (1 + np.exp(-z[:, k * H:(k + 1) * H])) for k in range(3))
        c = f * c + i * np.tanh(z[:, 3 * H:])
        a = o * np.tanh(c)
    np.testing.assert_allclose(net.forward(x).final_state["a"], a, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.forward(x).final_state["c"], c, rtol=1e-12, atol=1e-14)
