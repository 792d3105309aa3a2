"""GUI test setup: offscreen Qt, settings in a temporary folder, no dialogs, no leftover threads."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import traceback  # noqa: E402
import weakref  # noqa: E402

import pytest  # noqa: E402

from PySide6.QtCore import QSettings, QThread  # noqa: E402

from rnnviz.training.config import Config  # noqa: E402

SMALL = dict(task="parity", seq_length=8, n_train=64, n_test=32, hidden=8, batch_size=0,
             optimizer="sgd", lr=0.5, clip_mode="none", eval_every=5)


def small_config(**changes) -> Config:
    return Config(**{**SMALL, **changes})


@pytest.fixture(autouse=True)
def temporary_settings(tmp_path):
    """QSettings go to tmp_path: tests never read or write the user's real settings."""
    folder = tmp_path / "settings"
    folder.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder


@pytest.fixture(autouse=True)
def temporary_data_folder(tmp_path, monkeypatch):
    """The recovery file goes to tmp_path: tests never see or touch the user's real data folder."""
    from rnnviz.gui import recovery

    folder = tmp_path / "data"
    monkeypatch.setattr(recovery, "folder_override", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))   # for child processes
    yield folder


@pytest.fixture(autouse=True)
def no_qthread_left_running(monkeypatch):
    """Fail any test that leaves a QThread running (napari's dangling_qthreads, simplified)."""
    started = weakref.WeakKeyDictionary()
    original_start = QThread.start

    def recording_start(self, *args, **kwargs):
        started[self] = "".join(traceback.format_stack(limit=8))
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield
    dangling = []
    for thread, where in list(started.items()):
        try:
            running = thread.isRunning()
        except RuntimeError:   # the C++ object is already deleted: it finished
            continue
        if running:
            dangling.append(where)
            thread.quit()
            thread.wait(5000)
    if dangling:
        pytest.fail("test left a QThread running; it was started at:\n" + "\n".join(dangling))


class Dialogs:
    """Stands in for MainWindow._dialog: records every dialog, answers from a script."""

    def __init__(self):
        self.shown = []
        self.answers = {"question": "Discard"}

    def __call__(self, kind, title, text="", *, choices=None, file_filter="", path=""):
        self.shown.append((kind, title, text))
        answer = self.answers.get(kind)
        if isinstance(answer, list):
            return answer.pop(0) if answer else None
        return answer

    def titles(self, kind=None):
        return [t for k, t, _ in self.shown if kind is None or k == kind]

    def texts(self, kind=None):
        return [x for k, _, x in self.shown if kind is None or k == kind]


@pytest.fixture
def config():
    """A parity problem small enough that a step takes a millisecond."""
    return small_config


@pytest.fixture
def dialogs():
    return Dialogs()


@pytest.fixture
def make_window(qtbot, monkeypatch, dialogs):
    """Build a MainWindow around a Trainer for ``config`` (default: a tiny parity problem)."""
    from rnnviz.gui.app import _configure_pyqtgraph
    from rnnviz.gui.main_window import MainWindow
    from rnnviz.training.trainer import Trainer

    _configure_pyqtgraph()
    windows = []

    def make(config=None):
        window = MainWindow(Trainer(config or small_config()))
        monkeypatch.setattr(window, "_dialog", dialogs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        try:
            window.controller.stop_and_wait()
        except RuntimeError:   # already deleted
            pass
