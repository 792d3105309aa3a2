"""README's two commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_COMMAND = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/rnnviz"
TEST_COMMAND = ("python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && "
                "QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q")


def test_readme_gives_the_run_command():
    assert RUN_COMMAND in (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    assert TEST_COMMAND in (ROOT / "README.md").read_text(encoding="utf-8")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert TEST_COMMAND in [line.strip() for line in ci_lines], "CI must run the README's command as it stands"
