"""The trainer, presets and command line with the encoder–decoder tasks (reversal, dates): the
trainer builds a Seq2Seq from the settings, steps it like a Network and reports the encoder's
per-step gradient norms; ``attention`` is read by those tasks only."""

import json
import re

import numpy as np
import pytest

from rnnviz.cli import main
from rnnviz.engine.seq2seq import Seq2Seq, Seq2SeqSpec
from rnnviz.training import Config, Trainer
from rnnviz.training.config import unused_settings
from rnnviz.training.presets import load_preset


def small(task="dates", **kw):
    base = dict(task=task, n_test=20, batch_size=4, hidden=8, cell="lstm", optimizer="adam", lr=0.01,
                clip_mode="norm", clip=5.0, reduction="mean", init="xavier")
    if task == "reversal":
        base.update(seq_length=5, n_symbols=4)
    base.update(kw)
    return Config(**base)


@pytest.mark.parametrize("task", ["dates", "reversal"])
@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_torch"])
def test_the_trainer_builds_the_encoder_decoder_the_settings_describe(task, attention, cell):
    trainer = Trainer(small(task, attention=attention, cell=cell))
    net, spec = trainer.network, trainer.spec
    assert isinstance(net, Seq2Seq) and isinstance(spec, Seq2SeqSpec)
    assert (spec.cell, spec.hidden_size, spec.attention, spec.reduction) == (cell, 8, attention, "mean")
    assert (spec.input_size, spec.output_size) == (trainer.task.input_size, trainer.task.output_size)
    assert spec.output_length == trainer.task.output_length
    assert ("att.v" in net.params) == attention


@pytest.mark.parametrize("task", ["dates", "reversal"])
def test_a_step_reports_the_encoders_gradient_norms_per_input_step(task):
    trainer = Trainer(small(task))
    batch_x = trainer.task.train_batch().x            # the task's next batch (a copy of the stream)
    before = trainer.network.params.flat.copy()
    res = trainer.step()
    assert res.refused is None and res.step == 1 and np.isfinite(res.loss)
    Tx = trainer.task.input_length
    assert batch_x.shape[0] == Tx
    assert res.grad_a_norms.shape == (Tx,) and (res.grad_a_norms > 0).all()
    assert res.grad_c_norms.shape == (Tx,)
    assert not np.array_equal(before, trainer.network.params.flat)
    assert set(res.param_grad_norms) == set(trainer.network.params)
    np.testing.assert_array_equal(trainer.history.grad_a_norms[-1], res.grad_a_norms.astype(np.float32))


def test_training_reduces_the_loss_and_evaluates_greedy_decodes():
    trainer = Trainer(small("reversal", hidden=16, lr=0.02, batch_size=16))
    first = np.mean([trainer.step().loss for _ in range(5)])
    for _ in range(150):
        trainer.step()
    last = np.mean([trainer.step().loss for _ in range(5)])
    assert last < first - 0.3
    metrics = trainer.evaluate()
    assert set(metrics) == {"exact_match", "accuracy", "loss"}
    assert metrics["accuracy"] > 0.5                   # chance is 1/4
    lines = trainer.examples(3)
    assert len(lines) == 3 and all("→" in line for line in lines)


def test_equal_seeds_give_identical_encoder_decoder_runs():
    a, b = Trainer(small()), Trainer(small())
    for _ in range(3):
        assert a.step().loss == b.step().loss
    assert np.array_equal(a.network.params.flat, b.network.params.flat)


def test_attention_is_a_setting_of_the_encoder_decoder_tasks_only():
    assert unused_settings(small("dates"), ["attention"]) == {}
    assert unused_settings(small("reversal"), ["attention"]) == {}
    why = unused_settings(Config(task="parity"), ["attention"])["attention"]
    assert "encoder–decoder" in why and "parity" in why
    with pytest.raises(ValueError, match="attention"):
        small(attention="yes").validate()


def test_sampling_text_is_refused_for_an_encoder_decoder():
    with pytest.raises(ValueError, match="charlm"):
        Trainer(small()).sample()


def test_the_encoder_decoder_presets_keep_the_benchmarks_settings():
    for name, task, attention in [("dates-attention", "dates", True), ("dates-plain", "dates", False),
                                  ("reversal-attention", "reversal", True)]:
        preset = load_preset(name)
        c = preset.config
        assert (c.task, c.attention, c.cell, c.hidden, c.optimizer, c.lr, c.clip_mode, c.clip, c.batch_size) == \
            (task, attention, "lstm", 64, "adam", 0.003, "norm", 5.0, 32)
        assert preset.steps == 1500 and "Bahdanau" in preset.source
    assert load_preset("reversal-attention").config.seq_length == 20


def test_cli_trains_dates_and_prints_readable_examples(capsys):
    code = main(["train", "--preset", "dates-attention", "--hidden", "8", "--n-test", "10", "--steps", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "done: step 3, loss" in out
    examples = out.split("held-out examples (input → output (target)):\n")[1].strip().splitlines()
    assert len(examples) == 4
    for line in examples:                          # "Thursday, May 3, 1979 → 1979-05-03 (1979-05-03) ✓"
        text, rest = line.strip().split(" → ")
        assert any(ch.isdigit() for ch in text)
        assert re.fullmatch(r"[0-9-]{10} \((\d{4}-\d{2}-\d{2})\) (✓|✗ \d+/10 symbols)", rest), rest


def test_cli_attention_flag_takes_true_or_false_and_only_where_it_is_read(capsys):
    code = main(["train", "--preset", "reversal-attention", "--attention", "false", "--hidden", "8",
                 "--n-test", "10", "--steps", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["step"] == 2
    assert main(["train", "--task", "dates", "--attention", "maybe", "--steps", "1"]) == 2
    assert "--attention: must be true or false (got 'maybe')" in capsys.readouterr().err
    assert main(["train", "--task", "parity", "--attention", "true", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "--attention is not used by this run" in err and len(err.strip().splitlines()) == 1
