"""The encoder–decoder tasks: reversal and date normalisation (rnnviz.tasks.seq2seq, rnnviz.tasks.dates)."""

import datetime
import re

import numpy as np
import pytest

from rnnviz.engine.seq2seq import Seq2Seq, Seq2SeqSpec
from rnnviz.errors import InputError
from rnnviz.tasks.dates import FIRST, FORMATS, LAST, DatesTask, human_date, ordinal
from rnnviz.tasks.seq2seq import ReversalTask
from rnnviz.training.config import Config


def dates_task(seed=0, **changes):
    config = Config(**{**dict(task="dates", n_test=200, batch_size=16, hidden=8), **changes})
    return DatesTask(config, np.random.default_rng(seed))


def reversal_task(seed=0, **changes):
    config = Config(**{**dict(task="reversal", seq_length=7, n_symbols=5, n_test=30, batch_size=4,
                              hidden=8), **changes})
    return ReversalTask(config, np.random.default_rng(seed))


class Oracle:
    """Decodes held-out inputs to the answers it was given; ``wrong`` of them off by one symbol."""

    def __init__(self, task, wrong=0):
        xs, ys = task.test_pairs
        self.answers = {x.tobytes(): y.copy() for x, y in zip(xs, ys)}
        for x in xs[:wrong]:
            self.answers[x.tobytes()][-1] = (self.answers[x.tobytes()][-1] + 1) % task.output_size
        self.V = task.output_size

    def decode(self, x, length):
        return np.stack([self.answers[np.ascontiguousarray(col).tobytes()] for col in x.T], axis=1)[:length]

    def forward(self, x, y):
        class R:
            outputs = np.eye(self.V)[y] * 0.98 + 0.02 / self.V
        return R


# --------------------------------------------------------------------------- dates
def test_the_formats_of_the_brief():
    d = datetime.date(1979, 5, 3)
    written = {human_date(d, k) for k in range(len(FORMATS))}
    assert len(written) == len(FORMATS) >= 10
    assert {"3 May 1979", "Thursday, May 3, 1979", "05/03/79", "May 3rd 79", "3.5.1979", "1979 May 03"} <= written
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


# an independent reading of each format: strptime patterns (ordinal suffixes removed first)
STRPTIME = ["%d %B %Y", "%A, %B %d, %Y", "%m/%d/%y", "%B %d %y", "%d.%m.%Y", "%Y %B %d", "%B %d, %Y",
            "%d of %B %Y", "%d %b %Y", "%a, %d %b %Y", "%m/%d/%Y", "%d.%m.%y", "%A %d %B %Y", "%b %d %y",
            "%Y-%m-%d"]


def test_every_format_denotes_its_date():
    assert len(STRPTIME) == len(FORMATS)
    rng = np.random.default_rng(0)
    for k in rng.integers(0, (LAST - FIRST).days + 1, size=300):
        d = FIRST + datetime.timedelta(days=int(k))
        for fmt, pattern in enumerate(STRPTIME):
            text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", human_date(d, fmt))
            parsed = datetime.datetime.strptime(text, pattern).date()
            if "%y" in pattern:                      # the task reads 50-99 as 19xx, 00-49 as 20xx
                assert parsed.year % 100 == d.year % 100
                parsed = parsed.replace(year=(1900 if parsed.year % 100 >= 50 else 2000) + parsed.year % 100)
            assert parsed == d, (human_date(d, fmt), pattern)


def test_dates_batches_pad_the_input_and_write_iso():
    task = dates_task()
    batch = task.train_batch()
    assert batch.x.shape == (30, 16) and batch.y.shape == (10, 16)
    assert batch.x.dtype == batch.y.dtype == np.int64
    assert task.input_size == len(task.alphabet) + 1 and task.output_size == 11
    for x, y in zip(batch.x.T, batch.y.T):
        text, iso = task.input_text(x), task.output_text(y)
        d = datetime.date.fromisoformat(iso)
        assert text in {human_date(d, k) for k in range(len(FORMATS))}
        assert (x[len(text):] == task.pad).all() and (x[:len(text)] != task.pad).all()
        np.testing.assert_array_equal(task.encode_input(text), x)


def test_held_out_dates_are_never_trained_on():
    task = dates_task(n_test=2000, batch_size=256)
    held_out = {task.output_text(y) for y in task.test_pairs[1]}
    assert len(held_out) == 2000                         # distinct dates
    assert not set(task.train_days) & set(task.test_days)
    seen = set()
    for _ in range(40):
        seen.update(task.output_text(y) for y in task.train_batch().y.T)
    assert len(seen) > 8000 and not seen & held_out
    # the held-out set depends on the seed only, not on the training stream
    again = dates_task(seed=99, n_test=2000, batch_size=256)
    np.testing.assert_array_equal(again.test_pairs[0], task.test_pairs[0])


def test_dates_training_stream_resumes():
    task = dates_task()
    task.train_batch()
    state = task.state_dict()
    expected = task.train_batch()
    other = dates_task(seed=5)
    other.load_state_dict(state)
    got = other.train_batch()
    np.testing.assert_array_equal(got.x, expected.x)
    np.testing.assert_array_equal(got.y, expected.y)


@pytest.mark.parametrize("make", [dates_task, reversal_task])
def test_metrics_score_greedy_decodes(make):
    task = make()
    n = task.held_out_size()
    perfect = task.metrics(Oracle(task))
    assert perfect["exact_match"] == 1.0 and perfect["accuracy"] == 1.0
    m = task.metrics(Oracle(task, wrong=3))
    assert m["exact_match"] == pytest.approx((n - 3) / n)
    assert m["accuracy"] == pytest.approx(1 - 3 / (n * task.output_length))
    assert m["loss"] == pytest.approx(-np.log(0.98 + 0.02 / task.output_size))
    assert task.metrics(Oracle(task, wrong=3), limit=3)["exact_match"] == 0.0
    lines = task.examples(Oracle(task, wrong=1), k=2)
    assert lines[0].endswith("✗ " + f"{task.output_length - 1}/{task.output_length} symbols")
    assert lines[1].endswith("✓")


def test_metrics_of_a_real_model():
    task = dates_task()
    spec = Seq2SeqSpec("lstm", task.input_size, task.output_size, 8, output_length=task.output_length)
    model = Seq2Seq.create(spec, np.random.default_rng(0))
    m = task.metrics(model, limit=50)
    assert set(m) == {"exact_match", "accuracy", "loss"}
    assert 0 <= m["exact_match"] <= m["accuracy"] <= 1
    assert m["loss"] == pytest.approx(np.log(task.output_size), rel=0.3)      # untrained: near uniform
    line = task.examples(model, k=1)[0]
    assert line.startswith(task.input_text(task.test_pairs[0][0]) + " → ")
    x, labels = task.probe_input()
    assert x.shape == (30, 1) and len(labels) == 30 and labels[-1] == "·"


def test_dates_chance_loss():
    task = dates_task(reduction="mean")
    assert task.chance_loss() == pytest.approx(np.log(len(task.train_days)) / 10)
    assert dates_task(reduction="sum").chance_loss() == pytest.approx(np.log(len(task.train_days)))


def test_dates_bad_settings_and_text():
    with pytest.raises(InputError, match="batch_size 0"):
        dates_task(batch_size=0)
    with pytest.raises(InputError, match="n_test"):
        dates_task(n_test=10 ** 6)
    task = dates_task()
    with pytest.raises(InputError, match="not in the dates task's alphabet"):
        task.encode_input("3 May 1979!")
    with pytest.raises(InputError, match="longer than"):
        task.encode_input("3 May 1979" * 4)


# --------------------------------------------------------------------------- reversal
def test_reversal_targets_are_the_reversed_inputs():
    task = reversal_task()
    batch = task.train_batch()
    assert batch.x.shape == batch.y.shape == (7, 4)
    np.testing.assert_array_equal(batch.y, batch.x[::-1])
    assert batch.x.min() >= 0 and batch.x.max() < 5
    assert task.input_size == task.output_size == 5
    assert task.chance_loss() == pytest.approx(7 * np.log(5))          # Config's default reduction: sum
    assert reversal_task(reduction="mean").chance_loss() == pytest.approx(np.log(5))
    assert task.examples(Oracle(task), k=1)[0] == " ".join(map(str, task.test_pairs[0][0])) + " → " + \
        " ".join(map(str, task.test_pairs[1][0])) + " (" + " ".join(map(str, task.test_pairs[1][0])) + ") ✓"


def test_reversal_bad_settings():
    with pytest.raises(InputError, match="at least 2 symbols"):
        reversal_task(n_symbols=1)
    with pytest.raises(InputError, match="batch_size 0"):
        reversal_task(batch_size=0)
