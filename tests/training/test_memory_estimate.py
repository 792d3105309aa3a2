"""The memory estimate that refuses runs too large to fit (training/memory.py) stays calibrated:
on settings of every task and cell large enough for their arrays to dominate, it lies between
0.7x and 3x the peak that tracemalloc measures over building the run, two steps and a full
held-out evaluation. Far below, it would let a run start that then dies with a MemoryError; far
above, it would refuse runs that fit."""

import tracemalloc

import pytest

from rnnviz.errors import InputError
from rnnviz.tasks.corpus import default_corpus
from rnnviz.training.config import Config
from rnnviz.training.memory import check_fits, estimate_bytes, peak_bytes
from rnnviz.training.trainer import Trainer

SETTINGS = [
    dict(task="parity", seq_length=50, n_train=2000, n_test=500, hidden=25, batch_size=0, optimizer="sgd",
         lr=0.07, clip_mode="none"),
    dict(task="copy", cell="lstm", seq_length=35, hidden=64, batch_size=64, optimizer="adam", lr=0.003),
    dict(task="adding", cell="gru", seq_length=200, hidden=64, batch_size=128, optimizer="adam", lr=0.003),
    dict(task="adding", cell="gru_torch", seq_length=200, hidden=64, batch_size=128, optimizer="adam", lr=0.003),
    dict(task="adding", cell="rnn", seq_length=200, hidden=64, batch_size=256, optimizer="adam", lr=0.003),
    dict(task="charlm", cell="lstm", seq_length=100, hidden=256, batch_size=64, optimizer="adam", lr=0.003),
    dict(task="charlm", cell="gru", seq_length=50, hidden=128, batch_size=32, optimizer="adam", lr=0.003),
    dict(task="charlm", cell="rnn", seq_length=25, hidden=100, batch_size=1),
    # stacked layers: every layer's states and weights count
    dict(task="charlm", cell="lstm", layers=2, seq_length=100, hidden=256, batch_size=64, optimizer="adam", lr=0.003),
    dict(task="adding", cell="rnn", layers=3, seq_length=200, hidden=64, batch_size=256, optimizer="adam", lr=0.003),
    dict(task="copy", cell="gru_torch", layers=4, seq_length=35, hidden=64, batch_size=64, optimizer="adam", lr=0.003),
]


@pytest.mark.slow          # about 10 s: full held-out evaluations
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s['task']}-{s.get('cell', 'rnn')}-{s.get('layers', 1)}")
def test_the_estimate_stays_near_the_measured_peak(settings):
    config = Config(**settings)
    text = default_corpus() if config.task == "charlm" else None
    tracemalloc.start()
    try:
        trainer = Trainer(config, corpus_text=text)
        for _ in range(2):
            trainer.step()
        trainer.task.metrics(trainer.network)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    vocab = len(trainer.task.vocab) if text else 256
    estimate = peak_bytes(estimate_bytes(config, vocab, corpus_chars=len(text) if text else 0))
    assert peak > 10 * 2**20, "too small a setting to say anything about the estimate"
    assert 0.7 <= estimate / peak <= 3.0, f"estimate {estimate / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB"


def test_a_run_over_the_limit_is_refused_naming_the_setting_behind_it():
    config = Config(task="parity", seq_length=50, n_train=100_000_000, batch_size=0, hidden=25)
    with pytest.raises(InputError, match=r"n_train 100,000,000.*train in minibatches"):
        check_fits(config, limit=8 * 2**30)
    check_fits(Config(task="parity", seq_length=50, n_train=1000, batch_size=0, hidden=25), limit=8 * 2**30)
