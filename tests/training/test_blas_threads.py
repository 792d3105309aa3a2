"""Small training steps run on one BLAS thread; full-batch steps keep the library's default."""

import pytest

from rnnviz.engine import Network
from rnnviz.training import Config, Trainer
from rnnviz.training.blas import blas_threads_for

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads_now() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_width_rule():
    assert blas_threads_for(1, 100, 1) == 1          # min-char-rnn
    assert blas_threads_for(32, 64, 4) == 1          # copy / adding LSTM presets
    assert blas_threads_for(0, 25, 1) is None        # full batch: the whole training set
    assert blas_threads_for(256, 256, 4) is None
    assert blas_threads_for(32, 256, 4, wavefront=True) == 1    # a 2-layer LSTM on a thread per layer


@pytest.mark.parametrize("batch,expect_one", [(1, True), (0, False)])
def test_trainer_steps_use_the_threads_their_size_calls_for(monkeypatch, batch, expect_one):
    before = blas_threads_now()
    if not before:
        pytest.skip("threadpoolctl finds no BLAS library to limit")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        default = blas_threads_now()
        seen = []
        original = Network.loss_and_grads

        def spy(self, *args, **kwargs):
            seen.append(blas_threads_now())
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Network, "loss_and_grads", spy)
        trainer = Trainer(Config(task="parity", seq_length=6, n_train=64, n_test=16, hidden=8,
                                 batch_size=batch, seed=0))
        trainer.step()
        assert seen == [[1] * len(default)] if expect_one else seen == [default]
        assert blas_threads_now() == default           # restored after the step


def test_running_sets_the_limit_once_for_a_loop_and_restores_it():
    if not blas_threads_now():
        pytest.skip("threadpoolctl finds no BLAS library to limit")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        default = blas_threads_now()
        trainer = Trainer(Config(task="parity", seq_length=6, n_train=64, n_test=16, hidden=8,
                                 batch_size=1, seed=0))
        with trainer.running():
            assert blas_threads_now() == [1] * len(default)
            for _ in range(3):
                trainer.step()
                assert blas_threads_now() == [1] * len(default)   # not restored between steps
        assert blas_threads_now() == default


def test_a_stack_big_enough_for_the_wavefront_runs_it_on_one_blas_thread(monkeypatch):
    from rnnviz.engine import wavefront
    monkeypatch.setattr(wavefront, "cores", lambda: 2)              # as on the 2-core machines measured
    ran = []
    original = wavefront.forward_stack_wavefront
    monkeypatch.setattr(wavefront, "forward_stack_wavefront", lambda *a, **k: ran.append(1) or original(*a, **k))
    trainer = Trainer(Config(task="charlm", cell="lstm", layers=2, hidden=128, batch_size=32, seq_length=8,
                             seed=0))
    assert trainer.blas_threads == 1
    trainer.step()
    assert ran == ([1] if blas_threads_now() else [])              # without threadpoolctl: layer by layer
    small = Trainer(Config(task="charlm", cell="lstm", layers=2, hidden=32, batch_size=4, seq_length=8, seed=0))
    small.step()
    assert ran == ([1] if blas_threads_now() else [])
