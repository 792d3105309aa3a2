"""The character model's state between chunks, checked against a plain NumPy forward pass and an
independent position rule: the state carried into a chunk IS the previous chunk's final state (by
value), and it is reset exactly where min-char-rnn resets it (``p + T + 1 >= len(data)``: the
text wraps)."""

import numpy as np
import pytest

from rnnviz.training import Config, Trainer

# 120 characters of text: 108 for training, so the 10-character chunks wrap every 10 steps
TEXT = "abcdefghij klmnopqrst uvwxyz. " * 4


def plain_rnn_final_state(params, ids, a0):
    """a<t> = tanh(Wax x<t> + Waa a<t-1> + ba) over the token ids (T,), from a0 (H,): a<T>."""
    a = a0.copy()
    for token in ids:
        a = np.tanh(params["Wax"][:, token] + params["Waa"] @ a + params["ba"])
    return a


@pytest.mark.parametrize("seq_length", [10, 7])
def test_state_is_carried_by_value_and_reset_where_the_text_wraps(seq_length):
    t = Trainer(Config(task="charlm", seq_length=seq_length, hidden=6, batch_size=1, optimizer="adagrad",
                       lr=0.1, clip_mode="value", reduction="sum", init="xavier"), corpus_text=TEXT)
    data = t.task.train_ids
    H, T = t.config.hidden, seq_length
    p, expected, resets = 0, np.zeros(H), []
    for step in range(3 * len(data) // T):
        reset = step == 0 or p + T + 1 >= len(data)     # min-char-rnn's rule, written out again
        if reset:
            p, expected = 0, np.zeros(H)
        params = {k: v.copy() for k, v in t.network.params.items()}   # the weights this step reads
        t.step()
        expected = plain_rnn_final_state(params, data[p:p + T], expected)
        p += T
        resets.append(reset)
        assert np.allclose(t.carried_state["a"][0], expected, rtol=0, atol=1e-12), f"step {step + 1}"
    assert sum(resets) >= 3          # the text wrapped at least twice during the test
