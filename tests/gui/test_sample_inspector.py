"""The sampling inspector as a user reads it: each character's colour is the probability the model
gave it at the temperature on the slider (checked against an independent softmax), moving the slider
re-scores the same characters, the hover text is that row's top 5 and entropy, and characters stay
literal."""

import html
import math
import re

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from rnnviz.gui.panels.sample_inspector import (EMPTY_TEXT, SAMPLE_MAP, SampleInspector, format_probability,
                                                minus)
from rnnviz.insight.sampling import InspectedSample, draw_inspected_sample
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

VOCAB = tuple("\n &<>abcdeT")


def synthetic_sample(n=40, temperature=1.0, seed=0, gap=1.0):
    """Random logits (n, K) whose top class leads the next by at least ``gap``; characters drawn from
    them, so some are the top choice and some are not."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(VOCAB))) * 2.0
    z[np.arange(n), z.argmax(axis=1)] += gap
    p = softmax(z / temperature)
    ids = [rng.choice(len(VOCAB), p=row) for row in p]
    ids[:4] = [VOCAB.index(c) for c in "<&\n "]            # the awkward ones, for sure
    return InspectedSample(tuple(VOCAB[i] for i in ids), "T", z, VOCAB, temperature)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def expected_p(sample, T):
    """(n,) p of each drawn character at T, (n, K) the rows: an independent softmax."""
    ids = np.array([sample.vocab.index(c) for c in sample.chars])
    rows = softmax(sample.logits / T)
    return rows[np.arange(len(ids)), ids], rows, ids


def background(text_view, token):
    """The background colour drawn under ``token`` of a TokenText (None: uncoloured)."""
    start, _ = text_view.token_range(token)
    block = text_view.document().findBlock(start)
    it = block.begin()
    while not it.atEnd():
        fragment = it.fragment()
        if fragment.position() <= start < fragment.position() + fragment.length():
            brush = fragment.charFormat().background()
            return None if brush.style() == Qt.BrushStyle.NoBrush else brush.color()
        it += 1
    raise AssertionError(f"no fragment at {start}")


def plain(rich: str) -> str:
    """What rich text reads as: tags dropped, entities resolved."""
    return html.unescape(re.sub(r"<[^>]+>", "", rich))


@pytest.fixture
def inspector(qtbot):
    w = SampleInspector()
    qtbot.addWidget(w)
    w.resize(500, 400)
    w.show()
    return w


def assert_shows(inspector, sample, T):
    p, _, ids = expected_p(sample, T)
    text = inspector.text
    assert background(text, 0) is None                     # the start: nothing predicted it
    for k in range(len(sample.chars)):
        assert background(text, k + 1).name() == SAMPLE_MAP.map(p[k], mode="qcolor").name(), k
    mean_bits = np.log2(p).mean()
    caption = inspector.caption.text()
    assert f"T\xa0=\xa0{T:g}:" in caption
    assert f"mean log₂\xa0p = {minus(mean_bits)} bits" in caption
    assert f"(perplexity {2 ** -mean_bits:.3g})" in caption
    top_share = np.mean(sample.logits.argmax(axis=1) == ids)
    assert f"{top_share:.0%} of the characters were the model's top choice" in caption
    assert inspector.bar.getAxis("bottom").labelText == f"p(character) at temperature {T:g}"


def test_none_shows_the_empty_state(inspector):
    assert inspector.stack.currentWidget() is inspector.empty and inspector.empty.text() == EMPTY_TEXT
    inspector.show_sample(synthetic_sample())
    assert inspector.stack.currentWidget() is not inspector.empty
    inspector.show_sample(None)
    assert inspector.stack.currentWidget() is inspector.empty and inspector.scores is None


def test_colours_are_p_of_each_character_at_the_drawn_temperature(inspector):
    sample = synthetic_sample(temperature=0.7)
    inspector.show_sample(sample)
    assert inspector.temperature_value() == pytest.approx(0.7)
    assert_shows(inspector, sample, 0.7)
    assert inspector.header.text().startswith("40 characters drawn at T\xa0=\xa00.7 after ‘T’")


def test_moving_the_temperature_rescores_the_same_characters(inspector, qtbot):
    sample = synthetic_sample()
    inspector.show_sample(sample)
    before = [background(inspector.text, k + 1).name() for k in range(len(sample.chars))]
    with qtbot.waitSignal(inspector.temperature_changed):
        inspector.temperature.box.setValue(2.5)                # typed into the box
    assert_shows(inspector, sample, 2.5)
    assert [background(inspector.text, k + 1).name() for k in range(len(sample.chars))] != before
    assert "re-scored at T\xa0=\xa02.5" in inspector.header.text()
    slider = inspector.temperature.slider
    slider.setValue(inspector.temperature.values.index(0.2))  # moved on the slider (a 1-2-5 stop)
    assert inspector.temperature_value() == pytest.approx(0.2)
    assert_shows(inspector, sample, 0.2)
    assert inspector.as_drawn.isEnabled()
    inspector.as_drawn.click()
    assert inspector.temperature_value() == pytest.approx(1.0) and not inspector.as_drawn.isEnabled()
    assert_shows(inspector, sample, 1.0)


def test_a_cold_temperature_gives_the_top_choice_all_the_probability(inspector):
    sample = synthetic_sample(n=60, gap=1.0)
    inspector.show_sample(sample)
    inspector.temperature.box.setValue(0.05)
    _, _, ids = expected_p(sample, 0.05)
    top = sample.logits.argmax(axis=1) == ids
    assert top.any() and (~top).any()
    shown = np.exp(inspector.scores.log_p)
    assert np.all(shown[top] > 0.999) and np.all(shown[~top] < 0.001)
    for k in np.flatnonzero(top):
        assert background(inspector.text, k + 1).name() == SAMPLE_MAP.map(1.0, mode="qcolor").name()
    assert_shows(inspector, sample, 0.05)


ROW = re.compile(r"<tt>(?:<b>)?‘([^<]*?)’(?:</b>)?</tt>&nbsp;</td><td align='right'>(?:<b>)?([^<&]+)")


@pytest.mark.parametrize("T", [1.0, 0.4])
def test_hover_shows_the_top_five_and_the_entropy(inspector, qtbot, T):
    sample = synthetic_sample()
    inspector.show_sample(sample)
    inspector.set_temperature(T)
    qtbot.waitExposed(inspector)
    _, rows, ids = expected_p(sample, T)
    names = {"\n": "⏎", " ": "␣"}
    for k in (0, 3, 10, 25):
        viewport = inspector.text.viewport()
        quarter = inspector.text.fontMetrics().horizontalAdvance("M") // 4
        for dx in (-quarter, quarter, 0):                  # either half of the character: its own tip
            point = inspector.text.token_centre(k + 1) + QPoint(dx, 0)
            QToolTip.hideText()
            QApplication.sendEvent(viewport, QHelpEvent(QEvent.Type.ToolTip, point, viewport.mapToGlobal(point)))
            assert QToolTip.text() == inspector.tooltip(k)
        tip = QToolTip.text()
        order = np.argsort(-rows[k], kind="stable")[:5]
        listed = [(html.unescape(c), v) for c, v in ROW.findall(tip)]
        assert listed == [(names.get(VOCAB[j], VOCAB[j]), format_probability(rows[k, j])) for j in order]
        assert [float(v) for _, v in listed] == sorted((float(v) for _, v in listed), reverse=True)
        h = -(rows[k] * np.log2(rows[k])).sum()
        assert f"entropy {h:.2f} bits (uniform over {len(VOCAB)}: {math.log2(len(VOCAB)):.2f})" in tip
        assert f"p = {format_probability(rows[k, ids[k]])} at T&nbsp;=&nbsp;{T:g}" in tip
        rank = int((rows[k] > rows[k, ids[k]]).sum())
        assert ("the model's top choice" in tip) == (rank == 0)


def test_html_special_characters_and_whitespace_are_shown_literally(inspector):
    sample = synthetic_sample()
    assert sample.chars[:4] == ("<", "&", "\n", " ")
    inspector.show_sample(sample)
    shown = "T" + "".join("⏎\n" if c == "\n" else c for c in sample.chars)
    assert inspector.text.toPlainText() == shown
    assert "‘&lt;’" in inspector.tooltip(0) and "‘&amp;’" in inspector.tooltip(1)
    assert plain(inspector.tooltip(0)).startswith("‘<’ character 1 of 40")
    assert plain(inspector.tooltip(1)).startswith("‘&’ character 2 of 40")
    assert plain(inspector.tooltip(2)).startswith("‘⏎’ character 3 of 40")
    assert plain(inspector.tooltip(3)).startswith("‘␣’ character 4 of 40")
    amp = SampleInspector()          # '<' as the first character, in the header
    amp.show_sample(sample._replace(first="<"))
    assert "after ‘<’" in amp.header.text()
    amp.deleteLater()


def test_a_real_models_sample(inspector):
    trainer = Trainer(Config(task="charlm", cell="gru", hidden=8))
    with trainer.running():
        for _ in range(3):
            trainer.step()
    vocab = trainer.task.vocab
    sample = draw_inspected_sample(trainer.network, vocab, int(trainer.task.encode("T")[0]), 80,
                                   np.random.default_rng(3), 0.8)
    inspector.show_sample(sample)
    assert inspector.temperature_value() == pytest.approx(0.8)
    assert_shows(inspector, sample, 0.8)
    inspector.temperature.box.setValue(1.5)
    assert_shows(inspector, sample, 1.5)
