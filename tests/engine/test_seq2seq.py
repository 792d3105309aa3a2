"""The encoder–decoder (rnnviz.engine.seq2seq): exact gradients by finite differences and against
PyTorch autograd, attention weights, the teacher-forced loss, greedy and sampled decoding, errors."""

import dataclasses

import numpy as np
import pytest

from rnnviz.engine.gradcheck import gradcheck
from rnnviz.engine.optim import make_optimizer
from rnnviz.engine.seq2seq import Seq2Seq, Seq2SeqSpec

CELLS = ("rnn", "lstm", "gru", "gru_torch")


def random_case(cell, attention, seed, reduction="mean", dtype="float64"):
    """A model with random weights (biases too) on random small shapes, and a batch for it."""
    rng = np.random.default_rng(seed)
    Vx, Vy, H = (int(n) for n in rng.integers(2, 6, size=3))
    Tx, Ty, N = int(rng.integers(2, 7)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
    spec = Seq2SeqSpec(cell, Vx, Vy, H, attention=attention, attention_size=int(rng.integers(1, 5)),
                       output_length=Ty, reduction=reduction, dtype=dtype)
    model = Seq2Seq.create(spec, rng)
    for name in model.params:                        # no parameter at a special value (zero biases)
        model.params[name] = model.params[name] + 0.3 * rng.standard_normal(model.params[name].shape)
    x = rng.integers(0, Vx, size=(Tx, N))
    y = rng.integers(0, Vy, size=(Ty, N))
    return model, x, y, rng


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_every_gradient_matches_finite_differences(cell, attention):
    for seed in range(3):
        model, x, y, rng = random_case(cell, attention, seed, reduction=("mean", "sum")[seed % 2])
        mask = rng.random(y.shape[0]) if seed == 2 else None
        state0 = {k: rng.standard_normal(v.shape) for k, v in model.zero_state(x.shape[1]).items()}
        report = gradcheck(model, x, y, state0=state0, mask=mask)
        assert set(report) == set(model.params) | {f"state0.{k}" for k in state0}
        worst = max(report, key=report.get)
        assert report[worst] < 1e-6, (seed, worst, report[worst])


def test_parameters_with_and_without_attention():
    with_att = Seq2SeqSpec("gru_torch", 7, 5, 4, attention=True, attention_size=3).param_shapes()
    assert with_att["dec.Wax"] == (12, 6)            # the output symbols and the start symbol
    assert with_att["att.Ws"] == with_att["att.Wh"] == (3, 4) and with_att["att.v"] == (3,)
    assert with_att["dec.Wac"] == (12, 4) and with_att["Wyc"] == (5, 4)
    without = Seq2SeqSpec("gru_torch", 7, 5, 4, attention=False).param_shapes()
    assert not any(k.startswith("att.") or k in ("dec.Wac", "Wyc") for k in without)
    assert {"enc.baa", "dec.baa", "Wya", "by"} <= set(without)


@pytest.mark.parametrize("cell", CELLS)
def test_attention_weights_are_a_distribution_over_input_steps(cell):
    model, x, y, _ = random_case(cell, True, 7)
    for result in (model.forward(x, y), model.forward(x)):
        alpha = result.attention
        Ty = result.outputs.shape[0]
        assert alpha.shape == (Ty, x.shape[1], x.shape[0])
        assert (alpha >= 0).all()
        np.testing.assert_allclose(alpha.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    assert model.forward(x, y).outputs.shape == (y.shape[0], x.shape[1], model.spec.output_size)


def test_attention_follows_the_scores():
    """With W_s = 0 the scores are vᵀ tanh(W_h a<t'>): α is their softmax over t', at every step."""
    model, x, y, _ = random_case("lstm", True, 3)
    model.params["att.Ws"] = 0.0 * model.params["att.Ws"]
    res = model.forward(x, y)
    e = np.tanh(res.enc_states @ model.params["att.Wh"].T) @ model.params["att.v"]     # (Tx, N)
    expected = np.exp(e - e.max(axis=0)) / np.exp(e - e.max(axis=0)).sum(axis=0)
    for t in range(y.shape[0]):
        np.testing.assert_allclose(res.attention[t], expected.T, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("attention", [False, True])
def test_teacher_forced_loss_is_the_summed_log_probabilities(attention, reduction):
    model, x, y, _ = random_case("gru", attention, 11, reduction=reduction)
    Ty, N = y.shape
    probs = model.forward(x, y).outputs
    logp = np.log(np.take_along_axis(probs, y[:, :, None], axis=2))[:, :, 0]      # (Ty, N)
    expected = -logp.sum() / N / (Ty if reduction == "mean" else 1)
    assert model.loss(x, y) == pytest.approx(expected, rel=1e-12)
    loss, _, res = model.loss_and_grads(x, y)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(res.outputs, probs, rtol=1e-12)


@pytest.mark.parametrize("attention", [False, True])
def test_teacher_forcing_feeds_the_previous_target(attention):
    """The output at step t depends on the targets before t only."""
    model, x, y, _ = random_case("lstm", attention, 5)
    Ty, Vy = y.shape[0], model.spec.output_size
    y = np.vstack([y, y[:1]])                        # at least 2 output steps
    base = model.forward(x, y).outputs
    for t in range(Ty + 1):
        changed = y.copy()
        changed[t] = (changed[t] + 1) % Vy
        out = model.forward(x, changed).outputs
        np.testing.assert_array_equal(out[:t + 1], base[:t + 1])
        if t + 1 < len(y):
            assert not np.allclose(out[t + 1], base[t + 1])


def hand_set_counter(attention: bool) -> Seq2Seq:
    """A decoder that counts 0, 1, 2, 0, ... mod 3 whatever the input: hidden unit k lights up when
    the previous token is k (unit 3 for the start symbol) and reads out token k + 1 mod 3."""
    spec = Seq2SeqSpec("rnn", 2, 3, 4, attention=attention, output_length=7)
    params = {name: np.zeros(shape) for name, shape in spec.param_shapes().items()}
    params["dec.Wax"] = 10.0 * np.eye(4)
    params["dec.ba"] = -5.0 * np.ones(4)
    wya = np.zeros((3, 4))
    for unit, token in ((0, 1), (1, 2), (2, 0), (3, 0)):
        wya[token, unit] = 5.0
    params["Wya"] = wya
    return Seq2Seq(spec, params)


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decode_of_a_hand_set_model(attention):
    model = hand_set_counter(attention)
    x = np.array([[0, 1], [1, 1], [0, 0]])
    tokens = model.decode(x)
    np.testing.assert_array_equal(tokens, np.array([[0, 1, 2, 0, 1, 2, 0]] * 2).T)
    np.testing.assert_array_equal(model.decode(x, length=2), tokens[:2])
    np.testing.assert_array_equal(model.forward(x).tokens, tokens)


@pytest.mark.parametrize("cell", CELLS)
def test_free_running_decode_equals_teacher_forcing_on_its_own_outputs(cell):
    model, x, _, rng = random_case(cell, True, 21)
    res = model.forward(x, length=6)
    forced = model.forward(x, res.tokens)
    np.testing.assert_allclose(forced.outputs, res.outputs, rtol=1e-12)
    np.testing.assert_array_equal(res.tokens, res.outputs.argmax(axis=2))
    # sampled decoding: reproducible from the rng; a tiny temperature makes it greedy
    a = model.decode(x, greedy=False, rng=np.random.default_rng(3), length=6)
    b = model.decode(x, greedy=False, rng=np.random.default_rng(3), length=6)
    np.testing.assert_array_equal(a, b)
    cold = model.decode(x, greedy=False, rng=np.random.default_rng(3), temperature=1e-6, length=6)
    np.testing.assert_array_equal(cold, res.tokens)


def test_sampled_decode_draws_by_the_probabilities():
    """One output step from the start symbol: the draws' frequencies match ŷ<1>."""
    model, _, _, _ = random_case("gru", False, 2)
    x = np.zeros((3, 4000), dtype=np.int64)
    probs = model.forward(x[:, :1], length=1).outputs[0, 0]
    draws = model.decode(x, greedy=False, rng=np.random.default_rng(0), length=1)[0]
    freq = np.bincount(draws, minlength=len(probs)) / draws.size
    np.testing.assert_allclose(freq, probs, atol=0.03)


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_norms_per_step(cell):
    model, x, y, _ = random_case(cell, True, 9)
    _, _, res = model.loss_and_grads(x, y)
    assert res.grad_a_norms.shape == (x.shape[0],) and res.grad_s_norms.shape == (y.shape[0],)
    # the last decoder state gets gradient only from the last readout
    dlogits = res.outputs[-1].copy()
    dlogits[np.arange(x.shape[1]), y[-1]] -= 1.0
    dlogits /= x.shape[1] * y.shape[0]
    assert res.grad_s_norms[-1] == pytest.approx(np.linalg.norm(dlogits @ model.params["Wya"]), rel=1e-12)
    assert np.all(res.grad_a_norms > 0)


def test_gradients_written_into_out_and_float32():
    model, x, y, _ = random_case("lstm", True, 4)
    out = model.empty_grads()
    loss, grads, _ = model.loss_and_grads(x, y, out=out)
    assert grads is out
    fresh = model.loss_and_grads(x, y)[1]
    np.testing.assert_array_equal(out.flat, fresh.flat)
    with pytest.raises(ValueError, match="out must be"):
        model.loss_and_grads(x, y, out=model.params)
    single = Seq2Seq(dataclasses.replace(model.spec, dtype="float32"), dict(model.params))
    loss32, grads32, _ = single.loss_and_grads(x, y)
    assert grads32.flat.dtype == np.float32
    assert loss32 == pytest.approx(loss, rel=1e-5)
    np.testing.assert_allclose(grads32.flat, fresh.flat, rtol=1e-3, atol=1e-5)


def test_adam_learns_a_fixed_batch():
    """The model plugs into the optimizers as a Network does: a few hundred Adam steps on one batch
    take the training loss far below its start."""
    rng = np.random.default_rng(0)
    spec = Seq2SeqSpec("lstm", 4, 4, 16, attention=True)
    model = Seq2Seq.create(spec, rng)
    x = rng.integers(0, 4, size=(5, 8))
    y = x[::-1].copy()                               # reversal
    opt = make_optimizer("adam", model.params, lr=0.02, beta1=0.9, beta2=0.999, eps=1e-8)
    first = model.loss(x, y)
    grads = model.empty_grads()
    for _ in range(300):
        _, grads, _ = model.loss_and_grads(x, y, out=grads)
        opt.step(model.params, grads)
    assert model.loss(x, y) < 0.05 * first
    np.testing.assert_array_equal(model.decode(x, length=5), y)


def test_bad_input_is_refused_with_a_clear_error():
    model, x, y, _ = random_case("rnn", True, 1)
    V = model.spec.input_size
    with pytest.raises(ValueError, match="x holds token ids outside"):
        model.loss(np.full_like(x, V), y)
    with pytest.raises(ValueError, match="x must be integer token ids"):
        model.forward(x.astype(float))
    with pytest.raises(ValueError, match="y must be integer token ids"):
        model.loss(x, y[:, :0])
    with pytest.raises(ValueError, match="y holds token ids outside"):
        model.loss(x, y + model.spec.output_size)
    with pytest.raises(ValueError, match="mask must be"):
        model.loss(x, y, mask=np.ones(y.shape[0] + 1))
    with pytest.raises(ValueError, match="needs rng"):
        model.decode(x, greedy=False)
    with pytest.raises(ValueError, match="length must be"):
        model.decode(x, length=0)
    with pytest.raises(ValueError, match="cell must be"):
        Seq2SeqSpec("transformer", 3, 3, 3)
    with pytest.raises(ValueError, match="missing"):
        Seq2Seq(model.spec, {k: v for k, v in model.params.items() if k != "att.v"})
    with pytest.raises(ValueError, match="NaN"):
        Seq2Seq(model.spec, {**model.params, "Wyc": np.full(model.params["Wyc"].shape, np.nan)})


# --------------------------------------------------------------------------- PyTorch reference
def torch_loss(torch, spec, params, x, y, state0):
    """The same model written with PyTorch's cells (nn.RNNCell, nn.LSTMCell, nn.GRUCell for
    gru_torch; the course GRU's equations by hand) and autograd; returns the loss and the leaf
    tensors by parameter name."""
    F = torch.nn.functional
    func = torch.func.functional_call
    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    cell, H, Vy = spec.cell, spec.hidden_size, spec.output_size
    Hs = [torch.tensor(state0[k], dtype=torch.float64) for k in sorted(state0)]   # "a" (, "c")

    def lstm_order(w):                                # engine blocks f, i, o, c -> torch's i, f, g, o
        return torch.cat([w[k * H:(k + 1) * H] for k in (1, 0, 3, 2)])

    modules = {"rnn": torch.nn.RNNCell(1, H, dtype=torch.float64),
               "lstm": torch.nn.LSTMCell(1, H, dtype=torch.float64),
               "gru_torch": torch.nn.GRUCell(1, H, dtype=torch.float64)}

    def step(inp, state, Wx, Waa, ba, baa):
        h = state[0]
        if cell == "gru":                             # the course's GRU
            zr = inp @ Wx[:H].T + ba[:H] + h @ Waa[:H].T
            zu = inp @ Wx[H:2 * H].T + ba[H:2 * H] + h @ Waa[H:2 * H].T
            r, u = torch.sigmoid(zr), torch.sigmoid(zu)
            cand = torch.tanh(inp @ Wx[2 * H:].T + ba[2 * H:] + (r * h) @ Waa[2 * H:].T)
            return [u * cand + (1 - u) * h]
        zeros = torch.zeros_like(ba)
        if cell == "rnn":
            w = {"weight_ih": Wx, "weight_hh": Waa, "bias_ih": ba, "bias_hh": zeros}
            return [func(modules["rnn"], w, (inp, h))]
        if cell == "lstm":
            w = {"weight_ih": lstm_order(Wx), "weight_hh": lstm_order(Waa), "bias_ih": lstm_order(ba),
                 "bias_hh": zeros}
            return list(func(modules["lstm"], w, (inp, (h, state[1]))))
        w = {"weight_ih": Wx, "weight_hh": Waa, "bias_ih": ba,
             "bias_hh": torch.cat([torch.zeros(2 * H, dtype=torch.float64), baa])}
        return [func(modules["gru_torch"], w, (inp, h))]

    def layer(prefix):
        p = leaves
        return p[f"{prefix}.Waa"], p[f"{prefix}.ba"], p.get(f"{prefix}.baa")

    xt = F.one_hot(torch.tensor(x), spec.input_size).double()                     # (Tx, N, Vx)
    state, enc, kept = Hs, [], {"a": [], "c": [], "s": []}
    for t in range(len(xt)):
        state = step(xt[t], state, leaves["enc.Wax"], *layer("enc"))
        for key, tensor in zip("ac", state):
            tensor.retain_grad()
            kept[key].append(tensor)
        enc.append(state[0])
    enc = torch.stack(enc)                                                        # (Tx, N, H)
    Ty, N = y.shape
    prev = torch.tensor(np.vstack([np.full((1, N), Vy), y[:-1]]))
    Wx = leaves["dec.Wax"]
    if spec.attention:
        Wx = torch.cat([Wx, leaves["dec.Wac"]], dim=1)
    logits = []
    for t in range(Ty):
        inp = F.one_hot(prev[t], Vy + 1).double()
        s_prev = state[0]
        if spec.attention:
            e = torch.tanh(s_prev @ leaves["att.Ws"].T + enc @ leaves["att.Wh"].T) @ leaves["att.v"]
            alpha = torch.softmax(e, dim=0)                                       # (Tx, N)
            ctx = (alpha[:, :, None] * enc).sum(dim=0)
            inp = torch.cat([inp, ctx], dim=1)
        state = step(inp, state, Wx, *layer("dec"))
        state[0].retain_grad()
        kept["s"].append(state[0])
        z = state[0] @ leaves["Wya"].T + leaves["by"]
        if spec.attention:
            z = z + ctx @ leaves["Wyc"].T
        logits.append(z)
    logits = torch.stack(logits)                                                  # (Ty, N, Vy)
    per = F.cross_entropy(logits.reshape(-1, Vy), torch.tensor(y).reshape(-1), reduction="sum")
    loss = per / N / (Ty if spec.reduction == "mean" else 1)
    return loss, leaves, kept


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_loss_and_gradients_match_pytorch_autograd(cell, attention):
    torch = pytest.importorskip("torch")
    for seed in range(2):
        model, x, y, rng = random_case(cell, attention, 100 + seed, reduction=("mean", "sum")[seed])
        state0 = {k: rng.standard_normal(v.shape) for k, v in model.zero_state(x.shape[1]).items()}
        loss, grads, res = model.loss_and_grads(x, y, state0=state0)
        ref, leaves, kept = torch_loss(torch, model.spec, dict(model.params), x, y, state0)
        ref.backward()
        assert loss == pytest.approx(ref.item(), rel=1e-10)
        for key, norms in (("a", res.grad_a_norms), ("s", res.grad_s_norms), ("c", res.grad_c_norms)):
            if kept[key]:                            # ||dL/da<t'>||, ||dL/ds<t>||, LSTM ||dL/dc<t'>||
                np.testing.assert_allclose(norms, [k.grad.norm().item() for k in kept[key]], rtol=1e-10)
            else:
                assert norms is None
        for name in model.params:
            np.testing.assert_allclose(grads[name], leaves[name].grad.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=name)
