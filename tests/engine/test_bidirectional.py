"""Bidirectional layers (``NetworkSpec.bidirectional``): BPTT through both directions, depth and
time against centred finite differences (float64, seeded random shapes), for every cell, 1 and 2
layers, many-to-many and many-to-one, token and dense inputs, every BPTT path; the reverse
direction's names, states and time order; refusals (truncated BPTT, sampling)."""

import functools
import zlib

import numpy as np
import pytest

from engine_testing import stack_problem
from rnnviz.engine import Network, NetworkSpec, gradcheck, sample, sequence, truncated_bptt
from rnnviz.engine.stack import state_keys

TOL = 1e-6
CELLS = ["rnn", "lstm", "gru", "gru_torch"]


make_problem = functools.partial(stack_problem, bidirectional=True)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("many_to_one", [False, True])
@pytest.mark.parametrize("input_kind", ["dense", "tokens"])
def test_every_parameter_and_initial_state_of_both_directions(cell, layers, many_to_one, input_kind):
    rng = np.random.default_rng(zlib.crc32(f"bidir-{cell}-{layers}-{many_to_one}-{input_kind}".encode()))
    net, x, y, state0, mask = make_problem(rng, cell, layers, many_to_one, input_kind)
    report = gradcheck(net, x, y, state0, mask)
    assert set(report) == set(net.params) | {f"state0.{k}" for k in state0}
    top = "" if layers == 1 else f"[{layers}]"
    assert f"Waa_rev{top}" in report and f"state0.a_rev{top}" in report
    assert max(report.values()) < TOL, report


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("path", ["step kernels", "in place"])
def test_every_bptt_path(monkeypatch, cell, path):
    """The step kernels (factored path off) and the vanilla RNN's in-place BPTT, forced on small
    problems: the reverse direction's inputs and gradients are copies, never a cache's buffer."""
    monkeypatch.setattr(sequence, "FACTORED_BPTT_MAX_STEP", 0)
    if path == "in place":
        monkeypatch.setattr(sequence, "SEPARATE_DZ_BYTES", 0)
    rng = np.random.default_rng(zlib.crc32(f"bidir-{cell}-{path}".encode()))
    net, x, y, state0, mask = make_problem(rng, cell, 3, False, "tokens", readout="linear")
    report = gradcheck(net, x, y, state0, mask)
    assert max(report.values()) < TOL, report


def run_direction(net, layer_params, inputs, reverse):
    """One direction of one layer, written out with forward_sequence from zeros: (T, N, H) in time order."""
    N, H = inputs.shape[1], net.spec.hidden_size
    zero = {k: np.zeros((N, H)) for k in sequence.STATE_KEYS[net.spec.cell]}
    seq = inputs[::-1] if reverse else inputs
    A = sequence.forward_sequence(layer_params, net.spec.cell, "tanh", np.ascontiguousarray(seq), zero)[0][1:]
    return A[::-1] if reverse else A


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reverse_direction_reads_the_sequence_from_its_end(cell):
    """Each layer's reverse states are the cell run over x<T> … x<1>, shown in time order; layer 2
    reads both directions of layer 1; many-to-one reads [a<T>; a_rev<1>]."""
    rng = np.random.default_rng(3)
    T, N, D, H, K = 5, 2, 3, 4, 2
    spec = NetworkSpec(cell, D, H, K, layers=2, bidirectional=True, many_to_one=True)
    net = Network.create(spec, rng)
    x = rng.standard_normal((T, N, D))
    res = net.forward(x)
    p = net.params

    def view(suffix):
        return {n: p[n + suffix] for n in ("Wax", "Waa", "ba")}

    a1 = run_direction(net, view(""), x, False)
    r1 = run_direction(net, view("_rev"), x, True)
    np.testing.assert_allclose(res.states["a"], a1, atol=1e-14)
    np.testing.assert_allclose(res.states["a_rev"], r1, atol=1e-14)
    u = np.concatenate([a1, r1], axis=-1)                          # (T, N, 2H)
    a2 = run_direction(net, view("[2]"), u, False)
    r2 = run_direction(net, view("_rev[2]"), u, True)
    np.testing.assert_allclose(res.states["a_rev[2]"], r2, atol=1e-14)
    np.testing.assert_allclose(res.final_state["a_rev[2]"], r2[0], atol=1e-14)     # a_rev<1>
    z = np.concatenate([a2[-1], r2[0]], axis=-1) @ p["Wya"].T + p["by"]
    expected = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(res.outputs, expected / expected.sum(-1, keepdims=True), atol=1e-14)
    # the first output of a tagging network depends on the last input
    tagger = Network.create(NetworkSpec(cell, D, H, K, bidirectional=True), rng)
    later = x.copy()
    later[-1] += 1.0
    assert not np.allclose(tagger.forward(x).outputs[0], tagger.forward(later).outputs[0])


def test_names_shapes_and_validation():
    spec = NetworkSpec("gru_torch", 3, 4, 5, layers=2, bidirectional=True)
    shapes = spec.param_shapes()
    assert list(shapes) == ["Wax", "Waa", "ba", "baa", "Wax_rev", "Waa_rev", "ba_rev", "baa_rev",
                            "Wax[2]", "Waa[2]", "ba[2]", "baa[2]",
                            "Wax_rev[2]", "Waa_rev[2]", "ba_rev[2]", "baa_rev[2]", "Wya", "by"]
    assert shapes["Wax"] == shapes["Wax_rev"] == (12, 3)
    assert shapes["Wax[2]"] == shapes["Wax_rev[2]"] == (12, 8)
    assert shapes["Wya"] == (5, 8)
    assert spec.state_keys == ("a", "a_rev", "a[2]", "a_rev[2]")
    assert state_keys("lstm", 1, True) == ("a", "c", "a_rev", "c_rev")
    # unidirectional names and first draws are unchanged (old sessions load, same seed same weights)
    one = Network.create(NetworkSpec("lstm", 3, 4, 5), np.random.default_rng(0))
    two = Network.create(NetworkSpec("lstm", 3, 4, 5, bidirectional=True), np.random.default_rng(0))
    np.testing.assert_array_equal(one.params["Wax"], two.params["Wax"])
    assert list(one.params) == ["Wax", "Waa", "ba", "Wya", "by"]
    with pytest.raises(ValueError, match="bidirectional must be True or False"):
        NetworkSpec("rnn", 3, 4, 5, bidirectional="yes")
    net = Network.create(NetworkSpec("rnn", 3, 4, 5, bidirectional=True), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"state0 must be a dict with keys \['a', 'a_rev'\]"):
        net.forward(np.zeros((2, 1, 3)), {"a": np.zeros((1, 4))})


def test_gradient_norms_of_both_directions():
    """reverse_grad_a_norms[l-1, t] = ||dL/da_rev[l]<t>|| in time order; the forward fields keep
    the forward directions'. Many-to-one: the readout's gradient reaches the forward direction at
    t = T and the reverse one at t = 1; a readout that ignores the reverse half gives it none."""
    rng = np.random.default_rng(5)
    net = Network.create(NetworkSpec("lstm", 3, 4, 2, layers=2, bidirectional=True, many_to_one=True), rng)
    x, y = rng.standard_normal((6, 2, 3)), rng.integers(0, 2, 2)
    _, _, res = net.loss_and_grads(x, y)
    for arr in (res.layer_grad_a_norms, res.layer_grad_c_norms, res.reverse_grad_a_norms, res.reverse_grad_c_norms):
        assert arr.shape == (2, 6)
    np.testing.assert_array_equal(res.grad_a_norms, res.layer_grad_a_norms[0])
    # top layer: only a<T> (forward) and a_rev<1> (reverse) feed the readout directly
    assert res.layer_grad_a_norms[1, -1] > 0 and res.reverse_grad_a_norms[1, 0] > 0
    p0 = net.params["Wya"].copy()
    net.params["Wya"] = np.concatenate([p0[:, :4], 0 * p0[:, 4:]], axis=1)   # readout ignores reverse
    _, _, res = net.loss_and_grads(x, y)
    assert np.all(res.reverse_grad_a_norms[1] == 0)


def test_truncated_bptt_and_sampling_refuse_a_bidirectional_network():
    rng = np.random.default_rng(1)
    net = Network.create(NetworkSpec("rnn", 3, 4, 3, input_kind="tokens", bidirectional=True), rng)
    x = rng.integers(0, 3, (6, 1))
    with pytest.raises(ValueError, match="truncated BPTT cannot carry a bidirectional"):
        truncated_bptt(net, x, x, 3)
    with pytest.raises(ValueError, match="unidirectional"):
        sample(net, None, 0, 5, rng)
