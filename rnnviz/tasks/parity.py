"""XOR parity of a bit string: read T bits one per step, say at the end whether an odd number were 1.

The setting of the XOR parity tutorial: a fixed training set of ``n_train`` random bit strings,
trained full batch (``batch_size`` 0) or in minibatches reshuffled every epoch.
"""

from __future__ import annotations

import numpy as np

from rnnviz.errors import InputError
from rnnviz.tasks.base import (
    FIXED_TRAIN_KEY, Batch, Task, binary_entropy, check_array, check_int, example_line,
)

_EPS = 1e-12


class ParityTask(Task):
    """x (T, N, 1) float bits; y (N, 1) float, 1 when the number of ones is odd. Sigmoid, many-to-one."""

    name = "parity"
    input_kind = "dense"
    input_size = 1
    output_size = 1
    readout = "sigmoid"
    many_to_one = True
    carries_state = False

    def __init__(self, config, rng, corpus_text=None):
        super().__init__(config, rng, corpus_text)
        self.T = config.seq_length
        self.n_train = config.n_train
        self.batch_size = config.batch_size
        if self.batch_size > self.n_train:
            raise InputError(f"batch_size {self.batch_size} is larger than the training set (n_train "
                             f"{self.n_train}); lower batch_size, raise n_train, or use 0 for full batch")
        fixed = np.random.default_rng([config.seed, FIXED_TRAIN_KEY])
        self.train_bits = fixed.integers(0, 2, size=(self.n_train, self.T), dtype=np.uint8)  # (N, T)
        self.test_bits = self._held_out_rng().integers(0, 2, size=(config.n_test, self.T), dtype=np.uint8)
        self._full_batch: Batch | None = None
        chunk = self._eval_chunk(self.T)
        self._test = tuple(self._batch(self.test_bits[i:i + chunk]) for i in range(0, len(self.test_bits), chunk))
        # Epoch order over the training set; pos == n_train means "reshuffle before the next batch".
        self._order = np.arange(self.n_train, dtype=np.int64)
        self._pos = self.n_train

    def _batch(self, bits: np.ndarray) -> Batch:
        """Batch from bit strings (N, T) uint8."""
        x = np.ascontiguousarray(bits.T[:, :, None], dtype=self.dtype)               # (T, N, 1)
        y = (bits.sum(axis=1, dtype=np.int64) % 2).astype(self.dtype)[:, None]     # (N, 1)
        x.flags.writeable = False
        y.flags.writeable = False
        return Batch(x=x, y=y, mask=None, reset_state=True)

    def train_batch(self) -> Batch:
        if self.batch_size == 0:
            if self._full_batch is None:
                self._full_batch = self._batch(self.train_bits)
            return self._full_batch
        if self._pos + self.batch_size > self.n_train:
            self._order = self.rng.permutation(self.n_train).astype(np.int64)
            self._pos = 0
        rows = self._order[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        return self._batch(self.train_bits[rows])

    def test_batches(self) -> list[Batch]:
        return list(self._test)

    def _subset_batches(self, limit: int) -> list[Batch]:
        bits, chunk = self.test_bits[:limit], self._eval_chunk(self.T)
        return [self._batch(bits[i:i + chunk]) for i in range(0, len(bits), chunk)]

    def metrics(self, net, limit: int | None = None) -> dict[str, float]:
        batches = self.held_out(limit)
        p = np.concatenate([np.asarray(net.forward(b.x, state0=None).outputs)[:, 0] for b in batches])
        y = np.concatenate([b.y[:, 0] for b in batches])
        pc = np.clip(p, _EPS, 1 - _EPS)
        loss = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        return {"accuracy": float(np.mean((p > 0.5) == (y > 0.5))), "loss": float(loss)}

    def chance_loss(self) -> float:
        """Nats per sequence: the entropy of the answer over the fixed training set (ln 2 up to
        the set's small excess of odd or even strings), reached by always saying P(odd) = the
        fraction of odd strings in it."""
        odd = float(np.mean(self.train_bits.sum(axis=1, dtype=np.int64) % 2))
        return binary_entropy(odd)

    def probe_input(self) -> tuple[np.ndarray, list[str]]:
        bits = self.test_bits[:1]
        return self._batch(bits).x.copy(), [str(int(b)) for b in bits[0]]

    def examples(self, net, k: int = 4) -> list[str]:
        bits = self.test_bits[:k]
        if len(bits) == 0:
            return []
        batch = self._batch(bits)
        p = np.asarray(net.forward(batch.x, state0=None).outputs)[:, 0]
        lines = []
        for row, prob in zip(bits, p):
            want, got = int(row.sum()) % 2, int(prob > 0.5)
            lines.append(example_line("".join(str(int(b)) for b in row), got, want, got == want))
        return lines

    def _position(self) -> dict:
        return {"order": self._order.copy(), "pos": self._pos}

    def _check_position(self, position: dict) -> None:
        order = check_array("order", position["order"], (self.n_train,))
        check_int("pos", position["pos"], 0, self.n_train)
        if not np.array_equal(np.sort(order), np.arange(self.n_train)):
            raise InputError("task state order is not a permutation of the training set")

    def _set_position(self, position: dict) -> None:
        self._order = np.asarray(position["order"], dtype=np.int64).copy()
        self._pos = int(position["pos"])
