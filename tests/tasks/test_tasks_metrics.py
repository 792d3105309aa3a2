"""Held-out metrics and readable examples: a perfect answer scores perfectly, guessing scores chance."""

import numpy as np
import pytest

from rnnviz.training.config import ENCODER_DECODER_TASKS, TASKS
from tasks_testing import FakeNet, one_hot, real_network, small_task

METRIC_KEYS = {
    "parity": {"accuracy", "loss"},
    "addition": {"bit_accuracy", "sum_accuracy", "loss"},
    "charlm": {"bits_per_char", "loss"},
    "copy": {"accuracy", "loss"},
    "adding": {"mse", "accuracy", "loss"},
    "reversal": {"exact_match", "accuracy", "loss"},
    "dates": {"exact_match", "accuracy", "loss"},
}


def parity_oracle(sure=0.9):
    return FakeNet(lambda x: np.where(x[:, :, 0].sum(axis=0) % 2 == 1, sure, 1 - sure)[:, None])


def addition_oracle(task, wrong_bit=None):
    def answer(x):
        a, b = task.decode(x[:, :, 0]), task.decode(x[:, :, 1])
        bits = task._bits(a + b).astype(float)
        if wrong_bit is not None:
            bits[wrong_bit] = 1 - bits[wrong_bit]
        return bits[:, :, None]
    return FakeNet(answer)


def copy_oracle(task, sure=0.8):
    def answer(x):
        target = np.full(x.shape, task.blank)
        target[-task.copy_length:] = x[:task.copy_length]
        return one_hot(target, task.output_size, sure)
    return FakeNet(answer)


def adding_oracle(error=0.0):
    return FakeNet(lambda x: ((x[:, :, 0] * x[:, :, 1]).sum(axis=0) + error)[:, None])


def test_parity_metrics():
    task = small_task("parity")
    m = task.metrics(parity_oracle(0.9))
    assert m == {"accuracy": 1.0, "loss": pytest.approx(-np.log(0.9))}
    assert task.metrics(parity_oracle(0.2))["accuracy"] == 0.0
    bits = task.test_bits[0]
    label = int(bits.sum()) % 2
    first = task.examples(parity_oracle(0.9), k=2)[0]
    assert first == "".join(map(str, bits)) + f" → {label} ({label}) ✓"
    wrong = task.examples(parity_oracle(0.2), k=3)
    assert all(line.endswith("✗") for line in wrong)


def test_parity_examples_show_the_whole_string():
    # (issue 15 item 13: the strings were cut to 10…3 bits; the student could not check the answer)
    task = small_task("parity", seq_length=40)
    line = task.examples(parity_oracle(), k=1)[0]
    bits = "".join(str(int(b)) for b in task.probe_input()[0][:, 0, 0])
    assert line.startswith(bits + " → ")


def test_addition_metrics_and_examples():
    task = small_task("addition")
    assert task.metrics(addition_oracle(task))["sum_accuracy"] == 1.0
    m = task.metrics(addition_oracle(task, wrong_bit=7))
    assert m["bit_accuracy"] == pytest.approx(7 / 8) and m["sum_accuracy"] == 0.0
    a, b = task.test_a[0], task.test_b[0]
    assert task.examples(addition_oracle(task), k=1) == [f"{a} + {b} → {a + b} ({a + b}) ✓"]
    wrong = task.examples(addition_oracle(task, wrong_bit=7), k=1)[0]
    assert wrong == f"{a} + {b} → {(a + b) ^ 128} ({a + b}) ✗"


def test_copy_metrics_and_examples():
    task = small_task("copy")
    m = task.metrics(copy_oracle(task, 0.8))
    assert m == {"accuracy": 1.0, "loss": pytest.approx(-np.log(0.8))}
    uniform = FakeNet(lambda x: np.full(x.shape + (task.output_size,), 1.0 / task.output_size))
    m = task.metrics(uniform)                      # argmax picks symbol 0: right about 1/n_symbols of the time
    assert 0.1 < m["accuracy"] < 0.3 and m["loss"] == pytest.approx(np.log(task.output_size))
    symbols = " ".join(str(s) for s in task.test_symbols[0])
    assert task.examples(copy_oracle(task), k=1) == [f"{symbols} → {symbols} ({symbols}) ✓"]
    blank = FakeNet(lambda x: one_hot(np.full(x.shape, task.blank), task.output_size, 0.9))
    assert task.examples(blank, k=1) == [f"{symbols} → {' '.join(['·'] * 4)} ({symbols}) ✗ 0/4 symbols"]


def test_copy_probe_labels_show_symbols_blanks_and_the_recall_marker():
    task = small_task("copy", seq_length=3, copy_length=2)
    x, labels = task.probe_input()
    assert labels == [str(x[0, 0]), str(x[1, 0]), "·", "·", "▸", "·", "·"]


def test_adding_metrics_and_examples():
    task = small_task("adding")
    assert task.metrics(adding_oracle(0.03)) == {"mse": pytest.approx(0.0009), "accuracy": 1.0,
                                                 "loss": pytest.approx(0.0009)}
    assert task.metrics(adding_oracle(0.05))["accuracy"] == 0.0
    big = small_task("adding", n_test=4000, seq_length=20)
    always_one = FakeNet(lambda x: np.ones((x.shape[1], 1)))
    assert big.metrics(always_one)["mse"] == pytest.approx(1 / 6, abs=0.01)
    (i, j), values = task.test_marks[0], task.test_values[0]
    want = values[i] + values[j]
    assert task.examples(adding_oracle(0.01), k=1) == [f"{values[i]:.2f} + {values[j]:.2f} → {want + 0.01:.2f} "
                                                       f"({want:.2f}) ✓"]
    assert task.examples(adding_oracle(0.05), k=1)[0].endswith(" ✗")
    x, labels = task.probe_input()
    assert sum(label.endswith("*") for label in labels) == 2
    assert all(len(label.rstrip("*")) == 4 for label in labels)


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_metrics_examples_and_probe_run_on_a_real_network(name, cell):
    task = small_task(name)
    net = real_network(task, cell=cell)
    before = task.rng.bit_generator.state
    m = task.metrics(net)
    assert set(m) == METRIC_KEYS[name] and all(isinstance(v, float) and np.isfinite(v) for v in m.values())
    assert task.metrics(net) == m
    lines = task.examples(net, k=3)
    assert len(lines) == 3 and all(isinstance(line, str) and line for line in lines)
    x, labels = task.probe_input()
    out = net.forward(x).outputs
    assert out.shape[-2] == 1 and len(labels) == x.shape[0]
    assert task.rng.bit_generator.state == before


@pytest.mark.parametrize("name", [n for n in TASKS if n not in ENCODER_DECODER_TASKS])   # those: test_seq2seq_tasks
def test_metrics_on_a_held_out_subset(name):
    """``metrics(net, limit)`` scores the first ``limit`` held-out items: the same as a task whose
    whole held-out set is those items, and everything with no limit (or one past the end)."""
    task = small_task(name)
    net = real_network(task)
    size = task.held_out_size()
    assert task.metrics(net, limit=None) == task.metrics(net) == task.metrics(net, limit=size + 5)
    limit = 200 if name == "charlm" else 20
    assert limit < size
    part = task.metrics(net, limit=limit)
    assert set(part) == METRIC_KEYS[name] and part != task.metrics(net)
    assert task.metrics(net, limit=limit) == part                       # a fixed subset
    if name != "charlm":
        # it reads exactly the first ``limit`` held-out sequences, and the examples are among them
        seen = FakeNet(lambda x: net.forward(x).outputs)
        assert task.metrics(seen, limit=limit) == part
        read = np.concatenate([x for x, _ in seen.calls], axis=1)
        every = np.concatenate([b.x for b in task.test_batches()], axis=1)
        assert np.array_equal(read, every[:, :limit])
        shown = FakeNet(lambda x: net.forward(x).outputs)
        task.examples(shown, k=3)
        assert np.array_equal(shown.calls[0][0], every[:, :3])
    else:
        scored = sum(b.y.size for b in task.held_out(limit))
        assert limit - 8 < scored <= limit


@pytest.mark.parametrize("name", [n for n in TASKS if n != "charlm"])
def test_every_task_shows_examples_in_one_format(name):
    """``input → prediction (target) ✓`` or ``✗``, for every task the window shows examples of."""
    import re

    task = small_task(name)
    for line in task.examples(real_network(task), k=4):
        assert re.fullmatch(r".+ → .+ \(.+\) [✓✗]( .+)?", line), line
