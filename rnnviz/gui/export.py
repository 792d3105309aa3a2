"""A plot as a PNG or SVG file, with pyqtgraph's exporters (and Qt's SVG generator where they fail)."""

from __future__ import annotations

import os

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401 - registers ImageExporter / SVGExporter
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator

PNG_MIN_WIDTH = 800   # pixels; a PNG is drawn at twice the plot's width on screen, at least this


def export_plot_item(item, path: str) -> None:
    """Write the plot ``item`` to ``path``: SVG if it ends in .svg, else PNG. OSError on failure."""
    if path.lower().endswith(".svg"):
        try:
            pg.exporters.SVGExporter(item).export(path)
        except ValueError:
            # pyqtgraph 0.14's SVG post-processing cannot parse Qt 6.12's path syntax.
            export_svg(item, path)
    else:
        exporter = pg.exporters.ImageExporter(item)
        exporter.parameters()["width"] = max(PNG_MIN_WIDTH, int(item.sceneBoundingRect().width()) * 2)
        exporter.export(path)


def export_svg(item, path: str) -> None:
    """Render a plot item's part of the scene into an SVG file with Qt's own SVG generator."""
    rect = item.sceneBoundingRect()
    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(rect.size().toSize())
    generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    generator.setTitle("rnnviz plot")
    painter = QPainter(generator)
    try:
        item.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
    if not os.path.exists(path):
        raise OSError(f"could not write {path}")
