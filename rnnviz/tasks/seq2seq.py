"""Encoder–decoder tasks: an input sequence in, an output sequence of another length out.

Shapes: Tx input steps, Ty output steps, N sequences, Vx input vocabulary, Vy output vocabulary.
A batch holds x (Tx, N) int64 input tokens and y (Ty, N) int64 target tokens (``mask`` None,
``reset_state`` True): unlike the other tasks' many-to-many batches, y has its own length. The
model is :class:`rnnviz.engine.seq2seq.Seq2Seq`, trained with teacher forcing on y; held-out
metrics score its *greedy* decodes (each output fed back as the next input), which is what a
user of the model gets:

* ``exact_match``: the fraction of held-out sequences whose whole output is right;
* ``accuracy``: the fraction of output symbols right (position by position);
* ``loss``: the teacher-forced cross-entropy in nats per output symbol.

Here: :class:`Seq2SeqTask`, the shared part, and :class:`ReversalTask`. Date normalisation is in
:mod:`rnnviz.tasks.dates`.
"""

from __future__ import annotations

import numpy as np

from rnnviz.errors import InputError
from rnnviz.tasks.base import Batch, Task, example_line

_EPS = 1e-300


class Seq2SeqTask(Task):
    """Base of the encoder–decoder tasks. Subclasses set ``input_size``, ``output_size``,
    ``input_length`` (Tx), ``output_length`` (Ty), build ``self.test_pairs`` (x (n_test, Tx), y
    (n_test, Ty) int64) and implement ``_draw_pairs(rng, n)``, ``input_labels`` and ``output_text``."""

    input_kind = "tokens"
    readout = "softmax"
    many_to_one = False
    carries_state = False
    encoder_decoder = True
    """The trainer builds a :class:`~rnnviz.engine.seq2seq.Seq2Seq` for this task, not a Network."""
    input_length = 0
    output_length = 0

    def _setup_held_out(self) -> None:
        """Batches of ``self.test_pairs``, each within the evaluation budget."""
        self.batch_size = self._fresh_batch_size()
        chunk = self._eval_chunk(self.input_length)
        xs, ys = self.test_pairs
        self._test = tuple(self.encode(xs[i:i + chunk], ys[i:i + chunk]) for i in range(0, len(xs), chunk))

    def _draw_pairs(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n training pairs: x (n, Tx), y (n, Ty) int64, drawn with ``rng``."""
        raise NotImplementedError

    def encode(self, xs: np.ndarray, ys: np.ndarray) -> Batch:
        """The time-major batch of pairs xs (N, Tx), ys (N, Ty)."""
        x = np.ascontiguousarray(xs.T, dtype=np.int64)                               # (Tx, N)
        y = np.ascontiguousarray(ys.T, dtype=np.int64)                               # (Ty, N)
        x.flags.writeable = False
        y.flags.writeable = False
        return Batch(x=x, y=y, mask=None, reset_state=True)

    def train_batch(self) -> Batch:
        return self.encode(*self._draw_pairs(self.rng, self.batch_size))

    def test_batches(self) -> list[Batch]:
        return list(self._test)

    def _subset_batches(self, limit: int) -> list[Batch]:
        chunk = self._eval_chunk(self.input_length)
        xs, ys = self.test_pairs
        return [self.encode(xs[i:min(i + chunk, limit)], ys[i:min(i + chunk, limit)])
                for i in range(0, limit, chunk)]

    def metrics(self, net, limit: int | None = None) -> dict[str, float]:
        """``exact_match`` and ``accuracy`` of greedy decodes, ``loss`` teacher-forced nats per
        symbol (see the module docstring). ``net`` needs ``decode(x, length=Ty)`` and
        ``forward(x, y).outputs``."""
        exact, right, nats, sequences, symbols = 0, 0, 0.0, 0, 0
        for batch in self.held_out(limit):
            guess = np.asarray(net.decode(batch.x, length=self.output_length))          # (Ty, N)
            ok = guess == batch.y
            exact += int(ok.all(axis=0).sum())
            right += int(ok.sum())
            probs = np.asarray(net.forward(batch.x, batch.y).outputs)                 # (Ty, N, Vy)
            p = np.take_along_axis(probs, batch.y[:, :, None], axis=2)
            nats += float(-np.log(np.maximum(p, _EPS)).sum())
            sequences += batch.y.shape[1]
            symbols += batch.y.size
        return {"exact_match": exact / sequences, "accuracy": right / symbols, "loss": nats / symbols}

    def probe_input(self) -> tuple[np.ndarray, list[str]]:
        xs, _ = self.test_pairs
        return np.ascontiguousarray(xs[:1].T), self.input_labels(xs[0])

    def input_labels(self, tokens) -> list[str]:
        """One label per input token."""
        raise NotImplementedError

    def input_text(self, tokens) -> str:
        """The input sequence as one line of text."""
        raise NotImplementedError

    def output_text(self, tokens) -> str:
        """An output sequence as one line of text."""
        raise NotImplementedError

    def examples(self, net, k: int = 4) -> list[str]:
        """``input → greedy output (target) ✓`` for the first k held-out pairs."""
        xs, ys = self.test_pairs[0][:k], self.test_pairs[1][:k]
        if len(xs) == 0:
            return []
        batch = self.encode(xs, ys)
        guess = np.asarray(net.decode(batch.x, length=self.output_length)).T              # (k, Ty)
        lines = []
        for x, want, got in zip(xs, ys, guess):
            n_right = int((want == got).sum())
            note = "" if n_right == len(want) else f"{n_right}/{len(want)} symbols"
            lines.append(example_line(self.input_text(x), self.output_text(got), self.output_text(want),
                                      n_right == len(want), note))
        return lines


class ReversalTask(Seq2SeqTask):
    """Read ``seq_length`` random symbols, then write them in reverse order.

    x (T, N) int64 symbols 0..n_symbols-1; y (T, N) int64 the same symbols reversed. The first
    input symbol is the last output: without attention it must survive the whole input and
    output in the encoder's final state; with attention the decoder can look it up (the
    alignment is the anti-diagonal). Held-out sequences come from their own generator
    (:meth:`Task._held_out_rng`); with n_symbols^T possible sequences a training draw repeats one
    with negligible probability (for the defaults, about n_test / 8^20 per draw).
    """

    name = "reversal"
    DEFAULT_LENGTH = 20

    def __init__(self, config, rng, corpus_text=None):
        super().__init__(config, rng, corpus_text)
        self.n_symbols = config.n_symbols
        if self.n_symbols < 2:
            raise InputError(f"reversal needs an alphabet of at least 2 symbols (got n_symbols {self.n_symbols})")
        self.input_length = self.output_length = self.T = config.seq_length
        self.input_size = self.output_size = self.n_symbols
        self.test_pairs = self._draw_pairs(self._held_out_rng(), config.n_test)
        self._setup_held_out()

    def _draw_pairs(self, rng, n):
        xs = rng.integers(0, self.n_symbols, size=(n, self.T), dtype=np.int64)
        return xs, np.ascontiguousarray(xs[:, ::-1])

    def chance_loss(self) -> float:
        """ln n_symbols per output symbol (``reduction`` "mean"), times T ("sum"): the symbols are
        uniform, so nothing predicts them without reading the input."""
        per_symbol = float(np.log(self.n_symbols))
        return per_symbol * self.T if self.config.reduction == "sum" else per_symbol

    def input_labels(self, tokens) -> list[str]:
        return [str(int(t)) for t in tokens]

    def input_text(self, tokens) -> str:
        return " ".join(self.input_labels(tokens))

    def output_text(self, tokens) -> str:
        return " ".join(str(int(t)) for t in tokens)
