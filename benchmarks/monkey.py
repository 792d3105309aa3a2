"""The monkey test of issue 15, long form: many seeded random UI actions with training running.

Drives rnnviz's window offscreen with ``tests/gui/monkey.py`` (imported by path): every visible
control, every menu action but Quit, resizes between 1024 x 700 and 2560 x 1440, start / pause /
step / reset, presets and cells, with every modal dialog answered at once. Prints, every
``--report-every`` actions, the actions per second, findings so far, resident memory and the thread
counts; at the end the summary, every finding (unhandled exceptions in any thread, Qt errors,
traceback dialogs) with the action it happened in, whether the window closed, and the memory
growth from after a warm-up window to after the window is gone. Exit status 1 if anything was
found, the window did not close, a thread was left running, or memory grew by more than
``--rss-bound`` MB.

    python benchmarks/monkey.py --actions 30000 --seed 1
    python benchmarks/monkey.py --actions 3000 --seed 7 --profile /tmp/monkey.prof
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from PySide6.QtCore import QRect, QSettings, QThread  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def load_monkey():
    path = ROOT / "tests" / "gui" / "monkey.py"
    spec = importlib.util.spec_from_file_location("rnnviz_monkey", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Bot:
    """What the monkey uses of pytest-qt's qtbot."""

    @staticmethod
    def wait(ms: int) -> None:
        QTest.qWait(ms)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actions", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warm-up", type=int, default=200, help="actions on a first window, closed before "
                        "the memory baseline is taken (0: none)")
    parser.add_argument("--report-every", type=int, default=1000)
    parser.add_argument("--rss-bound", type=float, default=120.0, help="MB of growth allowed (default 120, "
                        "as tests/gui/test_monkey.py)")
    parser.add_argument("--skip-preset", action="append", default=[], help="a preset the monkey never loads")
    parser.add_argument("--profile", help="write a cProfile of the main run to this file")
    args = parser.parse_args(argv)

    monkey = load_monkey()
    scratch = tempfile.TemporaryDirectory(prefix="rnnviz-monkey-")
    settings_dir = Path(scratch.name) / "settings"
    settings_dir.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    from rnnviz.gui import recovery
    recovery.folder_override = str(Path(scratch.name) / "data")

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from rnnviz.gui.app import _configure_pyqtgraph
    from rnnviz.gui.main_window import MainWindow
    from rnnviz.training.trainer import Trainer
    _configure_pyqtgraph()
    MainWindow.screen_room = lambda self: QRect(0, 0, 2560, 1440)

    started = []
    original_start = QThread.start

    def recording_start(self, *a, **k):
        started.append(self)
        del started[:-64]
        return original_start(self, *a, **k)
    QThread.start = recording_start

    def new_window():
        window = MainWindow(Trainer(MainWindow._default_config()))
        window.show()
        QTest.qWaitForWindowExposed(window)
        return window

    bot = Bot()
    threads_before = set(threading.enumerate())
    print(f"rnnviz monkey: seed {args.seed}, {args.actions:,} actions (+{args.warm_up} warm-up), "
          f"Python {sys.version.split()[0]}, pid {os.getpid()}", flush=True)
    findings = monkey.Findings().install()
    t_start = time.perf_counter()
    try:
        if args.warm_up:
            warm = new_window()
            monkey.run_monkey(warm, bot, np.random.default_rng([args.seed, 1]), args.warm_up, findings=findings,
                              files=str(Path(scratch.name) / "warm-files"), sample_every=0,
                              skip_presets=args.skip_preset)
            monkey.close_window(warm)
        rss_before = monkey.rss_bytes()
        print(f"baseline after warm-up: RSS {rss_before / 2**20:.0f} MB, "
              f"threads {threading.active_count()} Python / {monkey.native_threads()} native", flush=True)

        window = new_window()
        t0 = time.perf_counter()
        last = [t0, 0]

        def on_action(index, label):
            if index and index % args.report_every == 0:
                now = time.perf_counter()
                rate = (index - last[1]) / (now - last[0])
                last[:] = [now, index]
                print(f"{index:>7,} actions  {now - t0:7.1f} s  {rate:5.0f} actions/s  findings {len(findings.items)}"
                      f"  RSS {monkey.rss_bytes(trim=False) / 2**20:6.0f} MB  threads {threading.active_count()}"
                      f"/{monkey.native_threads()}  step {window.controller.data.step:,}", flush=True)

        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        stats = monkey.run_monkey(window, bot, np.random.default_rng(args.seed), args.actions, on_action,
                                  findings=findings, files=str(Path(scratch.name) / "files"),
                                  skip_presets=args.skip_preset, sample_every=args.report_every)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        findings.where(args.actions, "closing the window")
        controller = window.controller
        closed = monkey.close_window(window)
        rss_after = monkey.rss_bytes()
    finally:
        findings.restore()
    elapsed = time.perf_counter() - t_start
    running = [t for t in started if monkey._alive(t) and t.isRunning()]
    leaked = [t for t in set(threading.enumerate()) - threads_before
              if t.is_alive() and not isinstance(t, threading._DummyThread)]
    growth = (rss_after - rss_before) / 2**20
    print()
    print(stats.summary())
    print(f"\nwindow closed: {closed}; training stopped: {not controller.is_running}; QThreads still running: "
          f"{len(running)}; Python threads left: {leaked or 0}; native threads now {monkey.native_threads()}")
    print(f"RSS: {rss_before / 2**20:.0f} MB after warm-up -> {rss_after / 2**20:.0f} MB after the window closed "
          f"({growth:+.0f} MB; bound {args.rss_bound:g} MB)")
    print(f"total {elapsed:.0f} s")
    if findings.warnings:
        print("Python warnings (not counted as failures): " + "; ".join(
            f"{text} x{n}" for text, n in findings.warnings.most_common(10)))
    if findings.qt_messages:
        print("Qt messages: " + "; ".join(f"{kind}: {text[:100]} x{n}"
                                          for (kind, text), n in findings.qt_messages.most_common(10)))
    if findings.items:
        print("\n" + findings.report(args.seed, limit=50))
    failed = bool(findings.items) or not closed or running or leaked or growth > args.rss_bound
    print("\nFAILED" if failed else "\nOK")
    del app
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
