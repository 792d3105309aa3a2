"""The single-layer tools refuse an encoder–decoder session with one line (exit code 2), never a
traceback: ``rnnviz explain``, the why-views' numbers, ``rnnviz export`` and ``rnnviz sample``."""

import pytest

from rnnviz.cli import main
from rnnviz.errors import InputError
from rnnviz.insight.explain import explain, unsupported
from rnnviz.insight.live import live_insight
from rnnviz.session import save_session
from rnnviz.training import Config, Trainer


@pytest.fixture(scope="module")
def dates_session(tmp_path_factory):
    trainer = Trainer(Config(task="dates", hidden=6, n_test=10, batch_size=2, cell="lstm"))
    trainer.step()
    path = tmp_path_factory.mktemp("s2s") / "dates.rnnviz"
    save_session(trainer, path)
    return trainer, path


def test_the_insight_numbers_refuse_an_encoder_decoder_with_one_line(dates_session):
    trainer, _ = dates_session
    reason = unsupported(trainer)
    assert "encoder–decoder" in reason and "\n" not in reason
    with pytest.raises(InputError, match="encoder–decoder"):
        explain(trainer)
    with pytest.raises(InputError, match="encoder–decoder"):
        live_insight(trainer)
    assert unsupported(Trainer(Config(task="parity", seq_length=4, n_train=8, n_test=8, hidden=3))) is None


@pytest.mark.parametrize("command", [["explain"], ["export", "{out}"], ["sample"]])
def test_the_command_line_refuses_an_encoder_decoder_session_in_one_line(dates_session, tmp_path, capsys, command):
    _, path = dates_session
    argv = [command[0], str(path)] + [arg.format(out=tmp_path / "m.safetensors") for arg in command[1:]]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("rnnviz: error:")
    assert "encoder–decoder" in err or "date normalisation" in err
    assert not (tmp_path / "m.safetensors").exists()
