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


LAYERS = ["errors", "engine", "tasks", "training", "session", "insight", "bridge", "cli", "gui"]
"""Each package may import only itself and the packages before it in this list."""


def _rnnviz_imports(path):
    import ast
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rnnviz."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rnnviz."):
                    yield alias.name.split(".")[1], node.lineno


def test_dependencies_point_one_way():
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "rnnviz"
    problems = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if layer not in LAYERS:
            continue
        allowed = set(LAYERS[:LAYERS.index(layer) + 1])
        if layer == "cli":
            allowed.add("gui")      # only `rnnviz gui` opens the window, importing it on demand
        for target, line in _rnnviz_imports(path):
            if target in LAYERS and target not in allowed:
                problems.append(f"{rel}:{line} imports rnnviz.{target}")
    assert not problems, "imports against the layer order " + " < ".join(LAYERS) + ":\n" + "\n".join(problems)
