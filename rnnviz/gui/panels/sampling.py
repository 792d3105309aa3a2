"""Sampling panel: text from the character model, or the model's answers on test examples."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget,
)

from rnnviz.tasks.memory import ADDING_TOLERANCE

from ..run_data import RunData
from ..worker import MIN_SAMPLE_INTERVAL
from ..widgets.sliders import ValueSlider

NEWLINE = "⏎"
SAMPLE_LEGEND = f"Bold: the priming text the sample continues; {NEWLINE} a newline in the text."
EXAMPLE_LEGEND = "input → the model's answer (the right answer) ✓ right / ✗ wrong"
TASK_RULES = {"adding": f"; right when within {ADDING_TOLERANCE:g} of the sum",
              "copy": "; the count of symbols recalled right after ✗",
              "reversal": "; the count of symbols right after ✗ (greedy decoding)",
              "dates": "; the count of characters right after ✗ (greedy decoding)"}


def visible_newlines(text: str) -> str:
    """Newlines shown as ⏎ at the end of their line (and still a line break)."""
    return text.replace("\r\n", "\n").replace("\n", NEWLINE + "\n")


def sample_header(step: int, note: dict, fallback: dict | None = None) -> str:
    """``step 1,500 · temperature 0.8 · prime “It was” · on demand``: what a sample was drawn with
    (``note``; ``fallback`` -- the settings now -- when the sample came without one)."""
    parts = [f"step {step:,}"]
    known = note or fallback or {}
    if "temperature" in known:
        parts.append(f"temperature {known['temperature']:g}")
    if "prime" in known:
        parts.append(f"prime “{visible_newlines(known['prime']).replace(chr(10), '')}”" if known["prime"]
                     else "no prime")
    if note:
        parts.append("on demand" if note.get("on_demand") else "scheduled")
    return " · ".join(parts)


class SamplingPanel(QWidget):
    """Character model: samples appear every N steps and on demand. Other tasks: live predictions."""

    live_edited = Signal(dict)
    sample_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._task = None
        self._samples_shown = 0
        self._examples = None
        self._config = None
        self._shown_step: int | None = None
        self.views = []

        self.prime_edit = QLineEdit()
        self.prime_edit.setPlaceholderText("priming text (optional)")
        self.prime_edit.setToolTip("Text fed to the network before sampling starts, to set its hidden state; "
                                   "the sample continues it. Empty: start from one random character.")
        self.length_box = QSpinBox()
        self.length_box.setRange(1, 100_000)
        self.length_box.setKeyboardTracking(False)
        self.length_box.setToolTip("How many characters each sample has.")
        self.temperature = ValueSlider(0.05, 2.0, 1.0, resolution=195)
        self.temperature.setToolTip("Sampling temperature: below 1 picks likely characters (safer, repetitive), "
                                    "above 1 more surprising ones. Does not change training.")
        self.sample_button = QPushButton("Sample now")
        self.sample_button.setToolTip("Draw a sample from the model as it is now (also while training).")
        self.controls = QWidget()
        rows = QVBoxLayout(self.controls)
        rows.setContentsMargins(0, 0, 0, 0)
        first = QHBoxLayout()
        first.addWidget(QLabel("Prime"))
        first.addWidget(self.prime_edit, 1)
        first.addWidget(self.sample_button)
        second = QHBoxLayout()
        second.addWidget(QLabel("Length"))
        second.addWidget(self.length_box)
        second.addSpacing(12)
        second.addWidget(QLabel("Temperature"))
        second.addWidget(self.temperature, 1)
        rows.addLayout(first)
        rows.addLayout(second)

        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #444;")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(3000)   # old samples scroll away; memory stays bounded
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls)
        layout.addWidget(self.caption)
        layout.addWidget(self.text, 1)

        self.prime_edit.editingFinished.connect(self._on_prime_edit_editing_finished)
        self.length_box.valueChanged.connect(lambda v: self.live_edited.emit({"sample_length": int(v)}))
        # Merge slider bursts: only the value the slider settles on becomes a setting change.
        self._temperature_proxy = pg.SignalProxy(self.temperature.value_changed, delay=0.2, rateLimit=0,
                                                 slot=self._on_temperature_proxy_fired)
        self.sample_button.clicked.connect(self.sample_requested)

    def show_config(self, config) -> None:
        for w in (self.prime_edit, self.length_box):
            w.blockSignals(True)
        if self.prime_edit.text() != config.prime:
            self.prime_edit.setText(config.prime)
        self.length_box.setValue(config.sample_length)
        for w in (self.prime_edit, self.length_box):
            w.blockSignals(False)
        self.temperature.set_value(config.temperature)
        self._config = config
        is_charlm = config.task == "charlm"
        if config.task != self._task:
            self._task = config.task
            self.controls.setVisible(is_charlm)
        self.caption.setText(
            f"Samples from the model appear here every {config.sample_every:,} steps (at most one every "
            f"{MIN_SAMPLE_INTERVAL:g} seconds) and when you press Sample now. {SAMPLE_LEGEND}" if is_charlm else
            f"The model's answers on the first held-out examples, at every test (every {config.eval_every:,} "
            f"steps). {EXAMPLE_LEGEND}{TASK_RULES.get(config.task, '')}.")

    def clear(self) -> None:
        self.text.clear()
        self._samples_shown = 0
        self._examples = None
        self._shown_step = None

    def shown_step(self) -> int | None:
        """The step of the latest sample or examples shown."""
        return self._shown_step

    def refresh(self, data: RunData) -> bool:
        """Append new samples / show the latest examples (plain text: nothing to time)."""
        if self._task == "charlm":
            if data.new_samples:
                for step, sample in data.new_samples:
                    self._append_sample(step, sample, data.sample_note(step, sample))
                    self._shown_step = step
                data.new_samples.clear()
                self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())
        elif data.examples is not None and data.examples is not self._examples:
            self._examples = data.examples
            step = data.examples_step if data.examples_step is not None else data.step
            self._shown_step = step
            subset = f" (the first {len(data.examples)} of the {data.held_out:,} the test curve is measured on)" \
                if data.held_out else ""
            self.text.setPlainText(f"Held-out examples at step {step:,}{subset}:\n\n" + "\n".join(data.examples))
        return False

    def _append_sample(self, step: int, sample: str, note: dict) -> None:
        """A header saying what the sample was drawn with, then the text: the prime in bold,
        newlines visible."""
        config = self._config
        fallback = None if config is None else {"temperature": config.temperature, "prime": config.prime}
        prime = (note or fallback or {}).get("prime") or ""
        if not sample.startswith(prime) or sample.startswith("[no sample"):
            prime = ""
        header, bold, plain = QTextCharFormat(), QTextCharFormat(), QTextCharFormat()
        header.setForeground(QColor(90, 90, 90))
        bold.setFontWeight(QFont.Weight.Bold)
        cursor = self.text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.text.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(f"── {sample_header(step, note, fallback)}", header)
        cursor.insertBlock()
        cursor.insertText(visible_newlines(prime), bold)
        cursor.insertText(visible_newlines(sample[len(prime):]), plain)
        cursor.insertBlock()

    def _on_prime_edit_editing_finished(self) -> None:
        self.live_edited.emit({"prime": self.prime_edit.text()})

    def _on_temperature_proxy_fired(self, args) -> None:
        self.live_edited.emit({"temperature": round(float(args[0]), 3)})
