"""The inputs why-views as a user reads them: the shaded symbols are the saliency row of the chosen
output, the coloured text is the chosen unit, the ranked units are the span's most selective, the
hover text is the model's top-5, the memory curve is the LiveInsight's, and labels stay literal."""

import html
import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from rnnviz.gui.panels.why_inputs import EMPTY_TEXT, PROBABILITY_MAP, SALIENCY_MAP, InputsView, entropy_bits
from rnnviz.insight.live import live_insight
from rnnviz.insight.units import selectivity
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

CONFIGS = {
    "char-rnn": dict(task="charlm", cell="rnn", hidden=12, probe="the cat sat on the mat"),
    "char-lstm": dict(task="charlm", cell="lstm", hidden=8, probe="(a [b] c)"),
    "char-escape": dict(task="charlm", cell="rnn", hidden=6, probe="a<b & c>d"),
    "copy-gru": dict(task="copy", cell="gru", hidden=8, seq_length=6, copy_length=2, n_symbols=4, batch_size=16),
    "adding-rnn": dict(task="adding", cell="rnn", hidden=6, seq_length=9, batch_size=16),
    "parity-rnn": dict(task="parity", cell="rnn", hidden=6, seq_length=7, n_train=64, n_test=32),
}
_cache = {}


def insight(name, steps=5):
    if name not in _cache:
        trainer = Trainer(Config(**CONFIGS[name]))
        with trainer.running():
            for _ in range(steps):
                trainer.step()
        _cache[name] = live_insight(trainer)
    return _cache[name]


@pytest.fixture
def view(qtbot):
    w = InputsView()
    qtbot.addWidget(w)
    w.resize(520, 650)
    w.show()
    return w


def background(text_view, k):
    """The background colour drawn under token k of a TokenText."""
    start, _ = text_view.token_range(k)
    block = text_view.document().findBlock(start)
    for fragment_it in _fragments(block):
        if fragment_it.position() <= start < fragment_it.position() + fragment_it.length():
            brush = fragment_it.charFormat().background()
            return None if brush.style() == Qt.BrushStyle.NoBrush else brush.color()
    raise AssertionError(f"no fragment at {start}")


def _fragments(block):
    it = block.begin()
    while not it.atEnd():
        yield it.fragment()
        it += 1


def token_text(text_view, k):
    start, end = text_view.token_range(k)
    return text_view.toPlainText()[start:end]


def test_none_shows_the_empty_state(view):
    assert view.stack.currentWidget() is view.empty
    assert view.empty.text() == EMPTY_TEXT
    view.show_insight(insight("char-rnn"))
    assert view.stack.currentWidget() is view.tabs
    view.show_insight(None)
    assert view.stack.currentWidget() is view.empty and view.saliency_values is None


def test_saliency_strip_is_the_row_of_the_selected_output(view):
    li = insight("char-rnn")
    view.show_insight(li)
    tau = int(li.output_steps[-1])                        # default: the last output
    assert view.selected_output() == tau
    np.testing.assert_allclose(view.saliency_values, li.saliency[tau, :tau + 1])
    height = view.saliency_bars.opts["height"]
    np.testing.assert_allclose(height, li.saliency[tau, :tau + 1])
    # the darkest symbol is the most salient one; white is 0
    s = int(np.argmax(li.saliency[tau, :tau + 1]))
    assert background(view.saliency_text, s).name() == SALIENCY_MAP.map(1.0, mode="qcolor").name()
    target = li.output_names[int(li.targets[-1])]
    # steps are numbered from 1, as in the rest of the window: the output after symbol τ is step τ + 1
    assert view.output_label.text() == f"output at step {tau + 1}: ‘{target}’ (p = {math.exp(li.score[-1]):.2f})"
    np.testing.assert_array_equal(view.saliency_bars.opts["x"], np.arange(1, tau + 2))
    assert view.saliency_marker.value() == tau + 1
    ticks = view.saliency_plot.getAxis("bottom")._tickLevels[0]
    assert ticks[0] == (1, "1") and all(str(x) == label for x, label in ticks)   # labels are the bars' x

    first = view.saliency_values.copy()
    view.output_box.setCurrentIndex(4)
    view.output_box.activated.emit(4)                     # as a user choosing the fifth output
    assert view.selected_output() == 4
    np.testing.assert_allclose(view.saliency_values, li.saliency[4, :5])
    assert len(view.saliency_values) != len(first)
    assert "output at step 5:" in view.output_label.text()
    assert view.output_box.currentText() == f"5  → ‘{li.labels[5]}’"
    assert view.saliency_text.tip(2) == (f"<p>step 3: ‘{li.labels[2]}’<br>‖∂ log p(output 5)/∂x&lt;3&gt;‖ = "
                                         f"{li.saliency[4, 2]:.3g}</p>")
    assert view.saliency_text.tip(6).startswith("<p>step 7: after the output at 5")


def test_clicking_a_symbol_selects_its_output(view, qtbot):
    li = insight("char-rnn")
    view.show_insight(li)
    qtbot.waitExposed(view)
    with qtbot.waitSignal(view.output_selected) as signal:
        qtbot.mouseClick(view.saliency_text.viewport(), Qt.MouseButton.LeftButton,
                         pos=view.saliency_text.token_centre(7))
    assert signal.args == [7] and view.selected_output() == 7
    np.testing.assert_allclose(view.saliency_values, li.saliency[7, :8])


def test_unit_colouring_follows_the_state(view):
    li = insight("char-lstm")
    view.show_insight(li)
    states = [view.state_box.itemData(i) for i in range(view.state_box.count())]
    assert states == list(li.states) == ["a", "c", "f", "i", "o", "cand"]
    assert view.unit_box.maximum() == li.states["a"].shape[1] - 1
    for state, unit in (("a", 3), ("c", 5), ("f", 2)):
        view.select_unit(unit, state)
        values = li.states[state][:, unit]
        np.testing.assert_allclose(view.unit_values, values)
        cmap = view.unit_cmap
        top = int(np.argmax(values))
        lo, hi = view.unit_levels
        if state == "f":
            assert (lo, hi) == (0.0, 1.0)                  # gates: sequential, 0 to 1
        else:
            assert lo == -hi and hi == pytest.approx(np.abs(values).max())   # diverging, centred at 0
        expected = cmap.map((values[top] - lo) / (hi - lo), mode="qcolor").name()
        assert background(view.units_text, top).name() == expected
        if state != "f" and values[top] >= abs(values.min()):   # the largest |value| is the top of the map
            assert expected == cmap.map(1.0, mode="qcolor").name()


def test_ranked_units_are_the_spans_most_selective(view, qtbot):
    li = insight("char-rnn")
    view.show_insight(li)
    T = li.T                                               # first: the middle third, ranked for its steps
    start, stop = T // 3, 2 * T // 3
    assert (view.span_start.value(), view.span_stop.value()) == (start + 1, stop)
    assert view.ranked_units[0][0] == int(np.argmax(np.abs(selectivity(li.states["a"], start, stop))))
    view.set_span(4, 7)                                    # "cat"
    d = selectivity(li.states["a"], 4, 7)
    order = np.argsort(-np.abs(d), kind="stable")[:10]
    assert [u for u, _ in view.ranked_units] == order.tolist()
    np.testing.assert_allclose([s for _, s in view.ranked_units], d[order])
    assert view.rank_list.count() == 10
    assert view.rank_list.item(0).text().startswith(f"unit {order[0]:>3}")

    view.set_span(15, 22)
    d2 = selectivity(li.states["a"], 15, 22)
    assert [u for u, _ in view.ranked_units] == np.argsort(-np.abs(d2), kind="stable")[:10].tolist()
    assert [u for u, _ in view.ranked_units] != order.tolist()

    # selecting text with the mouse (here: the text cursor) sets the span
    cursor = view.units_text.textCursor()
    cursor.setPosition(view.units_text.token_range(8)[0])
    cursor.setPosition(view.units_text.token_range(10)[1], cursor.MoveMode.KeepAnchor)
    view.units_text.setTextCursor(cursor)
    assert (view.span_start.value(), view.span_stop.value()) == (9, 11)      # its first and last step, from 1
    assert [u for u, _ in view.ranked_units] == np.argsort(-np.abs(selectivity(li.states["a"], 8, 11)),
                                                           kind="stable")[:10].tolist()
    view.span_start.setValue(5)                            # typed: steps 5 to 7 are "cat" again
    view.span_stop.setValue(7)
    assert [u for u, _ in view.ranked_units] == order.tolist()
    assert view.span_label.text().startswith("“cat”")

    # clicking a ranked unit colours the text by it
    item = view.rank_list.item(2)
    unit = item.data(Qt.ItemDataRole.UserRole)
    view.rank_list.itemClicked.emit(item)
    assert view.unit_box.value() == unit
    np.testing.assert_allclose(view.unit_values, li.states["a"][:, unit])


def test_whole_probe_span_is_refused_in_words(view):
    li = insight("char-rnn")
    view.show_insight(li)
    view.set_span(0, li.T)
    assert view.ranked_units == [] and view.rank_list.count() == 0
    assert "leaves some outside" in view.span_label.text()


def test_hover_shows_the_top_five_and_entropy(view, qtbot):
    li = insight("char-rnn")
    view.show_insight(li)
    view.tabs.setCurrentWidget(view.probabilities_page)
    qtbot.waitExposed(view)
    text = view.probabilities_text
    assert token_text(text, 0) == li.labels[0] and background(text, 0) is None   # nothing predicts it
    k = 5                                                  # output 5 (step 6) predicts the symbol at step 7
    qtbot.mouseMove(text.viewport(), text.token_centre(k + 1))
    qtbot.waitUntil(lambda: f"output at step {k + 1}:" in view.probabilities_readout.text(), timeout=2000)
    shown = html.unescape(view.probabilities_readout.text())
    row = li.probs[k]
    for j in np.argsort(-row, kind="stable")[:5]:
        assert f"‘{li.output_names[j]}’\xa0{row[j]:.2f}" in shown
    assert f"entropy {entropy_bits(row):.2f} bits" in shown
    assert f"p = {math.exp(li.score[k]):.2f}" in shown and f"top 5 at step {k + 1}:" in shown
    # the colour of each symbol is the probability the model gave it
    p = math.exp(li.score[k])
    assert background(text, k + 1).name() == PROBABILITY_MAP.map(p, mode="qcolor").name()


def test_html_special_characters_are_shown_literally(view):
    li = insight("char-escape")
    view.show_insight(li)
    probe = "a<b & c>d"
    assert "".join(li.labels) == probe
    for text in (view.saliency_text, view.units_text, view.probabilities_text):
        assert text.toPlainText() == probe
    tau = int(li.output_steps[0])                          # 'a' predicts '<'
    view.select_output(tau)
    assert view.output_label.text().startswith("output at step 1: ‘<’")
    assert "‘&lt;’" in view.probability_detail(0)
    view.set_span(1, 4)
    assert "“<b ”" in view.span_label.text()


@pytest.mark.parametrize("name, task, metric", [("copy-gru", "copy", "accuracy"),
                                                 ("parity-rnn", "parity", "accuracy"),
                                                 ("adding-rnn", "adding", "r2")])
def test_memory_plot_is_the_readout_curve(view, name, task, metric):
    li = insight(name)
    view.show_insight(li)
    assert li.memory is not None and li.memory.metric == metric
    assert view.tabs.isTabVisible(view.tabs.indexOf(view.memory_page))
    x, y = view.memory_curve.getData()
    np.testing.assert_allclose(x, li.memory.lags)
    np.testing.assert_allclose(y, li.memory.score)
    np.testing.assert_allclose(view.chance_curve.getData()[1], li.memory.chance)
    title = {"copy": "what a&lt;t&gt; still holds about the input k steps ago",
             "parity": "running parity k steps ago", "adding": "sum of marked values k steps ago"}[task]
    assert title in view.memory_plot.getPlotItem().titleLabel.text
    left = view.memory_plot.getAxis("left").labelText
    assert left == ("R² of a linear read-out" if metric == "r2" else "held-out accuracy of a linear read-out")
    assert view.memory_plot.getAxis("bottom").labelText == "lag k (steps back)"

    view.show_insight(insight("char-rnn"))                 # no read-out curve for a character model
    assert not view.tabs.isTabVisible(view.tabs.indexOf(view.memory_page))


def test_one_output_tasks_and_linear_readouts(view):
    li = insight("adding-rnn")
    view.show_insight(li)
    assert view.output_box.count() == 1 and view.selected_output() == li.T - 1
    np.testing.assert_allclose(view.saliency_values, li.saliency[li.T - 1])
    assert f"value = {li.score[0]:.3g}" in view.output_label.text()
    li = insight("parity-rnn")
    view.show_insight(li)
    assert f"p = {math.exp(li.score[0]):.2f}" in view.output_label.text()


def test_selections_survive_a_new_insight_of_the_same_run(view):
    li = insight("char-lstm")
    view.show_insight(li)
    view.select_unit(4, "c")
    view.set_span(2, 5)
    view.select_output(3)
    view.show_insight(li)
    assert view.state_box.currentData() == "c" and view.unit_box.value() == 4
    assert (view.span_start.value(), view.span_stop.value()) == (3, 5)
    assert view.selected_output() == 3
    view.show_insight(insight("char-rnn"))                 # an RNN has no cell state: back to a
    assert view.state_box.currentData() == "a"
    np.testing.assert_allclose(view.unit_values, insight("char-rnn").states["a"][:, 4])


def test_the_tooltip_is_of_the_symbol_under_the_mouse_over_either_half(view, qtbot):
    """QTextEdit's own char tooltips name the previous symbol over a symbol's left half; the token
    text looks up the token under the mouse instead."""
    li = insight("char-rnn")
    view.show_insight(li)
    qtbot.waitExposed(view)
    text = view.saliency_text
    for k in (1, 4, 7):
        rect = text._token_rect(k)
        for x in (rect.left() + 1, rect.right() - 1):
            point = QPoint(x, rect.center().y())
            assert text.token_at(point) == k
            assert f"step {k + 1}:" in text.tip(text.token_at(point))


def test_a_probe_without_outputs_is_shown_not_raised(make_window, dialogs):
    """A one-character probe has no step with a target (found by the monkey test, seed 15: the
    reset after typing one character raised IndexError in the inputs view). Every why-view and the
    gradient-flow plot's probe source show it; the inputs view says there is nothing to explain."""
    window = make_window(Config(**{**CONFIGS["char-rnn"], "probe": "t"}))
    window.why_action.setChecked(True)
    window.gradient_panel.set_source("output")
    window.explain_now()                                  # paused: computed here, at once
    li = window.controller.data.insight
    assert li is not None and li.T == 1 and not len(li.output_steps)
    view = window.inputs_view
    assert view.selected_output() is None
    assert view.output_label.text().startswith("No output to explain")
    assert view.saliency_values.size == 0
    assert window.why_panel.tau is None
    assert not dialogs.shown, dialogs.shown
