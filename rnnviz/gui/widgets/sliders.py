"""Sliders that show their value: a logarithmic one with a numeric box, and a linear one."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QWidget


class LogSlider(QWidget):
    """A value from ``low`` to ``high`` on a logarithmic slider, with a numeric box beside it.

    ``value_changed`` fires for every change (slider drag or typed value); callers merge bursts
    (``pyqtgraph.SignalProxy``) if they do something expensive with it.
    """

    value_changed = Signal(float)

    STEPS_PER_DECADE = 100

    def __init__(self, low: float, high: float, value: float, parent=None):
        super().__init__(parent)
        self._low, self._high = low, high
        self._log_low = math.log10(low)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round((math.log10(high) - self._log_low) * self.STEPS_PER_DECADE))
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
        self.slider.setValue(self._to_slider(value))
        for w in (self.slider, self.box):
            w.blockSignals(False)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setToolTip(text)
        self.slider.setToolTip(text)
        self.box.setToolTip(text)

    def _to_slider(self, value: float) -> int:
        return round((math.log10(value) - self._log_low) * self.STEPS_PER_DECADE)

    def _on_slider_value_changed(self, position: int) -> None:
        value = 10 ** (self._log_low + position / self.STEPS_PER_DECADE)
        value = float(f"{value:.3g}")  # 0.0123 rather than 0.012302687708
        self.box.blockSignals(True)
        self.box.setValue(value)
        self.box.blockSignals(False)
        self.value_changed.emit(self.value())

    def _on_box_value_changed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_slider(max(value, self._low)))
        self.slider.blockSignals(False)
        self.value_changed.emit(float(value))


class ValueSlider(QWidget):
    """A linear slider over [low, high] that shows its value in a label beside it."""

    value_changed = Signal(float)

    def __init__(self, low: float, high: float, value: float, *, resolution: int = 1000,
                 fmt: str = "{:.2f}", parent=None):
        super().__init__(parent)
        self._low, self._high, self._resolution, self._fmt = low, high, resolution, fmt
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, resolution)
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
