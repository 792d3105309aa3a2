"""Saturation and the diagnosis rules on constructed cases: each rule fires on its case with the
evidence in the sentence, and stays quiet just on the other side of its threshold."""

import math

import numpy as np
import pytest

from insight_testing import random_network
from rnnviz.engine import Network
from rnnviz.insight import diagnosis as dg
from rnnviz.insight.diagnosis import RunStats, diagnose
from rnnviz.insight.jacobians import step_jacobians
from rnnviz.insight.saliency import output_gradients
from rnnviz.insight.saturation import saturation_report
from rnnviz.insight.trace import run_trace
from rnnviz.training import Config, Trainer


def _kinds(stats):
    return {f.kind: f for f in diagnose(stats)}


def _with(net, **changes):
    p = {k: np.array(v) for k, v in net.params.items()}
    p.update(changes)
    return Network(net.spec, p)


def test_dead_relu_network_is_dead_not_saturated():
    net = random_network("rnn", "relu", H=6, seed=1)
    net = _with(net, ba=np.full(6, -50.0))
    trace = run_trace(net, np.random.default_rng(2).standard_normal((12, 3)))
    sat = saturation_report(trace)["hidden"]
    assert sat["kind"] == "relu" and sat["dead_units"] == 6 and sat["dead"] == list(range(6))
    assert sat["saturated_fraction"] == 0.0
    found = _kinds(RunStats(cell="rnn", activation="relu", dead_units=sat["dead_units"], hidden_size=6))
    assert found["dead units"].line.startswith("6 of 6 ReLU units dead")
    assert "saturated" not in found


def test_some_dead_relu_units_below_the_threshold_pass():
    assert _kinds(RunStats(activation="relu", dead_units=6, hidden_size=64)) == {}      # 9% < 10%
    assert "dead units" in _kinds(RunStats(activation="relu", dead_units=7, hidden_size=64))


def test_saturated_tanh_units():
    net = random_network("rnn", "tanh", H=6, seed=3, scale=30.0)
    trace = run_trace(net, np.random.default_rng(4).standard_normal((20, 3)))
    sat = saturation_report(trace)["hidden"]
    assert sat["saturated_fraction"] > 0.5 and sat["dead_units"] == 0
    assert "saturated" in _kinds(RunStats(saturated_fraction=sat["saturated_fraction"]))
    assert _kinds(RunStats(saturated_fraction=dg.SATURATED_FRACTION - 0.01)) == {}


def test_forget_gates_saturated_closed():
    net = random_network("lstm", H=4, seed=5)
    ba = np.array(net.params["ba"])
    ba[:4] = -20.0                                   # Γf ≈ 0
    trace = run_trace(_with(net, ba=ba), np.random.default_rng(6).standard_normal((10, 3)))
    gates = saturation_report(trace)["gates"]
    assert set(gates) == {"f", "i", "o"} and gates["f"]["left_mean"] == 1.0 and gates["f"]["right_mean"] == 0.0
    assert len(gates["f"]["left"]) == 4
    found = _kinds(RunStats(cell="lstm", forget_closed=gates["f"]["left_mean"]))
    assert "forget gates saturated closed" in found["forget gates closed"].line


@pytest.mark.parametrize("cell,gates", [("gru", {"r", "u"}), ("gru_torch", {"r", "z"})])
def test_gru_gates_reported(cell, gates):
    trace = run_trace(random_network(cell, seed=7), np.zeros((5, 3)))
    report = saturation_report(trace)
    assert set(report["gates"]) == gates and report["hidden"]["units"] == "cand"


def test_parity_run_sitting_at_ln2_is_at_chance():
    """The XOR-parity tutorial's failure, for real: 50 bits, a small RNN, 300 steps."""
    cfg = Config(task="parity", cell="rnn", hidden=8, seq_length=50, n_train=1000, batch_size=100, n_test=50,
                 optimizer="adam", lr=0.003, eval_every=1000, sample_every=1000)
    trainer = Trainer(cfg)
    for _ in range(300):
        trainer.step()
    found = _kinds(RunStats(losses=trainer.history.loss, chance_loss=trainer.task.chance_loss(),
                            chance_label="ln 2"))
    assert found["at chance"].line.startswith("loss at chance (ln 2) for 300 steps")


def test_a_learning_curve_is_not_at_chance():
    steps = np.arange(3000)
    learning = math.log(2) * np.exp(-steps / 300)
    assert "at chance" not in _kinds(RunStats(losses=learning, chance_loss=math.log(2)))
    # at chance, but only for the last 150 steps: too short
    recent = np.concatenate([np.full(1000, 0.3), np.full(150, math.log(2))])
    assert "at chance" not in _kinds(RunStats(losses=recent, chance_loss=math.log(2)))


def test_vanishing_from_one_output():
    """Waa = 0.5·I, 30 steps: the gradient from the last output reaching step 1 is ~0.5^29."""
    net = random_network("rnn", H=5, K=2, seed=8)
    net = _with(net, Waa=0.5 * np.eye(5), Wax=np.array(net.params["Wax"]) * 1e-4)
    trace = run_trace(net, np.ones((30, 3)), np.zeros(30, dtype=int))
    g = output_gradients(trace, step_jacobians(trace)).a_norms[29]
    found = _kinds(RunStats(cell="rnn", output_gradient=g))
    ratio = found["vanishing"].evidence["ratio"]
    assert 0.25 ** 29 < ratio <= 0.5 ** 29                 # 0.5 per step, times tanh' ≤ 1
    assert found["vanishing"].summary == "vanishing: the gradient reaching step 1 is 1e-9 of step 30"
    assert "LSTM" in found["vanishing"].advice
    ok = np.array([dg.VANISHING_RATIO * 1.01, 1.0])
    assert "vanishing" not in _kinds(RunStats(output_gradient=ok))


def test_exploding_names_the_spike_and_that_clipping_is_off():
    norms = np.full(100, 2.0)
    norms[4] = 500.0
    found = _kinds(RunStats(grad_norms=norms, grad_steps=np.arange(1, 101), clipping=False))
    assert found["exploding"].summary == "exploding: ‖g‖ spiked to 500 at step 5 — clipping is off"
    assert "clipping" in found["exploding"].advice
    assert "off" not in _kinds(RunStats(grad_norms=norms, clipping=True))["exploding"].summary
    norms[4] = 150.0                                  # 75× the median: below EXPLODING_FACTOR
    assert _kinds(RunStats(grad_norms=norms, clipping=False)) == {}


def test_short_memory_and_held_out_worse_than_chance():
    found = _kinds(RunStats(memory_horizon=8, probe_length=55, needed_lag=45))
    assert found["short memory"].summary == "short memory: the memory horizon is 8 steps, the task needs 45"
    assert _kinds(RunStats(memory_horizon=None, probe_length=55, needed_lag=45)) == {}
    bad = RunStats(held_out=11.8, held_out_chance=6.7, held_out_unit="bits per character",
                   held_out_chance_label="guessing uniformly")
    assert _kinds(bad)["held-out worse than chance"].summary == \
        "held-out 11.8 bits per character is worse than guessing uniformly (6.7)"
    assert _kinds(RunStats(held_out=6.9, held_out_chance=6.7)) == {}    # within HELD_OUT_MARGIN


def test_every_finding_is_one_line_with_something_to_try():
    stats = RunStats(activation="relu", dead_units=40, hidden_size=64, memory_horizon=3, probe_length=50,
                     needed_lag=45, held_out=2.0, held_out_chance=1.0)
    lines = [f.line for f in diagnose(stats)]
    assert len(lines) == 3 and all("\n" not in line and " — try " in line for line in lines)


def test_advice_names_only_what_the_cell_has():
    """Only the LSTM has a forget gate: the GRU is never told to raise its forget bias."""
    g = np.array([1e-9, 1.0])
    for cell in ("rnn", "lstm", "gru", "gru_torch"):
        found = _kinds(RunStats(cell=cell, output_gradient=g, memory_horizon=3, probe_length=20, needed_lag=10))
        advice = found["vanishing"].advice + found["short memory"].advice
        assert ("forget bias" in advice) == (cell == "lstm"), (cell, advice)


def test_each_change_to_try_is_a_valid_setting_that_does_what_the_advice_says():
    """'Try this' applies Finding.change: it must be a valid change of the run's settings, differ
    from them, and be the advice in the sentence (a gated cell, a larger forget bias, clipping on,
    half the learning rate, tanh)."""
    base = {"rnn": Config(task="copy", cell="rnn", activation="relu", clip_mode="none", lr=0.01),
            "lstm": Config(task="copy", cell="lstm", forget_bias=1.0, clip_mode="none", lr=0.01)}
    g = np.array([1e-9, 1.0])
    for cell, config in base.items():
        stats = RunStats(cell=cell, activation=config.activation, output_gradient=g, memory_horizon=3,
                         probe_length=20, needed_lag=10, grad_norms=np.r_[np.ones(99), 500.0],
                         clipping=False, dead_units=40, hidden_size=64, saturated_fraction=0.9,
                         forget_closed=0.9 if cell == "lstm" else None, held_out=3.0, held_out_chance=1.0,
                         lr=config.lr, forget_bias=config.forget_bias)
        found = _kinds(stats)
        assert {"vanishing", "short memory", "exploding", "saturated", "held-out worse than chance"} <= set(found)
        for finding in found.values():
            if not finding.change:
                continue
            changed = config.replace(**finding.change)          # validates
            assert changed != config, finding.kind
        if cell == "rnn":
            assert found["vanishing"].change == found["short memory"].change == {"cell": "lstm"}
            assert found["dead units"].change == {"activation": "tanh"}
        else:
            assert found["vanishing"].change == {"forget_bias": 2.0}
            assert found["forget gates closed"].change == {"forget_bias": 2.0}
        assert found["exploding"].change == {"clip_mode": "norm", "clip": dg.SUGGESTED_CLIP}
        assert found["saturated"].change == {"lr": 0.005}
    stats = RunStats(cell="lstm", output_gradient=g, forget_bias=3.0)
    assert _kinds(stats)["vanishing"].change == {"forget_bias": 4.0}     # always larger than now
    assert _kinds(RunStats(cell="lstm", output_gradient=g))["vanishing"].change == {}   # nothing to go by
