"""Every task's chance level: the training loss of the best input-independent prediction, in the
loss's own unit and reduction. Checked against the engine's own loss function on the task's
training batches, scoring a constant prediction (per time step) that ignores the inputs."""

import math

import numpy as np
import pytest

from rnnviz.engine.readouts import loss_and_grad
from rnnviz.engine.sequence import loss_weights
from rnnviz.tasks import TASK_CLASSES
from rnnviz.tasks.base import Task, binary_entropy

from tasks_testing import small_config, small_task

LN2 = math.log(2.0)


def engine_loss(task, batch, logits_per_step):
    """The loss the trainer records for ``batch`` when the network's logits are
    ``logits_per_step`` (K,) or (T, K) whatever the input: the engine's loss and weighting."""
    cfg = task.config
    readout = task.readout
    if task.many_to_one:
        N = batch.y.shape[0]
        logits = np.broadcast_to(logits_per_step, (N, task.output_size)).copy()
    else:
        T, N = batch.x.shape[:2]
        logits = np.broadcast_to(np.reshape(logits_per_step, (-1, 1, task.output_size)),
                                 (T, N, task.output_size)).copy()
    weights = loss_weights(batch.x.shape[0], N, batch.mask, cfg.reduction, task.many_to_one, np.float64)
    loss, _, _ = loss_and_grad(logits, batch.y, readout, weights)
    return loss


def mean_training_loss(task, logits_per_step, steps):
    return float(np.mean([engine_loss(task, task.train_batch(), logits_per_step) for _ in range(steps)]))


def logit(p):
    return math.log(p / (1.0 - p))


def test_every_task_has_a_chance_level_and_the_base_class_has_none():
    assert Task.chance_loss is not None
    for name, cls in TASK_CLASSES.items():
        assert cls.chance_loss is not Task.chance_loss, name
        value = small_task(name).chance_loss()
        assert isinstance(value, float) and value > 0, name

    class Unknown(Task):
        name = "unknown"

    assert Unknown(small_config("parity"), np.random.default_rng(0)).chance_loss() is None


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_parity_chance_is_ln2_per_sequence_on_its_fixed_training_set(reduction):
    task = small_task("parity", reduction=reduction, n_train=2000)
    odd = float(np.mean(task.train_bits.sum(axis=1) % 2))
    assert task.chance_loss() == pytest.approx(binary_entropy(odd), rel=1e-12)
    assert task.chance_loss() == pytest.approx(LN2, abs=2e-3)            # many-to-one: no reduction
    # full batch: the engine's loss of always saying P(odd) = that fraction, exactly
    assert engine_loss(task, task.train_batch(), [logit(odd)]) == pytest.approx(task.chance_loss(), rel=1e-9)
    # and no other constant does better
    for p in (odd - 0.05, odd + 0.05, 0.5):
        assert engine_loss(task, task.train_batch(), [logit(p)]) >= task.chance_loss() - 1e-12


@pytest.mark.parametrize("reduction, factor", [("sum", 8), ("mean", 1)])
def test_addition_chance_is_ln2_per_bit_summed_or_averaged_over_the_bits(reduction, factor):
    task = small_task("addition", reduction=reduction, n_bits=8, batch_size=2000)
    assert task.chance_loss() == pytest.approx(factor * LN2, rel=1e-4)
    assert task.chance_loss() < factor * LN2                  # the top bit is a hair under a half
    M = 1 << 7
    best = [0.0] * 7 + [logit((M - 1) / (2 * M))]             # per bit position, least significant first
    assert mean_training_loss(task, np.array(best)[:, None], 20) == pytest.approx(task.chance_loss(), rel=1e-5)
    assert mean_training_loss(task, np.zeros((8, 1)), 5) == pytest.approx(factor * LN2, rel=1e-12)


@pytest.mark.parametrize("reduction, factor", [("mean", 1), ("sum", 4)])
def test_copy_chance_is_ln_n_symbols_per_recalled_symbol(reduction, factor):
    task = small_task("copy", reduction=reduction, batch_size=64)      # 5 symbols, copy_length 4
    assert task.output_size == 6                                        # the symbols and blank
    assert task.chance_loss() == pytest.approx(factor * math.log(5), rel=1e-12)
    uniform_symbols = np.array([0.0] * 5 + [-60.0])                     # blank never said
    assert mean_training_loss(task, uniform_symbols, 5) == pytest.approx(task.chance_loss(), rel=1e-9)
    # an untrained network (uniform over all six outputs) starts above it
    assert mean_training_loss(task, np.zeros(6), 5) == pytest.approx(factor * math.log(6), rel=1e-9)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_adding_chance_is_the_variance_of_the_sum_one_sixth(reduction):
    task = small_task("adding", reduction=reduction, batch_size=20_000)
    assert task.chance_loss() == pytest.approx(1 / 6, rel=1e-12)
    assert mean_training_loss(task, [1.0], 10) == pytest.approx(1 / 6, rel=0.01)   # always say 1
    assert mean_training_loss(task, [0.9], 10) > mean_training_loss(task, [1.0], 10)


@pytest.mark.parametrize("reduction, factor", [("mean", 1), ("sum", 10)])
def test_charlm_chance_is_the_character_entropy_per_character_or_per_chunk(reduction, factor):
    task = small_task("charlm", reduction=reduction)                    # chunks of 10 characters
    V = len(task.vocab)
    counts = np.bincount(task.train_ids, minlength=V)
    p = counts / counts.sum()
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum())
    assert task.chance_loss() == pytest.approx(factor * entropy, rel=1e-12)
    assert task.chance_loss() < factor * math.log(V)                    # below the uniform guess
    # over one pass through the training text, the engine's loss of predicting those frequencies
    chunks = task.segment_length // task.T
    with np.errstate(divide="ignore"):
        frequencies = np.log(np.maximum(p, 1e-300))
    assert mean_training_loss(task, frequencies, chunks) == pytest.approx(task.chance_loss(), rel=0.02)
