"""``rnnviz explain`` (rnnviz/insight/explain.py): the JSON fields and their shapes on small saved
sessions of every kind of task, the readable summary, and one-line refusals with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rnnviz.insight.explain import main
from rnnviz.session import save_session
from rnnviz.training import Config, Trainer

FIELDS = {"tokens", "layer", "hidden", "log_prob", "top", "saliency", "jacobian_norm", "memory_horizon",
          "saturation", "diagnosis"}
TEXT = " ".join(np.random.default_rng(0).choice(["the", "cat", "sat", "on", "a", "mat", "(x)", "\n"], 600))
SETTINGS = {
    "charlm-rnn": dict(task="charlm", cell="rnn", seq_length=8),
    "charlm-lstm": dict(task="charlm", cell="lstm", seq_length=8, dtype="float32"),
    "parity": dict(task="parity", cell="rnn", n_train=32, seq_length=5, batch_size=4),
    "copy": dict(task="copy", cell="gru", seq_length=3, copy_length=2, n_symbols=4, batch_size=4),
    "copy-gru-torch": dict(task="copy", cell="gru_torch", seq_length=3, copy_length=2, n_symbols=4, batch_size=4),
    "adding": dict(task="adding", cell="rnn", seq_length=6, batch_size=4),
    "addition": dict(task="addition", cell="lstm", n_bits=4, batch_size=4),
}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain")
    paths = {}
    for name, settings in SETTINGS.items():
        cfg = Config(hidden=6, n_test=16, eval_every=1000, sample_every=1000, **settings)
        trainer = Trainer(cfg, corpus_text=TEXT if cfg.task == "charlm" else None)
        for _ in range(5):
            trainer.step()
        paths[name] = folder / f"{name}.rnnviz"
        save_session(trainer, paths[name])
        paths[name + ":trainer"] = trainer
    return paths


def _explain(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys, *argv):
    code, out, err = _explain(capsys, *argv, "--json")
    assert code == 0 and err == ""
    return json.loads(out)


def _check_square(m, T, rows_with_output):
    m = np.array(m, dtype=float)
    assert m.shape == (T, T) and np.all(np.triu(m, 1) == 0)
    assert set(np.flatnonzero(m.any(axis=1))) <= set(rows_with_output)
    return m


@pytest.mark.parametrize("name", ["charlm-rnn", "charlm-lstm"])
def test_character_model_fields_and_shapes(sessions, capsys, name):
    text = "the cat (x)"
    report = _json(capsys, sessions[name], "--text", text)
    lstm = name.endswith("lstm")
    assert set(report) == FIELDS | ({"cell"} if lstm else set())
    T = len(text)
    assert report["tokens"] == list(text)
    assert np.shape(report["hidden"]) == (T, 6) and (not lstm or np.shape(report["cell"]) == (T, 6))
    trainer = sessions[name + ":trainer"]
    ids = trainer.task.encode(text)
    probs = np.asarray(trainer.network.forward(ids[:-1, None]).outputs, dtype=np.float64)[:, 0]
    want = np.log(probs[np.arange(T - 1), ids[1:]])
    assert np.allclose(report["log_prob"], want, rtol=1e-5 if lstm else 1e-10)     # float32 session
    assert len(report["top"]) == T and all(len(step) == 5 for step in report["top"])
    assert all(step[0][1] >= step[1][1] and isinstance(step[0][0], str) for step in report["top"])
    _check_square(report["saliency"], T, range(T - 1))     # the last character has no target
    norms = _check_square(report["jacobian_norm"], T, range(T))
    assert np.allclose(np.diag(norms), 1.0)
    assert report["memory_horizon"] is None or 1 <= report["memory_horizon"] < T
    assert set(report["saturation"]["gates"]) == ({"f", "i", "o"} if lstm else set())
    assert isinstance(report["diagnosis"], list)


def test_parity_example(sessions, capsys):
    report = _json(capsys, sessions["parity"], "--example", 3)
    trainer = sessions["parity:trainer"]
    bits = trainer.task.test_bits[3]
    assert report["tokens"] == [str(int(b)) for b in bits]
    assert len(report["log_prob"]) == 1                       # many-to-one: the answer only
    _check_square(report["saliency"], 5, [4])
    assert {s for step in report["top"] for s, _ in step} == {"0", "1"}
    p = float(np.asarray(trainer.network.forward(bits[:, None, None].astype(float)).outputs)[0, 0])
    assert np.isclose(report["log_prob"][0], np.log(p if bits.sum() % 2 else 1 - p))


def test_linear_readout_has_no_log_prob(sessions, capsys):
    report = _json(capsys, sessions["adding"], "--example", 0)
    assert report["log_prob"] is None and all(step == [] for step in report["top"])
    _check_square(report["saliency"], 6, [5])
    code, out, _ = _explain(capsys, sessions["adding"])
    assert code == 0 and "linear readout" in out


def test_copy_and_addition_examples(sessions, capsys):
    copy = _json(capsys, sessions["copy"], "--example", 15)
    assert len(copy["tokens"]) == 7 and copy["tokens"][4] == "▸" and len(copy["log_prob"]) == 7
    addition = _json(capsys, sessions["addition"])              # example 0 by default
    assert np.shape(addition["cell"]) == (4, 6) and len(addition["log_prob"]) == 4


def test_pytorch_gru_session_is_explained(sessions, capsys):
    report = _json(capsys, sessions["copy-gru-torch"], "--example", 15)
    assert len(report["tokens"]) == 7 and len(report["log_prob"]) == 7
    assert set(report["saturation"]["gates"]) == {"r", "z"}
    norms = _check_square(report["jacobian_norm"], 7, range(7))
    assert np.allclose(np.diag(norms), 1.0)
    code, out, err = _explain(capsys, sessions["copy-gru-torch"])
    assert code == 0 and err == "" and "copy, gru_torch" in out


def test_readable_summary(sessions, capsys):
    code, out, err = _explain(capsys, sessions["charlm-lstm"], "--text", "the mat")
    assert code == 0 and err == ""
    for part in ("charlm, lstm", "input (7 steps): the␣mat", "memory horizon", "gate f", "diagnosis"):
        assert part in out
    # steps numbered from 1 as in the window; the JSON's are array indices from 0
    sal = np.array(_json(capsys, sessions["charlm-lstm"], "--text", "the mat")["saliency"])
    tau = 5                                                    # the last output: after "the ma", predicting "t"
    best = np.argsort(-sal[tau, :tau + 1], kind="stable")[:3]
    text = "the mat"
    line = f"saliency of the output at step {tau + 1}: most from steps " + ", ".join(
        f"{s + 1} ({text[s].replace(' ', '␣')})" for s in best)
    assert line in out.splitlines()


@pytest.mark.parametrize("name,argv,message", [
    ("charlm-rnn", ["--text", "the dog€"], "never saw: 'd' 'g' '€'"),
    ("charlm-rnn", ["--text", ""], "--text is empty"),
    ("charlm-rnn", ["--text", "a" * 201], "at most 200"),
    ("charlm-rnn", ["--example", "2"], "give --text"),
    ("parity", ["--example", "16"], "--example 16 is out of range: this session has 16 held-out examples, 0 to 15"),
    ("parity", ["--example", "-1"], "0 to 15"),
    ("copy", ["--text", "0 1"], "--text is for character models; this session is a copy model"),
])
def test_bad_input_is_one_line_and_exit_2(sessions, capsys, name, argv, message):
    code, out, err = _explain(capsys, sessions[name], *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("rnnviz: error: ") and message in err


def test_bad_session_file(tmp_path, capsys):
    code, _, err = _explain(capsys, tmp_path / "missing.rnnviz")
    assert code == 2 and "no such file" in err and err.count("\n") == 1
    (tmp_path / "not.rnnviz").write_text("hello")
    code, _, err = _explain(capsys, tmp_path / "not.rnnviz")
    assert code == 2 and err.count("\n") == 1


def test_runs_as_a_module(sessions):
    out = subprocess.run([sys.executable, "-m", "rnnviz.insight.explain", str(sessions["charlm-rnn"]),
                          "--text", "a cat", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tokens"] == list("a cat")


@pytest.mark.parametrize("layers", [2, 3])
def test_a_stacked_session_is_explained_layer_by_layer(tmp_path, capsys, layers):
    """``--layer K`` explains layer K of a stacked session (default the top one): ``hidden`` is
    that layer's a[K]<t>, as the engine computes it; the saliency, over the same inputs through
    every layer, is the same whichever layer is explained. A layer the network lacks: one line, exit 2."""
    cfg = Config(task="charlm", cell="lstm", layers=layers, seq_length=8, hidden=6, n_test=16,
                 eval_every=1000, sample_every=1000)
    trainer = Trainer(cfg, corpus_text=TEXT)
    trainer.step()
    path = tmp_path / "deep.rnnviz"
    save_session(trainer, path)
    text = "a cat sat"
    states = trainer.network.forward(trainer.task.encode(text)[:, None]).states
    reports = {}
    for k in range(1, layers + 1):
        reports[k] = report = _json(capsys, path, "--text", text, "--layer", k)
        assert set(report) == FIELDS | {"cell"} and report["layer"] == k
        key = "a" if k == 1 else f"a[{k}]"
        np.testing.assert_allclose(report["hidden"], states[key][:, 0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(report["saliency"], reports[1]["saliency"], rtol=1e-9, atol=1e-15)
    default = _json(capsys, path, "--text", text)
    assert default["layer"] == layers and default["hidden"] == reports[layers]["hidden"]
    assert default["log_prob"] == reports[1]["log_prob"]
    code, out, _ = _explain(capsys, path, "--text", text)
    assert code == 0 and f"{layers} layers (explaining layer {layers})" in out
    for bad in (0, layers + 1):
        code, out, err = _explain(capsys, path, "--text", text, "--layer", bad, "--json")
        assert code == 2 and out == ""
        assert err == f"rnnviz: error: layer {bad} does not exist: this network has layers 1 to {layers}\n"


def test_a_one_layer_session_has_layer_1_only(sessions, capsys):
    assert _json(capsys, sessions["charlm-rnn"], "--text", "a cat", "--layer", 1)["layer"] == 1
    code, _, err = _explain(capsys, sessions["charlm-rnn"], "--text", "a cat", "--layer", 2)
    assert code == 2 and err == "rnnviz: error: layer 2 does not exist: this network has layer 1 only\n"


