"""Starting the window: ``run_gui`` is what ``rnnviz`` / ``rnnviz gui`` / ``python -m rnnviz.gui`` call."""

from __future__ import annotations

import sys
import time


def _configure_pyqtgraph() -> None:
    import pyqtgraph as pg
    pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=False)


def initial_trainer(session_path: str | None, preset: str | None):
    """The run to show first: a session file, a preset, or the default (min-char-rnn) preset.

    Returns (trainer, path or None, problem message or None); a bad session file falls back to
    the default run with a message, as opening one from the menu would.
    """
    from rnnviz.training.trainer import Trainer

    from rnnviz.session import SessionError, load_session
    from .main_window import MainWindow

    problem = None
    if session_path:
        try:
            return load_session(session_path), session_path, None
        except (SessionError, ValueError, OSError) as exc:
            problem = f"Could not open {session_path}: {exc}"
    if preset:
        from rnnviz.training.presets import load_preset
        return Trainer(load_preset(preset).config), None, problem
    return Trainer(MainWindow._default_config()), None, problem


def run_gui(session_path: str | None = None, preset: str | None = None, autostart: bool = False,
            quit_after: float | None = None, screenshot: str | None = None) -> int:
    """Open the window and run the event loop; returns the exit code.

    ``autostart`` starts training at once; ``quit_after`` closes the window after that many
    seconds (without questions), writing ``screenshot`` (a PNG) just before.
    """
    t_launch = time.perf_counter()
    from . import _qt_compat  # noqa: F401 - before any heavy Qt use (PySide6 6.12 on Python 3.11)
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import APPLICATION, ORGANIZATION, MainWindow

    existing = QApplication.instance()
    app = existing or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    _configure_pyqtgraph()
    try:
        trainer, path, problem = initial_trainer(session_path, preset)
    except ValueError as exc:   # an unknown preset, an unreadable corpus
        print(f"rnnviz: {exc}", file=sys.stderr)
        return 2
    window = MainWindow(trainer)
    window.non_interactive = quit_after is not None
    if path:
        window.controller.path = path
        window.controller.path_changed.emit(path)
    window.show()
    shown_after, shown_at = time.perf_counter() - t_launch, time.monotonic()
    if quit_after is not None:   # scripted runs report it (benchmarks/gui_latency.py reads this line)
        QTimer.singleShot(0, lambda: print(f"rnnviz: window shown {shown_after:.2f} s after run_gui "
                                           f"(monotonic {shown_at:.3f})", file=sys.stderr))
    if problem:
        QTimer.singleShot(0, lambda: window._dialog("error", "Could not open session",
                                                    f"{problem}\n\nShowing the default experiment instead."))
    if autostart:
        QTimer.singleShot(0, window.controller.start)
    if quit_after is not None:
        def finish():
            window.controller.stop_and_wait()
            if screenshot:
                window.save_screenshot(screenshot)
            window.close()
        QTimer.singleShot(int(quit_after * 1000), finish)
    if existing is None:
        return app.exec()
    # Inside an application that already runs (tests, embedding): do not quit it, just wait
    # until this window is closed.
    loop = QEventLoop()
    window.closed.connect(loop.quit)
    loop.exec()
    return 0
