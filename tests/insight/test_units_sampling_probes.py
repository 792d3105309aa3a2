"""Units over text, the sampling inspector and the linear read-out probes."""

import numpy as np
import pytest

from insight_testing import random_network
from rnnviz.engine import sample
from rnnviz.insight.probes import readout_curve, task_readout_curve
from rnnviz.insight.sampling import distribution, entropy, inspect_tokens, sample_inspected
from rnnviz.insight.trace import run_trace
from rnnviz.insight.units import rank_units, selectivity, unit_activation
from rnnviz.training import Config, Trainer


# --------------------------------------------------------------------------- units over text
def test_selectivity_is_cohens_d_and_ranks_the_span_unit_first():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((40, 5)) * 0.1
    values[10:15, 3] += 1.0                           # unit 3 fires on the span
    values[10:15, 1] -= 0.5                           # unit 1 is switched off on it
    d = selectivity(values, 10, 15)
    inside, outside = values[10:15, 3], np.r_[values[:10, 3], values[15:, 3]]
    pooled = np.sqrt((4 * inside.var(ddof=1) + 34 * outside.var(ddof=1)) / 38)
    assert np.isclose(d[3], (inside.mean() - outside.mean()) / pooled)
    assert d[1] < 0

    class FakeTrace:
        states = {"a": values}
    ranked = rank_units(FakeTrace(), 10, 15, top=2)
    assert [u for u, _ in ranked] == [3, 1] and ranked[0][1] > 0 > ranked[1][1]


def test_constant_units_do_not_rank_first_and_bad_spans_are_refused():
    values = np.zeros((10, 2))
    values[:, 1] = np.r_[np.zeros(5), np.ones(5) * 0.01] + np.linspace(0, 1e-6, 10)
    assert np.all(np.abs(selectivity(values, 0, 3)) < 20)
    for start, stop in [(3, 3), (-1, 2), (0, 10), (5, 11)]:
        with pytest.raises(ValueError):
            selectivity(values, start, stop)


def test_unit_activation_is_the_state_row():
    net = random_network("lstm", seed=1)
    trace = run_trace(net, np.ones((6, 3)))
    assert np.array_equal(unit_activation(trace, 2, "c"), trace.states["c"][:, 2])


# --------------------------------------------------------------------------- sampling inspector
def _char_net():
    return random_network("rnn", D=7, K=7, input_kind="tokens", seed=2, scale=2.0)


def test_inspected_probabilities_are_the_engines_at_temperature_one():
    net = _char_net()
    tokens = np.array([0, 3, 5, 1, 6, 2])
    steps = inspect_tokens(net, tokens)
    probs = np.asarray(net.forward(tokens[:-1, None]).outputs)[:, 0, :]            # (T-1, V)
    assert len(steps) == 5
    for t, step in enumerate(steps):
        assert step.token == tokens[t + 1] and np.isclose(step.probability, probs[t, tokens[t + 1]])
        assert [k for k, _ in step.top] == list(np.argsort(-probs[t], kind="stable")[:5])
        assert np.isclose(step.entropy, -(probs[t] * np.log(probs[t])).sum())


def test_temperature_sharpens_or_flattens_the_same_sample():
    net = _char_net()
    tokens = [0, 3, 5, 1, 6, 2]
    cold, warm = inspect_tokens(net, tokens, 0.5), inspect_tokens(net, tokens, 2.0)
    assert all(c.entropy < w.entropy for c, w in zip(cold, warm))
    z = np.array([1.0, 2.0, 3.0])
    assert np.allclose(distribution(z, 0.5), np.exp(2 * z) / np.exp(2 * z).sum())
    assert np.isclose(entropy(np.array([0.5, 0.5, 0.0])), np.log(2))
    with pytest.raises(ValueError):
        distribution(z, 0.0)


def test_sample_inspected_draws_what_the_engine_draws():
    net = _char_net()
    steps = sample_inspected(net, 4, 20, np.random.default_rng(5), temperature=0.8)
    drawn, _ = sample(net, None, 4, 20, np.random.default_rng(5), 0.8)
    assert [s.token for s in steps] == drawn


# --------------------------------------------------------------------------- read-out probes
def test_readout_finds_what_the_states_hold():
    rng = np.random.default_rng(6)
    T, N = 12, 200
    tokens = rng.integers(0, 4, (T, N))
    a = np.zeros((T, N, 4))
    a[2:] = np.eye(4)[tokens[:-2]]                    # the state holds the symbol seen 2 steps ago
    curve = readout_curve("copy", tokens, a + rng.standard_normal(a.shape) * 0.01, range(5))
    assert curve.metric == "accuracy" and list(curve.lags) == [0, 1, 2, 3, 4]
    assert curve.score[2] > 0.99 and max(curve.score[[0, 1, 3, 4]]) < 0.45

    bits = rng.integers(0, 2, (T, N, 1)).astype(float)
    parity = (np.cumsum(bits[:, :, 0], axis=0) % 2)
    a = np.stack([parity * 2 - 1, rng.standard_normal((T, N))], axis=2)
    curve = readout_curve("parity", bits, a, [0, 1])
    assert curve.score[0] == 1.0 and curve.score[1] < 0.7 and np.all(curve.chance < 0.6)

    values, marks = rng.random((T, N)), np.zeros((T, N))
    marks[1], marks[7] = 1, 1
    x = np.stack([values, marks], axis=2)
    marked = np.cumsum(values * marks, axis=0)
    a = np.stack([marked, rng.standard_normal((T, N))], axis=2)
    curve = readout_curve("adding", x, a, [0, 3])
    assert curve.metric == "r2" and curve.score[0] > 0.999 and curve.score[1] < 0.9


def test_task_readout_curve_runs_on_a_copy_task():
    cfg = Config(task="copy", cell="gru", hidden=8, seq_length=4, copy_length=2, n_symbols=3,
                 batch_size=8, n_test=64, eval_every=1000, sample_every=1000)
    trainer = Trainer(cfg)
    trainer.step()
    curve = task_readout_curve(trainer.task, trainer.network, lags=[0, 1, 2])
    assert curve.score.shape == (3,) and np.all((0 <= curve.score) & (curve.score <= 1))
    assert curve.score[0] > 0.9                       # the current input is always readable


def test_ridge_fit_is_the_unpenalised_bias_ridge_and_survives_constant_huge_units():
    """The read-out's ridge (bias not penalised) equals the normal-equations solution on random data,
    and a unit stuck at one huge value on every row (a diverging ReLU network) no longer makes the
    system singular: the fit ignores it and still reads the informative unit."""
    from rnnviz.insight.probes import ridge_fit, ridge_predict

    rng = np.random.default_rng(3)
    X, Y, alpha = rng.standard_normal((40, 3)), rng.standard_normal((40, 2)), 0.7
    Xb = np.hstack([X, np.ones((40, 1))])
    reg = alpha * np.eye(4)
    reg[-1, -1] = 0.0
    np.testing.assert_allclose(ridge_fit(X, Y, alpha), np.linalg.solve(Xb.T @ Xb + reg, Xb.T @ Y), rtol=1e-10)
    y = rng.integers(0, 2, 200)
    X = np.stack([np.full(200, 1e12), y + 0.01 * rng.standard_normal(200)], axis=1)
    W = ridge_fit(X, np.eye(2)[y])
    assert np.all(np.isfinite(W)) and np.mean(np.argmax(ridge_predict(W, X), axis=1) == y) == 1.0


def test_a_diverged_network_has_no_readout_curve():
    cfg = Config(task="copy", cell="rnn", activation="relu", hidden=8, seq_length=4, copy_length=2,
                 n_symbols=3, batch_size=8, n_test=64, eval_every=1000, sample_every=1000)
    trainer = Trainer(cfg)
    trainer.network.params["Waa"] = np.full_like(trainer.network.params["Waa"], np.inf)
    assert task_readout_curve(trainer.task, trainer.network, lags=[0, 1]) is None
