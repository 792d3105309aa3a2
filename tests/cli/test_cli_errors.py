"""The command line tells the user's mistakes from rnnviz's bugs, and reaches every command.

A user's mistake (rnnviz.errors) is one line and exit code 2; anything else is a bug in rnnviz and
is shown with its traceback and the line asking to report it, never as "bad input"."""

import json

import pytest

from rnnviz import cli
from rnnviz.errors import BUG_LINE, InputError

TINY_CHARLM = ["train", "--preset", "char-rnn", "--hidden", "8", "--steps", "3", "--quiet"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("error", [ValueError("operands could not be broadcast together"),
                                   TypeError("unsupported operand"), KeyError("Wax"),
                                   ZeroDivisionError("division by zero")])
def test_an_internal_error_is_reported_as_a_bug_not_as_bad_input(capsys, monkeypatch, error):
    def broken(args):
        raise error
    monkeypatch.setitem(cli.COMMANDS, "presets", broken)
    code, out, err = run(capsys, "presets")
    assert code == cli.EXIT_BUG != cli.EXIT_BAD_INPUT
    assert "Traceback (most recent call last)" in err and type(error).__name__ in err
    assert err.rstrip().endswith(BUG_LINE)
    assert "rnnviz: error:" not in err


def test_a_users_mistake_raised_anywhere_is_one_line_and_exit_2(capsys, monkeypatch):
    def refuses(args):
        raise InputError("the text holds  a character\nthe model never saw")
    monkeypatch.setitem(cli.COMMANDS, "presets", refuses)
    code, out, err = run(capsys, "presets")
    assert code == cli.EXIT_BAD_INPUT
    assert err == "rnnviz: error: the text holds a character the model never saw\n"


def test_explain_export_and_import_are_commands(capsys, tmp_path):
    session, weights, back = tmp_path / "a.rnnviz", tmp_path / "a.safetensors", tmp_path / "b.rnnviz"
    corpus = tmp_path / "book.txt"
    corpus.write_text("It was the best of times, it was the worst of times. " * 30, encoding="utf-8")
    assert run(capsys, *TINY_CHARLM, "--corpus", corpus, "--save", session)[0] == 0

    code, out, err = run(capsys, "explain", session, "--json")
    report = json.loads(out)
    assert code == 0 and err == ""
    T = len(report["tokens"])
    assert T > 1 and len(report["log_prob"]) == T - 1  # each character predicts the next
    assert all(lp <= 0 for lp in report["log_prob"]) and report["diagnosis"]

    code, out, err = run(capsys, "export", session, weights)
    assert code == 0 and weights.stat().st_size > 0 and "nn.RNN" in out

    code, out, err = run(capsys, "import", weights, "--save", back, "--corpus", corpus)
    assert code == 0 and back.exists()
    code, out, _ = run(capsys, "info", back, "--json")
    assert json.loads(out)["hidden"] == 8

    # refusals are one line, exit 2, and never touch an existing file
    before = weights.read_bytes()
    code, out, err = run(capsys, "export", session, weights)
    assert code == 2 and err.count("\n") == 1 and "--force" in err
    assert weights.read_bytes() == before
    code, out, err = run(capsys, "explain", tmp_path / "missing.rnnviz")
    assert code == 2 and err.startswith("rnnviz: error:") and err.count("\n") == 1
