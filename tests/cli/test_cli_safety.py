"""What the command line must never do: destroy a file, lose a run to a closed pipe, or start work
it will fail at; and the exit codes the README documents."""

import json
import os
import subprocess
import sys

import pytest

from rnnviz.cli import main
from rnnviz.session import load_session

QUICK = ["train", "--preset", "addition", "--steps", "3", "--json"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, fragment):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rnnviz: error:") and "Traceback" not in err, err
    assert fragment in err, err


# ------------------------------------------------------------------ saves that must not destroy
def test_save_refuses_a_file_that_is_not_a_session(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"my notes\n")
    code, out, err = run(capsys, *QUICK, "--save", str(notes))
    one_line_error(code, err, "not an rnnviz session")
    assert notes.read_bytes() == b"my notes\n" and out == ""    # refused before any training
    code, _, err = run(capsys, *QUICK, "--save", str(notes), "--force")
    assert code == 0 and load_session(notes).step_count == 3


def test_save_never_replaces_the_corpus_even_with_force(capsys, tmp_path):
    book = tmp_path / "book.txt"
    text = "It was the best of times, it was the worst of times. " * 20
    book.write_text(text, encoding="utf-8")
    link = tmp_path / "alias.txt"
    link.symlink_to(book)
    for target in (book, link):
        code, _, err = run(capsys, "train", "--task", "charlm", "--corpus", str(book), "--hidden", "8",
                           "--steps", "2", "--save", str(target), "--force")
        one_line_error(code, err, "corpus")
    assert book.read_text(encoding="utf-8") == text


def test_save_refuses_special_files_and_empty_names(capsys, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = run(capsys, *QUICK, "--save", str(fifo), "--force")
    one_line_error(code, err, "not a regular file")
    code, _, err = run(capsys, *QUICK, "--save", "")
    one_line_error(code, err, "--save needs a file name")
    code, _, err = run(capsys, *QUICK, "--save", str(tmp_path))
    one_line_error(code, err, "folder")


def test_save_path_is_checked_before_training(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--preset", "addition", "--steps", "100000", "--json",
                         "--save", str(tmp_path / "missing" / "run.rnnviz"))
    one_line_error(code, err, "does not exist")
    assert out == ""      # not one step was trained


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_refuses_a_read_only_folder(capsys, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    code, out, err = run(capsys, *QUICK, "--save", str(folder / "run.rnnviz"))
    one_line_error(code, err, "cannot save")


def test_save_through_a_symlink_keeps_the_link_and_the_permissions(capsys, tmp_path):
    real = tmp_path / "real.rnnviz"
    assert run(capsys, *QUICK, "--save", str(real))[0] == 0
    real.chmod(0o600)
    link = tmp_path / "link.rnnviz"
    link.symlink_to(real)
    assert run(capsys, "train", "--resume", str(link), "--steps", "2", "--json")[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real.stat().st_mode & 0o777) == 0o600 and load_session(real).step_count == 5


# ------------------------------------------------------------------ output that goes away
def test_a_closed_stdout_does_not_cost_the_run(tmp_path):
    f = tmp_path / "run.rnnviz"
    cmd = (f"{sys.executable} -m rnnviz train --preset addition --steps 3000 --json "
           f"--save {f} | head -1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["started"] is True
    assert load_session(f).step_count == 3000       # trained to the end and saved


def test_presets_into_head_is_quiet():
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m rnnviz presets | head -1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "" and done.stdout.count("\n") == 1


# ------------------------------------------------------------------ refused up front
@pytest.mark.parametrize("argv, fragment", [
    (["train", "--preset", "addition", "--corpus", "book.txt"], "--corpus is not used by this run"),
    (["train", "--preset", "parity", "--n-symbols", "4"], "--n-symbols is not used"),
    (["train", "--preset", "copy-lstm", "--n-train", "50"], "--n-train is not used"),
    (["train", "--preset", "copy-lstm", "--momentum", "0.5"], "adam uses no momentum"),
    (["train", "--preset", "addition", "--clip", "3"], "clipping is off"),
    (["train", "--preset", "addition", "--prime", "hi"], "--prime is not used"),
    (["train", "--preset", "char-lstm", "--activation", "relu"], "--activation is not used"),
    (["train", "--preset", "char-rnn", "--prime", "\u20ac\u2206"], "--prime holds characters the model never saw"),
    (["train", "--preset", "parity", "--n-train", "100000000"], "--n-train 100,000,000"),
    (["train", "--preset", "copy-lstm", "--seq-length", "1000000"], "lower --seq-length"),
    (["train", "--preset", "char-rnn", "--sample-every", "0"], "--sample-every must be a positive"),
    (["train", "--preset", "char-rnn", "--sample-length", "2000000"], "--sample-length must be at most"),
    (["train", "--preset", "parity", "--batch-size", "20000"], "--batch-size 20000 is larger"),
    (["train", "--autosave-minutes", "-1"], "--autosave-minutes must be zero or more"),
])
def test_settings_are_refused_before_any_work(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    one_line_error(code, err, fragment)
    assert out == ""


def test_resume_refuses_what_a_session_cannot_change(capsys, tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("It was the best of times, it was the worst of times. " * 20, encoding="utf-8")
    other = tmp_path / "other.txt"
    other.write_text("Call me Ishmael. Some years ago, never mind how long precisely. " * 20, encoding="utf-8")
    f = tmp_path / "run.rnnviz"
    assert run(capsys, "train", "--task", "charlm", "--corpus", str(book), "--hidden", "8", "--steps", "2",
               "--json", "--save", str(f))[0] == 0
    before = f.read_bytes()
    for argv, fragment in [(["--hidden", "9"], "--hidden cannot change when resuming"),
                           (["--corpus", str(other)], "is a different text"),
                           (["--preset", "char-rnn"], "--preset cannot be combined with --resume"),
                           (["--prime", "\u20ac"], "never saw")]:
        code, _, err = run(capsys, "train", "--resume", str(f), "--steps", "1", *argv)
        one_line_error(code, err, fragment)
    assert f.read_bytes() == before
    # the same text is not a mistake, and live settings change
    code, out, _ = run(capsys, "train", "--resume", str(f), "--corpus", str(book), "--lr", "0.05",
                       "--steps", "1", "--json")
    assert code == 0 and load_session(f).config.lr == 0.05


def test_sample_length_is_capped_and_streams(capsys, tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("It was the best of times, it was the worst of times. " * 20, encoding="utf-8")
    f = tmp_path / "run.rnnviz"
    assert run(capsys, "train", "--task", "charlm", "--corpus", str(book), "--hidden", "8", "--steps", "2",
               "--json", "--save", str(f))[0] == 0
    code, _, err = run(capsys, "sample", str(f), "--length", "1000000000")
    one_line_error(code, err, "--length must be between 0 and 1,000,000")
    code, _, err = run(capsys, "sample", str(f), "--prime", "\u20ac")
    one_line_error(code, err, "never saw")
    # streamed in pieces, the text is the one drawn in one go
    code, out, _ = run(capsys, "sample", str(f), "--length", "10000", "--seed", "3", "--prime", "It")
    trainer = load_session(f)
    assert code == 0 and out == trainer.sample(prime="It", length=10000, seed=3) + "\n"


def test_sample_on_another_task_says_what_it_holds(capsys, tmp_path):
    f = tmp_path / "add.rnnviz"
    assert run(capsys, *QUICK, "--save", str(f))[0] == 0
    code, _, err = run(capsys, "sample", str(f))
    one_line_error(code, err, "holds a binary addition run; sampling text needs a character-model session")


# ------------------------------------------------------------------ exit codes
def test_exit_code_3_when_training_goes_non_finite(capsys):
    code, out, err = run(capsys, "train", "--preset", "char-rnn", "--hidden", "8", "--lr", "1e308",
                         "--steps", "5", "--json")
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 3 and summary["stopped"] == "non-finite" and summary["exit_code"] == 3
    assert "--lr" in err


def test_summary_has_the_same_fields_for_every_task(capsys):
    keys = set()
    for preset in ("addition", "char-rnn", "copy-rnn", "parity-short"):
        code, out, _ = run(capsys, "train", "--preset", preset, "--hidden", "6", "--steps", "2", "--json")
        summary = json.loads(out.strip().splitlines()[-1])
        assert code == 0 and summary["stopped"] == "finished" and summary["metrics_step"] == 2
        keys.add(frozenset(summary))
    assert len(keys) == 1


def test_eval_every_is_honoured(capsys):
    code, out, _ = run(capsys, "train", "--preset", "addition", "--steps", "50", "--eval-every", "10", "--json")
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert code == 0 and [ln["step"] for ln in lines if "metrics" in ln and "summary" not in ln] == [10, 20, 30, 40]
    assert json.loads(out.strip().splitlines()[-1])["metrics_step"] == 50
