"""The desktop window (the only package that imports Qt): ``rnnviz.gui.app.run_gui``."""

from . import _qt_compat  # noqa: F401 - must run before Qt is used heavily
