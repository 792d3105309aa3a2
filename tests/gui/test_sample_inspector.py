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
from rnnviz.gui.panels.why_inputs import SALIENCY_MAP
from rnnviz.insight.sampling import InspectedSample, draw_inspected_sample, sample_saliency
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


# ---------------------------------------------------------------------------- saliency of a character
_models = {}


def real_sample(n=60, temperature=1.0, seed=3):
    """(network, vocabulary, sample with its saliency) from a briefly trained 8-unit char LSTM."""
    if "lstm" not in _models:
        trainer = Trainer(Config(task="charlm", cell="lstm", hidden=8))
        with trainer.running():
            for _ in range(3):
                trainer.step()
        _models["lstm"] = trainer
    trainer = _models["lstm"]
    vocab = trainer.task.vocab
    sample = draw_inspected_sample(trainer.network, vocab, int(trainer.task.encode("T")[0]), n,
                                   np.random.default_rng(seed), temperature, saliency=True)
    return trainer.network, vocab, sample


def click(inspector, qtbot, token):
    qtbot.mouseClick(inspector.text.viewport(), Qt.MouseButton.LeftButton, pos=inspector.text.token_centre(token))


def assert_shades(inspector, row, tau):
    """Tokens 0 … τ shaded by ``row`` on the inputs tab's map, white at 0 and scaled to its maximum;
    the character explained (token τ + 1) and the ones after it uncoloured."""
    text, scale = inspector.text, row.max()
    assert scale > 0
    for s in range(tau + 1):
        assert background(text, s).name() == SALIENCY_MAP.map(row[s] / scale, mode="qcolor").name(), s
    for t in range(tau + 1, len(inspector.sample().chars) + 1):
        assert background(text, t) is None, t
    assert inspector.bar.levels() == pytest.approx((0.0, scale))
    assert inspector.bar.getAxis("bottom").labelText.endswith("at T = 1")


def test_clicking_a_character_shades_what_it_was_drawn_after_by_its_saliency(inspector, qtbot):
    net, vocab, sample = real_sample()
    tokens = [vocab.index(sample.first)] + [vocab.index(c) for c in sample.chars]
    inspector.show_sample(sample)
    qtbot.waitExposed(inspector)
    assert "Click a character" in inspector.caption.text()
    for tau in (41, 6):
        with qtbot.waitSignal(inspector.character_explained) as signal:
            click(inspector, qtbot, tau + 1)
        assert signal.args == [tau] and inspector.explained == tau
        row = sample_saliency(net, tokens, row=tau)                  # recomputed from the network
        np.testing.assert_allclose(inspector.saliency_values, row, rtol=1e-9, atol=1e-15)
        assert_shades(inspector, row, tau)
        top = int(np.argmax(row))
        source = sample.first if top == 0 else sample.chars[top - 1]
        distance = tau + 1 - top
        caption = inspector.caption.text()
        names = {"\n": "⏎", " ": "␣"}
        assert caption.startswith(f"‘{names.get(sample.chars[tau], sample.chars[tau])}’, character {tau + 1} of 60, p = ")
        p1 = softmax(sample.logits)[tau, tokens[tau + 1]]
        assert f"p = {format_probability(p1)} at T\xa0=\xa01" in caption
        where = "just before it" if distance == 1 else f"{distance} characters earlier"
        tip = plain(inspector.token_tooltip(top))                   # hovering the source says its value
        # token j is the input x<j + 1>: steps counted from 1, as "character τ + 1" is
        assert f"/∂x<{top + 1}>‖ = {row[top]:.3g}" in tip and f"character {tau + 1}, {distance} to the right" in tip
        assert f"most of it comes from the ‘{names.get(source, source)}’" in caption and where in caption
    with qtbot.waitSignal(inspector.character_explained) as signal:
        click(inspector, qtbot, 7)                                   # the character explained, again
    assert signal.args == [-1] and inspector.explained is None
    assert_shows(inspector, sample, 1.0)
    click(inspector, qtbot, 0)                                       # the start: nothing predicted it
    assert inspector.explained is None


def test_escape_returns_to_the_probabilities_and_the_temperature_still_recolours(inspector, qtbot):
    net, vocab, sample = real_sample(temperature=0.8)
    inspector.show_sample(sample)
    qtbot.waitExposed(inspector)
    click(inspector, qtbot, 30)
    row = np.asarray(sample.saliency[29, :30])
    assert_shades(inspector, row, 29)
    inspector.temperature.box.setValue(2.0)             # the saliency is at T = 1: the shading stays
    assert_shades(inspector, row, 29)
    p2 = softmax(sample.logits / 2.0)[29, vocab.index(sample.chars[29])]
    assert f"({format_probability(p2)} at T\xa0=\xa02)" in inspector.caption.text()
    qtbot.keyClick(inspector.text, Qt.Key.Key_Escape)
    assert inspector.explained is None
    assert_shows(inspector, sample, 2.0)
    inspector.temperature.box.setValue(0.3)
    assert_shows(inspector, sample, 0.3)
    click(inspector, qtbot, 12)                         # Esc with the focus elsewhere in the tab
    inspector.as_drawn.setFocus()
    qtbot.keyClick(inspector.as_drawn, Qt.Key.Key_Escape)
    assert inspector.explained is None
    assert_shows(inspector, sample, 0.3)


def test_the_keyboard_steps_through_the_characters(inspector, qtbot):
    _, _, sample = real_sample(n=30)
    inspector.show_sample(sample)
    text = inspector.text
    for key, want in ((Qt.Key.Key_Right, 0), (Qt.Key.Key_Right, 1), (Qt.Key.Key_End, 29), (Qt.Key.Key_Left, 28),
                      (Qt.Key.Key_Home, 0), (Qt.Key.Key_Left, 0)):
        qtbot.keyClick(text, key)
        assert inspector.explained == want, key
        np.testing.assert_array_equal(inspector.saliency_values, sample.saliency[want, :want + 1])
    qtbot.keyClick(text, Qt.Key.Key_Escape)
    assert inspector.explained is None
    qtbot.keyClick(text, Qt.Key.Key_Left)                # from the probabilities: the last character
    assert inspector.explained == 29


def test_a_newer_sample_waits_while_a_character_is_explained(inspector, qtbot):
    _, _, first = real_sample(seed=1)
    _, _, newer = real_sample(seed=2)
    inspector.show_sample(first)
    inspector.set_temperature(0.5)
    assert inspector.explain(10)
    inspector.show_sample(newer, keep_temperature=True)
    assert inspector.sample() is first and inspector.waiting() is newer and inspector.explained == 10
    assert "a newer sample is waiting" in inspector.header.text()
    inspector.explain(None)
    assert inspector.sample() is newer and inspector.waiting() is None
    assert inspector.temperature_value() == pytest.approx(0.5)     # the user's temperature is kept
    assert_shows(inspector, newer, 0.5)
    inspector.explain(3)
    inspector.show_sample(None)                                    # a reset does not wait
    assert inspector.sample() is None and inspector.explained is None
    assert inspector.stack.currentWidget() is inspector.empty


def test_a_sample_without_saliency_is_not_explained(inspector, qtbot):
    sample = synthetic_sample()
    inspector.show_sample(sample)
    qtbot.waitExposed(inspector)
    click(inspector, qtbot, 5)
    qtbot.keyClick(inspector.text, Qt.Key.Key_Right)
    assert inspector.explained is None and not inspector.explain(4)
    assert "Click a character" not in inspector.caption.text()
    assert_shows(inspector, sample, 1.0)
