"""The character model resets its hidden state exactly where the training text wraps, and nowhere else.

Where each chunk comes from is found here from its characters alone (every window of the random
text below occurs once), not from the task's pointer: a chunk continues its stream when it starts
T characters after the previous chunk, and wraps when it starts again at its segment's start.
The task signals a wrap with ``Batch.reset_state``; the trainer must then start the pass from
zeros, and otherwise from a carried, non-zero state.
"""

import numpy as np
import pytest

from rnnviz.training import Config, Trainer

ALPHABET = list("abcdefghijklmnopqrstuvwxyz .,;")
# 361 training characters: at p = 350 one more chunk and its target would just fit, and
# min-char-rnn (p + T + 1 >= len(data)) still wraps there
TEXT = "".join(np.random.default_rng(7).choice(ALPHABET, 401))
T = 10


def config(**changes):
    base = dict(task="charlm", seq_length=T, hidden=6, batch_size=1, optimizer="adagrad", lr=0.1,
                clip_mode="value", reduction="sum")
    return Config(**{**base, **changes})


def window_starts(train_text):
    """Offset of every T-character window of the training text; each occurs once."""
    starts = {}
    for i in range(len(train_text) - T + 1):
        assert train_text[i:i + T] not in starts, "the test text must have unique windows"
        starts[train_text[i:i + T]] = i
    return starts


def chunk_starts(task, batch, starts):
    """Where each stream's chunk starts in the training text, found from its characters."""
    return [starts[task.decode(batch.x[:, b])] for b in range(batch.x.shape[1])]


def expected_wraps(task, n_steps):
    """Run the task's stream and say, from the chunks' places alone, which of them wrapped.

    Returns the wraps (True: the chunk starts its segment again) and the task's reset flags, one
    per chunk, and checks along the way that every other chunk continues its stream T characters on.
    """
    train_text = task.decode(task.train_ids)
    starts = window_starts(train_text)
    B = task.n_streams
    L = len(task.train_ids) // B                      # each stream reads one segment of L characters
    segment = [b * L for b in range(B)]
    wraps, flags, previous = [], [], None
    for step in range(n_steps):
        batch = task.train_batch()
        where = chunk_starts(task, batch, starts)
        if previous is not None and all(w == p + T for w, p in zip(where, previous)):
            # min-char-rnn's rule: a chunk that starts at p continues only while p + T + 1 < len(data)
            assert previous[0] - segment[0] + 2 * T + 1 < L, f"chunk {step + 1} should have wrapped"
            wrapped = False
        else:
            assert where == segment, f"chunk {step + 1} neither continues its stream nor starts again"
            # starting again is right only at the first chunk or where one more chunk (and its
            # shifted target) would run past the segment: min-char-rnn's p + T + 1 >= len(data)
            assert previous is None or previous[0] - segment[0] + 2 * T + 1 >= L, f"early wrap at {step + 1}"
            wrapped = True
        wraps.append(wrapped)
        flags.append(bool(batch.reset_state))
        previous = where
    return wraps, flags


@pytest.mark.parametrize("batch_size", [1, 2])
def test_reset_flag_is_set_exactly_where_the_text_wraps(batch_size):
    task = Trainer(config(batch_size=batch_size), corpus_text=TEXT).task
    wraps, flags = expected_wraps(task, 100)
    assert sum(wraps) >= 3 and not all(wraps)        # the text wrapped several times
    assert flags == wraps, [step + 1 for step, (f, w) in enumerate(zip(flags, wraps)) if f != w]


@pytest.mark.parametrize("cell,batch_size", [("rnn", 1), ("lstm", 2), ("gru", 1)])
def test_trainer_starts_from_zeros_after_a_wrap_and_from_the_carried_state_elsewhere(monkeypatch, cell, batch_size):
    cfg = config(cell=cell, batch_size=batch_size)
    wraps, _ = expected_wraps(Trainer(cfg, corpus_text=TEXT).task, 80)    # a twin trainer's stream
    t = Trainer(cfg, corpus_text=TEXT)
    starts = []
    original_pass = t.network.loss_and_grads

    def recording_pass(x, y, state0=None, mask=None, out=None):
        starts.append(None if state0 is None else {k: np.array(v) for k, v in state0.items()})
        return original_pass(x, y, state0, mask, out=out)

    monkeypatch.setattr(t.network, "loss_and_grads", recording_pass)
    for step, wrapped in enumerate(wraps):
        assert t.step().refused is None
        start = starts[step]
        if wrapped:
            assert start is None or all(not v.any() for v in start.values()), \
                f"step {step + 1}: the state was carried across the wrap"
        else:
            assert start is not None and all(np.abs(v).max() > 1e-6 for v in start.values()), \
                f"step {step + 1}: the state was reset inside the text"
