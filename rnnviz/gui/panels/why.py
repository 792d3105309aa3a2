"""The "Why it learns or fails" dock: how far back the gradient reaches, and a diagnosis.

It draws the run's latest :class:`~rnnviz.insight.live.LiveInsight`, computed by the training thread
under a small budget while the dock is shown, or by "Explain now" while training is paused:

* the gradient from one output τ (the last, or any other picked in the list or by a click on the
  plot), ‖∂L<τ>/∂a<t>‖, and the pure recurrence σmax(∂a<τ>/∂a<t>) against the time step t (log
  scale), with Pascanu et al.'s bound (γ·σmax(Waa))^(τ−t) for the vanilla RNN and the cell path
  for the LSTM;
* the memory horizon: the median over τ of σmax(∂state<τ>/∂state<τ−k>) against the lag k, the
  10⁻³ line, and where it is crossed; and the horizon over training, one point per computation;
* the diagnosis in words, with the evidence and one thing to try.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from rnnviz.insight.memory import HORIZON_THRESHOLD
from rnnviz.training.config import LIVE_FIELDS

from .markers import marker_text
from .probe_steps import clicked_output, step_number, tau_entry

MAX_TRIES = 3          # buttons for the first findings that name a setting to change

FLOOR = 1e-30          # zeros are drawn at this floor on the log axes
WAITING = ("Shown while training runs (recomputed every few seconds, at a small cost to its speed), "
           "or press Explain now while paused.")
HELP = ("<b>What am I looking at?</b> Top: how strongly the loss at the last output step τ reaches "
        "back to the hidden state at each earlier step t (‖∂L&lt;τ&gt;/∂a&lt;t&gt;‖), and how much the "
        "recurrence alone carries (the largest singular value of ∂a&lt;τ&gt;/∂a&lt;t&gt;). A line that "
        "falls by orders of magnitude to the left is the vanishing gradient; one that rises, exploding. "
        "For a vanilla RNN the dashed line is Pascanu, Mikolov &amp; Bengio's bound (γ·σmax(Waa))^(τ−t): "
        "below 1 per step, the gradient must vanish. Pick another output τ in the list, or click the plot "
        "near it. Middle: the median of that carry at each lag k; where it drops below 10⁻³ is the "
        "memory horizon, about how far back the network can learn from. Bottom: the horizon at each "
        "step it was computed, so you can see training lengthen (or lose) the network's memory. "
        "<br><b>A stacked network:</b> every view shows the layer chosen beside the tabs (the top one "
        "unless you choose another).")
LAYER_HELP = ("A stacked network is analysed one layer l at a time: the views show its state a[l]⟨t⟩ "
              "(and c[l]⟨t⟩ for the LSTM), its units and gates. The recurrence ∂a[l]⟨τ⟩/∂a[l]⟨t⟩ is the "
              "product of layer l's own one-step Jacobians ∂a[l]⟨t⟩/∂a[l]⟨t−1⟩ with the lower layers' "
              "states held fixed; that is exact, as no layer depends on the layers above it. The gradient "
              "‖∂L⟨τ⟩/∂a[l]⟨t⟩‖ counts every path through the layers above and through time, and the "
              "saliency still goes from the output down through every layer to the inputs x⟨s⟩. The "
              "horizon over training restarts when you choose another layer.")
"""What the why dock's layer selector shows (its tooltip, and the "what am I looking at" text)."""


def _log(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v), np.maximum(v, FLOOR), np.finfo(float).max)


class WhyPanel(QWidget):
    """Header (the step shown, Explain now), diagnosis, gradient-from-output plot, horizon plot."""

    explain_requested = Signal()
    try_requested = Signal(dict)    # a finding's change of settings, to apply (live, or as a new run)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setToolTip(HELP)
        self.status = QLabel(WAITING)
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555;")
        self.explain_button = QPushButton("Explain now")
        self.explain_button.setToolTip("Compute these views for the weights as they are now (while "
                                       "paused). For a large LSTM this takes a few seconds.")
        self.explain_button.clicked.connect(self.explain_requested)
        header = QHBoxLayout()
        header.setContentsMargins(4, 2, 4, 2)
        header.addWidget(self.status, 1)
        header.addWidget(self.explain_button)
        self.diagnosis = QLabel("")
        self.diagnosis.setWordWrap(True)
        self.diagnosis.setMinimumHeight(4 * self.fontMetrics().lineSpacing())   # reserved: no jumps
        self.diagnosis.setStyleSheet("padding: 2px 6px;")
        self.try_row = QHBoxLayout()
        self.try_row.setContentsMargins(4, 0, 4, 0)
        self.try_buttons: list[QPushButton] = []
        self._changes: dict[QPushButton, dict] = {}   # each shown button's change
        for _ in range(MAX_TRIES):
            button = QPushButton()
            button.hide()
            button.clicked.connect(lambda _checked=False, b=button: self.try_requested.emit(dict(self._changes[b])))
            self.try_row.addWidget(button)
            self.try_buttons.append(button)
        self.try_row.addStretch(1)

        self.tau_choice = QComboBox()
        self.tau_choice.setToolTip("The output step τ whose loss is traced back (click the plot to pick "
                                   "the output nearest the click)")
        self.tau_choice.currentIndexChanged.connect(self._on_tau_chosen)
        tau_row = QHBoxLayout()
        tau_row.setContentsMargins(4, 0, 4, 0)
        tau_row.addWidget(QLabel("Trace the loss of output"))
        tau_row.addWidget(self.tau_choice, 1)

        self.gradient_plot = pg.PlotWidget()
        self.gradient_plot.setLogMode(y=True)
        self.gradient_plot.setLabel("bottom", "time step t")
        self.gradient_plot.setLabel("left", "norm (log)")
        self.gradient_plot.setTitle("from the last output τ back to each step t", size="10pt")
        self.gradient_plot.addLegend(offset=(-5, 5))
        self.curves = {
            "loss": self.gradient_plot.plot(pen=pg.mkPen("#1f77b4", width=2), name="‖∂L&lt;τ&gt;/∂a&lt;t&gt;‖"),
            "carry": self.gradient_plot.plot(pen=pg.mkPen("#2ca02c", width=2), name="σmax ∂a&lt;τ&gt;/∂a&lt;t&gt;"),
            "cell": self.gradient_plot.plot(pen=pg.mkPen("#9467bd", width=2), name="σmax ∂c&lt;τ&gt;/∂c&lt;t&gt; (cell path)"),
            "bound": self.gradient_plot.plot(pen=pg.mkPen("#d62728", width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine),
                                             name="bound (γ·σmax(Waa))^(τ−t)"),
        }
        self.horizon_plot = pg.PlotWidget()
        self.horizon_plot.setLogMode(y=True)
        self.horizon_plot.setLabel("bottom", "lag k (steps back)")
        self.horizon_plot.setLabel("left", "median σmax (log)")
        self.horizon_plot.addLegend(offset=(-5, 5))
        self.lag_curve = self.horizon_plot.plot(pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=4,
                                                symbolBrush="#2ca02c", name="state")
        self.lag_curve_c = self.horizon_plot.plot(pen=pg.mkPen("#9467bd", width=2), name="cell path")
        self.threshold = pg.InfiniteLine(pos=np.log10(HORIZON_THRESHOLD), angle=0,
                                         pen=pg.mkPen("#777", style=pg.QtCore.Qt.PenStyle.DotLine),
                                         label="10⁻³", labelOpts={"position": 0.05, "color": "#555"})
        self.horizon_plot.addItem(self.threshold)
        self.horizon_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=1.5),
                                            label="horizon", labelOpts={"position": 0.9, "color": "#d62728"})
        self.horizon_plot.addItem(self.horizon_line)
        self.history_plot = pg.PlotWidget()
        self.history_plot.setLabel("bottom", "training step")
        self.history_plot.setLabel("left", "horizon (steps)")
        self.history_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.history_plot.addLegend(offset=(5, 5))
        self.history_curve = self.history_plot.plot(pen=pg.mkPen("#2ca02c", width=1.5), symbol="o", symbolSize=5,
                                                    symbolBrush="#2ca02c", name="memory horizon")
        self.history_beyond = self.history_plot.plot(pen=None, symbol="t1", symbolSize=9, symbolBrush="#ff7f0e",
                                                     name="beyond the probe")
        self.history_cell = self.history_plot.plot(pen=pg.mkPen("#9467bd", width=1.5, style=Qt.PenStyle.DashLine),
                                                   name="cell path")
        self.horizon_text = QLabel("")
        self.horizon_text.setWordWrap(True)
        for plot in (self.gradient_plot, self.horizon_plot, self.history_plot):
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.setMinimumSize(160, 120)      # the dock never widens the window past a small screen
        self._names = {curve: curve.name() for curve in (*self.curves.values(), self.lag_curve, self.lag_curve_c,
                                                         self.history_curve, self.history_beyond, self.history_cell)}
        self.gradient_plot.scene().sigMouseClicked.connect(self._on_gradient_plot_clicked)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(header)
        lay.addWidget(self.diagnosis)
        lay.addLayout(self.try_row)
        lay.addLayout(tau_row)
        lay.addWidget(self.gradient_plot, 3)
        lay.addWidget(self.horizon_text)
        lay.addWidget(self.horizon_plot, 2)
        lay.addWidget(self.history_plot, 2)
        self._shown = None
        self._tau: int | None = None        # the chosen output step; None: the last
        self._horizons_shown = None
        self.clear()

    def refresh(self, data, running: bool) -> bool:
        """Show ``data.insight`` if it is new; returns whether anything changed."""
        self.explain_button.setEnabled(not running)
        changed = self._show_horizons(data.horizons, data.insight)
        insight = data.insight
        if insight is self._shown:
            return changed
        if insight is None:
            self.clear()
            return True
        self.show_insight(insight, running)
        return True

    def show_insight(self, li, running: bool = False) -> None:
        self._shown = li
        self.status.setText(f"As of step {li.step:,} (computed in {li.seconds:.2g} s)"
                            + ("; updated every few seconds while training runs." if running else "."))
        lines = li.diagnosis or (f"No problem found at step {li.step:,}.",)
        self.diagnosis.setText("<br>".join("• " + _html(line) for line in lines))
        self._show_tries(li.findings, running)
        self._fill_tau_choice(li)
        self._show_tau()
        lags = np.arange(1, li.T)
        self.lag_curve.setData(lags, _log(li.lag_median[1:]))
        self.lag_curve_c.setData(lags, _log(li.lag_median_c[1:]) if li.lag_median_c is not None else [])
        if li.horizon is None:
            text = f"memory horizon: beyond the probe (> {li.T - 1} steps)"
            self.horizon_line.hide()
        else:
            text = f"memory horizon: {li.horizon} steps"
            self.horizon_line.setValue(li.horizon)
            self.horizon_line.show()
        if li.cell == "lstm":
            text += ("; along the cell path: " + ("beyond the probe" if li.horizon_c is None
                                                  else f"{li.horizon_c} steps"))
        self.horizon_text.setText(f"<b>{_html(text)}</b> (where the median falls below 10⁻³)")
        self._update_legends()

    def _show_tries(self, findings, running: bool) -> None:
        """A button for each finding that names a setting change: live changes apply at once (and
        are marked on the cost curve); others start a new run with them (the old one stays as the
        cost plot's faint curve)."""
        tries, seen = [], set()
        for finding in findings:
            key = tuple(sorted(finding.change.items()))
            if finding.change and key not in seen:
                seen.add(key)
                tries.append(finding)
        for button, finding in zip(self.try_buttons, tries):
            change = finding.change
            live = set(change) <= LIVE_FIELDS
            words = ", ".join(marker_text(k, "…", v).replace("… → ", "") for k, v in change.items())
            button.setText(f"Try {words}" + ("" if live else " (new run)"))
            button.setToolTip(f"{finding.summary}.\n\n" + (
                "Applies now, to this run: the change is marked on the cost curve." if live else
                "Starts a new run with this change (asks before discarding this one); this run's "
                "curve stays on the cost plot for comparison."))
            self._changes[button] = change
            button.show()
        for button in self.try_buttons[len(tries):]:
            button.hide()

    # ---- the output τ -----------------------------------------------------------------------
    def _fill_tau_choice(self, li) -> None:
        """List the outputs of ``li``, keeping the chosen τ if it is still an output."""
        steps = [int(t) for t in li.output_steps]
        self.tau_choice.blockSignals(True)
        self.tau_choice.clear()
        for i, t in enumerate(steps):
            label = li.labels[t] if t < len(li.labels) else ""
            self.tau_choice.addItem(tau_entry(t, label, last=i == len(steps) - 1), t)
        if self._tau not in steps:
            self._tau = None
        if steps:
            self.tau_choice.setCurrentIndex(steps.index(self._tau) if self._tau is not None else len(steps) - 1)
        self.tau_choice.setEnabled(len(steps) > 1)
        self.tau_choice.blockSignals(False)

    @property
    def tau(self) -> int | None:
        """The output step traced back (the last output unless another was chosen): a probe index,
        0 = the first step, shown as τ + 1."""
        li = self._shown
        if li is None or not len(li.output_steps):
            return None
        return self._tau if self._tau is not None else int(li.output_steps[-1])

    def select_tau(self, tau: int) -> bool:
        """Trace the loss of output step ``tau`` (a probe index); False if it is not an output of the probe."""
        index = self.tau_choice.findData(int(tau))
        if index < 0:
            return False
        self.tau_choice.setCurrentIndex(index)
        return True

    def _on_tau_chosen(self, index: int) -> None:
        li = self._shown
        if li is None or index < 0:
            return
        tau = self.tau_choice.itemData(index)
        self._tau = None if tau == int(li.output_steps[-1]) else tau
        self._show_tau()

    def _on_gradient_plot_clicked(self, event) -> None:
        li = self._shown
        tau = None if li is None else clicked_output(self.gradient_plot.getViewBox(), event, li.output_steps)
        if tau is not None:
            self.select_tau(tau)

    def _show_tau(self) -> None:
        li, tau = self._shown, self.tau
        if tau is None:
            for curve in self.curves.values():
                curve.setData([], [])
            self._update_legends()
            return
        t = np.arange(tau + 1)                  # the probe's steps 0 … τ, drawn at t + 1
        x = t + 1.0
        which = "the last output" if tau == int(li.output_steps[-1]) else "output"
        self.gradient_plot.setTitle(f"from {which} τ = {step_number(tau)} back to each step t", size="10pt")
        self.curves["loss"].setData(x, _log(li.grad_a[tau, :tau + 1]))
        carry = li.a_norm if li.a_norm is not None else li.state_norm
        self.curves["carry"].setData(x, _log(carry[tau, :tau + 1]))
        if li.c_norm is not None:
            self.curves["cell"].setData(x, _log(li.c_norm[tau, :tau + 1]))
        else:
            self.curves["cell"].setData([], [])
        if li.bound is not None:
            self.curves["bound"].setData(x, _log(li.bound[tau - t]))
        else:
            self.curves["bound"].setData([], [])
        self._update_legends()

    # ---- the horizon over training ----------------------------------------------------------
    def _show_horizons(self, horizons, li) -> bool:
        """Plot (step, horizon, cell path's horizon) over training; a horizon beyond the probe is
        drawn as a triangle at the probe's length. Returns whether anything changed."""
        key = (len(horizons), horizons[-1] if horizons else None, None if li is None else li.T)
        if key == self._horizons_shown:
            return False
        self._horizons_shown = key
        T = li.T if li is not None else None
        steps = np.array([h[0] for h in horizons], dtype=float)
        values = np.array([np.nan if h[1] is None else h[1] for h in horizons], dtype=float)
        beyond = np.array([h[1] is None for h in horizons], dtype=bool)
        self.history_curve.setData(steps[~beyond], values[~beyond])
        if beyond.any() and T is not None:
            self.history_beyond.setData(steps[beyond], np.full(int(beyond.sum()), float(T)))
        else:
            self.history_beyond.setData([], [])
        cell = [(h[0], h[2]) for h in horizons if h[2] is not None]
        if cell and li is not None and li.cell == "lstm":
            self.history_cell.setData([c[0] for c in cell], [c[1] for c in cell])
        else:
            self.history_cell.setData([], [])
        self.history_plot.setTitle(f"memory horizon over training ({len(horizons)} point"
                                   f"{'s' if len(horizons) != 1 else ''})", size="10pt")
        self._update_legends()
        return True

    def _update_legends(self) -> None:
        """Only the curves this cell has are named in the legends."""
        for plot in (self.gradient_plot, self.horizon_plot, self.history_plot):
            legend = plot.plotItem.legend
            legend.clear()
            for item in plot.plotItem.listDataItems():
                x, _ = item.getOriginalDataset()
                if x is not None and len(x):
                    legend.addItem(item, self._layer_name(self._names[item]))

    def _layer_name(self, name: str) -> str:
        """A curve's name for the layer shown: "∂a[2]<t>" for layer 2 of a stacked network."""
        li = self._shown
        layer = getattr(li, "layer", 1)
        if li is None or getattr(li, "layers", 1) == 1:
            return name
        name = name.replace("∂a&lt;", f"∂a[{layer}]&lt;").replace("∂c&lt;", f"∂c[{layer}]&lt;")
        return name if layer == 1 else name.replace("Waa", f"Waa[{layer}]")

    def clear(self) -> None:
        """A new run: nothing to show until its first numbers arrive."""
        self._shown = None
        self.status.setText(WAITING)
        self.diagnosis.setText("")
        self.horizon_text.setText("")
        for button in self.try_buttons:
            button.hide()
        self.tau_choice.clear()
        self._tau = None
        self._horizons_shown = None
        for curve in (*self.curves.values(), self.lag_curve, self.lag_curve_c, self.history_curve,
                      self.history_beyond, self.history_cell):
            curve.setData([], [])
        self.horizon_line.hide()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
