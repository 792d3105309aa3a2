"""Shared helpers for the task tests: small configs, a real network for a task, oracle networks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.tasks import make_task
from rnnviz.training.config import Config

CORPUS = ("The quick brown fox jumps over the lazy dog.\n\tPack my box with five dozen liquor jugs! " * 40)

SMALL = {
    "parity": dict(task="parity", seq_length=12, n_train=200, n_test=50, batch_size=0, hidden=8),
    "addition": dict(task="addition", n_bits=8, n_test=50, batch_size=3, hidden=8),
    "charlm": dict(task="charlm", seq_length=10, batch_size=1, hidden=8),
    "copy": dict(task="copy", seq_length=6, n_symbols=5, copy_length=4, n_test=40, batch_size=3, hidden=8),
    "adding": dict(task="adding", seq_length=10, n_test=50, batch_size=4, hidden=8),
    "reversal": dict(task="reversal", seq_length=5, n_symbols=4, n_test=30, batch_size=3, hidden=8),
    "dates": dict(task="dates", n_test=30, batch_size=3, hidden=8),
}


def small_config(name: str, **changes) -> Config:
    return Config(**{**SMALL[name], **changes}).replace()


def small_task(name: str, seed: int = 0, corpus_text: str | None = CORPUS, **changes):
    config = small_config(name, **changes)
    return make_task(config, np.random.default_rng(seed), corpus_text if name == "charlm" else None)


def real_network(task, hidden: int = 8, cell: str = "rnn", seed: int = 1):
    """A freshly initialised model for ``task``: a Network, or for the encoder–decoder tasks a Seq2Seq."""
    from rnnviz.engine.network import Network, NetworkSpec
    if getattr(task, "encoder_decoder", False):
        from rnnviz.engine.seq2seq import Seq2Seq, Seq2SeqSpec
        spec = Seq2SeqSpec(cell, task.input_size, task.output_size, hidden, output_length=task.output_length)
        return Seq2Seq.create(spec, np.random.default_rng(seed), init="xavier")
    spec = NetworkSpec(cell=cell, input_size=task.input_size, hidden_size=hidden, output_size=task.output_size,
                       input_kind=task.input_kind, readout=task.readout, many_to_one=task.many_to_one)
    return Network.create(spec, np.random.default_rng(seed), init="xavier")


@dataclass
class FakeResult:
    outputs: np.ndarray
    final_state: dict
    states: dict
    grad_a_norms: None = None
    grad_c_norms: None = None


class FakeNet:
    """Anything with ``forward(x, state0)``: ``answer(x)`` gives the outputs; records every call."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[np.ndarray, object]] = []

    def forward(self, x, state0=None):
        self.calls.append((np.array(x), state0))
        N = x.shape[1]
        return FakeResult(outputs=self.answer(np.asarray(x)), final_state={"a": np.zeros((N, 1))}, states={})


def one_hot(ids: np.ndarray, K: int, sure: float = 1.0) -> np.ndarray:
    """Probabilities (…, K) putting ``sure`` on ``ids`` and the rest evenly elsewhere."""
    out = np.full(ids.shape + (K,), (1.0 - sure) / (K - 1))
    np.put_along_axis(out, ids[..., None], sure, axis=-1)
    return out
