"""The control dock and what it drives: step budgets and Continue, the learning-rate slider's
1-2-5 stops, Undo, '(modified)' beside the preset, the previous run's ghost, and a dock whose
controls never move."""

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractSpinBox, QApplication, QComboBox, QLabel, QLineEdit, QSlider,
)

from rnnviz.gui import main_window as main_window_module
from rnnviz.gui.main_window import MainWindow
from rnnviz.gui.widgets import sliders
from rnnviz.gui.widgets.sliders import LogSlider
from rnnviz.training.presets import list_presets, load_preset

ONE_TWO_FIVE = {float(f"{m}e{k}") for m in (1, 2, 5) for k in range(-6, 2)}
FINE_STOPS = {float(f"{m}e{k}") for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8) for k in range(-6, 2)}


@pytest.fixture(autouse=True)
def wide_screen(monkeypatch):
    monkeypatch.setattr(MainWindow, "screen_room", lambda self: QRect(0, 0, 1600, 1000))


def wait_idle(qtbot, window, timeout=20_000):
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=timeout)


# ---- the learning-rate slider ------------------------------------------------------------------
def test_the_learning_rate_slider_stops_only_at_one_two_five_values(qtbot):
    slider = LogSlider(1e-5, 1.0, 1e-5)
    qtbot.addWidget(slider)
    seen = [slider.value()]
    slider.value_changed.connect(seen.append)
    for _ in range(40):                                  # arrow keys, all the way up
        qtbot.keyClick(slider.slider, Qt.Key.Key_Right)
    assert slider.value() == 1.0
    assert seen == sorted(ONE_TWO_FIVE & set(seen)) == [v for v in sorted(ONE_TWO_FIVE) if 1e-5 <= v <= 1]
    for _ in range(3):                                   # and down: 1 -> 0.5 -> 0.2 -> 0.1
        qtbot.keyClick(slider.slider, Qt.Key.Key_Left)
    assert slider.value() == 0.1
    # dragging: every position of the handle gives the nearest 1-2-5 value, exactly
    slider.slider.setSliderDown(True)
    dragged = set()
    for position in range(slider.slider.minimum(), slider.slider.maximum() + 1):
        slider.slider.setValue(position)
        dragged.add(slider.value())
    slider.slider.setSliderDown(False)
    assert dragged == {v for v in ONE_TWO_FIVE if 1e-5 <= v <= 1}
    assert 0.02 in dragged and 0.05 in dragged     # exactly the decimals, not 2 * 0.01


def test_shift_or_ctrl_gives_finer_stops(qtbot, monkeypatch):
    slider = LogSlider(1e-5, 1.0, 0.1)
    qtbot.addWidget(slider)
    monkeypatch.setattr(sliders.QApplication, "keyboardModifiers",
                        staticmethod(lambda: Qt.KeyboardModifier.ShiftModifier))
    values = []
    for _ in range(4):
        qtbot.keyClick(slider.slider, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
        values.append(slider.value())
    assert values == [0.12, 0.15, 0.2, 0.25]
    assert set(values) <= FINE_STOPS


def test_a_typed_learning_rate_is_kept_as_typed(qtbot):
    slider = LogSlider(1e-5, 1.0, 0.1)
    qtbot.addWidget(slider)
    slider.box.setValue(0.07)           # the parity tutorial's 0.07: not a 1-2-5 value
    assert slider.value() == 0.07


def test_no_slider_in_the_dock_is_a_stub(make_window):
    window = make_window()
    for slider in window.controls.findChildren(QSlider):
        assert slider.width() >= sliders.SLIDER_MIN_WIDTH


# ---- undo --------------------------------------------------------------------------------------
def test_undo_puts_back_the_previous_value_and_is_itself_a_recorded_change(qtbot, make_window):
    window = make_window()                      # lr 0.5
    assert not window.undo_action.isEnabled()
    window.controls._widgets["lr"].box.setValue(0.05)
    qtbot.waitUntil(lambda: window.controller.config.lr == 0.05, timeout=5_000)
    assert window.undo_action.isEnabled()
    assert window.undo_action.shortcut().toString() == "Ctrl+Z"
    window.undo_action.trigger()
    assert window.controller.config.lr == 0.5
    assert window.controls.value("lr") == 0.5
    changes = [(name, old, new) for _, name, old, new in window.controller.data.setting_changes]
    assert changes == [("lr", 0.5, 0.05), ("lr", 0.05, 0.5)]
    assert [c[1:] for c in window.controller.trainer.history.setting_changes] == changes
    assert not window.undo_action.isEnabled()           # one change, undone
    window.render_now()
    assert "Learning rate: 0.05 → 0.5" in window.cost_panel.marker_labels


def test_undo_while_training_reaches_the_worker(qtbot, make_window):
    window = make_window()
    window.controller.set_live(clip_mode="norm")
    window.controller.set_live(lr=0.25)
    window.controller.start()
    window.undo_setting_change()                        # lr back to 0.5, at the next step
    qtbot.waitUntil(lambda: any(c[1] == "lr" and c[3] == 0.5 for c in window.controller.data.setting_changes),
                    timeout=5_000)
    window.undo_setting_change()                        # clipping back to none
    qtbot.waitUntil(lambda: window.controller.data.setting_changes[-1][1:] == ("clip_mode", "norm", "none"),
                    timeout=5_000)
    window.controller.pause()
    wait_idle(qtbot, window)
    assert window.controller.trainer.config.lr == 0.5
    assert window.controller.trainer.config.clip_mode == "none"


# ---- step budgets and Continue -----------------------------------------------------------------
@pytest.fixture
def short_presets(monkeypatch):
    """Every preset 40 steps long, so a budget is reached within a second."""
    presets = [dataclasses.replace(p, steps=40) for p in list_presets()]
    monkeypatch.setattr(main_window_module, "list_presets", lambda: presets)
    return {p.name: p for p in presets}


def test_training_stops_at_the_presets_budget_and_continue_extends_it(qtbot, make_window, config, short_presets):
    window = make_window(config().replace(preset="parity-short"))
    c = window.controller
    assert c.step_budget == 40
    assert window.status_labels["step"].text() == "step 0 of 40"
    qtbot.mouseClick(window.controls.start_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert c.trainer.step_count == 40
    assert window.controls.start_button.text() == "Continue (+40)"
    assert "40" in window.statusBar().currentMessage()
    window.toggle_training()                  # Continue (what Space does at the budget)
    assert c.step_budget == 80
    wait_idle(qtbot, window)
    assert c.trainer.step_count == 80
    window.controller.step_once()             # one step more is always possible
    wait_idle(qtbot, window)
    assert c.trainer.step_count == 81
    qtbot.mouseClick(window.controls.start_button, Qt.MouseButton.LeftButton)   # Continue again
    wait_idle(qtbot, window)
    assert (c.step_budget, c.trainer.step_count) == (121, 121)


def test_a_preset_loaded_from_the_dock_brings_its_budget_and_other_runs_have_none(make_window):
    window = make_window()
    assert window.controller.step_budget is None           # not a preset's run: until paused
    assert window.load_preset("addition")
    assert window.controller.step_budget == load_preset("addition").steps == 10_000
    assert window.status_labels["step"].text() == "step 0 of 10,000"


# ---- reset forgets nothing ---------------------------------------------------------------------
def test_modified_appears_beside_the_preset_and_its_tooltip_names_the_change(qtbot, make_window):
    window = make_window(load_preset("addition").config)
    controls = window.controls
    assert controls.modified_label.text() == ""
    window.controller.set_live(lr=0.05)
    assert controls.modified_label.text() == "(modified)"
    assert "Learning rate" in controls.modified_label.toolTip()
    assert "0.1" in controls.modified_label.toolTip() and "0.05" in controls.modified_label.toolTip()
    controls._widgets["hidden"].setValue(20)                     # a pending edit counts too
    assert "Hidden units H" in controls.modified_label.toolTip()
    controls._widgets["hidden"].setValue(16)
    window.controller.set_live(lr=0.1)
    assert controls.modified_label.text() == ""
    window.controller.set_live(momentum=0.5)                      # SGD does not read it: no difference
    assert controls.modified_label.text() == ""


def test_a_run_that_is_no_preset_shows_no_preset_name(make_window):
    window = make_window(load_preset("addition").config)
    window._build_run(window.controller.config.replace(preset=None))
    assert window.controls.preset_box.currentData() is None


def test_reset_offers_save_names_the_carried_settings_and_keeps_a_ghost(qtbot, make_window, dialogs, monkeypatch):
    window = make_window()
    ghosts = []
    monkeypatch.setattr(window.cost_panel, "set_ghost", lambda *a: ghosts.append(a), raising=False)
    window.controller.set_live(lr=0.25)
    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.data.step >= 30, timeout=10_000)
    window.controller.pause()
    wait_idle(qtbot, window)
    steps = window.controller.step_count
    dialogs.answers["question"] = "Cancel"
    window.reset_run()
    assert window.controller.step_count == steps
    kind, title, text = dialogs.shown[-1]
    assert "Learning rate 0.5 → 0.25" in text
    dialogs.answers["question"] = "Discard"
    window.reset_run()
    assert window.controller.step_count == 0
    assert window.controller.config.lr == 0.25               # kept, and said so
    assert "Learning rate 0.5 → 0.25" in window.statusBar().currentMessage()
    x, y, label = window.previous_run
    assert x.shape == y.shape and x.size > 1 and np.all(np.diff(x) > 0)
    assert x[-1] <= steps and np.all(np.isfinite(y))
    assert f"{steps:,} steps" in label
    assert ghosts and ghosts[-1][2] == label


def test_the_reset_dialog_offers_save_discard_cancel_and_save_saves(qtbot, make_window, dialogs, tmp_path,
                                                                    monkeypatch):
    window = make_window()
    window.controller.step_once()
    wait_idle(qtbot, window)
    offered = []

    def dialog(kind, title, text="", *, choices=None, **kw):
        offered.append(choices)
        return dialogs(kind, title, text, choices=choices, **kw)

    monkeypatch.setattr(window, "_dialog", dialog)
    path = tmp_path / "kept.rnnviz"
    dialogs.answers.update(question="Save", save=str(path))
    window.reset_run()
    assert offered[0] == ["Save", "Discard", "Cancel"]
    assert path.exists()
    assert window.controller.step_count == 0


# ---- a dock that does not jump -----------------------------------------------------------------
def _places(controls):
    out = {}
    for name, widget in controls._widgets.items():
        out[name] = (widget.mapTo(controls, QPoint(0, 0)), widget.size())
    for button in (controls.start_button, controls.step_button, controls.reset_button, controls.preset_box):
        out[button.text() if button is not controls.preset_box else "preset"] = \
            (button.mapTo(controls, QPoint(0, 0)), button.size())
    return out


def test_the_docks_controls_do_not_move_when_the_banner_appears_or_the_cell_changes(qtbot, make_window):
    window = make_window()
    controls = window.controls
    QApplication.processEvents()
    before = _places(controls)
    controls._widgets["hidden"].setValue(12)            # "Changed: hidden units H. Applies on reset"
    window._reset_edit_timer.stop()
    QApplication.processEvents()
    assert "hidden units h" in controls.pending_label.text().lower()
    after = _places(controls)
    before.pop("Reset"), after.pop("Reset (1)")        # the Reset button says how many are pending
    assert after == before
    cell = controls._widgets["cell"]
    for choice in ("lstm", "gru", "rnn"):
        cell.setCurrentIndex(cell.findData(choice))
        cell.activated.emit(cell.currentIndex())
        window._reset_edit_timer.stop()
        QApplication.processEvents()
        now = _places(controls)
        now.pop(next(k for k in now if k.startswith("Reset")))
        assert now == before, choice
    # a setting the run does not read is disabled, and says why
    cell.setCurrentIndex(cell.findData("gru"))
    cell.activated.emit(cell.currentIndex())
    assert not controls._widgets["activation"].isEnabled()
    assert "Off for this run" in controls._widgets["activation"].toolTip()
    assert not controls._widgets["forget_bias"].isEnabled()
    assert "LSTM" in controls._labels["forget_bias"].toolTip()
    window._reset_edit_timer.stop()


def test_every_control_in_the_dock_has_a_tooltip_and_no_label_is_clipped(make_window):
    window = make_window()
    controls = window.controls
    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QLineEdit, QLabel)
    for widget in controls.findChildren(QLineEdit) + [w for k in kinds for w in controls.findChildren(k)]:
        if isinstance(widget, QLineEdit) and isinstance(widget.parent(), QAbstractSpinBox):
            continue         # a spin box's own line edit: the spin box carries the tooltip
        if isinstance(widget, QLineEdit) and isinstance(widget.parent(), QComboBox):
            continue
        if isinstance(widget, QAbstractButton) and isinstance(widget.parent(), QLineEdit):
            continue         # a line edit's clear button: Qt's own, with its own icon
        if isinstance(widget, QLabel) and not widget.text():
            continue
        assert widget.toolTip().strip(), f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r}"
    window.control_dock.resize(window.control_dock.minimumWidth(), window.control_dock.height())
    QApplication.processEvents()
    for label in controls.findChildren(QLabel):
        if label.isVisibleTo(controls) and label.text() and not label.wordWrap():
            assert label.width() >= label.sizeHint().width(), label.text()


def test_every_setting_explains_itself_in_the_same_words_in_the_dock_and_on_the_command_line(make_window, capsys):
    """One help text per setting (Config's field metadata): the dock's tooltip starts with it and
    the command line's --help shows it; seq_length's words come from the task registry."""
    import contextlib
    import re

    from rnnviz import cli
    from rnnviz.tasks import TASK_INFO
    from rnnviz.training.config import Config, field_help

    names = [f.name for f in dataclasses.fields(Config) if f.name != "preset"]
    assert all(field_help(n) for n in names)
    with contextlib.suppress(SystemExit):
        cli.main(["train", "--help"])
    shown = re.sub(r"\s+", " ", capsys.readouterr().out).replace("- ", "-")   # (wrapped at hyphens)
    window = make_window()
    controls = window.controls
    for name in names:
        assert field_help(name) in shown, name
        if name in controls._widgets and name != "seq_length":
            assert controls._tips[name].startswith(field_help(name)), name
    for task, info in TASK_INFO.items():
        controls.show_config(Config(task=task))
        label = controls._labels["seq_length"].text()
        assert label.lower() == (info.seq_length_label or "sequence length").lower(), task
        assert info.seq_length_help in controls._labels["seq_length"].toolTip(), task


# ---- stacked layers ----------------------------------------------------------------------------
def test_the_layers_row_builds_a_stacked_network_whose_states_are_listed_and_layers_explained(
        qtbot, make_window):
    """Layers 2 in the Network group applies on reset: a 2-layer network, the hidden-state panel's
    combo lists both layers' states, and the why dock explains its top layer, with a layer selector."""
    window = make_window()
    spin = window.controls._widgets["layers"]
    assert (spin.minimum(), spin.maximum(), spin.value()) == (1, 4, 1)
    assert window.why_pages.currentWidget() is window.why_tabs
    spin.setValue(2)
    window._reset_edit_timer.stop()
    window.reset_run()
    c = window.controller
    assert c.config.layers == 2 and "Waa[2]" in c.trainer.network.params
    c.step_once()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.hidden_panel.state_box.count() > 1, timeout=10_000)
    names = [window.hidden_panel.state_box.itemText(i) for i in range(window.hidden_panel.state_box.count())]
    assert names == ["hidden a<t>", "layer 2: hidden a[2]<t>"]
    window.hidden_panel.state_box.setCurrentIndex(1)
    window.hidden_panel.state_box.activated.emit(1)
    assert "a[2]<t>" in window.hidden_panel.caption.text() and "layer 2" in window.hidden_panel.caption.text()
    window.show_why()
    assert window.why_pages.currentWidget() is window.why_tabs
    assert window.why_layer_row.isVisibleTo(window) and window.why_layer_box.layer == 2
    qtbot.waitUntil(lambda: c.data.insight is not None, timeout=10_000)
    assert (c.data.insight.layer, c.data.insight.layers) == (2, 2)
    spin.setValue(1)
    window._reset_edit_timer.stop()
    window.reset_run()
    assert window.why_pages.currentWidget() is window.why_tabs
    assert not window.why_layer_row.isVisibleTo(window)


def test_the_bidirectional_box_builds_a_two_direction_network_and_is_off_for_the_character_model(
        qtbot, make_window):
    """The check box under Layers applies on reset: a bidirectional network whose reverse states the
    hidden-state combo lists and the why dock refuses in one line; for the character model the box is
    off, unchecked, and says why."""
    window = make_window()                                  # a tiny parity problem
    controls = window.controls
    box = controls._widgets["bidirectional"]
    form = controls._forms["layers"]
    assert form is controls._forms["bidirectional"]
    assert form.getWidgetPosition(box)[0] == form.getWidgetPosition(controls._widgets["layers"])[0] + 1
    assert box.isEnabled() and not box.isChecked()
    box.setChecked(True)
    assert controls.reset_changes() == {"bidirectional": True}
    window._reset_edit_timer.stop()
    window.reset_run()
    c = window.controller
    assert c.config.bidirectional and "Waa_rev" in c.trainer.network.params
    c.start(max_steps=3)
    wait_idle(qtbot, window)
    window.render_now()                                     # every panel draws the 2H-wide readout
    qtbot.waitUntil(lambda: window.hidden_panel.state_box.count() > 1, timeout=10_000)
    names = [window.hidden_panel.state_box.itemText(i) for i in range(window.hidden_panel.state_box.count())]
    assert names == ["hidden a<t>", "reverse: hidden a<t>"]
    window.hidden_panel.state_box.setCurrentIndex(1)
    window.hidden_panel.state_box.activated.emit(1)
    assert "reverse direction" in window.hidden_panel.caption.text()
    window.show_why()
    assert window.why_pages.currentWidget() is window.why_refusal
    assert "bidirectional" in window.why_refusal.text()
    controls.set_value("task", "charlm")
    controls._update_visibility()
    assert not box.isEnabled() and not box.isChecked() and "character model" in box.toolTip()
    assert controls.reset_changes() == {"task": "charlm", "bidirectional": False}
