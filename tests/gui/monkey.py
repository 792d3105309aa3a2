"""A monkey for rnnviz's window: a seeded random sequence of UI actions, found in the live widget tree.

Plain module (no pytest import): ``tests/gui/test_monkey.py`` runs a short form in CI and
``benchmarks/monkey.py`` a long one. Nothing here names a particular control: every action is found
again before each step from what the window shows at that moment, so a control added later is
driven without editing this file:

* every visible, enabled QAbstractButton (push and tool buttons, check boxes, tabs' scroll
  buttons, the dock's float/close buttons), QComboBox, QAbstractSlider (sliders, scroll bars,
  superqt's labelled sliders through their parts), QAbstractSpinBox, QLineEdit (random short text,
  with characters no model has seen), QTabBar, QSplitter and pyqtgraph view (hover, wheel, drag);
* random keys and mouse-wheel turns over any of them;
* every QAction in the menu bar (submenus included, so Open Recent's entries too) except Quit;
* window resizes between 1024 x 700 and 2560 x 1440;
* start / pause / step / reset (the buttons or Run menu entries found by their text), preset and
  cell changes (the combo boxes whose items are the presets and the cells), with a bias towards
  training running.

Nothing modal can block: the window's ``_dialog`` helper (the one place rnnviz shows a dialog) is
replaced by a recorder that answers at random (a question's choices, or no file / a file in a
scratch folder), and ``QDialog.exec``, ``QMessageBox``'s statics and ``exec``, ``QFileDialog``'s,
``QInputDialog``'s, ``QColorDialog``'s and ``QFontDialog``'s statics and ``QMenu.exec`` return at
once (empty, Cancel, rejected), each call recorded. ``Findings`` records every unhandled Python
exception (``sys.excepthook``, ``threading.excepthook``, ``sys.unraisablehook``), Qt's critical
messages and the warnings that mean misuse (threads, deleted objects), and traceback-bearing error
dialogs, each with the index and description of the action that was running.
"""

from __future__ import annotations

import collections
import ctypes
import faulthandler
import gc
import math
import os
import re
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QPointF, QtMsgType, Qt, qInstallMessageHandler
from PySide6.QtGui import QAction, QKeySequence, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractSlider, QAbstractSpinBox, QApplication, QCheckBox, QColorDialog, QComboBox,
    QDialog, QDoubleSpinBox, QFileDialog, QFontDialog, QGraphicsView, QInputDialog, QLineEdit, QMenu,
    QMessageBox, QSpinBox, QSplitter, QTabBar, QWidget,
)

MIN_SIZE = (1024, 700)
MAX_SIZE = (2560, 1440)
INT_CAP = 64          # typed integers stay at or below this (or the value shown, if larger): a random
                      # hidden size of 4,096 or 10 million training sequences tests the machine, not the UI
QUIT = re.compile(r"\b(quit|exit)\b", re.IGNORECASE)
# Characters no model here was trained on, markup, format strings, control and zero-width ones.
ODD_TEXT = ["Ω", "é", "漢字", "😀", "\u200b", "\t", "<b>", "&amp;", "\\n", "%s", "{0}", "\x7f", "ß", "\u202e",
            "'", '"', "  ", "ﬁ", "🧠🔥", "\u0301"]
PLAIN = "abcdefghijklmnopqrstuvwxyz ETAOIN 0123456789.,;:-_()"
# Qt warnings that mean a real misuse (not layout chatter): they fail a run like an exception.
QT_ERROR_PATTERNS = re.compile(
    r"thread|destroyed while|cannot (create children|send events|queue)|already deleted|"
    r"QBasicTimer|QObject::|QPainter::(begin|end)|not safe|deadlock|invalid (parameter|nullptr)",
    re.IGNORECASE)
KEYS = [Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_PageUp,
        Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Tab, Qt.Key.Key_Escape,
        Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Return, Qt.Key.Key_Space, Qt.Key.Key_A,
        Qt.Key.Key_Z, Qt.Key.Key_1, Qt.Key.Key_Minus, Qt.Key.Key_Period]
MODIFIERS = [Qt.KeyboardModifier.NoModifier] * 5 + [Qt.KeyboardModifier.ShiftModifier,
                                                    Qt.KeyboardModifier.ControlModifier]
POPUP_KEYS = {Qt.Key.Key_Space, Qt.Key.Key_Return}     # would open a combo box's popup list


def rss_bytes(trim: bool = True) -> int:
    """Resident memory of this process (``/proc/self/statm``); with ``trim``, after glibc gave
    back the free heap it keeps (so the figure is what is in use, not the allocator's cache)."""
    if trim:
        gc.collect()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):   # not glibc
            pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def native_threads() -> int:
    """Threads of this process as the kernel sees them (Qt's, BLAS's and Python's)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return -1


# ---- findings ---------------------------------------------------------------------------------
@dataclass
class Finding:
    kind: str          # "exception", "thread-exception", "unraisable", "qt", "raised", "worker-error"
    index: int         # the action that was running (-1: before the first)
    action: str
    text: str

    def __str__(self) -> str:
        return f"[{self.kind}] at action {self.index} ({self.action}):\n{self.text.rstrip()}"


class Findings:
    """Installs hooks that record every unhandled exception (in any thread) and Qt's error
    messages; ``restore()`` puts the previous hooks back. ``where(index, action)`` names the
    action under way (pass it as ``run_monkey``'s ``on_action``)."""

    def __init__(self):
        self.items: list[Finding] = []
        self.qt_messages: collections.Counter = collections.Counter()   # (type, text) -> count
        self.warnings: collections.Counter = collections.Counter()      # Python warnings (not failures)
        self.index, self.action = -1, "(setup)"
        self._lock = threading.Lock()
        self._installed = False

    def where(self, index: int, action: str) -> None:
        self.index, self.action = index, action

    def add(self, kind: str, text: str) -> None:
        with self._lock:
            self.items.append(Finding(kind, self.index, self.action, text))

    def install(self) -> "Findings":
        self._old = (sys.excepthook, threading.excepthook, sys.unraisablehook, warnings.showwarning)
        sys.excepthook = self._excepthook
        warnings.showwarning = self._showwarning
        threading.excepthook = self._threading_hook
        sys.unraisablehook = self._unraisable_hook
        self._old_qt = qInstallMessageHandler(self._qt_handler)
        self._installed = True
        return self

    def restore(self) -> None:
        if not self._installed:
            return
        sys.excepthook, threading.excepthook, sys.unraisablehook, warnings.showwarning = self._old
        qInstallMessageHandler(self._old_qt)
        sys.last_type = sys.last_value = sys.last_traceback = None
        self._installed = False

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.restore()

    def _excepthook(self, etype, value, tb):
        where = "" if threading.current_thread() is threading.main_thread() else \
            f"(in thread {threading.current_thread().name})\n"
        self.add("exception", where + "".join(traceback.format_exception(etype, value, tb)))
        # PyErr_Print keeps the last one in sys.last_*: its frames would keep a window alive
        sys.last_type = sys.last_value = sys.last_traceback = None

    def _showwarning(self, message, category, filename, lineno, file=None, line=None):
        with self._lock:
            self.warnings[f"{category.__name__}: {message} ({Path(filename).name}:{lineno})"] += 1

    def _threading_hook(self, args):
        self.add("thread-exception", f"(in thread {getattr(args.thread, 'name', '?')})\n" + "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

    def _unraisable_hook(self, u):
        text = "".join(traceback.format_exception(u.exc_type, u.exc_value, u.exc_traceback))
        self.add("unraisable", f"{u.err_msg or 'Exception ignored in'}: {u.object!r}\n{text}")

    def _qt_handler(self, mode, context, message):
        kind = {QtMsgType.QtCriticalMsg: "critical", QtMsgType.QtFatalMsg: "fatal",
                QtMsgType.QtWarningMsg: "warning"}.get(mode)
        if kind is None:
            return
        with self._lock:
            self.qt_messages[(kind, message)] += 1
        if kind != "warning" or QT_ERROR_PATTERNS.search(message):
            self.add("qt", f"Qt {kind}: {message}")

    def groups(self) -> list[list[Finding]]:
        """Findings grouped by what failed (kind, innermost frame and last line of the
        traceback), in order of first occurrence."""
        groups: dict[tuple, list[Finding]] = {}
        for f in self.items:
            lines = [x for x in f.text.strip().splitlines() if x.strip()]
            frames = [x.strip() for x in lines if x.strip().startswith("File ")]
            key = (f.kind, frames[-1] if frames else "", re.sub(r"0x[0-9a-f]+|\d+", "N", lines[-1] if lines else ""))
            groups.setdefault(key, []).append(f)
        return list(groups.values())

    def report(self, seed=None, limit: int = 10) -> str:
        groups = self.groups()
        head = (f"{len(self.items)} finding(s) of {len(groups)} kind(s)" + ("" if seed is None else f" with seed {seed}")
                + " (each shown once, at its first action; the other actions listed)")
        parts = []
        for group in groups[:limit]:
            others = [f.index for f in group[1:]]
            more = f"\n  also at actions {others[:30]}{' ...' if len(others) > 30 else ''}" if others else ""
            parts.append(f"{group[0]}{more}")
        tail = f"\n\n... and {len(groups) - limit} more kinds" if len(groups) > limit else ""
        return head + ":\n\n" + "\n\n".join(parts) + tail


# ---- modal dialogs that return at once --------------------------------------------------------
class NoModals:
    """Replaces every blocking dialog entry point with one that returns at once, recording each
    call as (kind, title). Covers the window's ``_dialog`` helper (answers chosen by ``answer``)
    and Qt's own modal calls. ``restore()`` undoes all of it."""

    def __init__(self, answer=None):
        self.calls: list[tuple] = []
        self.answer = answer            # (kind, title, text, choices, file_filter) -> answer
        self._undo: list = []

    def _set(self, owner, name, value):
        had = name in getattr(owner, "__dict__", {})
        self._undo.append((owner, name, getattr(owner, name) if had else None, had))
        setattr(owner, name, value)

    def install(self, window=None) -> "NoModals":
        calls = self.calls

        def returning(kind, value):
            def stub(*args, **kwargs):
                title = next((a for a in args if isinstance(a, str)), "")
                calls.append((kind, title))
                return value() if callable(value) else value
            return staticmethod(stub)

        def exec_stub(kind, value):
            def stub(self, *args, **kwargs):
                calls.append((kind, self.windowTitle() if isinstance(self, QWidget) else ""))
                return value
            return stub

        self._set(QDialog, "exec", exec_stub("QDialog.exec", int(QDialog.DialogCode.Rejected)))
        self._set(QMessageBox, "exec", exec_stub("QMessageBox.exec", int(QMessageBox.StandardButton.Cancel)))
        self._set(QMenu, "exec", exec_stub("QMenu.exec", None))
        for name in ("information", "warning", "critical", "question"):
            self._set(QMessageBox, name, returning(f"QMessageBox.{name}", QMessageBox.StandardButton.Cancel))
        for name in ("about", "aboutQt"):
            self._set(QMessageBox, name, returning(f"QMessageBox.{name}", None))
        for name, value in (("getOpenFileName", ("", "")), ("getSaveFileName", ("", "")),
                            ("getOpenFileNames", ([], "")), ("getExistingDirectory", ""),
                            ("getOpenFileUrl", None), ("getSaveFileUrl", None), ("getExistingDirectoryUrl", None)):
            if hasattr(QFileDialog, name):
                self._set(QFileDialog, name, returning(f"QFileDialog.{name}", value))
        for name, value in (("getText", ("", False)), ("getInt", (0, False)), ("getDouble", (0.0, False)),
                            ("getItem", ("", False)), ("getMultiLineText", ("", False))):
            self._set(QInputDialog, name, returning(f"QInputDialog.{name}", value))
        self._set(QColorDialog, "getColor", returning("QColorDialog.getColor", None))
        self._set(QFontDialog, "getFont", returning("QFontDialog.getFont", lambda: (None, False)))
        if window is not None and hasattr(window, "_dialog"):
            def dialog(kind, title, text="", *, choices=None, file_filter="", path=""):
                calls.append((f"_dialog:{kind}", title, text))
                return self.answer(kind, title, text, choices, file_filter) if self.answer else None
            self._set(window, "_dialog", dialog)
        return self

    def restore(self) -> None:
        while self._undo:
            owner, name, value, had = self._undo.pop()
            if had:
                setattr(owner, name, value)
            else:
                try:
                    delattr(owner, name)
                except (AttributeError, TypeError):
                    pass


class DialogAnswers:
    """Random answers for the window's ``_dialog``: a question's choices (Discard most often, so
    runs move on), and for file dialogs usually none; with ``folder`` sometimes a file there (a
    session saved earlier, a text corpus, a binary file, a missing one; a few names reused)."""

    def __init__(self, rng, folder: str | None = None):
        self.rng = rng
        self.folder = Path(folder) if folder else None
        self.fixed: dict[str, object] = {}      # kind -> answer (e.g. {"question": "Discard"} to close)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "corpus.txt").write_text("the quick brown fox — Ωmega 漢字 jumps.\n" * 60, encoding="utf-8")
            (self.folder / "picture.png").write_bytes(bytes(range(256)) * 16)
            (self.folder / "empty.txt").write_text("", encoding="utf-8")

    def __call__(self, kind, title, text, choices, file_filter):
        if kind in self.fixed:
            return self.fixed[kind]
        r = self.rng.random()
        if kind == "question":
            choices = list(choices or [])
            weights = [{"Discard": 6, "Cancel": 2, "Save": 1.5}.get(c, 2) for c in choices] + [0.5]
            pick = self.rng.choice(len(weights), p=[w / sum(weights) for w in weights])
            return choices[pick] if pick < len(choices) else None
        if self.folder is None or r < 0.75:
            return None
        if kind == "open":
            sessions = sorted(self.folder.glob("*.rnnviz"))
            options = [self.folder / "corpus.txt", self.folder / "picture.png", self.folder / "empty.txt",
                       self.folder / "missing.rnnviz"] + sessions * 2
            return str(options[self.rng.integers(len(options))])
        if kind == "save":
            k = self.rng.integers(3)
            if "png" in file_filter.lower():
                return str(self.folder / f"plot{k}{self.rng.choice(['.png', '.svg', ''])}")
            if "csv" in file_filter.lower():
                return str(self.folder / f"history{k}{self.rng.choice(['.csv', ''])}")
            return str(self.folder / f"run{k}{self.rng.choice(['.rnnviz', ''])}")
        return None


# ---- what can be done -------------------------------------------------------------------------
def _alive(obj) -> bool:
    try:
        obj.objectName()
        return True
    except RuntimeError:
        return False


def _inside(widget, kinds) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parentWidget()
    return False


def _name(obj) -> str:
    """A short readable name: class, object name or text, and the nearest named ancestor."""
    cls = type(obj).__name__
    label = ""
    for getter in ("objectName", "text", "toolTip"):
        try:
            value = getattr(obj, getter)()
        except (AttributeError, RuntimeError, TypeError):
            continue
        if value:
            label = re.sub(r"<[^>]+>", "", value).replace("\n", " ")[:40]
            break
    if isinstance(obj, QComboBox) and obj.count():
        label = label or obj.itemText(0)[:30]
    return f"{cls}({label!r})" if label else cls


def widget_targets(window) -> dict[str, list]:
    """Every visible, enabled control of ``window`` (floating docks included), by kind."""
    out = collections.defaultdict(list)
    for w in window.findChildren(QWidget):
        if not w.isVisible() or not w.isEnabled():
            continue
        if isinstance(w, QAbstractButton):
            menu = getattr(w, "menu", None)
            if menu is not None and menu() is not None:
                continue      # a button with a menu would run the menu's own (C++) event loop
            out["check" if isinstance(w, QCheckBox) else "button"].append(w)
        elif isinstance(w, QComboBox):
            out["combo"].append(w)
        elif isinstance(w, QAbstractSlider):
            out["slider"].append(w)
        elif isinstance(w, QAbstractSpinBox):
            if not w.isReadOnly():
                out["spin"].append(w)
        elif isinstance(w, QLineEdit):
            if not w.isReadOnly() and not _inside(w, (QAbstractSpinBox, QComboBox)):
                out["text"].append(w)
        elif isinstance(w, QTabBar):
            if w.count() > 1:
                out["tab"].append(w)
        elif isinstance(w, QSplitter):
            if w.count() > 1:
                out["splitter"].append(w)
        elif isinstance(w, QGraphicsView):
            out["graphics"].append(w)
    return out


def menu_actions(window) -> list[QAction]:
    """Every enabled, visible QAction of the menu bar (submenus included) but Quit."""
    quit_keys = set(QKeySequence.keyBindings(QKeySequence.StandardKey.Quit))
    out = []

    def walk(actions):
        for a in actions:
            if a.isSeparator() or not a.isVisible() or not a.isEnabled():
                continue
            if a.menu() is not None:
                walk(a.menu().actions())
                continue
            if QUIT.search(a.text().replace("&", "")) or QUIT.search(a.objectName()) or \
                    any(k in quit_keys for k in a.shortcuts()):
                continue
            out.append(a)

    bar = window.menuBar() if hasattr(window, "menuBar") else None
    if bar is not None:
        walk(bar.actions())
    return out


def _by_text(window, pattern: str):
    """The visible, enabled button, else menu action, whose text matches ``pattern``."""
    rx = re.compile(pattern, re.IGNORECASE)
    for w in window.findChildren(QAbstractButton):
        if w.isVisible() and w.isEnabled() and rx.search(w.text().replace("&", "")):
            return w
    for a in menu_actions(window):
        if rx.search(a.text().replace("&", "")):
            return a
    return None


def _combo_with(window, items: set):
    """The combo box whose items' data include ``items`` (the presets', the cells')."""
    for box in window.findChildren(QComboBox):
        data = {box.itemData(i) for i in range(box.count())}
        if items <= data:
            return box
    return None


def _is_running(window):
    controller = getattr(window, "controller", None)
    return bool(getattr(controller, "is_running", False))


def _step(window) -> int:
    controller = getattr(window, "controller", None)
    try:
        return int(controller.data.step)
    except (AttributeError, TypeError, RuntimeError):
        return 0


# ---- the monkey -------------------------------------------------------------------------------
@dataclass
class Stats:
    seed: object = None
    actions: int = 0
    seconds: float = 0.0
    kinds: collections.Counter = field(default_factory=collections.Counter)     # what was done
    kind_seconds: collections.Counter = field(default_factory=collections.Counter)   # time it took
    widgets: collections.Counter = field(default_factory=collections.Counter)   # which controls
    skipped: collections.Counter = field(default_factory=collections.Counter)   # chosen but not possible
    dialogs: collections.Counter = field(default_factory=collections.Counter)   # (kind, title) shown
    running_actions: int = 0          # actions taken while training ran
    steps_trained: int = 0
    runs: int = 1                     # the runs shown (a reset, preset or opened session starts one)
    rss: list = field(default_factory=list)        # (action, seconds, bytes)
    threads: list = field(default_factory=list)    # (action, Python threads, native threads)
    slowest: list = field(default_factory=list)    # (seconds, index, description), the 10 slowest

    @property
    def rate(self) -> float:
        return self.actions / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        running = 100 * self.running_actions / max(self.actions, 1)
        lines = [f"{self.actions} actions in {self.seconds:.1f} s ({self.rate:.0f}/s), training ran during "
                 f"{running:.0f}% of them, {self.steps_trained:,} steps trained over {self.runs} runs",
                 "kinds (count, seconds): " + ", ".join(f"{k} {n} {self.kind_seconds[k]:.1f}"
                                                        for k, n in self.kinds.most_common()),
                 f"controls driven: {len(self.widgets)} distinct",
                 "dialogs: " + (", ".join(f"{k}:{t!r} {n}" for (k, t), n in self.dialogs.most_common(12)) or "none")]
        if self.skipped:
            lines.append("skipped: " + ", ".join(f"{k} {n}" for k, n in self.skipped.most_common()))
        if self.rss:
            lines.append("RSS MB: " + ", ".join(f"{i}:{b / 2**20:.0f}" for i, _, b in self.rss))
        if self.threads:
            lines.append("threads (python/native): " + ", ".join(f"{i}:{p}/{n}" for i, p, n in self.threads))
        lines.append("slowest actions: " + "; ".join(f"{s * 1000:.0f} ms #{i} {d}" for s, i, d in self.slowest[:5]))
        return "\n".join(lines)


class Monkey:
    WEIGHTS = {             # how often each kind of action is chosen (the sum need not be 1)
        "widget": 60, "menu": 5, "key": 4, "wheel": 3, "resize": 2,
        "start": 2, "pause": 2, "step": 2, "reset": 1, "preset": 1, "cell": 0.8, "wait": 0.5,
    }
    WIDGET_WEIGHTS = {"button": 3, "check": 2, "combo": 3, "slider": 2, "spin": 4, "text": 2, "tab": 1.5,
                      "splitter": 0.5, "graphics": 2}

    def __init__(self, window, qtbot, rng, *, on_action=None, files=None, int_cap: int = INT_CAP,
                 skip_presets=(), wait_every: int = 100, wait_ms=(20, 120), sample_every: int = 250,
                 keep_training: float = 0.3, hang_seconds: float | None = 300):
        self.window, self.qtbot, self.rng = window, qtbot, rng
        self.on_action = on_action
        self.int_cap = int_cap
        self.skip_presets = set(skip_presets)
        self.wait_every, self.wait_ms, self.sample_every = wait_every, wait_ms, sample_every
        self.keep_training = keep_training
        self.hang_seconds = hang_seconds
        self.stats = Stats()
        self.answers = DialogAnswers(rng, files)
        self.modals = NoModals(self.answers)
        self._last_step = _step(window)

    # -- helpers --
    def _choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def _wait(self, ms: int) -> None:
        if self.qtbot is not None:
            self.qtbot.wait(ms)
        else:
            QTest.qWait(ms)

    @staticmethod
    def _process() -> None:
        QApplication.processEvents()
        popup = QApplication.activePopupWidget()
        if popup is not None:        # a combo box's list or a context menu opened by a key or click
            popup.close()

    def _point(self, w) -> QPoint:
        r = w.rect()
        return QPoint(int(self.rng.integers(max(r.width(), 1))), int(self.rng.integers(max(r.height(), 1))))

    def _trigger(self, target) -> str:
        if isinstance(target, QAction):
            target.trigger()
        else:
            QTest.mouseClick(target, Qt.MouseButton.LeftButton)
        return _name(target)

    # -- actions on one control --
    def act_button(self, w) -> str:
        if self.rng.random() < 0.7:
            QTest.mouseClick(w, Qt.MouseButton.LeftButton)
            return "click"
        w.click()
        return "click()"

    act_check = act_button

    def act_combo(self, w) -> str:
        model = w.model()
        enabled = [i for i in range(w.count())
                   if model.flags(model.index(i, w.modelColumn())) & Qt.ItemFlag.ItemIsEnabled]
        if not enabled:
            return "no items"
        if w.isEditable() or self.rng.random() < 0.5:
            i = self._choice(enabled)
            w.setCurrentIndex(i)
            w.activated.emit(i)
            w.textActivated.emit(w.itemText(i))
            return f"choose {w.itemText(i)[:30]!r}"
        key = self._choice([Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_PageDown])
        QTest.keyClick(w, key)
        return f"key {key.name}"

    def act_slider(self, w) -> str:
        lo, hi = w.minimum(), w.maximum()
        r = self.rng.random()
        if r < 0.35:                              # a drag: pressed, a few positions, released
            w.setSliderDown(True)
            for _ in range(int(self.rng.integers(1, 5))):
                w.setSliderPosition(int(self.rng.integers(lo, hi + 1)))
            w.setSliderDown(False)
            return f"drag to {w.value()}"
        if r < 0.7:
            key = self._choice([Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown,
                                Qt.Key.Key_Home, Qt.Key.Key_End])
            mod = self._choice(MODIFIERS)
            QTest.keyClick(w, key, mod)
            return f"key {key.name}"
        value = int(self.rng.integers(lo, hi + 1))
        w.setValue(value)
        return f"set {value}"

    def _typed_number(self, w):
        lo, hi = w.minimum(), w.maximum()
        if isinstance(w, QSpinBox):
            top = min(hi, max(self.int_cap, w.value()) if self.rng.random() < 0.05 else min(self.int_cap, hi))
            top = max(top, lo)
            if self.rng.random() < 0.2:
                return lo
            if lo >= 1:
                return int(round(math.exp(self.rng.uniform(math.log(lo), math.log(top + 1)))))
            return int(self.rng.integers(lo, top + 1))
        if self.rng.random() < 0.1:
            return self._choice([lo, hi])
        if lo > 0:
            return float(math.exp(self.rng.uniform(math.log(lo), math.log(hi))))
        return float(self.rng.uniform(lo, hi))

    def act_spin(self, w) -> str:
        r = self.rng.random()
        capped = isinstance(w, QSpinBox) and w.value() >= self.int_cap
        if r < 0.45:
            key = self._choice([Qt.Key.Key_Down, Qt.Key.Key_PageDown] if capped else
                               [Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown])
            QTest.keyClick(w, key)
            return f"key {key.name} -> {w.value()}"
        value = self._typed_number(w)
        if r < 0.8 and isinstance(w, (QSpinBox, QDoubleSpinBox)):
            text = w.textFromValue(value) if not isinstance(w, QDoubleSpinBox) else f"{value:.{w.decimals()}f}"
            if self.rng.random() < 0.15:       # with stray characters the validator must refuse
                text = text[: int(self.rng.integers(len(text) + 1))] + self._choice(["e", "-", "x", ",", " ", "+"])
            line = w.lineEdit()
            line.selectAll()
            QTest.keyClicks(w, text)
            QTest.keyClick(w, Qt.Key.Key_Return)
            return f"type {text!r} -> {w.value()}"
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setValue(value)
            return f"set {value}"
        w.stepBy(int(self.rng.integers(-3, 4)))
        return "stepBy"

    def _random_text(self) -> str:
        parts = []
        for _ in range(int(self.rng.integers(0, 6))):
            if self.rng.random() < 0.35:
                parts.append(self._choice(ODD_TEXT))
            else:
                n = int(self.rng.integers(1, 6))
                parts.append("".join(self._choice(PLAIN) for _ in range(n)))
        return "".join(parts)

    def act_text(self, w) -> str:
        text = self._random_text()
        r = self.rng.random()
        w.selectAll()
        if r < 0.5 and all(32 <= ord(c) < 127 for c in text):
            # (QTest types Latin-1 only: it aborts the process on other characters)
            QTest.keyClicks(w, text) if text else QTest.keyClick(w, Qt.Key.Key_Delete)
        else:
            w.insert(text)            # as a paste or an input method does
        if self.rng.random() < 0.85:
            QTest.keyClick(w, Qt.Key.Key_Return)
        else:
            w.editingFinished.emit()   # as leaving the field does
        return f"text {text!r}"

    def act_tab(self, w) -> str:
        visible = [i for i in range(w.count()) if w.isTabVisible(i) and w.isTabEnabled(i)]
        if not visible:
            return "no tabs"
        i = self._choice(visible)
        QTest.mouseClick(w, Qt.MouseButton.LeftButton, pos=w.tabRect(i).center())
        return f"tab {w.tabText(i)!r}"

    def act_splitter(self, w) -> str:
        sizes = [int(self.rng.integers(1, 1000)) for _ in range(w.count())]
        w.setSizes(sizes)
        return f"sizes {sizes}"

    def act_graphics(self, w) -> str:
        port = w.viewport()
        p = self._point(port)
        r = self.rng.random()
        if r < 0.45:
            QTest.mouseMove(port, p)
            return "hover"
        if r < 0.7:
            return self._wheel(port, p)
        if r < 0.9:
            q = self._point(port)
            QTest.mousePress(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
            QTest.mouseMove(port, (p + q) / 2)
            QTest.mouseMove(port, q)
            QTest.mouseRelease(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, q)
            return "drag"
        QTest.mouseDClick(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
        return "double-click"

    def _wheel(self, w, p: QPoint) -> str:
        delta = int(self._choice([-240, -120, 120, 240]))
        event = QWheelEvent(QPointF(p), QPointF(w.mapToGlobal(p)), QPoint(), QPoint(0, delta),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(w, event)
        return f"wheel {delta}"

    # -- one step of the monkey --
    def choose(self):
        """(kind, description, callable) for the next action."""
        kinds = list(self.WEIGHTS)
        weights = [self.WEIGHTS[k] for k in kinds]
        kind = kinds[self.rng.choice(len(kinds), p=[w / sum(weights) for w in weights])]
        if kind in ("start", "pause") or (not _is_running(self.window) and self.rng.random() < self.keep_training):
            return self._run_action("start" if kind != "pause" else "pause")
        if kind == "widget" or kind in ("key", "wheel"):
            targets = widget_targets(self.window)
            if kind == "widget":
                sub = [k for k in self.WIDGET_WEIGHTS if targets.get(k)]
                if not sub:
                    return "widget", "nothing to drive", None
                sw = [self.WIDGET_WEIGHTS[k] for k in sub]
                which = sub[self.rng.choice(len(sub), p=[w / sum(sw) for w in sw])]
                w = self._choice(targets[which])
                return which, _name(w), (lambda: getattr(self, f"act_{which}")(w), w)
            everything = [w for ws in targets.values() for w in ws]
            if not everything:
                return kind, "nothing visible", None
            w = self._choice(everything)
            if kind == "wheel":
                return "wheel", _name(w), (lambda: self._wheel(w, self._point(w)), w)
            key, mod = self._choice(KEYS), self._choice(MODIFIERS)
            if isinstance(w, QComboBox) and key in POPUP_KEYS:
                key = Qt.Key.Key_Down
            return "key", _name(w), (lambda: (QTest.keyClick(w, key, mod), f"{mod.name}+{key.name}")[1], w)
        if kind == "menu":
            actions = menu_actions(self.window)
            if not actions:
                return "menu", "no menu actions", None
            a = self._choice(actions)
            path = a.text().replace("&", "")
            return "menu", path, (lambda: (a.trigger(), "trigger")[1], a)
        if kind == "resize":
            return "resize", "window", (self._resize, self.window)
        if kind == "wait":
            ms = int(self.rng.integers(*self.wait_ms))
            return "wait", f"{ms} ms", (lambda: (self._wait(ms), "waited")[1], None)
        if kind in ("step", "reset"):
            return self._run_action(kind)
        if kind == "preset":
            return self._preset()
        if kind == "cell":
            return self._cell()
        raise AssertionError(kind)

    def _resize(self) -> str:
        w = self.window
        if w.isMaximized() or w.isFullScreen() or w.isMinimized():
            w.showNormal()
        size = (int(self.rng.integers(MIN_SIZE[0], MAX_SIZE[0] + 1)), int(self.rng.integers(MIN_SIZE[1], MAX_SIZE[1] + 1)))
        w.resize(*size)
        return f"{size[0]}x{size[1]}"

    def _run_action(self, which: str):
        patterns = {"start": r"^(start|continue)", "pause": r"^pause|^start\s*/\s*pause", "step": r"^step",
                    "reset": r"^reset(\s*\(\d+\))?$"}
        running = _is_running(self.window)
        if which == "start" and running:
            return "start", "already running", None
        if which == "pause" and not running:
            return "pause", "not running", None
        target = _by_text(self.window, patterns[which])
        if which == "start" and target is None:
            target = _by_text(self.window, r"^start\s*/\s*pause")
        if target is None:
            return which, "no control", None
        return which, _name(target), (lambda: self._trigger(target) and "trigger", target)

    def _preset(self):
        box = _combo_with(self.window, {"char-rnn", "parity"})
        if box is None or not box.isVisible() or not box.isEnabled():
            return "preset", "preset box not shown", None
        items = [i for i in range(box.count()) if box.itemData(i) and box.itemData(i) not in self.skip_presets]
        i = self._choice(items)

        def act():
            box.setCurrentIndex(i)
            box.activated.emit(i)
            return f"preset {box.itemData(i)}"
        return "preset", _name(box), (act, box)

    def _cell(self):
        box = _combo_with(self.window, {"rnn", "lstm", "gru"})
        if box is None or not box.isVisible() or not box.isEnabled():
            return "cell", "cell box not shown", None
        i = int(self.rng.integers(box.count()))
        then_reset = self.rng.random() < 0.5

        def act():
            box.setCurrentIndex(i)
            box.activated.emit(i)
            if then_reset:
                target = _by_text(self.window, r"^reset(\s*\(\d+\))?$")
                if target is not None:
                    self._trigger(target)
            return f"cell {box.itemData(i)}" + (" + reset" if then_reset else "")
        return "cell", _name(box), (act, box)

    def sample(self, index: int, t0: float) -> None:
        self.stats.rss.append((index, time.perf_counter() - t0, rss_bytes(trim=True)))
        self.stats.threads.append((index, threading.active_count(), native_threads()))

    def _hide_skipped_presets(self) -> list:
        """Disable the skipped presets' items in the preset box, so neither a chosen item (which
        picks among enabled ones) nor a key (a combo box's keys pass over disabled items) loads
        them; returns the items, to enable again."""
        box = _combo_with(self.window, {"char-rnn", "parity"})
        model = box.model() if box is not None else None
        if not self.skip_presets or not hasattr(model, "item"):
            return []
        items = [model.item(i) for i in range(box.count()) if box.itemData(i) in self.skip_presets]
        items = [item for item in items if item is not None and item.isEnabled()]
        for item in items:
            item.setEnabled(False)
        return items

    def run(self, n_actions: int, findings: Findings | None = None) -> Stats:
        stats = self.stats
        self.modals.install(self.window)
        skipped_items = self._hide_skipped_presets()
        t0 = time.perf_counter()
        self.sample(0, t0)
        slow = []
        try:
            for index in range(n_actions):
                kind, description, what = self.choose()
                if what is None:
                    stats.skipped[f"{kind}: {description}"] += 1
                    kind, description, what = "wait", "0 ms", (lambda: "processed events", None)
                act, target = what
                label = f"{kind} {description}"
                if self.on_action is not None:
                    self.on_action(index, label)
                if findings is not None:
                    findings.where(index, label)
                if self.hang_seconds:      # a hang prints every thread's stack and ends the process
                    faulthandler.dump_traceback_later(self.hang_seconds, exit=True)
                started = time.perf_counter()
                try:
                    if target is not None and not _alive(target):
                        raise RuntimeError("target deleted before the action")
                    result = act()
                    label = f"{label}: {result}"
                    if findings is not None:
                        findings.where(index, label)
                except Exception as exc:  # noqa: BLE001 - every exception an action raises is a finding
                    text = "".join(traceback.format_exception(exc))
                    if findings is not None:
                        findings.add("raised", text)
                    else:
                        raise
                self._process()
                took = time.perf_counter() - started
                slow.append((took, index, label[:120]))
                if len(slow) > 40:
                    slow.sort(reverse=True)
                    del slow[10:]
                stats.kinds[kind] += 1
                stats.kind_seconds[kind] += took
                if target is not None and kind not in ("resize", "wait"):
                    stats.widgets[_name(target)] += 1
                running = _is_running(self.window)
                stats.running_actions += running
                step = _step(self.window)
                if step >= self._last_step:
                    stats.steps_trained += step - self._last_step
                else:
                    stats.runs += 1
                    stats.steps_trained += step
                self._last_step = step
                stats.actions = index + 1
                if self.wait_every and (index + 1) % self.wait_every == 0 and running:
                    self._wait(int(self.rng.integers(*self.wait_ms)))
                if self.sample_every and (index + 1) % self.sample_every == 0:
                    self.sample(index + 1, t0)
        finally:
            if self.hang_seconds:
                faulthandler.cancel_dump_traceback_later()
            stats.seconds = time.perf_counter() - t0
            self.modals.restore()
            for item in skipped_items:
                try:
                    item.setEnabled(True)
                except RuntimeError:      # the window (and its box) is already deleted
                    pass
            for call in self.modals.calls:
                stats.dialogs[(call[0], call[1][:50])] += 1
                if findings is not None and call[0] == "_dialog:error" and "Traceback (most recent call last)" in call[2]:
                    findings.items.append(Finding("worker-error", -1, "(an error dialog)", f"{call[1]}\n{call[2]}"))
            slow.sort(reverse=True)
            stats.slowest = slow[:10]
        return stats


def run_monkey(window, qtbot, rng, n_actions, on_action=None, **options) -> Stats:
    """Drive ``window`` with ``n_actions`` random actions drawn from ``rng`` (a numpy Generator).
    ``on_action(index, description)`` is called before each. Options: ``findings`` (a Findings
    to record into: exceptions raised by an action are then recorded instead of propagated),
    ``files`` (a scratch folder for the file dialogs' answers; None: they are always cancelled),
    ``int_cap``, ``skip_presets``, ``wait_every``, ``wait_ms``, ``sample_every``, ``keep_training``.
    Returns Stats."""
    findings = options.pop("findings", None)
    monkey = Monkey(window, qtbot, rng, on_action=on_action, **options)
    monkey.stats.seed = getattr(rng, "seed_label", None)
    return monkey.run(n_actions, findings)


def close_window(window, qtbot=None, timeout_s: float = 30.0) -> bool:
    """Close ``window`` answering Discard to any question, then delete it; True if it closed."""
    modals = NoModals(lambda kind, *a: "Discard" if kind == "question" else None).install(window)
    try:
        closed = window.close()
    finally:
        modals.restore()
    if not closed:
        return False
    window.deleteLater()
    deadline = time.monotonic() + timeout_s
    while _alive(window) and time.monotonic() < deadline:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QApplication.processEvents()
        time.sleep(0.005)
    return True
