"""Hidden states across time: a heatmap of units x time steps for the probe sequence."""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..run_data import RunData
from ..widgets.views import TimedGraphicsLayoutWidget
from .gradient_flow import plain_axis

DIVERGING = pg.colormap.get("CET-D1A")   # blue - white - red, white at the centre (0)
SEQUENTIAL = pg.colormap.get("viridis")  # gates live in [0, 1]
SYMBOL_NAMES = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}
STATE_HELP = {
    "hidden": "the hidden state a<t>: what the network remembers after reading the input at step t",
    "cell": "the LSTM cell state c<t>: the long-term memory the gates write to and read from",
    "forget": "the forget gate Γf: 1 keeps the old cell state, 0 erases it",
    "update": "the update gate: how much new information is written at step t",
    "input": "the input (update) gate Γi: how much of the candidate is written into the cell",
    "output": "the output gate Γo: how much of the cell state is shown as a<t>",
    "reset": "the GRU reset gate Γr: how much of a<t-1> the candidate may use",
    "candidate": "the candidate value c~<t> proposed at step t",
}


def symbol_label(symbol: str) -> str:
    return SYMBOL_NAMES.get(symbol, symbol if symbol.isprintable() else repr(symbol)[1:-1])


def explain_state(name: str) -> str:
    low = name.lower()
    for key, text in STATE_HELP.items():
        if key in low:
            return text
    return name


class HiddenStatesPanel(QWidget):
    """Heatmap of one probe state (hidden, cell or a gate), hidden units x time steps."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._probe = None
        self._state_name: str | None = None
        self._labels: list[str] = []

        self.state_box = QComboBox()
        self.state_box.setToolTip("Which quantity to show for every unit and time step: the hidden state, or "
                                  "for LSTM/GRU the cell state and each gate.")
        self.state_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.state_box.setMinimumContentsLength(12)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #444;")
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.state_box)
        top.addWidget(self.caption, 1)

        self.graphics = TimedGraphicsLayoutWidget()
        self.views = [self.graphics]
        self.plot = self.graphics.addPlot(row=0, col=0)
        self.plot.setLabel("bottom", "time step t → (tick labels: the input symbol read at that step)")
        self.plot.setLabel("left", "hidden unit")
        self.plot.setMenuEnabled(False)
        self.plot.getViewBox().invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=DIVERGING, interactive=False,
                                        label="value", width=14)
        self.colorbar.setImageItem(self.image)
        self.graphics.addItem(self.colorbar, row=0, col=1)
        # Units and time steps are counts with their own tick labels: no "(x0.001)" on these labels
        # (nor on the colour bar's, which names the state).
        for axis in (self.plot.getAxis("bottom"), self.plot.getAxis("left"),
                     self.colorbar.getAxis("left"), self.colorbar.getAxis("right")):
            plain_axis(axis)
        self._show_empty()
        self.readout = QLabel("Hover over the heatmap to read unit, step, value and input.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)

        self.state_box.activated.connect(self._on_state_box_activated)
        self._hover_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_hover_proxy_fired)

    def clear(self) -> None:
        self._probe = None
        self.state_box.clear()
        self.image.clear()
        self._show_empty()

    def _show_empty(self) -> None:
        """No probe yet: no tick labels (the next probe sets units and input symbols), and a fixed
        range instead of the empty image's -0.5..0.5."""
        self._labels = []
        for side in ("bottom", "left"):
            self.plot.getAxis(side).setTicks([[], []])
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def refresh(self, data: RunData) -> bool:
        """Show the latest probe; False if there was nothing new to draw."""
        probe = data.probe
        if probe is None or probe is self._probe:
            return False
        first = self._probe is None
        self._probe = probe
        names = list(probe.states)
        if [self.state_box.itemText(i) for i in range(self.state_box.count())] != names:
            self.state_box.clear()
            self.state_box.addItems(names)
            if self._state_name not in names:
                self._state_name = names[0]
            self.state_box.setCurrentText(self._state_name)
            first = True
        if probe.labels != self._labels:
            self._labels = list(probe.labels)
            self._set_time_ticks(self._labels)
        self._show_state(first)
        return True

    def _show_state(self, new_layout: bool) -> None:
        probe = self._probe
        values = np.asarray(probe.states[self._state_name], dtype=float)   # (H, T)
        lo, hi = probe.ranges.get(self._state_name, (float(np.nanmin(values)), float(np.nanmax(values))))
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            bound = float(np.nanmax(np.abs(values))) or 1.0
            lo, hi = -bound, bound
        cmap = DIVERGING if lo < 0 < hi else SEQUENTIAL
        if lo < 0 < hi:
            lo, hi = -max(-lo, hi), max(-lo, hi)   # centre the diverging map at 0
        self.image.setImage(values, levels=(lo, hi), autoLevels=False)
        if new_layout or self.colorbar.levels() != (lo, hi):
            self.colorbar.setColorMap(cmap)
            self.colorbar.setLevels((lo, hi))
            self.colorbar.setLabel("left", html.escape(self._state_name))
        H, T = values.shape
        self.image.setRect(QRectF(0, 0, T, H))
        if new_layout:
            step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if H / s <= 14)
            self.plot.getAxis("left").setTicks([[(h + 0.5, str(h)) for h in range(0, H, step)], []])
            self.plot.setRange(xRange=(0, T), yRange=(0, H), padding=0)
            self.caption.setText(explain_state(self._state_name).capitalize() +
                                 f". Probe: {self._probe_description()}")

    def _probe_description(self) -> str:
        text = "".join(self._labels)
        if len(text) > 60:
            text = text[:57] + "…"
        return f"a fixed input of {len(self._labels)} steps, “{text}”"

    def _set_time_ticks(self, labels: list[str]) -> None:
        T = len(labels)
        every = max(1, math.ceil(T / 50))
        major = [(t + 0.5, symbol_label(labels[t])) for t in range(0, T, every)]
        minor = [(t + 0.5, "") for t in range(T)]
        self.plot.getAxis("bottom").setTicks([major, minor])

    def _on_state_box_activated(self, index: int) -> None:
        self._state_name = self.state_box.itemText(index)
        if self._probe is not None:
            self._show_state(True)

    def _on_hover_proxy_fired(self, args) -> None:
        probe = self._probe
        if probe is None or self._state_name not in probe.states:
            return
        pos = self.plot.vb.mapSceneToView(args[0])
        values = probe.states[self._state_name]
        H, T = values.shape
        t, h = int(math.floor(pos.x())), int(math.floor(pos.y()))
        if 0 <= t < T and 0 <= h < H:
            symbol = symbol_label(probe.labels[t]) if t < len(probe.labels) else "?"
            self.readout.setText(f"unit {h}, step t={t + 1}, input “{symbol}”: "
                                 f"{self._state_name} = {values[h, t]:+.4f}")
