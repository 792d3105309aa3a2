"""When the window redraws: frames of every visible panel, held to a share of the time.

Drawing shares the CPU and the GIL with training (even Qt's painting holds it under PySide6).
A frame redraws every visible, out-of-date panel from the same RunData, so all of them show the
same snapshot's step; its cost (refreshes and then the paints Qt makes) is measured, and the next
frame waits long enough that drawing takes at most ``RENDER_SHARE`` of the time: under load whole
frames are skipped, never single panels. While a frame is drawn the worker holds back at its next
step boundary (``gate`` cleared), so the two threads do not fight over the GIL call by call.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer

RENDER_MIN_GAP = 0.012         # seconds between two frames: at most ~20 per second
RENDER_SHARE = 0.015           # frames may use at most ~1.5% of the time: under full-speed
                               # training a frame every ~2-3 s (the cost and gradient panels ~10 ms each)
STRAY_PAINT_MAX = 0.05         # seconds of paints between two frames added to the next one's cost
PAINT_TIMEOUT_MS = 100         # a frame ends this long after its refreshes even if a view never paints


class FrameScheduler(QObject):
    """Redraws ``panels`` ({key: panel with ``refresh(data) -> bool`` and ``views``}) in frames.

    data: returns the RunData to draw.  visible(key): whether that panel is on screen.
    running: whether training runs (only then do Qt's own repaints count against the budget).
    gate: the worker's "GUI idle" event, cleared while a frame is drawn in a shown window
    (``window_shown``).  before_frame: called at every frame (the status bar).

    ``costs`` holds each panel's share of the latest frame it was in, ``frame_cost`` the latest
    frame's refreshes and paints, ``frames`` how many frames were drawn (seconds and counts).
    """

    def __init__(self, panels: dict, *, data: Callable, visible: Callable[[str], bool],
                 running: Callable[[], bool], gate: threading.Event, window_shown: Callable[[], bool],
                 before_frame: Callable[[], None] = lambda: None, parent=None):
        super().__init__(parent)
        self.panels = panels
        self._data, self._visible, self._running = data, visible, running
        self._gate, self._window_shown, self._before_frame = gate, window_shown, before_frame
        self.dirty: set[str] = set()       # panels whose data changed since they were drawn
        self.painting: set = set()         # views of the frame being drawn that have not painted yet
        self.cost = 0.0                    # the frame being drawn, so far
        self.stray_paint = 0.0             # seconds of paints no frame asked for (Qt's own, a resize)
        self.wait = RENDER_MIN_GAP         # before the next frame
        self.costs: dict[str, float] = {}
        self.frame_cost = 0.0
        self.frames = 0
        self.timer = QTimer(self, singleShot=True)
        self.timer.timeout.connect(self.draw_frame)
        self._paint_timeout = QTimer(self, singleShot=True, interval=PAINT_TIMEOUT_MS)
        self._paint_timeout.timeout.connect(self.finish_frame)
        self.view_panel = {}
        for key, panel in panels.items():
            for view in panel.views:
                view.painted = self.view_painted
                self.view_panel[view] = key

    def schedule(self) -> None:
        """Every panel is out of date: draw a frame when the budget allows."""
        self.dirty.update(self.panels)
        self._arm()

    def _arm(self) -> None:
        if not self.timer.isActive() and not self.painting:
            self.timer.start(int(self.wait * 1000))

    def draw_frame(self) -> None:
        """Refresh every visible panel that is out of date from the same data, then let Qt paint
        them (one paint each); the frame ends when all have painted."""
        keys = [k for k in self.panels if k in self.dirty and self._visible(k)]
        self._before_frame()
        if not keys:
            return
        self.dirty.difference_update(keys)
        gated = self._window_shown()
        if gated:
            self._gate.clear()
        data = self._data()
        self.cost = 0.0
        waiting = set()
        for key in keys:
            panel = self.panels[key]
            t0 = time.perf_counter()
            if panel.refresh(data):
                # pyqtgraph brings ranges up to date just before painting, and a range that changes
                # then schedules a second paint of the whole view: do it now, so one paint suffices
                for view in panel.views:
                    view.scene().prepareForPaint()
                waiting.update(panel.views)
            cost = time.perf_counter() - t0
            self.costs[key] = cost
            self.cost += cost
        self.frames += 1
        if waiting and gated:
            self.painting = waiting
            self._paint_timeout.start()      # in case Qt does not paint them all after all
        else:
            self.finish_frame()

    def view_painted(self, view, seconds: float) -> None:
        """A view reports a paint that took ``seconds``."""
        if view in self.painting:
            self.painting.discard(view)
            self.cost += seconds
            self.costs[self.view_panel[view]] += seconds
            if not self.painting:
                self.finish_frame()
        elif self._running():
            # counted against the budget with the next frame (at most STRAY_PAINT_MAX of it, so
            # a spell of hovering or resizing delays the next frame by a few seconds at most)
            self.stray_paint = min(self.stray_paint + seconds, STRAY_PAINT_MAX)

    def finish_frame(self) -> None:
        self._paint_timeout.stop()
        self.painting = set()
        self._gate.set()
        cost = self.cost + self.stray_paint
        self.frame_cost = self.cost
        self.stray_paint = 0.0
        self.wait = max(RENDER_MIN_GAP, cost / RENDER_SHARE - cost)
        if self.dirty:
            self._arm()

    def draw_now(self) -> None:
        """Redraw every panel at once, outside the budget (after a reset, for tests and screenshots)."""
        data = self._data()
        for panel in self.panels.values():
            panel.refresh(data)
        self.dirty.clear()
        self._before_frame()
