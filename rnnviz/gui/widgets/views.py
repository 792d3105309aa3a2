"""pyqtgraph views that time their own painting, and a step axis that grows in nice jumps.

The window budgets how much of the CPU drawing may take (training shares it, and the GIL);
painting happens after a panel's refresh, in its own event, so the views report it.
"""

from __future__ import annotations

import math
import time

import pyqtgraph as pg


class _TimedPaint:
    """Mixin: after every paint, ``painted(view, seconds)`` is called if set."""

    painted = None

    def paintEvent(self, event):  # noqa: N802 - Qt override
        t0 = time.perf_counter()
        super().paintEvent(event)
        if self.painted is not None:
            self.painted(self, time.perf_counter() - t0)


class TimedPlotWidget(_TimedPaint, pg.PlotWidget):
    pass


class TimedGraphicsLayoutWidget(_TimedPaint, pg.GraphicsLayoutWidget):
    pass


NICE = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def nice_ceiling(value: float) -> float:
    """The next round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) at or above ``value``."""
    if value <= 10:
        return 10.0
    exponent = 10 ** math.floor(math.log10(value))
    for m in NICE:
        if m * exponent >= value:
            return m * exponent
    return 10 * exponent


class StepRangeFollower:
    """Keeps a training-step x axis ahead of the data in nice jumps (0..200, 0..500, ...), so the
    axis is not redrawn on every new step. Hands control back to the user once they zoom or pan,
    and takes it again when they press the view's auto-range button."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.vb = plot.getViewBox()
        self.following = True
        self._setting = False
        self._limit = None
        self.vb.enableAutoRange(x=False)
        self.vb.sigRangeChangedManually.connect(self._on_vb_range_changed_manually)

    def reset(self) -> None:
        self.following = True
        self._limit = None

    def update(self, first: float, last: float) -> None:
        if not self.following:
            if self.vb.state["autoRange"][0]:   # the user pressed "A": follow again
                self.following = True
                self.vb.enableAutoRange(x=False)
                self._limit = None
            else:
                return
        span = max(last - first, 1.0)
        limit = first + nice_ceiling(span * 1.03)
        if self._limit is None or last > self._limit or limit < self._limit:
            self._limit = limit
            self.vb.setXRange(first, limit, padding=0.02)

    def _on_vb_range_changed_manually(self, *_):
        self.following = False
