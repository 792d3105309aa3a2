"""The why-views' numbers for one layer of a stacked network, against centred finite differences
on the engine's own forward pass (float64, seeded random 2-layer networks of every cell)."""

import dataclasses

import numpy as np
import pytest

from insight_testing import fd_saliency_row, jacobian_product, random_network, rel_error
from rnnviz.engine import Network
from rnnviz.engine.stack import cell_param_names, layer_key
from rnnviz.errors import InputError
from rnnviz.insight.jacobians import product_norms, step_jacobians
from rnnviz.insight.saliency import output_gradients, output_scores
from rnnviz.insight.trace import run_trace

T, D, H, K = 6, 3, 4, 5
CELLS = ["rnn", "lstm", "gru", "gru_torch"]


def state_of(result, t, cell, layer):
    """Layer ``layer``'s state<t> of a batch-1 forward result: a[l], or [a[l]; c[l]] (LSTM)."""
    keys = ("a", "c") if cell == "lstm" else ("a",)
    return np.concatenate([result.states[layer_key(k, layer)][t, 0] for k in keys])


def full_state(result, t, spec):
    """Every layer's state after step t, as the engine's state0 (batch of one)."""
    return {k: result.states[k][t].copy() for k in spec.state_keys}


def fd_layer_jacobian(net, x, tau, s, layer, h=1e-6):
    """∂state[l]<τ>/∂state[l]<s> by centred differences: the whole stacked network run on from
    its state after step s with layer l's entries perturbed (every path, nothing held fixed)."""
    cell = net.spec.cell
    base_run = net.forward(x)
    base = full_state(base_run, s, net.spec)
    keys = [layer_key(k, layer) for k in (("a", "c") if cell == "lstm" else ("a",))]
    cols = []
    for key in keys:
        for j in range(H):
            runs = []
            for sign in (1, -1):
                state = {k: v.copy() for k, v in base.items()}
                state[key][0, j] += sign * h
                runs.append(state_of(net.forward(x[s + 1:tau + 1], state), tau - s - 1, cell, layer))
            cols.append((runs[0] - runs[1]) / (2 * h))
    return np.stack(cols, axis=1)


def layer_network(net, layer):
    """Layer ``layer`` of a stacked network alone, reading dense inputs (its layer below's a)."""
    spec = net.spec
    size = spec.input_size if layer == 1 else spec.hidden_size
    params = {n: np.array(net.params[layer_key(n, layer)]) for n in cell_param_names(spec.cell)}
    params.update(Wya=np.array(net.params["Wya"]), by=np.array(net.params["by"]))
    return Network(dataclasses.replace(spec, input_size=size, layers=1, input_kind="dense"), params)


def score_from_top(net, a_top, tau, target):
    z = a_top[tau] @ np.asarray(net.params["Wya"]).T + np.asarray(net.params["by"])
    return float(z[target] - np.log(np.exp(z - z.max()).sum()) - z.max())


def stacked_score(net, x, tau, target, layer=None, t=None, key=None, delta=None):
    """score<τ> of the stacked net run layer by layer; optionally with layer ``layer``'s state
    ``key`` at step t moved by ``delta`` before the layers above (and its own later steps) read it."""
    cell = net.spec.cell
    inputs = x[:, 0, :]                                                        # (T, D)
    for k in range(1, net.spec.layers + 1):
        sub = layer_network(net, k)
        res = sub.forward(inputs[:, None, :])
        a = res.states["a"][:, 0, :].copy()
        if k == layer:
            state = {name: res.states[name][t].copy() for name in (("a", "c") if cell == "lstm" else ("a",))}
            state[key] = state[key] + delta
            rest = sub.forward(inputs[t + 1:, None, :], state) if t + 1 < len(inputs) else None
            a[t] = state["a"][0]
            if rest is not None:
                a[t + 1:] = rest.states["a"][:, 0, :]
        inputs = a
    return score_from_top(net, inputs, tau, target)


def fd_state_gradient(net, x, tau, t, layer, target, key="a", h=1e-6):
    """‖∂score<τ>/∂a[l]<t>‖ (or c[l]) by centred differences, every path through depth and time."""
    g = np.zeros(H)
    for j in range(H):
        e = np.zeros((1, H))
        e[0, j] = h
        g[j] = (stacked_score(net, x, tau, target, layer, t, key, e)
                - stacked_score(net, x, tau, target, layer, t, key, -e)) / (2 * h)
    return np.linalg.norm(g)


def case(cell, seed=0):
    net = random_network(cell, D=D, H=H, K=K, seed=seed, layers=2, scale=1.2)
    rng = np.random.default_rng(seed + 100)
    return net, rng.standard_normal((T, 1, D)), rng.integers(0, K, T)


@pytest.mark.parametrize("layer", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_a_layers_jacobian_products_are_the_whole_networks_derivative(cell, layer):
    """∂state[l]<τ>/∂state[l]<s> from layer l's own one-step Jacobians equals the stacked network's
    (finite differences run every layer on): nothing flows down a stack."""
    net, x, _ = case(cell, seed=1)
    trace = run_trace(net, x, layer=layer)
    assert trace.layer == layer and len(trace.layers) == 2
    np.testing.assert_array_equal(trace.states["a"], net.forward(x).states[layer_key("a", layer)][:, 0])
    jac = step_jacobians(trace)
    S = 2 * H if cell == "lstm" else H
    assert jac.state.shape == (T, S, S) and jac.input.shape == (T, S, D if layer == 1 else H)
    norms = product_norms(jac.state)
    for tau, s in [(1, 0), (3, 2), (5, 1), (5, 0)]:
        fd = fd_layer_jacobian(net, x, tau, s, layer)
        assert rel_error(jacobian_product(jac.state, tau, s), fd) < 1e-6, (tau, s)
        assert abs(norms[tau, s] - np.linalg.norm(fd, 2)) < 1e-6 * np.linalg.norm(fd, 2)


@pytest.mark.parametrize("cell", CELLS)
def test_saliency_goes_through_every_layer_to_the_inputs(cell):
    net, x, targets = case(cell, seed=3)
    for layer in (1, 2):
        trace = run_trace(net, x, targets, layer=layer)
        grads = output_gradients(trace, step_jacobians(trace))
        for tau in (0, 3, 5):
            fd = fd_saliency_row(net, x, tau, targets[tau])
            assert rel_error(grads.saliency[tau], fd) < 1e-6, (layer, tau)
            assert np.all(grads.saliency[tau, tau + 1:] == 0)


@pytest.mark.parametrize("cell", CELLS)
def test_state_gradients_are_the_chosen_layers_through_depth_and_time(cell):
    net, x, targets = case(cell, seed=5)
    engine = np.asarray(net.forward(x).outputs)[:, 0]                          # (T, K) probabilities
    for layer in (1, 2):
        trace = run_trace(net, x, targets, layer=layer)
        scores = output_scores(trace)
        np.testing.assert_allclose(scores.score, np.log(engine[np.arange(T), targets]), rtol=1e-12)
        grads = output_gradients(trace, step_jacobians(trace), scores)
        for tau, t in [(5, 5), (5, 2), (3, 0), (4, 4)]:
            fd = fd_state_gradient(net, x, tau, t, layer, targets[tau])
            assert grads.a_norms[tau, t] == pytest.approx(fd, rel=1e-6), (layer, tau, t)
            if cell == "lstm":
                fd_c = fd_state_gradient(net, x, tau, t, layer, targets[tau], key="c")
                assert grads.c_norms[tau, t] == pytest.approx(fd_c, rel=1e-6, abs=1e-12), (layer, tau, t)


def test_a_layer_the_network_lacks_is_refused_in_one_line():
    net, x, _ = case("rnn")
    for bad in (0, 3, -1):
        with pytest.raises(InputError, match=r"layer .* does not exist: this network has layers 1 to 2"):
            run_trace(net, x, layer=bad)
    assert run_trace(net, x).layer == 2          # the top layer by default
