"""The bidirectional setting through the app: refused in one line where the reverse direction
would see what it must predict (charlm) or cannot run (carried state, encoder–decoders); trained
through the Trainer on a tagging and a many-to-one task; saved and resumed; old files open as
one-direction networks; the memory estimate, the probe's states and the why-views know it."""

import re
from pathlib import Path

import numpy as np
import pytest

from rnnviz import cli
from rnnviz.errors import InputError, SettingError
from rnnviz.insight.trace import check_analysable, not_analysable
from rnnviz.session import describe_session, load_session, save_session
from rnnviz.session.session import load_tree
from rnnviz.training.config import Config, unused_settings
from rnnviz.training.memory import estimate_bytes
from rnnviz.training.trainer import Trainer

OLD_FILE = Path(__file__).parents[1] / "data" / "charlm-float64-history.rnnviz"


@pytest.mark.parametrize("task, words", [
    ("charlm", "bidirectional cannot be used with the character model (charlm): the reverse direction would "
               "read the next character"),
    ("reversal", "bidirectional cannot be used with the reversal task: its encoder and decoder"),
    ("dates", "bidirectional cannot be used with the dates task"),
])
def test_tasks_that_cannot_have_a_reverse_direction_refuse_it_in_one_line(task, words):
    with pytest.raises(SettingError, match=re.escape(words)) as info:
        Config(task=task, bidirectional=True).validate()
    assert "\n" not in str(info.value)
    assert "bidirectional" in unused_settings(Config(task=task), ["bidirectional"])
    for fine in ("parity", "addition", "copy", "adding"):
        Config(task=fine, bidirectional=True).validate()
        assert not unused_settings(Config(task=fine), ["bidirectional"])
    with pytest.raises(SettingError, match="bidirectional must be true or false"):
        Config(bidirectional="yes").validate()


def test_the_command_line_refuses_a_bidirectional_character_model(capsys, tmp_path):
    code = cli.main(["train", "--task", "charlm", "--bidirectional", "true", "--hidden", "8", "--steps", "1",
                     "--quiet"])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_BAD_INPUT
    assert err.count("\n") == 1 and "bidirectional" in err and "charlm" in err and "Traceback" not in err


@pytest.mark.parametrize("task, cell, steps", [("copy", "lstm", 150), ("parity", "gru", 150)])
def test_a_short_run_learns_on_a_tagging_and_a_many_to_one_task(task, cell, steps):
    config = Config(task=task, cell=cell, hidden=16, layers=2, bidirectional=True, seq_length=4, copy_length=3,
                    n_symbols=4, n_train=256, n_test=64, batch_size=16, optimizer="adam", lr=0.01,
                    init="xavier", seed=1)
    trainer = Trainer(config)
    assert trainer.spec.bidirectional and "Waa_rev[2]" in trainer.network.params
    before = trainer.evaluate()["loss"]
    with trainer.running():
        results = [trainer.step() for _ in range(steps)]
    assert all(r.refused is None for r in results)
    after = trainer.evaluate()["loss"]
    assert after < 0.8 * before, (before, after)
    assert trainer.carried_state is None


def test_a_bidirectional_session_saves_and_resumes_exactly(tmp_path):
    config = Config(task="copy", cell="gru_torch", hidden=6, layers=2, bidirectional=True, seq_length=3,
                    copy_length=2, n_symbols=3, n_train=64, n_test=16, batch_size=4, optimizer="adam", lr=0.01)
    trainer = Trainer(config)
    for _ in range(5):
        trainer.step()
    path = tmp_path / "b.rnnviz"
    save_session(trainer, path)
    assert load_tree(path)["trainer"]["config"]["bidirectional"] is True
    assert describe_session(path)["bidirectional"] is True
    back = load_session(path)
    assert back.config.bidirectional and back.spec.bidirectional
    for name, value in trainer.network.params.items():
        np.testing.assert_array_equal(back.network.params[name], value)
    assert trainer.step().loss == back.step().loss            # resumes exactly


def test_a_file_from_before_bidirectional_layers_opens_as_one_direction():
    assert "bidirectional" not in load_tree(OLD_FILE)["trainer"]["config"]
    trainer = load_session(OLD_FILE)
    assert trainer.config.bidirectional is False and trainer.spec.bidirectional is False
    assert describe_session(OLD_FILE)["bidirectional"] is False


def test_memory_estimate_probe_and_why_views_know_the_reverse_direction():
    one = Config(task="copy", cell="lstm", hidden=32, layers=2)
    two = one.replace(bidirectional=True)
    small, big = estimate_bytes(one), estimate_bytes(two)
    assert big["training pass"] > 2 * small["training pass"] - 3 * 8 * 32
    assert big["weights"] > 2 * small["weights"] - 8 * 6 * 32 * 100
    assert not_analysable(one) is None                      # a stacked one-direction network is analysed
    trainer = Trainer(Config(task="copy", cell="lstm", hidden=4, bidirectional=True, n_train=16, n_test=8))
    assert "bidirectional" in not_analysable(trainer.config)
    with pytest.raises(InputError, match="this network is bidirectional"):
        check_analysable(trainer.network)
    names = list(trainer.probe().states)
    assert names[:2] == ["hidden a<t>", "cell c<t>"] and "reverse: hidden a<t>" in names
    stacked = Trainer(Config(task="copy", cell="rnn", hidden=4, layers=2, bidirectional=True, n_train=16, n_test=8))
    assert list(stacked.probe().states) == ["hidden a<t>", "reverse: hidden a<t>", "layer 2: hidden a[2]<t>",
                                            "layer 2, reverse: hidden a[2]<t>"]
