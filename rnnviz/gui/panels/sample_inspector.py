"""The sampling inspector (issue 17): generated text coloured by the probability the model gave each
character, with the temperature applied live to the same sample.

:class:`SampleInspector` draws an :class:`~rnnviz.insight.sampling.InspectedSample`. Changing the
temperature re-scores the same characters with :func:`~rnnviz.insight.sampling.score_sample` (a
softmax of the stored logits, no network), so it runs on the GUI thread.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QSizePolicy, QStackedWidget, QToolButton, QVBoxLayout, QWidget,
)

from rnnviz.insight.sampling import InspectedSample, SampleScores, score_sample

from ..widgets.sliders import LogSlider
from .hidden_states import SYMBOL_NAMES
from .why_inputs import TokenText, caption_label, colour_bar, help_button, shown_symbol

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 3.0
TIP_BAR = 80                      # pixels: the tooltip's bar for p = 1
TIP_BAR_COLOUR = "#5a7bb0"
EMPTY_TEXT = ("No sample to inspect. For a character model, a text the network writes appears here "
              "while training runs (or after Explain now), with how sure it was of every character.")
SAMPLE_MAP = pg.ColorMap([0.0, 0.25, 0.5, 0.75, 1.0],
                         [(128, 0, 38), (227, 26, 28), (253, 141, 60), (254, 217, 118), (255, 255, 224)])
"""p(character), sequential (ColorBrewer YlOrRd reversed): dark red an unlikely pick, pale an expected one."""

SAMPLE_HELP = (
    "<p><b>What am I looking at?</b> Text the model wrote one character at a time, each drawn at random "
    "from the distribution it predicted after reading everything before it. Each character's background "
    "is the probability the model gave it: pale where the model expected it, dark red where the draw went "
    "against the odds (and the text after it had to live with that choice). The first character, "
    "uncoloured, is where the sample started. ⏎ is a newline; a coloured blank is a space.</p>"
    "<p>Hover a character for the five characters the model thought most likely there, with their "
    "probabilities, and the entropy of its prediction (0 bits: certain; log₂ K bits: a uniform guess "
    "over the K characters).</p>"
    "<p>The temperature T divides the logits before the softmax. Below 1 it sharpens the distribution "
    "(the top choice takes nearly all the probability: safe, repetitive text); above 1 it flattens it "
    "(more surprises, more nonsense). Moving it does not draw a new sample: it re-scores <i>these</i> "
    "characters, showing how likely each would have been at that temperature.</p>"
    "<p>The caption gives the mean log₂ p per character (the negative of the cross-entropy, in bits) and the "
    "perplexity 2<sup>−mean</sup>: as surprising as a fair choice among that many characters. Which "
    "character was the top choice does not depend on T.</p>")


def char_label(c: str) -> str:
    """A character for a caption or tooltip: a space as ␣, a newline as ⏎ (HTML not escaped)."""
    return SYMBOL_NAMES.get(c, shown_symbol(c))


def format_probability(p: float) -> str:
    """Three decimals, or two significant digits below 0.001 (so a tiny p is not shown as 0)."""
    return f"{p:.3f}" if p >= 0.001 or p == 0 else f"{p:.1e}"


def minus(x: float, fmt: str = ".2f") -> str:
    """``x`` formatted with a typographic minus sign."""
    return format(x, fmt).replace("-", "−")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class SampleText(TokenText):
    """TokenText that takes the height the layout gives it (scrolling beyond) instead of fitting its
    text, and asks ``tip_for(token)`` for the tooltip of the token under the mouse when it is needed."""

    def __init__(self, tip_for: Callable[[int], str], parent=None):
        super().__init__(parent)
        self.tip_for = tip_for
        self.setUndoRedoEnabled(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(4 * self.fontMetrics().lineSpacing() + 12)

    def _fit_height(self, *_args) -> None:
        pass

    def tip(self, k: int) -> str:
        return self.tip_for(k)


class SampleInspector(QWidget):
    """One sample's characters coloured by p(character) at a temperature the user chooses.

    ``show_sample(sample)`` draws an InspectedSample (None: the empty state) and sets the temperature
    to the one it was drawn at. ``temperature_changed(T)`` is emitted when the user (or code) changes it.
    In the text, token 0 is the character the sample started from and token k + 1 is ``sample.chars[k]``.
    """

    temperature_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._sample: InspectedSample | None = None
        self.scores: SampleScores | None = None           # the sample at the temperature shown
        self.colours: list = []                           # QColor of each generated character

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: #666; padding: 20px;")

        self.page = page = QWidget()
        page.setToolTip(SAMPLE_HELP)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(QLabel("Temperature T"))
        self.temperature = LogSlider(MIN_TEMPERATURE, MAX_TEMPERATURE, 1.0)
        self.temperature.box.setDecimals(3)
        self.temperature.setToolTip("Re-score the same characters at another temperature (the logits are "
                                    "divided by T before the softmax). Hold Shift for finer steps.")
        top.addWidget(self.temperature, 1)
        self.as_drawn = QToolButton()
        self.as_drawn.setText("as drawn")
        self.as_drawn.setToolTip("Back to the temperature the sample was drawn at.")
        top.addWidget(self.as_drawn)
        top.addWidget(help_button(SAMPLE_HELP))
        self.header = caption_label()
        self.text = SampleText(self.token_tooltip)
        self.bar_view, self.bar = colour_bar(SAMPLE_MAP, (0.0, 1.0), "p(character)")
        self.bar_view.ci.layout.setContentsMargins(12, 2, 12, 2)     # room for the 0 and 1 labels
        self.bar.getAxis("bottom").setStyle(hideOverlappingLabels=False)
        self.caption = caption_label()
        layout.addLayout(top)
        layout.addWidget(self.header)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.bar_view)
        layout.addWidget(self.caption)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(page)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.stack)

        self.temperature.value_changed.connect(self._on_temperature_value_changed)
        self.as_drawn.clicked.connect(self._on_as_drawn_clicked)
        self.show_sample(None)

    # ------------------------------------------------------------------ showing
    def show_sample(self, sample: InspectedSample | None) -> None:
        """Draw ``sample`` at the temperature it was drawn at, or the empty state for None."""
        self._sample = sample
        if sample is None:
            self.stack.setCurrentWidget(self.empty)
            self.scores = None
            self.colours = []
            self.text.set_tokens([], [])
            return
        self.stack.setCurrentWidget(self.page)
        self.temperature.set_value(sample.temperature)
        self._redraw()

    def sample(self) -> InspectedSample | None:
        return self._sample

    def temperature_value(self) -> float:
        return self.temperature.value()

    def set_temperature(self, temperature: float) -> None:
        """Re-score the sample at ``temperature`` (clamped to 0.05..3)."""
        self.temperature.set_value(temperature)
        self._on_temperature_value_changed(self.temperature.value())

    def token_tooltip(self, token: int) -> str:
        """The tooltip of token ``token`` of the text: 0 the start, k + 1 generated character k."""
        s = self._sample
        if s is None or not 0 <= token <= len(s.chars):
            return ""
        if token == 0:
            return (f"<p>the character the sample started from (‘{html.escape(char_label(s.first))}’): "
                    "nothing here predicted it</p>")
        return self.tooltip(token - 1)

    def tooltip(self, k: int) -> str:
        """Rich text for generated character k: its p, the top-5 alternatives (each with a bar) and the
        entropy, at the temperature shown."""
        s, sc = self._sample, self.scores
        T = self.temperature_value()
        chosen = int(sc.tokens[k])
        rank = int(sc.rank[k])
        which = "the model's top choice" if rank == 0 else f"the model's {ordinal(rank + 1)} choice"
        rows = []
        for j in sc.top[k]:
            p = float(sc.probs[k, j])
            label, value = f"‘{html.escape(char_label(s.vocab[j]))}’", format_probability(p)
            if j == chosen:
                label, value = f"<b>{label}</b>", f"<b>{value}</b>"
            width = round(TIP_BAR * p)
            bar = (f"<table cellspacing='0' cellpadding='0'><tr><td width='{width}' bgcolor='{TIP_BAR_COLOUR}' "
                   f"style='font-size:6pt'>&nbsp;</td></tr></table>") if width >= 1 else ""
            rows.append(f"<tr><td><tt>{label}</tt>&nbsp;</td><td align='right'>{value}&nbsp;</td>"
                        f"<td valign='middle'>{bar}</td></tr>")
        return (f"<p><b><tt>‘{html.escape(char_label(s.chars[k]))}’</tt></b> character {k + 1} of "
                f"{len(s.chars)}<br>p = {format_probability(math.exp(sc.log_p[k]))} at T&nbsp;=&nbsp;{T:g}: "
                f"{which}</p><p>top {len(sc.top[k])} at this step:</p>"
                f"<table cellspacing='0' cellpadding='1'>{''.join(rows)}</table>"
                f"<p>entropy {sc.entropy_bits[k]:.2f} bits (uniform over {len(s.vocab)}: "
                f"{math.log2(len(s.vocab)):.2f})</p>")

    def _redraw(self) -> None:
        s = self._sample
        T = self.temperature_value()
        sc = self.scores = score_sample(s, T)
        self.colours = list(SAMPLE_MAP.map(np.exp(sc.log_p), mode="qcolor"))      # (n,) QColor
        scroll = self.text.verticalScrollBar().value()
        self.text.set_tokens((s.first,) + tuple(s.chars), [None] + self.colours, selected=0)
        self.text.verticalScrollBar().setValue(scroll)
        self.bar.setLabel("bottom" if self.bar.horizontal else "left", f"p(character) at temperature {T:g}")

        n = len(s.chars)
        drawn = f"{n} characters drawn at T\u00a0=\u00a0{s.temperature:g} after ‘{char_label(s.first)}’"
        if math.isclose(T, s.temperature, rel_tol=1e-6):
            self.header.setText(drawn + ".")
        else:
            self.header.setText(f"{drawn}; the same characters re-scored at T\u00a0=\u00a0{T:g}.")
        if n:
            mean_bits = float(sc.log_p.mean()) / math.log(2)
            top_share = float(np.mean(sc.rank == 0))
            self.caption.setText(f"At T\u00a0=\u00a0{T:g}: mean log₂\u00a0p = {minus(mean_bits)} bits per character "
                                 f"(perplexity {2 ** -mean_bits:.3g}); {top_share:.0%} of the characters "
                                 "were the model's top choice.")
        else:
            self.caption.setText("The sample has no generated characters.")
        self.as_drawn.setEnabled(not math.isclose(T, s.temperature, rel_tol=1e-6))

    # ------------------------------------------------------------------ handlers
    def _on_temperature_value_changed(self, value: float) -> None:
        if self._sample is not None:
            self._redraw()
        self.temperature_changed.emit(float(value))

    def _on_as_drawn_clicked(self) -> None:
        if self._sample is not None:
            self.set_temperature(self._sample.temperature)
