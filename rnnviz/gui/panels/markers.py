"""Setting-change markers: a dashed line on every plot whose x axis is the training step, and
their labels in a strip above the cost plot, in the words of the controls, never overlapping."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from rnnviz.training.config import CHOICE_TITLES, field_label

MARKER_PEN = pg.mkPen((120, 120, 120), width=1, style=Qt.PenStyle.DashLine)
NOT_TRAINING = frozenset({"temperature", "sample_every", "sample_length", "prime", "probe", "eval_every"})
"""Live settings that do not change training: they get no marker."""

# The words of the controls: the labels and choice titles of the settings' registry (training/config.py).
SETTING_WORDS = {name: field_label(name) for name in
                 ("optimizer", "lr", "momentum", "beta1", "beta2", "rho", "eps", "clip_mode", "clip")}
VALUE_WORDS = {name: {value: title.split(" (")[0] for value, title in CHOICE_TITLES[name].items()}
               for name in ("optimizer", "clip_mode")}


def format_value(name: str, value) -> str:
    words = VALUE_WORDS.get(name)
    if words is not None and value in words:
        return words[value]
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def marker_text(name: str, old, new) -> str:
    """``Clipping: by value → none``: the control's label, its old and new value."""
    return f"{field_label(name)}: " \
           f"{format_value(name, old)} → {format_value(name, new)}"


def training_changes(changes) -> list[tuple[int, str]]:
    """(step, label) of every setting change that changes training."""
    return [(int(step), marker_text(name, old, new)) for step, name, old, new in changes
            if name not in NOT_TRAINING]


class MarkerLines:
    """Unlabelled dashed lines at the steps of setting changes on one plot (x = training step)."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.lines: list[tuple[pg.InfiniteLine, float]] = []
        self.log_x = False

    def clear(self) -> None:
        for line, _ in self.lines:
            self.plot.removeItem(line)
        self.lines.clear()

    def set_steps(self, steps, tips=()) -> None:
        """Lines at ``steps`` (only the new ones are added)."""
        steps = list(steps)
        if len(steps) < len(self.lines):
            self.clear()
        tips = list(tips) + [""] * len(steps)
        for step, tip in zip(steps[len(self.lines):], tips[len(self.lines):]):
            line = pg.InfiniteLine(pos=self._x(step), angle=90, pen=MARKER_PEN, movable=False)
            line.setToolTip(tip)
            line.setZValue(10)
            self.plot.addItem(line, ignoreBounds=True)
            self.lines.append((line, float(step)))

    def set_log_x(self, log_x: bool) -> None:
        self.log_x = log_x
        for line, step in self.lines:
            line.setPos(self._x(step))

    def _x(self, step: float) -> float:
        import math
        return math.log10(max(step, 1e-9)) if self.log_x else step


class MarkerStrip(QWidget):
    """The labels of setting changes, each starting at its step's x on ``plot`` (a sibling
    widget's PlotItem), in up to ``MAX_ROWS`` rows: a label goes to the first row where it
    clears the previous one; when none has room it is moved right, past the end of the
    emptiest row, with a leader to its step. Labels never overlap; ``label_rects`` says where
    each one is drawn (for tests)."""

    MAX_ROWS = 3
    GAP = 6.0

    def __init__(self, plot_widget, plot: pg.PlotItem, parent=None):
        super().__init__(parent)
        self._plot_widget = plot_widget
        self._plot = plot
        self._markers: list[tuple[float, str]] = []     # (x in the plot's coordinates, text)
        self._rects: list[tuple[QRectF, str, float]] = []
        self._rows = 0
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(0)
        plot.vb.sigXRangeChanged.connect(self.update)
        plot.vb.sigResized.connect(self.update)

    def set_markers(self, markers: list[tuple[float, str]]) -> None:
        """``(x, text)`` per marker, x in the plot's coordinates (log10 of the step on a log axis)."""
        self._markers = list(markers)
        rows = min(self.MAX_ROWS, len(self._markers))
        if rows != self._rows:
            self._rows = rows
            self.setFixedHeight(int(rows * self._line_height()) + (2 if rows else 0))
        self.update()

    def _line_height(self) -> float:
        return QFontMetricsF(self.font()).height() + 2

    def _x_of(self, x: float) -> float | None:
        """Where plot x-coordinate ``x`` lies in this widget, or None when outside the view."""
        (x0, x1), _ = self._plot.vb.viewRange()
        if not x0 <= x <= x1:
            return None
        scene = self._plot.vb.mapViewToScene(QPointF(x, 0.0))
        local = self._plot_widget.mapFromScene(scene)
        return float(self.mapFromGlobal(self._plot_widget.mapToGlobal(local)).x())

    def layout_labels(self) -> list[tuple[QRectF, str, float]]:
        """(rectangle, text, x of its step) of every label in view, none overlapping."""
        metrics = QFontMetricsF(self.font())
        height = self._line_height()
        ends = [-1e9] * max(1, self._rows)          # right edge of the last label in each row
        placed = []
        shown = [(px, text) for px, text in ((self._x_of(x), text) for x, text in self._markers) if px is not None]
        for px, text in sorted(shown, key=lambda m: m[0]):
            width = metrics.horizontalAdvance(text) + 6
            left = max(0.0, px)
            row = next((r for r, end in enumerate(ends) if left >= end + self.GAP), None)
            if row is None:                          # no room at its step: after the emptiest row
                row = min(range(len(ends)), key=ends.__getitem__)
                left = ends[row] + self.GAP
            rect = QRectF(left, row * height + 1, width, height - 1)
            ends[row] = rect.right()
            placed.append((rect, text, px))
        self._rects = placed
        return placed

    def label_rects(self) -> list[tuple[QRectF, str]]:
        return [(rect, text) for rect, text, _ in self.layout_labels()]

    def paintEvent(self, event):  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for rect, text, px in self.layout_labels():
            if rect.left() - px > 1:                 # moved right of its step: a leader back to it
                painter.setPen(QPen(QColor(150, 150, 150), 1, Qt.PenStyle.DotLine))
                painter.drawLine(QPointF(px, rect.center().y()), QPointF(rect.left(), rect.center().y()))
            painter.setPen(QPen(QColor(150, 150, 150), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(px, rect.top()), QPointF(px, self.height()))
            painter.fillRect(rect, QColor(250, 250, 250))
            painter.setPen(QColor(60, 60, 60))
            painter.drawText(rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             text)
        painter.end()
