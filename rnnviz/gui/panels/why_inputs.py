"""Why-views over the probe's inputs (issue 17): what each output looked at, what each unit
responds to, how sure the model was of every target, and what the state remembers.

:class:`InputsView` draws a :class:`~rnnviz.insight.live.LiveInsight`; it only indexes its arrays
(and ranks units with :func:`~rnnviz.insight.units.selectivity`), so it is cheap on the GUI thread.

* Saliency: the probe's input symbols shaded by ‖∂ log p(output τ)/∂x<s>‖ for one output step τ.
* Units: the probe text coloured by one unit of a state, Karpathy-style; units ranked for a span.
* Probabilities: the text coloured by p(target); hover a symbol for the top-5 and the entropy.
* Memory: the held-out score of a linear read-out of the input k steps ago, against k.
"""

from __future__ import annotations

import bisect
import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QSizePolicy, QSpinBox, QStackedWidget,
    QTabWidget, QTextEdit, QToolButton, QToolTip, QVBoxLayout, QWidget,
)

from rnnviz.insight.units import selectivity
from rnnviz.training.config import CELL_TITLES
from rnnviz.training.trainer import layer_words

from .gradient_flow import plain_axis
from .hidden_states import DIVERGING, SEQUENTIAL
from .probe_steps import shown_symbol, step_number, step_ticks

EMPTY_TEXT = "Computed while training runs, or press Explain when paused."
TOP_UNITS = 10
TOP_ALTERNATIVES = 5
MIN_LINES, MAX_LINES = 2, 9     # the coloured text's height, in lines

SALIENCY_MAP = pg.ColorMap([0.0, 0.5, 1.0], [(255, 255, 255), (158, 202, 225), (8, 48, 107)])
"""Sequential, white at 0: how strongly an input step moves the chosen output."""
PROBABILITY_MAP = pg.ColorMap([0.0, 0.5, 1.0], [(215, 48, 39), (254, 224, 139), (26, 152, 80)])
"""p(target): red where the model was surprised, green where it was sure."""

GATES = ("f", "i", "o", "r", "u", "z")
STATE_NAMES = {"a": "hidden state a<t>", "c": "cell state c<t>", "f": "forget gate Γf", "i": "input gate Γi",
               "o": "output gate Γo", "r": "reset gate Γr", "u": "update gate Γu", "z": "update gate Γz",
               "cand": "candidate c~<t>"}

SALIENCY_HELP = (
    "<p><b>What am I looking at?</b> Pick an output step τ (click a symbol, or use the selector). Every input "
    "symbol s up to τ is shaded by ‖∂ log p(output τ)/∂x&lt;s&gt;‖: how much the log-probability the model "
    "gives the right answer at τ would change if the input at s changed. Dark symbols are the ones the "
    "answer depends on; white ones it ignores (and steps after τ cannot matter). The bars below give the "
    "same numbers. A network that has learned a long dependency shades the far-back symbol it needs; one "
    "that has not looks only at the last few steps.</p>")
UNITS_HELP = (
    "<p><b>What am I looking at?</b> The probe text coloured by one hidden unit's value after reading each "
    "symbol (Karpathy's visualisation): red positive, blue negative, white 0, scaled to the unit's largest "
    "|value| on this probe; gates run from 0 to 1 on their own scale. Select a span of the text with the "
    "mouse (or set start and stop) to rank the units by how differently they behave on the span than on the "
    "rest (Cohen's d: the difference of the means over the pooled standard deviation; + higher on the span, "
    "− lower). Click a ranked unit to colour the text by it. A unit that turns on inside quotes or brackets "
    "and off outside is one that learned to track them.</p>")
PROBABILITY_HELP = (
    "<p><b>What am I looking at?</b> Every target symbol coloured by the probability the model gave it "
    "before seeing it: green sure and right, red surprised. Hover a symbol for the model's five most likely "
    "answers at that step and the entropy of its prediction (0 bits: certain; log₂ of the number of "
    "classes: a uniform guess). Early in training everything is red-orange; as it learns, common words and "
    "the ends of words turn green first.</p>")
MEMORY_HELP = (
    "<p><b>What am I looking at?</b> For each lag k, a linear read-out (ridge regression) is fitted to recover "
    "the task's quantity from k steps ago out of the hidden state a&lt;t&gt;, on held-out sequences. A high "
    "score at lag k means the state still holds that information, in a form a linear output could use; the "
    "dashed line is chance (guessing the most common answer; 0 for R²). Where the curve meets chance, the "
    "network has forgotten.</p>")
MEMORY_TITLES = {"copy": "what a<t> still holds about the input k steps ago",
                 "parity": "running parity k steps ago",
                 "adding": "sum of marked values k steps ago"}


def text_colour(background: QColor) -> QColor:
    """Black on light backgrounds, white on dark ones."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor(0, 0, 0) if luminance > 140 else QColor(255, 255, 255)


def entropy_bits(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def memory_task(li) -> str:
    """Which read-out task a LiveInsight's memory curve is for (LiveInsight does not name its task)."""
    if li.memory is not None and li.memory.metric == "r2":
        return "adding"
    return "copy" if li.output_names is not None else "parity"


def target_name(li, k: int) -> str:
    """The target of output k as a string: a class name, or the value(s) of a linear/sigmoid readout."""
    if li.targets is None:
        return "?"
    target = np.asarray(li.targets[k])
    if li.output_names is not None and target.ndim == 0:
        return li.output_names[int(target)]
    values = np.atleast_1d(target)
    return " ".join(f"{v:g}" for v in values)


def output_probability(li, k: int) -> float:
    """p of output k's target (softmax, sigmoid), or the output's value (linear)."""
    score = float(li.score[k])
    return score if li.readout == "linear" else math.exp(score)


def output_caption(li, k: int) -> str:
    tau = int(li.output_steps[k])
    value = output_probability(li, k)
    what = f"value = {value:.3g}" if li.readout == "linear" else f"p = {value:.2f}"
    return f"output at step {step_number(tau)}: ‘{shown_symbol(target_name(li, k))}’ ({what})"


def help_button(text: str) -> QToolButton:
    button = QToolButton()
    button.setText("?")
    button.setToolTip(text)
    button.setAutoRaise(True)
    button.clicked.connect(lambda: QToolTip.showText(button.mapToGlobal(QPoint(0, button.height())), text, button))
    return button


class TokenText(QTextEdit):
    """Read-only wrapped text of tokens (one per time step), each with its own background colour and
    tooltip; clicking a token emits ``token_clicked``, hovering ``token_hovered`` (-1 off the text).

    Tooltips are looked up for the token under the mouse (:meth:`tip`), not left to QTextEdit's
    char-format tooltips, which show the character before the nearest cursor position: the
    previous token over a token's left half."""

    token_clicked = Signal(int)
    token_hovered = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSizeF(max(font.pointSizeF(), 11))
        self.setFont(font)
        self.viewport().setMouseTracking(True)
        self.viewport().installEventFilter(self)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self._starts: list[int] = []     # document position where each token starts
        self._ends: list[int] = []
        self.colours: list[QColor | None] = []
        self._tips: list[str] = []
        self._hovered = -1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height()

    def _fit_height(self, *_args) -> None:
        """As tall as the text (between MIN_LINES and MAX_LINES lines; longer text scrolls)."""
        line = self.fontMetrics().lineSpacing()
        content = self.document().size().height() + 2 * self.frameWidth() + 4
        self.setFixedHeight(int(min(max(content, MIN_LINES * line + 12), MAX_LINES * line + 12)))

    def set_tokens(self, tokens, colours, tips=None, separator: str = "", selected: int | None = None) -> None:
        """tokens: strings shown as given (a newline token as ⏎ and a line break); colours: QColor or None;
        tips: a tooltip per token (or None). Laid out once (one edit block), however many tokens."""
        self.clear()
        self._starts, self._ends, self.colours = [], [], list(colours)
        self._tips = list(tips) if tips is not None else []
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        plain = QTextCharFormat()
        for k, (token, colour) in enumerate(zip(tokens, colours)):
            if k and separator:
                cursor.insertText(separator, plain)
            fmt = QTextCharFormat()
            if colour is not None:
                fmt.setBackground(colour)
                fmt.setForeground(text_colour(colour))
            if k == selected:
                fmt.setFontUnderline(True)
                fmt.setFontWeight(QFont.Weight.Bold)
            self._starts.append(cursor.position())
            cursor.insertText(shown_symbol(token), fmt)
            self._ends.append(cursor.position())
            if token == "\n":
                cursor.insertText("\n", plain)
        cursor.endEditBlock()
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def tip(self, k: int) -> str:
        """The tooltip of token ``k`` ("" for none)."""
        return self._tips[k] if 0 <= k < len(self._tips) and self._tips[k] else ""

    def viewportEvent(self, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.ToolTip:
            k = self.token_at(event.pos())
            tip = self.tip(k) if k >= 0 else ""
            if tip:
                QToolTip.showText(event.globalPos(), tip, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def token_range(self, k: int) -> tuple[int, int]:
        """Document positions [start, end) of token k."""
        return self._starts[k], self._ends[k]

    def token_at_position(self, position: int) -> int:
        """The token holding document position ``position`` (the character after it), or -1."""
        k = bisect.bisect_right(self._starts, position) - 1
        return k if 0 <= k < len(self._ends) and position < self._ends[k] else -1

    def token_at(self, point) -> int:
        """The token under viewport point ``point``, or -1."""
        position = self.cursorForPosition(point).position()
        candidates = [k for k in (self.token_at_position(position), self.token_at_position(position - 1)) if k >= 0]
        for margin in (0, 1):      # the token drawn under the point, else one a pixel away
            for k in candidates:
                if self._token_rect(k).adjusted(-margin, -margin, margin, margin).contains(point):
                    return k
        return -1

    def _token_rect(self, k: int):
        start, end = self.token_range(k)
        c0, c1 = QTextCursor(self.document()), QTextCursor(self.document())
        c0.setPosition(start)
        c1.setPosition(end)
        r0, r1 = self.cursorRect(c0), self.cursorRect(c1)
        if r1.top() != r0.top():    # the token ends a line: one character's width
            r1 = r0.translated(self.fontMetrics().horizontalAdvance("M"), 0)
        return r0.united(r1)

    def token_centre(self, k: int) -> QPoint:
        """The viewport point at the middle of token k (for tests and keyboard-free hovering)."""
        return self._token_rect(k).center()

    def selected_tokens(self) -> tuple[int, int] | None:
        """The selected text as tokens [start, stop), or None."""
        cursor = self.textCursor()
        if not cursor.hasSelection() or not self._starts:
            return None
        a, b = cursor.selectionStart(), cursor.selectionEnd()
        inside = [k for k in range(len(self._starts)) if self._starts[k] < b and self._ends[k] > a]
        return (inside[0], inside[-1] + 1) if inside else None

    def eventFilter(self, watched, event) -> bool:
        if watched is self.viewport():
            kind = event.type()
            if kind == QEvent.Type.MouseMove:
                k = self.token_at(event.position().toPoint())
                if k != self._hovered:
                    self._hovered = k
                    self.token_hovered.emit(k)
            elif kind == QEvent.Type.Leave and self._hovered != -1:
                self._hovered = -1
                self.token_hovered.emit(-1)
            elif kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
                if not self.textCursor().hasSelection():
                    k = self.token_at(event.position().toPoint())
                    if k >= 0:
                        self.token_clicked.emit(k)
        return super().eventFilter(watched, event)


def colour_bar(cmap: pg.ColorMap, values: tuple[float, float], label: str):
    """A horizontal colour bar in its own small pyqtgraph view: (widget, bar)."""
    widget = pg.GraphicsLayoutWidget()
    widget.setFixedHeight(62)
    widget.setBackground("w")
    bar = pg.ColorBarItem(values=values, colorMap=cmap, interactive=False, orientation="horizontal",
                          label=label, width=12)
    widget.addItem(bar)
    for side in ("bottom", "top"):
        axis = bar.getAxis(side)
        if axis is not None:
            plain_axis(axis)
    return widget, bar


def _page(help_text: str) -> tuple[QWidget, QVBoxLayout]:
    page = QWidget()
    page.setToolTip(help_text)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(4, 4, 4, 4)
    return page, layout


def empty_label(text: str) -> QLabel:
    """The centred grey text a view shows while it has nothing to show."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("color: #666; padding: 20px;")
    return label


def caption_label() -> QLabel:
    """A wrapped plain-text caption in the why-views' grey."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: #444;")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


class InputsView(QWidget):
    """Four tabs over one LiveInsight's probe: saliency, units over text, output probabilities, memory.

    ``show_insight(li)`` draws a LiveInsight (None: the empty state). The selections (output step,
    state, unit, span) are kept across insights while they still fit. ``output_selected(τ)`` and
    ``unit_selected(state, unit)`` are emitted when the user (or code) changes them.
    """

    output_selected = Signal(int)
    unit_selected = Signal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._li = None
        self._output = -1                 # index k into li.output_steps
        self._output_count = -1           # how many outputs the last insight had
        self._state = "a"
        self._unit = 0
        self._span: tuple[int, int] | None = None
        self.saliency_values: np.ndarray | None = None   # (τ+1,) the row shown
        self.unit_values: np.ndarray | None = None       # (T,) the unit shown
        self.unit_levels: tuple[float, float] = (-1.0, 1.0)
        self.ranked_units: list[tuple[int, float]] = []

        self.empty = empty_label(EMPTY_TEXT)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tabs)
        self.status = caption_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.status)
        layout.addWidget(self.stack, 1)

        self._build_saliency()
        self._build_units()
        self._build_probabilities()
        self._build_memory()
        self.show_insight(None)

    # ------------------------------------------------------------------ building
    def _add_tab(self, page: QWidget, title: str, help_text: str) -> None:
        index = self.tabs.addTab(page, title)
        self.tabs.setTabToolTip(index, help_text)

    def _build_saliency(self) -> None:
        page, layout = _page(SALIENCY_HELP)
        self.saliency_page = page
        top = QHBoxLayout()
        top.addWidget(QLabel("Output step τ"))
        self.output_box = QComboBox()
        self.output_box.setToolTip("Which output to explain: the symbols it depended on are shaded. "
                                   "Clicking a symbol in the text selects the output made at that step.")
        self.output_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        top.addWidget(self.output_box)
        top.addStretch(1)
        top.addWidget(help_button(SALIENCY_HELP))
        self.output_label = QLabel()
        self.output_label.setTextFormat(Qt.TextFormat.PlainText)
        self.output_label.setWordWrap(True)
        font = self.output_label.font()
        font.setBold(True)
        self.output_label.setFont(font)
        self.saliency_text = TokenText()
        self.saliency_text.setToolTip(SALIENCY_HELP)
        self.saliency_bar_view, self.saliency_bar = colour_bar(SALIENCY_MAP, (0.0, 1.0),
                                                               "‖∂ log p(output τ)/∂x&lt;s&gt;‖")
        self.saliency_plot = pg.PlotWidget()
        self.saliency_plot.setBackground("w")
        self.saliency_plot.setMenuEnabled(False)
        self.saliency_plot.setMouseEnabled(x=False, y=False)
        self.saliency_plot.hideButtons()
        self.saliency_plot.setLabel("bottom", "input step s")
        self.saliency_plot.setLabel("left", "‖∂ log p/∂x&lt;s&gt;‖")
        self.saliency_plot.setMinimumHeight(120)
        self.saliency_plot.getPlotItem().setToolTip(SALIENCY_HELP)
        plain_axis(self.saliency_plot.getAxis("bottom"))
        self.saliency_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=(33, 102, 172))
        self.saliency_plot.addItem(self.saliency_bars)
        self.saliency_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen((200, 30, 30), width=1.5,
                                                                      style=Qt.PenStyle.DashLine))
        self.saliency_plot.addItem(self.saliency_marker)
        layout.addLayout(top)
        layout.addWidget(self.output_label)
        layout.addWidget(self.saliency_text)
        layout.addWidget(self.saliency_bar_view)
        layout.addWidget(self.saliency_plot, 1)
        self.output_box.activated.connect(self._on_output_box_activated)
        self.saliency_text.token_clicked.connect(self._on_saliency_text_token_clicked)
        self._add_tab(page, "Saliency", SALIENCY_HELP)

    def _build_units(self) -> None:
        page, layout = _page(UNITS_HELP)
        self.units_page = page
        top = QHBoxLayout()
        top.addWidget(QLabel("State"))
        self.state_box = QComboBox()
        self.state_box.setToolTip("Which quantity to colour by: the hidden state, or for LSTM/GRU the cell "
                                  "state, a gate or the candidate.")
        self.state_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        top.addWidget(self.state_box)
        top.addWidget(QLabel("Unit"))
        self.unit_box = QSpinBox()
        self.unit_box.setToolTip("Which unit's value colours the text.")
        self.unit_box.setKeyboardTracking(False)
        top.addWidget(self.unit_box)
        top.addStretch(1)
        top.addWidget(help_button(UNITS_HELP))
        self.units_text = TokenText()
        self.units_text.setToolTip(UNITS_HELP)
        self.units_bar_view, self.units_bar = colour_bar(DIVERGING, (-1.0, 1.0), "value")
        span = QHBoxLayout()
        span.addWidget(QLabel("Span: steps"))
        self.span_start = QSpinBox()
        self.span_stop = QSpinBox()
        for box, tip in ((self.span_start, "First step of the span (1 = the first symbol)."),
                         (self.span_stop, "Last step of the span.")):
            box.setKeyboardTracking(False)
            box.setToolTip(tip + " Or select the span in the text with the mouse.")
        span.addWidget(self.span_start)
        span.addWidget(QLabel("to"))
        span.addWidget(self.span_stop)
        self.span_label = caption_label()
        span.addWidget(self.span_label, 1)
        self.rank_list = QListWidget()
        self.rank_list.setToolTip("The units most selective for the span (Cohen's d, span vs the rest), by |d|. "
                                  "Click one to colour the text by it.")
        self.rank_list.setFont(QFont("DejaVu Sans Mono"))
        self.rank_list.setFlow(QListWidget.Flow.LeftToRight)
        self.rank_list.setWrapping(True)
        self.rank_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.rank_list.setMinimumHeight(70)
        self.rank_list.setMaximumHeight(160)
        self.rank_list.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.units_text)
        layout.addWidget(self.units_bar_view)
        layout.addLayout(span)
        layout.addWidget(self.rank_list)
        layout.addStretch(1)
        self.state_box.activated.connect(self._on_state_box_activated)
        self.unit_box.valueChanged.connect(self._on_unit_box_value_changed)
        self.span_start.valueChanged.connect(self._on_span_box_value_changed)
        self.span_stop.valueChanged.connect(self._on_span_box_value_changed)
        self.units_text.selectionChanged.connect(self._on_units_text_selection_changed)
        self.rank_list.itemClicked.connect(self._on_rank_list_item_clicked)
        self._add_tab(page, "Units", UNITS_HELP)

    def _build_probabilities(self) -> None:
        page, layout = _page(PROBABILITY_HELP)
        self.probabilities_page = page
        top = QHBoxLayout()
        self.probabilities_caption = caption_label()
        top.addWidget(self.probabilities_caption, 1)
        top.addWidget(help_button(PROBABILITY_HELP))
        self.probabilities_text = TokenText()
        self.probabilities_bar_view, self.probabilities_bar = colour_bar(PROBABILITY_MAP, (0.0, 1.0),
                                                                         "p(target)")
        self.probabilities_readout = QLabel("Hover a symbol for the model's top-5 and the entropy.")
        self.probabilities_readout.setWordWrap(True)
        self.probabilities_readout.setTextFormat(Qt.TextFormat.RichText)
        self.probabilities_readout.setMinimumHeight(3 * self.fontMetrics().lineSpacing())
        self.probabilities_readout.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(top)
        layout.addWidget(self.probabilities_text)
        layout.addWidget(self.probabilities_bar_view)
        layout.addWidget(self.probabilities_readout)
        layout.addStretch(1)
        self.probabilities_text.token_hovered.connect(self._on_probabilities_text_token_hovered)
        self._prob_token_output: list[int] = []     # token -> output index k (-1: no output)
        self._add_tab(page, "Probabilities", PROBABILITY_HELP)

    def _build_memory(self) -> None:
        page, layout = _page(MEMORY_HELP)
        self.memory_page = page
        top = QHBoxLayout()
        self.memory_caption = caption_label()
        top.addWidget(self.memory_caption, 1)
        top.addWidget(help_button(MEMORY_HELP))
        self.memory_plot = pg.PlotWidget()
        self.memory_plot.setBackground("w")
        self.memory_plot.setMenuEnabled(False)
        self.memory_plot.setLabel("bottom", "lag k (steps back)")
        self.memory_plot.setLabel("left", "held-out accuracy of a linear read-out")
        self.memory_plot.getPlotItem().setToolTip(MEMORY_HELP)
        plain_axis(self.memory_plot.getAxis("bottom"))
        self.memory_plot.addLegend(offset=(-5, 5))
        self.memory_curve = self.memory_plot.plot(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=6,
                                                  symbolBrush="#1f77b4", name="read-out")
        self.chance_curve = self.memory_plot.plot(pen=pg.mkPen("#d62728", width=1.5, style=Qt.PenStyle.DashLine),
                                                  name="chance")
        layout.addLayout(top)
        layout.addWidget(self.memory_plot, 1)
        self._add_tab(page, "Memory", MEMORY_HELP)

    # ------------------------------------------------------------------ showing
    def show_insight(self, li) -> None:
        """Draw ``li`` (a LiveInsight), or the empty state for None."""
        self._li = li
        if li is None:
            self.stack.setCurrentWidget(self.empty)
            self.status.setText("")
            self.status.hide()
            self.saliency_values = self.unit_values = None
            self.ranked_units = []
            return
        self.stack.setCurrentWidget(self.tabs)
        cell = CELL_TITLES.get(li.cell, li.cell)
        self.status.setText(f"As of training step {li.step:,} · {cell} · probe of {li.T} steps")
        self.status.show()
        n = len(li.output_steps)
        self.output_box.blockSignals(True)
        self.output_box.clear()
        for k in range(n):
            self.output_box.addItem(f"{step_number(li.output_steps[k])}  → ‘{shown_symbol(target_name(li, k))}’")
        if not 0 <= self._output < n or self._output_count != n:
            self._output = n - 1
        self._output_count = n
        self.output_box.setCurrentIndex(self._output)
        self.output_box.blockSignals(False)
        self._show_saliency()

        names = list(li.states)
        self.state_box.blockSignals(True)
        self.state_box.clear()
        for name in names:
            self.state_box.addItem(self._state_name(name), name)
        if self._state not in names:
            self._state = "a"
        self.state_box.setCurrentIndex(names.index(self._state))
        self.state_box.blockSignals(False)
        H = li.states[self._state].shape[1]
        T = li.T
        self._unit = min(self._unit, H - 1)
        self.unit_box.blockSignals(True)
        self.unit_box.setRange(0, H - 1)
        self.unit_box.setValue(self._unit)
        self.unit_box.blockSignals(False)
        if self._span is None or not (0 <= self._span[0] < self._span[1] <= T) or self._span[1] - self._span[0] == T:
            self._span = (T // 3, max(T // 3 + 1, (2 * T) // 3)) if T > 1 else (0, 1)
        for box in (self.span_start, self.span_stop):
            box.blockSignals(True)             # (clamping a value would emit valueChanged)
            box.setRange(1, T)
            box.blockSignals(False)
        self._show_span_boxes(*self._span)
        self._show_unit()
        self._show_ranking()
        self._show_probabilities()
        self._show_memory()

    def selected_output(self) -> int | None:
        """The output step τ explained in the saliency view."""
        if self._li is None or not len(self._li.output_steps):
            return None
        return int(self._li.output_steps[self._output])

    def select_output(self, tau: int) -> bool:
        """Explain the output at step τ; False if that step has no output."""
        li = self._li
        if li is None:
            return False
        matches = np.flatnonzero(np.asarray(li.output_steps) == tau)
        if not matches.size:
            return False
        self._output = int(matches[0])
        self.output_box.setCurrentIndex(self._output)
        self._show_saliency()
        self.output_selected.emit(int(tau))
        return True

    def select_unit(self, unit: int, state: str | None = None) -> None:
        """Colour the text by ``unit`` of ``state`` (default: the state shown)."""
        li = self._li
        if state is not None and li is not None and state in li.states and state != self._state:
            self._state = state
            self.state_box.setCurrentIndex(list(li.states).index(state))
            self.unit_box.setMaximum(li.states[state].shape[1] - 1)
            self._show_ranking()
        if self.unit_box.value() != unit:
            self.unit_box.setValue(unit)       # -> _on_unit_box_value_changed draws and emits
        elif li is not None:
            self._show_unit()
            self.unit_selected.emit(self._state, self._unit)

    def set_span(self, start: int, stop: int) -> None:
        """Rank the units for steps [start, stop) (indices from 0)."""
        self._show_span_boxes(start, stop)
        self._span = self._span_in_boxes()
        self._show_ranking()

    def _show_span_boxes(self, start: int, stop: int) -> None:
        """The span [start, stop) in the boxes, as its first and last step numbers (from 1)."""
        for box, value in ((self.span_start, step_number(start)), (self.span_stop, stop)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    def _span_in_boxes(self) -> tuple[int, int]:
        """The boxes' first and last step numbers as the span [start, stop) of indices from 0."""
        return self.span_start.value() - 1, self.span_stop.value()

    # -- saliency
    def _show_saliency(self) -> None:
        li, k = self._li, self._output
        if not len(li.output_steps):                 # e.g. a one-character probe: nothing follows it
            self.saliency_values = np.zeros(0)
            self.saliency_text.set_tokens(li.labels, [None] * li.T, [""] * li.T)
            self.output_label.setText("No output to explain: no step of this probe has a target "
                                      "(a character model's probe needs at least two characters).")
            self.saliency_bars.setOpts(x=np.zeros(0), height=np.zeros(0), width=0.8)
            return
        tau = int(li.output_steps[k])
        row = np.asarray(li.saliency[tau, :tau + 1], dtype=float)
        self.saliency_values = row
        top = float(np.nanmax(row)) if row.size and np.isfinite(row).any() else 0.0
        scale = top if top > 0 else 1.0
        colours, tips = [], []
        shown_tau = step_number(tau)
        for s, label in enumerate(li.labels):
            n = step_number(s)
            if s <= tau:
                colours.append(SALIENCY_MAP.map(min(max(row[s] / scale, 0.0), 1.0), mode="qcolor"))
                tips.append(f"<p>step {n}: ‘{html.escape(shown_symbol(label))}’<br>"
                            f"‖∂ log p(output {shown_tau})/∂x&lt;{n}&gt;‖ = {row[s]:.3g}</p>")
            else:
                colours.append(None)
                tips.append(f"<p>step {n}: after the output at {shown_tau}: cannot affect it</p>")
        separator = "" if all(len(label) == 1 for label in li.labels) else " "
        self.saliency_text.set_tokens(li.labels, colours, tips, separator=separator, selected=tau)
        self.saliency_bar.setLevels((0.0, scale))
        self.output_label.setText(output_caption(li, k))
        self.saliency_bars.setOpts(x=np.arange(1, row.size + 1), height=row, width=0.8)   # steps 1 … τ
        self.saliency_marker.setValue(shown_tau)
        self.saliency_plot.setXRange(0.4, li.T + 0.6, padding=0)
        self.saliency_plot.setYRange(0, scale * 1.05, padding=0)
        self.saliency_plot.getAxis("bottom").setTicks(step_ticks(li.T, max_labels=24))

    # -- units
    def _show_unit(self) -> None:
        li = self._li
        values = np.asarray(li.states[self._state][:, self._unit], dtype=float)
        self.unit_values = values
        if self._state in GATES:
            lo, hi, cmap = 0.0, 1.0, SEQUENTIAL
        else:
            bound = float(np.nanmax(np.abs(values))) if values.size else 0.0
            bound = bound if bound > 0 and math.isfinite(bound) else 1.0
            lo, hi, cmap = -bound, bound, DIVERGING
        self.unit_levels = (lo, hi)
        self.unit_cmap = cmap
        name = self._state_name(self._state)
        colours, tips = [], []
        for t, (label, v) in enumerate(zip(li.labels, values)):
            colours.append(cmap.map(min(max((v - lo) / (hi - lo), 0.0), 1.0), mode="qcolor"))
            tips.append(f"<p>step {step_number(t)}: ‘{html.escape(shown_symbol(label))}’<br>"
                        f"{html.escape(name)}, unit {self._unit} = {v:+.3f}</p>")
        separator = "" if all(len(label) == 1 for label in li.labels) else " "
        self.units_text.blockSignals(True)
        self.units_text.set_tokens(li.labels, colours, tips, separator=separator)
        self.units_text.blockSignals(False)
        self.units_bar.setColorMap(cmap)
        self.units_bar.setLevels((lo, hi))
        self.units_bar.setLabel("bottom" if self.units_bar.horizontal else "left",
                                html.escape(f"{name}, unit {self._unit}"))

    def _show_ranking(self) -> None:
        li = self._li
        values = np.asarray(li.states[self._state], dtype=float)
        start, stop = self._span
        self.rank_list.clear()
        try:
            d = selectivity(values, start, stop)
        except ValueError:
            self.ranked_units = []
            self.span_label.setText(f"choose a span inside the {li.T} steps that leaves some outside")
            return
        order = np.argsort(-np.abs(d), kind="stable")[:TOP_UNITS]
        self.ranked_units = [(int(u), float(d[u])) for u in order]
        text = "".join(shown_symbol(label) if len(label) == 1 else f" {shown_symbol(label)}"
                       for label in li.labels[start:stop])
        self.span_label.setText(f"“{text[:40]}{'…' if len(text) > 40 else ''}”: top units by |d|")
        for unit, score in self.ranked_units:
            item = QListWidgetItem(f"unit {unit:>3}  d = {score:+.2f}")
            item.setData(Qt.ItemDataRole.UserRole, unit)
            item.setToolTip(f"Unit {unit} of the {self._state_name(self._state)}: mean on the span "
                            f"{'above' if score > 0 else 'below'} the rest by {abs(score):.2f} pooled "
                            "standard deviations. Click to colour the text by it.")
            self.rank_list.addItem(item)

    # -- probabilities
    def _show_probabilities(self) -> None:
        li = self._li
        n = len(li.output_steps)
        names = [target_name(li, k) for k in range(n)]
        steps = [int(t) for t in li.output_steps]
        next_symbol = li.output_names is not None and all(
            t + 1 < li.T and names[k] == li.labels[t + 1] for k, t in enumerate(steps))
        tokens, colours, tips, owner = [], [], [], []
        if next_symbol:
            tokens.append(li.labels[0])
            colours.append(None)
            tips.append("<p>the first symbol: nothing predicted it</p>")
            owner.append(-1)
        linear = li.readout == "linear"
        for k in range(n):
            p = output_probability(li, k)
            tokens.append(names[k])
            colours.append(None if linear else PROBABILITY_MAP.map(min(max(p, 0.0), 1.0), mode="qcolor"))
            tips.append(f"<p>{self.probability_detail(k)}</p>")
            owner.append(k)
        self._prob_token_output = owner
        separator = "" if all(len(t) == 1 for t in tokens) else " "
        self.probabilities_text.set_tokens(tokens, colours, tips, separator=separator)
        if next_symbol:
            what = "Each symbol of the probe coloured by the probability the model gave it before reading it."
        elif linear:
            what = "A linear read-out: its outputs are values, not probabilities (hover for them)."
        else:
            what = "The target at each output step, coloured by the probability the model gave it."
        self.probabilities_caption.setText(what)
        self._last_detail = ("Hover a symbol for the model's top-5 and the entropy. Last output:<br>"
                             + self.probability_detail(n - 1)) if n else ""
        self.probabilities_readout.setText(self._last_detail)

    def probability_detail(self, k: int) -> str:
        """Rich text for output k: its target and p, the top-5 alternatives and the row's entropy."""
        li = self._li
        tau = int(li.output_steps[k])
        head = html.escape(output_caption(li, k))
        if li.readout == "linear":
            values = np.atleast_1d(li.probs[k])
            return f"{head}<br>target {html.escape(target_name(li, k))}; output " + \
                ", ".join(f"{v:.3g}" for v in values)
        row = np.asarray(li.probs[k], dtype=float)
        if li.output_names is None or row.size < 2:
            p1 = float(row[0]) if row.size else float("nan")
            return (f"{head}<br>p(1) = {p1:.3f}, p(0) = {1 - p1:.3f}; "
                    f"entropy {entropy_bits(np.array([p1, 1 - p1])):.2f} bits")
        order = np.argsort(-row, kind="stable")[:TOP_ALTERNATIVES]
        lines = " ".join(f"‘{html.escape(shown_symbol(li.output_names[j]))}’&nbsp;{row[j]:.2f}" for j in order)
        return (f"{head}<br>top {len(order)} at step {step_number(tau)}: {lines}<br>"
                f"entropy {entropy_bits(row):.2f} bits (uniform: {math.log2(row.size):.2f})")

    def _on_probabilities_text_token_hovered(self, token: int) -> None:
        if self._li is None:
            return
        if not 0 <= token < len(self._prob_token_output):
            self.probabilities_readout.setText(self._last_detail)
            return
        k = self._prob_token_output[token]
        self.probabilities_readout.setText("the first symbol: nothing predicted it" if k < 0
                                           else self.probability_detail(k))

    # -- memory
    def _show_memory(self) -> None:
        li = self._li
        index = self.tabs.indexOf(self.memory_page)
        curve = li.memory
        self.tabs.setTabVisible(index, curve is not None)
        if curve is None:
            self.memory_curve.setData([], [])
            self.chance_curve.setData([], [])
            return
        task = memory_task(li)
        self.memory_curve.setData(np.asarray(curve.lags, dtype=float), np.asarray(curve.score, dtype=float))
        self.chance_curve.setData(np.asarray(curve.lags, dtype=float), np.asarray(curve.chance, dtype=float))
        self.memory_plot.setTitle(html.escape(layer_words(MEMORY_TITLES[task], getattr(li, "layer", 1))), size="10pt")
        self.memory_plot.setLabel("left", "R² of a linear read-out" if curve.metric == "r2"
                                  else "held-out accuracy of a linear read-out")
        top = 1.0 if curve.metric == "accuracy" else max(1.0, float(np.nanmax(curve.score)))
        bottom = 0.0 if curve.metric == "accuracy" else min(0.0, float(np.nanmin(curve.score)))
        self.memory_plot.setYRange(bottom, top, padding=0.05)
        self.memory_caption.setText(f"Fitted on held-out {task} sequences at training step {li.step:,}; "
                                    "dashed: chance.")

    # ------------------------------------------------------------------ handlers
    def _state_name(self, name: str) -> str:
        """A state's name for the layer shown ("hidden state a[2]<t>" for layer 2 of a stack)."""
        return layer_words(STATE_NAMES.get(name, name), getattr(self._li, "layer", 1))

    def _on_output_box_activated(self, index: int) -> None:
        if self._li is not None and index >= 0:
            self.select_output(int(self._li.output_steps[index]))

    def _on_saliency_text_token_clicked(self, token: int) -> None:
        self.select_output(token)

    def _on_state_box_activated(self, index: int) -> None:
        if self._li is None:
            return
        self.select_unit(min(self._unit, self._li.states[self.state_box.itemData(index)].shape[1] - 1),
                         self.state_box.itemData(index))

    def _on_unit_box_value_changed(self, value: int) -> None:
        self._unit = int(value)
        if self._li is not None:
            self._show_unit()
            self.unit_selected.emit(self._state, self._unit)

    def _on_span_box_value_changed(self, _value: int) -> None:
        self._span = self._span_in_boxes()
        if self._li is not None:
            self._show_ranking()

    def _on_units_text_selection_changed(self) -> None:
        span = self.units_text.selected_tokens()
        if span is not None and self._li is not None:
            self.set_span(*span)

    def _on_rank_list_item_clicked(self, item: QListWidgetItem) -> None:
        self.select_unit(int(item.data(Qt.ItemDataRole.UserRole)))
