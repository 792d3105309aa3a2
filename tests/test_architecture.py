"""Dependency direction: only rnnviz.gui may import Qt."""

import subprocess
import sys


def test_core_packages_do_not_import_qt():
    code = (
        "import sys\n"
        "import rnnviz.engine, rnnviz.tasks, rnnviz.training, rnnviz.session, rnnviz.cli\n"
        "import pkgutil, importlib, rnnviz\n"
        "for m in pkgutil.walk_packages(rnnviz.__path__, 'rnnviz.'):\n"
        "    if not m.name.startswith('rnnviz.gui'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt imported outside rnnviz.gui: {out.stdout}"
