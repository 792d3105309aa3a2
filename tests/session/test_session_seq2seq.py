"""Sessions of the encoder–decoder tasks: a dates or reversal run saved and resumed continues
bit-identically (the pattern of test_session_resume.py), and the file says what model it holds."""

import pytest

from rnnviz.engine.seq2seq import Seq2Seq
from rnnviz.session import describe_session, load_session, save_session
from rnnviz.errors import InputError
from rnnviz.training import Config, Trainer
from session_testing import SMALL, make_trainer
from test_session_resume import assert_resume_is_exact


@pytest.mark.parametrize("changes", [
    dict(task="dates", batch_size=3, cell="lstm", attention=True, optimizer="adam", lr=0.01,
         clip_mode="norm", reduction="mean", init="xavier"),
    dict(task="dates", batch_size=2, cell="gru", attention=False, dtype="float32", optimizer="rmsprop", lr=0.01),
    dict(task="reversal", seq_length=4, n_symbols=3, batch_size=3, cell="rnn", attention=True,
         optimizer="momentum", lr=0.05, seed=5),
    dict(task="reversal", seq_length=3, n_symbols=5, batch_size=2, cell="gru_torch", attention=True,
         optimizer="adagrad", lr=0.1),
], ids=["dates-attention-lstm", "dates-plain-gru-float32", "reversal-rnn", "reversal-gru-torch"])
def test_encoder_decoder_resume_is_bit_identical(tmp_path, changes):
    assert_resume_is_exact(Config(**{**SMALL, **changes}), tmp_path)


def test_a_dates_session_reloads_as_an_encoder_decoder_with_its_attention_setting(tmp_path):
    for attention in (True, False):
        path = tmp_path / f"dates-{attention}.rnnviz"
        trainer = make_trainer(Config(**SMALL, task="dates", batch_size=2, cell="lstm", attention=attention))
        trainer.step()
        save_session(trainer, path)
        resumed = load_session(path)
        assert isinstance(resumed.network, Seq2Seq)
        assert resumed.config.attention is attention and resumed.spec.attention is attention
        assert ("att.v" in resumed.network.params) is attention
        assert describe_session(path)["task"] == "dates"


def test_encoder_decoder_weights_that_do_not_fit_are_refused_by_name():
    trainer = make_trainer(Config(**SMALL, task="reversal", seq_length=3, n_symbols=3, batch_size=2))
    state = trainer.state_dict()
    del state["params"]["att.v"]
    with pytest.raises(InputError, match="att.v"):
        Trainer.from_state_dict(state)
    state = trainer.state_dict()
    state["config"]["attention"] = False            # a model without attention has no att.* weights
    with pytest.raises(InputError, match="unexpected"):
        Trainer.from_state_dict(state)
