"""The window never loses work: the recovery file, offered back at the next launch; signals."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from rnnviz.gui import recovery
from rnnviz.session import load_session, save_session
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

SMALL = Config(task="parity", seq_length=8, n_train=64, n_test=32, hidden=8, batch_size=0, optimizer="sgd",
               lr=0.5, clip_mode="none", eval_every=5)


def wait_steps(qtbot, window, n, timeout=10_000):
    qtbot.waitUntil(lambda: window.controller.data.step >= n, timeout=timeout)


def train_and_pause(qtbot, window, steps=10):
    window.controller.start()
    wait_steps(qtbot, window, steps)
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)


def leave_recovery_file(folder, steps=7, path=None):
    """What a crashed window leaves behind: a trained run in the recovery file."""
    trainer = Trainer(SMALL)
    for _ in range(steps):
        trainer.step()
    folder.mkdir(parents=True, exist_ok=True)
    save_session(trainer, folder / recovery.RECOVERY_FILE)
    (folder / recovery.INFO_FILE).write_text(json.dumps({"path": path, "steps": steps, "kept_at": time.time()}))
    return trainer


def test_an_unsaved_run_is_kept_after_the_interval_and_training_goes_on(qtbot, make_window,
                                                                        temporary_data_folder):
    window = make_window()
    kept = temporary_data_folder / recovery.RECOVERY_FILE
    window.autosave.set_interval(0.3)
    qtbot.wait(700)
    assert not kept.exists()                   # nothing trained, nothing to keep
    window.controller.start()
    qtbot.waitUntil(kept.exists, timeout=10_000)
    assert window.controller.state == "running"     # paused for the save only, then resumed
    at = window.controller.data.step
    wait_steps(qtbot, window, at + 5)
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    restored = load_session(kept)
    assert 0 < restored.step_count <= window.controller.trainer.step_count
    assert window.controller.dirty                  # the autosave is not the user's save
    assert window.controller.path is None and "untitled*" in window.windowTitle()


def test_autosave_writes_only_when_something_changed(qtbot, make_window, temporary_data_folder):
    window = make_window()
    train_and_pause(qtbot, window)
    assert window.autosave.autosave()
    kept = temporary_data_folder / recovery.RECOVERY_FILE
    mtime = kept.stat().st_mtime_ns
    assert not window.autosave.autosave()           # nothing new since
    assert kept.stat().st_mtime_ns == mtime


def test_quitting_cleanly_removes_the_recovery_file(qtbot, make_window, dialogs, temporary_data_folder):
    window = make_window()
    train_and_pause(qtbot, window)
    assert window.autosave.autosave()
    kept = temporary_data_folder / recovery.RECOVERY_FILE
    assert kept.exists()
    dialogs.answers["question"] = "Cancel"
    assert not window.close()
    assert kept.exists()                            # still open: still kept
    dialogs.answers["question"] = "Discard"
    assert window.close()
    assert not kept.exists()
    assert not (temporary_data_folder / recovery.INFO_FILE).exists()


def test_saving_the_run_removes_the_recovery_file(qtbot, make_window, dialogs, tmp_path, temporary_data_folder):
    window = make_window()
    train_and_pause(qtbot, window)
    assert window.autosave.autosave()
    dialogs.answers["save"] = str(tmp_path / "mine.rnnviz")
    assert window.save_as()
    assert not (temporary_data_folder / recovery.RECOVERY_FILE).exists()


def test_the_next_launch_offers_the_run_back_and_restores_it_unsaved(qtbot, make_window, dialogs,
                                                                     temporary_data_folder, tmp_path):
    own_file = str(tmp_path / "experiment.rnnviz")
    crashed = leave_recovery_file(temporary_data_folder, steps=7, path=own_file)
    window = make_window()
    dialogs.answers["question"] = "Restore"
    window.offer_recovery()
    assert dialogs.titles("question") == ["Restore the unsaved run?"]
    assert "experiment.rnnviz" in dialogs.texts("question")[0] and "7 training steps" in dialogs.texts("question")[0]
    trainer = window.controller.trainer
    assert trainer.step_count == 7
    for name, value in crashed.network.params.items():
        np.testing.assert_array_equal(trainer.network.params[name], value)
    assert window.controller.dirty and window.controller.path == own_file
    assert window.windowTitle().startswith("experiment.rnnviz*")
    assert window.controller.data.step == 7
    # the file stays until the restored run is saved or discarded: a second crash loses nothing
    assert (temporary_data_folder / recovery.RECOVERY_FILE).exists()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert window.autosave.autosave()
    assert load_session(temporary_data_folder / recovery.RECOVERY_FILE).step_count == 8


def test_discard_at_launch_deletes_the_recovery_file(make_window, dialogs, temporary_data_folder):
    leave_recovery_file(temporary_data_folder)
    window = make_window()
    dialogs.answers["question"] = "Discard"
    window.offer_recovery()
    assert window.controller.trainer.step_count == 0
    assert not (temporary_data_folder / recovery.RECOVERY_FILE).exists()


def test_a_scripted_run_neither_asks_nor_restores_nor_overwrites(qtbot, make_window, dialogs,
                                                                 temporary_data_folder, capsys):
    leave_recovery_file(temporary_data_folder, steps=7)
    window = make_window()
    window.non_interactive = True
    window.offer_recovery()
    assert dialogs.shown == []
    assert "kept in" in capsys.readouterr().err
    assert window.controller.trainer.step_count == 0
    train_and_pause(qtbot, window)
    assert not window.autosave.autosave()           # the earlier run's file is not overwritten
    assert window.close()
    assert load_session(temporary_data_folder / recovery.RECOVERY_FILE).step_count == 7


def test_a_second_window_leaves_the_first_ones_recovery_file_alone(qtbot, make_window, dialogs,
                                                                   temporary_data_folder):
    first = make_window()
    train_and_pause(qtbot, first)
    assert first.autosave.autosave()
    second = make_window()                          # as a second rnnviz running at the same time would
    assert not second.autosave.owned and not second.autosave.leftover
    second.offer_recovery()
    assert dialogs.shown == []
    train_and_pause(qtbot, second)
    assert not second.autosave.autosave()
    assert second.close()
    assert (temporary_data_folder / recovery.RECOVERY_FILE).exists()
    assert first.close()
    assert not (temporary_data_folder / recovery.RECOVERY_FILE).exists()


def test_an_unreadable_recovery_file_is_moved_aside_with_a_message(make_window, dialogs, temporary_data_folder):
    temporary_data_folder.mkdir(parents=True)
    (temporary_data_folder / recovery.RECOVERY_FILE).write_bytes(b"PK\x03\x04 not a session")
    window = make_window()
    dialogs.answers["question"] = "Restore"
    window.offer_recovery()
    assert dialogs.titles("error") == ["Could not restore the unsaved run"]
    assert recovery.UNREADABLE_FILE in dialogs.texts("error")[0]
    assert (temporary_data_folder / recovery.UNREADABLE_FILE).exists()
    assert not (temporary_data_folder / recovery.RECOVERY_FILE).exists()
    assert window.controller.trainer.step_count == 0


def test_a_failed_autosave_is_reported_once_and_training_goes_on(qtbot, make_window, monkeypatch, capsys):
    window = make_window()
    train_and_pause(qtbot, window)

    def fail(path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(window.controller, "save_copy", fail)
    assert not window.autosave.autosave()
    assert not window.autosave.autosave()
    assert capsys.readouterr().err.count("No space left on device") == 1
    assert "Autosave failed" in window.statusBar().currentMessage()
    assert window.controller.dirty


def test_the_data_folder_is_the_users_app_data_location(monkeypatch, tmp_path):
    monkeypatch.setattr(recovery, "folder_override", None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    app = QApplication.instance()
    names = app.organizationName(), app.applicationName()
    app.setOrganizationName("rnnviz")
    app.setApplicationName("rnnviz")
    try:
        if sys.platform.startswith("linux"):
            assert recovery.data_folder() == str(tmp_path / "rnnviz" / "rnnviz")
        else:
            assert recovery.data_folder().replace("\\", "/").endswith("rnnviz/rnnviz")
    finally:
        app.setOrganizationName(names[0])
        app.setApplicationName(names[1])


# ---- signals --------------------------------------------------------------------------------------
def test_a_signal_closes_without_questions_and_keeps_the_run(qtbot, make_window, dialogs, temporary_data_folder):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 10)
    thread = window.controller._thread
    with qtbot.waitSignal(window.closed, timeout=10_000):
        window.close_for_signal(signal.SIGTERM)
    assert dialogs.shown == []
    assert thread.isFinished()
    kept = load_session(temporary_data_folder / recovery.RECOVERY_FILE)
    assert kept.step_count == window.controller.trainer.step_count > 0


def test_a_signal_during_a_question_answers_it_and_closes(qtbot, make_window, monkeypatch, temporary_data_folder):
    window = make_window()
    train_and_pause(qtbot, window)
    monkeypatch.delattr(window, "_dialog")          # the real dialog: a QMessageBox that blocks
    QTimer.singleShot(300, lambda: window.close_for_signal(signal.SIGINT))
    assert not window.close()                       # "Save this run?" was open; the signal dismissed it
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    assert window.exit_signal == signal.SIGINT
    assert (temporary_data_folder / recovery.RECOVERY_FILE).exists()


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
def test_run_gui_turns_a_signal_into_its_exit_code_and_restores_the_handlers(qtbot, temporary_data_folder):
    from rnnviz.gui.app import run_gui
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    QTimer.singleShot(1500, lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert run_gui(preset="addition", autostart=True, handle_signals=True) == 128 + signal.SIGTERM
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert load_session(temporary_data_folder / recovery.RECOVERY_FILE).step_count > 0


def run_window(tmp_path, *args):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    return subprocess.Popen([sys.executable, "-m", "rnnviz", "gui", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def subprocess_recovery_file(tmp_path):
    return tmp_path / "xdg" / "rnnviz" / "rnnviz" / recovery.RECOVERY_FILE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the data folder is redirected with XDG_DATA_HOME")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_to_a_training_window_exits_128_plus_n_and_keeps_the_run(tmp_path, name):
    signum = getattr(signal, name)
    window = run_window(tmp_path, "--preset", "addition", "--autostart")
    try:
        time.sleep(5)                       # start-up (~1-2 s) and a few hundred steps
        assert window.poll() is None, window.stderr.read()
        sent = time.monotonic()
        window.send_signal(signum)
        window.wait(timeout=15)
        took = time.monotonic() - sent
    finally:
        if window.poll() is None:
            window.kill()
    err = window.stderr.read()
    assert window.returncode == 128 + signum, err
    assert took < 5
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    kept = load_session(subprocess_recovery_file(tmp_path))
    assert kept.step_count > 0 and kept.config.task == "addition"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the data folder is redirected with XDG_DATA_HOME")
def test_ctrl_c_closes_an_idle_window(tmp_path):
    window = run_window(tmp_path, "--preset", "addition")
    try:
        time.sleep(3)
        assert window.poll() is None
        window.send_signal(signal.SIGINT)
        window.wait(timeout=10)
    finally:
        if window.poll() is None:
            window.kill()
    assert window.returncode == 130, window.stderr.read()
    assert not subprocess_recovery_file(tmp_path).exists()     # nothing unsaved to keep
