"""The desktop window (the only package that imports Qt): ``rnnviz.gui.app.run_gui``.

Importing this package imports no Qt (the architecture test walks every package).
"""
