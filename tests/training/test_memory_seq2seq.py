"""The memory estimate of the encoder–decoder tasks stays calibrated (as test_memory_estimate.py
for the others): between 0.7x and 3x the peak tracemalloc measures over building the run, two
steps and a full held-out evaluation. With attention the (Ty, Tx, N, H) attention cache dominates."""

import tracemalloc

import pytest

from rnnviz.training.config import Config
from rnnviz.training.memory import estimate_bytes, peak_bytes
from rnnviz.training.trainer import Trainer

SETTINGS = [
    dict(task="reversal", cell="lstm", seq_length=40, n_symbols=8, hidden=64, batch_size=64),
    dict(task="reversal", cell="gru", seq_length=60, n_symbols=8, hidden=64, batch_size=64, attention=False),
    dict(task="dates", cell="lstm", hidden=128, batch_size=128),
    dict(task="dates", cell="rnn", hidden=128, batch_size=256),
]


@pytest.mark.slow          # full held-out evaluations
@pytest.mark.parametrize("settings", SETTINGS,
                         ids=lambda s: f"{s['task']}-{s['cell']}-{'attention' if s.get('attention', True) else 'plain'}")
def test_the_encoder_decoder_estimate_stays_near_the_measured_peak(settings):
    config = Config(**settings, optimizer="adam", lr=0.003)
    tracemalloc.start()
    try:
        trainer = Trainer(config)
        for _ in range(2):
            trainer.step()
        trainer.task.metrics(trainer.network)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = peak_bytes(estimate_bytes(config))
    assert peak > 10 * 2**20, "too small a setting to say anything about the estimate"
    assert 0.7 <= estimate / peak <= 3.0, f"estimate {estimate / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB"


def test_attention_on_long_reversals_is_counted():
    long = Config(task="reversal", seq_length=2000, hidden=64, batch_size=32)
    with_attention = peak_bytes(estimate_bytes(long))
    without = peak_bytes(estimate_bytes(long.replace(attention=False)))
    assert with_attention > 20 * without                  # Tx·Ty against Tx + Ty
