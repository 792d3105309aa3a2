"""save_session / load_session / describe_session: corpus handling, summaries, errors, size, old files."""

import json
import math
import os

import numpy as np
import pytest

import rnnviz
import rnnviz.session.session as session_module
from rnnviz.session import (
    FORMAT_VERSION, MIGRATIONS, SessionError, describe_session, load_session, load_tree, read_header,
    save_session, save_tree,
)
from rnnviz.training import Config, Trainer
from session_testing import (
    SMALL, TASKS, assert_tree_equal, edit_session_json, first_part, make_trainer, second_part, small_text,
)


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus" / "story.txt"
    path.parent.mkdir()
    path.write_text(small_text(seed=3), encoding="utf-8")
    return path


def charlm_on_file(path) -> Trainer:
    return Trainer(Config(**SMALL, **TASKS["charlm"], corpus=str(path)))


def rewrite_tree(path, edit):
    tree = load_tree(path)
    edit(tree)
    save_tree(path, tree)


def saved_charlm(tmp_path) -> tuple[Trainer, str]:
    trainer = make_trainer(Config(**SMALL, **TASKS["charlm"], cell="lstm"))
    first_part(trainer)
    path = tmp_path / "run.rnnviz"
    save_session(trainer, path)
    return trainer, path


# --------------------------------------------------------------------------- describe_session

def test_describe_session_summarises_without_loading_weights(tmp_path):
    trainer, path = saved_charlm(tmp_path)
    info = describe_session(path)
    assert info == {
        "task": "charlm", "cell": "lstm", "hidden": 6, "layers": 1, "bidirectional": False, "optimizer": "adagrad",
        "steps": 5,
        "last_loss": float(trainer.history.loss[-1]), "format_version": FORMAT_VERSION,
        "rnnviz_version": rnnviz.__version__, "corpus": "<built-in>", "corpus_embedded": True,
        "file_size": os.path.getsize(path),
    }
    json.dumps(info)   # `rnnviz info --json` prints it


def test_describe_untrained_non_text_session(tmp_path):
    save_session(make_trainer(Config(**SMALL, **TASKS["parity"], cell="gru")), tmp_path / "p.rnnviz")
    info = describe_session(tmp_path / "p.rnnviz")
    assert (info["task"], info["cell"], info["steps"], info["last_loss"]) == ("parity", "gru", 0, None)
    assert info["corpus"] is None and info["corpus_embedded"] is False


def test_describe_session_reports_bad_files(tmp_path):
    (tmp_path / "x.rnnviz").write_bytes(b"hello")
    with pytest.raises(SessionError, match="not an rnnviz session file"):
        describe_session(tmp_path / "x.rnnviz")


# --------------------------------------------------------------------------- corpus

def test_small_corpus_is_embedded_so_the_file_is_not_needed(tmp_path, corpus_file):
    straight = charlm_on_file(corpus_file)
    expected = first_part(straight) + second_part(straight)
    trainer = charlm_on_file(corpus_file)
    losses = first_part(trainer)
    save_session(trainer, tmp_path / "run.rnnviz")
    corpus_file.unlink()

    resumed = load_session(tmp_path / "run.rnnviz")
    assert losses + second_part(resumed) == expected
    assert resumed.corpus_text == small_text(seed=3)
    record = read_header(tmp_path / "run.rnnviz")["tree"]["corpus"]
    assert record["name"] == "story.txt" and record["chars"] == len(small_text(seed=3))


@pytest.fixture
def large_corpus(monkeypatch):
    """Pretend the corpus is over the embedding limit."""
    monkeypatch.setattr(session_module, "EMBED_CORPUS_BYTES", 100)


def test_large_corpus_is_read_from_its_file_and_checked(tmp_path, corpus_file, large_corpus):
    trainer = charlm_on_file(corpus_file)
    first_part(trainer)
    save_session(trainer, tmp_path / "run.rnnviz")
    assert read_header(tmp_path / "run.rnnviz")["tree"]["corpus"]["text"] is None
    assert describe_session(tmp_path / "run.rnnviz")["corpus_embedded"] is False

    resumed = load_session(tmp_path / "run.rnnviz")
    assert second_part(resumed) == second_part(trainer)


def test_large_corpus_missing_says_what_to_do(tmp_path, corpus_file, large_corpus):
    save_session(charlm_on_file(corpus_file), tmp_path / "run.rnnviz")
    corpus_file.unlink()
    with pytest.raises(SessionError, match="story.txt.*too large to embed.*pass its current location"):
        load_session(tmp_path / "run.rnnviz")


def test_large_corpus_moved_is_found_through_corpus_path(tmp_path, corpus_file, large_corpus):
    trainer = charlm_on_file(corpus_file)
    first_part(trainer)
    save_session(trainer, tmp_path / "run.rnnviz")
    moved = tmp_path / "moved.txt"
    corpus_file.rename(moved)

    resumed = load_session(tmp_path / "run.rnnviz", corpus_path=moved)
    assert resumed.config.corpus == str(moved)
    assert second_part(resumed) == second_part(trainer)


def test_large_corpus_changed_is_refused(tmp_path, corpus_file, large_corpus):
    save_session(charlm_on_file(corpus_file), tmp_path / "run.rnnviz")
    corpus_file.write_text(small_text(seed=3).replace("cat", "cow"), encoding="utf-8")
    with pytest.raises(SessionError, match="has changed since the session was saved"):
        load_session(tmp_path / "run.rnnviz")


def test_tampered_embedded_corpus_is_refused(tmp_path):
    _, path = saved_charlm(tmp_path)

    def swap_two_characters(tree):
        text = tree["corpus"]["text"]
        text[[0, 1]] = text[[1, 0]] if text[0] != text[1] else (ord("x"), ord("y"))

    rewrite_tree(path, swap_two_characters)
    with pytest.raises(SessionError, match="embedded corpus does not match its recorded SHA-256"):
        load_session(path)


# --------------------------------------------------------------------------- errors

def test_a_file_that_is_not_a_session(tmp_path):
    save_tree(tmp_path / "x.rnnviz", {"a": 1})
    with pytest.raises(SessionError, match="is not an rnnviz session"):
        load_session(tmp_path / "x.rnnviz")


@pytest.mark.parametrize("edit, phrase", [
    (lambda t: t["trainer"]["params"].update(Wax=np.zeros((3, 3))), "cannot be resumed"),
    (lambda t: t["trainer"]["config"].update(hidden=-1), "cannot be resumed: hidden must be a positive"),
    (lambda t: t["trainer"]["config"].update(colour="red"), r"cannot be resumed: unknown setting\(s\): colour"),
    (lambda t: t["trainer"].pop("optimizer"), "cannot be resumed: trainer state is missing 'optimizer'"),
    (lambda t: t["trainer"]["params"]["Waa"].__setitem__((0, 0), np.nan), r"non-finite values .* trainer.params.Waa"),
    (lambda t: t["trainer"]["carried_state"]["a"].__setitem__((0, 0), np.inf), "non-finite values"),
    (lambda t: t["trainer"]["history"]["evals"].update(step=[1]), "history is malformed"),
    (lambda t: t["trainer"]["history"]["setting_changes"]["name"].pop(), "history is malformed"),
    (lambda t: t["trainer"].pop("history"), "no training history"),
    (lambda t: t.pop("corpus"), "expected layout"),
    (lambda t: t.update(kind="something-else"), "is not an rnnviz session"),
], ids=["param-shape", "bad-config", "unknown-setting", "no-optimizer", "nan-weights", "inf-state",
        "eval-steps-list", "changes-length", "no-history", "no-corpus", "other-kind"])
def test_session_that_does_not_fit_gives_session_error(tmp_path, edit, phrase):
    _, path = saved_charlm(tmp_path)
    rewrite_tree(path, edit)
    with pytest.raises(SessionError, match=phrase) as info:
        load_session(path)
    assert "\n" not in str(info.value)


def test_pytorch_gru_session_reopens_exactly_and_needs_its_baa(tmp_path):
    """gru_torch's extra parameter (and its optimizer slots) travel in the file; a file without
    it, or with it for another cell, cannot be resumed."""
    trainer = make_trainer(Config(**SMALL, **TASKS["charlm"], cell="gru_torch", optimizer="adam", lr=0.01))
    first_part(trainer)
    path = tmp_path / "run.rnnviz"
    save_session(trainer, path)
    resumed = load_session(path)
    assert resumed.config.cell == "gru_torch" and list(resumed.network.params) == list(trainer.network.params)
    assert np.any(trainer.network.params["baa"] != 0)                  # trained, so not the zero start
    assert_tree_equal(trainer.state_dict(), resumed.state_dict())
    rewrite_tree(path, lambda t: t["trainer"]["params"].pop("baa"))
    with pytest.raises(SessionError, match=r"cannot be resumed: params: missing \['baa'\]"):
        load_session(path)
    (tmp_path / "lstm").mkdir()
    _, lstm_path = saved_charlm(tmp_path / "lstm")
    rewrite_tree(lstm_path, lambda t: t["trainer"]["params"].update(baa=np.zeros(6)))
    with pytest.raises(SessionError, match=r"unexpected \['baa'\]"):
        load_session(lstm_path)


def test_stacked_session_needs_every_layers_weights_and_state(tmp_path):
    """A 2-layer run's file without layer 2's recurrent matrix, or without layer 2's carried state,
    or claiming one layer while holding two layers' weights, cannot be resumed."""
    trainer = make_trainer(Config(**SMALL, **TASKS["charlm"], cell="lstm", layers=2))
    first_part(trainer)
    path = tmp_path / "run.rnnviz"
    save_session(trainer, path)
    assert_tree_equal(trainer.state_dict(), load_session(path).state_dict())
    edits = [
        (lambda t: t["trainer"]["params"].pop("Waa[2]"), r"cannot be resumed: params: missing \['Waa\[2\]'\]"),
        (lambda t: t["trainer"]["carried_state"].pop("c[2]"), r"state0 must be a dict with keys \['a', 'c', 'a\[2\]', 'c\[2\]'\]"),
        (lambda t: t["trainer"]["config"].update(layers=1), r"unexpected \['Waa\[2\]', 'Wax\[2\]', 'ba\[2\]'\]"),
        (lambda t: t["trainer"]["config"].update(layers=9), r"layers must be a whole number from 1 to 4"),
    ]
    for edit, phrase in edits:
        save_session(trainer, path)
        rewrite_tree(path, edit)
        with pytest.raises(SessionError, match=phrase):
            load_session(path)


def test_failed_save_keeps_the_previous_session(tmp_path):
    trainer, path = saved_charlm(tmp_path)
    before = path.read_bytes()
    with pytest.raises(SessionError, match="does not exist"):
        save_session(trainer, tmp_path / "missing" / "run.rnnviz")
    (tmp_path / "folder.rnnviz").mkdir()
    with pytest.raises(SessionError, match="is a folder"):
        save_session(trainer, tmp_path / "folder.rnnviz")
    assert path.read_bytes() == before


def test_flipped_bytes_in_a_session_resume_or_raise_session_error(tmp_path):
    _, path = saved_charlm(tmp_path)
    good = path.read_bytes()
    rng = np.random.default_rng(5)
    for _ in range(60):
        data = bytearray(good)
        for _ in range(rng.integers(1, 3)):
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        if rng.random() < 0.2:
            data = data[: rng.integers(len(data))]
        path.write_bytes(bytes(data))
        try:
            resumed = load_session(path)
        except SessionError:
            continue
        assert isinstance(resumed, Trainer)


# --------------------------------------------------------------------------- old files

def test_session_in_old_format_without_setting_changes_opens(tmp_path, monkeypatch):
    trainer, path = saved_charlm(tmp_path)

    def drop_setting_changes(tree):   # what a synthetic format 0 looked like
        del tree["trainer"]["history"]["setting_changes"]

    def add_setting_changes(tree):    # the migration 0 -> 1
        tree["trainer"]["history"]["setting_changes"] = {
            "step": np.zeros(0, dtype=np.int64), "name": [], "old": [], "new": []}
        return tree

    rewrite_tree(path, drop_setting_changes)
    edit_session_json(path, lambda env: env.update(format_version=0))
    monkeypatch.setitem(MIGRATIONS, 0, add_setting_changes)

    assert describe_session(path)["format_version"] == 0
    resumed = load_session(path)
    assert resumed.history.setting_changes == []
    assert second_part(resumed) == second_part(trainer)


# --------------------------------------------------------------------------- size

def test_char_rnn_session_with_20000_steps_of_history_is_well_under_10_mb(tmp_path):
    """Hidden 100, the built-in corpus (vocabulary ~95, embedded), and every gradient row kept."""
    trainer = Trainer(Config(task="charlm", hidden=100))
    assert 80 <= trainer.task.output_size <= 100
    S, rng = 20_000, np.random.default_rng(0)
    steps = np.arange(1, S + 1)
    loss = 100 * np.exp(-steps / 5000) + 40 + rng.standard_normal(S)
    names = list(trainer.network.params)
    trainer.history.load_state_dict({
        "steps": steps, "loss": loss, "smooth_loss": loss + 1.0, "grad_steps": steps,
        "grad_a_norms": rng.lognormal(-3, 1, size=(S, 25)).astype(np.float32),
        "param_grad_norms": rng.lognormal(0, 1, size=(S, len(names))).astype(np.float32),
        "param_names": names, "stride": 1,
        "evals": [[int(s), {"loss": 1.5 + math.sin(s), "bits_per_char": 2.0}] for s in range(100, S + 1, 100)],
        "setting_changes": [[5000, "lr", 0.1, 0.05], [9000, "optimizer", "adagrad", "adam"]],
        "samples": [[int(s), "x" * 200] for s in range(1000, S + 1, 1000)],
    })
    trainer.step_count = S
    save_session(trainer, tmp_path / "big.rnnviz")

    assert os.path.getsize(tmp_path / "big.rnnviz") < 10 * 2**20
    resumed = load_session(tmp_path / "big.rnnviz")
    assert_tree_equal(trainer.history.state_dict(), resumed.history.state_dict())


# --------------------------------------------------------------------------- bugs are not bad files

@pytest.mark.parametrize("bug", [TypeError, AttributeError, RuntimeError])
def test_a_bug_while_resuming_is_not_reported_as_a_bad_file(tmp_path, monkeypatch, bug):
    """A damaged file is the user's problem (SessionError, one line); an exception from rnnviz's
    own code while resuming a sound file is a bug, and must reach the bug report unchanged."""
    _, path = saved_charlm(tmp_path)

    def broken(self, state):
        raise bug("a bug in the task's code")

    from rnnviz.tasks.charlm import CharLMTask
    monkeypatch.setattr(CharLMTask, "load_state_dict", broken)
    with pytest.raises(bug, match="a bug in the task's code"):
        load_session(path)


@pytest.mark.parametrize("where, value", [("rng_sample", [1, 2]), ("rng_sample", {"bit_generator": "X"}),
                                          ("optimizer", "adagrad"), ("smooth_loss", "high"),
                                          ("carried_state", [0.0])])
def test_mis_typed_trainer_entries_are_a_session_error(tmp_path, where, value):
    _, path = saved_charlm(tmp_path)
    rewrite_tree(path, lambda tree: tree["trainer"].__setitem__(where, value))
    with pytest.raises(SessionError, match="cannot be resumed"):
        load_session(path)
