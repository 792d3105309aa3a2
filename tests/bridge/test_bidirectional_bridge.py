"""rnnviz export / import of bidirectional networks: ``*_l{k}_reverse`` tensors, metadata
``bidirectional: "true"`` and the run's settings (``rnnviz_config``), so that a copy-task (tagging)
or parity (many-to-one) session goes to nn.RNN / nn.LSTM / nn.GRU(bidirectional=True) + nn.Linear
and back with the same per-step log-probabilities to 1e-10; a bidirectional file without the
settings is refused in one line."""

import json

import numpy as np
import pytest

pytest.importorskip("safetensors")
from safetensors.numpy import load_file, save_file  # noqa: E402

from rnnviz.bridge import export_session, from_torch, import_weights, to_torch  # noqa: E402
from rnnviz.errors import InputError  # noqa: E402
from rnnviz.session import load_session, save_session  # noqa: E402
from rnnviz.training.config import Config  # noqa: E402
from rnnviz.training.trainer import Trainer  # noqa: E402

CELLS = ["rnn", "lstm", "gru_torch"]


def copy_config(cell, layers):
    return Config(task="copy", cell=cell, hidden=5, layers=layers, bidirectional=True, seq_length=3, copy_length=3,
                  n_symbols=4, n_train=64, n_test=16, batch_size=8, optimizer="adam", lr=0.01, seed=4)


def trained_session(tmp_path, config, steps=10):
    trainer = Trainer(config)
    for _ in range(steps):
        trainer.step()
    path = tmp_path / "bidir.rnnviz"
    save_session(trainer, path)
    return trainer, path


def rnnviz_log_probs(trainer):
    x, _ = trainer.task.probe_input()                                       # (T, 1) tokens
    return x, np.log(trainer.network.forward(x).outputs[:, 0])              # (T, K)


def torch_module(torch, cell, D, H, layers):
    kind = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru_torch": torch.nn.GRU}[cell]
    return kind(D, H, num_layers=layers, bidirectional=True, dtype=torch.float64)


def torch_log_probs(torch, rnn, fc, x, D):
    xs = torch.nn.functional.one_hot(torch.as_tensor(x), D).to(torch.float64)     # (T, 1, D)
    with torch.no_grad():
        out, _ = rnn(xs)                                                         # (T, 1, 2H)
        return torch.log_softmax(fc(out[:, 0]), dim=-1).numpy()


def test_the_mapping_names_both_directions_and_round_trips():
    rng = np.random.default_rng(0)
    trainer = Trainer(copy_config("gru_torch", 2))
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in trainer.network.params.items()}
    tensors, metadata = to_torch(params, "gru_torch", "tanh", None, "copy")
    assert metadata["bidirectional"] == "true" and metadata["num_layers"] == "2"
    H, D = 5, trainer.spec.input_size
    assert tensors["weight_ih_l0_reverse"].shape == (15, D)
    assert tensors["weight_ih_l1"].shape == tensors["weight_ih_l1_reverse"].shape == (15, 2 * H)
    assert tensors["fc.weight"].shape == (trainer.spec.output_size, 2 * H)
    np.testing.assert_array_equal(tensors["weight_hh_l1_reverse"], params["Waa_rev[2]"])
    np.testing.assert_array_equal(tensors["bias_hh_l0_reverse"][2 * H:], params["baa_rev"])
    back = from_torch(tensors, "gru_torch")
    assert list(back) == list(params)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_an_exported_bidirectional_session_loads_into_pytorch(tmp_path, cell, layers):
    torch = pytest.importorskip("torch")
    trainer, path = trained_session(tmp_path, copy_config(cell, layers))
    out = tmp_path / "m.safetensors"
    metadata = export_session(str(path), str(out))
    assert metadata["bidirectional"] == "true"
    tensors = load_file(str(out))
    D, H, K = trainer.spec.input_size, trainer.spec.hidden_size, trainer.spec.output_size
    rnn, fc = torch_module(torch, cell, D, H, layers), torch.nn.Linear(2 * H, K, dtype=torch.float64)
    rnn.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("fc.")})
    fc.load_state_dict({k[3:]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("fc.")})
    x, expected = rnnviz_log_probs(trainer)
    np.testing.assert_allclose(torch_log_probs(torch, rnn, fc, x, D), expected, rtol=0, atol=1e-10)
    # and back: the file makes a copy-task session with the same weights
    back = import_weights(str(out), str(tmp_path / "back.rnnviz"))
    assert back.config.task == "copy" and back.spec.bidirectional and back.spec.layers == layers
    np.testing.assert_allclose(rnnviz_log_probs(back)[1], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_weights_made_in_pytorch_give_the_same_log_probabilities_in_rnnviz(tmp_path, cell, layers):
    torch = pytest.importorskip("torch")
    config = copy_config(cell, layers)
    reference = Trainer(config)                                     # the task's sizes and probe
    D, H, K = reference.spec.input_size, reference.spec.hidden_size, reference.spec.output_size
    torch.manual_seed(layers)
    rnn, fc = torch_module(torch, cell, D, H, layers), torch.nn.Linear(2 * H, K, dtype=torch.float64)
    tensors = {k: v.detach().numpy().copy() for k, v in rnn.state_dict().items()}
    tensors.update({"fc." + k: v.detach().numpy().copy() for k, v in fc.state_dict().items()})
    path = tmp_path / "torch.safetensors"
    settings = {k: v for k, v in config.to_dict().items() if k != "preset"}
    save_file(tensors, str(path), metadata={"cell": cell, "rnnviz_config": json.dumps(settings)})
    trainer = import_weights(str(path), str(tmp_path / "t.rnnviz"))
    x, got = rnnviz_log_probs(trainer)
    np.testing.assert_allclose(got, torch_log_probs(torch, rnn, fc, x, D), rtol=0, atol=1e-10)


def test_a_many_to_one_session_reads_both_final_states_in_pytorch(tmp_path):
    """Parity (many-to-one, sigmoid): rnnviz's output is fc([h_n forward; h_n reverse])."""
    torch = pytest.importorskip("torch")
    config = Config(task="parity", cell="lstm", hidden=6, layers=2, bidirectional=True, seq_length=6, n_train=64,
                    n_test=16, batch_size=8, optimizer="adam", lr=0.01)
    trainer, path = trained_session(tmp_path, config)
    out = tmp_path / "p.safetensors"
    export_session(str(path), str(out))
    tensors = load_file(str(out))
    rnn, fc = torch_module(torch, "lstm", trainer.spec.input_size, 6, 2), torch.nn.Linear(12, 1, dtype=torch.float64)
    rnn.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("fc.")})
    fc.load_state_dict({k[3:]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("fc.")})
    x, _ = trainer.task.probe_input()                                       # (T, 1, D)
    with torch.no_grad():
        _, (h_n, _) = rnn(torch.as_tensor(np.asarray(x, dtype=np.float64)))
        expected = torch.sigmoid(fc(torch.cat([h_n[-2], h_n[-1]], -1))).numpy()
    np.testing.assert_allclose(trainer.network.forward(x).outputs, expected, rtol=0, atol=1e-10)


def test_a_bidirectional_file_without_its_settings_is_refused(tmp_path):
    trainer, path = trained_session(tmp_path, copy_config("lstm", 1), steps=1)
    out = tmp_path / "m.safetensors"
    export_session(str(path), str(out))
    tensors = load_file(str(out))
    bare = tmp_path / "bare.safetensors"
    save_file(tensors, str(bare), metadata={"cell": "lstm", "vocabulary": json.dumps(list("abcdef"))})
    with pytest.raises(InputError, match="holds a bidirectional nn.LSTM; import makes character models"):
        import_weights(str(bare), str(tmp_path / "x.rnnviz"))
    lying = tmp_path / "lying.safetensors"
    save_file(tensors, str(lying), metadata={"cell": "lstm", "bidirectional": "false"})
    with pytest.raises(InputError, match="says bidirectional false"):
        import_weights(str(lying), str(tmp_path / "x.rnnviz"))
    assert not (tmp_path / "x.rnnviz").exists()
    # the session file itself keeps the setting
    assert load_session(path).config.bidirectional is True
