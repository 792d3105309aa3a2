"""An area that shows its panels side by side when there is room, and as tabs when there is not."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

MARGIN = 24          # pixels beyond the wide layout's minimum before it is used again


class AdaptiveArea(QWidget):
    """Holds ``wide`` (a splitter tree of panels) and a QTabWidget. Below the wide layout's
    minimum size (plus ``MARGIN``) the panels move into the tabs, one panel at full size each.

    ``place_wide()`` / ``place_tabs()`` (given by the owner) move the panels between the two;
    ``compact_changed(bool)`` reports a switch. Only the layout shown counts for the minimum
    size, so the window can shrink to the tabs' minimum."""

    compact_changed = Signal(bool)

    def __init__(self, wide: QWidget, place_wide, place_tabs, parent=None):
        super().__init__(parent)
        self.wide = wide
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self._place_wide, self._place_tabs = place_wide, place_tabs
        self.compact = False
        self.forced: bool | None = None     # tests and users: always tabs / never tabs / by size
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(wide)
        layout.addWidget(self.tabs)
        self.tabs.hide()
        self._wide_min = wide.minimumSizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.tabs.minimumSizeHint() if self.compact else self.tabs.minimumSizeHint().boundedTo(
            self.wide.minimumSizeHint())

    def wide_fits(self, size: QSize) -> bool:
        need = self._wide_min
        return size.width() >= need.width() + MARGIN and size.height() >= need.height() + MARGIN

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.update_mode()

    def update_mode(self) -> None:
        if not self.compact:
            self._wide_min = self.wide.minimumSizeHint()     # as the panels are now
        compact = (not self.wide_fits(self.size())) if self.forced is None else self.forced
        if compact == self.compact:
            return
        if compact:
            self.wide.hide()
            self._place_tabs(self.tabs)
            self.tabs.show()
        else:
            self.tabs.hide()
            self._place_wide()
            self.wide.show()
        self.compact = compact
        self.updateGeometry()
        self.compact_changed.emit(compact)
