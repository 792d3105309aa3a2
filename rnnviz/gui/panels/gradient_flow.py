"""Gradient flow: ||dL/da<t>|| per time step (latest step and over training), per-parameter norms."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..run_data import TINY, RunData
from ..widgets.views import StepRangeFollower, TimedGraphicsLayoutWidget
from .markers import MarkerLines, training_changes

IMAGE_MAP = pg.colormap.get("inferno")
PARAM_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127)]
THRESHOLD_PEN = pg.mkPen((200, 0, 0), width=1.5, style=Qt.PenStyle.DashLine)
EMPTY_NORMS = (1e-3, 10.0)
"""Gradient norms an empty plot shows room for (log axes), before the first training step."""
DEFAULT_TIME_STEPS = 10
"""Time steps an empty plot shows while the sequence length is not known yet."""
LATEST_TITLE = "latest step"
IMAGE_LEVELS = (-6.0, 0.0)


def plain_axis(axis: pg.AxisItem) -> None:
    """Tick labels as they are, without pyqtgraph's automatic SI-prefix scale ("time step t (x0.001)").

    For counts (time steps, training steps, units) and log10 axes, where such a scale means
    nothing. pyqtgraph scales a unit-less axis whenever its range stays within ±1, so an empty
    plot (an empty image's range is -0.5..0.5) would otherwise show one. The enable ranges are
    emptied first because disabling computes the scale once more from the current range: a range
    within ±1 would leave every tick label multiplied by 1000 (with no note on the label).
    """
    axis.setSIPrefixEnableRanges(())
    axis.enableAutoSIPrefix(False)


def positive_or_nan(values) -> np.ndarray:
    """Zero or non-finite norms become gaps on a log axis instead of plunging to a floor."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def fit_log_range(plot: pg.PlotItem, arrays, min_decades: float = 1.5) -> None:
    """Y range of a log-scale plot around the data, at least ``min_decades`` tall, so its ticks
    are whole powers of ten (a narrower log axis crowds its labels)."""
    lows, highs = [], []
    for values in arrays:
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            lows.append(values.min())
            highs.append(values.max())
    if not lows:
        return
    lo, hi = math.log10(min(lows)), math.log10(max(highs))
    if hi - lo < min_decades:
        mid = 0.5 * (lo + hi)
        lo, hi = mid - min_decades / 2, mid + min_decades / 2
    # Redraw the axis only when the range really moves (every axis redraw costs a repaint).
    key = (round(lo, 1), round(hi, 1))
    if getattr(plot, "_rnnviz_log_range", None) != key:
        plot._rnnviz_log_range = key
        plot.setYRange(lo, hi, padding=0.05)
        plot.getAxis("left").setTicks(log_ticks(lo, hi))


def log_ticks(lo: float, hi: float, max_labels: int = 6):
    """Ticks for a log10 axis from 10^lo to 10^hi: labelled powers of ten (every k-th one if
    there are many), plus 2x and 5x when the range is short; unlabelled minor ticks between."""
    first, last = math.floor(lo), math.ceil(hi)
    decades = list(range(first, last + 1))
    every = max(1, math.ceil(len(decades) / max_labels))
    major = [(float(k), format_power(k)) for k in decades if k % every == 0 and lo - 0.1 <= k <= hi + 0.1]
    minor = []
    short = hi - lo < 2.5
    for k in decades:
        for m in range(2, 10):
            v = k + math.log10(m)
            if lo <= v <= hi:
                if short and m in (2, 5):
                    major.append((v, f"{m * 10.0 ** k:g}"))
                else:
                    minor.append((v, ""))
    return [sorted(major), minor]


def format_power(k: int) -> str:
    if -3 <= k <= 3:
        return f"{10.0 ** k:g}"
    return f"1e{k}"


class GradientFlowPanel(QWidget):
    """Vanishing/exploding gradients made visible."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._revision = -1
        self._param_curves: dict[str, pg.PlotDataItem] = {}
        self._clip = (None, None)
        self._cell = ("rnn", "tanh")
        self._waa = "Waa"                   # the recurrent matrix named in the header (enc.Waa: encoder–decoder)
        self._time_steps: int | None = None   # T the time-step axes show
        self._has_norms = False

        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)   # never widens the window
        self.header.setToolTip("Spectral radius: the largest |eigenvalue| of the recurrent matrix Waa. Above 1, "
                               "signals (and gradients) passed through time can grow; below 1 they shrink. "
                               "Saturated: fraction of hidden units stuck near ±1 on the probe, where tanh "
                               "passes almost no gradient.")
        self.graphics = TimedGraphicsLayoutWidget()
        self.views = [self.graphics]

        self.latest = self.graphics.addPlot(row=0, col=0, title=LATEST_TITLE)
        self.latest.setLabel("bottom", "time step t")
        self.latest.setLabel("left", "‖∂L/∂a⟨t⟩‖ (log scale)")
        self.latest.setLogMode(y=True)
        for side in ("left", "bottom"):
            plain_axis(self.latest.getAxis(side))

        # (no grid: it would make every update repaint the axes)
        self.latest_a = self.latest.plot(pen=pg.mkPen((31, 119, 180), width=2), symbol="o", symbolSize=4,
                                         symbolBrush=(31, 119, 180), symbolPen=None)
        self.latest_c = self.latest.plot(pen=pg.mkPen((214, 39, 40), width=2, style=Qt.PenStyle.DashLine))

        self.over_time = self.graphics.addPlot(row=0, col=1, title="‖∂L/∂a⟨t⟩‖ over training")
        self.over_time.getViewBox().setToolTip("Each column is one training step (or the mean of several): "
                                               "colour is log10 ‖∂L/∂a⟨t⟩‖ at every time step t. Dark at "
                                               "small t: the gradient vanishes before it reaches early steps.")
        self.over_time.setLabel("bottom", "training step")
        self.over_time.setLabel("left", "time step t")
        for side in ("left", "bottom"):
            plain_axis(self.over_time.getAxis(side))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.over_time.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=IMAGE_LEVELS, colorMap=IMAGE_MAP, interactive=False,
                                        label="log10 norm", width=12)
        self.colorbar.setImageItem(self.image)
        for side in ("left", "right"):   # (label; log10 values)
            plain_axis(self.colorbar.getAxis(side))
        self.graphics.addItem(self.colorbar, row=0, col=2)

        self.params = self.graphics.addPlot(row=1, col=0, colspan=3)
        self.params.setLabel("bottom", "training step")
        self.params.setLabel("left", "‖∂L/∂W‖ (log)")
        self.params.getViewBox().setToolTip("Gradient norm of each weight matrix at every training step, before "
                                            "clipping; black: all parameters together (the global norm that "
                                            "norm clipping compares with the threshold). In a long run a point stands for "
                                            "several steps and shows the largest norm among them, so a "
                                            "one-step spike stays visible.")
        self.params.setLogMode(y=True)
        for side in ("left", "bottom"):
            plain_axis(self.params.getAxis(side))

        # (no grid here: it would make every update repaint the axes)
        self.global_curve = self.params.plot(pen=pg.mkPen((0, 0, 0), width=1.5), connect="finite")
        self.global_curve.setDownsampling(auto=True, method="peak")
        self.global_curve.setClipToView(True)
        self.threshold = pg.InfiniteLine(angle=0, pen=THRESHOLD_PEN, label="clip threshold",
                                         labelOpts={"position": 0.98, "color": (200, 0, 0),
                                                    "fill": (255, 255, 255, 190),
                                                    "anchors": [(1, 1), (1, 1)]})
        self.threshold.setZValue(10)
        self.params.addItem(self.threshold, ignoreBounds=True)
        self.threshold.hide()
        # Value clipping caps each entry, not a norm: a note instead of a line on the norm axis.
        self.clip_note = pg.TextItem(color=(200, 0, 0), anchor=(1, 0), fill=(255, 255, 255, 190))
        self.clip_note.setParentItem(self.params.getViewBox())
        self.clip_note.hide()
        self.params.getViewBox().sigResized.connect(self._place_clip_note)
        self.marker_lines = [MarkerLines(self.over_time), MarkerLines(self.params)]
        self.image_follower = StepRangeFollower(self.over_time)
        self.params_follower = StepRangeFollower(self.params)
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        self.graphics.ci.layout.setColumnStretchFactor(0, 2)
        self.graphics.ci.layout.setColumnStretchFactor(1, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.graphics, 1)
        self._show_header(None, None)
        self._show_empty_ranges()

    def clear(self) -> None:
        self._revision = -1
        self._has_norms = False
        for lines in self.marker_lines:
            lines.clear()
        for curve in self._param_curves.values():
            self.params.removeItem(curve)
        self._param_curves.clear()
        self._set_params_title([])
        for item in (self.latest_a, self.latest_c, self.global_curve):
            item.setData([], [])
        self.image.clear()
        self.colorbar.setLevels(IMAGE_LEVELS)   # (not the previous run's)
        self.latest.setTitle(LATEST_TITLE)
        self._show_header(None, None)
        self._show_empty_ranges()

    def _show_empty_ranges(self) -> None:
        """Before the first step: training steps 0..10, time steps 1..T, norms 0.001..10 (not
        pyqtgraph's default 0..1, which reads as fractional steps)."""
        for follower in (self.image_follower, self.params_follower):
            follower.reset()
            follower.update(0.0, 0.0)   # the range the follower starts from (0..10)
        self._set_time_steps(self._time_steps or DEFAULT_TIME_STEPS)
        fit_log_range(self.latest, [EMPTY_NORMS])
        self._fit_empty_params()

    def _fit_empty_params(self) -> None:
        """The empty parameter plot's norm range, with room for the clipping threshold line."""
        shown = [EMPTY_NORMS]
        if self._clip[0] == "norm":
            shown.append([self._clip[1], 30 * self._clip[1]])   # (its label sits above the line)
        fit_log_range(self.params, shown)

    def _set_time_steps(self, T: int) -> None:
        """Time-step axes from 1 to T (one unit per step), on the latest-step curve and the image."""
        self._time_steps = T
        self.latest.setXRange(0.5, T + 0.5, padding=0.02)   # (room for the last tick label)
        self.over_time.setYRange(0.5, T + 0.5, padding=0)

    @staticmethod
    def _data_time_steps(data: RunData) -> int | None:
        if data.latest_grad_a is not None:
            return int(np.size(data.latest_grad_a))
        if data.gradient_image.T:
            return int(data.gradient_image.T)
        if data.probe is not None and data.probe.labels:
            return len(data.probe.labels)
        return None

    def set_clipping(self, mode: str, threshold: float) -> None:
        """Draw the clipping threshold (global norm for norm clipping; per entry for value clipping)."""
        if (mode, threshold) == self._clip:
            return
        self._clip = (mode, threshold)
        if not self._has_norms:
            self._fit_empty_params()
        self.clip_note.setVisible(mode == "value")
        if mode == "value":
            self.clip_note.setText(f"clipping by value: each entry to ±{threshold:g} (not a norm)")
            self._place_clip_note()
        if mode != "norm":
            self.threshold.hide()
            return
        self.threshold.setPos(math.log10(threshold))   # the axis is in log10 units
        self.threshold.show()                          # (the label only updates while shown)
        self.threshold.label.setFormat(f"clip threshold {threshold:g} (global norm)")

    def _place_clip_note(self) -> None:
        self.clip_note.setPos(self.params.getViewBox().width() - 4, 2)

    def refresh(self, data: RunData) -> bool:
        """Show ``data``; False if there was nothing new to draw."""
        if data.probe is not None:
            self._show_header(data.probe.spectral_radius, data.probe.saturation, data.probe_step)
        if data.revision == self._revision:
            return False
        self._revision = data.revision
        T = self._data_time_steps(data)
        if T and T != self._time_steps:
            self._set_time_steps(T)
        if data.latest_grad_a is not None:
            g = positive_or_nan(data.latest_grad_a)
            self.latest_a.setData(np.arange(1, g.size + 1), g)
            title = f"step {data.step:,}: ‖∂L/∂a⟨t⟩‖"
            if data.latest_grad_c is not None:
                c = positive_or_nan(data.latest_grad_c)
                self.latest_c.setData(np.arange(1, c.size + 1), c)
                title += " <span style='color:#d62728'>- - ‖∂L/∂c⟨t⟩‖</span>"
            self.latest.setTitle(title)
            fit_log_range(self.latest, [data.latest_grad_a] +
                          ([] if data.latest_grad_c is None else [data.latest_grad_c]))
        img, first, last = data.gradient_image.image()
        if img is not None:
            finite = img[np.isfinite(img) & (img > math.log10(TINY) + 1)]
            lo, hi = (float(np.percentile(finite, 1)), float(np.percentile(finite, 99.5))) if finite.size \
                else (-6.0, 0.0)
            if hi - lo < 1e-3:
                lo, hi = lo - 0.5, hi + 0.5
            self.image.setImage(img.T, levels=(lo, hi), autoLevels=False)   # (T, columns): y = time step
            self.colorbar.setLevels((lo, hi))
            n_cols, T = img.shape
            self.image.setRect(QRectF(first - 0.5, 0.5, max(1.0, last - first + 1), T))
            self.image_follower.update(0.0, last)
            self.over_time.setYRange(0.5, T + 0.5, padding=0)
            per_column = data.gradient_image.bin_size   # (a long title would widen the layout)
            self.over_time.getViewBox().setToolTip(
                f"Each column is the mean of ~{per_column:,} training step(s): colour is log10 ‖∂L/∂a⟨t⟩‖ at "
                "every time step t. Dark at small t: the gradient vanishes before it reaches early steps.")
        rows = data.gradient_norms
        steps = rows.steps
        for i, name in enumerate(n for n in rows.names if n != "all"):
            curve = self._param_curves.get(name)
            if curve is None:
                colour = PARAM_COLOURS[i % len(PARAM_COLOURS)]
                curve = self.params.plot(pen=pg.mkPen(colour, width=1), connect="finite")
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                self._param_curves[name] = curve
                self._set_params_title(list(self._param_curves))
            curve.setData(steps, positive_or_nan(rows.column(name)))
        if len(rows):
            self._has_norms = True
            self.global_curve.setData(steps, positive_or_nan(rows.column("all")))
            shown = [rows.column(n) for n in rows.names]
            if self._clip[0] == "norm":
                shown.append(np.array([self._clip[1]]))    # keep the threshold line in view
            fit_log_range(self.params, shown)
            self.params_follower.update(0.0, float(data.step))
            few = len(rows) < 40        # one step alone is a point: dots until there are a few
            if few != (self.global_curve.opts["symbol"] is not None):
                self.global_curve.setSymbol("o" if few else None)
                self.global_curve.setSymbolSize(4)
                self.global_curve.setSymbolPen(None)
                self.global_curve.setSymbolBrush((0, 0, 0))
        markers = training_changes(data.setting_changes)
        for lines in self.marker_lines:
            lines.set_steps([step for step, _ in markers], [text for _, text in markers])
        self._shown_step = data.step
        return True

    def shown_step(self) -> int | None:
        """The training step the panel shows (its latest-step curve and both plots end there)."""
        return getattr(self, "_shown_step", None)

    def _set_params_title(self, names) -> None:
        """The legend, as a coloured title line (a legend box would hide the curves)."""
        parts = ["<b>‖∂L/∂W‖ per parameter</b>: <span style='color:#000'>━ all</span>"]
        for i, name in enumerate(names):
            r, g, b = PARAM_COLOURS[i % len(PARAM_COLOURS)]
            parts.append(f"<span style='color:#{r:02x}{g:02x}{b:02x}'>━ {name}</span>")
        self.params.setTitle(" &nbsp;".join(parts), size="9pt")

    def set_cell(self, cell: str, activation: str) -> None:
        self._cell = (cell, activation)

    def set_encoder_decoder(self, on: bool) -> None:
        """An encoder–decoder's curves are its encoder's ‖∂L/∂a<t'>‖ over input steps, its
        spectral radius that of the encoder's recurrent matrix: say so on the axes and header."""
        self._waa = "enc.Waa" if on else "Waa"
        step = "input step t'" if on else "time step t"
        self.latest.setLabel("bottom", step)
        self.over_time.setLabel("left", step)

    def _show_header(self, radius, saturation, step=None) -> None:
        if radius is None:
            self.header.setText(f"<b>Spectral radius of {self._waa}:</b> – &nbsp;&nbsp; <b>saturated units:</b> –")
            return
        cell, activation = self._cell
        if cell == "rnn" and activation == "tanh":
            trend = (" (below 1: gradients through time tend to vanish)" if radius < 1
                     else " (above 1: gradients through time can explode)")
        else:
            trend = "" if cell == "rnn" else " (candidate block)"
        at = "" if step is None else f" &nbsp;&nbsp; (at step {step:,})"
        self.header.setText(f"<b>Spectral radius of {self._waa}: <span style='font-size:13pt'>{radius:.3f}</span></b>"
                            f"{trend} &nbsp;&nbsp; <b>saturated units:</b> {saturation:.0%}{at}")
