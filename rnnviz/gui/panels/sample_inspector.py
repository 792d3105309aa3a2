"""The sampling inspector (issue 17): generated text coloured by the probability the model gave each
character, with the temperature applied live to the same sample; click a character to shade the
characters before it by how much its log-probability depends on them (saliency).

:class:`SampleInspector` draws an :class:`~rnnviz.insight.sampling.InspectedSample`. Changing the
temperature re-scores the same characters with :func:`~rnnviz.insight.sampling.score_sample` (a
softmax of the stored logits, no network), so it runs on the GUI thread; the saliency is the
sample's own matrix (computed with it, off this thread), of which a click shows one row.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QSizePolicy, QStackedWidget, QToolButton, QVBoxLayout, QWidget,
)

from rnnviz.insight.sampling import InspectedSample, SampleScores, log_distribution, score_sample

from ..widgets.sliders import LogSlider
from .hidden_states import SYMBOL_NAMES
from .probe_steps import shown_symbol, step_number
from .why_inputs import SALIENCY_MAP, TokenText, caption_label, colour_bar, empty_label, help_button

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 3.0
TIP_BAR = 80                      # pixels: the tooltip's bar for p = 1
TIP_BAR_COLOUR = "#5a7bb0"
EXPLAINED_COLOUR = QColor("#c0392b")   # the character whose saliency is shown: red text, bold, underlined
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
    "character was the top choice does not depend on T.</p>"
    "<p><b>What was a character drawn from?</b> Click it (or, with the text focused, use ← and → to step "
    "through the characters) and the characters before it are shaded by ‖∂ log p(character)/∂x&lt;s&gt;‖: "
    "how much the log-probability the model gave it would change if the input at step s (a one-hot "
    "vector) changed. Dark characters are the ones it leaned on, white ones it ignored. This uses the "
    "model's own probabilities (T = 1), whatever the slider says. Click the character again or press Esc "
    "for the probabilities. While you look at one, a newer sample waits.</p>")


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


def earlier(distance: int) -> str:
    return "just before it" if distance == 1 else f"{distance} characters earlier"


class SampleText(TokenText):
    """TokenText that takes the height the layout gives it (scrolling beyond) instead of fitting its
    text, and asks ``tip_for(token)`` for the tooltip of the token under the mouse when it is needed.
    ``key_pressed(key)`` is emitted for the keys that move through the characters (NAVIGATION_KEYS)."""

    key_pressed = Signal(int)
    NAVIGATION_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Escape)

    def __init__(self, tip_for: Callable[[int], str], parent=None):
        super().__init__(parent)
        self.tip_for = tip_for
        self.setUndoRedoEnabled(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(4 * self.fontMetrics().lineSpacing() + 12)

    def _fit_height(self, *_args) -> None:
        pass

    def tip(self, k: int) -> str:
        return self.tip_for(k)

    def mark_token(self, k: int, colour: QColor) -> None:
        """Draw token k's text in ``colour`` (on top of what ``set_tokens`` drew)."""
        cursor = QTextCursor(self.document())
        start, end = self.token_range(k)
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        fmt = QTextCharFormat()
        fmt.setForeground(colour)
        fmt.setUnderlineColor(colour)
        cursor.mergeCharFormat(fmt)

    def show_token(self, k: int) -> None:
        """Scroll so that token k is in view."""
        cursor = QTextCursor(self.document())
        cursor.setPosition(self.token_range(k)[0])
        self.setTextCursor(cursor)
        self.ensureCursorVisible()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() in self.NAVIGATION_KEYS and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.key_pressed.emit(event.key())
            event.accept()
            return
        super().keyPressEvent(event)


class SampleInspector(QWidget):
    """One sample's characters coloured by p(character) at a temperature the user chooses.

    ``show_sample(sample)`` draws an InspectedSample (None: the empty state) and sets the temperature
    to the one it was drawn at. ``temperature_changed(T)`` is emitted when the user (or code) changes it.
    In the text, token 0 is the character the sample started from and token k + 1 is ``sample.chars[k]``;
    token j is the input x<j + 1> (steps counted from 1, as everywhere in the window) and generated
    character k is shown as "character k + 1".
    ``explain(k)`` shades the characters before generated character k by its saliency row (None: back
    to the probabilities); ``character_explained(k)`` (-1: none) is emitted when that changes.
    """

    temperature_changed = Signal(float)
    character_explained = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._sample: InspectedSample | None = None
        self.scores: SampleScores | None = None           # the sample at the temperature shown
        self.colours: list = []                           # QColor of each generated character
        self.explained: int | None = None                 # the generated character explained, if any
        self.saliency_values: np.ndarray | None = None    # (k + 1,) its saliency row, as shown
        self._waiting: InspectedSample | None = None      # a newer sample, held while one is explained
        self._keep_waiting_temperature = False

        self.empty = empty_label(EMPTY_TEXT)

        self.page = page = QWidget()
        page.setToolTip(SAMPLE_HELP)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(QLabel("Temperature T"))
        self.temperature = LogSlider(MIN_TEMPERATURE, MAX_TEMPERATURE, 1.0)
        self.temperature.box.setDecimals(3)
        self.temperature.setToolTip("Re-score the same characters at another temperature (the logits are "
                                    "divided by T before the softmax). Hold Shift for finer steps. The "
                                    "saliency of a clicked character is at T = 1 and does not change.")
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
        self.text.token_clicked.connect(self._on_text_token_clicked)
        self.text.key_pressed.connect(self._on_text_key_pressed)
        self.show_sample(None)

    # ------------------------------------------------------------------ showing
    def show_sample(self, sample: InspectedSample | None, keep_temperature: bool = False) -> None:
        """Draw ``sample`` at the temperature it was drawn at, or the empty state for None.

        keep_temperature: if the user moved the temperature away from the one the shown sample was
        drawn at, re-score the new one at the user's instead. While a character is explained a new
        sample waits (see :meth:`waiting`) until the user goes back to the probabilities; None does not."""
        if sample is not None and self.explained is not None:
            self._waiting = sample
            self._keep_waiting_temperature = keep_temperature
            self._redraw_header()
            return
        before, chosen = self._sample, self.temperature_value()
        self._sample = sample
        self._waiting = None
        self.explained = self.saliency_values = None
        if sample is None:
            self.stack.setCurrentWidget(self.empty)
            self.scores = None
            self.colours = []
            self.text.set_tokens([], [])
            return
        self.stack.setCurrentWidget(self.page)
        keep = keep_temperature and before is not None and not math.isclose(chosen, before.temperature, rel_tol=1e-9)
        self.temperature.set_value(chosen if keep else sample.temperature)
        self._redraw()

    def sample(self) -> InspectedSample | None:
        return self._sample

    def waiting(self) -> InspectedSample | None:
        """A newer sample held back while a character is explained (None: none)."""
        return self._waiting

    def can_explain(self) -> bool:
        s = self._sample
        return s is not None and s.saliency is not None and len(s.chars) > 0

    def explain(self, k: int | None) -> bool:
        """Shade the characters before generated character ``k`` by its saliency (None: back to the
        probabilities, and to a sample that waited). False if the sample has no saliency for k."""
        if k is None:
            if self.explained is None:
                return True
            self.explained = self.saliency_values = None
            waiting = self._waiting
            if waiting is not None:
                self.show_sample(waiting, self._keep_waiting_temperature)
            else:
                self._redraw()
            self.character_explained.emit(-1)
            return True
        if not self.can_explain() or not 0 <= k < len(self._sample.chars):
            return False
        self.explained = int(k)
        self._redraw()
        self.text.show_token(k + 1)
        self.character_explained.emit(int(k))
        return True

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
        lead = ""
        k = self.explained
        if k is not None and token <= k:
            value = float(self.saliency_values[token])
            lead = (f"<p>‖∂ log p(‘{html.escape(char_label(s.chars[k]))}’)/∂x&lt;{step_number(token)}&gt;‖ = {value:.3g}: "
                    f"how much the log-probability (T&nbsp;=&nbsp;1) of character {k + 1}, "
                    f"{k + 1 - token} to the right, depends on this one</p>")
        elif k is not None and token == k + 1:
            lead = "<p><b>the character explained</b> (in red; click again or press Esc for the probabilities)</p>"
        if token == 0:
            return lead + (f"<p>the character the sample started from (‘{html.escape(char_label(s.first))}’): "
                           "nothing here predicted it</p>")
        return lead + self.tooltip(token - 1)

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
        if self.explained is None:
            self.text.set_tokens((s.first,) + tuple(s.chars), [None] + self.colours, selected=0)
            self.bar.setColorMap(SAMPLE_MAP)
            self.bar.setLevels((0.0, 1.0))
            self._set_bar_label(f"p(character) at temperature {T:g}")
            self._probability_caption()
        else:
            self._draw_saliency()
        self.text.verticalScrollBar().setValue(scroll)
        self._redraw_header()
        self.as_drawn.setEnabled(not math.isclose(T, s.temperature, rel_tol=1e-6))

    def _set_bar_label(self, label: str) -> None:
        self.bar.setLabel("bottom" if self.bar.horizontal else "left", label)

    def _redraw_header(self) -> None:
        s = self._sample
        if s is None:
            return
        T = self.temperature_value()
        drawn = f"{len(s.chars)} characters drawn at T\u00a0=\u00a0{s.temperature:g} after ‘{char_label(s.first)}’"
        if math.isclose(T, s.temperature, rel_tol=1e-6):
            text = drawn + "."
        else:
            text = f"{drawn}; the same characters re-scored at T\u00a0=\u00a0{T:g}."
        if self.explained is not None:
            text += " Click the red character again or press Esc for the probabilities"
            text += " (a newer sample is waiting)." if self._waiting is not None else "."
        self.header.setText(text)

    def _probability_caption(self) -> None:
        s, sc, T = self._sample, self.scores, self.temperature_value()
        if len(s.chars):
            mean_bits = float(sc.log_p.mean()) / math.log(2)
            top_share = float(np.mean(sc.rank == 0))
            self.caption.setText(f"At T\u00a0=\u00a0{T:g}: mean log₂\u00a0p = {minus(mean_bits)} bits per character "
                                 f"(perplexity {2 ** -mean_bits:.3g}); {top_share:.0%} of the characters "
                                 "were the model's top choice."
                                 + (" Click a character to see what it was drawn from." if self.can_explain() else ""))
        else:
            self.caption.setText("The sample has no generated characters.")

    def _draw_saliency(self) -> None:
        """Tokens 0 … k (what character k was drawn after) shaded by its saliency row, white at 0 and
        scaled to the row's largest value, as the inputs tab shades the probe; the rest uncoloured."""
        s, k = self._sample, self.explained
        row = np.asarray(s.saliency[k, :k + 1], dtype=float)                       # (k + 1,)
        self.saliency_values = row
        finite = row[np.isfinite(row)]
        top = float(finite.max()) if finite.size else 0.0
        scale = top if top > 0 else 1.0
        shades = [SALIENCY_MAP.map(min(max(v / scale, 0.0), 1.0) if np.isfinite(v) else 1.0, mode="qcolor")
                  for v in row]
        tokens = (s.first,) + tuple(s.chars)
        self.text.set_tokens(tokens, shades + [None] * (len(tokens) - k - 1), selected=k + 1)
        self.text.mark_token(k + 1, EXPLAINED_COLOUR)
        self.bar.setColorMap(SALIENCY_MAP)
        self.bar.setLevels((0.0, scale))
        what = html.escape(char_label(s.chars[k]))
        self._set_bar_label(f"‖∂ log p(‘{what}’)/∂x&lt;s&gt;‖ at T = 1")

        c = char_label(s.chars[k])
        token = s.vocab.index(s.chars[k])
        p1 = math.exp(float(log_distribution(np.asarray(s.logits)[k], 1.0)[token]))
        T = self.temperature_value()
        at_t = "" if math.isclose(T, 1.0, rel_tol=1e-6) else \
            f" ({format_probability(math.exp(self.scores.log_p[k]))} at T\u00a0=\u00a0{T:g})"
        head = f"‘{c}’, character {k + 1} of {len(s.chars)}, p = {format_probability(p1)} at T\u00a0=\u00a01{at_t}"
        how = ("Shaded by ‖∂ log p/∂x<s>‖ over the characters before it, with the model's own "
               "probabilities (T\u00a0=\u00a01) whatever the slider says.")
        if top > 0:
            s_max = int(np.nanargmax(row))
            where = (f"the ‘{char_label(s.first)}’ the sample started from, {earlier(k + 1)}" if s_max == 0
                     else f"the ‘{char_label(s.chars[s_max - 1])}’ {earlier(k + 1 - s_max)}")
            self.caption.setText(f"{head}: most of it comes from {where}. {how}")
        else:
            self.caption.setText(f"{head}: no earlier character moves it (the saliency is 0). {how}")

    # ------------------------------------------------------------------ handlers
    def _on_temperature_value_changed(self, value: float) -> None:
        if self._sample is not None:
            self._redraw()
        self.temperature_changed.emit(float(value))

    def _on_as_drawn_clicked(self) -> None:
        if self._sample is not None:
            self.set_temperature(self._sample.temperature)

    def _on_text_token_clicked(self, token: int) -> None:
        k = token - 1                                         # token 0 started the sample: nothing to explain
        if k == self.explained:
            self.explain(None)
        elif k >= 0:
            self.explain(k)

    def _on_text_key_pressed(self, key: int) -> None:
        if key == Qt.Key.Key_Escape:
            self.explain(None)
            return
        if not self.can_explain():
            return
        n, k = len(self._sample.chars), self.explained
        if key == Qt.Key.Key_Home:
            target = 0
        elif key == Qt.Key.Key_End:
            target = n - 1
        elif key == Qt.Key.Key_Left:
            target = n - 1 if k is None else max(k - 1, 0)
        else:
            target = 0 if k is None else min(k + 1, n - 1)
        self.explain(target)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Escape and self.explained is not None:
            self.explain(None)             # Esc anywhere in the tab (the slider, the buttons)
            event.accept()
            return
        super().keyPressEvent(event)
