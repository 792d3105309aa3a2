"""Hidden states across time: a heatmap of units x time steps for the probe sequence.

Under the heatmap, column by column, a strip of the one-step Jacobians' largest singular values
along the same probe (from the run's LiveInsight, while one is computed) and their gauge.
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QVBoxLayout, QWidget
from superqt import QElidingLabel

from rnnviz.training.trainer import layer_words

from ..run_data import RunData
from ..widgets.views import TimedGraphicsLayoutWidget
from .gradient_flow import format_power, plain_axis
from .jacobian_gauge import CLASS_COLOURS, class_key, floored

DIVERGING = pg.colormap.get("CET-D1A")   # blue - white - red, white at the centre (0)
SEQUENTIAL = pg.colormap.get("viridis")  # gates live in [0, 1]
SYMBOL_NAMES = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}
STATE_HELP = {
    "encoder": "the encoder's state a<t'>: what it holds after reading the input up to step t'",
    "decoder": "the decoder's state s<t>: what it holds when it writes the output at step t",
    "attention": "the attention α<t,t'>: how much output step t looks at input step t' (each row sums to 1)",
    "hidden": "the hidden state a<t>: what the network remembers after reading the input at step t",
    "cell": "the LSTM cell state c<t>: the long-term memory the gates write to and read from",
    "forget": "the forget gate Γf: 1 keeps the old cell state, 0 erases it",
    "update": "the update gate: how much new information is written at step t",
    "input": "the input (update) gate Γi: how much of the candidate is written into the cell",
    "output": "the output gate Γo: how much of the cell state is shown as a<t>",
    "reset": "the GRU reset gate Γr: how much of a<t-1> the candidate may use",
    "candidate": "the candidate value c~<t> proposed at step t",
}


MIN_COLUMN_PX = 10
"""Every time step gets its input symbol under it whenever its column is at least this wide (and
the symbols fit); otherwise every k-th one."""
NUMBER_LABEL = re.compile(r"^-?\d+\.\d+(\*?)$")
"""Probe labels of a real-valued input with a marker flag (the adding problem's ``0.70*``): drawn
as a two-row strip (value, marker) under the heatmap instead of as text."""


LEFT_AXIS_WIDTH = 58
"""px: the heatmap's and the strips' left axes, so their time steps line up column by column."""
JACOBIAN_HEIGHT = 54
GAUGE_HEIGHT = 16
JACOBIAN_HELP = (
    "The strip under the heatmap: at each time step t, the largest singular value σmax of the one-step "
    "Jacobian ∂state⟨t⟩/∂state⟨t−1⟩ (the state is a⟨t⟩, or [a⟨t⟩; c⟨t⟩] for the LSTM), on a log axis with "
    "a dashed line at 1. It is the most a change of the state, or a gradient passing back, can be "
    "stretched by that one step: below 1 every direction shrinks (contracting), above 1 some direction "
    "grows (expanding). The cells below colour each step by its class. Many contracting steps in a row "
    "make the gradient vanish; saturated units (deep red or blue columns above) pull σmax down where "
    "they are. Computed on the probe while the why-view or a probe source of the gradient-flow plot "
    "is shown; the why-view's Jacobians tab shows every singular value.")

TIME_TITLE = "time step t → (tick labels: the input symbol read at that step)"
INPUT_TITLE = "input step t' → (tick labels: the input symbol read at that step)"
OUTPUT_TITLE = "output step t → (tick labels: the symbol the decoder wrote at that step)"
ATTENTION_Y_TITLE = "output step t (the symbol written)"
STRIP_TITLE = "time step t (value read: dark 0 to light 1; ● the two marked values)"


def fit_title(axis, text: str, room: float, set_label, tip: str | None = None) -> None:
    """Title ``axis`` with the longest of ``text``, its part before " (", or nothing, that fits
    ``room`` pixels as drawn (``set_label(text)`` sets it); the axis's tooltip says the whole text."""
    axis.setToolTip(text if tip is None else tip)
    for form in (text, text.split(" (")[0], ""):
        if axis.labelText != form:
            set_label(form)
        if not form or axis.label.boundingRect().width() <= room:
            return


def sentence(text: str) -> str:
    """``text`` with its first letter capitalised (str.capitalize would lower-case ``Γf`` to ``γf``)."""
    return text[:1].upper() + text[1:]


def label_step(labels: list[str], px_per_column: float, text_width) -> int:
    """Label every k-th time step: the smallest k for which k columns hold both MIN_COLUMN_PX and
    the widest label (``text_width(label)`` in pixels) with a little room."""
    if not labels or px_per_column <= 0:
        return 1
    need = max(MIN_COLUMN_PX, max(text_width(label) for label in labels) + 2)
    return max(1, math.ceil(need / px_per_column - 1e-9))


def symbol_label(symbol: str) -> str:
    return SYMBOL_NAMES.get(symbol, symbol if symbol.isprintable() else repr(symbol)[1:-1])


def state_axes(probe, name: str) -> tuple[list[str], list[str] | None, str, str]:
    """(x tick labels, y tick labels or None for unit numbers, x title, y title) of the state
    ``name``: units by input steps, by output steps (an encoder–decoder's decoder), or the
    attention matrix's output steps by input steps."""
    outputs = list(getattr(probe, "output_labels", None) or [])
    if outputs and name.startswith("attention"):
        return list(probe.labels), outputs, INPUT_TITLE, ATTENTION_Y_TITLE
    if outputs and name.startswith("decoder"):
        return outputs, None, OUTPUT_TITLE, "hidden unit"
    return list(probe.labels), None, INPUT_TITLE if outputs else TIME_TITLE, "hidden unit"


def explain_state(name: str, bidirectional: bool = False) -> str:
    """What the probe state titled ``name`` is; a stacked network's upper layers ("layer 2: forget
    gate Γf[2]") say which layer and what it reads (``bidirectional``: both directions of the layer
    below); a bidirectional layer's reverse direction ("reverse: hidden a<t>", "layer 2, reverse: …")
    says that it reads the sequence backwards."""
    layer = re.match(r"layer (\d+)(, reverse)?: ", name)
    reverse = name.startswith("reverse: ") or bool(layer and layer.group(2))
    backwards = (" It belongs to the reverse direction, which reads the sequence from its last step back "
                 "to its first: a<t> there has seen the inputs from t to the end.") if reverse else ""
    low = name.lower()
    for key, text in STATE_HELP.items():
        if key in low:
            if layer:
                n = int(layer.group(1))
                below = (f"both directions' hidden states of layer {n - 1}, side by side" if bidirectional
                         else f"layer {n - 1}'s hidden states")
                return f"{layer_words(text, n)} — in layer {n}, which reads {below}" + backwards
            return text + backwards
    return name


class HiddenStatesPanel(QWidget):
    """Heatmap of one probe state (hidden, cell or a gate), hidden units x time steps."""

    live_edited = Signal(dict)     # {"probe": text}: the character model's probe, a live setting

    def __init__(self, parent=None):
        super().__init__(parent)
        self._probe = None
        self._state_name: str | None = None
        self._labels: list[str] = []        # x tick labels: the symbol of each step shown
        self._y_labels: list[str] | None = None   # the attention matrix's rows: the output symbols
        self._step: int | None = None       # the training step of the probe shown
        self._note: str | None = None       # what the probe is, when known
        self.label_every = 1                # tick labels under every k-th time step

        self.state_box = QComboBox()
        self.state_box.setToolTip("Which quantity to show for every unit and time step: the hidden state, or "
                                  "for LSTM/GRU the cell state and each gate.")
        self.state_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.state_box.setMinimumContentsLength(12)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #444;")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.probe_label = QLabel("Probe")
        self.probe_edit = QLineEdit()
        self.probe_edit.setPlaceholderText("start of the held-out text")
        self.probe_edit.setToolTip("The text whose states are shown (at most 200 characters, all seen in the "
                                   "corpus). Empty: the first characters of the held-out text. Press Enter "
                                   "to apply; it changes nothing in training.")
        self.probe_edit.setMaxLength(200)
        self.probe_edit.setMinimumWidth(120)
        self.probe_edit.editingFinished.connect(self._on_probe_edit_editing_finished)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.state_box)
        top.addWidget(self.probe_label)
        top.addWidget(self.probe_edit)
        top.addStretch(1)

        self.graphics = TimedGraphicsLayoutWidget()
        self.views = [self.graphics]
        self.plot = self.graphics.addPlot(row=0, col=0)
        self._time_title = TIME_TITLE
        self._strip_title = STRIP_TITLE
        self.plot.setLabel("bottom", TIME_TITLE)
        self.plot.setLabel("left", "hidden unit")
        self.plot.setMenuEnabled(False)
        self.plot.getViewBox().invertY(True)
        # (the tick spacing is chosen here, so pyqtgraph must not drop labels for crowding)
        self.plot.getAxis("bottom").setStyle(textFillLimits=[(0, 0.99)])
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=DIVERGING, interactive=False,
                                        label="value", width=14)
        self.colorbar.setImageItem(self.image)
        self.graphics.addItem(self.colorbar, row=0, col=1)
        # A real-valued input with markers (the adding problem): value and marker rows under the map.
        self.input_strip = self.graphics.addPlot(row=1, col=0)
        self.input_strip.setMenuEnabled(False)
        self.input_strip.setMouseEnabled(x=False, y=False)
        self.input_strip.hideButtons()
        self.input_strip.setXLink(self.plot)
        self.input_strip.getViewBox().invertY(True)
        self.input_strip.setLabel("bottom", STRIP_TITLE)
        self.input_strip.getAxis("left").setTicks([[(0.5, "value"), (1.5, "marker")], []])
        self.input_strip.setMaximumHeight(70)
        self.strip_image = pg.ImageItem(axisOrder="row-major")
        self.strip_image.setLookupTable(pg.colormap.get("CET-L1").getLookupTable(nPts=256))
        self.input_strip.addItem(self.strip_image)
        self.strip_marks = pg.ScatterPlotItem(symbol="o", size=8, brush=(200, 30, 30), pen=None)
        self.input_strip.addItem(self.strip_marks)
        self.input_strip.setYRange(0, 2, padding=0)
        self.input_strip.hide()
        self._strip_values: np.ndarray | None = None
        # The Jacobian spectrum along the probe (σmax per step, log) and its gauge: hidden until a
        # LiveInsight of this probe is at hand.
        self._insight = None                # the LiveInsight the strip shows (or not: another probe)
        self.strip_sigma: np.ndarray | None = None   # (T,) σmax drawn, per step
        self.jacobian_strip = self.graphics.addPlot(row=2, col=0)
        self.gauge_strip = self.graphics.addPlot(row=3, col=0)
        for strip, height in ((self.jacobian_strip, JACOBIAN_HEIGHT), (self.gauge_strip, GAUGE_HEIGHT)):
            strip.setMenuEnabled(False)
            strip.setMouseEnabled(x=False, y=False)
            strip.hideButtons()
            strip.setXLink(self.plot)
            strip.setMaximumHeight(height)
            strip.setMinimumHeight(height)
            strip.getAxis("bottom").setStyle(showValues=False, tickLength=0)
            strip.getAxis("bottom").setHeight(2)
            strip.getViewBox().setToolTip(JACOBIAN_HELP)
            strip.hide()
        self.jacobian_strip.setLogMode(y=True)
        self.jacobian_strip.setLabel("left", "σmax")
        self.jacobian_strip.getAxis("left").setToolTip(JACOBIAN_HELP)
        self.sigma_curve = self.jacobian_strip.plot(pen=pg.mkPen("#222", width=1.2), symbol="o", symbolSize=4,
                                                    symbolPen=None, symbolBrush="#888")
        self.sigma_one = pg.InfiniteLine(pos=0.0, angle=0,   # σ = 1 (the axis is in log10 units)
                                         pen=pg.mkPen("#444", width=1, style=Qt.PenStyle.DashLine))
        self.jacobian_strip.addItem(self.sigma_one, ignoreBounds=True)
        self.gauge_strip.setYRange(0, 1, padding=0)
        self.gauge_strip.getAxis("left").setTicks([[(0.5, "class")], []])
        self.gauge_strip.getAxis("left").setStyle(tickLength=0)
        self.gauge_cells = pg.BarGraphItem(x=[], height=[], width=1.0, y0=0.0)
        self.gauge_strip.addItem(self.gauge_cells)
        # Units and time steps are counts with their own tick labels: no "(x0.001)" on these labels
        # (nor on the colour bar's, which names the state).
        for axis in (self.plot.getAxis("bottom"), self.plot.getAxis("left"),
                     self.colorbar.getAxis("left"), self.colorbar.getAxis("right"),
                     self.input_strip.getAxis("bottom"), self.input_strip.getAxis("left"),
                     self.jacobian_strip.getAxis("left"), self.gauge_strip.getAxis("left")):
            plain_axis(axis)
        for plot in (self.plot, self.input_strip, self.jacobian_strip, self.gauge_strip):
            plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self._show_empty()
        # The readout is elided to the panel's width: whatever it says, no size hint changes.
        self.readout = QElidingLabel("Hover over the heatmap to read unit, step, value and input.")
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.jacobian_key = QLabel()            # the strip's key, shown with it
        self.jacobian_key.setTextFormat(Qt.TextFormat.RichText)
        self.jacobian_key.setWordWrap(True)
        self.jacobian_key.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.jacobian_key.setStyleSheet("color: #444;")
        self.jacobian_key.setToolTip(JACOBIAN_HELP)
        self.jacobian_key.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.caption)          # its own row: beside the controls it wrapped to a column
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.jacobian_key)
        layout.addWidget(self.readout)

        self.state_box.activated.connect(self._on_state_box_activated)
        # A new width may allow (or need) other tick spacing: once per burst of resizes.
        self._tick_timer = QTimer(self, singleShot=True, interval=0)
        self._tick_timer.timeout.connect(self._set_time_ticks)
        self.plot.getViewBox().sigResized.connect(self._tick_timer.start)
        self._tick_timer.timeout.connect(self._fit_titles)
        self._hover_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_hover_proxy_fired)

    def show_config(self, config) -> None:
        """The probe field: shown for the character model, holding its probe text."""
        is_text = config.task == "charlm"
        self.probe_label.setVisible(is_text)
        self.probe_edit.setVisible(is_text)
        if self.probe_edit.text() != config.probe:
            self.probe_edit.blockSignals(True)
            self.probe_edit.setText(config.probe)
            self.probe_edit.blockSignals(False)

    def _on_probe_edit_editing_finished(self) -> None:
        self.live_edited.emit({"probe": self.probe_edit.text()})

    def clear(self) -> None:
        self._probe = None
        self._step = None
        self._show_jacobians(None)
        self.state_box.clear()
        self.image.clear()
        self.caption.setText("")
        self._show_empty()

    def _show_empty(self) -> None:
        """No probe yet: no tick labels (the next probe sets units and input symbols), and a fixed
        range instead of the empty image's -0.5..0.5."""
        self._labels = []
        self._y_labels = None
        self._show_strip(None)
        for side in ("bottom", "left"):
            self.plot.getAxis(side).setTicks([[], []])
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def refresh(self, data: RunData) -> bool:
        """Show the latest probe (and its Jacobian strip); False if there was nothing new to draw."""
        probe = data.probe
        if probe is None or probe is self._probe:
            if probe is None or data.insight is self._insight:
                return False
            self._show_jacobians(data.insight)
            return True
        first = self._probe is None
        self._probe = probe
        self._step = data.probe_step
        # what the probe is: the snapshot says it; a probe taken while paused carries it itself
        self._note = data.probe_note or getattr(probe, "description", None) or None
        names = list(probe.states)
        if [self.state_box.itemText(i) for i in range(self.state_box.count())] != names:
            self.state_box.clear()
            self.state_box.addItems(names)
            if self._state_name not in names:
                # an encoder–decoder opens on its attention matrix, the picture of the alignment
                self._state_name = next((n for n in names if n.startswith("attention")), names[0])
            self.state_box.setCurrentText(self._state_name)
            first = True
        first = self._take_labels() or first
        self._show_state(first)
        self._show_caption()
        self._show_jacobians(data.insight)
        return True

    def _take_labels(self) -> bool:
        """The x tick labels and axis titles of the state shown; True if the number of steps changed."""
        labels, self._y_labels, time_title, y_title = state_axes(self._probe, self._state_name)
        self.plot.setLabel("left", y_title)
        changed = False
        if labels != self._labels or time_title != self._time_title:
            changed = len(labels) != len(self._labels)          # the axis fits the probe shown
            self._labels = labels
            self._show_strip(self._labels)
            if self._strip_values is None:
                self._time_title = time_title
                self._fit_titles()
            self._set_time_ticks()
        return changed

    def shown_step(self) -> int | None:
        """The training step of the probe shown."""
        return self._step if self._probe is not None else None

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
            self._fit_titles()
        H, T = values.shape
        self.image.setRect(QRectF(0, 0, T, H))
        if self._y_labels is not None:       # the attention matrix: rows are the symbols written
            self.plot.getAxis("left").setTicks([[(h + 0.5, symbol_label(s)) for h, s in enumerate(self._y_labels)], []])
            if new_layout:
                self.plot.setRange(xRange=(0, T), yRange=(0, H), padding=0)
        elif new_layout:
            step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if H / s <= 14)
            self.plot.getAxis("left").setTicks([[(h + 0.5, str(h)) for h in range(0, H, step)], []])
            self.plot.setRange(xRange=(0, T), yRange=(0, H), padding=0)

    def _show_caption(self) -> None:
        names = [self.state_box.itemText(i) for i in range(self.state_box.count())]
        bidirectional = any(n.startswith("reverse: ") or ", reverse: " in n for n in names)
        state = sentence(explain_state(self._state_name, bidirectional))
        at = "" if self._step is None else f" at step {self._step:,}"
        self.caption.setText(f"{state}. Probe{at}: {self._probe_description()}")

    def _probe_description(self) -> str:
        labels = self._labels
        if self._strip_values is not None:
            text = " ".join(labels[:8]) + (" …" if len(labels) > 8 else "")
        else:
            text = "".join(symbol_label(label) for label in labels)
            if len(text) > 60:
                text = text[:57] + "…"
        what = self._note or "a fixed input"
        outputs = getattr(self._probe, "output_labels", None)
        if outputs:                         # an encoder–decoder: the input read, the output written
            read = "".join(symbol_label(label) for label in self._probe.labels)
            return f"{what}, “{read}” ({len(self._probe.labels)} steps) → “{''.join(outputs)}”"
        return f"{what}, {len(labels)} steps, “{text}”"

    def _show_strip(self, labels) -> None:
        """A real-valued input with markers gets a value row and a marker row; others, none."""
        match = [NUMBER_LABEL.match(label) for label in labels] if labels else []
        if not match or not all(match):
            self._strip_values = None
            self.input_strip.hide()
            self._time_title = TIME_TITLE
            self._fit_titles()
            return
        values = np.array([float(label.rstrip("*")) for label in labels])
        marked = np.flatnonzero([m.group(1) == "*" for m in match])
        self._strip_values = values
        T = values.size
        self.strip_image.setImage(values[None, :], levels=(0.0, 1.0), autoLevels=False)
        self.strip_image.setRect(QRectF(0, 0, T, 1))
        self.strip_marks.setData(marked + 0.5, np.full(marked.size, 1.5))
        self.input_strip.setYRange(0, 2, padding=0)
        self._time_title = ""
        self._fit_titles()
        self.input_strip.show()

    def _show_jacobians(self, li) -> None:
        """The strip of σmax per step from ``li`` (a LiveInsight) under the heatmap, if ``li`` is of
        the probe shown (as many steps); else no strip."""
        self._insight = li
        if li is None or not self._labels or li.T != len(self._labels):
            self.strip_sigma = None
            for item in (self.jacobian_strip, self.gauge_strip, self.jacobian_key):
                item.hide()
            return
        sigma = np.asarray(li.step_sigma[:, 0], dtype=float)      # (T,) largest first
        T = sigma.size
        x = np.arange(T) + 0.5                                   # the heatmap's column centres
        colours = [CLASS_COLOURS[c] for c in li.step_class]
        self.strip_sigma = sigma.copy()
        self.sigma_curve.setData(x, floored(sigma), symbolBrush=colours)
        self.gauge_cells.setOpts(x=x, height=np.ones(T), width=1.0, y0=0.0, brushes=colours,
                                 pens=[pg.mkPen(c) for c in colours])
        self._fit_sigma_axis(floored(sigma))
        self.jacobian_key.setText(f"<b>Strip:</b> σmax of ∂state⟨t⟩/∂state⟨t−1⟩ at step {li.step:,} (log; "
                                  "dashed: 1) &nbsp; " + class_key())
        for item in (self.jacobian_strip, self.gauge_strip, self.jacobian_key):
            item.show()

    def _fit_sigma_axis(self, sigma: np.ndarray) -> None:
        """The strip's log axis: whole decades around σmax and 1, at most three labelled."""
        finite = sigma[np.isfinite(sigma)]
        lo = math.floor(math.log10(min(float(finite.min()), 1.0))) if finite.size else -1
        hi = math.ceil(math.log10(max(float(finite.max()), 1.0))) if finite.size else 1
        if hi - lo < 1:
            lo, hi = lo - 1, hi + 1
        decades = range(lo, hi + 1)
        labelled = {lo, hi, 0} if len(decades) > 3 else set(decades)
        self.jacobian_strip.getAxis("left").setTicks(
            [[(float(k), format_power(k)) for k in decades if k in labelled],
             [(float(k), "") for k in decades if k not in labelled]])
        self.jacobian_strip.setYRange(lo, hi, padding=0.08)

    def jacobian_detail(self, t: int) -> str | None:
        """The strip's numbers at probe step ``t`` (0-based), as the hover readout says them."""
        li = self._insight
        if self.strip_sigma is None or not 0 <= t < self.strip_sigma.size:
            return None
        symbol = symbol_label(li.labels[t]) if t < len(li.labels) else "?"
        return (f"step t={t + 1}, input “{symbol}”: σmax of ∂state⟨t⟩/∂state⟨t−1⟩ = {self.strip_sigma[t]:.3g} "
                f"({li.step_class[t]}), at training step {li.step:,}")

    def _fit_titles(self) -> None:
        """Axis titles that fit: the time axis's title shortened to the plot's width, the colour
        bar's to its height (the whole text in each axis's tooltip), so none is clipped or runs
        into another."""
        room = self.plot.getViewBox().width() + self.plot.getAxis("left").width()
        for axis, text in ((self.plot.getAxis("bottom"), self._time_title),
                           (self.input_strip.getAxis("bottom"), self._strip_title)):
            fit_title(axis, text, room, axis.setLabel)
        fit_title(self.colorbar.getAxis("left"), html.escape(self._state_name or ""), self.colorbar.vb.height() - 4,
                  lambda text: self.colorbar.setLabel("left", text), tip=self._state_name or "")

    def _set_time_ticks(self) -> None:
        """Tick labels under every time step while each column has MIN_COLUMN_PX and room for its
        label, else under every k-th; numbered steps for a value-and-marker strip."""
        labels = self._labels
        T = len(labels)
        if not T:
            return
        px = self.plot.getViewBox().width() / T
        if self._strip_values is not None:
            axis = self.input_strip.getAxis("bottom")
            self.plot.getAxis("bottom").setTicks([[], [(t + 0.5, "") for t in range(T)]])
            names = [str(t + 1) for t in range(T)]
        else:
            axis = self.plot.getAxis("bottom")
            names = [symbol_label(label) for label in labels]
        metrics = QFontMetricsF(axis.style.get("tickFont") or axis.font())
        every = label_step(names, px, metrics.horizontalAdvance)
        major = [(t + 0.5, names[t]) for t in range(0, T, every)]
        minor = [(t + 0.5, "") for t in range(T)]
        axis.setTicks([major, minor])
        self.label_every = every

    def _on_state_box_activated(self, index: int) -> None:
        self._state_name = self.state_box.itemText(index)
        if self._probe is not None:
            self._take_labels()
            self._show_state(True)
            self._show_caption()

    def _on_hover_proxy_fired(self, args) -> None:
        probe = self._probe
        if probe is None or self._state_name not in probe.states:
            return
        if self.strip_sigma is not None and any(strip.sceneBoundingRect().contains(args[0])
                                                for strip in (self.jacobian_strip, self.gauge_strip)):
            detail = self.jacobian_detail(int(math.floor(self.jacobian_strip.vb.mapSceneToView(args[0]).x())))
            if detail:
                self.readout.setText(detail)
            return
        pos = self.plot.vb.mapSceneToView(args[0])
        values = probe.states[self._state_name]
        H, T = values.shape
        t, h = int(math.floor(pos.x())), int(math.floor(pos.y()))
        if 0 <= t < T and 0 <= h < H and self._y_labels is not None:
            read = symbol_label(self._labels[t]) if t < len(self._labels) else "?"
            wrote = symbol_label(self._y_labels[h]) if h < len(self._y_labels) else "?"
            self.readout.setText(f"output step t={h + 1} (wrote “{wrote}”) looks at input step t'={t + 1} "
                                 f"(read “{read}”): α = {values[h, t]:.3f}")
        elif 0 <= t < T and 0 <= h < H:
            symbol = symbol_label(self._labels[t]) if t < len(self._labels) else "?"
            if self._strip_values is not None and t < len(probe.labels):
                label = probe.labels[t]
                symbol = label.rstrip("*") + (", marked" if label.endswith("*") else "")
            self.readout.setText(f"unit {h}, step t={t + 1}, input “{symbol}”: "
                                 f"{self._state_name} = {values[h, t]:+.4f}")
