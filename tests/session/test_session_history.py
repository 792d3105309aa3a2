"""The per-step history in session files: float32 loss, and files from before.

``tests/data/charlm-float64-history.rnnviz`` was written by rnnviz at commit 6d5c25b, whose History kept
int64 steps and float64 loss and smoothed loss (format 1, as now). It holds a charlm run
(``SMALL``, ``TASKS["charlm"]``, seed 11, the ``small_text()`` corpus embedded): 30 steps, lr halved,
an evaluation, a sample, 10 more steps.
"""

from pathlib import Path

import numpy as np

from rnnviz.session import describe_session, load_session, load_tree, read_header, save_session, save_tree
from rnnviz.training import Config
from session_testing import SMALL, TASKS, assert_tree_equal, first_part, make_trainer

OLD_FILE = Path(__file__).parents[1] / "data" / "charlm-float64-history.rnnviz"


def test_file_written_before_float32_history_loads_and_continues(tmp_path):
    raw = load_tree(OLD_FILE)["trainer"]["history"]
    assert raw["steps"].dtype == np.int64 and raw["loss"].dtype == raw["smooth_loss"].dtype == np.float64

    trainer = load_session(OLD_FILE)
    h = trainer.history
    assert trainer.step_count == 40
    np.testing.assert_array_equal(h.steps, raw["steps"])
    np.testing.assert_array_equal(h.steps, np.arange(1, 41))
    assert h.loss.dtype == h.smooth_loss.dtype == np.float32
    np.testing.assert_array_equal(h.loss, raw["loss"].astype(np.float32))
    np.testing.assert_array_equal(h.smooth_loss, raw["smooth_loss"].astype(np.float32))
    assert describe_session(OLD_FILE)["last_loss"] == float(raw["loss"][-1])

    assert trainer.step().step == 41
    np.testing.assert_array_equal(trainer.history.steps, np.arange(1, 42))

    save_session(trainer, tmp_path / "again.rnnviz")
    resumed = load_session(tmp_path / "again.rnnviz")
    assert_tree_equal(trainer.history.state_dict(), resumed.history.state_dict())


def test_file_from_before_stacked_layers_opens_as_one_layer():
    """The file has no ``layers`` setting: it is a one-layer network, its weights under the names
    they always had."""
    assert "layers" not in load_tree(OLD_FILE)["trainer"]["config"]
    trainer = load_session(OLD_FILE)
    assert trainer.config.layers == 1 and trainer.spec.layers == 1 and describe_session(OLD_FILE)["layers"] == 1
    assert list(trainer.network.params) == ["Wax", "Waa", "ba", "Wya", "by"]


def test_old_layout_without_smoothed_loss_loads(tmp_path):
    """A non-text run as the previous rnnviz saved it: float64 loss, an all-NaN float64 smooth_loss."""
    trainer = make_trainer(Config(**SMALL, **TASKS["parity"]))
    first_part(trainer)
    save_session(trainer, tmp_path / "run.rnnviz")
    tree = load_tree(tmp_path / "run.rnnviz")
    history = tree["trainer"]["history"]
    loss64 = history["loss"].astype(np.float64) + 1e-9          # values float32 cannot hold
    history.update(loss=loss64, smooth_loss=np.full(5, np.nan), steps=np.arange(1, 6, dtype=np.int64))
    save_tree(tmp_path / "run.rnnviz", tree)
    assert read_header(tmp_path / "run.rnnviz")["tree"]["trainer"]["history"]["loss"].dtype == "float64"

    resumed = load_session(tmp_path / "run.rnnviz")
    h = resumed.history
    np.testing.assert_array_equal(h.loss, loss64.astype(np.float32))
    assert np.isnan(h.smooth_loss).all() and h.smooth_loss.shape == (5,)
    np.testing.assert_array_equal(h.steps, np.arange(1, 6))


def test_new_files_keep_the_history_columns_older_rnnviz_reads(tmp_path):
    trainer = make_trainer(Config(**SMALL, **TASKS["charlm"]))
    first_part(trainer)
    save_session(trainer, tmp_path / "run.rnnviz")
    history = read_header(tmp_path / "run.rnnviz")["tree"]["trainer"]["history"]
    assert (history["steps"].dtype, history["steps"].shape) == ("int64", (5,))
    assert (history["loss"].dtype, history["loss"].shape) == ("float32", (5,))
    assert (history["smooth_loss"].dtype, history["smooth_loss"].shape) == ("float32", (5,))
    stored = load_tree(tmp_path / "run.rnnviz")["trainer"]["history"]
    np.testing.assert_array_equal(stored["steps"], np.arange(1, 6))
    np.testing.assert_array_equal(stored["loss"], trainer.history.loss)


def test_steps_survive_refused_steps_and_a_save_load_round_trip(tmp_path):
    config = Config(**SMALL, **TASKS["adding"], optimizer="sgd", lr=0.1, clip_mode="none")

    def run(trainer):
        for _ in range(3):
            trainer.step()
        trainer.set_live(lr=1e154)
        assert trainer.step().refused is None      # finite but huge weights
        assert trainer.step().refused is not None  # refused: not recorded, the counter stays at 4
        trainer.set_live(lr=1e-3)
        trainer.step()

    straight, before = make_trainer(config), make_trainer(config)
    run(straight)
    run(before)
    np.testing.assert_array_equal(before.history.steps, np.arange(1, 6))

    save_session(before, tmp_path / "run.rnnviz")
    resumed = load_session(tmp_path / "run.rnnviz")
    assert_tree_equal(before.history.state_dict(), resumed.history.state_dict())
    np.testing.assert_array_equal(resumed.history.steps, np.arange(1, 6))

    for t in (straight, resumed):
        for _ in range(3):
            t.step()
    np.testing.assert_array_equal(resumed.history.steps, np.arange(1, 9))
    np.testing.assert_array_equal(resumed.history.loss, straight.history.loss)
