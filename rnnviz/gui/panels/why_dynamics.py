"""Why-views of the recurrence's dynamics along the probe (issue 17, views 2 and 5).

:class:`DynamicsView` draws a :class:`~rnnviz.insight.live.LiveInsight`; it only indexes its arrays,
so it is cheap on the GUI thread.

* Jacobian spectrum: the singular values of each one-step Jacobian ∂state<t>/∂state<t-1> against
  the probe step t (log scale), σ = 1 for reference, and a gauge strip of each step's class
  (:func:`~rnnviz.insight.jacobians.classify_steps`).
* Saturation (Karpathy, Johnson & Fei-Fei 2015, Fig. 4): for LSTM/GRU each gate unit's fraction of
  time shut against its fraction of time wide open; for the vanilla RNN a histogram of each unit's
  fraction of time saturated (tanh, sigmoid) or switched off (ReLU, with its dead units).
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QSize, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from rnnviz.insight.saturation import SIGMOID_LOW, TANH_SATURATED

from .gradient_flow import fit_log_range, plain_axis
from .jacobian_gauge import CLASS_COLOURS, CLASSES, SIGMA_FLOOR, class_key, floored
from .probe_steps import shown_symbol, step_number, step_ticks
from .why_inputs import EMPTY_TEXT, STATE_NAMES, caption_label, empty_label

MAX_SYMBOL_TICKS = 30
"""Probes up to this long show their input symbols above the spectrum."""
MAX_POINTS_PER_STEP = 64
"""At most this many singular values per step are drawn as points (evenly spaced by rank)."""
WIDE_LEGEND = 360     # px: the spectrum's legend in one row from this width of its view
SPECTRUM_AXIS = "singular value of<br>∂state&lt;t&gt;/∂state&lt;t−1&gt;"
"""The spectrum's y label, on two lines: one would be longer than a short plot is tall."""
AXIS_WIDTH = 72        # the spectrum's and the gauge's left axes, so their steps line up

GATE_STYLE = {"f": ("#1f77b4", "o", 12), "i": ("#ff7f0e", "t", 9), "o": ("#2ca02c", "s", 6),
              "r": ("#d62728", "o", 11), "u": ("#9467bd", "s", 6)}
"""Each gate's colour, marker and size: the marker tells them apart without colour, and the sizes
let every gate show where units of several gates sit on the same point (the origin, early on)."""
GATE_SHORT = {"f": "forget-gate", "i": "input-gate", "o": "output-gate", "r": "reset-gate", "u": "update-gate"}
HIST_BINS = 10
UNIT_BRUSH = (33, 102, 172)
DEAD_BRUSH = "#D55E00"

SPECTRUM_HELP = (
    "<p><b>What am I looking at?</b> At each probe step t the network maps its previous state to the "
    "next one; ∂state&lt;t&gt;/∂state&lt;t−1&gt; says how a small change of the old state shows up in the "
    "new one (the state is a&lt;t&gt;, or [a&lt;t&gt;; c&lt;t&gt;] for the LSTM). Its singular values are "
    "the factors by which the step stretches or shrinks each direction: the line is the largest (σmax), "
    "the grey points and band all of them. The gradient flowing back through the step is scaled by the "
    "same factors. Below the dashed line σ = 1 every direction shrinks (contracting, blue): many such "
    "steps in a row make the gradient vanish. Above it some direction grows (expanding, orange): many of "
    "those make it explode. Near 1 (green) a signal can pass many steps intact, which is what a long "
    "memory needs. The strip below colours each step by its class.</p>")
GATES_HELP = (
    "<p><b>What am I looking at?</b> One point per gate unit (Karpathy, Johnson &amp; Fei-Fei 2015, "
    "Fig. 4): across the probe, the fraction of steps the gate is shut (Γ &lt; 0.1, left-saturated; x) "
    "and the fraction it is wide open (Γ &gt; 0.9, right-saturated; y). Points stay inside the triangle "
    "x + y ≤ 1. A unit near the origin is never decided, a gate that is always in between. Points along "
    "the diagonal switch between shut and open: they act as on/off switches. A forget-gate unit high up "
    "the y axis keeps its cell content for long stretches (a long memory); one far right erases it at "
    "almost every step. Early in training most points sit at the origin.</p>")
UNITS_HELP = (
    "<p><b>What am I looking at?</b> A histogram of the hidden units by the fraction of probe steps "
    "each spends in the flat tails of its nonlinearity (tanh: |a| &gt; 0.95, where tanh′ &lt; 0.1; "
    "sigmoid: the same slope). A saturated unit passes almost no gradient back, so a network whose "
    "units sit at the right of this plot learns slowly or not at all; at the left, the units work in "
    "their responsive middle range.</p>")
RELU_HELP = (
    "<p><b>What am I looking at?</b> A histogram of the hidden ReLU units by the fraction of probe steps "
    "each is switched off (a = 0, where it passes no signal and gets no gradient). ReLU has no flat top, "
    "so it cannot saturate like tanh; what stops it is being off. A unit off at every step of the probe "
    "is <i>dead</i> (orange): unless its input changes, no gradient reaches its weights to revive it. "
    "Many dead units after a large step or a high learning rate are a sign of it.</p>")


def help_button(text: str) -> QToolButton:
    """A "?" button whose tooltip (shown on click too) is the section's current help text."""
    button = QToolButton()
    button.setText("?")
    button.setToolTip(text)
    button.setAutoRaise(True)
    button.clicked.connect(lambda: QToolTip.showText(button.mapToGlobal(QPoint(0, button.height())),
                                                     button.toolTip(), button))
    return button


def spectrum_caption(sigma_max: np.ndarray, classes) -> str:
    """'σmax of the one-step Jacobian: median 0.63; 41 of 50 steps contracting, …'."""
    T = len(classes)
    finite = sigma_max[np.isfinite(sigma_max)]
    median = f"{np.median(finite):.2g}" if finite.size else "not finite"
    counts = [f"{sum(c == name for c in classes)} {name}" for name in CLASSES[1:]]
    text = (f"σmax of the one-step Jacobian: median {median}; {sum(c == 'contracting' for c in classes)} of "
            f"{T} steps contracting, " + ", ".join(counts) + ".")
    if finite.size == T and T > 1:
        with np.errstate(divide="ignore", over="ignore"):
            product = float(np.exp(np.sum(np.log(sigma_max)))) if np.all(sigma_max > 0) else 0.0
        text += f" Across all {T} steps a change is scaled by at most ∏σmax = {product:.2g}."
    return text


class CompactGraphicsLayoutWidget(pg.GraphicsLayoutWidget):
    """Prefers its minimum height: a graphics view's default size hint (480 px) would make the
    scroll area's page taller than the dock even where everything fits."""

    def sizeHint(self) -> QSize:
        return QSize(300, self.minimumHeight())


class CompactPlotWidget(pg.PlotWidget):
    """A PlotWidget that prefers its minimum height (see :class:`CompactGraphicsLayoutWidget`)."""

    def sizeHint(self) -> QSize:
        return QSize(300, self.minimumHeight())


def _plot_widget() -> pg.PlotWidget:
    plot = CompactPlotWidget()
    plot.setBackground("w")
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMinimumSize(160, 220)       # the dock never widens the window; it scrolls instead
    return plot


def _title(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


class DynamicsView(QWidget):
    """The Jacobian spectrum along the probe (with its class gauge) above the saturation plot.

    ``show_insight(li)`` draws a LiveInsight (None: the empty state). The arrays drawn are kept in
    ``sigma_max`` (T,), ``gate_points`` {gate: (left, right)} and ``histogram`` (counts, dead) for
    whoever needs the numbers behind the pictures.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self._li = None
        self.sigma_max: np.ndarray | None = None
        self.gate_points: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.histogram: tuple[np.ndarray, int] | None = None

        self.empty = empty_label(EMPTY_TEXT)
        self.content = QWidget()
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.content)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.scroll)
        self.status = caption_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.status)
        layout.addWidget(self.stack, 1)
        self.setMinimumWidth(180)

        body = QVBoxLayout(self.content)
        body.setContentsMargins(4, 4, 4, 4)
        self._build_spectrum(body)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: #ccc;")
        body.addWidget(line)
        self._build_saturation(body)
        self.show_insight(None)

    # ------------------------------------------------------------------ building
    def _build_spectrum(self, body: QVBoxLayout) -> None:
        top = QHBoxLayout()
        top.addWidget(_title("Jacobian spectrum along the probe"), 1)
        self.spectrum_help = help_button(SPECTRUM_HELP)
        top.addWidget(self.spectrum_help)
        body.addLayout(top)

        self.spectrum_view = CompactGraphicsLayoutWidget()
        self.spectrum_view.setBackground("w")
        self.spectrum_view.setMinimumSize(160, 320)
        self.spectrum_view.setToolTip(SPECTRUM_HELP)
        self.spectrum_legend = pg.LegendItem(colCount=4, verSpacing=-4, horSpacing=8)
        self.spectrum_view.addItem(self.spectrum_legend, row=0, col=0)
        plot = self.spectrum_plot = self.spectrum_view.addPlot(row=1, col=0)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.setLogMode(y=True)
        plot.setLabel("left", SPECTRUM_AXIS)
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plain_axis(plot.getAxis("left"))
        plot.getAxis("bottom").setStyle(showValues=False)
        plot.showAxis("top")
        plot.getAxis("top").setStyle(tickLength=0)
        self.band_low = pg.PlotDataItem(pen=pg.mkPen((150, 150, 150), width=1))
        self.sigma_points = pg.PlotDataItem(pen=None, symbol="o", symbolSize=3, symbolPen=None,
                                            symbolBrush=(90, 90, 90, 110))
        self.sigma_max_curve = pg.PlotDataItem(pen=pg.mkPen("#222", width=2), symbol="o", symbolSize=6,
                                               symbolPen=pg.mkPen("#222", width=0.8), symbolBrush="#888")
        self.band = pg.FillBetweenItem(self.band_low, self.sigma_max_curve, brush=(0, 0, 0, 22))
        self.unit_line = pg.PlotDataItem(pen=pg.mkPen("#444", width=1.2, style=Qt.PenStyle.DashLine))
        for item in (self.band_low, self.band, self.sigma_points, self.sigma_max_curve,
                     self.unit_line):
            plot.addItem(item)
        self.spectrum_legend.addItem(self.sigma_max_curve, "σmax")
        self.spectrum_legend.addItem(self.sigma_points, "all σ")
        self.spectrum_legend.addItem(self.band_low, "σmin")
        self.spectrum_legend.addItem(self.unit_line, "σ = 1")

        gauge = self.gauge_plot = self.spectrum_view.addPlot(row=2, col=0)
        gauge.setMenuEnabled(False)
        gauge.hideButtons()
        gauge.setMouseEnabled(x=False, y=False)
        gauge.setMaximumHeight(58)
        gauge.setYRange(0, 1, padding=0)
        gauge.setXLink(plot)
        left = gauge.getAxis("left")
        left.setWidth(AXIS_WIDTH)
        left.setTicks([[(0.5, "class")], []])
        left.setStyle(tickLength=0)
        gauge.setLabel("bottom", "probe step t")
        plain_axis(gauge.getAxis("bottom"))
        self.gauge = pg.BarGraphItem(x=[], height=[], width=1.0, y0=0.0)
        gauge.addItem(self.gauge)
        self.spectrum_view.ci.layout.setRowStretchFactor(1, 1)
        body.addWidget(self.spectrum_view, 3)

        self.class_legend = QLabel()
        self.class_legend.setTextFormat(Qt.TextFormat.RichText)
        self.class_legend.setWordWrap(True)
        self.class_legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.class_legend.setToolTip("Each step's class, from its largest singular value σmax.")
        body.addWidget(self.class_legend)
        self.spectrum_caption = caption_label()
        body.addWidget(self.spectrum_caption)
        self.step_readout = caption_label()
        body.addWidget(self.step_readout)
        self.spectrum_view.installEventFilter(self)
        self._mouse = pg.SignalProxy(self.spectrum_view.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._on_spectrum_mouse_moved)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.spectrum_view and event.type() == QEvent.Type.Resize:
            # four legend entries in a row need ~330 px; narrower, two rows of two
            columns = 4 if event.size().width() >= WIDE_LEGEND else 2
            if self.spectrum_legend.columnCount != columns:
                self.spectrum_legend.setColumnCount(columns)
        return super().eventFilter(watched, event)

    def _build_saturation(self, body: QVBoxLayout) -> None:
        top = QHBoxLayout()
        self.saturation_title = _title("Gate saturation")
        top.addWidget(self.saturation_title, 1)
        self.saturation_help = help_button(GATES_HELP)
        top.addWidget(self.saturation_help)
        body.addLayout(top)

        self.gate_plot = _plot_widget()
        self.gate_plot.setMouseEnabled(x=False, y=False)
        self.gate_plot.setLabel("bottom", "fraction of steps shut (Γ &lt; 0.1)")
        self.gate_plot.setLabel("left", "fraction of steps open (Γ &gt; 0.9)")
        self.gate_plot.setXRange(0, 1, padding=0.03)
        self.gate_plot.setYRange(0, 1, padding=0.03)
        self.gate_plot.getPlotItem().setToolTip(GATES_HELP)
        for side in ("left", "bottom"):
            plain_axis(self.gate_plot.getAxis(side))
        self.triangle = self.gate_plot.plot([0, 1, 0, 0], [0, 0, 1, 0],
                                            pen=pg.mkPen("#999", width=1, style=Qt.PenStyle.DashLine))
        self.gate_legend = self.gate_plot.addLegend(offset=(-4, 4), labelTextSize="9pt")
        self.gate_scatter: dict[str, pg.PlotDataItem] = {}
        for gate, (colour, symbol, size) in GATE_STYLE.items():
            brush = pg.mkColor(colour)
            brush.setAlpha(150)
            self.gate_scatter[gate] = self.gate_plot.plot(pen=None, symbol=symbol, symbolSize=size,
                                                          symbolPen=pg.mkPen(colour, width=1),
                                                          symbolBrush=brush)
        self.gate_legend.clear()

        self.hist_plot = _plot_widget()
        self.hist_plot.setMouseEnabled(x=False, y=False)
        self.hist_plot.setLabel("left", "hidden units")
        self.hist_plot.setXRange(-0.03, 1.03, padding=0)
        for side in ("left", "bottom"):
            plain_axis(self.hist_plot.getAxis(side))
        self.hist_bars = pg.BarGraphItem(x=[], height=[], width=0.1, brush=UNIT_BRUSH, pen=pg.mkPen("w"))
        self.dead_bar = pg.BarGraphItem(x=[], height=[], width=0.1, brush=DEAD_BRUSH, pen=pg.mkPen("w"))
        self.hist_plot.addItem(self.hist_bars)
        self.hist_plot.addItem(self.dead_bar)
        self.hist_legend = self.hist_plot.addLegend(offset=(-4, 4), labelTextSize="9pt")

        self.saturation_stack = QStackedWidget()
        self.saturation_stack.addWidget(self.gate_plot)
        self.saturation_stack.addWidget(self.hist_plot)
        body.addWidget(self.saturation_stack, 3)
        self.saturation_caption = caption_label()
        body.addWidget(self.saturation_caption)

    # ------------------------------------------------------------------ showing
    def show_insight(self, li) -> None:
        """Draw ``li`` (a LiveInsight), or the empty state for None."""
        self._li = li
        if li is None:
            self.stack.setCurrentWidget(self.empty)
            self.status.setText("")
            self.status.hide()
            self.sigma_max = self.histogram = None
            self.gate_points = {}
            return
        self.stack.setCurrentWidget(self.scroll)
        S = li.step_sigma.shape[1]
        state = f"state [a; c], {S} numbers" if li.cell == "lstm" else f"state a, {S} numbers"
        layers = getattr(li, "layers", 1)
        if layers > 1:     # a stacked network: the chosen layer's a[l] (and c[l])
            state = state.replace("a;", f"a[{li.layer}];").replace("c]", f"c[{li.layer}]]") if li.cell == "lstm" \
                else state.replace("state a,", f"state a[{li.layer}],")
            state += f" · layer {li.layer} of {layers}"
        self.status.setText(f"As of training step {li.step:,} · {li.cell.upper()} · probe of {li.T} steps · {state}")
        self.status.show()
        self._show_spectrum()
        self._show_saturation()

    # -- spectrum
    def _show_spectrum(self) -> None:
        li = self._li
        sigma = np.asarray(li.step_sigma, dtype=float)               # (T, S), largest first
        T, S = sigma.shape
        t = np.arange(1, T + 1, dtype=float)                          # steps drawn at 1 … T
        self.sigma_max = sigma[:, 0].copy()
        colours = [CLASS_COLOURS[c] for c in li.step_class]
        self.sigma_max_curve.setData(t, floored(sigma[:, 0]), symbolBrush=colours)
        self.band_low.setData(t, floored(sigma[:, -1]))
        ranks = np.unique(np.linspace(0, S - 1, min(S, MAX_POINTS_PER_STEP)).round().astype(int))
        self.sigma_points.setData(np.repeat(t, ranks.size), floored(sigma[:, ranks]).ravel())
        fit_log_range(self.spectrum_plot, [floored(sigma[:, 0]), floored(sigma[:, -1]), [1.0]])
        self.spectrum_plot.setXRange(0.5, T + 0.5, padding=0.01)
        self.unit_line.setData([0.5, T + 0.5], [1.0, 1.0])

        self.gauge.setOpts(x=t, height=np.ones(T), width=1.0, y0=0.0, brushes=colours,
                           pens=[pg.mkPen(c) for c in colours])
        self.gauge_plot.getAxis("bottom").setTicks(step_ticks(T))
        top = self.spectrum_plot.getAxis("top")
        if T <= MAX_SYMBOL_TICKS:
            top.setTicks([[(step_number(k), shown_symbol(label)) for k, label in enumerate(li.labels)], []])
            top.setStyle(showValues=True)
            top.setLabel("input symbol")
        else:
            top.setTicks([[], []])
            top.setStyle(showValues=False)
            top.setLabel("")
        self.class_legend.setText(class_key(li.step_class))
        text = spectrum_caption(self.sigma_max, li.step_class)
        below = int(np.sum(np.isfinite(sigma) & (sigma < SIGMA_FLOOR)))
        if below:
            text += f" {below} singular values below {SIGMA_FLOOR:g} sit on the bottom line."
        self.spectrum_caption.setText(text)
        self.step_readout.setText("Hover the plot for one step's numbers.")

    def step_detail(self, t: int) -> str:
        """The numbers of probe step ``t`` (an index from 0), as the hover readout shows them."""
        li = self._li
        sigma = np.asarray(li.step_sigma[t], dtype=float)
        return (f"step {step_number(t)}, input ‘{shown_symbol(li.labels[t])}’: σmax = {sigma[0]:.3g}, "
                f"σmin = {sigma[-1]:.3g}; {li.step_class[t]}")

    def _on_spectrum_mouse_moved(self, args) -> None:
        if self._li is None:
            return
        point = self.spectrum_plot.vb.mapSceneToView(args[0])
        t = round(point.x()) - 1                  # (the axis counts steps from 1)
        inside = any(plot.sceneBoundingRect().contains(args[0]) for plot in (self.spectrum_plot, self.gauge_plot))
        if inside and 0 <= t < self._li.T:
            self.step_readout.setText(self.step_detail(t))

    # -- saturation
    def _show_saturation(self) -> None:
        li = self._li
        report = li.saturation
        gates = report.get("gates") or {}
        self.gate_legend.clear()
        self.hist_legend.clear()
        self.gate_points = {}
        self.histogram = None
        hidden = report["hidden"]
        if gates:
            self._show_gates(gates, report, hidden)
        else:
            self._show_units(hidden)

    def _show_gates(self, gates: dict, report: dict, hidden: dict) -> None:
        low, high = report.get("gate_low", 0.1), report.get("gate_high", 0.9)
        self.saturation_stack.setCurrentWidget(self.gate_plot)
        self.saturation_title.setText("Gate saturation (Karpathy et al. 2015, Fig. 4)")
        self.saturation_help.setToolTip(GATES_HELP)
        self.gate_plot.setLabel("bottom", f"fraction of steps shut (Γ &lt; {low:g})")
        self.gate_plot.setLabel("left", f"fraction of steps open (Γ &gt; {high:g})")
        self.hist_bars.setOpts(x=[], height=[])
        self.dead_bar.setOpts(x=[], height=[])
        lines = [f"Shut: Γ < {low:g}; open: Γ > {high:g}."]
        for gate, item in self.gate_scatter.items():
            if gate not in gates:
                item.setData([], [])
                continue
            left = np.asarray(gates[gate]["left"], dtype=float)
            right = np.asarray(gates[gate]["right"], dtype=float)
            self.gate_points[gate] = (left, right)
            item.setData(left, right)
            H = left.size
            self.gate_legend.addItem(item, html.escape(f"{STATE_NAMES[gate]} ({H} units)"))
            lines.append(f"{int(np.sum(left > 0.5))} of {H} {GATE_SHORT[gate]} units shut more than half the "
                         f"time, {int(np.sum(right > 0.5))} open.")
        per_unit = np.asarray(hidden["per_unit"], dtype=float)
        lines.append(f"Candidate c~ (tanh, saturated where |c~| > {TANH_SATURATED:g}): "
                     f"{int(np.sum(per_unit > 0.5))} of {per_unit.size} units saturated more than half the time.")
        self.saturation_caption.setText(" ".join(lines))

    def _show_units(self, hidden: dict) -> None:
        li = self._li
        self.saturation_stack.setCurrentWidget(self.hist_plot)
        for item in self.gate_scatter.values():
            item.setData([], [])
        edges = np.linspace(0.0, 1.0, HIST_BINS + 1)
        centres = 0.5 * (edges[:-1] + edges[1:])
        if hidden["kind"] == "relu":
            a = np.asarray(li.states["a"], dtype=float)
            off = (a <= 0.0).mean(axis=0)                          # (H,) fraction of steps switched off
            dead = np.zeros(off.size, dtype=bool)
            dead[np.asarray(hidden["dead"], dtype=int)] = True
            counts, _ = np.histogram(off[~dead], bins=edges)
            n_dead = int(hidden["dead_units"])
            self.hist_bars.setOpts(x=centres, height=counts, width=0.1, y0=0)
            self.dead_bar.setOpts(x=[centres[-1]], height=[n_dead], width=0.1, y0=[counts[-1]])
            self.histogram = (counts, n_dead)
            self.saturation_title.setText("Units switched off (ReLU)")
            self.saturation_help.setToolTip(RELU_HELP)
            self.hist_plot.setLabel("bottom", "fraction of steps off (a = 0)")
            self.hist_legend.addItem(self.hist_bars, "hidden units")
            if n_dead:
                self.hist_legend.addItem(self.dead_bar, "dead: off at every step")
            top = max(int(counts.max(initial=0)), int(counts[-1]) + n_dead, 1)
            H = off.size
            self.saturation_caption.setText(
                f"A ReLU unit has no flat top; what stops it is being off (a = 0). {n_dead} of {H} units are "
                f"dead on the whole probe (off at every step: they pass no signal and get no gradient); "
                f"{int(np.sum(off > 0.5))} of {H} are off more than half the time.")
        else:
            per_unit = np.asarray(hidden["per_unit"], dtype=float)
            counts, _ = np.histogram(per_unit, bins=edges)
            self.hist_bars.setOpts(x=centres, height=counts, width=0.1, y0=0)
            self.dead_bar.setOpts(x=[], height=[])
            self.histogram = (counts, 0)
            if hidden["kind"] == "sigmoid":
                rule = f"a < {SIGMOID_LOW:g} or a > {1 - SIGMOID_LOW:g}"
                why = "where σ′ is as flat as tanh′ beyond 0.95"
            else:
                rule = f"|a| > {TANH_SATURATED:g}"
                why = "where tanh′ < 0.1"
            self.saturation_title.setText(f"Unit saturation ({hidden['kind']})")
            self.saturation_help.setToolTip(UNITS_HELP)
            self.hist_plot.setLabel("bottom", html.escape(f"fraction of steps saturated ({rule})"))
            top = max(int(counts.max(initial=0)), 1)
            H = per_unit.size
            self.saturation_caption.setText(
                f"Saturated: {rule}, {why}. {int(np.sum(per_unit > 0.5))} of {H} units saturated more than "
                f"half the time; {100 * float(np.mean(per_unit)) if H else 0:.1f}% of all unit-steps.")
        self.hist_plot.setYRange(0, top * 1.15 + 0.5, padding=0)
        self.hist_plot.getAxis("left").setTickSpacing(major=_count_spacing(top), minor=_count_spacing(top))


def _count_spacing(top: int) -> float:
    """Whole-number tick spacing for a count axis up to ``top``: about five labels."""
    raw = max(top / 5.0, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))
