"""rnnviz export / import: weights in PyTorch's names through safetensors (issue 18's bridge).

Without torch: the name and gate-order mapping round-trips, and every bad file or session is
refused with a message naming the problem. With torch: the exported file loaded into nn.RNN /
nn.LSTM / nn.GRU (rnnviz's gru_torch) + nn.Linear gives rnnviz's per-step log-probabilities, and
weights made in torch give the same in rnnviz after import."""

import json

import numpy as np
import pytest

pytest.importorskip("safetensors")
from safetensors.numpy import load_file, save_file  # noqa: E402

from rnnviz.bridge import export_session, from_torch, import_weights, to_torch  # noqa: E402
from rnnviz.errors import FileError, InputError  # noqa: E402
from rnnviz.session import load_session, save_session  # noqa: E402
from rnnviz.training.config import Config  # noqa: E402
from rnnviz.training.trainer import Trainer  # noqa: E402

TEXT = "the quick brown fox jumps over the lazy dog; THE QUICK BROWN FOX!\n" * 12
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru_torch", "tanh")]


def session(tmp_path, cell, activation="tanh", steps=20, name="s.rnnviz", layers=1):
    trainer = Trainer(Config(task="charlm", cell=cell, activation=activation, hidden=7, seq_length=10,
                             lr=0.05, seed=3, layers=layers), corpus_text=TEXT)
    for _ in range(steps):
        trainer.step()
    path = tmp_path / name
    save_session(trainer, path)
    return trainer, path


def rnnviz_log_probs(trainer, text):
    ids = trainer.task.encode(text)
    out = trainer.network.forward(ids[:, None]).outputs[:, 0]         # (T, V) probabilities
    return np.log(out)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_the_mapping_round_trips_and_reorders_the_lstm_gates(cell):
    rng = np.random.default_rng(0)
    G, H, V = (4 if cell == "lstm" else 1), 5, 6
    params = {"Wax": rng.normal(size=(G * H, V)), "Waa": rng.normal(size=(G * H, H)),
              "ba": rng.normal(size=G * H), "Wya": rng.normal(size=(V, H)), "by": rng.normal(size=V)}
    tensors, metadata = to_torch(params, cell, "tanh", list("abcdef"), "charlm")
    assert metadata["cell"] == cell and json.loads(metadata["vocabulary"]) == list("abcdef")
    back = from_torch(tensors, cell)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])
    if cell == "lstm":     # rnnviz f, i, o, c~  ->  torch i, f, g, o
        f, i, o, g = np.split(params["Wax"], 4)
        np.testing.assert_array_equal(tensors["weight_ih_l0"], np.concatenate([i, f, g, o]))
    np.testing.assert_array_equal(tensors["bias_hh_l0"], 0)


def test_the_pytorch_gru_keeps_b_hn_apart_and_fuses_the_other_biases():
    """rnnviz's gru_torch has torch's block order r, z, n: the weights copy as they are; b_hn is baa
    (the reset gate multiplies it), b_hr and b_hz are added into ba on import and written as 0."""
    rng = np.random.default_rng(1)
    H, V = 4, 6
    params = {"Wax": rng.normal(size=(3 * H, V)), "Waa": rng.normal(size=(3 * H, H)), "ba": rng.normal(size=3 * H),
              "baa": rng.normal(size=H), "Wya": rng.normal(size=(V, H)), "by": rng.normal(size=V)}
    tensors, metadata = to_torch(params, "gru_torch", "tanh", list("abcdef"), "charlm")
    assert metadata["cell"] == "gru_torch" and metadata["nonlinearity"] == ""
    np.testing.assert_array_equal(tensors["weight_ih_l0"], params["Wax"])
    np.testing.assert_array_equal(tensors["weight_hh_l0"], params["Waa"])
    np.testing.assert_array_equal(tensors["bias_ih_l0"], params["ba"])
    np.testing.assert_array_equal(tensors["bias_hh_l0"], np.concatenate([np.zeros(2 * H), params["baa"]]))
    back = from_torch(tensors, "gru_torch")
    assert list(back) == list(params)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])
    b_hh = rng.normal(size=3 * H)                      # a file from torch: every bias non-zero
    back = from_torch({**tensors, "bias_hh_l0": b_hh}, "gru_torch")
    np.testing.assert_array_equal(back["ba"][:2 * H], params["ba"][:2 * H] + b_hh[:2 * H])
    np.testing.assert_array_equal(back["ba"][2 * H:], params["ba"][2 * H:])
    np.testing.assert_array_equal(back["baa"], b_hh[2 * H:])
    with pytest.raises(InputError, match=r"nn.GRU of hidden size H has \(3\*H, H\)"):
        from_torch({**tensors, "weight_hh_l0": np.ones((4 * H, H))}, "gru_torch")
    with pytest.raises(InputError, match="gru_torch"):                # the course's GRU is not nn.GRU
        from_torch(tensors, "gru")


@pytest.mark.parametrize("cell, activation", [("gru", "tanh"), ("rnn", "sigmoid")])
def test_cells_pytorch_cannot_compute_are_refused_by_name(tmp_path, cell, activation):
    _, path = session(tmp_path, cell, activation, steps=2)
    with pytest.raises(InputError, match="GRU.*gru_torch" if cell == "gru" else "sigmoid"):
        export_session(str(path), str(tmp_path / "m.safetensors"))
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell, activation", CASES)
def test_export_then_import_gives_the_same_model(tmp_path, cell, activation, layers):
    trainer, path = session(tmp_path, cell, activation, layers=layers)
    out = tmp_path / "m.safetensors"
    export_session(str(path), str(out))
    with pytest.raises(FileError, match="--force"):
        export_session(str(path), str(out))
    back = import_weights(str(out), str(tmp_path / "back.rnnviz"))       # vocabulary from the metadata
    probe = "the lazy fox"
    np.testing.assert_allclose(rnnviz_log_probs(back, probe), rnnviz_log_probs(trainer, probe), rtol=0, atol=1e-12)
    reopened = load_session(tmp_path / "back.rnnviz")
    assert reopened.spec.cell == cell and reopened.config.activation == activation
    assert reopened.config.layers == layers and list(reopened.network.params) == list(trainer.network.params)


def test_the_mapping_of_a_stacked_network_names_every_layer():
    """rnnviz's layer l is torch's *_l{l-1}; layer 2 reads H inputs; the round trip is exact."""
    rng = np.random.default_rng(1)
    G, H, V = 4, 3, 5
    params = {}
    for suffix, D in (("", V), ("[2]", H), ("[3]", H)):
        params.update({"Wax" + suffix: rng.normal(size=(G * H, D)), "Waa" + suffix: rng.normal(size=(G * H, H)),
                       "ba" + suffix: rng.normal(size=G * H)})
    params.update(Wya=rng.normal(size=(V, H)), by=rng.normal(size=V))
    tensors, metadata = to_torch(params, "lstm", "tanh", None, "charlm")
    assert metadata["num_layers"] == "3"
    assert sorted(tensors) == sorted([f"{kind}_l{k}" for k in range(3) for kind in
                                      ("weight_ih", "weight_hh", "bias_ih", "bias_hh")] + ["fc.weight", "fc.bias"])
    assert tensors["weight_ih_l1"].shape == (G * H, H) and tensors["weight_ih_l0"].shape == (G * H, V)
    f, i, o, g = np.split(params["Waa[3]"], 4)
    np.testing.assert_array_equal(tensors["weight_hh_l2"], np.concatenate([i, f, g, o]))
    back = from_torch(tensors, "lstm")
    assert list(back) == list(params)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])


def test_a_file_that_does_not_name_its_cell_is_read_by_its_shapes(tmp_path):
    """weight_hh_l0 of (3H, H) is an nn.GRU: rnnviz's gru_torch."""
    trainer, path = session(tmp_path, "gru_torch", steps=5)
    out = tmp_path / "m.safetensors"
    metadata = export_session(str(path), str(out))
    save_file(load_file(str(out)), str(out), metadata={k: v for k, v in metadata.items() if k != "cell"})
    back = import_weights(str(out), str(tmp_path / "back.rnnviz"))
    assert back.spec.cell == "gru_torch"
    np.testing.assert_allclose(rnnviz_log_probs(back, "the dog"), rnnviz_log_probs(trainer, "the dog"),
                               rtol=0, atol=1e-12)


def test_import_refuses_bad_files_naming_the_tensor(tmp_path):
    _, path = session(tmp_path, "lstm", steps=2)
    good = tmp_path / "m.safetensors"
    export_session(str(path), str(good))
    tensors = load_file(str(good))
    from safetensors.numpy import safe_open
    with safe_open(str(good), framework="np") as handle:
        metadata = handle.metadata()

    def refused(changed, match, meta=None):
        bad = tmp_path / "bad.safetensors"
        save_file(changed, str(bad), metadata=meta or metadata)
        with pytest.raises((InputError, FileError), match=match):
            import_weights(str(bad), str(tmp_path / "x.rnnviz"), force=True)
        assert not (tmp_path / "x.rnnviz").exists()

    refused({k: v for k, v in tensors.items() if k != "fc.bias"}, "no tensor fc.bias")
    refused({**tensors, "weight_ih_l1": tensors["weight_ih_l0"]}, r"no tensor weight_hh_l1 \(a 2-layer nn.LSTM")
    second = {f"{kind}_l1": tensors[f"{kind}_l0"] for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    refused({**tensors, **second}, r"weight_ih_l1 has shape \(28, \d+\); with hidden size 7 it must be \(28, 7\)")
    refused({**tensors, "weight_hh_l0_reverse": tensors["weight_hh_l0"]}, r"no tensor weight_ih_l0_reverse \(a one-layer bidirectional nn.LSTM")
    refused({**tensors, "weight_hh_l4": tensors["weight_hh_l0"]}, "weight_hh_l4: an nn.LSTM of 5 layers; rnnviz stacks at most 4")
    refused(tensors, "says num_layers 2 but holds the weights of 1", {**metadata, "num_layers": "2"})
    refused({**tensors, "bias_ih_l0": tensors["bias_ih_l0"][:-1]}, "bias_ih_l0 has shape")
    nan = tensors["weight_hh_l0"].copy()
    nan[0, 0] = np.nan
    refused({**tensors, "weight_hh_l0": nan}, "weight_hh_l0 holds non-finite")
    refused(tensors, "vocabulary has 28|input and", {**metadata, "vocabulary": json.dumps(list("abc"))})
    refused(tensors, "does not list its vocabulary", {k: v for k, v in metadata.items() if k != "vocabulary"})
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(good.read_bytes()[:100])
    with pytest.raises(FileError, match="not a readable safetensors"):
        import_weights(str(damaged), str(tmp_path / "x.rnnviz"))
    other = tmp_path / "other.txt"
    other.write_text("completely different text with new symbols: 123 @#")
    with pytest.raises(InputError, match="does not match the model's vocabulary"):
        import_weights(str(good), str(tmp_path / "x.rnnviz"), corpus_path=str(other))


# ---- against PyTorch ---------------------------------------------------------------------------
def torch_model(cell, activation, V, H, K, layers=1):
    torch = pytest.importorskip("torch")
    if cell == "lstm":
        rnn = torch.nn.LSTM(V, H, num_layers=layers, dtype=torch.float64)
    elif cell == "gru_torch":
        rnn = torch.nn.GRU(V, H, num_layers=layers, dtype=torch.float64)
    else:
        rnn = torch.nn.RNN(V, H, nonlinearity=activation, num_layers=layers, dtype=torch.float64)
    fc = torch.nn.Linear(H, K, dtype=torch.float64)
    return torch, rnn, fc


def torch_log_probs(torch, rnn, fc, ids, V):
    x = torch.nn.functional.one_hot(torch.as_tensor(ids), V).to(torch.float64)[:, None, :]   # (T, 1, V)
    with torch.no_grad():
        out, _ = rnn(x)
        return torch.log_softmax(fc(out[:, 0]), dim=-1).numpy()


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell, activation", CASES)
def test_an_exported_file_loads_into_pytorch_and_gives_the_same_log_probabilities(tmp_path, cell, activation,
                                                                                  layers):
    trainer, path = session(tmp_path, cell, activation, layers=layers)
    out = tmp_path / "m.safetensors"
    export_session(str(path), str(out))
    tensors = load_file(str(out))
    V, H = trainer.spec.input_size, trainer.spec.hidden_size
    torch, rnn, fc = torch_model(cell, activation, V, H, V, layers)
    rnn.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("fc.")})
    fc.load_state_dict({k[3:]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("fc.")})
    probe = "the quick brown dog jumps"
    expected = rnnviz_log_probs(trainer, probe)
    np.testing.assert_allclose(torch_log_probs(torch, rnn, fc, trainer.task.encode(probe), V), expected,
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell, activation", CASES)
def test_weights_made_in_pytorch_give_the_same_log_probabilities_in_rnnviz(tmp_path, cell, activation, layers):
    vocabulary = list("zyxwvu tsr")              # not sorted: rnnviz reorders to its own ids
    V, H = len(vocabulary), 6
    torch, rnn, fc = torch_model(cell, activation, V, H, V, layers)
    torch.manual_seed(1)
    tensors = {k: v.detach().numpy().copy() for k, v in rnn.state_dict().items()}
    tensors.update({"fc." + k: v.detach().numpy().copy() for k, v in fc.state_dict().items()})
    path = tmp_path / "torch.safetensors"
    save_file(tensors, str(path), metadata={"cell": cell, "nonlinearity": activation if cell == "rnn" else "",
                                            "vocabulary": json.dumps(vocabulary)})
    trainer = import_weights(str(path), str(tmp_path / "t.rnnviz"))
    assert trainer.config.layers == layers          # inferred from the names: no num_layers in this file
    text = "xyz wut srz"
    expected = torch_log_probs(torch, rnn, fc, [vocabulary.index(c) for c in text], V)
    # rnnviz's ids are the sorted symbols: compare column by symbol
    got = rnnviz_log_probs(trainer, text)
    columns = [trainer.task.vocab.index(c) for c in vocabulary]
    np.testing.assert_allclose(got[:, columns], expected, rtol=0, atol=1e-10)


def test_the_readme_pytorch_snippet_gives_rnnviz_log_probabilities(tmp_path, monkeypatch):
    """The README's PyTorch example, run as written on an exported session."""
    import re
    from pathlib import Path

    pytest.importorskip("torch")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Weights to and from PyTorch"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    trainer = Trainer(Config(task="charlm", hidden=9, seq_length=10, seed=2), corpus_text="def f(x):\n  return x\n" * 30)
    for _ in range(30):
        trainer.step()
    save_session(trainer, tmp_path / "book.rnnviz")
    monkeypatch.chdir(tmp_path)
    export_session("book.rnnviz", "book.safetensors")
    scope = {}
    exec(code, scope)
    np.testing.assert_allclose(scope["log_p"].detach().numpy(), rnnviz_log_probs(trainer, "def "), atol=1e-10)
