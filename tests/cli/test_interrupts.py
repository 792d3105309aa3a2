"""Interrupting `rnnviz train --save` at any moment, then resuming, gives exactly the run that was
never interrupted: Ctrl-C, SIGTERM and SIGHUP are taken between steps, the session is saved
(atomically, so a signal during a save never damages the file), and the exit code names the signal."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnviz.session import load_session

pytestmark = pytest.mark.slow

CORPUS = "It was the best of times, it was the worst of times, it was the age of wisdom. " * 40

# three kinds of run: state carried between chunks (charlm), full-batch passes that a signal
# abandons (parity), minibatches drawn from a random stream (copy)
RUNS = {
    "charlm": ["--task", "charlm", "--hidden", "24", "--steps", "1200"],
    "parity": ["--task", "parity", "--seq-length", "12", "--n-train", "3000", "--n-test", "100",
               "--hidden", "16", "--batch-size", "0", "--optimizer", "adam", "--lr", "0.01",
               "--clip-mode", "none", "--steps", "150"],
    "copy": ["--preset", "copy-gru", "--seq-length", "5", "--hidden", "16", "--n-test", "50", "--steps", "400"],
}
SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


def train_argv(kind, corpus):
    argv = ["train", *RUNS[kind], "--json"]
    return argv + (["--corpus", str(corpus)] if kind == "charlm" else [])


def comparable(path):
    """Everything a run continues from: weights, optimizer, random streams, data position, carry."""
    state = load_session(path).state_dict()
    state.pop("history")
    return state


def assert_same(a, b, where=""):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Each kind of run, never interrupted."""
    folder = tmp_path_factory.mktemp("reference")
    corpus = folder / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    out = {}
    for kind in RUNS:
        path = folder / f"{kind}.rnnviz"
        done = subprocess.run([sys.executable, "-m", "rnnviz", *train_argv(kind, corpus), "--save", str(path)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        out[kind] = (comparable(path), corpus)
    return out


TRIALS = [(kind, sig, seed) for seed, (kind, sig) in enumerate(
    ([(k, s) for k in RUNS for s in SIGNALS] * 3)[:21])]     # 21 trials, every kind and signal twice


@pytest.mark.parametrize("kind, sig, seed", TRIALS, ids=[f"{k}-{signal.Signals(s).name}-{i}" for k, s, i in TRIALS])
def test_interrupt_then_resume_is_bit_identical(references, tmp_path, kind, sig, seed):
    rng = np.random.default_rng(seed)
    expected, corpus = references[kind]
    total = int(RUNS[kind][RUNS[kind].index("--steps") + 1])
    path = tmp_path / "run.rnnviz"
    # saves every ~0.1 s, so that many signals land while a save is being written
    argv = [sys.executable, "-m", "rnnviz", *train_argv(kind, corpus), "--save", str(path),
            "--autosave-minutes", "0.0015"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    first = proc.stdout.readline()          # the "started" line: the handlers are in place
    assert json.loads(first)["started"] is True
    time.sleep(rng.uniform(0.0, 1.2))
    proc.send_signal(sig)
    if rng.random() < 0.3:                  # an impatient second signal changes nothing
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is None:
            proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    summary = json.loads(out.strip().splitlines()[-1])
    if summary["stopped"] == "finished":    # the run ended before the signal came
        assert proc.returncode == 0
    else:
        assert proc.returncode == SIGNALS[sig], err
        assert summary["signal"] == signal.Signals(sig).name and summary["saved"] == str(path)
    assert "Traceback" not in err
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]   # no temporary file left
    done = load_session(path).step_count
    assert done == summary["step"] <= total
    resumed = subprocess.run([sys.executable, "-m", "rnnviz", "train", "--resume", str(path),
                              "--steps", str(total - done), "--json"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert_same(comparable(path), expected)
