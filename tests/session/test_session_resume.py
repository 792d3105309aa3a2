"""Exact resume: N steps, save, load, M more steps is bit-identical to N + M steps without stopping."""

import itertools

import numpy as np
import pytest

from rnnviz.session import load_session, read_header, save_session
from rnnviz.training import Config
from session_testing import (
    OPTIMIZERS, SMALL, TASKS, assert_tree_equal, first_part, make_trainer, second_part,
)

CELLS = ("rnn", "lstm", "gru", "gru_torch")


def assert_resume_is_exact(config: Config, tmp_path) -> None:
    straight = make_trainer(config)
    straight_losses = first_part(straight) + second_part(straight)

    before = make_trainer(config)
    losses = first_part(before)
    save_session(before, tmp_path / "run.rnnviz")
    resumed = load_session(tmp_path / "run.rnnviz")
    losses += second_part(resumed)

    assert losses == straight_losses
    for name, value in straight.network.params.items():
        assert np.array_equal(resumed.network.params[name], value), name
    assert np.array_equal(resumed.history.loss, straight.history.loss)
    assert np.array_equal(resumed.history.grad_a_norms, straight.history.grad_a_norms, equal_nan=True)
    assert_tree_equal(straight.state_dict(), resumed.state_dict())   # optimizer, RNGs, data position, events
    if config.task == "charlm":
        assert resumed.sample(length=40) == straight.sample(length=40)
    assert resumed.evaluate() == straight.evaluate()


@pytest.mark.parametrize("task, cell, optimizer", list(itertools.product(TASKS, CELLS, OPTIMIZERS)))
def test_resume_is_bit_identical(tmp_path, task, cell, optimizer):
    config = Config(**SMALL, **TASKS[task], cell=cell, optimizer=optimizer, lr=OPTIMIZERS[optimizer])
    assert_resume_is_exact(config, tmp_path)


@pytest.mark.parametrize("changes", [
    dict(task="charlm", seq_length=8, batch_size=1, cell="lstm", dtype="float32", optimizer="adam", lr=0.01),
    dict(task="parity", n_train=32, seq_length=5, batch_size=0, cell="rnn", optimizer="sgd"),
    dict(task="adding", seq_length=6, batch_size=3, cell="rnn", activation="relu", reduction="mean",
         init="identity", optimizer="rmsprop", lr=0.001),
    dict(task="copy", seq_length=3, copy_length=2, n_symbols=4, batch_size=2, cell="gru", init="orthogonal",
         optimizer="momentum", lr=0.05, seed=7),
], ids=["charlm-float32", "parity-full-batch", "adding-relu-mean", "copy-orthogonal-seed7"])
def test_resume_is_bit_identical_for_other_settings(tmp_path, changes):
    assert_resume_is_exact(Config(**{**SMALL, **changes}), tmp_path)


@pytest.mark.parametrize("task, cell, layers", [(task, cell, 2) for task in TASKS for cell in CELLS]
                         + [("charlm", "lstm", 3), ("charlm", "gru_torch", 4), ("adding", "rnn", 3)])
def test_stacked_run_resumes_bit_identically(tmp_path, task, cell, layers):
    """Every layer's weights and optimizer slots, and (charlm) every layer's carried state."""
    config = Config(**SMALL, **TASKS[task], cell=cell, layers=layers, optimizer="adam", lr=0.01)
    assert_resume_is_exact(config, tmp_path)
    resumed = load_session(tmp_path / "run.rnnviz")
    assert resumed.config.layers == layers and f"Waa[{layers}]" in resumed.network.params
    if task == "charlm":
        assert set(resumed.carried_state) == set(resumed.spec.state_keys)


def test_resume_after_switching_optimizer_live(tmp_path):
    config = Config(**SMALL, **TASKS["charlm"], cell="gru", optimizer="sgd", lr=0.1)

    def switch_then_train(trainer):
        trainer.step()
        trainer.set_live(optimizer="adam", lr=0.01)
        return [trainer.step().loss for _ in range(2)]

    straight = make_trainer(config)
    switch_then_train(straight)
    expected = second_part(straight)
    before = make_trainer(config)
    switch_then_train(before)
    save_session(before, tmp_path / "run.rnnviz")
    resumed = load_session(tmp_path / "run.rnnviz")
    assert resumed.config.optimizer == "adam"
    assert second_part(resumed) == expected
    assert_tree_equal(straight.state_dict(), resumed.state_dict())


def test_untrained_session_resumes(tmp_path):
    config = Config(**SMALL, **TASKS["adding"])
    save_session(make_trainer(config), tmp_path / "new.rnnviz")
    resumed = load_session(tmp_path / "new.rnnviz")
    assert resumed.step_count == 0 and len(resumed.history) == 0
    straight = make_trainer(config)
    assert [resumed.step().loss for _ in range(3)] == [straight.step().loss for _ in range(3)]


def test_saving_a_resumed_session_again_gives_the_same_file(tmp_path):
    trainer = make_trainer(Config(**SMALL, **TASKS["charlm"], cell="lstm"))
    first_part(trainer)
    save_session(trainer, tmp_path / "a.rnnviz")
    save_session(load_session(tmp_path / "a.rnnviz"), tmp_path / "b.rnnviz")
    assert (tmp_path / "a.rnnviz").read_bytes() == (tmp_path / "b.rnnviz").read_bytes()


def test_history_events_are_stored_as_arrays(tmp_path):
    trainer = make_trainer(Config(**SMALL, **TASKS["charlm"]))
    first_part(trainer)
    save_session(trainer, tmp_path / "run.rnnviz")
    history = read_header(tmp_path / "run.rnnviz")["tree"]["trainer"]["history"]
    for key in ("steps", "loss", "smooth_loss", "grad_steps"):
        assert history[key].shape == (5,), key
    assert history["grad_a_norms"].shape == (5, 8)          # one row of T = 8 norms per step
    assert history["param_grad_norms"].shape == (5, 5)
    assert history["evals"]["step"].shape == (1,) and history["evals"]["metrics"]["loss"].shape == (1,)
    assert history["setting_changes"]["step"].shape == (3,)
    assert history["setting_changes"]["name"] == ["lr", "clip_mode", "clip"]
    assert history["samples"]["step"].shape == (1,)


def test_refused_step_right_after_resuming_restores_the_same_weights(tmp_path):
    config = Config(**SMALL, **TASKS["adding"], optimizer="sgd", lr=0.1, clip_mode="none")

    def blow_up(trainer):   # the last update leaves finite but huge weights
        for _ in range(3):
            trainer.step()
        trainer.set_live(lr=1e154)
        assert trainer.step().refused is None

    straight = make_trainer(config)
    blow_up(straight)
    expected = straight.step()
    assert expected.refused is not None and "non-finite" in expected.refused

    before = make_trainer(config)
    blow_up(before)
    save_session(before, tmp_path / "run.rnnviz")
    resumed = load_session(tmp_path / "run.rnnviz")
    assert resumed.step().refused == expected.refused
    for name, value in straight.network.params.items():
        assert np.array_equal(resumed.network.params[name], value), name
