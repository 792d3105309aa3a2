"""Every `rnnviz ...` command the README shows runs as shown (with fewer steps), so the README stays
true. What each one reaches at full length is stated beside it and measured by hand."""

import re
import shlex
from pathlib import Path

from rnnviz.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"
BOOK = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
        "age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 40


def readme_commands() -> list[str]:
    """The rnnviz command lines of the README's bash blocks under 'The command line'."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The command line"):text.index("## Tasks and presets")]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("rnnviz "):
                commands.append(line)
    return commands


def shortened(argv: list[str]) -> list[str]:
    """The same command with a handful of steps."""
    if argv[0] != "train":
        return argv
    if "--steps" in argv:
        argv[argv.index("--steps") + 1] = "12"
    else:
        argv += ["--steps", "12"]
    return argv


def test_the_readme_shows_commands():
    commands = readme_commands()
    assert len(commands) >= 8 and any("--resume" in c for c in commands)


def test_every_readme_command_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "book.txt").write_text(BOOK, encoding="utf-8")
    for command in readme_commands():
        argv = shortened(shlex.split(command)[1:])
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0 and "Traceback" not in err, f"{command}: {err}"
