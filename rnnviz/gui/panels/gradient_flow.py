"""Gradient flow: ||dL/da<t>|| per time step (latest step and over training), per-parameter norms.

The latest-step plot has a source selector: the training batch's gradient from all its losses (the
default), or, on the probe sequence, the gradient from the loss of one output τ and the pure
recurrence σmax(∂a<τ>/∂a<t>) (with Pascanu et al.'s bound for a vanilla RNN). The probe sources draw
rows of the run's :class:`~rnnviz.insight.live.LiveInsight`; while one is chosen the panel
``wants_insight`` and the window has it computed.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..run_data import TINY, RunData
from ..widgets.layer_selector import LayerBox
from ..widgets.wrapping_label import WrappingLabel, wrap_title
from ..widgets.views import StepRangeFollower, TimedGraphicsLayoutWidget
from .markers import MarkerLines, training_changes
from .probe_steps import clicked_output, step_number, tau_entry

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

SOURCES = {
    "all": "all losses (training batch)",
    "layers": "every layer side by side (training batch)",
    "output": "loss of one output τ (probe)",
    "recurrence": "recurrence ∂a⟨τ⟩/∂a⟨t⟩ (probe)",
}
"""The latest-step plot's sources: key -> the selector's text."""
SOURCE_HELP = {
    "all": "‖∂L/∂a⟨t⟩‖ of the latest training step: the gradient of the batch's whole loss (every output's "
           "loss summed) at each time step t. On a task whose loss sits only at the end (copy), or has a "
           "loss at every step (character models), the sum hides how far one loss reaches back. A "
           "bidirectional network adds its reverse direction (purple, dash-dot), which reads from the last "
           "step back, so its gradient travels forwards in t.",
    "layers": "‖∂L/∂a[l]⟨t⟩‖ of the latest training step for every layer l of the stacked network, one curve "
              "each (layer 1 reads the input, layer L feeds the output): the gradient of the batch's whole "
              "loss, counting every path through depth and time. A curve below the one above it is the "
              "gradient vanishing with depth; a curve falling towards small t, vanishing through time. A "
              "bidirectional network adds each layer's reverse direction, dash-dot.",
    "output": "‖∂L⟨τ⟩/∂a⟨t⟩‖ on the probe sequence: the gradient of the loss of the one output τ alone "
              "(−log p of its target) at every earlier step t ≤ τ (LSTM: the cell state's, dashed).",
    "recurrence": "σmax(∂a⟨τ⟩/∂a⟨t⟩) on the probe: how much the recurrence alone carries a change of the "
                  "state at step t to step τ (its largest singular value), whatever the loss. For a vanilla "
                  "RNN the dotted line is Pascanu, Mikolov & Bengio's bound (γ·σmax(Waa))^(τ−t); for the "
                  "LSTM the state is [a; c], with the a→a and c→c blocks as well.",
}
Y_LABELS = {"all": "‖∂L/∂a⟨t⟩‖ (log scale)", "layers": "‖∂L/∂a[l]⟨t⟩‖ (log scale)", "output": "‖∂L⟨τ⟩/∂a⟨t⟩‖ (log scale)",
            "recurrence": "σmax ∂a⟨τ⟩/∂a⟨t⟩ (log scale)"}
LSTM_Y_LABELS = {"output": "‖∂L⟨τ⟩/∂(a, c)⟨t⟩‖ (log)", "recurrence": "σmax ∂state⟨τ⟩/∂state⟨t⟩ (log)"}
"""The LSTM's (two or three curves; short, so they fit a short plot's axis)."""
BLUE, RED, GREEN, GREY = "#1f77b4", "#d62728", "#2ca02c", "#555555"
PURPLE = "#9467bd"      # a bidirectional network's reverse direction (dash-dot)
LAYER_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]   # layer 1 … 4 in the per-layer view
TITLE_SIZE = "11pt"      # (pyqtgraph's title size)
LEGEND_SIZE = "9pt"      # a probe source's title: its one-line legend
BOUND_HEADROOM = 1e3    # the recurrence's y range shows the bound up to this factor above the carry
WAITING_TEXT = "computing… (on the probe: every few seconds while training runs)"


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

    source_changed = Signal(str)   # the latest-step plot's source (a key of SOURCES) was chosen
    layer_changed = Signal(int)    # the user chose another layer of a stacked network (1-based)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._revision = -1
        self._data: RunData | None = None     # the run's data (the window's; redrawn on a new source)
        self._source = "all"
        self._tau: int | None = None           # the chosen output step τ (probe index); None: the last
        self._insight_shown = None             # the LiveInsight the latest-step plot shows
        self._latest_steps: int | None = None  # time steps the latest-step plot's x axis shows
        self._param_curves: dict[str, pg.PlotDataItem] = {}
        self._clip = (None, None)
        self._cell = ("rnn", "tanh")
        self._waa = "Waa"                   # the recurrent matrix named in the header (enc.Waa: encoder–decoder)
        self._time_steps: int | None = None   # T the time-step axes show
        self._has_norms = False
        self._layers = 1                       # the run's stacked layers
        self._layer = 1                        # the layer the image and the batch's curve show
        self.layer_curves: list[pg.PlotDataItem] = []   # the per-layer view's, one per layer
        self.layer_reverse_curves: list[pg.PlotDataItem] = []   # and a bidirectional run's reverse directions

        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)   # never widens the window
        self.header.setWordWrap(True)                         # a narrow panel takes two lines
        self.header.setToolTip("Spectral radius: the largest |eigenvalue| of the recurrent matrix Waa. Above 1, "
                               "signals (and gradients) passed through time can grow; below 1 they shrink. "
                               "Saturated: fraction of hidden units stuck near ±1 on the probe, where tanh "
                               "passes almost no gradient.")
        # The latest-step plot's source, and the output τ a probe source traces back from
        self.source_box = QComboBox()
        self._fill_source_box()
        self.source_box.setToolTip("What the left plot shows at each time step t. The probe sources are "
                                   "computed on the probe sequence every few seconds while training runs.")
        self.source_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.source_box.activated.connect(self._on_source_box_activated)
        self.tau_label = QLabel("output")
        self.tau_box = QComboBox()
        self.tau_box.setToolTip("The output step τ whose loss (or state) is traced back; or click the plot "
                                "near a time step to pick the output nearest the click.")
        self.tau_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.tau_box.setMinimumContentsLength(10)
        self.tau_box.activated.connect(self._on_tau_box_activated)
        # A stacked network's layer, which the image over training and the batch's curve show
        self.layer_label = QLabel("Layer:")
        self.layer_box = LayerBox("Which layer's ‖∂L/∂a[l]⟨t⟩‖ the image over training and the left plot's "
                                  "curves show (layer 1 reads the input; the top layer feeds the output). "
                                  "The probe sources and the why-views follow the same layer.")
        self.layer_box.layer_chosen.connect(self._on_layer_box_chosen)
        source_row = QHBoxLayout()
        source_row.setContentsMargins(0, 0, 0, 0)
        source_row.addWidget(self.layer_label)
        source_row.addWidget(self.layer_box)
        source_row.addWidget(QLabel("Left plot:"))
        source_row.addWidget(self.source_box)
        source_row.addWidget(self.tau_label)
        source_row.addWidget(self.tau_box)
        self.probe_note = QLabel()          # the training step of the probe's numbers, or "computing…"
        self.probe_note.setStyleSheet("color: #555;")
        self.probe_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)   # never widens
        self.probe_note.setMinimumWidth(40)
        source_row.addWidget(self.probe_note, 1)
        source_row.addStretch(0)         # (the controls stay together while the note is hidden)

        self.graphics = TimedGraphicsLayoutWidget()
        self.views = [self.graphics]

        self.latest = self.graphics.addPlot(row=0, col=0)
        wrap_title(self.latest)              # (a long legend title wraps instead of widening the row)
        self.latest.setTitle(LATEST_TITLE)
        self.latest.setLabel("bottom", "time step t")
        self.latest.setLabel("left", Y_LABELS["all"])
        self.latest.setLogMode(y=True)
        for side in ("left", "bottom"):
            plain_axis(self.latest.getAxis(side))

        # (no grid: it would make every update repaint the axes)
        # latest_a: the source's main curve; latest_c: the LSTM's cell state (dashed); latest_ablock:
        # the LSTM's a→a block of the recurrence; latest_bound: Pascanu et al.'s bound (vanilla RNN)
        self.latest_a = self.latest.plot(pen=pg.mkPen(BLUE, width=2), symbol="o", symbolSize=4,
                                         symbolBrush=BLUE, symbolPen=None)
        self.latest_c = self.latest.plot(pen=pg.mkPen(RED, width=2, style=Qt.PenStyle.DashLine))
        self.latest_ablock = self.latest.plot(pen=pg.mkPen(GREEN, width=1.5))
        self.latest_bound = self.latest.plot(pen=pg.mkPen(GREY, width=1.5, style=Qt.PenStyle.DotLine))
        # a bidirectional network's reverse direction, ‖∂L/∂←a⟨t⟩‖, t in time order (training batch)
        self.latest_reverse = self.latest.plot(pen=pg.mkPen(PURPLE, width=2, style=Qt.PenStyle.DashDotLine))
        self.tau_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", width=1, style=Qt.PenStyle.DashLine),
                                        label="τ", labelOpts={"position": 0.95, "color": "#555",
                                                                "fill": (255, 255, 255, 200),
                                                                "anchors": [(1.05, 0.5), (1.05, 0.5)]})
        self.tau_line.setZValue(10)             # its label above the curves
        self.latest.addItem(self.tau_line, ignoreBounds=True)
        self.tau_line.hide()
        self.waiting = pg.TextItem(WAITING_TEXT, color="#555", anchor=(0.5, 0.5))
        self.waiting.setParentItem(self.latest.getViewBox())
        self.waiting.hide()
        self.latest.getViewBox().sigResized.connect(self._place_waiting)
        self.latest.scene().sigMouseClicked.connect(self._on_latest_clicked)

        self.over_time = self.graphics.addPlot(row=0, col=1)
        wrap_title(self.over_time)
        self.over_time.setTitle("‖∂L/∂a⟨t⟩‖ over training")
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

        # the parameter plot's legend, a row of its own that wraps (a title would widen the layout)
        self.params_legend = WrappingLabel(size=LEGEND_SIZE)
        self.graphics.addItem(self.params_legend, row=1, col=0, colspan=3)
        self.params = self.graphics.addPlot(row=2, col=0, colspan=3)
        self.params.setLabel("bottom", "training step")
        self.params.setLabel("left", "‖∂L/∂W‖ (log)")
        self.params.getViewBox().setToolTip("Gradient norm of each weight matrix at every training step, before "
                                            "clipping; black: all parameters together (the global norm that "
                                            "norm clipping compares with the threshold). In a long run a point stands for "
                                            "several steps and shows the largest norm among them, so a "
                                            "one-step spike stays visible; the grey band under the black line "
                                            "reaches down to the smallest global norm among them, so a dip "
                                            "stays visible too.")
        self.params.setLogMode(y=True)
        for side in ("left", "bottom"):
            plain_axis(self.params.getAxis(side))

        # (no grid here: it would make every update repaint the axes)
        self.global_curve = self.params.plot(pen=pg.mkPen((0, 0, 0), width=1.5), connect="finite")
        self.global_curve.setDownsampling(auto=True, method="peak")
        self.global_curve.setClipToView(True)
        # The lower edge of the global norm's envelope (each point's smallest; see RunData), and the
        # band between it and the black line: one line while every step has its own point.
        self.global_low_curve = self.params.plot(pen=pg.mkPen((150, 150, 150), width=1), connect="finite")
        self.global_low_curve.setDownsampling(auto=True, method="peak")
        self.global_low_curve.setClipToView(True)
        self.global_band = pg.FillBetweenItem(self.global_curve, self.global_low_curve, brush=(0, 0, 0, 40))
        self.params.addItem(self.global_band)
        for z, item in enumerate((self.global_band, self.global_low_curve, self.global_curve)):
            item.setZValue(z + 1)            # the black line on top of its band and the parameters'
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
        self.graphics.ci.layout.setRowStretchFactor(2, 2)
        self.graphics.ci.layout.setColumnStretchFactor(0, 2)
        self.graphics.ci.layout.setColumnStretchFactor(1, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addLayout(source_row)
        layout.addWidget(self.graphics, 1)
        self._show_header(None, None)
        self._show_empty_ranges()
        self._show_source_controls()
        self._show_layer_controls()

    def clear(self) -> None:
        self._revision = -1
        self._has_norms = False
        for lines in self.marker_lines:
            lines.clear()
        for curve in self._param_curves.values():
            self.params.removeItem(curve)
        self._param_curves.clear()
        self._set_params_title([])
        for item in (self.latest_a, self.latest_c, self.latest_ablock, self.latest_bound, self.global_curve,
                     self.global_low_curve, self.latest_reverse, *self.layer_curves, *self.layer_reverse_curves):
            item.setData([], [])
        self.tau_line.hide()
        self.image.clear()
        self.colorbar.setLevels(IMAGE_LEVELS)   # (not the previous run's)
        self.latest.setTitle(LATEST_TITLE, size=TITLE_SIZE)
        self._insight_shown = None
        self._latest_steps = None      # (the source and τ stay: a new run is traced the same way)
        self._show_header(None, None)
        self._show_empty_ranges()
        if self._source != "all":
            self._show_waiting()

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
        """Time-step axes from 1 to T (one unit per step), on the latest-step curve (while it shows
        the training batch) and the image."""
        self._time_steps = T
        if self._source == "all":
            self._set_latest_steps(T)
        self.over_time.setYRange(0.5, T + 0.5, padding=0)

    def _set_latest_steps(self, T: int) -> None:
        """The latest-step plot's time axis from 1 to T (the batch's steps, or the probe's)."""
        if T != self._latest_steps:
            self._latest_steps = T
            self.latest.setXRange(0.5, T + 0.5, padding=0.02)   # (room for the last tick label)

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
        self._data = data
        if data.probe is not None:
            self._show_header(data.probe.spectral_radius, data.probe.saturation, data.probe_step)
        if data.revision == self._revision:
            return False
        self._revision = data.revision
        T = self._data_time_steps(data)
        if T and T != self._time_steps:
            self._set_time_steps(T)
        if self._source == "all":
            self._show_batch(data)
        elif self._source == "layers":
            self._show_layers(data)
        elif data.insight is not self._insight_shown:
            self._show_probe(data.insight)
        gradient_image = data.layer_image(self._layer)
        img, first, last = (None, 0.0, 1.0) if gradient_image is None else gradient_image.image()
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
            per_column = gradient_image.bin_size   # (a long title would widen the layout)
            self.over_time.getViewBox().setToolTip(
                f"Each column is the mean of ~{per_column:,} training step(s): colour is log10 "
                f"‖∂L/∂{self._state_name()}⟨t⟩‖ at every time step t. Dark at small t: the gradient vanishes "
                "before it reaches early steps." + ("" if self._layer == 1 else
                                                    " (Layers above 1: from this window's training only.)"))
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
            lows = data.gradient_norms_min
            low = lows.column("all") if len(lows) == len(rows) and "all" in lows.names else rows.column("all")
            self.global_low_curve.setData(steps, positive_or_nan(low))
            shown = [rows.column(n) for n in rows.names] + [low]
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

    # ---- the latest-step plot's source --------------------------------------------------------
    @property
    def source(self) -> str:
        """What the latest-step plot shows: a key of SOURCES."""
        return self._source

    @property
    def wants_insight(self) -> bool:
        """Whether the plot draws the probe's LiveInsight (the window then has it computed)."""
        return self._source not in ("all", "layers")

    def set_source(self, source: str) -> None:
        """Show ``source`` (a key of SOURCES) in the latest-step plot; emits ``source_changed``."""
        if source not in SOURCES:
            raise ValueError(f"unknown gradient source {source!r}; choose one of {', '.join(SOURCES)}")
        if source == "layers" and self._layers == 1:
            raise ValueError("the per-layer view needs a stacked network (layers 2 or more)")
        if source == self._source:
            return
        self._source = source
        self.source_box.setCurrentIndex(self.source_box.findData(source))
        self._show_source_controls()
        self._insight_shown = None
        if source in ("all", "layers"):
            self._latest_steps = None
            self._set_latest_steps(self._time_steps or DEFAULT_TIME_STEPS)
            if self._data is not None:
                (self._show_batch if source == "all" else self._show_layers)(self._data)
            else:
                self._clear_latest(LATEST_TITLE)
        else:
            self._show_probe(None if self._data is None else self._data.insight)
        self.source_changed.emit(source)

    def _on_source_box_activated(self, index: int) -> None:
        self.set_source(self.source_box.itemData(index))

    def _show_source_controls(self) -> None:
        probe = self._source not in ("all", "layers")
        self.tau_label.setVisible(probe)
        self.tau_box.setVisible(probe)
        self.probe_note.setVisible(probe)
        self.latest.getViewBox().setToolTip(SOURCE_HELP[self._source] + (
            " Click near a time step to trace the output nearest the click." if probe else ""))

    @property
    def tau(self) -> int | None:
        """The output step τ traced back (a probe index, 0 = the first step; shown as t = τ + 1),
        or None while no probe source is shown."""
        li = self._insight_shown
        if self._source in ("all", "layers") or li is None or not len(li.output_steps):
            return None
        return int(li.output_steps[-1]) if self._tau is None else self._tau

    def select_tau(self, tau: int) -> bool:
        """Trace output step ``tau`` (a probe index); False (nothing changes) if it is not an output."""
        index = self.tau_box.findData(int(tau))
        if index < 0:
            return False
        self.tau_box.setCurrentIndex(index)
        self._on_tau_box_activated(index)
        return True

    def _on_tau_box_activated(self, index: int) -> None:
        li = self._insight_shown
        if li is None or index < 0:
            return
        tau = int(self.tau_box.itemData(index))
        self._tau = None if tau == int(li.output_steps[-1]) else tau
        self._show_probe(li)

    def _on_latest_clicked(self, event) -> None:
        """A click on the latest-step plot picks the output nearest the click (probe sources)."""
        li = self._insight_shown
        if self._source in ("all", "layers") or li is None:
            return
        tau = clicked_output(self.latest.getViewBox(), event, li.output_steps)
        if tau is not None:
            self.select_tau(tau)

    def _fill_tau_box(self, li) -> None:
        """List ``li``'s output steps; the chosen τ stays if it is still an output, else the nearest
        output is chosen (the last if it was beyond the probe)."""
        steps = [int(t) for t in li.output_steps]
        if self._tau is not None and self._tau not in steps:
            self._tau = None if not steps or self._tau >= steps[-1] else min(steps, key=lambda s: abs(s - self._tau))
            if steps and self._tau == steps[-1]:
                self._tau = None
        self.tau_box.clear()
        for i, t in enumerate(steps):
            label = li.labels[t] if t < len(li.labels) else ""
            self.tau_box.addItem(tau_entry(t, label, last=i == len(steps) - 1), t)
        if steps:
            self.tau_box.setCurrentIndex(len(steps) - 1 if self._tau is None else steps.index(self._tau))
        self.tau_box.setEnabled(len(steps) > 1)

    # ---- drawing the latest-step plot ---------------------------------------------------------
    def _clear_latest(self, title: str) -> None:
        for item in (self.latest_a, self.latest_c, self.latest_ablock, self.latest_bound, self.latest_reverse,
                     *self.layer_curves, *self.layer_reverse_curves):
            item.setData([], [])
        self.tau_line.hide()
        self.waiting.hide()
        self.latest.setTitle(title, size=TITLE_SIZE)

    def _show_batch(self, data: RunData) -> None:
        """The latest training step's ‖∂L/∂a⟨t⟩‖ (and ‖∂L/∂c⟨t⟩‖) of the chosen layer, from every
        loss of the batch."""
        a_name, c_name = self._state_name(), self._state_name("c")
        self.latest.setLabel("left", f"‖∂L/∂{a_name}⟨t⟩‖ (log scale)")
        grad_a, grad_c = data.latest_grad_a, data.latest_grad_c
        if self._layer > 1:
            layer_a, layer_c = data.latest_layer_grad_a, data.latest_layer_grad_c
            ok = layer_a is not None and len(layer_a) >= self._layer
            grad_a = layer_a[self._layer - 1] if ok else None
            grad_c = layer_c[self._layer - 1] if ok and layer_c is not None else None
        reverse = data.latest_reverse_grad_a
        reverse = reverse[self._layer - 1] if reverse is not None and len(reverse) >= self._layer else None
        self._clear_latest(LATEST_TITLE)
        if grad_a is None:
            return
        g = positive_or_nan(grad_a)
        self.latest_a.setData(np.arange(1, g.size + 1), g)
        title = f"step {data.step:,}: ‖∂L/∂{a_name}⟨t⟩‖"
        if grad_c is not None:
            c = positive_or_nan(grad_c)
            self.latest_c.setData(np.arange(1, c.size + 1), c)
            title += f" <span style='color:{RED}'>- - ‖∂L/∂{c_name}⟨t⟩‖</span>"
        if reverse is not None:      # it reads from t = T down: its gradient vanishes towards t = T
            r = positive_or_nan(reverse)
            self.latest_reverse.setData(np.arange(1, r.size + 1), r)
            title += f" <span style='color:{PURPLE}'>-· reverse</span>"
        self.latest.setTitle(title, size=TITLE_SIZE)
        fit_log_range(self.latest, [grad_a] + [v for v in (grad_c, reverse) if v is not None])

    def _show_layers(self, data: RunData) -> None:
        """The latest training step's ‖∂L/∂a[l]⟨t⟩‖ for every layer l, one labelled curve each."""
        self.latest.setLabel("left", Y_LABELS["layers"])
        self._clear_latest(LATEST_TITLE)
        norms = data.latest_layer_grad_a
        if norms is None or len(norms) != len(self.layer_curves):
            return
        x = np.arange(1, norms.shape[1] + 1)
        for curve, row in zip(self.layer_curves, norms):
            curve.setData(x, positive_or_nan(row))
        parts = [f"<span style='color:{LAYER_COLOURS[i % len(LAYER_COLOURS)]}'>━ layer {i + 1}</span>"
                 for i in range(len(norms))]
        shown = list(norms)
        reverse = data.latest_reverse_grad_a
        if reverse is not None and len(reverse) == len(norms):     # bidirectional: each layer's reverse, dash-dot
            while len(self.layer_reverse_curves) < len(reverse):
                colour = LAYER_COLOURS[len(self.layer_reverse_curves) % len(LAYER_COLOURS)]
                self.layer_reverse_curves.append(self.latest.plot(
                    pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashDotLine),
                    name=f"layer {len(self.layer_reverse_curves) + 1}, reverse"))
            for curve, row in zip(self.layer_reverse_curves, reverse):
                curve.setData(x, positive_or_nan(row))
            parts.append("-· reverse")
            shown += list(reverse)
        self.latest.setTitle(f"step {data.step:,}: ‖∂L/∂a[l]⟨t⟩‖ &nbsp;" + " &nbsp;".join(parts), size=LEGEND_SIZE)
        self.latest.titleLabel.setMinimumWidth(0)    # a narrow plot clips its legend rather than widen
        fit_log_range(self.latest, shown)

    # ---- the layer selector (stacked networks) ------------------------------------------------
    @property
    def layer(self) -> int:
        """The layer (1 = bottom) whose gradient the image and the training batch's curve show."""
        return self._layer

    @property
    def layers(self) -> int:
        return self._layers

    def set_layers(self, layers: int) -> None:
        """The run has ``layers`` stacked layers: offer a layer selector and the per-layer view
        when there are two or more (the chosen layer stays if the new run has it)."""
        layers = max(1, int(layers))
        if layers > 1:
            self._waa = "layer 1's Waa"      # (the probe's spectral radius is the bottom layer's)
        if layers == self._layers:
            return
        self._layers = layers
        self._layer = layers                   # the top layer, which the readout reads
        for curve in (*self.layer_curves, *self.layer_reverse_curves):
            self.latest.removeItem(curve)
        self.layer_curves, self.layer_reverse_curves = [], []
        if layers > 1:
            for i in range(layers):
                colour = LAYER_COLOURS[i % len(LAYER_COLOURS)]
                self.layer_curves.append(self.latest.plot(
                    pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=4, symbolBrush=colour,
                    symbolPen=None, name=f"layer {i + 1}"))
        if layers == 1 and self._source == "layers":
            self.set_source("all")
        self._fill_source_box()
        self._show_layer_controls()
        self._redraw()

    def set_layer(self, layer: int) -> None:
        """Show layer ``layer`` (1 … layers) in the image over training and the batch's curve."""
        if not 1 <= layer <= self._layers:
            raise ValueError(f"layer must be from 1 to {self._layers} (got {layer})")
        if layer == self._layer:
            return
        self._layer = layer
        self.layer_box.set_layer(layer)
        self.image.clear()
        self._insight_shown = None             # (a probe source: the chosen layer's numbers come next)
        self._redraw()

    def _on_layer_box_chosen(self, layer: int) -> None:
        self.set_layer(layer)
        self.layer_changed.emit(layer)

    def _show_layer_controls(self) -> None:
        stacked = self._layers > 1
        self.layer_label.setVisible(stacked)
        self.layer_box.setVisible(stacked)
        self.layer_box.set_layers(self._layers, self._layer)
        self.over_time.setTitle(f"‖∂L/∂{self._state_name()}⟨t⟩‖ over training")

    def _fill_source_box(self) -> None:
        """The sources on offer (the per-layer view only for a stacked network)."""
        self.source_box.clear()
        for key, text in SOURCES.items():
            if key == "layers" and self._layers == 1:
                continue
            self.source_box.addItem(text, key)
            self.source_box.setItemData(self.source_box.count() - 1, SOURCE_HELP[key], Qt.ItemDataRole.ToolTipRole)
        self.source_box.setCurrentIndex(self.source_box.findData(self._source))

    def _state_name(self, key: str = "a") -> str:
        """The chosen layer's state in the course's notation: "a" (one layer), "a[2]" (stacked)."""
        return key if self._layers == 1 else f"{key}[{self._layer}]"

    def _redraw(self) -> None:
        """Draw the kept data again (a new layer or layer count)."""
        self.over_time.setTitle(f"‖∂L/∂{self._state_name()}⟨t⟩‖ over training")
        if self._data is not None:
            self._revision = -1
            self.refresh(self._data)

    def _show_waiting(self) -> None:
        """A probe source without its numbers yet: "computing…", never an old run's curves."""
        self._clear_latest(f"{SOURCES[self._source]}")
        self.latest.setLabel("left", Y_LABELS[self._source])
        self.tau_box.clear()
        self.tau_box.setEnabled(False)
        self.waiting.show()
        self._place_waiting()
        self.probe_note.setText("computing…")

    def _place_waiting(self) -> None:
        view = self.latest.getViewBox()
        self.waiting.setPos(view.width() / 2, view.height() / 2)

    def _show_probe(self, li) -> None:
        """Draw the chosen probe source for output τ from ``li`` (a LiveInsight; None: computing)."""
        if li is not None and getattr(li, "layer", 1) != self._layer:
            li = None                           # another layer's numbers: the chosen one's come next
        self._insight_shown = li
        if li is None or not len(li.output_steps):
            self._show_waiting()
            return
        self._fill_tau_box(li)
        tau = self.tau
        self._clear_latest("")
        t = np.arange(tau + 1)                  # the probe's steps 0 … τ, drawn at t + 1
        x = t + 1.0
        lstm = li.grad_c is not None
        shown = []
        if self._source == "output":
            g = li.grad_a[tau, :tau + 1]
            self.latest_a.setData(x, positive_or_nan(g))
            shown.append(g)
            legend = [(BLUE, "━", f"‖∂L⟨τ⟩/∂{self._state_name()}⟨t⟩‖")]
            if lstm:
                c = li.grad_c[tau, :tau + 1]
                self.latest_c.setData(x, positive_or_nan(c))
                shown.append(c)
                legend.append((RED, "- -", f"‖∂L⟨τ⟩/∂{self._state_name('c')}⟨t⟩‖"))
            self.latest.setLabel("left", LSTM_Y_LABELS["output"] if lstm else Y_LABELS["output"])
        else:
            s = li.state_norm[tau, :tau + 1]
            self.latest_a.setData(x, positive_or_nan(s))
            shown.append(s)
            if li.a_norm is not None:        # the LSTM: the state is [a; c], and its two blocks
                a, c = li.a_norm[tau, :tau + 1], li.c_norm[tau, :tau + 1]
                self.latest_ablock.setData(x, positive_or_nan(a))
                self.latest_c.setData(x, positive_or_nan(c))
                shown += [a, c]
                legend = [(BLUE, "━", "[a; c]"), (GREEN, "━", "a→a"), (RED, "- -", "c→c")]
                self.latest.setLabel("left", LSTM_Y_LABELS["recurrence"])
            else:
                legend = [(BLUE, "━", "measured")]
                self.latest.setLabel("left", Y_LABELS["recurrence"])
            if li.bound is not None:
                b = li.bound[tau - t]
                self.latest_bound.setData(x, positive_or_nan(b))
                # in view up to BOUND_HEADROOM above the measured carry: an exploding bound (σmax(Waa)
                # above 1/γ) leaves the top rather than squash the measured decay to a few pixels
                top = np.nanmax(positive_or_nan(s), initial=0.0) if np.any(s > 0) else 1.0
                shown.append(np.minimum(b, top * BOUND_HEADROOM))
                legend.append((GREY, "┈", "bound (γ·σmax(Waa))^(τ−t)"))
        self.tau_line.setValue(tau + 1)
        self.tau_line.show()                    # (the label only updates while shown)
        self.tau_line.label.setFormat(f"τ = {step_number(tau)}")
        self._set_latest_steps(li.T)
        parts = [f"<span style='color:{colour}'>{mark} {html.escape(name)}</span>" for colour, mark, name in legend]
        self.latest.setTitle(" &nbsp;".join(parts), size=LEGEND_SIZE)
        self.latest.titleLabel.setMinimumWidth(0)    # a narrow plot clips its legend rather than widen
        self.probe_note.setText(f"as of step {li.step:,}")
        self.probe_note.setToolTip(f"The probe's numbers were computed at training step {li.step:,}.")
        fit_log_range(self.latest, shown)

    def _set_params_title(self, names) -> None:
        """The legend, as a coloured line above the plot (a legend box would hide the curves);
        a stacked or bidirectional network's many names wrap onto more lines."""
        parts = ["<b>‖∂L/∂W‖ per parameter</b>: <span style='color:#000'>━&nbsp;all</span>"]
        for i, name in enumerate(names):
            r, g, b = PARAM_COLOURS[i % len(PARAM_COLOURS)]
            parts.append(f"<span style='color:#{r:02x}{g:02x}{b:02x}'>━&nbsp;{html.escape(name)}</span>")
        self.params_legend.set_html(" &nbsp; ".join(parts))

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
