"""Memory horizon and Pascanu's bound on constructed networks."""

import numpy as np
import pytest

from insight_testing import random_network
from rnnviz.engine import Network, NetworkSpec
from rnnviz.insight.jacobians import product_norms, step_jacobians
from rnnviz.insight.memory import (HORIZON_THRESHOLD, lag_medians, memory_horizon, pascanu_bound,
                                   state_norms)
from rnnviz.insight.trace import run_trace


def _rnn(Waa, D=2, scale_x=1e-4, activation="tanh", seed=0):
    H = Waa.shape[0]
    rng = np.random.default_rng(seed)
    spec = NetworkSpec("rnn", D, H, 2, activation=activation)
    return Network(spec, {"Wax": rng.standard_normal((H, D)) * scale_x, "Waa": Waa, "ba": np.zeros(H),
                          "Wya": rng.standard_normal((2, H)), "by": np.zeros(2)})


def _norms(net, T=30, seed=1):
    x = np.random.default_rng(seed).standard_normal((T, net.spec.input_size))
    return product_norms(step_jacobians(run_trace(net, x)).state)


def test_half_identity_forgets_in_ten_steps():
    """Waa = 0.5·I with tiny inputs: a ≈ 0, tanh' ≈ 1, so ‖∂a<τ>/∂a<τ-k>‖ ≈ 0.5^k: 0.5^10 ≈ 9.8e-4."""
    norms = _norms(_rnn(0.5 * np.eye(8)))
    assert np.allclose(lag_medians(norms)[:12], 0.5 ** np.arange(12), rtol=1e-6)
    assert memory_horizon(norms) == 10
    assert 0.5 ** 10 < HORIZON_THRESHOLD < 0.5 ** 9


def test_orthogonal_recurrence_with_small_inputs_keeps_a_long_memory():
    Q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((8, 8)))
    norms = _norms(_rnn(Q), T=60)
    assert memory_horizon(norms) is None                     # beyond the 60 steps
    assert lag_medians(norms)[-1] > 0.99


def test_horizon_threshold_is_a_parameter():
    norms = _norms(_rnn(0.5 * np.eye(4)))
    assert memory_horizon(norms, threshold=0.1) == 4          # 0.5^4 = 0.0625 < 0.1 < 0.125


@pytest.mark.parametrize("activation,gamma", [("tanh", 1.0), ("sigmoid", 0.25), ("relu", 1.0)])
def test_pascanu_bound_holds_on_random_networks(activation, gamma):
    net = random_network("rnn", activation, H=6, seed=4, scale=1.5)
    norms = _norms(net, T=20)
    Waa = net.params["Waa"]
    lags = np.arange(20)
    bound = pascanu_bound(Waa, activation, lags)
    assert np.isclose(bound[1], gamma * np.linalg.norm(Waa, 2))
    for k in lags:
        assert np.all(np.diagonal(norms, -k) <= bound[k] * (1 + 1e-9))


def test_lstm_paths_cell_path_remembers_when_forget_gates_are_open():
    """Forget gates near 1 (bias 8) and small recurrent weights: the cell path keeps the memory
    that the hidden path alone has lost."""
    net = random_network("lstm", H=4, seed=5, scale=0.3)
    p = dict(net.params.items())
    p["ba"] = p["ba"].copy()
    p["ba"][:4] = 8.0
    net = Network(net.spec, p)
    trace = run_trace(net, np.random.default_rng(6).standard_normal((40, 3)) * 0.1)
    paths = state_norms(trace)
    assert set(paths) == {"state", "a", "c"} and all(v.shape == (40, 40) for v in paths.values())
    assert memory_horizon(paths["c"]) is None and memory_horizon(paths["state"]) is None
    assert lag_medians(paths["c"])[30] > 0.9
    assert np.all(paths["a"] <= paths["state"] * (1 + 1e-9))        # a block of the whole product
