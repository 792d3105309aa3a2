"""The window's why-views' numbers (rnnviz.insight.live): the same as the exact computations they
stand for, on the window's probe, for every cell."""

import numpy as np
import pytest

from insight_testing import CASES, random_network
from rnnviz.insight.jacobians import (block_product_norms, estimated_singular_values, largest_singular_values,
                                      product_norms, step_jacobians)
from rnnviz.insight.live import live_insight
from rnnviz.insight.memory import memory_horizon, state_norms
from rnnviz.insight.trace import run_trace
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer


@pytest.mark.parametrize("cell,activation", CASES)
def test_estimated_sigma_max_is_the_svds_from_below(cell, activation):
    net = random_network(cell, activation, H=12, seed=3, scale=1.3)
    Js = step_jacobians(run_trace(net, np.random.default_rng(1).standard_normal((14, 3)))).state
    exact = product_norms(Js)
    estimate = product_norms(Js, sigma=estimated_singular_values)
    lower = np.tril(np.ones_like(exact, dtype=bool))
    assert np.all(estimate[lower] <= exact[lower] * (1 + 1e-9))
    np.testing.assert_allclose(estimate[lower], exact[lower], rtol=0.02, atol=1e-300)
    assert np.all(estimate[~lower] == 0)


def test_one_chain_gives_each_blocks_norms():
    net = random_network("lstm", H=6, seed=2)
    Js = step_jacobians(run_trace(net, np.random.default_rng(0).standard_normal((9, 3)))).state
    blocks = [None, (slice(0, 6), slice(0, 6)), (slice(6, 12), slice(6, 12))]
    for together, block in zip(block_product_norms(Js, blocks), blocks):
        np.testing.assert_array_equal(together, product_norms(Js, block))


def test_estimates_are_inf_where_a_product_overflows():
    M = np.stack([np.eye(3), np.full((3, 3), np.inf)])
    assert estimated_singular_values(M)[0] == pytest.approx(1.0) and np.isinf(estimated_singular_values(M)[1])
    assert np.isinf(largest_singular_values(M)[1])


@pytest.mark.parametrize("config", [
    Config(task="charlm", cell="rnn", hidden=12, probe="the cat sat"),
    Config(task="charlm", cell="lstm", hidden=8, probe="a probe with \u2603, never seen"),
    Config(task="parity", cell="rnn", hidden=6, seq_length=7, n_train=64, n_test=32),
    Config(task="adding", cell="gru", hidden=6, seq_length=9, batch_size=16),
    Config(task="charlm", cell="gru_torch", hidden=6, probe="the mat"),
], ids=["charlm-rnn", "charlm-lstm-unknown-probe", "parity", "adding-gru", "charlm-gru-torch"])
def test_live_insight_is_the_exact_numbers_on_the_windows_probe(config):
    trainer = Trainer(config)
    with trainer.running():
        for _ in range(3):
            trainer.step()
    li = live_insight(trainer)
    if config.task == "charlm" and "\u2603" not in config.probe:
        assert "".join(li.labels) == config.probe             # the probe text itself
    elif config.task == "charlm":                            # else the start of the held-out text
        assert "".join(li.labels) == trainer.task.decode(trainer.task.test_ids[:li.T])
    assert li.T == len(li.labels) and li.step == 3 and li.cell == config.cell
    trace = run_trace(trainer.network, *_input_of(trainer))
    np.testing.assert_allclose(li.states["a"], trace.states["a"], rtol=1e-12, atol=1e-12)
    exact = state_norms(trace)
    np.testing.assert_allclose(li.state_norm, exact["state"], rtol=0.02, atol=1e-300)
    assert li.horizon == memory_horizon(li.state_norm)
    T = li.T
    assert li.saliency.shape == li.grad_a.shape == li.state_norm.shape == (T, T)
    assert li.step_sigma.shape[0] == T and len(li.step_class) == T
    assert (li.bound is not None) == (config.cell == "rnn")
    assert (li.c_norm is not None) == (li.lag_median_c is not None) == (config.cell == "lstm")
    assert (li.memory is not None) == (config.task in ("copy", "parity", "adding"))
    with pytest.raises(ValueError):
        li.saliency[0, 0] = 1.0                                 # read-only: views cannot change it


def _input_of(trainer):
    from rnnviz.insight.explain import choose_input
    from rnnviz.insight.live import probe_choice
    x, targets, steps, _ = choose_input(trainer, *probe_choice(trainer))
    return x, targets, steps
