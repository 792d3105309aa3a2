"""The command line as a user meets it: output, JSON lines, and one-line errors with exit code 2."""

import json

import pytest

from rnnviz.cli import main

SMALL_PARITY = ["train", "--task", "parity", "--seq-length", "4", "--hidden", "6", "--n-train", "32",
                "--n-test", "16", "--batch-size", "0", "--optimizer", "sgd", "--lr", "0.5",
                "--clip-mode", "none"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_json_lines_end_with_a_summary(capsys):
    code, out, err = run(capsys, *SMALL_PARITY, "--steps", "30", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.strip().splitlines()]
    summary = lines[-1]
    assert summary["summary"] is True and summary["step"] == 30
    assert summary["steps_per_second"] > 0 and 0 <= summary["metrics"]["accuracy"] <= 1
    assert all(line["step"] <= 30 for line in lines)


def test_train_plain_output_has_summary(capsys):
    code, out, _ = run(capsys, *SMALL_PARITY, "--steps", "5")
    assert code == 0 and "done: step 5" in out and "held-out: accuracy" in out


def test_preset_values_can_be_overridden(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--preset", "addition", "--steps", "3", "--hidden", "5",
                       "--json", "--save", str(tmp_path / "a.rnnviz"))
    assert code == 0
    code, out, _ = run(capsys, "info", str(tmp_path / "a.rnnviz"), "--json")
    info = json.loads(out)
    assert code == 0 and info["hidden"] == 5 and info["task"] == "addition"


def test_charlm_train_save_resume_and_sample(capsys, tmp_path):
    corpus = tmp_path / "book.txt"
    corpus.write_text("It was the best of times, it was the worst of times. " * 30, encoding="utf-8")
    f = tmp_path / "run.rnnviz"
    code, out, _ = run(capsys, "train", "--preset", "char-rnn", "--corpus", str(corpus), "--steps", "20",
                       "--json", "--save", str(f))
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and "smooth_loss" in summary and summary["metrics"]["bits_per_char"] > 0
    code, out, _ = run(capsys, "train", "--resume", str(f), "--steps", "10", "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["step"] == 30
    code, out, _ = run(capsys, "sample", str(f), "--prime", "It was", "--length", "40", "--seed", "1")
    assert code == 0 and out.startswith("It was") and len(out.rstrip("\n")) >= 40
    code2, out2, _ = run(capsys, "sample", str(f), "--prime", "It was", "--length", "40", "--seed", "1")
    assert out2 == out


def test_stacked_character_lstm_trains_saves_and_resumes(capsys, tmp_path):
    """``--layers 2`` on the char-lstm preset: 50 steps, saved as a 2-layer session whose weights
    carry layer 2's names, resumed for 10 more, and sampled."""
    f = tmp_path / "deep.rnnviz"
    code, out, _ = run(capsys, "train", "--preset", "char-lstm", "--layers", "2", "--steps", "50", "--json",
                       "--save", str(f))
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and summary["step"] == 50 and summary["metrics"]["bits_per_char"] > 0
    code, out, _ = run(capsys, "info", str(f), "--json")
    assert code == 0 and json.loads(out)["layers"] == 2
    code, out, _ = run(capsys, "train", "--resume", str(f), "--steps", "10", "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["step"] == 60
    code, out, _ = run(capsys, "sample", str(f), "--length", "30", "--seed", "1")
    assert code == 0 and len(out.rstrip("\n")) >= 30


def test_presets_and_gradcheck(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0 and "char-rnn" in out and "parity" in out and "source:" in out
    code, out, _ = run(capsys, "gradcheck", "--cell", "gru")
    assert code == 0 and "PASS" in out and "Waa" in out
    code, out, _ = run(capsys, "gradcheck", "--cell", "lstm", "--layers", "2")
    assert code == 0 and "PASS" in out and "Waa[2]" in out and "state0.c[2]" in out


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--preset", "nope"], "unknown preset"),
    (["train", "--task", "nope"], "task must be one of"),
    (["train", "--lr", "0"], "lr must be a positive number"),
    (["train", "--hidden", "-3"], "hidden must be a positive"),
    (["train", "--layers", "0"], "--layers must be a whole number from 1 to 4 (got 0)"),
    (["train", "--layers", "5"], "--layers must be a whole number from 1 to 4 (got 5)"),
    (["train", "--bogus", "1"], "unrecognized arguments"),
    (["train", "--steps", "-1"], "--steps"),
    (["train", "--task", "charlm", "--corpus", "/does/not/exist.txt"], "not found"),
    (["sample", "/does/not/exist.rnnviz"], "no such file: '/does/not/exist.rnnviz'"),
    (["info", "/does/not/exist.rnnviz"], "no such file: '/does/not/exist.rnnviz'"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("rnnviz: error:") and "Traceback" not in err
    assert fragment in err


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02binary\x00", "caf\u00e9".encode("latin-1"), b"tiny"])
def test_bad_corpus_is_explained(capsys, tmp_path, content):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(content)
    code, _, err = run(capsys, "train", "--task", "charlm", "--corpus", str(corpus), "--steps", "1")
    assert code == 2 and err.count("\n") == 1 and "corpus" in err.lower()


def test_corpus_that_is_a_directory(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--task", "charlm", "--corpus", str(tmp_path), "--steps", "1")
    assert code == 2 and err.count("\n") == 1


def test_ctrl_c_stops_cleanly_with_summary_and_saves(capsys, tmp_path, monkeypatch):
    import os
    import signal

    from rnnviz.training import Trainer
    real_step = Trainer.step
    calls = {"n": 0}

    def step(self):
        calls["n"] += 1
        if calls["n"] == 8:
            os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C in the middle of step 8
        return real_step(self)

    monkeypatch.setattr(Trainer, "step", step)
    f = tmp_path / "stopped.rnnviz"
    before = signal.getsignal(signal.SIGINT)
    code, out, err = run(capsys, *SMALL_PARITY, "--steps", "100", "--json", "--save", str(f))
    summary = json.loads(out.strip().splitlines()[-1])
    # step 8, a full-batch pass, is abandoned whole (a minibatch step would be finished): 7 steps
    assert code == 130 and summary["interrupted"] is True and summary["signal"] == "SIGINT"
    assert summary["step"] == 7 and "Traceback" not in err and f.exists()
    assert signal.getsignal(signal.SIGINT) is before   # the handlers are given back
    monkeypatch.setattr(Trainer, "step", real_step)
    code, out, _ = run(capsys, "info", str(f), "--json")
    assert json.loads(out)["steps"] == 7
