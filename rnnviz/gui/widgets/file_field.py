"""A file-path field with a Browse button that also accepts a file dropped on it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget


class FileField(QWidget):
    """Shows a path (or a placeholder); ``file_chosen`` fires when a file is dropped or typed,
    ``browse_requested`` when Browse is clicked (the window owns dialogs)."""

    file_chosen = Signal(str)
    browse_requested = Signal()

    def __init__(self, placeholder: str = "", parent=None):
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.button = QPushButton("Browse…")
        self.setAcceptDrops(True)
        self.edit.setAcceptDrops(False)   # the whole field takes the drop
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)
        self.button.clicked.connect(self.browse_requested)
        self.edit.editingFinished.connect(self._on_edit_editing_finished)
        self._shown = ""

    def path(self) -> str:
        return self.edit.text().strip()

    def set_path(self, path: str | None) -> None:
        self._shown = path or ""
        self.edit.setText(self._shown)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setToolTip(text)
        self.edit.setToolTip(text)
        self.button.setToolTip(text)

    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.file_chosen.emit(files[0])

    def _on_edit_editing_finished(self) -> None:
        if self.path() != self._shown:
            self._shown = self.path()
            self.file_chosen.emit(self.path())
