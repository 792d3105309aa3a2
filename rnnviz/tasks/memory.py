"""Long-memory benchmarks where a vanilla RNN fails and gated cells (LSTM, GRU) succeed.

Copy (delayed recall; Hochreiter & Schmidhuber 1997, Arjovsky et al. 2016): see ``copy_length``
symbols, wait ``seq_length`` steps (the last one shows a "recall" marker), then repeat the symbols.

Adding (Hochreiter & Schmidhuber 1997, as in Le et al. 2015): read ``seq_length`` random numbers,
two of them marked (one in each half), and output the sum of the marked two.
"""

from __future__ import annotations

import numpy as np

from rnnviz.errors import InputError
from rnnviz.tasks.base import Batch, Task, example_line

BLANK_LABEL = "·"
RECALL_LABEL = "▸"
ADDING_TOLERANCE = 0.04
"""An adding-problem answer counts as right when it is within this of the true sum."""

_EPS = 1e-300


class CopyTask(Task):
    """x (T, N) int64 tokens; y (T, N) int64; mask (T,) 1 on the recall steps. Softmax, many-to-many.

    Tokens: data symbols 0..n_symbols-1, blank = n_symbols, recall marker = n_symbols + 1.
    T = copy_length + lag + copy_length with lag = ``seq_length``; the marker is the last lag step.
    Targets are blank except on the last copy_length steps, where they are the symbols shown first.
    Outputs are the n_symbols symbols and blank (the marker is never a target).
    """

    name = "copy"
    input_kind = "tokens"
    readout = "softmax"
    many_to_one = False
    carries_state = False

    def __init__(self, config, rng, corpus_text=None):
        super().__init__(config, rng, corpus_text)
        self.n_symbols = config.n_symbols
        self.copy_length = config.copy_length
        self.lag = config.seq_length
        self.blank, self.recall = self.n_symbols, self.n_symbols + 1
        self.input_size = self.n_symbols + 2
        self.output_size = self.n_symbols + 1
        self.T = 2 * self.copy_length + self.lag
        self.batch_size = self._fresh_batch_size()
        self.mask = np.zeros(self.T, dtype=self.dtype)
        self.mask[-self.copy_length:] = 1.0
        self.mask.flags.writeable = False
        self.test_symbols = self._draw(self._held_out_rng(), config.n_test)
        chunk = self._eval_chunk(self.T)
        self._test = tuple(self.encode(self.test_symbols[i:i + chunk]) for i in range(0, config.n_test, chunk))

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(0, self.n_symbols, size=(n, self.copy_length), dtype=np.int64)

    def encode(self, symbols: np.ndarray) -> Batch:
        """The batch for symbols (N, copy_length) int64."""
        L, N = self.copy_length, len(symbols)
        x = np.full((self.T, N), self.blank, dtype=np.int64)                        # (T, N)
        x[:L] = symbols.T
        x[L + self.lag - 1] = self.recall
        y = np.full((self.T, N), self.blank, dtype=np.int64)                        # (T, N)
        y[-L:] = symbols.T
        x.flags.writeable = False
        y.flags.writeable = False
        return Batch(x=x, y=y, mask=self.mask, reset_state=True)

    def train_batch(self) -> Batch:
        return self.encode(self._draw(self.rng, self.batch_size))

    def test_batches(self) -> list[Batch]:
        return list(self._test)

    def _recall_probabilities(self, net, batch: Batch) -> np.ndarray:
        """Outputs on the recall steps, (copy_length, N, n_symbols + 1)."""
        return np.asarray(net.forward(batch.x, state0=None).outputs)[-self.copy_length:]

    def _subset_batches(self, limit: int) -> list[Batch]:
        chunk = self._eval_chunk(self.T)
        return [self.encode(self.test_symbols[i:min(i + chunk, limit)]) for i in range(0, limit, chunk)]

    def metrics(self, net, limit: int | None = None) -> dict[str, float]:
        """``accuracy``: fraction of symbols recalled right (chance 1/n_symbols); ``loss``: nats per symbol."""
        right, nats, count = 0, 0.0, 0
        for batch in self.held_out(limit):
            out = self._recall_probabilities(net, batch)
            target = batch.y[-self.copy_length:]
            right += int((out.argmax(axis=2) == target).sum())
            nats += float(-np.log(np.maximum(np.take_along_axis(out, target[:, :, None], axis=2), _EPS)).sum())
            count += target.size
        return {"accuracy": right / count, "loss": nats / count}

    def chance_loss(self) -> float:
        """ln n_symbols nats per recalled symbol (``reduction`` "mean"), or times ``copy_length``
        ("sum"): only the recall steps are scored, and their targets are the n_symbols data
        symbols drawn uniformly (blank, the one other output, is never the answer there). This
        is the memoryless baseline a vanilla RNN stalls at; an untrained network, uniform over
        all n_symbols + 1 outputs, starts a little above it at ln(n_symbols + 1)."""
        per_symbol = float(np.log(self.n_symbols))
        return per_symbol * self.copy_length if self.config.reduction == "sum" else per_symbol

    def probe_input(self) -> tuple[np.ndarray, list[str]]:
        batch = self.encode(self.test_symbols[:1])
        return batch.x.copy(), [self.token_label(int(t)) for t in batch.x[:, 0]]

    def token_label(self, token: int) -> str:
        if token == self.blank:
            return BLANK_LABEL
        if token == self.recall:
            return RECALL_LABEL
        return str(token)

    def examples(self, net, k: int = 4) -> list[str]:
        symbols = self.test_symbols[:k]
        if len(symbols) == 0:
            return []
        guess = self._recall_probabilities(net, self.encode(symbols)).argmax(axis=2).T   # (N, copy_length)
        lines = []
        for want, got in zip(symbols, guess):
            shown = " ".join(self.token_label(int(t)) for t in got)
            target = " ".join(str(int(s)) for s in want)
            n_right = int((want == got).sum())
            note = "" if n_right == len(want) else f"{n_right}/{len(want)} symbols"
            lines.append(example_line(target, shown, target, n_right == len(want), note))
        return lines


class AddingTask(Task):
    """x (T, N, 2) float: values, markers; y (N, 1) float, the sum of the two marked values. Linear, many-to-one."""

    name = "adding"
    input_kind = "dense"
    input_size = 2
    output_size = 1
    readout = "linear"
    many_to_one = True
    carries_state = False

    def __init__(self, config, rng, corpus_text=None):
        super().__init__(config, rng, corpus_text)
        self.T = config.seq_length
        if self.T < 2:
            raise InputError(f"the adding problem needs seq_length of at least 2 (got {self.T})")
        self.batch_size = self._fresh_batch_size()
        self.test_values, self.test_marks = self._draw(self._held_out_rng(), config.n_test)
        chunk = self._eval_chunk(self.T)
        self._test = tuple(self.encode(self.test_values[i:i + chunk], self.test_marks[i:i + chunk])
                           for i in range(0, config.n_test, chunk))

    def _draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Values (n, T) uniform in [0, 1) and the two marked positions (n, 2), one in each half."""
        half = self.T // 2
        values = rng.random((n, self.T))
        first = rng.integers(0, half, size=n, dtype=np.int64)
        second = rng.integers(half, self.T, size=n, dtype=np.int64)
        return values, np.stack([first, second], axis=1)

    def encode(self, values: np.ndarray, marks: np.ndarray) -> Batch:
        """The batch for values (N, T) and marked positions (N, 2)."""
        N = len(values)
        x = np.zeros((self.T, N, 2), dtype=self.dtype)                              # (T, N, 2)
        x[:, :, 0] = values.T
        rows = np.arange(N)
        x[marks[:, 0], rows, 1] = 1.0
        x[marks[:, 1], rows, 1] = 1.0
        y = (values[rows, marks[:, 0]] + values[rows, marks[:, 1]])[:, None].astype(self.dtype)  # (N, 1)
        x.flags.writeable = False
        y.flags.writeable = False
        return Batch(x=x, y=y, mask=None, reset_state=True)

    def train_batch(self) -> Batch:
        return self.encode(*self._draw(self.rng, self.batch_size))

    def test_batches(self) -> list[Batch]:
        return list(self._test)

    def _subset_batches(self, limit: int) -> list[Batch]:
        chunk = self._eval_chunk(self.T)
        return [self.encode(self.test_values[i:min(i + chunk, limit)], self.test_marks[i:min(i + chunk, limit)])
                for i in range(0, limit, chunk)]

    def metrics(self, net, limit: int | None = None) -> dict[str, float]:
        """``mse`` (always answering 1 scores about 0.167), ``accuracy`` (|error| < 0.04), ``loss`` (= mse)."""
        batches = self.held_out(limit)
        pred = np.concatenate([np.asarray(net.forward(b.x, state0=None).outputs)[:, 0] for b in batches])
        y = np.concatenate([b.y[:, 0] for b in batches])
        err = pred - y
        mse = float(np.mean(err ** 2))
        return {"mse": mse, "accuracy": float(np.mean(np.abs(err) < ADDING_TOLERANCE)), "loss": mse}

    def chance_loss(self) -> float:
        """1/6: the squared error of always answering the mean sum, 1 (the variance of the sum of
        two independent uniform numbers, 2 x 1/12). Many-to-one, so the reduction over time does
        not apply."""
        return 1.0 / 6.0

    def probe_input(self) -> tuple[np.ndarray, list[str]]:
        batch = self.encode(self.test_values[:1], self.test_marks[:1])
        labels = [f"{v:.2f}" + ("*" if m else "") for v, m in batch.x[:, 0, :]]
        return batch.x.copy(), labels

    def examples(self, net, k: int = 4) -> list[str]:
        values, marks = self.test_values[:k], self.test_marks[:k]
        if len(values) == 0:
            return []
        batch = self.encode(values, marks)
        pred = np.asarray(net.forward(batch.x, state0=None).outputs)[:, 0]
        lines = []
        for row, (i, j), want, got in zip(values, marks, batch.y[:, 0], pred):
            lines.append(example_line(f"{row[i]:.2f} + {row[j]:.2f}", f"{got:.2f}", f"{want:.2f}",
                                      abs(got - want) < ADDING_TOLERANCE))
        return lines
