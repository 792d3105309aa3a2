"""How much memory a run will need, estimated from its settings before anything is allocated.

Full-batch BPTT keeps every hidden state of every sequence: ``--n-train 100000000`` for parity, or
a copy lag of a million steps, asks for tens of gigabytes, and NumPy would fail only after minutes
of work with a ``MemoryError``. :func:`check_fits` refuses such a run at once, naming the setting
that drives the size, the estimate and the limit.

The estimate counts the large arrays, in bytes (s: bytes per number, T: time steps, N: sequences
in a training batch, H: hidden units, G: gate blocks, K: outputs, D: dense inputs):

* the task's data: parity's fixed training set (and its full batch, as floats), the held-out set;
* one training pass: per time step and sequence the cached states and their gradients, about
  ``c·H·L + 3K + 2D`` numbers, c from 2.5 (RNN) to 14 (LSTM), L the stacked layers (each keeps
  its own states; an upper layer's gradient on its input is one more (T, N, H) array, within c);
  bidirectional, twice that per layer, plus about 4H for the copies joining the two directions;
* one evaluation chunk (held-out sequences go through in chunks of bounded size);
* the weights with their backup, gradients and optimizer state (about 6 copies).

Training and evaluation never run at once, so the peak is the data, the weights and the larger pass.
"""

from __future__ import annotations

import os

from rnnviz.engine.sequence import GATE_BLOCKS
from rnnviz.errors import InputError
from rnnviz.tasks.base import EVAL_BUDGET
from rnnviz.tasks.charlm import EVAL_CHUNK, EVAL_STREAMS
from rnnviz.training.config import Config

#: numbers per hidden unit kept per time step and sequence, for a training pass and an evaluation
#: pass (calibrated with tracemalloc; tests/training/test_memory_estimate.py holds the estimate
#: between the measured peak and a few times it on large settings of every task and cell)
PASS_PER_UNIT = {"rnn": 2.5, "lstm": 14, "gru": 11, "gru_torch": 11}
EVAL_PER_UNIT = {"rnn": 2, "lstm": 12, "gru": 9, "gru_torch": 9}


def _shape(config: Config, vocab: int, corpus_chars: int = 0) -> tuple[int, int, int, int, int]:
    """(T, N, D_dense, K, data_bytes) for the task's training pass and fixed data."""
    c, s = config, 8 if config.dtype == "float64" else 4
    if c.task == "parity":
        T, N = c.seq_length, c.batch_size or c.n_train
        data = c.n_train * T + c.n_test * T * (1 + s)
        if c.batch_size == 0:
            data += c.n_train * T * s + c.n_train * s   # the full batch as floats, its targets
        return T, N, 1, 1, data
    if c.task == "addition":
        T = c.n_bits
        return T, c.batch_size, 2, 1, c.n_test * (16 + T * 3 * s)
    if c.task == "copy":
        T = 2 * c.copy_length + c.seq_length
        return T, c.batch_size, 0, c.n_symbols + 1, c.n_test * (8 * c.copy_length + 16 * T)
    if c.task == "adding":
        T = c.seq_length
        return T, c.batch_size, 2, 1, c.n_test * (T * (8 + 2 * s) + 16 + s)
    if c.task in _ENCODER_DECODER:       # encoder and decoder steps, each a layer's worth
        Tx, Ty, K = _ENCODER_DECODER[c.task](c)
        return Tx + Ty, c.batch_size, 0, K, c.n_test * 8 * (Tx + Ty)
    # charlm: the text is already in memory; the task keeps it as int64 ids (8 bytes a character),
    # and turning it into ids briefly takes about 24
    return c.seq_length, c.batch_size, 0, vocab, 24 * corpus_chars


#: the encoder–decoder tasks' (Tx, Ty, output symbols) from their settings
_ENCODER_DECODER = {
    "reversal": lambda c: (c.seq_length, c.seq_length, c.n_symbols),
    "dates": lambda c: (30, 10, 11),
}


def estimate_bytes(config: Config, vocab: int = 256, corpus_chars: int = 0) -> dict[str, int]:
    """Estimated peak bytes by part: ``data``, ``training pass``, ``evaluation``, ``weights``.

    ``vocab``, ``corpus_chars``: the character model's vocabulary size and text length (other
    tasks ignore them)."""
    s = 8 if config.dtype == "float64" else 4
    H, G, L = config.hidden, GATE_BLOCKS[config.cell], config.layers
    T, N, D, K, data = _shape(config, vocab, corpus_chars)
    dirs = 2 if config.bidirectional else 1     # bidirectional: two directions per layer, and each
    # layer's output (2H) and the reverse direction's reversed input are copies of their own
    per_step = PASS_PER_UNIT[config.cell] * H * L * dirs + (4 * H * L if dirs == 2 else 0) + 3 * K + 2 * D
    if config.task == "charlm":          # held-out text: EVAL_STREAMS streams in chunks of EVAL_CHUNK
        T_eval, chunk = EVAL_CHUNK, EVAL_STREAMS
    else:                                # held-out sequences, as many at once as EVAL_BUDGET allows
        T_eval, chunk = T, min(max(1, EVAL_BUDGET // max(1, T * H)), config.n_test)
    n_inputs = D if D else K + 2
    weights = dirs * (G * H * (n_inputs + H + 1) + (L - 1) * G * H * (dirs * H + H + 1)) + K * (dirs * H + 1)
    # layers 2 … L and the readout read dirs·H
    attention = 0
    if config.task in _ENCODER_DECODER and config.attention:
        # the attention's tanh(W_s s<t-1> + W_h a<t'>) (Ty, Tx, N, A = H) is kept for backward
        Tx, Ty, _ = _ENCODER_DECODER[config.task](config)
        attention = s * Ty * Tx * H      # per sequence, in a training and an evaluation pass alike
    if config.task in _ENCODER_DECODER:  # held-out chunks are sized by the input length Tx alone
        chunk = min(max(1, EVAL_BUDGET // max(1, _ENCODER_DECODER[config.task](config)[0] * H)), config.n_test)
    return {
        "data": data,
        "training pass": int(s * T * N * per_step) + attention * N,
        "evaluation": s * T_eval * chunk * (EVAL_PER_UNIT[config.cell] * H * L * dirs + 2 * K + D) + attention * chunk,
        "weights": 6 * s * weights,
    }


def peak_bytes(parts: dict[str, int]) -> int:
    """The peak of :func:`estimate_bytes`'s parts: training and evaluation never run at once."""
    return parts["data"] + parts["weights"] + max(parts["training pass"], parts["evaluation"])


def available_bytes() -> int | None:
    """Memory available to a new allocation now (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


#: the settings that make each part large, as a user would change them
_DRIVERS = {
    "data": ("n_train", "n_test", "seq_length"),
    "training pass": ("seq_length", "batch_size", "n_train", "hidden", "layers"),
    "evaluation": ("seq_length", "hidden", "layers"),
    "weights": ("hidden", "layers"),
}


def check_fits(config: Config, vocab: int = 256, limit: int | None = None, corpus_chars: int = 0) -> None:
    """``MemoryError``-free refusal: ``InputError`` if the run's estimate exceeds ``limit``
    (default: the memory available now), naming the part, the settings behind it, both sizes."""
    limit = available_bytes() if limit is None else limit
    if limit is None:
        return
    parts = estimate_bytes(config, vocab, corpus_chars)
    total = peak_bytes(parts)
    if total <= limit:
        return
    part = max(parts, key=parts.get)
    from rnnviz.tasks import TASK_INFO
    reads = set(TASK_INFO[config.task].settings) | {"hidden"} | ({"layers"} if config.layers > 1 else set())
    full_batch = config.batch_size == 0
    names = [n for n in _DRIVERS[part] if n in reads and not (n == "batch_size" and full_batch)
             and not (n == "n_train" and part == "training pass" and not full_batch)]
    what = ", ".join(f"{n} {getattr(config, n):,}" for n in names)
    if part == "training pass" and full_batch:
        hint = ("full-batch BPTT (batch_size 0) keeps every hidden state of every training sequence; "
                "lower n_train or train in minibatches (batch_size 32)")
    else:
        hint = f"lower {' or '.join(names[:2]) if names else 'the sizes'}"
    raise InputError(f"this run would need about {_gb(total)} of memory ({part}: {_gb(parts[part])}, from "
                     f"{what}), more than the {_gb(limit)} available; {hint}")
