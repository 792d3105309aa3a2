"""Sliders that show their value: a logarithmic one (1-2-5 stops) with a numeric box, and a linear one."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QWidget


COARSE = (1, 2, 5)                                   # values per decade the slider snaps to
FINE = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)       # ... and with Shift or Ctrl held
FINE_MODIFIERS = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
SLIDER_MIN_WIDTH = 110                               # pixels: a slider never shrinks to a stub


def log_grid(low: float, high: float, mantissas=FINE) -> list[float]:
    """``mantissas`` x 10^k from ``low`` to ``high``, each exactly the float its decimal reads
    (0.02 is ``float("2e-2")``, not 2 * 0.01)."""
    values = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for m in mantissas:
            value = float(f"{m}e{exponent}")
            if low * (1 - 1e-9) <= value <= high * (1 + 1e-9):
                values.append(value)
    return sorted(set(values))


class LogSlider(QWidget):
    """A value from ``low`` to ``high`` on a logarithmic slider, with a numeric box beside it.

    The slider snaps to 1-2-5 values per decade (..., 0.01, 0.02, 0.05, 0.1, ...); with Shift
    or Ctrl held it also stops at 1.2, 1.5, 2.5, 3, 4, 6, 7, 8. The box takes any value.
    ``value_changed`` fires for every change (slider drag or typed value); callers merge bursts
    (``pyqtgraph.SignalProxy``) if they do something expensive with it.
    """

    value_changed = Signal(float)

    def __init__(self, low: float, high: float, value: float, parent=None):
        super().__init__(parent)
        self._low, self._high = low, high
        self.values = log_grid(low, high)                 # slider position -> value
        coarse = set(log_grid(low, high, COARSE))
        self._coarse = [i for i, v in enumerate(self.values) if v in coarse]
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, len(self.values) - 1)
        self.slider.setMinimumWidth(SLIDER_MIN_WIDTH)
        self.slider.setPageStep(3)
        self._position = 0
        self.box = QDoubleSpinBox()
        self.box.setDecimals(6)
        self.box.setRange(low, high)
        self.box.setKeyboardTracking(False)
        self.box.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.box.setMinimumWidth(88)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.box)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.box.valueChanged.connect(self._on_box_value_changed)
        self.set_value(value)

    def value(self) -> float:
        return float(self.box.value())

    def set_value(self, value: float) -> None:
        """Show ``value`` without emitting ``value_changed``."""
        value = min(max(float(value), self._low), self._high)
        for w in (self.slider, self.box):
            w.blockSignals(True)
        self.box.setValue(value)
        self._position = self._to_slider(value)
        self.slider.setValue(self._position)
        for w in (self.slider, self.box):
            w.blockSignals(False)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setToolTip(text)
        self.slider.setToolTip(text)
        self.box.setToolTip(text)

    def _to_slider(self, value: float) -> int:
        logs = [abs(math.log10(v) - math.log10(value)) for v in self.values]
        return logs.index(min(logs))

    def _snap(self, position: int) -> int:
        """The 1-2-5 position for ``position``: while dragging the nearest one; for a key or a
        click on the groove the next one in the direction it moved (so it always moves)."""
        if position in self._coarse or QApplication.keyboardModifiers() & FINE_MODIFIERS:
            return position
        if self.slider.isSliderDown():
            return min(self._coarse, key=lambda c: (abs(c - position), c))
        if position > self._position:
            return next((c for c in self._coarse if c >= position), self._coarse[-1])
        return next((c for c in reversed(self._coarse) if c <= position), self._coarse[0])

    def _on_slider_value_changed(self, position: int) -> None:
        snapped = self._snap(position)
        if snapped != position:
            self.slider.blockSignals(True)
            self.slider.setValue(snapped)
            self.slider.blockSignals(False)
        if snapped == self._position and self.box.value() == self.values[snapped]:
            return
        self._position = snapped
        self.box.blockSignals(True)
        self.box.setValue(self.values[snapped])
        self.box.blockSignals(False)
        self.value_changed.emit(self.value())

    def _on_box_value_changed(self, value: float) -> None:
        self._position = self._to_slider(max(value, self._low))
        self.slider.blockSignals(True)
        self.slider.setValue(self._position)
        self.slider.blockSignals(False)
        self.value_changed.emit(float(value))


class ValueSlider(QWidget):
    """A linear slider over [low, high] that shows its value in a label beside it (at least
    ``min_width`` pixels wide, if given)."""

    value_changed = Signal(float)

    def __init__(self, low: float, high: float, value: float, *, resolution: int = 1000,
                 fmt: str = "{:.2f}", min_width: int | None = None, parent=None):
        super().__init__(parent)
        self._low, self._high, self._resolution, self._fmt = low, high, resolution, fmt
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, resolution)
        if min_width is not None:
            self.slider.setMinimumWidth(min_width)
        self.label = QLabel()
        self.label.setMinimumWidth(40)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.set_value(value)

    def value(self) -> float:
        return self._low + (self._high - self._low) * self.slider.value() / self._resolution

    def set_value(self, value: float) -> None:
        """Show ``value`` without emitting ``value_changed``."""
        frac = (min(max(value, self._low), self._high) - self._low) / (self._high - self._low)
        self.slider.blockSignals(True)
        self.slider.setValue(round(frac * self._resolution))
        self.slider.blockSignals(False)
        self.label.setText(self._fmt.format(self.value()))

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setToolTip(text)
        self.slider.setToolTip(text)
        self.label.setToolTip(text)

    def _on_slider_value_changed(self, _position: int) -> None:
        self.label.setText(self._fmt.format(self.value()))
        self.value_changed.emit(self.value())
