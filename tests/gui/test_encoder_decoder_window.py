"""The window with an encoder–decoder task: it trains dates-attention, the hidden-state panel
shows the encoder's and decoder's states and the attention matrix (output step × input step,
rows summing to 1, output symbols on y, input symbols on x), the attention check box is a
"Network" setting read by those tasks only, and the why dock says in one line why it has nothing."""

import numpy as np
import pytest
from PySide6.QtCore import QRect

from rnnviz.gui.main_window import MainWindow
from rnnviz.tasks.dates import INPUT_LENGTH, OUTPUT_LENGTH
from rnnviz.training.presets import load_preset


@pytest.fixture(autouse=True)
def wide_screen(monkeypatch):
    monkeypatch.setattr(MainWindow, "screen_room", lambda self: QRect(0, 0, 1600, 1000))


def dates_config(**changes):
    return load_preset("dates-attention").config.replace(hidden=8, n_test=20, eval_every=3, **changes)


def test_the_window_trains_dates_and_shows_the_attention_matrix(qtbot, make_window):
    window = make_window(dates_config())
    window.resize(1600, 1000)
    window.controller.start(max_steps=6)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=60_000)
    window.render_now()                 # the frame budget may hold the last frame back for seconds
    panel = window.hidden_panel
    assert panel.shown_step() == 6
    names = [panel.state_box.itemText(i) for i in range(panel.state_box.count())]
    assert names == ["encoder a<t'>", "decoder s<t>", "attention α<t,t'>"]
    assert panel._state_name == "attention α<t,t'>"              # it opens on the alignment
    probe = window.controller.data.probe
    alpha = np.asarray(probe.states["attention α<t,t'>"])
    assert alpha.shape == (OUTPUT_LENGTH, INPUT_LENGTH)          # (Ty, Tx)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(panel.image.image, alpha)
    assert panel.colorbar.levels() == (0.0, 1.0)
    # x: the input symbols read; y: the symbols the decoder wrote, one per output step
    bottom = [label for _, label in panel.plot.getAxis("bottom")._tickLevels[0]]
    left = [label for _, label in panel.plot.getAxis("left")._tickLevels[0]]
    assert len(left) == OUTPUT_LENGTH and all(s in "0123456789-" for s in left)
    assert "".join(left) == "".join(probe.output_labels)
    assert bottom and set(bottom) <= set(probe.labels) | {"␣"}
    assert panel.plot.getAxis("left").labelText.startswith("output step")

    # the encoder's states: units by input steps; the decoder's: units by output steps
    for name, steps in (("encoder a<t'>", INPUT_LENGTH), ("decoder s<t>", OUTPUT_LENGTH)):
        panel.state_box.setCurrentText(name)
        panel._on_state_box_activated(panel.state_box.currentIndex())
        assert panel.image.image.shape == (8, steps)
        assert len(panel._labels) == steps
        assert panel.plot.getAxis("left").labelText == "hidden unit"


def test_attention_is_a_network_check_box_read_by_encoder_decoder_tasks_only(qtbot, make_window):
    window = make_window(dates_config())
    controls = window.controls
    box = controls._widgets["attention"]
    assert box.isEnabled() and box.isChecked()
    box.setChecked(False)
    assert controls.reset_changes() == {"attention": False}
    assert controls.edited_config().attention is False
    controls.set_value("task", "parity")
    controls._update_visibility()
    assert not box.isEnabled() and "encoder–decoder" in box.toolTip()


def test_without_attention_the_panel_shows_the_two_state_heatmaps(qtbot, make_window):
    window = make_window(dates_config(attention=False))
    window.controller.start(max_steps=2)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=60_000)
    window.render_now()
    panel = window.hidden_panel
    assert panel.shown_step() == 2
    assert [panel.state_box.itemText(i) for i in range(panel.state_box.count())] == \
        ["encoder a<t'>", "decoder s<t>"]


def test_the_why_dock_says_in_one_line_that_it_does_not_cover_an_encoder_decoder(qtbot, make_window):
    window = make_window(dates_config())
    window.show_why(True)
    window.explain_now()                                   # refused: nothing computed, nothing raised
    assert window.why_pages.currentWidget() is window.why_refusal
    line = window.why_refusal.text()
    assert "encoder–decoder" in line and "\n" not in line
    window.controller.reset(window.controller.config.replace(task="charlm"))   # a run the views cover
    assert window.why_pages.currentWidget() is window.why_tabs


def test_the_gradient_flow_panel_names_the_encoders_steps_and_matrix(qtbot, make_window):
    window = make_window(dates_config())
    window.controller.start(max_steps=2)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=60_000)
    window.render_now()
    panel = window.gradient_panel
    assert "Spectral radius of enc.Waa" in panel.header.text()
    assert panel.latest.getAxis("bottom").labelText == "input step t'"
