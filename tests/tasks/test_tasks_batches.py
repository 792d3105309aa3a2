"""Every task's batches have the documented shapes and dtypes and the right labels."""

import numpy as np
import pytest

from rnnviz.tasks import TASK_INFO, make_task
from rnnviz.training.config import ENCODER_DECODER_TASKS, TASKS, Config
from tasks_testing import small_config, small_task

SMALL_CORPUS = "abcdefghij klmnop\n" * 30


@pytest.mark.parametrize("name", [n for n in TASKS if n not in ENCODER_DECODER_TASKS])   # those: test_seq2seq_tasks
def test_batches_have_the_documented_shapes_and_dtypes(name):
    task = small_task(name)
    T = task.T if hasattr(task, "T") else task.n_bits
    for batch in [task.train_batch(), task.train_batch(), *task.test_batches()]:
        N = batch.x.shape[1]
        if name == "charlm":
            T = batch.x.shape[0]      # held-out text is read in longer chunks
        if task.input_kind == "tokens":
            assert batch.x.shape == (T, N) and batch.x.dtype == np.int64
            assert 0 <= batch.x.min() and batch.x.max() < task.input_size
        else:
            assert batch.x.shape == (T, N, task.input_size) and batch.x.dtype == np.float64
        if task.readout == "softmax":
            assert batch.y.dtype == np.int64 and batch.y.shape == (T, N)
            assert 0 <= batch.y.min() and batch.y.max() < task.output_size
        else:
            expected = (N, task.output_size) if task.many_to_one else (T, N, task.output_size)
            assert batch.y.shape == expected and batch.y.dtype == np.float64
        assert batch.mask is None or (batch.mask.shape == (T,) and not task.many_to_one)
    x, labels = task.probe_input()
    T = task.T if hasattr(task, "T") else task.n_bits
    assert x.shape[:2] == (T, 1) and len(labels) == T and all(isinstance(s, str) and s for s in labels)


@pytest.mark.parametrize("name", ["parity", "addition", "adding"])
def test_dense_inputs_follow_the_configured_dtype(name):
    batch = small_task(name, dtype="float32").train_batch()
    assert batch.x.dtype == np.float32 and batch.y.dtype == np.float32


def test_batch_sizes_follow_the_config():
    assert small_task("parity", batch_size=0).train_batch().x.shape[1] == 200     # full batch
    assert small_task("parity", batch_size=16).train_batch().x.shape[1] == 16
    assert small_task("addition", batch_size=1).train_batch().x.shape[1] == 1
    assert small_task("copy", batch_size=7).train_batch().x.shape[1] == 7
    assert small_task("charlm", batch_size=3).train_batch().x.shape[1] == 3
    assert sum(b.x.shape[1] for b in small_task("adding", n_test=123).test_batches()) == 123


@pytest.mark.parametrize("name", ["addition", "copy", "adding", "charlm"])
def test_full_batch_is_refused_where_there_is_no_fixed_training_set(name):
    with pytest.raises(ValueError, match="batch_size 0"):
        small_task(name, batch_size=0)


def test_parity_batch_larger_than_training_set_is_refused():
    with pytest.raises(ValueError, match="n_train"):
        small_task("parity", n_train=10, batch_size=11)


def test_parity_label_is_the_xor_of_all_bits():
    task = small_task("parity", seq_length=9)
    for batch in [task.train_batch(), *task.test_batches()]:
        bits = batch.x[:, :, 0].astype(int)
        assert set(np.unique(bits)) <= {0, 1}
        assert np.array_equal(batch.y[:, 0], np.bitwise_xor.reduce(bits, axis=0))


def test_parity_full_batch_is_the_same_fixed_set_every_step():
    task = small_task("parity", batch_size=0)
    a, b = task.train_batch(), task.train_batch()
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)


def test_parity_minibatches_cover_the_fixed_set_once_per_epoch_in_a_new_order():
    task = small_task("parity", n_train=60, batch_size=20)
    full = small_task("parity", n_train=60, batch_size=0).train_batch().x[:, :, 0].T      # (60, T)
    key = lambda rows: sorted(map(bytes, rows.astype(np.uint8)))                          # noqa: E731
    epochs = []
    for _ in range(2):
        rows = np.concatenate([task.train_batch().x[:, :, 0].T for _ in range(3)])
        assert key(rows) == key(full)
        epochs.append(rows)
    assert not np.array_equal(epochs[0], epochs[1])


def test_parity_training_set_depends_on_seed_and_differs_from_test_set():
    a = small_task("parity", seq_length=30).train_batch().x
    b = make_task(small_config("parity", seq_length=30, seed=5), np.random.default_rng(0)).train_batch().x
    assert not np.array_equal(a, b)
    test_rows = {bytes(r) for r in small_task("parity", seq_length=30).test_batches()[0].x[:, :, 0].T.astype(np.uint8)}
    train_rows = {bytes(r) for r in a[:, :, 0].T.astype(np.uint8)}
    assert not test_rows & train_rows


def test_addition_sums_decode_and_fit_in_n_bits():
    task = small_task("addition", n_bits=6, batch_size=50)
    for batch in [task.train_batch(), *task.test_batches()]:
        weights = 2 ** np.arange(6)[:, None]
        a = (batch.x[:, :, 0] * weights).sum(axis=0)
        b = (batch.x[:, :, 1] * weights).sum(axis=0)
        c = (batch.y[:, :, 0] * weights).sum(axis=0)
        assert np.array_equal(a + b, c)
        assert a.max() < 32 and b.max() < 32
        assert np.array_equal(task.decode(batch.y[:, :, 0]), c)


def test_addition_draws_fresh_pairs_every_step():
    task = small_task("addition", batch_size=20)
    assert not np.array_equal(task.train_batch().x, task.train_batch().x)


def test_copy_targets_are_the_shown_symbols_after_the_lag():
    task = small_task("copy", seq_length=6, copy_length=4, n_symbols=5)
    L, lag, T = 4, 6, 14
    for batch in [task.train_batch(), *task.test_batches()]:
        x, y = batch.x, batch.y
        assert x.shape[0] == T
        assert x[:L].max() < 5                                   # data symbols
        assert np.all(x[L:L + lag - 1] == task.blank) and np.all(x[L + lag - 1] == task.recall)
        assert np.all(x[L + lag:] == task.blank)
        assert np.array_equal(y[-L:], x[:L])
        assert np.all(y[:-L] == task.blank)
        assert np.array_equal(batch.mask, np.r_[np.zeros(T - L), np.ones(L)])


def test_adding_target_is_the_sum_of_the_two_marked_values():
    task = small_task("adding", seq_length=11, batch_size=30)
    for batch in [task.train_batch(), *task.test_batches()]:
        values, marks = batch.x[:, :, 0], batch.x[:, :, 1]
        assert np.all((values >= 0) & (values < 1))
        assert np.all(marks.sum(axis=0) == 2)
        assert np.all(marks[:5].sum(axis=0) == 1) and np.all(marks[5:].sum(axis=0) == 1)
        assert np.allclose(batch.y[:, 0], (values * marks).sum(axis=0))


@pytest.mark.parametrize("name", TASKS)
def test_held_out_data_is_fixed_and_never_touches_the_training_rng(name):
    rng = np.random.default_rng(7)
    task = make_task(small_config(name), rng, SMALL_CORPUS if name == "charlm" else None)
    before = rng.bit_generator.state
    first = task.test_batches()
    task.probe_input()
    assert rng.bit_generator.state == before
    for _ in range(3):
        task.train_batch()
    again = task.test_batches()
    other = make_task(small_config(name), np.random.default_rng(99), SMALL_CORPUS if name == "charlm" else None)
    for batches in (again, other.test_batches()):
        assert len(batches) == len(first)
        for a, b in zip(first, batches):
            assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and a.reset_state == b.reset_state
    assert np.array_equal(task.probe_input()[0], other.probe_input()[0])


@pytest.mark.parametrize("name", TASKS)
def test_training_data_comes_from_the_given_rng_only(name):
    corpus = SMALL_CORPUS if name == "charlm" else None
    a = make_task(small_config(name), np.random.default_rng(3), corpus)
    b = make_task(small_config(name), np.random.default_rng(3), corpus)
    for _ in range(3):
        ba, bb = a.train_batch(), b.train_batch()
        assert np.array_equal(ba.x, bb.x) and np.array_equal(ba.y, bb.y)


def test_task_info_names_every_task_and_what_seq_length_means():
    assert set(TASK_INFO) == set(TASKS)
    assert TASK_INFO["parity"].seq_length_label == "bits T"
    assert TASK_INFO["charlm"].seq_length_label == "chunk length"
    assert TASK_INFO["copy"].seq_length_label == "lag"
    assert TASK_INFO["adding"].seq_length_label == "length T"
    assert TASK_INFO["addition"].seq_length_label is None          # its length is n_bits
    assert all(set(info.settings) <= set(Config().to_dict()) for info in TASK_INFO.values())
    assert all(info.seq_length_help for info in TASK_INFO.values())


def test_make_task_refuses_an_unknown_task():
    config = Config()
    config.task = "sorting"
    with pytest.raises(ValueError, match="task must be one of"):
        make_task(config, np.random.default_rng(0))
