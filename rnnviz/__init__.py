"""rnnviz: watch recurrent neural networks learn.

Packages, with dependencies pointing one way:
``engine`` (numpy only) <- ``tasks`` <- ``training`` <- ``session`` <- ``cli`` / ``gui``.
Only ``rnnviz.gui`` imports Qt.
"""

__version__ = "0.1.0"
