"""The engine against PyTorch (float64) on the same weights: losses, every gradient, the gradient on
the initial state, the per-step ||dL/da<t>|| (and ||dL/dc<t>||), and optimizer steps.

PyTorch is only a reference here (never a runtime dependency); the module is skipped without it.
Layouts: torch's RNN/LSTM compute ``x W_ihᵀ + b_ih + h W_hhᵀ + b_hh``; the engine's ``ba`` goes to
``b_ih`` and ``b_hh`` is held at zero. torch's LSTM gate blocks are ordered i, f, g, o; the engine's f, i, o, c.
torch's GRU is not the course's GRU (it applies the reset gate after the matrix product), so the
course GRU's reference is written with torch operations; the engine's "gru_torch" is nn.GRU itself,
blocks r, z, n in the same order, ``ba`` in ``b_ih`` and ``baa`` in block n of ``b_hh`` (blocks r, z
of ``b_hh`` held at zero).
"""

import zlib

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec, make_optimizer

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-9, 1e-12
ENGINE_TO_TORCH_LSTM = [1, 0, 3, 2]        # torch block j (i, f, g, o) is engine block [1, 0, 3, 2][j]


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def lstm_blocks_to_torch(w: np.ndarray, H: int) -> np.ndarray:
    return np.concatenate([w[k * H:(k + 1) * H] for k in ENGINE_TO_TORCH_LSTM])


def lstm_blocks_from_torch(w: np.ndarray, H: int) -> np.ndarray:
    out = np.empty_like(w)
    for j, k in enumerate(ENGINE_TO_TORCH_LSTM):
        out[k * H:(k + 1) * H] = w[j * H:(j + 1) * H]
    return out


# --------------------------------------------------------------------------- torch models
class TorchReference:
    """The engine's network in torch, two ways: torch's fused sequence module (nn.RNN / nn.LSTM)
    for loss and gradients, and an unrolled loop (nn.RNNCell / nn.LSTMCell / torch ops) whose
    per-step states keep their gradients (retain_grad) for ||dL/da<t>||."""

    def __init__(self, spec: NetworkSpec, params: dict):
        self.spec = spec
        H, D = spec.hidden_size, spec.input_size
        self.Wya, self.by = t64(params["Wya"], True), t64(params["by"], True)
        cell = spec.cell
        if cell == "rnn" and spec.activation in ("tanh", "relu"):
            self.module = torch.nn.RNN(D, H, nonlinearity=spec.activation).double()
            self.stepper = torch.nn.RNNCell(D, H, nonlinearity=spec.activation).double()
            weights = (params["Wax"], params["Waa"], params["ba"])
        elif cell == "lstm":
            self.module = torch.nn.LSTM(D, H).double()
            self.stepper = torch.nn.LSTMCell(D, H).double()
            weights = tuple(lstm_blocks_to_torch(params[k], H) for k in ("Wax", "Waa", "ba"))
        elif cell == "gru_torch":
            self.module = torch.nn.GRU(D, H).double()
            self.stepper = torch.nn.GRUCell(D, H).double()
            weights = (params["Wax"], params["Waa"], params["ba"])
        else:  # the course's GRU and the sigmoid RNN: torch operations
            self.module = None
            self.raw = {k: t64(params[k], True) for k in ("Wax", "Waa", "ba")}
            weights = None
        for m in ((self.module, self.stepper) if self.module is not None else ()):
            with torch.no_grad():
                names = ("weight_ih", "weight_hh", "bias_ih") if m is self.stepper else \
                        ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0")
                for name, w in zip(names, weights):
                    getattr(m, name).copy_(torch.from_numpy(np.asarray(w, np.float64)))
                bias_hh = getattr(m, names[2].replace("ih", "hh"))
                bias_hh.zero_()
                if cell == "gru_torch":            # b_hn is the engine's baa (torch's b_hr, b_hz stay 0)
                    bias_hh[2 * H:] = torch.from_numpy(np.asarray(params["baa"], np.float64))
                else:
                    bias_hh.requires_grad_(False)  # the engine has one bias per gate: ba

    def inputs(self, x):
        if self.spec.input_kind == "tokens":   # a one-hot row times Wax is the lookup of a column
            return F.one_hot(torch.as_tensor(x), self.spec.input_size).double()
        return t64(x)

    def step(self, xt, a, c, raw):
        """One step of the unrolled reference; returns (a, c)."""
        spec, H = self.spec, self.spec.hidden_size
        if spec.cell == "lstm":
            return self.stepper(xt, (a, c))
        if self.module is not None:             # nn.RNNCell, nn.GRUCell
            return self.stepper(xt, a), None
        xw = xt @ raw["Wax"].T + raw["ba"]
        if spec.cell == "rnn":          # sigmoid activation
            return torch.sigmoid(xw + a @ raw["Waa"].T), None
        Wr, Wu, Wc = raw["Waa"][:H], raw["Waa"][H:2 * H], raw["Waa"][2 * H:]
        r = torch.sigmoid(xw[:, :H] + a @ Wr.T)
        u = torch.sigmoid(xw[:, H:2 * H] + a @ Wu.T)
        cand = torch.tanh(xw[:, 2 * H:] + (r * a) @ Wc.T)
        return u * cand + (1 - u) * a, None

    def loss(self, x, y, state0, mask, unrolled: bool):
        """Loss (a torch scalar) and the tensors whose gradients are compared."""
        spec = self.spec
        self.unrolled = unrolled
        xs = self.inputs(x)
        T, N = xs.shape[:2]
        a0 = t64(state0["a"], True)
        c0 = t64(state0["c"], True) if spec.cell == "lstm" else None
        states, cstates = [], []
        if not unrolled and self.module is not None:
            if spec.cell == "lstm":
                out, _ = self.module(xs, (a0[None], c0[None]))
            else:
                out, _ = self.module(xs, a0[None])
        else:
            a, c = a0, c0
            for t in range(T):
                a, c = self.step(xs[t], a, c, getattr(self, "raw", None))
                if a.requires_grad:
                    a.retain_grad()
                states.append(a)
                if c is not None:
                    if c.requires_grad:
                        c.retain_grad()
                    cstates.append(c)
            out = torch.stack(states)
        h = out[-1] if spec.many_to_one else out
        logits = h @ self.Wya.T + self.by
        y = torch.as_tensor(y)
        if spec.readout == "softmax":
            per = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                  reduction="none").reshape(y.shape)
        elif spec.readout == "sigmoid":
            per = F.binary_cross_entropy_with_logits(logits, y.double(), reduction="none").sum(-1)
        else:
            per = ((logits - y.double()) ** 2).sum(-1)
        if spec.many_to_one:
            loss = per.mean()
        else:
            w = torch.ones(T, dtype=torch.float64) if mask is None else t64(mask)
            if spec.reduction == "mean":
                w = w / w.sum()
            loss = (per * w[:, None]).sum() / N
        return loss, a0, c0, states, cstates

    def grads(self) -> dict:
        """Parameter gradients in the engine's layout and names."""
        H = self.spec.hidden_size
        if self.module is None:
            g = {k: self.raw[k].grad.numpy() for k in ("Wax", "Waa", "ba")}
        else:
            m, sfx = (self.stepper, "") if self.unrolled else (self.module, "_l0")
            g = {k: getattr(m, name + sfx).grad.numpy()
                 for k, name in (("Wax", "weight_ih"), ("Waa", "weight_hh"), ("ba", "bias_ih"))}
            if self.spec.cell == "lstm":
                g = {k: lstm_blocks_from_torch(v, H) for k, v in g.items()}
            if self.spec.cell == "gru_torch":
                g["baa"] = getattr(m, "bias_hh" + sfx).grad.numpy()[2 * H:]
        g["Wya"], g["by"] = self.Wya.grad.numpy(), self.by.grad.numpy()
        return g


def make_case(cell, activation, readout, many_to_one, reduction, input_kind, masked, seed):
    rng = np.random.default_rng(seed)
    T, N, D, H, K = 5, 3, 4, 6, 3
    spec = NetworkSpec(cell, D, H, K, input_kind=input_kind, activation=activation, readout=readout,
                       many_to_one=many_to_one, reduction=reduction)
    net = Network.create(spec, rng, "xavier")
    for v in net.params.values():
        v += 0.2 * rng.standard_normal(v.shape)
    x = rng.integers(0, D, (T, N)) if input_kind == "tokens" else rng.standard_normal((T, N, D))
    lead = (N,) if many_to_one else (T, N)
    y = {"softmax": lambda: rng.integers(0, K, lead), "sigmoid": lambda: rng.random(lead + (K,)),
         "linear": lambda: rng.standard_normal(lead + (K,))}[readout]()
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    mask = rng.random(T).round(1) + 0.1 if masked and not many_to_one else None
    return net, x, y, state0, mask


CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh"),
         ("gru_torch", "tanh")]
READOUTS = [("softmax", False), ("sigmoid", False), ("linear", False),
            ("softmax", True), ("sigmoid", True), ("linear", True)]


@pytest.mark.parametrize("cell,activation", CELLS)
@pytest.mark.parametrize("readout,many_to_one", READOUTS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("input_kind", ["dense", "tokens"])
def test_loss_and_every_gradient_match_torch(cell, activation, readout, many_to_one, reduction, input_kind):
    key = f"{cell}-{activation}-{readout}-{many_to_one}-{reduction}-{input_kind}"
    net, x, y, state0, mask = make_case(cell, activation, readout, many_to_one, reduction, input_kind,
                                        masked=reduction == "mean", seed=zlib.crc32(key.encode()))
    loss, grads, res = net.loss_and_grads(x, y, state0, mask)
    for unrolled in (False, True):
        ref = TorchReference(net.spec, net.params)
        tloss, a0, c0, states, cstates = ref.loss(x, y, state0, mask, unrolled)
        tloss.backward()
        assert loss == pytest.approx(tloss.item(), rel=RTOL), "loss"
        tg = ref.grads()
        for name in net.params:
            np.testing.assert_allclose(grads[name], tg[name], rtol=RTOL, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(res.grad_state0["a"], a0.grad.numpy(), rtol=RTOL, atol=ATOL)
        if c0 is not None:
            np.testing.assert_allclose(res.grad_state0["c"], c0.grad.numpy(), rtol=RTOL, atol=ATOL)
        if unrolled:   # ||dL/da<t>|| counting every path: the gradient on each unrolled state
            norms = [float(torch.linalg.norm(a.grad)) if a.grad is not None else 0.0 for a in states]
            np.testing.assert_allclose(res.grad_a_norms, norms, rtol=RTOL, atol=ATOL)
            if cell == "lstm":
                c_norms = [float(torch.linalg.norm(c.grad)) if c.grad is not None else 0.0 for c in cstates]
                np.testing.assert_allclose(res.grad_c_norms, c_norms, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_torch"])
def test_outputs_and_final_state_match_torch(cell):
    net, x, y, state0, _ = make_case(cell, "tanh", "softmax", False, "mean", "dense", False, seed=8)
    res = net.forward(x, state0)
    ref = TorchReference(net.spec, net.params)
    with torch.no_grad():
        _, _, _, states, cstates = ref.loss(x, y, state0, None, unrolled=True)
        probs = torch.softmax(torch.stack(states) @ ref.Wya.T + ref.by, dim=-1)
    np.testing.assert_allclose(res.outputs, probs.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.final_state["a"], states[-1].numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.states["a"], torch.stack(states).numpy(), rtol=1e-12, atol=1e-14)
    if cell == "lstm":
        np.testing.assert_allclose(res.final_state["c"], cstates[-1].numpy(), rtol=1e-12, atol=1e-14)


def test_large_problem_paths_match_torch(monkeypatch):
    """BPTT has a fast path (sequence.FACTORED_BPTT_MAX_STEP, taken by small steps) and the vanilla RNN an in-place
    path for large problems; force the plain step kernels and the in-place path on a small
    problem and compare with torch again."""
    from rnnviz.engine import sequence
    monkeypatch.setattr(sequence, "SEPARATE_DZ_BYTES", 0)
    monkeypatch.setattr(sequence, "FACTORED_BPTT_MAX_STEP", 0)
    for cell, readout, m2o, kind in (("rnn", "softmax", False, "tokens"), ("rnn", "sigmoid", True, "dense"),
                                     ("lstm", "softmax", False, "tokens"), ("lstm", "linear", True, "dense"),
                                     ("gru_torch", "softmax", False, "tokens")):
        net, x, y, state0, mask = make_case(cell, "tanh", readout, m2o, "sum", kind, True, seed=21)
        loss, grads, res = net.loss_and_grads(x, y, state0, mask)
        ref = TorchReference(net.spec, net.params)
        tloss, a0, c0, states, cstates = ref.loss(x, y, state0, mask, unrolled=True)
        tloss.backward()
        assert loss == pytest.approx(tloss.item(), rel=RTOL)
        tg = ref.grads()
        for name in net.params:
            np.testing.assert_allclose(grads[name], tg[name], rtol=RTOL, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(res.grad_a_norms, [float(torch.linalg.norm(a.grad)) for a in states],
                                   rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(res.grad_state0["a"], a0.grad.numpy(), rtol=RTOL, atol=ATOL)
        if cell == "lstm":
            np.testing.assert_allclose(res.grad_c_norms, [float(torch.linalg.norm(c.grad)) for c in cstates],
                                       rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(res.grad_state0["c"], c0.grad.numpy(), rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- optimizers
def _grad_sequence(rng, shapes, steps=4):
    return [{k: rng.standard_normal(s) for k, s in shapes.items()} for _ in range(steps)]


def _start(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(4)}
    return rng, params, _grad_sequence(rng, {k: v.shape for k, v in params.items()})


@pytest.mark.parametrize("name,hyper,torch_opt", [
    ("sgd", {"lr": 0.1}, lambda ps: torch.optim.SGD(ps, lr=0.1)),
    ("momentum", {"lr": 0.1, "momentum": 0.9}, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("rmsprop", {"lr": 0.01, "rho": 0.9, "eps": 1e-8},
     lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8)),
    ("adam", {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
     lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
])
def test_optimizer_steps_match_torch_optim(name, hyper, torch_opt):
    _, params, grads = _start()
    tparams = {k: t64(v, True) for k, v in params.items()}
    opt, topt = make_optimizer(name, params, **hyper), torch_opt(list(tparams.values()))
    for g in grads:
        opt.step(params, {k: v.copy() for k, v in g.items()})
        for k, p in tparams.items():
            p.grad = t64(g[k])
        topt.step()
        for k in params:
            np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


def test_adagrad_matches_min_char_rnn_formula_in_torch():
    """min-char-rnn's Adagrad puts eps inside the square root, ``lr·g/sqrt(mem + eps)``; torch.optim.Adagrad
    adds it outside (``lr·g/(sqrt(mem) + eps)``), so the reference is the formula in torch ops."""
    _, params, grads = _start(1)
    tparams = {k: t64(v) for k, v in params.items()}
    mem = {k: torch.zeros_like(v) for k, v in tparams.items()}
    opt = make_optimizer("adagrad", params, lr=0.1, eps=1e-8)
    for g in grads:
        opt.step(params, {k: v.copy() for k, v in g.items()})
        for k in tparams:
            tg = t64(g[k])
            mem[k] += tg * tg
            tparams[k] -= 0.1 * tg / torch.sqrt(mem[k] + 1e-8)
            np.testing.assert_allclose(params[k], tparams[k].numpy(), rtol=1e-13, atol=1e-15, err_msg=k)
    # with a tiny accumulated mem the two eps placements visibly differ
    p_torch = t64(np.zeros(1), True)
    topt = torch.optim.Adagrad([p_torch], lr=0.1, eps=1e-8)
    p_torch.grad = t64([1e-6])
    topt.step()
    p_ours = {"p": np.zeros(1)}
    make_optimizer("adagrad", p_ours, lr=0.1, eps=1e-8).step(p_ours, {"p": np.array([1e-6])})
    assert abs(p_ours["p"][0] - p_torch.item()) > 1e-4 * abs(p_torch.item())


def test_training_steps_match_torch_end_to_end():
    """Three steps of loss -> gradients -> clip by value -> Adam, engine against torch."""
    net, x, y, state0, _ = make_case("lstm", "tanh", "softmax", False, "sum", "tokens", False, seed=33)
    ref = TorchReference(net.spec, net.params)
    tparams = list(ref.module.parameters()) + [ref.Wya, ref.by]
    topt = torch.optim.Adam(tparams, lr=0.05)
    from rnnviz.engine import clip_gradients
    opt = make_optimizer("adam", net.params, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8)
    for _ in range(3):
        loss, grads, _ = net.loss_and_grads(x, y, state0)
        clip_gradients(grads, "value", 0.5)
        opt.step(net.params, grads)
        topt.zero_grad()
        tloss = ref.loss(x, y, state0, None, unrolled=False)[0]
        tloss.backward()
        torch.nn.utils.clip_grad_value_(tparams, 0.5)
        topt.step()
        assert loss == pytest.approx(tloss.item(), rel=1e-9)
    H = net.spec.hidden_size
    np.testing.assert_allclose(net.params["Waa"], lstm_blocks_from_torch(
        ref.module.weight_hh_l0.detach().numpy(), H), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(net.params["Wya"], ref.Wya.detach().numpy(), rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- PyTorch's GRU
@pytest.mark.parametrize("seed", range(4))
def test_gru_torch_is_nn_gru_from_torchs_own_weights(seed):
    """torch.nn.GRU with its own random initialisation and every bias non-zero (b_hr, b_hz too),
    copied into a "gru_torch" network: ``ba = b_ih + [b_hr, b_hz, 0]``, ``baa = b_hn``. Per-step
    states and log-probabilities, and the gradient of every engine parameter (the fused biases'
    gradients are b_ih's, which equal b_hh's in blocks r and z) agree to 1e-10."""
    rng = np.random.default_rng(seed)
    T, N, D, H, K = (int(v) for v in rng.integers(2, 7, size=5))
    torch.manual_seed(seed)
    gru, fc = torch.nn.GRU(D, H).double(), torch.nn.Linear(H, K).double()
    with torch.no_grad():
        for b in (gru.bias_ih_l0, gru.bias_hh_l0):
            b.copy_(t64(0.5 * rng.standard_normal(3 * H)))
    w = {name: p.detach().numpy().copy() for name, p in gru.named_parameters()}
    ba = w["bias_ih_l0"] + np.concatenate([w["bias_hh_l0"][:2 * H], np.zeros(H)])
    net = Network(NetworkSpec("gru_torch", D, H, K, reduction="sum"),
                  {"Wax": w["weight_ih_l0"], "Waa": w["weight_hh_l0"], "ba": ba, "baa": w["bias_hh_l0"][2 * H:],
                   "Wya": fc.weight.detach().numpy(), "by": fc.bias.detach().numpy()})
    x, y = rng.standard_normal((T, N, D)), rng.integers(0, K, (T, N))
    a0 = 0.5 * rng.standard_normal((N, H))

    loss, grads, res = net.loss_and_grads(x, y, {"a": a0})
    fwd = net.forward(x, {"a": a0})
    ta0 = t64(a0, True)
    states, _ = gru(t64(x), ta0[None])
    logp = F.log_softmax(fc(states), dim=-1)                                  # (T, N, K)
    tloss = -logp.gather(-1, torch.as_tensor(y)[..., None]).sum() / N
    tloss.backward()

    np.testing.assert_allclose(fwd.states["a"], states.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.log(fwd.outputs), logp.detach().numpy(), rtol=0, atol=1e-10)
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    g = {n: p.grad.numpy() for n, p in gru.named_parameters()}
    expected = {"Wax": g["weight_ih_l0"], "Waa": g["weight_hh_l0"], "ba": g["bias_ih_l0"],
                "baa": g["bias_hh_l0"][2 * H:], "Wya": fc.weight.grad.numpy(), "by": fc.bias.grad.numpy()}
    assert set(expected) == set(net.params)
    for name, value in expected.items():
        np.testing.assert_allclose(grads[name], value, rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(grads["ba"][:2 * H], g["bias_hh_l0"][:2 * H], rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.grad_state0["a"], ta0.grad.numpy(), rtol=0, atol=1e-10)
