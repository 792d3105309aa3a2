"""Parameters, gradients and optimizer slots as views of one flat buffer (``FlatDict``)."""

import copy
import pickle

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec, OPTIMIZERS, clip_gradients, global_norm, make_optimizer
from rnnviz.engine.flat import FlatDict

HYPER = {"lr": 0.05, "momentum": 0.9, "eps": 1e-8, "rho": 0.9, "beta1": 0.9, "beta2": 0.999}


def small_net(seed=0, cell="rnn"):
    spec = NetworkSpec(cell, 7, 5, 7, input_kind="tokens", reduction="sum")
    return Network.create(spec, np.random.default_rng(seed), "small")


def batch(seed=1, T=6, N=3, V=7):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))


def test_views_share_the_flat_buffer_and_assignment_copies_into_it():
    d = FlatDict.zeros({"W": (2, 3), "b": (3,)}, np.float64)
    assert d.flat.shape == (9,)
    d["W"] = np.arange(6.0).reshape(2, 3)
    d["b"] += 1.0
    assert d.flat.tolist() == [0, 1, 2, 3, 4, 5, 1, 1, 1]
    assert np.shares_memory(d["W"], d.flat)
    with pytest.raises(ValueError, match="shape"):
        d["b"] = np.zeros(4)
    with pytest.raises(KeyError):
        d["c"] = np.zeros(3)
    with pytest.raises(TypeError):
        d.pop("W")


def test_copies_are_independent_and_keep_the_layout():
    d = FlatDict.from_arrays({"W": np.ones((2, 2)), "b": np.zeros(2)})
    for c in (d.copy(), copy.copy(d), copy.deepcopy(d), pickle.loads(pickle.dumps(d))):
        assert isinstance(c, FlatDict) and c.layout == d.layout
        c["W"] = np.full((2, 2), 7.0)
        assert d["W"].tolist() == [[1, 1], [1, 1]]
        assert c.flat[:4].tolist() == [7, 7, 7, 7]


def test_network_copies_the_given_arrays_into_its_own_buffer():
    net = small_net()
    given = {k: v.copy() for k, v in net.params.items()}
    other = Network(net.spec, given)
    given["Waa"][...] = 0.0
    assert not np.array_equal(other.params["Waa"], given["Waa"])
    assert isinstance(other.params, FlatDict)
    _, grads, _ = other.loss_and_grads(*batch())
    assert isinstance(grads, FlatDict) and grads.layout == other.params.layout


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_on_flat_buffers_equal_steps_on_separate_arrays(name):
    """The in-place fast path (FlatDict parameters and gradients) must update exactly as the
    general path (plain dicts, copied into the optimizer's buffers) does."""
    net_a, net_b = small_net(), small_net()
    opt_a = make_optimizer(name, net_a.params, **HYPER)
    opt_b = make_optimizer(name, net_b.params, **HYPER)
    plain_b = dict(net_b.params)                        # plain dict of the same views
    for seed in range(4):
        x, y = batch(seed)
        _, g_a, _ = net_a.loss_and_grads(x, y)
        _, g_b, _ = net_b.loss_and_grads(x, y)
        opt_a.step(net_a.params, g_a)
        opt_b.step(plain_b, dict(g_b))
    for k in net_a.params:
        np.testing.assert_array_equal(net_a.params[k], net_b.params[k])
        np.testing.assert_array_equal(opt_a.last_update[k], opt_b.last_update[k])
    assert not np.array_equal(net_a.params["Waa"], small_net().params["Waa"])   # it did train


@pytest.mark.parametrize("mode,threshold", [("value", 0.01), ("norm", 0.05), ("value", 1e9), ("none", 0.0)])
def test_clipping_a_flat_gradient_equals_clipping_its_arrays(mode, threshold):
    net = small_net(3)
    _, grads, _ = net.loss_and_grads(*batch(5))
    plain = {k: v.copy() for k, v in grads.items()}
    assert global_norm(grads) == pytest.approx(global_norm(plain), rel=1e-12)
    norm_f, clipped_f = clip_gradients(grads, mode, threshold)
    norm_p, clipped_p = clip_gradients(plain, mode, threshold)
    assert norm_f == pytest.approx(norm_p, rel=1e-12) and clipped_f == clipped_p
    assert clipped_f == (mode != "none" and threshold < 1.0)
    for k in plain:
        np.testing.assert_allclose(grads[k], plain[k], rtol=1e-12, atol=0)
