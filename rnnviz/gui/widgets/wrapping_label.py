"""Rich text in a pyqtgraph layout that wraps at the width the layout gives it.

pyqtgraph's ``LabelItem`` (a plot's title) asks its layout for its whole text's width, and asks
again at every resize: a long one-line legend widens every column under it past the window's
edge, and the plots and colour bars on the right are cut off. A ``WrappingLabel`` asks for
little width and takes as many lines as its text needs at the width it gets.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QSizeF, Qt
from PySide6.QtWidgets import QGraphicsTextItem, QSizePolicy


class WrappingLabel(pg.GraphicsWidget):
    """An HTML label for a ``GraphicsLayout`` cell (e.g. a legend above a plot spanning the row).

    ``set_html(text)`` shows ``text`` in ``size`` (a CSS font size) and the foreground colour of
    pyqtgraph's configuration, centred; ``text`` holds the plain text shown (what a test reads).
    ``min_width`` (pixels) is all the width it asks for.
    """

    def __init__(self, html: str = "", size: str = "9pt", min_width: float = 60.0):
        super().__init__()
        self._size, self._min_width = size, float(min_width)
        self._height = 0.0
        self.item = QGraphicsTextItem(self)
        self.item.setDefaultTextColor(pg.mkColor(pg.getConfigOption("foreground")))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.set_html(html)

    @property
    def text(self) -> str:
        return self.item.toPlainText()

    def set_html(self, html: str) -> None:
        self.item.setHtml(f"<div align='center' style='font-size:{self._size}'>{html}</div>")
        self._fit()

    def resizeEvent(self, ev) -> None:         # noqa: N802 - Qt's name
        self._fit()

    def _fit(self) -> None:
        """Wrap at the current width (before the first layout, at the text's own width) and ask
        for the height that takes."""
        width = self.size().width()
        self.item.setTextWidth(width if width >= self._min_width else -1)
        height = self.item.boundingRect().height()
        if abs(height - self._height) > 0.5:
            self._height = height
            self.updateGeometry()

    def sizeHint(self, which, constraint=QSizeF()) -> QSizeF:   # noqa: N802 - Qt's name
        if which == Qt.SizeHint.MaximumSize:
            return QSizeF(1e6, self._height)
        return QSizeF(self._min_width, self._height)


class WrappingTitle(pg.LabelItem):
    """A plot title (``PlotItem.titleLabel``, see :func:`wrap_title`) that asks for ``min_width``
    and, when its plot is narrower than its text, wraps onto more lines and raises the title row
    to fit them, instead of widening the plot (and the layout's column) to the text's width."""

    def __init__(self, min_width: float = 60.0, **opts):
        self._min_width = float(min_width)     # (LabelItem's __init__ calls updateMin)
        super().__init__(" ", **opts)

    def updateMin(self) -> None:                # noqa: N802 - pyqtgraph's name
        self.item.setTextWidth(-1)
        natural = self.item.boundingRect().width()
        width = self.size().width()
        if self._min_width <= width < natural:
            self.item.setTextWidth(width)
        super().updateMin()                     # minimum size = the (wrapped) text's
        self.setMinimumWidth(self._min_width)
        plot = self.parentItem()
        if self.isVisible() and isinstance(plot, pg.PlotItem) and plot.titleLabel is self:
            height = max(30.0, self.itemRect().height())      # PlotItem.setTitle's row: 30 px
            self.setMaximumHeight(height)
            plot.layout.setRowFixedHeight(0, height)


def wrap_title(plot: pg.PlotItem, min_width: float = 60.0) -> WrappingTitle:
    """Give ``plot`` a :class:`WrappingTitle` in place of pyqtgraph's (before any setTitle)."""
    old = plot.titleLabel
    plot.layout.removeItem(old)
    if old.scene() is not None:
        old.scene().removeItem(old)
    title = WrappingTitle(min_width, size="11pt", parent=plot)
    plot.titleLabel = title
    plot.layout.addItem(title, 0, 1)
    plot.setTitle(None)
    return title
