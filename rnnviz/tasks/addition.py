"""Binary addition: read two numbers bit by bit, least significant first, and emit the sum's bits.

The setting of the binary addition tutorial: ``n_bits``-bit numbers a, b < 2**(n_bits-1) so the sum
fits in ``n_bits`` bits, a fresh random pair (or ``batch_size`` pairs) every step.
"""

from __future__ import annotations

import numpy as np

from rnnviz.tasks.base import Batch, Task, binary_entropy, example_line

_EPS = 1e-12


class AdditionTask(Task):
    """x (n_bits, N, 2) float bits of a and b; y (n_bits, N, 1) float bits of a + b. Sigmoid, many-to-many."""

    name = "addition"
    input_kind = "dense"
    input_size = 2
    output_size = 1
    readout = "sigmoid"
    many_to_one = False
    carries_state = False

    def __init__(self, config, rng, corpus_text=None):
        super().__init__(config, rng, corpus_text)
        self.n_bits = config.n_bits
        self.batch_size = self._fresh_batch_size()
        self.test_a, self.test_b = self._draw(self._held_out_rng(), config.n_test)
        chunk = self._eval_chunk(self.n_bits)
        self._test = tuple(self.encode(self.test_a[i:i + chunk], self.test_b[i:i + chunk])
                           for i in range(0, config.n_test, chunk))

    def _draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        high = 1 << (self.n_bits - 1)
        a = rng.integers(0, high, size=n, dtype=np.int64)
        b = rng.integers(0, high, size=n, dtype=np.int64)
        return a, b

    def encode(self, a: np.ndarray, b: np.ndarray) -> Batch:
        """The batch for numbers a, b (N,) int64: bit t of each at step t."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        x = np.stack([self._bits(a), self._bits(b)], axis=-1).astype(self.dtype)    # (T, N, 2)
        y = self._bits(a + b)[:, :, None].astype(self.dtype)                         # (T, N, 1)
        x.flags.writeable = False
        y.flags.writeable = False
        return Batch(x=x, y=y, mask=None, reset_state=True)

    def _bits(self, v: np.ndarray) -> np.ndarray:
        """Bits of v (N,) int64 as (T, N), least significant first."""
        return (v[None, :] >> np.arange(self.n_bits, dtype=np.int64)[:, None]) & 1

    def decode(self, bits: np.ndarray) -> np.ndarray:
        """Numbers from bits (T, N) (anything > 0.5 is a 1), least significant first -> (N,) int64."""
        ones = (np.asarray(bits) > 0.5).astype(np.int64)
        return (ones << np.arange(self.n_bits, dtype=np.int64)[:, None]).sum(axis=0)

    def train_batch(self) -> Batch:
        return self.encode(*self._draw(self.rng, self.batch_size))

    def test_batches(self) -> list[Batch]:
        return list(self._test)

    def _subset_batches(self, limit: int) -> list[Batch]:
        chunk = self._eval_chunk(self.n_bits)
        return [self.encode(self.test_a[i:min(i + chunk, limit)], self.test_b[i:min(i + chunk, limit)])
                for i in range(0, limit, chunk)]

    def metrics(self, net, limit: int | None = None) -> dict[str, float]:
        batches = self.held_out(limit)
        p = np.concatenate([np.asarray(net.forward(b.x, state0=None).outputs)[:, :, 0] for b in batches], axis=1)
        y = np.concatenate([b.y[:, :, 0] for b in batches], axis=1)                 # (T, n)
        right = (p > 0.5) == (y > 0.5)
        pc = np.clip(p, _EPS, 1 - _EPS)
        loss = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        return {"bit_accuracy": float(right.mean()), "sum_accuracy": float(right.all(axis=0).mean()),
                "loss": float(loss)}

    def chance_loss(self) -> float:
        """ln 2 per bit of the sum (nats), summed over the ``n_bits`` bits or averaged
        (``config.reduction``). Every bit but the top one is 1 half the time; the top one (the
        carry out of a + b with a, b < M = 2^(n_bits-1)) with probability (M - 1) / 2M, a hair
        under a half, so its best constant guess costs slightly less than ln 2."""
        M = 1 << (self.n_bits - 1)
        total = (self.n_bits - 1) * float(np.log(2.0)) + binary_entropy((M - 1) / (2 * M))
        return total if self.config.reduction == "sum" else total / self.n_bits

    def probe_input(self) -> tuple[np.ndarray, list[str]]:
        batch = self.encode(self.test_a[:1], self.test_b[:1])
        labels = [f"{int(xa)} {int(xb)}" for xa, xb in batch.x[:, 0, :]]
        return batch.x.copy(), labels

    def examples(self, net, k: int = 4) -> list[str]:
        a, b = self.test_a[:k], self.test_b[:k]
        if len(a) == 0:
            return []
        p = np.asarray(net.forward(self.encode(a, b).x, state0=None).outputs)[:, :, 0]
        got = self.decode(p)
        lines = []
        for ai, bi, gi in zip(a, b, got):
            want = int(ai + bi)
            lines.append(example_line(f"{ai} + {bi}", int(gi), want, gi == want))
        return lines
