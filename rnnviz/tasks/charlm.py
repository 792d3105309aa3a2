"""Character language model: predict the next character, min-char-rnn style.

The text is split once: the first 90% is read for training, the last 10% is held out. Training
chunks of ``seq_length`` characters are read in order, targets shifted by one, the hidden state
carried from chunk to chunk; before a chunk that would run past the end the pointer goes back to
0 and the state is reset, exactly min-char-rnn's rule ``if p + seq_length + 1 >= len(data)``.
With ``batch_size`` B > 1 the training text is cut into B equal contiguous segments read side by
side (B streams, each with its own pointer, reset together).
"""

from __future__ import annotations

import numpy as np

from rnnviz.errors import InputError
from rnnviz.tasks.base import Batch, Task, check_array, escape_char
from rnnviz.tasks.corpus import default_corpus, load_corpus

HELD_OUT_FRACTION = 0.1
EVAL_MAX_CHARS = 20_000
"""At most this many held-out characters are scored by ``metrics``."""
EVAL_STREAMS = 8
"""The scored tail is read as this many contiguous streams side by side (faster than one)."""
EVAL_CHUNK = 250
"""Characters per held-out batch; the state is carried from one to the next."""
EXAMPLE_CHARS = 40

_LN2 = float(np.log(2.0))
_EPS = 1e-300


class CharLMTask(Task):
    """x (T, N) int64 character ids; y (T, N) int64 the next characters. Softmax, many-to-many."""

    name = "charlm"
    input_kind = "tokens"
    readout = "softmax"
    many_to_one = False
    carries_state = True

    def __init__(self, config, rng, corpus_text=None):
        super().__init__(config, rng, corpus_text)
        if corpus_text is None:
            corpus_text = load_corpus(config.corpus) if config.corpus else default_corpus()
        if not isinstance(corpus_text, str) or not corpus_text:
            raise InputError("the corpus is empty; choose a text file that contains text")
        self.T = T = config.seq_length
        if config.batch_size == 0:
            raise InputError("batch_size 0 (full batch) does not apply to the character model, which reads the text "
                             "in chunks; set batch_size to the number of parallel streams (1 as in min-char-rnn)")
        self.n_streams = B = config.batch_size
        self.vocab: list[str] = sorted(set(corpus_text))
        self._codes = np.array([ord(c) for c in self.vocab], dtype=np.int64)
        self.input_size = self.output_size = len(self.vocab)

        split = len(corpus_text) - int(len(corpus_text) * HELD_OUT_FRACTION)
        data = self.encode(corpus_text)
        self.train_ids, self.test_ids = data[:split], data[split:]
        # Each stream reads a segment of this length; min-char-rnn needs seq_length + 2 characters.
        self.segment_length = len(self.train_ids) // B
        need = T + 2
        if self.segment_length < need:
            have = f"{len(self.train_ids)} training characters" + (f" for {B} streams" if B > 1 else "")
            raise InputError(f"the corpus is too short for chunks of {T}: {have}, need at least {need * B} "
                             f"(the first 90% of the text); use a longer text or a smaller seq_length"
                             + (" or batch_size" if B > 1 else ""))
        if len(self.test_ids) < T + 1:
            raise InputError(f"the held-out tail (last 10% of the corpus) has {len(self.test_ids)} characters, "
                             f"need at least {T + 1}; use a longer text or a smaller seq_length")
        self._starts = np.arange(B, dtype=np.int64) * self.segment_length
        self._p = 0                 # pointer inside every segment (all streams move together)
        self._started = False       # min-char-rnn's "n == 0": the first chunk resets the state
        self._test = tuple(self._build_test_batches())

    # --- text <-> ids ---------------------------------------------------------------------------
    def encode(self, text: str) -> np.ndarray:
        """Character ids (len(text),) int64; ``ValueError`` for a character outside the vocabulary."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        ids = np.searchsorted(self._codes, codes)
        ids = np.minimum(ids, len(self._codes) - 1)
        bad = np.flatnonzero(self._codes[ids] != codes)
        if len(bad):
            raise InputError(f"character {text[bad[0]]!r} is not in the vocabulary of this corpus")
        return ids

    def decode(self, ids) -> str:
        """The text of character ids (any int sequence)."""
        return "".join(self.vocab[int(i)] for i in np.asarray(ids).ravel())

    # --- training stream ----------------------------------------------------------------------
    @property
    def positions(self) -> np.ndarray:
        """Offset in the training text where each stream's next chunk starts, (B,) int64."""
        return self._starts + self._p

    def train_batch(self) -> Batch:
        T = self.T
        reset = not self._started or self._p + T + 1 >= self.segment_length
        if reset:
            self._p = 0
            self._started = True
        rows = self.positions[None, :] + np.arange(T + 1, dtype=np.int64)[:, None]     # (T+1, B)
        window = self.train_ids[rows]
        self._p += T
        return Batch(x=window[:-1], y=window[1:], mask=None, reset_state=reset)

    # --- held-out -----------------------------------------------------------------------------
    def _build_test_batches(self, limit: int | None = None) -> list[Batch]:
        """The scored tail (or its first ``limit`` predictions) as S side-by-side streams, in chunks
        that carry state (first one resets)."""
        n_pred = self.held_out_size() if limit is None else min(limit, self.held_out_size())
        S = max(1, min(EVAL_STREAMS, n_pred // (4 * EVAL_CHUNK) if limit is None else n_pred // 100))
        L = n_pred // S                                                                 # predictions per stream
        rows = np.arange(S, dtype=np.int64)[None, :] * L + np.arange(L + 1, dtype=np.int64)[:, None]
        window = self.test_ids[rows]                                                    # (L+1, S)
        batches = []
        for t0 in range(0, L, EVAL_CHUNK):
            t1 = min(L, t0 + EVAL_CHUNK)
            x, y = window[t0:t1].copy(), window[t0 + 1:t1 + 1].copy()
            x.flags.writeable = False
            y.flags.writeable = False
            batches.append(Batch(x=x, y=y, mask=None, reset_state=t0 == 0))
        return batches

    def test_batches(self) -> list[Batch]:
        return list(self._test)

    def held_out_size(self) -> int:
        """Held-out characters scored (their next characters predicted)."""
        return min(len(self.test_ids) - 1, EVAL_MAX_CHARS)

    def _subset_batches(self, limit: int) -> list[Batch]:
        return self._build_test_batches(limit)

    def metrics(self, net, limit: int | None = None) -> dict[str, float]:
        """``bits_per_char`` (mean -log2 p of the next character) and ``loss`` (the same in nats);
        with ``limit``, on the first ``limit`` held-out characters (read in up to 8 streams)."""
        total, count, state = 0.0, 0, None
        for batch in self.held_out(limit):
            result = net.forward(batch.x, state0=None if batch.reset_state else state)
            state = result.final_state
            p = np.take_along_axis(np.asarray(result.outputs), batch.y[:, :, None], axis=2)
            total += float(-np.log(np.maximum(p, _EPS)).sum())
            count += batch.y.size
        nats = total / count
        return {"bits_per_char": nats / _LN2, "loss": nats}

    def chance_loss(self) -> float:
        """Nats per character, times the chunk length T when the loss is summed over the chunk
        (``config.reduction`` "sum", min-char-rnn's): the entropy of the training text's character
        frequencies, which the best context-free guess (always predicting those frequencies)
        costs. It lies below ln V, the loss of a uniform guess over the V characters, where an
        untrained network starts (and min-char-rnn's smooth_loss)."""
        counts = np.bincount(self.train_ids, minlength=len(self.vocab))
        p = counts[counts > 0] / counts.sum()
        per_char = float(-(p * np.log(p)).sum())
        return per_char * self.T if self.config.reduction == "sum" else per_char

    def probe_input(self) -> tuple[np.ndarray, list[str]]:
        ids = self.test_ids[:self.T]
        return ids[:, None].copy(), [escape_char(self.vocab[i]) for i in ids]

    def examples(self, net, k: int = 4) -> list[str]:
        """For k held-out snippets: the text, then the model's top guess for each next character."""
        n = min(EXAMPLE_CHARS, len(self.test_ids) - 1)
        starts = np.linspace(0, len(self.test_ids) - 1 - n, num=max(1, k)).astype(np.int64)[:k]
        lines = []
        for s in starts:
            x = self.test_ids[s:s + n]
            y = self.test_ids[s + 1:s + n + 1]
            out = np.asarray(net.forward(x[:, None], state0=None).outputs)[:, 0, :]    # (n, V)
            guess = out.argmax(axis=1)
            lines.append(f"“{self._visible(y)}” → guessed “{self._visible(guess)}” "
                         f"({int((guess == y).sum())}/{n} right)")
        return lines

    def _visible(self, ids) -> str:
        """Text of ids on one line: newline, tab and carriage return shown as escapes."""
        return "".join(escape_char(ch) if ch in "\n\t\r" else ch for ch in self.decode(ids))

    # --- resuming -----------------------------------------------------------------------------
    def _position(self) -> dict:
        return {"positions": self.positions.copy(), "started": self._started}

    def _check_position(self, position: dict) -> None:
        positions = check_array("positions", position["positions"], (self.n_streams,))
        if not isinstance(position["started"], (bool, np.bool_)):
            raise InputError(f"task state started must be true or false, got {position['started']!r}")
        p = positions - self._starts
        if not (np.all(p == p[0]) and 0 <= p[0] < self.segment_length):
            raise InputError("task state positions do not match this corpus and batch_size")

    def _set_position(self, position: dict) -> None:
        self._p = int(position["positions"][0] - self._starts[0])
        self._started = bool(position["started"])
