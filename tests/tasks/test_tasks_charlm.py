"""The character model reads its text exactly like min-char-rnn and scores the held-out tail."""

import numpy as np
import pytest

from rnnviz.tasks import make_task
from rnnviz.training.config import Config
from tasks_testing import FakeNet, real_network


def charlm(text, seq_length=10, batch_size=1, **changes):
    config = Config(task="charlm", seq_length=seq_length, batch_size=batch_size, hidden=8, **changes).replace()
    return make_task(config, np.random.default_rng(0), text)


def min_char_rnn_chunks(data_len, seq_length, n):
    """(p, reset) of min-char-rnn's first n chunks: ``if p+seq_length+1 >= len(data) or n == 0``."""
    p, out = 0, []
    for step in range(n):
        reset = p + seq_length + 1 >= data_len or step == 0
        if reset:
            p = 0
        out.append((p, reset))
        p += seq_length
    return out


def text_of(length, seed=0):
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("abcde fgh\n"), size=length))


def test_vocabulary_is_the_sorted_characters_and_encoding_round_trips():
    text = "hello, world\n\tbye " * 20
    task = charlm(text)
    assert task.vocab == sorted(set(text))
    assert task.input_size == task.output_size == len(task.vocab)
    ids = task.encode(text)
    assert ids.dtype == np.int64 and task.decode(ids) == text
    assert task.decode(ids[:5].tolist()) == "hello"
    with pytest.raises(ValueError, match="'z'"):
        task.encode("zebra")


def test_last_tenth_is_held_out():
    text = text_of(1000)
    task = charlm(text)
    assert task.decode(task.train_ids) == text[:900] and task.decode(task.test_ids) == text[900:]


@pytest.mark.parametrize("seq_length", [10, 7, 25])
def test_chunks_and_resets_follow_min_char_rnn(seq_length):
    text = text_of(300)                       # 270 training characters
    task = charlm(text, seq_length=seq_length)
    train = task.train_ids
    assert len(train) == 270
    for p, reset in min_char_rnn_chunks(len(train), seq_length, 60):
        batch = task.train_batch()
        assert batch.reset_state == reset
        assert np.array_equal(batch.x[:, 0], train[p:p + seq_length])
        assert np.array_equal(batch.y[:, 0], train[p + 1:p + seq_length + 1])
    assert task.carries_state


def test_parallel_streams_read_equal_contiguous_segments_and_reset_together():
    text = text_of(100)                       # 90 training characters -> 3 segments of 30
    task = charlm(text, seq_length=5, batch_size=3)
    train = task.train_ids
    assert task.segment_length == 30
    for p, reset in min_char_rnn_chunks(30, 5, 14):
        assert reset or np.array_equal(task.positions, [p, 30 + p, 60 + p])
        batch = task.train_batch()
        assert batch.reset_state == reset
        for b in range(3):
            start = 30 * b + p
            assert np.array_equal(batch.x[:, b], train[start:start + 5])
            assert np.array_equal(batch.y[:, b], train[start + 1:start + 6])


def test_too_short_text_or_tail_is_refused_with_a_fix():
    with pytest.raises(ValueError, match="too short for chunks of 25.*seq_length"):
        charlm("abcdefghij" * 2, seq_length=25)
    with pytest.raises(ValueError, match="batch_size"):
        charlm(text_of(200), seq_length=25, batch_size=8)
    with pytest.raises(ValueError, match="held-out tail.*seq_length"):
        charlm(text_of(60), seq_length=20)   # 54 training characters, 6 held out


def test_corpus_setting_is_read_when_no_text_is_given(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("one two three four five six\n" * 20, encoding="utf-8")
    task = charlm(None, corpus=str(path))
    assert task.vocab == sorted(set("one two three four five six\n"))
    with pytest.raises(ValueError, match="not found"):
        charlm(None, corpus=str(tmp_path / "missing.txt"))


def test_probe_is_the_start_of_the_tail_with_visible_whitespace():
    text = "x" * 90 + "a b\tc\nd" + "y" * 3
    task = charlm(text, seq_length=7)
    x, labels = task.probe_input()
    assert x.shape == (7, 1) and x.dtype == np.int64
    assert labels == ["a", "␣", "b", "\\t", "c", "\\n", "d"]


def test_metrics_carry_the_state_through_the_held_out_chunks():
    task = charlm(text_of(30_000, seed=1), seq_length=25)
    batches = task.test_batches()
    assert batches[0].reset_state and not any(b.reset_state for b in batches[1:])
    assert len(batches) > 1
    net = real_network(task, hidden=8)
    x = np.concatenate([b.x for b in batches])                 # (L, S): every stream in one pass
    y = np.concatenate([b.y for b in batches])
    p = np.take_along_axis(net.forward(x).outputs, y[:, :, None], axis=2)
    nats = -np.log(p).mean()
    m = task.metrics(net)
    assert m["loss"] == pytest.approx(nats, rel=1e-10)
    assert m["bits_per_char"] == pytest.approx(nats / np.log(2), rel=1e-10)


def test_metrics_score_at_most_twenty_thousand_held_out_characters():
    task = charlm(text_of(300_000, seed=2), seq_length=25)
    assert 19_000 <= sum(b.y.size for b in task.test_batches()) <= 20_000


def test_uniform_guessing_scores_log2_of_the_vocabulary():
    task = charlm(text_of(5000), seq_length=10)
    V = len(task.vocab)
    net = FakeNet(lambda x: np.full(x.shape + (V,), 1.0 / V))
    m = task.metrics(net)
    assert m["bits_per_char"] == pytest.approx(np.log2(V))
    states = [state0 for _, state0 in net.calls]
    assert states[0] is None and all(s is not None for s in states[1:])


def test_examples_show_held_out_text_and_the_models_guesses():
    task = charlm(text_of(5000), seq_length=10)
    lines = task.examples(real_network(task), k=3)
    assert len(lines) == 3
    assert all("guessed" in line and "right)" in line and "\n" not in line for line in lines)
