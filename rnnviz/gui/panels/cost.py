"""Cost panel: the loss per pixel column as a faint min-max band, its debiased moving average as
the line to read, the task's chance level, the held-out metric and setting-change markers."""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget
from superqt import QElidingLabel

from rnnviz.tasks.memory import ADDING_TOLERANCE

from ..run_data import PixelColumns, RunData, ema_blocks, pixel_columns
from ..widgets.sliders import ValueSlider
from ..widgets.views import StepRangeFollower, TimedPlotWidget, nice_ceiling
from .gradient_flow import plain_axis
from .markers import MarkerLines, MarkerStrip, training_changes

METRIC_TITLES = {
    "accuracy": "test accuracy (fraction correct)",
    "exact_match": "test exact match (fraction of whole outputs right)",
    "sum_accuracy": "test sums fully right (fraction)",
    "bit_accuracy": "test bit accuracy (fraction)",
    "bits_per_char": "test bits per character",
    "mse": "test mean squared error",
    "loss": "test loss (nats)",
}
ADDING_ACCURACY = f"test accuracy (fraction with |error| < {ADDING_TOLERANCE:g})"
"""The adding problem's accuracy (its metrics include ``mse``): an answer counts within the tolerance."""
METRIC_PREFERENCE = ("exact_match", "accuracy", "sum_accuracy", "bits_per_char", "bit_accuracy")
METRIC_LEGEND = "held-out metric (right axis, dots)"
FEW_POINTS = 40
"""With fewer pixel columns than this the smoothed line also gets a dot per column (one step alone is
a point, which a line without symbols does not draw)."""
RANGES = (("all steps", None), ("last 1k", 1_000), ("last 10k", 10_000), ("last 100k", 100_000))
"""The step ranges the panel can follow: everything, or the latest N steps."""
RAW_PEN = pg.mkPen((90, 130, 210, 110), width=1)
RAW_BRUSH = pg.mkBrush(90, 130, 210, 60)
EMA_PEN = pg.mkPen((10, 40, 140), width=2.5)
METRIC_PEN = pg.mkPen((220, 110, 0), width=2)
CHANCE_PEN = pg.mkPen((200, 30, 30), width=1.5, style=Qt.PenStyle.DashLine)
GHOST_PEN = pg.mkPen((120, 120, 120, 120), width=2)
BUDGET_PEN = pg.mkPen((60, 120, 60), width=1.5, style=Qt.PenStyle.DotLine)
CHANCE_HEADROOM = 1.5
OFF_SCALE = 4.0
"""The loss axis reaches at most this many times the typical loss shown (the larger of the 95th
percentile of the per-pixel highs and the chance level); single steps above it
(a diverging ReLU network can reach 1e308) are drawn at the top edge as triangles and named in the
caption, instead of squashing every other step into the bottom pixel row."""
"""Before the first step the loss axis runs from 0 to this much above the chance level, so the
first screen shows the line the loss will start near (pyqtgraph's default would be 0..1), at two
thirds of the height, below the legend."""
DEFAULT_SMOOTHING = 0.9


def metric_title(name: str, names=()) -> str:
    """The held-out metric's name as the axis says it (the adding problem's accuracy with its rule)."""
    if name == "accuracy" and "mse" in names:
        return ADDING_ACCURACY
    return METRIC_TITLES.get(name, name.replace("_", " "))


def loss_axis_label(config) -> str:
    """The training loss's unit: nats (per character, sequence, bit or recalled symbol, or summed
    over the chunk) for the cross-entropy tasks, the squared error for the adding problem."""
    if config.task == "adding":
        return "training loss (squared error)"
    per = {"charlm": "character", "parity": "sequence", "addition": "bit", "copy": "recalled symbol",
           "reversal": "output symbol", "dates": "output character"}[config.task]
    if config.reduction == "sum" and config.task != "parity":
        what = {"charlm": f"{config.seq_length} characters", "addition": "bits", "copy": "recalled symbols",
                "reversal": "output symbols", "dates": "output characters"}
        return f"training loss (nats, summed over {what[config.task]})"
    return f"training loss (nats per {per})"


def shorter_labels(text: str) -> list[str]:
    """``text`` and ever shorter forms of it saying the same, for an axis with little room."""
    forms = [text]
    for old, new in (("training loss", "loss"), ("summed over", "sum over"), ("characters", "chars"),
                     ("time steps", "steps"), ("recalled symbols", "symbols"), ("recalled symbol", "symbol"),
                     ("nats per ", "nats/"), (", sum over ", "/"), ("squared error", "sq. error"),
                     ("fraction with ", ""), ("fraction correct", "fraction")):
        shorter = forms[-1].replace(old, new)
        if shorter != forms[-1]:
            forms.append(shorter)
    bare = forms[-1].split(" (")[0]              # last, the name without its unit
    if bare != forms[-1]:
        forms.append(bare)
    return forms


def fit_axis_label(plot: pg.PlotItem, side: str, text: str) -> None:
    """Title a vertical axis with the longest form of ``text`` that fits its height (the whole
    text in the axis's tooltip)."""
    axis = plot.getAxis(side)
    room = plot.vb.height() - 8
    axis.setToolTip(text)
    forms = shorter_labels(text)
    for form in forms:      # measured as drawn (the label's style sets its own font size)
        form = html.escape(form, quote=False)     # (a title is HTML: "|error| < 0.04" lost its end)
        if axis.labelText != form:
            plot.setLabel(side, form)
        if axis.label.boundingRect().width() <= room:
            return


def smoothed(columns: PixelColumns, beta: float) -> np.ndarray:
    """The line to read: TensorBoard's debiased exponential moving average with weight ``beta``,
    taken across the plotted points (pixel columns) as TensorBoard takes it across its points,
    so it spans the same share of the plot whatever range of steps is shown."""
    return ema_blocks(columns.mean, beta)[0]


class StepAxis(pg.AxisItem):
    """Training steps: on a log axis the ticks read 1, 10, 1,000, 20,000 (not 10³, 2·10⁴)."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        return [f"{v:,.0f}" if 1 <= v < 1e7 else f"{v:.0e}" for v in 10 ** np.asarray(values, float) * scale]


class LossAxis(pg.AxisItem):
    """The loss: on a log axis the ticks read 0.5, 1, 20 (not 5·10⁻¹, 10⁰, 2·10¹)."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph override
        return [f"{v:.3g}" if 1e-4 <= v < 1e6 else f"{v:.0e}" for v in 10 ** np.asarray(values, float) * scale]


class CostPanel(QWidget):
    """Loss per training step, smoothed, with the held-out metric on its own (right) axis."""

    smoothing_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._beta = DEFAULT_SMOOTHING
        self._columns: PixelColumns | None = None
        self._smooth = np.empty(0)
        self._drawn_for = None             # (view range, width, log x, revision) of the drawn columns
        self._revision = -1
        self._data: RunData | None = None
        self._metric: str | None = None
        self._recent: int | None = None    # follow the latest N steps, or all (None)
        self._x_limit = None               # the range last set while following (not "all, linear")
        self._chance: float | None = None
        self._budget: int | None = None    # the step the run trains to (None: until paused)
        self._loss_label = "training loss (nats)"
        self._metric_label = "held-out metric (measured every few steps)"
        self._ghost_label: str | None = None
        self._empty_range = True           # no loss yet: the loss axis's range is set, not fitted

        self.smoothing = ValueSlider(0.0, 0.999, DEFAULT_SMOOTHING, resolution=999, fmt="{:.2f}")
        self.smoothing.setToolTip(
            "Smoothing of the dark line: the weight of the past in a debiased exponential moving average "
            "across the plot's pixel columns (as TensorBoard smooths across its points), so it smooths over "
            "the same share of the plot whatever range is shown. 0: the mean loss of each column; 0.9: "
            "about 10 columns. Debiased, so the start is not pulled towards zero. Does not change training.")
        self.smoothing.label.setMinimumWidth(28)
        self.range_box = QComboBox()
        for text, steps in RANGES:
            self.range_box.addItem(text, steps)
        self.range_box.setToolTip("Which training steps to show: all of them, or the latest 1,000, 10,000 or "
                                  "100,000 (the view follows training).")
        self.log_x_box = QCheckBox("log x")
        self.log_x_box.setToolTip("Training steps on a logarithmic axis: the first hundred steps get as much room "
                                  "as the next thousand, so the early learning phase is not crushed at the left.")
        self.log_box = QCheckBox("log y")
        self.log_box.setToolTip("The loss axis (left) on a true logarithmic scale; the held-out metric's axis "
                                "(right) stays linear.")
        self.metric_box = QComboBox()
        self.metric_box.setToolTip("Which held-out metric to draw on the right axis.")
        self.metric_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for box in (self.range_box, self.metric_box):   # full width when there is room, else elided
            box.setMinimumWidth(64)
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(QLabel("Smooth"))
        top.addWidget(self.smoothing, 1)
        top.addWidget(self.range_box)
        top.addWidget(self.log_x_box)
        top.addWidget(self.log_box)
        top.addWidget(self.metric_box)

        self.plot_widget = TimedPlotWidget(axisItems={"bottom": StepAxis("bottom"), "left": LossAxis("left")})
        self.plot = self.plot_widget.getPlotItem()
        # What the plot shows as of which step (the loss's last step, the metric's last evaluation).
        self.caption = QElidingLabel("")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.caption.setStyleSheet("color: #444;")
        self.marker_lines = MarkerLines(self.plot)
        self.marker_strip = MarkerStrip(self.plot_widget, self.plot)
        self.marker_strip.setToolTip("Setting changes during training, at the step they took effect.")
        self.views = [self.plot_widget]
        self.x_follower = StepRangeFollower(self.plot)
        self.plot.setLabel("bottom", "training step")
        self.plot.setLabel("left", "training loss (nats)")
        for side in ("bottom", "left", "right"):   # (steps are counts; no "(x0.001)" on any label)
            plain_axis(self.plot.getAxis(side))
        # No grid: pyqtgraph draws it with the axes, which would then be repainted on every update.
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt",
                                          brush=(255, 255, 255, 200), pen=(210, 210, 210))
        # The raw loss: the lowest and highest loss in each pixel column, drawn as one closed band
        # (along the highs, back along the lows). The panel reduces the data to pixel columns
        # itself, so pyqtgraph's downsampling stays off.
        self.raw_curve = self.plot.plot(pen=RAW_PEN, fillLevel="enclosed", fillBrush=RAW_BRUSH,
                                        name="loss per step (lowest to highest)")
        self.ema_curve = self.plot.plot(pen=EMA_PEN, name="loss, smoothed")
        self.ema_curve.setZValue(5)
        # Steps whose loss is far above the rest: a triangle at the top edge (see OFF_SCALE).
        self.off_scale_marks = self.plot.plot(pen=None, symbol="t1", symbolSize=9,
                                              symbolBrush=(200, 30, 30), symbolPen=None)
        self.off_scale_marks.setZValue(6)
        self._off_scale: tuple[int, float] | None = None     # (how many columns, the highest loss)
        # The previous run's smoothed loss, faint, behind this run's (set_ghost; clear() keeps it).
        self.ghost_curve = self.plot.plot(pen=GHOST_PEN)
        self.ghost_curve.setZValue(1)
        self.ghost_curve.setToolTip("The run before the last reset, smoothed as it was shown: compare this "
                                    "run's curve with it. It stays until the next reset.")
        # The step budget: where Start stops (the preset's length; Continue moves it).
        self.budget_line = pg.InfiniteLine(
            angle=90, pen=BUDGET_PEN, movable=False, label="",
            labelOpts={"position": 0.04, "anchors": [(1, 1), (1, 1)], "color": (40, 100, 40),
                       "fill": (255, 255, 255, 190), "movable": False})
        self.budget_line.setZValue(4)
        self.budget_line.label.setToolTip("The step budget: training stops here (the preset's length). "
                                          "Continue trains as many steps again.")
        self.budget_line.hide()
        self.plot.addItem(self.budget_line, ignoreBounds=True)
        self.chance_line = pg.InfiniteLine(
            angle=0, pen=CHANCE_PEN, movable=False, label="",
            labelOpts={"position": 0.98, "anchors": [(1, 1), (1, 1)], "color": (170, 20, 20),
                       "fill": (255, 255, 255, 190), "movable": False})
        self.chance_line.setZValue(4)
        self.chance_line.label.setToolTip(
            "Chance level: the training loss of the best prediction that ignores the input (for example the "
            "text's character frequencies, or always answering the mean), in the loss's own unit. A curve "
            "that stays on it has learned nothing from the input.")
        self.chance_line.hide()
        self.plot.addItem(self.chance_line, ignoreBounds=True)
        # An invisible point at the chance level, so the fitted loss axis always includes the line
        # while all steps are shown (a loss sitting at chance, parity's ln 2, is read against it).
        self.chance_bound = self.plot.plot(pen=pg.mkPen((0, 0, 0, 0)))
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

        # The readout is elided to the panel's width: whatever it says, no size hint changes.
        self.readout = QElidingLabel("Hover over the plot to read values.")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.caption)
        layout.addWidget(self.marker_strip)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.readout)

        # A new view range or plot width needs new pixel columns: once per burst of changes.
        self._redraw_timer = QTimer(self, singleShot=True, interval=0)
        self._redraw_timer.timeout.connect(self._draw_loss)
        self.plot.vb.sigXRangeChanged.connect(self._redraw_timer.start)
        self.log_box.toggled.connect(self._on_log_box_toggled)
        self.log_x_box.toggled.connect(self._on_log_x_box_toggled)
        self.range_box.activated.connect(self._on_range_box_activated)
        self._smoothing_proxy = pg.SignalProxy(self.smoothing.value_changed, rateLimit=10,
                                               slot=self._on_smoothing_proxy_fired)
        self.metric_box.activated.connect(self._on_metric_box_activated)
        self._hover_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_hover_proxy_fired)

    # ---- updating ---------------------------------------------------------------------------
    def clear(self) -> None:
        self.marker_lines.clear()
        self.marker_strip.set_markers([])
        self.caption.setText("")
        self._revision = -1
        self._data = None
        self._columns = None
        self._smooth = np.empty(0)
        self._drawn_for = None
        self._show_empty_range()
        for curve in (self.raw_curve, self.ema_curve, self.metric_curve):
            curve.setData([], [])
        self._set_chance(None)
        self._fit_empty_range()
        self.metric_box.clear()
        self.metric_box.addItem("(after the first test)", None)
        self._metric_label = "held-out metric (measured every few steps)"
        fit_axis_label(self.plot, "right", self._metric_label)
        self.legend.removeItem(self.metric_curve)
        self.legend.addItem(self.metric_curve, METRIC_LEGEND)
        self._metric = None

    def _show_empty_range(self) -> None:
        """Before the first step: training steps 0..10 (1..10 on a log axis), where the step axis
        starts following the run (pyqtgraph's default 0..1 would read as fractional steps)."""
        self.x_follower.reset()
        self._x_limit = None
        self._follow(0)
        # Loss and metric axes: 0..1 again (not the previous run's values), fitted to the next data.
        for view in (self.plot.getViewBox(), self.metric_view):
            view.setYRange(0.0, 1.0, padding=0)
            view.enableAutoRange(y=True)

    def _fit_empty_range(self) -> None:
        """No loss yet: the loss axis from 0 to above the chance level and the previous run's
        curve (so the first screen shows both), else 0..1; fitted to the data (autorange) from
        the first step on."""
        view = self.plot.getViewBox()
        if self._data is not None and self._data.step > 0:
            if self._empty_range:
                self._empty_range = False
                view.enableAutoRange(y=True)
            return
        self._empty_range = True
        top = 1.0 if self._chance is None else self._chance * CHANCE_HEADROOM
        _, ghost = self.ghost_curve.getOriginalDataset()   # losses (getData() is log10 in log mode)
        if ghost is not None and len(ghost) and np.isfinite(ghost).any():
            ghost_top = float(np.nanmax(ghost)) * 1.05
            top = ghost_top if self._chance is None else max(top, ghost_top)
        if not (math.isfinite(top) and top > 0):    # a ghost of zero loss, or none to go by
            top = 1.0
        if self.log_box.isChecked():
            view.setYRange(math.log10(top) - 1.5, math.log10(top), padding=0)
        else:
            view.setYRange(0.0, top, padding=0)

    def set_loss_label(self, text: str) -> None:
        """The loss axis's title (``loss_axis_label``); shortened when the axis is too short for it
        (the full text stays in the axis's tooltip)."""
        self._loss_label = text
        self._fit_loss_label()

    @property
    def loss_label(self) -> str:
        return self._loss_label

    def _fit_loss_label(self) -> None:
        fit_axis_label(self.plot, "left", self._loss_label)
        fit_axis_label(self.plot, "right", self._metric_label)

    def set_ghost(self, steps: np.ndarray, values: np.ndarray, label: str) -> None:
        """The previous run's smoothed loss as a faint line, named in the legend; it stays until the
        next call (``clear`` keeps it: the window clears the panel, then sets the ghost). Empty
        arrays remove it."""
        steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
        if self._ghost_label is not None:
            self.legend.removeItem(self.ghost_curve)
        if steps.size == 0:
            self._ghost_label = None
            self.ghost_curve.setData([], [])
            return
        self._ghost_label = label
        self.ghost_curve.setData(steps, values)
        self.legend.addItem(self.ghost_curve, label)
        self._fit_empty_range()

    @property
    def ghost_label(self) -> str | None:
        return self._ghost_label

    def set_budget(self, step: int | None) -> None:
        """Mark the step budget (where training stops) with a labelled vertical line; None: none."""
        self._budget = step
        if step is None or step <= 0:
            self.budget_line.hide()
        else:
            self.budget_line.show()       # (first: a hidden line's label ignores new text)
            self.budget_line.setPos(self._x_pos(step))
            self.budget_line.label.setFormat(f"budget {step:,}")
        if self._data is not None:
            self._refresh_caption(self._data)

    @property
    def budget(self) -> int | None:
        """The step budget marked, or None."""
        return self._budget if self.budget_line.isVisible() else None

    def refresh(self, data: RunData) -> bool:
        """Show ``data``; False if there was nothing new to draw."""
        self._data = data
        if data.revision == self._revision:
            return False
        self._revision = data.revision
        self._follow(data.step)
        self._set_chance(data.chance_loss)      # (first: the loss is drawn against it)
        self._draw_loss()
        self._fit_empty_range()
        self._refresh_metric(data)
        self._refresh_markers(data)
        self._refresh_caption(data)
        return True

    def shown_step(self) -> int:
        """The step the plot shows the loss up to."""
        return self._data.step if self._data is not None else 0

    def _refresh_caption(self, data: RunData) -> None:
        text = f"Training loss up to step {data.step:,}"
        if self._budget:
            text += f" of {self._budget:,}"
        if self._metric:
            xs, ys = data.metric_series(self._metric)
            if xs.size:
                title = metric_title(self._metric, data.metric_names()).split(" (")[0]
                text += f" · {title} {ys[-1]:.3g} as of step {int(xs[-1]):,}"
                if data.held_out:
                    unit = "characters" if "bits_per_char" in data.metric_names() else "sequences"
                    text += f" (on {data.held_out:,} held-out {unit}"
                    text += f", every {data.eval_every:,} steps)" if data.eval_every else ")"
        if self._off_scale is not None:
            count, highest = self._off_scale
            text += (f" · ▲ {count:,} off the scale (highest loss {highest:.3g})" if count > 1
                     else f" · ▲ 1 off the scale (loss {highest:.3g})")
        self.caption.setText(text)

    # ---- the step axis ------------------------------------------------------------------------
    @property
    def log_x(self) -> bool:
        return self.log_x_box.isChecked()

    def _follow(self, step: int) -> None:
        """Keep the step axis on all steps or the latest N, moving in jumps (each move redraws
        the axis), unless the user has zoomed or panned; pressing the view's "A" follows again."""
        follower = self.x_follower
        if self._recent is None and not self.log_x:
            follower.update(0.0, float(step))       # 0..200, 0..500, ...: nice jumps
            return
        vb = self.plot.vb
        if not follower.following:
            if not vb.state["autoRange"][0]:
                return
            follower.following = True
            self._x_limit = None
        vb.enableAutoRange(x=False)
        if self._recent is None:                     # all steps, log axis: 1 .. a nice ceiling
            limit = nice_ceiling(step * 1.03)
            lo, hi = 1.0, limit
        else:                                        # the latest N: the axis moves in tenths of N
            jump = self._recent / 10
            limit = (math.floor(step / jump) + 1) * jump
            lo, hi = max(limit - self._recent - jump, 1.0 if self.log_x else 0.0), limit
        if self._x_limit == (lo, hi, self.log_x):
            return
        self._x_limit = (lo, hi, self.log_x)
        if self.log_x:
            vb.setXRange(math.log10(lo), math.log10(hi), padding=0.01)
        else:
            vb.setXRange(lo, hi, padding=0.02)

    def visible_steps(self) -> tuple[float, float]:
        """The first and last training step the plot shows."""
        x0, x1 = self.plot.vb.viewRange()[0]
        if self.log_x:
            return 10.0 ** x0, 10.0 ** x1
        return x0, x1

    def _x_pos(self, step: float) -> float:
        """Where ``step`` lies in the plot's coordinates (log10 on a log axis)."""
        return math.log10(max(step, 1e-9)) if self.log_x else step

    # ---- the loss -----------------------------------------------------------------------------
    def _draw_loss(self) -> None:
        """Reduce the loss to the plot's pixel columns and draw band and smoothed line."""
        self._redraw_timer.stop()
        data = self._data
        if data is None:
            return
        x0, x1 = self.visible_steps()
        width = max(int(self.plot.vb.width()), 50)
        key = (x0, x1, width, self.log_x, data.revision, self._beta)
        if key == self._drawn_for:
            return
        self._drawn_for = key
        if self.log_x:
            x0 = max(x0, 0.5)
        columns = pixel_columns(data.loss, x0, x1, width, log_x=self.log_x)
        self._columns = columns
        with np.errstate(over="ignore", invalid="ignore"):    # a loss near 1e308 overflows the average
            self._smooth = smoothed(columns, self._beta)
        hi, top = self._clip_off_scale(columns)
        self.raw_curve.setData(np.concatenate([columns.x, columns.x[::-1]]),
                               np.concatenate([hi, columns.lo[::-1]]))
        self._set_ema(columns.x, np.minimum(self._smooth, top))
        if self._data is not None:
            self._refresh_caption(self._data)

    def _clip_off_scale(self, columns) -> tuple[np.ndarray, float]:
        """The per-column highs with the off-scale ones (see OFF_SCALE) lowered to the axis's top,
        which they mark with a triangle; and that top (inf when nothing is off the scale)."""
        hi = columns.hi
        finite_hi = hi[np.isfinite(hi)]
        typical = [0.0]
        if finite_hi.size:
            typical.append(float(np.percentile(finite_hi, 95)))
        if self._chance is not None:
            typical.append(self._chance)
        top = OFF_SCALE * max(typical)
        above = ~(hi <= top)                      # (NaN highs: an empty column, never off the scale)
        above &= ~np.isnan(hi)
        if not (top > 0 and above.any()):
            self._off_scale = None
            self.off_scale_marks.setData([], [])
            return hi, math.inf
        self._off_scale = (int(above.sum()), float(np.max(hi[above])))
        self.off_scale_marks.setData(columns.x[above], np.full(int(above.sum()), top))
        return np.where(above, top, hi), top

    def _set_ema(self, x, y) -> None:
        """The smoothed line, with a dot per point while there are few (a single step is visible)."""
        few = len(x) < FEW_POINTS
        if few != (self.ema_curve.opts["symbol"] is not None):
            self.ema_curve.setSymbol("o" if few else None)
            self.ema_curve.setSymbolSize(5)
            self.ema_curve.setSymbolBrush(EMA_PEN.color())
            self.ema_curve.setSymbolPen(None)
        self.ema_curve.setData(x, y)

    def _set_chance(self, chance: float | None) -> None:
        """The chance level as a labelled horizontal line (hidden when the task has none)."""
        step = max(self._data.step, 1) if self._data is not None else 1
        if chance is None or not chance > 0 or self._recent is not None:
            self.chance_bound.setData([], [])
        else:
            self.chance_bound.setData([step, step], [chance, chance])
        if chance is None or not chance > 0:
            self._chance = None
            self.chance_line.hide()
            return
        self.chance_line.show()          # (first: a hidden line's label ignores new text)
        self.chance_line.setPos(math.log10(chance) if self.log_box.isChecked() else chance)
        if chance != self._chance or not self.chance_line.label.textItem.toPlainText():
            self._chance = chance
            self.chance_line.label.setFormat(f"chance level {chance:.4g}")
            self._fit_empty_range()

    # ---- the held-out metric and setting changes ----------------------------------------------
    def _refresh_metric(self, data: RunData) -> None:
        names = data.metric_names()
        if names and [self.metric_box.itemData(i) for i in range(self.metric_box.count())] != names:
            current = self._metric
            self.metric_box.clear()
            for name in names:
                self.metric_box.addItem(metric_title(name, names), name)
            if current not in names:
                current = next((n for n in METRIC_PREFERENCE if n in names), names[0])
            self._set_metric(current)
        if self._metric:
            self._draw_metric(data)

    def _draw_metric(self, data: RunData) -> None:
        """The held-out points, joined only across gaps of a few evaluation intervals."""
        x, y = data.metric_series(self._metric)
        self.metric_curve.setData(x, y, connect=data.metric_connect(x))

    def _set_metric(self, name: str) -> None:
        self._metric = name
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(name)))
        title = metric_title(name, self._data.metric_names() if self._data is not None else ())
        self._metric_label = title
        fit_axis_label(self.plot, "right", title)
        self.legend.removeItem(self.metric_curve)
        self.legend.addItem(self.metric_curve, f"{title.split(' (')[0]} (right axis)")
        if "accuracy" in name:
            self.metric_view.enableAutoRange(y=False)
            self.metric_view.setYRange(0, 1.02, padding=0)
        else:
            self.metric_view.enableAutoRange(y=True)

    def _refresh_markers(self, data: RunData) -> None:
        """A dashed line at every setting change that changes training; its label in the strip."""
        markers = training_changes(data.setting_changes)
        self.marker_lines.set_steps([step for step, _ in markers], [text for _, text in markers])
        self.marker_strip.set_markers([(self._x_pos(step), text) for step, text in markers])

    @property
    def marker_labels(self) -> list[str]:
        return [text for _, text in self.marker_strip._markers]

    @property
    def chance_level(self) -> float | None:
        """The chance level drawn (in the loss's unit), or None."""
        return self._chance if self.chance_line.isVisible() else None

    # ---- user actions -------------------------------------------------------------------------
    def _on_plot_resized(self) -> None:
        self.metric_view.setGeometry(self.plot.vb.sceneBoundingRect())
        self._fit_loss_label()
        self.metric_view.linkedViewChanged(self.plot.vb, self.metric_view.XAxis)
        self._redraw_timer.start()       # another width: other pixel columns

    def _set_log_mode(self) -> None:
        """Log scales for the loss (y) and steps (x); the held-out metric's axis stays linear
        (pyqtgraph's PlotItem.setLogMode would make the right axis and its view logarithmic too)."""
        log_x, log_y = self.log_x, self.log_box.isChecked()
        self.plot.setLogMode(x=log_x, y=log_y)
        self.plot.getAxis("right").setLogMode(False)
        self.metric_curve.setLogMode(log_x, False)
        self.plot.enableAutoRange(x=False, y=True)
        self.metric_view.enableAutoRange(y="accuracy" not in (self._metric or ""))
        self.marker_lines.set_log_x(log_x)
        if self._data is not None:
            self._refresh_markers(self._data)
        self.crosshair.hide()
        self._set_chance(self._chance)
        self.set_budget(self._budget)
        self._fit_empty_range()

    def _on_log_box_toggled(self, _checked: bool) -> None:
        self._set_log_mode()
        self.plot.setLabel("left", self.plot.getAxis("left").labelText)
        self._fit_loss_label()

    def _on_log_x_box_toggled(self, checked: bool) -> None:
        self._set_log_mode()
        self.plot.setLabel("bottom", "training step (log scale)" if checked else "training step")
        self._restart_following()

    def _on_range_box_activated(self, index: int) -> None:
        self.set_recent(self.range_box.itemData(index))

    def set_recent(self, steps: int | None) -> None:
        """Follow the latest ``steps`` training steps, or all of them (None)."""
        self._recent = steps
        self.range_box.setCurrentIndex(max(0, self.range_box.findData(steps)))
        self._set_chance(self._chance)
        self._restart_following()

    def _restart_following(self) -> None:
        self.x_follower.reset()
        self._x_limit = None
        self._follow(self._data.step if self._data is not None else 0)
        self._draw_loss()

    def set_smoothing(self, beta: float) -> None:
        self._beta = float(beta)
        self.smoothing.set_value(self._beta)
        if self._columns is not None:
            self._smooth = smoothed(self._columns, self._beta)
            self._set_ema(self._columns.x, self._smooth)
            self._drawn_for = None
        self.smoothing_changed.emit(self._beta)

    def _on_smoothing_proxy_fired(self, args) -> None:
        self.set_smoothing(float(args[0]))

    def _on_metric_box_activated(self, index: int) -> None:
        if self.metric_box.itemData(index) is None:
            return
        self._set_metric(self.metric_box.itemData(index))
        if self._data is not None:
            self._draw_metric(self._data)
            self._refresh_caption(self._data)

    def _on_hover_proxy_fired(self, args) -> None:
        pos = args[0]
        data, columns = self._data, self._columns
        if data is None or columns is None or not len(columns) or not self.plot.sceneBoundingRect().contains(pos):
            self.crosshair.hide()
            return
        x = self.plot.vb.mapSceneToView(pos).x()
        step = 10.0 ** x if self.log_x else x
        i = int(np.clip(np.searchsorted(columns.x, step), 0, len(columns) - 1))
        if i > 0 and abs(columns.x[i - 1] - step) < abs(columns.x[i] - step):
            i -= 1
        self.crosshair.setPos(self._x_pos(columns.x[i]))
        self.crosshair.show()
        self.readout.setText(self.readout_text(i))

    def readout_text(self, i: int) -> str:
        """What the readout says about pixel column ``i``: its steps, loss, smoothed loss, and the
        held-out metric measured last before its end."""
        data, c = self._data, self._columns
        first, last = int(c.first[i]), int(c.last[i])
        if first == last:
            text = f"step {first:,}: loss {c.mean[i]:.4g}"
        else:
            text = f"steps {first:,}–{last:,}: loss {c.lo[i]:.4g} to {c.hi[i]:.4g}, mean {c.mean[i]:.4g}"
        if i < self._smooth.size:
            text += f", smoothed {self._smooth[i]:.4g}"
        smooth = data.smooth_loss
        if data.has_smooth_loss and len(smooth):
            j = int(np.clip(np.searchsorted(smooth.x, last, side="right") - 1, 0, len(smooth) - 1))
            if np.isfinite(smooth.mean[j]):
                text += f", min-char-rnn smooth_loss {smooth.mean[j]:.4g}"
        if self._metric:
            xs, ys = data.metric_series(self._metric)
            if xs.size:
                j = int(np.clip(np.searchsorted(xs, last, side="right") - 1, 0, xs.size - 1))
                text += f" · {metric_title(self._metric, data.metric_names())} {ys[j]:.4g} (at step {int(xs[j]):,})"
        return text

    @property
    def smoothing_value(self) -> float:
        return self._beta
