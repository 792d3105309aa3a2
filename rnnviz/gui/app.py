"""Starting the window: ``run_gui`` is what ``rnnviz`` / ``rnnviz gui`` / ``python -m rnnviz.gui`` call."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

from rnnviz.errors import RnnvizError

STOP_TIMEOUT_MS = 15_000     # --quit-after: how long to wait for training to stop


def _bug_reporter(window):
    """A ``sys.excepthook`` for the window's thread: the traceback on stderr and in a dialog that
    calls it a bug in rnnviz (the user's own mistakes are caught where they happen and explained)."""
    import traceback

    from rnnviz.errors import BUG_LINE
    showing = []

    def report(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"{text}{BUG_LINE}\n")
        if showing or not window.isVisible():     # one dialog at a time; none once closing
            return
        showing.append(True)
        try:
            window._dialog("error", "An error inside rnnviz",
                           "The window keeps running and the current run is unchanged; saving it "
                           f"first is wise.\n\n{text}\n{BUG_LINE}")
        finally:
            showing.clear()
    return report


def _configure_pyqtgraph() -> None:
    import pyqtgraph as pg
    pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=False)


def initial_trainer(session_path: str | None, preset: str | None):
    """The run to show first: a session file, a preset, or the default (min-char-rnn) preset.

    Returns (trainer, path or None, problem message or None); a bad session file falls back to
    the default run with a message, as opening one from the menu would.
    """
    from rnnviz.training.trainer import Trainer

    from rnnviz.session import load_session
    from .main_window import MainWindow

    problem = None
    if session_path:
        try:
            return load_session(session_path), session_path, None
        except (RnnvizError, OSError) as exc:
            problem = f"Could not open {session_path}: {exc}"
    if preset:
        from rnnviz.training.presets import load_preset
        return Trainer(load_preset(preset).config), None, problem
    return Trainer(MainWindow._default_config()), None, problem


def screenshot_problem(path: str) -> str | None:
    """Why ``--screenshot path`` cannot be written (checked before the window opens), or None."""
    if not path.lower().endswith(".png"):
        return f"the screenshot must be a .png file: {path}"
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"the screenshot path is a folder: {path}"
    if not os.path.isdir(folder):
        return f"cannot write the screenshot {path}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return f"cannot write the screenshot {path}: permission denied"
    return None


class TerminationSignals:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP reach the window as ``on_signal(signum)``, in the GUI
    thread, even while Qt's event loop sleeps.

    Python runs signal handlers only when the interpreter gets control: the C-level handler
    writes the signal's number to a socket (``signal.set_wakeup_fd``), a QSocketNotifier wakes
    the event loop, and the Python code runs. ``restore`` puts the previous handlers back.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self, on_signal):
        from PySide6.QtCore import QSocketNotifier

        self._on_signal = on_signal
        self._pending: list[int] = []
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        try:
            self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        except ValueError:      # only the main thread may
            self._reader.close()
            self._writer.close()
            raise
        self._previous = {}
        for name in self.NAMES:
            signum = getattr(signal, name, None)
            if signum is not None:
                self._previous[signum] = signal.signal(signum, self._handle)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._on_notifier_activated)

    def _handle(self, signum, _frame) -> None:
        # Runs in the main thread between two bytecodes, perhaps deep inside a slot: only note it.
        self._pending.append(signum)

    def _on_notifier_activated(self, *_args) -> None:
        try:
            while self._reader.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self._pending:
            self._on_signal(self._pending.pop(0))

    def restore(self) -> None:
        self._notifier.setEnabled(False)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()


def run_gui(session_path: str | None = None, preset: str | None = None, autostart: bool = False,
            quit_after: float | None = None, screenshot: str | None = None,
            handle_signals: bool | None = None) -> int:
    """Open the window and run the event loop; returns the exit code.

    ``autostart`` starts training at once; ``quit_after`` closes the window after that many
    seconds (without questions), writing ``screenshot`` (a PNG) just before. Exit codes: 0; 1 if
    the screenshot or stopping failed at ``quit_after``; 2 for bad input or no display;
    128 + the signal's number after Ctrl-C (130), SIGTERM (143) or SIGHUP (129).
    ``handle_signals`` (default: only when this call creates the QApplication) routes those
    signals to the window.
    """
    t_launch = time.perf_counter()
    if screenshot is not None:
        problem = screenshot_problem(screenshot)
        if problem:
            print(f"rnnviz: {problem}", file=sys.stderr)
            return 2
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None or widgets.QApplication.instance() is None:
        from .display import display_problem   # before Qt is loaded: without a display Qt aborts

        problem = display_problem()
        if problem:
            print(problem, file=sys.stderr)
            return 2
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import APPLICATION, ORGANIZATION, MainWindow, application_icon

    existing = QApplication.instance()
    app = existing or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    if existing is None:
        app.setWindowIcon(application_icon())
    _configure_pyqtgraph()
    try:
        trainer, path, problem = initial_trainer(session_path, preset)
    except RnnvizError as exc:   # an unknown preset, an unreadable corpus
        print(f"rnnviz: {exc}", file=sys.stderr)
        return 2
    window = MainWindow(trainer)
    window.non_interactive = quit_after is not None
    if path:
        window.controller.set_file(path)
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) >= 3:      # the close is stuck somewhere: stop waiting for it
            print("rnnviz: interrupted three times; exiting at once", file=sys.stderr)
            sys.stderr.flush()
            os._exit(128 + signum)
        window.close_for_signal(signum)

    signals = None
    if existing is None if handle_signals is None else handle_signals:
        try:
            signals = TerminationSignals(on_signal)
        except ValueError:      # not the main thread: signals stay with whoever handles them
            signals = None
    loop = None if existing is None else QEventLoop()
    failures: list[str] = []
    previous_hook = sys.excepthook
    if existing is None:      # an exception escaping a slot is a bug: say so, keep the window and the run
        sys.excepthook = _bug_reporter(window)

    def quit_now(code: int) -> None:
        if loop is not None:
            loop.exit(code)
        else:
            app.exit(code)

    try:
        window.show()
        shown_after, shown_at = time.perf_counter() - t_launch, time.monotonic()
        if quit_after is not None:   # scripted runs report it (benchmarks/gui_latency.py reads this line)
            QTimer.singleShot(0, lambda: print(f"rnnviz: window shown {shown_after:.2f} s after run_gui "
                                               f"(monotonic {shown_at:.3f})", file=sys.stderr))

        def begin():
            if problem:
                window._dialog("error", "Could not open session",
                               f"{problem}\n\nShowing the default experiment instead.")
            window.offer_recovery()
            if autostart and window.exit_signal is None and window.isVisible():
                window.controller.start()
        QTimer.singleShot(0, begin)

        if quit_after is not None:
            def finish():
                try:
                    if not window.controller.stop_and_wait(timeout_ms=STOP_TIMEOUT_MS):
                        failures.append(f"training did not stop within {STOP_TIMEOUT_MS / 1000:g} s")
                        print(f"rnnviz: {failures[-1]}; exiting without waiting for it", file=sys.stderr)
                        if loop is None:
                            sys.stderr.flush()
                            os._exit(1)       # a running QThread cannot be destroyed; nothing unsaved here
                    if screenshot:
                        window.save_screenshot(screenshot)
                except Exception as exc:  # noqa: BLE001 - reported, and the window still closes
                    failures.append(f"{type(exc).__name__}: {exc}")
                    print(f"rnnviz: at --quit-after: {failures[-1]}", file=sys.stderr)
                try:
                    window.close()
                except Exception as exc:  # noqa: BLE001 - reported; the event loop ends all the same
                    failures.append(f"{type(exc).__name__}: {exc}")
                    print(f"rnnviz: at --quit-after, closing the window: {failures[-1]}", file=sys.stderr)
                if failures or window.isVisible():
                    quit_now(1)
            QTimer.singleShot(int(quit_after * 1000), finish)

        if loop is None:
            code = app.exec()
        else:
            # Inside an application that already runs (tests, embedding): do not quit it, just
            # wait until this window is closed.
            window.closed.connect(loop.quit)
            code = loop.exec()
    finally:
        sys.excepthook = previous_hook
        if signals is not None:
            signals.restore()
    if window.exit_signal is not None:
        return 128 + window.exit_signal
    return 1 if failures else code
