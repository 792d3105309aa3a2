"""Cost panel: raw loss (faint), debiased moving average, held-out metric, setting-change markers."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..run_data import RunData, SmoothedSeries
from ..widgets.sliders import ValueSlider
from ..widgets.views import StepRangeFollower, TimedPlotWidget
from .gradient_flow import plain_axis

METRIC_TITLES = {
    "accuracy": "test accuracy (fraction correct)",
    "sum_accuracy": "test sums fully right (fraction)",
    "bit_accuracy": "test bit accuracy (fraction)",
    "bits_per_char": "test bits per character",
    "loss": "test loss (nats)",
}
METRIC_PREFERENCE = ("accuracy", "sum_accuracy", "bits_per_char", "bit_accuracy")
METRIC_LEGEND = "held-out metric (right axis, dots)"
RAW_PEN = pg.mkPen((70, 110, 200, 70), width=1)
EMA_PEN = pg.mkPen((25, 70, 180), width=2)
METRIC_PEN = pg.mkPen((220, 110, 0), width=2)
MARKER_PEN = pg.mkPen((120, 120, 120), width=1, style=Qt.PenStyle.DashLine)
NOT_TRAINING = frozenset({"temperature", "sample_every", "sample_length", "prime", "eval_every"})
"""Live settings that do not change training: they get no marker on the cost plot."""


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def marker_text(name: str, old, new) -> str:
    return f"{name} {format_value(old)}→{format_value(new)}"


class CostPanel(QWidget):
    """Loss per training step, smoothed, with the held-out metric on its own (right) axis."""

    smoothing_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._beta = 0.9
        self._ema = SmoothedSeries(self._beta)
        self._markers: list[pg.InfiniteLine] = []
        self._n_markers_shown = 0
        self._revision = -1
        self._data: RunData | None = None
        self._metric: str | None = None

        self.log_box = QCheckBox("Log scale")
        self.log_box.setToolTip("Show the loss axis on a true logarithmic scale (ticks at 10^k).")
        self.smoothing = ValueSlider(0.0, 0.999, 0.9, resolution=999, fmt="{:.3f}")
        self.smoothing.setToolTip("Smoothing of the dark curve: weight of the past in an exponential moving "
                                  "average (0 = raw loss, 0.999 = very smooth). Debiased, so the start is not "
                                  "pulled towards zero. Does not change training.")
        self.metric_box = QComboBox()
        self.metric_box.setToolTip("Which held-out metric to draw on the right axis.")
        self.metric_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        top = QHBoxLayout()
        top.addWidget(QLabel("Smoothing"))
        top.addWidget(self.smoothing, 1)
        top.addWidget(self.log_box)
        top.addWidget(QLabel("Right axis"))
        top.addWidget(self.metric_box)

        self.plot_widget = TimedPlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.views = [self.plot_widget]
        self.x_follower = StepRangeFollower(self.plot)
        self.plot.setLabel("bottom", "training step")
        self.plot.setLabel("left", "training loss (nats)")
        for side in ("bottom", "left", "right"):   # (steps are counts; no "(x0.001)" on any label)
            plain_axis(self.plot.getAxis(side))
        # No grid: pyqtgraph draws it with the axes, which would then be repainted on every update.
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt",
                                          brush=(255, 255, 255, 200), pen=(210, 210, 210))
        self.raw_curve = self.plot.plot(pen=RAW_PEN, name="loss per step (raw)")
        self.ema_curve = self.plot.plot(pen=EMA_PEN, name="loss, smoothed")
        for curve in (self.raw_curve, self.ema_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        # Held-out metric in its own ViewBox, sharing the step axis (pyqtgraph's multi-axis recipe).
        self.metric_view = pg.ViewBox()
        self.plot.showAxis("right")
        self.plot.scene().addItem(self.metric_view)
        self.plot.getAxis("right").linkToView(self.metric_view)
        self.metric_view.setXLink(self.plot)
        self.metric_curve = pg.PlotDataItem(pen=METRIC_PEN, symbol="o", symbolSize=5,
                                            symbolBrush=(220, 110, 0), symbolPen=None)
        self.metric_view.addItem(self.metric_curve)
        self.legend.addItem(self.metric_curve, METRIC_LEGEND)
        self.plot.vb.sigResized.connect(self._on_plot_resized)
        self.crosshair = pg.InfiniteLine(angle=90, pen=pg.mkPen((0, 0, 0, 60)))
        self.crosshair.setZValue(20)
        self.crosshair.hide()
        self.plot.addItem(self.crosshair, ignoreBounds=True)
        self._show_empty_range()

        self.readout = QLabel("Hover over the plot to read values.")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.readout)

        self.log_box.toggled.connect(self._on_log_box_toggled)
        self._smoothing_proxy = pg.SignalProxy(self.smoothing.value_changed, rateLimit=10,
                                               slot=self._on_smoothing_proxy_fired)
        self.metric_box.activated.connect(self._on_metric_box_activated)
        self._hover_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_hover_proxy_fired)

    # ---- updating ---------------------------------------------------------------------------
    def clear(self) -> None:
        self._ema.reset()
        for line in self._markers:
            self.plot.removeItem(line)
        self._markers.clear()
        self._n_markers_shown = 0
        self._revision = -1
        self._show_empty_range()
        self.raw_curve.setData([], [])
        self.ema_curve.setData([], [])
        self.metric_curve.setData([], [])
        self.metric_box.clear()
        self.metric_box.addItem("(after the first test)", None)
        self.plot.setLabel("right", "held-out metric (measured every few steps)")
        self.legend.removeItem(self.metric_curve)
        self.legend.addItem(self.metric_curve, METRIC_LEGEND)
        self._metric = None

    def _show_empty_range(self) -> None:
        """Before the first step: training steps 0..10, where the step axis starts following the
        run (pyqtgraph's default 0..1 would read as fractional steps)."""
        self.x_follower.reset()
        self.x_follower.update(0.0, 0.0)
        # Loss and metric axes: 0..1 again (not the previous run's values), fitted to the next data.
        for view in (self.plot.getViewBox(), self.metric_view):
            view.setYRange(0.0, 1.0, padding=0)
            view.enableAutoRange(y=True)

    def set_loss_label(self, text: str) -> None:
        self.plot.setLabel("left", text)

    def refresh(self, data: RunData) -> bool:
        """Show ``data``; False if there was nothing new to draw."""
        self._data = data
        if data.revision == self._revision:
            return False
        self._revision = data.revision
        loss = data.loss
        if data.step:
            self.x_follower.update(0.0, float(data.step))
        self.raw_curve.setData(*loss.envelope())
        self._ema.set_beta(self._beta ** loss.size)    # a bucket of n steps decays like n steps
        self.ema_curve.setData(loss.x, self._ema.update(loss.mean))
        self._refresh_metric(data)
        self._refresh_markers(data)
        return True

    def _refresh_metric(self, data: RunData) -> None:
        names = data.metric_names()
        if names and [self.metric_box.itemData(i) for i in range(self.metric_box.count())] != names:
            current = self._metric
            self.metric_box.clear()
            for name in names:
                self.metric_box.addItem(METRIC_TITLES.get(name, name.replace("_", " ")), name)
            if current not in names:
                current = next((n for n in METRIC_PREFERENCE if n in names), names[0])
            self._set_metric(current)
        if self._metric:
            x, y = data.metric_series(self._metric)
            self.metric_curve.setData(x, y)

    def _set_metric(self, name: str) -> None:
        self._metric = name
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(name)))
        title = METRIC_TITLES.get(name, name.replace("_", " "))
        self.plot.setLabel("right", title)
        self.legend.removeItem(self.metric_curve)
        self.legend.addItem(self.metric_curve, f"{title.split(' (')[0]} (right axis)")
        if "accuracy" in name:
            self.metric_view.enableAutoRange(y=False)
            self.metric_view.setYRange(0, 1.02, padding=0)
        else:
            self.metric_view.enableAutoRange(y=True)

    def _refresh_markers(self, data: RunData) -> None:
        changes = data.setting_changes
        for i in range(self._n_markers_shown, len(changes)):
            step, name, old, new = changes[i]
            if name in NOT_TRAINING:
                continue
            line = pg.InfiniteLine(
                pos=step, angle=90, pen=MARKER_PEN,
                label=marker_text(name, old, new).replace("{", "{{").replace("}", "}}"),
                labelOpts={"position": 0.93 - 0.08 * (len(self._markers) % 4), "color": (60, 60, 60),
                           "fill": (255, 255, 255, 200), "movable": False})
            line.setZValue(10)
            self.plot.addItem(line, ignoreBounds=True)
            self._markers.append(line)
        self._n_markers_shown = len(changes)

    @property
    def marker_labels(self) -> list[str]:
        return [line.label.format for line in self._markers]

    # ---- user actions -------------------------------------------------------------------------
    def _on_plot_resized(self) -> None:
        self.metric_view.setGeometry(self.plot.vb.sceneBoundingRect())
        self.metric_view.linkedViewChanged(self.plot.vb, self.metric_view.XAxis)

    def _on_log_box_toggled(self, checked: bool) -> None:
        self.plot.setLogMode(y=checked)
        self.plot.setLabel("left", self.plot.getAxis("left").labelText)
        self.plot.enableAutoRange(y=True)

    def set_smoothing(self, beta: float) -> None:
        self._beta = float(beta)
        self.smoothing.set_value(self._beta)
        if self._data is not None:
            loss = self._data.loss
            self._ema.set_beta(self._beta ** loss.size)
            self.ema_curve.setData(loss.x, self._ema.update(loss.mean))
        self.smoothing_changed.emit(self._beta)

    def _on_smoothing_proxy_fired(self, args) -> None:
        self.set_smoothing(float(args[0]))

    def _on_metric_box_activated(self, index: int) -> None:
        if self.metric_box.itemData(index) is None:
            return
        self._set_metric(self.metric_box.itemData(index))
        if self._data is not None:
            x, y = self._data.metric_series(self._metric)
            self.metric_curve.setData(x, y)

    def _on_hover_proxy_fired(self, args) -> None:
        pos = args[0]
        data = self._data
        if data is None or not self.plot.sceneBoundingRect().contains(pos) or len(data.loss) == 0:
            self.crosshair.hide()
            return
        x = self.plot.vb.mapSceneToView(pos).x()
        loss = data.loss
        steps = loss.x
        i = int(np.clip(np.searchsorted(steps, x, side="right") - 1, 0, len(steps) - 1))
        if loss.size == 1 and i + 1 < len(steps) and abs(steps[i + 1] - x) < abs(steps[i] - x):
            i += 1
        self.crosshair.setPos(steps[i])
        self.crosshair.show()
        if loss.size == 1:
            text = f"step {int(steps[i]):,}: loss {loss.mean[i]:.4g}"
        else:
            text = (f"steps {int(steps[i]):,}–{int(steps[i]) + loss.size - 1:,}: loss {loss.lo[i]:.4g} to "
                    f"{loss.hi[i]:.4g}, mean {loss.mean[i]:.4g}")
        ema = self._ema.values.view
        if i < len(ema):
            text += f", smoothed {ema[i]:.4g}"
        smooth = data.smooth_loss
        if data.has_smooth_loss and i < len(smooth) and np.isfinite(smooth.mean[i]):
            text += f", min-char-rnn smooth_loss {smooth.mean[i]:.4g}"
        if self._metric:
            xs, ys = data.metric_series(self._metric)
            if xs.size:
                j = int(np.clip(np.searchsorted(xs, steps[i], side="right") - 1, 0, xs.size - 1))
                text += f" · {METRIC_TITLES.get(self._metric, self._metric)} {ys[j]:.4g} (at step {int(xs[j]):,})"
        self.readout.setText(text)

    @property
    def smoothing_value(self) -> float:
        return self._beta
