"""One-step Jacobians, their products' norms and the saliency, against centred finite differences
on the engine's own forward pass (float64, seeded random networks of every cell)."""

import numpy as np
import pytest

from insight_testing import (CASES, dense_twin, fd_saliency_row, fd_state_jacobian, jacobian_product, random_network,
                             rel_error)
from rnnviz.insight.jacobians import classify_steps, product_norms, step_jacobians, step_singular_values
from rnnviz.insight.saliency import output_gradients, output_scores
from rnnviz.insight.trace import run_trace

T = 6


@pytest.mark.parametrize("cell,activation", CASES)
def test_state_jacobian_products_match_finite_differences(cell, activation):
    net = random_network(cell, activation, seed=1)
    x = np.random.default_rng(2).standard_normal((T, 1, 3))
    jac = step_jacobians(run_trace(net, x))
    S = 10 if cell == "lstm" else 5
    assert jac.state.shape == (T, S, S) and jac.input.shape == (T, S, 3)
    norms = product_norms(jac.state)
    for tau, s in [(1, 0), (3, 2), (5, 1), (5, 0), (4, 3)]:
        fd = fd_state_jacobian(net, x, tau, s)
        assert rel_error(jacobian_product(jac.state, tau, s), fd) < 1e-6, (tau, s)
        assert abs(norms[tau, s] - np.linalg.norm(fd, 2)) < 1e-6 * np.linalg.norm(fd, 2)
    assert np.allclose(np.diag(norms), 1.0) and np.all(np.triu(norms, 1) == 0)


@pytest.mark.parametrize("cell,activation", CASES)
@pytest.mark.parametrize("readout", ["softmax", "sigmoid", "linear"])
def test_saliency_matches_finite_differences(cell, activation, readout):
    K = 4 if readout == "softmax" else 2
    net = random_network(cell, activation, K=K, readout=readout, seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((T, 1, 3))
    targets = rng.integers(0, K, T) if readout == "softmax" else rng.integers(0, 2, (T, K)).astype(float)
    trace = run_trace(net, x, targets)
    grads = output_gradients(trace, step_jacobians(trace))
    for tau in (0, 3, 5):
        fd = fd_saliency_row(net, x, tau, targets[tau])
        assert rel_error(grads.saliency[tau], fd) < 1e-6
        assert np.all(grads.saliency[tau, tau + 1:] == 0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_token_saliency_is_the_one_hot_inputs(cell):
    """Token networks: the saliency of x<s> taken as its one-hot vector (checked on a dense twin)."""
    net = random_network(cell, D=6, K=6, input_kind="tokens", seed=5)
    tokens = np.random.default_rng(6).integers(0, 6, T)
    targets = np.roll(tokens, -1)
    trace = run_trace(net, tokens, targets)
    grads = output_gradients(trace, step_jacobians(trace))
    onehot = np.eye(6)[tokens][:, None, :]
    for tau in (2, 5):
        assert rel_error(grads.saliency[tau], fd_saliency_row(dense_twin(net), onehot, tau, targets[tau])) < 1e-6


def test_many_to_one_scores_and_probabilities_match_the_engine():
    net = random_network("lstm", K=1, readout="sigmoid", many_to_one=True, seed=7)
    x = np.random.default_rng(8).standard_normal((T, 1, 3))
    trace = run_trace(net, x, [[1.0]])
    scores = output_scores(trace)
    p = float(np.asarray(net.forward(x).outputs)[0, 0])
    assert np.allclose(scores.probs[0, 0], p, rtol=1e-12)
    assert np.isclose(scores.score[0], np.log(p))
    grads = output_gradients(trace, step_jacobians(trace))
    assert np.all(grads.saliency[:T - 1] == 0)        # one output: only the last row
    assert rel_error(grads.saliency[T - 1], fd_saliency_row(net, x, T - 1, [1.0])) < 1e-6


def test_lstm_state_gradient_splits_into_a_and_c():
    net = random_network("lstm", seed=9)
    x = np.random.default_rng(10).standard_normal((T, 1, 3))
    trace = run_trace(net, x, np.zeros(T, dtype=int))
    jac = step_jacobians(trace)
    grads = output_gradients(trace, jac)
    g = output_scores(trace).dscore_da[5]
    full = np.concatenate([g, np.zeros(5)]) @ jacobian_product(jac.state, 5, 2)
    assert np.isclose(grads.a_norms[5, 2], np.linalg.norm(full[:5]))
    assert np.isclose(grads.c_norms[5, 2], np.linalg.norm(full[5:]))
    assert grads.c_norms[5, 5] == 0                   # the readout reads a<τ> only


def test_spectrum_and_classification():
    Js = np.stack([0.5 * np.eye(3), np.eye(3), 2.0 * np.eye(3)])
    sv = step_singular_values(Js)
    assert sv.shape == (3, 3) and np.allclose(sv[:, 0], [0.5, 1.0, 2.0])
    assert classify_steps(sv[:, 0]) == ["contracting", "near-isometric", "expanding"]


def test_exploding_products_are_reported_as_inf_not_an_error():
    Js = np.stack([1e200 * np.eye(2)] * 4)
    norms = product_norms(Js)
    assert norms[1, 0] == 1e200 and np.isinf(norms[3, 0])
