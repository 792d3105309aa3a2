"""A stacked network's layer chooser: "layer 1 (input)" … "layer L (output)"."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox


class LayerBox(QComboBox):
    """Lists layers 1 … L; ``layer_chosen`` (1-based) when the user picks one (not when set)."""

    layer_chosen = Signal(int)

    def __init__(self, tooltip: str = "", parent=None):
        super().__init__(parent)
        self.setToolTip(tooltip)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.activated.connect(lambda index: self.layer_chosen.emit(index + 1) if index >= 0 else None)

    def set_layers(self, layers: int, layer: int) -> None:
        """Offer layers 1 … ``layers`` with ``layer`` chosen."""
        self.clear()
        for k in range(1, layers + 1):
            where = " (input)" if k == 1 and layers > 1 else " (output)" if k == layers and layers > 1 else ""
            self.addItem(f"layer {k}{where}", k)
        self.set_layer(layer)

    def set_layer(self, layer: int) -> None:
        self.setCurrentIndex(layer - 1)

    @property
    def layer(self) -> int:
        return self.currentIndex() + 1
