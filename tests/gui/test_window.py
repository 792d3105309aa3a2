"""The window as a user drives it: training on a thread, live settings, reset, sessions, closing."""

import re

import numpy as np
import pytest
from PySide6.QtCore import QRect, Qt

from rnnviz.gui.main_window import MainWindow, settings


@pytest.fixture(autouse=True)
def wide_screen(monkeypatch):
    """These tests drive the window on a 1600 x 1000 screen (Qt's offscreen one is 800 x 800):
    the four panels side by side. tests/gui/test_layout.py tries small screens."""
    monkeypatch.setattr(MainWindow, "screen_room", lambda self: QRect(0, 0, 1600, 1000))


def wait_steps(qtbot, window, n, timeout=10_000):
    qtbot.waitUntil(lambda: window.controller.data.step >= n, timeout=timeout)


def pause_and_wait(qtbot, window):
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)


def test_start_streams_snapshots_and_pause_stops_training(qtbot, make_window):
    window = make_window()
    qtbot.mouseClick(window.controls.start_button, Qt.MouseButton.LeftButton)
    assert window.controller.state == "running"
    assert window.controls.start_button.text() == "Pause"
    wait_steps(qtbot, window, 20)
    qtbot.mouseClick(window.controls.start_button, Qt.MouseButton.LeftButton)   # pause
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    trainer = window.controller.trainer
    data = window.controller.data
    # Every step reached the GUI, in order, including the last one before the pause.
    assert data.step == trainer.step_count
    np.testing.assert_array_equal(data.loss.x, np.arange(1, trainer.step_count + 1))
    np.testing.assert_array_equal(data.loss.mean, trainer.history.loss)
    # Paused means paused: no more steps arrive.
    qtbot.wait(200)
    assert trainer.step_count == data.step
    assert window.controls.start_button.text() == "Start"
    window.render_now()
    x, y = window.cost_panel.raw_curve.getOriginalDataset()   # a closed band over the steps
    # from step 1 to the last: its first and last pixel columns' centres lie within one column of
    # them (a column holds several steps when many ran before the pause)
    spacing = np.diff(np.unique(x)).max() if np.unique(x).size > 1 else 0.0
    assert 1 <= x.min() <= 1 + spacing
    assert trainer.step_count - spacing <= x.max() <= trainer.step_count
    assert window.hidden_panel.image.image.shape == (8, 8)       # 8 hidden units x 8 bits
    assert window.gradient_panel.latest_a.getOriginalDataset()[0].size == 8
    assert "step" in window.sampling_panel.text.toPlainText()


def test_snapshots_are_copies_the_worker_cannot_change(qtbot, make_window):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 5)
    pause_and_wait(qtbot, window)
    probe = window.controller.data.probe
    with pytest.raises(ValueError):
        probe.states["hidden a<t>"][0, 0] = 1.0


def test_step_once_takes_exactly_one_step(qtbot, make_window):
    window = make_window()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert window.controller.trainer.step_count == 1
    assert window.controller.data.step == 1


def test_live_learning_rate_change_reaches_trainer_and_is_marked(qtbot, make_window):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 5)
    window.controls._widgets["lr"].box.setValue(0.05)     # what typing into the box does
    qtbot.waitUntil(lambda: window.controller.config.lr == 0.05, timeout=5_000)
    marked_at = window.controller.data.step
    wait_steps(qtbot, window, marked_at + 5)
    pause_and_wait(qtbot, window)
    trainer = window.controller.trainer
    assert trainer.config.lr == 0.05
    changes = [(name, old, new) for _, name, old, new in trainer.history.setting_changes]
    assert ("lr", 0.5, 0.05) in changes
    window.render_now()
    assert "Learning rate: 0.5 → 0.05" in window.cost_panel.marker_labels


def test_live_change_while_paused_applies_to_the_trainer(qtbot, make_window):
    window = make_window()
    window.controls._widgets["clip_mode"].setCurrentIndex(
        window.controls._widgets["clip_mode"].findData("norm"))
    window.controls._widgets["clip_mode"].activated.emit(0)
    assert window.controller.trainer.config.clip_mode == "norm"
    assert window.gradient_panel.threshold.isVisible()


def test_reset_with_a_new_hidden_size_asks_and_rebuilds(qtbot, make_window, dialogs):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 5)
    pause_and_wait(qtbot, window)
    window.controls._widgets["hidden"].setValue(12)
    assert "hidden units" in window.controls.pending_label.text()
    assert window.controller.trainer.config.hidden == 8          # not applied until reset
    dialogs.answers["question"] = "Cancel"
    qtbot.mouseClick(window.controls.reset_button, Qt.MouseButton.LeftButton)
    assert window.controller.trainer.config.hidden == 8          # the user kept the weights
    assert "Save the trained weights first?" in dialogs.titles("question")
    dialogs.answers["question"] = "Discard"
    qtbot.mouseClick(window.controls.reset_button, Qt.MouseButton.LeftButton)
    trainer = window.controller.trainer
    assert trainer.config.hidden == 12
    assert trainer.step_count == 0
    assert trainer.network.params["Waa"].shape == (12, 12)
    assert window.hidden_panel.image.image.shape[0] == 12
    assert "hidden units" not in window.controls.pending_label.text()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert window.controller.trainer.step_count == 1


def test_changing_a_reset_setting_before_training_applies_without_asking(qtbot, make_window, dialogs):
    window = make_window()
    window.controls._widgets["hidden"].setValue(5)
    qtbot.waitUntil(lambda: window.controller.trainer.config.hidden == 5, timeout=5_000)
    assert dialogs.shown == []


def test_closing_with_a_reset_edit_pending_does_not_rebuild_the_closed_window(qtbot, make_window):
    window = make_window()
    window.controls._widgets["hidden"].setValue(5)      # arms the delayed rebuild
    window.close()
    qtbot.wait(600)                                      # past the rebuild's delay: nothing runs
    assert window.controller.trainer.config.hidden != 5


def test_task_options_are_labelled_for_the_task(qtbot, make_window):
    window = make_window()
    labels = window.controls._labels
    assert labels["seq_length"].text() == "Bits T"
    box = window.controls._widgets["task"]
    box.setCurrentIndex(box.findData("copy"))
    box.activated.emit(box.currentIndex())
    assert labels["seq_length"].text() == "Lag"
    box.setCurrentIndex(box.findData("charlm"))
    box.activated.emit(box.currentIndex())
    assert labels["seq_length"].text() == "Chunk length"
    assert window.controls._forms["corpus"].isRowVisible(window.controls._widgets["corpus"])


def test_every_control_explains_itself(make_window):
    window = make_window()
    for name, widget in window.controls._widgets.items():
        assert len(widget.toolTip()) > 20, name


def test_non_finite_step_pauses_with_a_message_and_keeps_the_weights(qtbot, make_window, config, dialogs):
    window = make_window(config(lr=1e300))
    before = {k: v.copy() for k, v in window.controller.trainer.network.params.items()}
    window.controller.start()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=10_000)
    assert "Training paused: a step went non-finite" in dialogs.titles("error")
    assert "non-finite" in dialogs.texts("error")[-1]
    trainer = window.controller.trainer
    for name, value in trainer.network.params.items():
        assert np.isfinite(value).all()
        np.testing.assert_array_equal(value, before[name])
    # Lower the learning rate and continue.
    window.controls._widgets["lr"].box.setValue(0.1)
    qtbot.waitUntil(lambda: window.controller.config.lr == 0.1, timeout=5_000)
    window.controller.start()
    wait_steps(qtbot, window, 3)
    pause_and_wait(qtbot, window)
    assert window.controller.trainer.step_count >= 3
    assert np.isfinite(window.controller.data.loss.mean).all()


def test_an_exception_in_the_worker_shows_a_dialog_and_the_app_keeps_running(qtbot, make_window, dialogs):
    window = make_window()
    trainer = window.controller.trainer
    real_step = trainer.step

    def failing_step():
        if trainer.step_count >= 3:
            raise RuntimeError("simulated engine failure")
        return real_step()

    trainer.step = failing_step
    window.controller.start()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=10_000)
    assert "Training stopped by an error" in dialogs.titles("error")
    assert "simulated engine failure" in dialogs.texts("error")[-1]
    assert window.controller.data.step == 3
    trainer.step = real_step
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert window.controller.trainer.step_count == 4


def test_a_failure_reading_the_history_for_a_snapshot_shows_a_dialog_and_training_stops(qtbot, make_window, dialogs):
    window = make_window()
    history = window.controller.trainer.history

    def broken_block_since(*args):
        raise RuntimeError("simulated history failure")

    history.block_since = broken_block_since
    window.controller.start()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=10_000)
    assert "simulated history failure" in dialogs.texts("error")[-1]
    del history.block_since
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert window.controller.data.step == window.controller.trainer.step_count


def test_closing_while_training_stops_the_thread_and_offers_to_save(qtbot, make_window, dialogs):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 5)
    thread = window.controller._thread
    dialogs.answers["question"] = "Cancel"
    assert not window.close()                      # the user cancelled: still open, still training
    assert "Save this run?" in dialogs.titles("question")
    assert window.controller.is_running
    dialogs.answers["question"] = "Discard"
    thread = window.controller._thread
    assert window.close()
    assert not window.controller.is_running
    assert thread.isFinished()


def test_close_saves_window_settings_in_the_temporary_location(qtbot, make_window, temporary_settings):
    window = make_window()
    window.panel_actions["sampling"].setChecked(False)
    assert window.close()
    assert any(temporary_settings.rglob("*.ini"))
    assert settings().value("window/hidden_panels") in (["sampling"], "sampling")
    second = make_window()
    assert not second.panel_actions["sampling"].isChecked()


def test_bad_session_file_shows_a_dialog_and_keeps_the_current_session(qtbot, make_window, tmp_path, dialogs):
    window = make_window()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    trainer = window.controller.trainer
    bad = tmp_path / "broken.rnnviz"
    bad.write_bytes(b"PK\x03\x04 this is not really a session")
    dialogs.answers["open"] = str(bad)
    dialogs.answers["question"] = "Discard"
    window.open_session_dialog()
    assert "Could not open session" in dialogs.titles("error")
    assert "broken.rnnviz" in dialogs.texts("error")[-1]
    assert window.controller.trainer is trainer
    assert window.controller.step_count == 1


def test_a_corpus_that_is_not_text_is_refused_with_a_reason(qtbot, make_window, tmp_path, dialogs):
    window = make_window()
    trainer = window.controller.trainer
    binary = tmp_path / "picture.png"
    binary.write_bytes(bytes(range(256)) * 64)
    window.open_dropped_file(str(binary))
    assert "Cannot use this corpus" in dialogs.titles("error")
    message = dialogs.texts("error")[-1]
    assert "picture.png" in message and "binary" in message       # which file, and why
    assert "The current run is unchanged." in message
    assert window.controller.trainer is trainer
    assert window.controls.value("task") == "parity"      # the controls show the run that is kept


def test_save_and_reopen_through_the_menu_code(qtbot, make_window, tmp_path, dialogs):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 10)
    window.controls._widgets["lr"].box.setValue(0.25)
    qtbot.waitUntil(lambda: window.controller.config.lr == 0.25, timeout=5_000)
    wait_steps(qtbot, window, window.controller.data.step + 3)
    pause_and_wait(qtbot, window)
    path = tmp_path / "run.rnnviz"
    dialogs.answers["save"] = str(tmp_path / "run")          # the suffix is added
    assert window.save_as()
    assert path.exists()
    assert window.controller.path == str(path)
    assert "*" not in window.windowTitle()
    saved = window.controller.trainer
    params = {k: v.copy() for k, v in saved.network.params.items()}
    steps = saved.step_count

    other = make_window()
    dialogs.answers["open"] = str(path)
    other.open_session_dialog()
    reopened = other.controller.trainer
    assert reopened is not saved
    assert reopened.step_count == steps
    assert reopened.config.lr == 0.25
    for name, value in params.items():
        np.testing.assert_array_equal(reopened.network.params[name], value)
    np.testing.assert_array_equal(other.controller.data.loss.mean, window.controller.data.loss.mean)
    other.render_now()
    assert "Learning rate: 0.5 → 0.25" in other.cost_panel.marker_labels
    assert str(path) in settings().value("recent_files")
    assert other.recent_menu.actions()[0].text() == "run.rnnviz"


def test_export_history_csv_has_a_row_per_step(qtbot, make_window, tmp_path):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 12)
    pause_and_wait(qtbot, window)
    out = tmp_path / "history.csv"
    window.export_history(str(out))
    lines = out.read_text().splitlines()
    assert lines[0].startswith("step,loss,grad_norm,grad_norm_Wax")
    assert "test_accuracy" in lines[0]
    assert len(lines) == 1 + window.controller.trainer.step_count
    first = lines[1].split(",")
    assert first[0] == "1" and float(first[1]) == window.controller.trainer.history.loss[0]


def test_export_plot_png_and_svg(qtbot, make_window, tmp_path):
    window = make_window()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    window.render_now()
    window.export_plot(window.cost_panel.plot, str(tmp_path / "cost.png"))
    window.export_plot(window.gradient_panel.graphics.ci, str(tmp_path / "grad.svg"))
    assert (tmp_path / "cost.png").stat().st_size > 1000
    assert "<svg" in (tmp_path / "grad.svg").read_text()


def test_cost_panel_log_scale_is_a_true_log_axis(make_window):
    window = make_window()
    window.cost_panel.log_box.setChecked(True)
    assert window.cost_panel.plot.getAxis("left").logMode


def test_run_gui_autostart_quit_after_and_screenshot(qtbot, tmp_path, temporary_settings):
    from rnnviz.gui.app import run_gui
    shot = tmp_path / "shot.png"
    assert run_gui(preset="addition", autostart=True, quit_after=1.5, screenshot=str(shot)) == 0
    assert shot.stat().st_size > 10_000
    # closing saved the window's settings, and into the test's folder, not the user's
    assert any(temporary_settings.rglob("*.ini"))
    assert settings().value("window/geometry") is not None


def test_pause_cuts_a_long_full_batch_step_short_without_changing_the_weights(qtbot, make_window, config,
                                                                            monkeypatch):
    """A full-batch step on a big training set can take many seconds; pause must not wait for it.
    Here every time step of the forward pass takes 0.5 s (a step would take seconds); the engine
    polls the pause flag between time steps."""
    import threading
    import time

    from rnnviz.engine import cells

    window = make_window(config(batch_size=0))
    trainer = window.controller.trainer
    entered = threading.Event()
    slow = threading.Event()
    slow.set()
    tanh = cells.ACTIVATIONS["tanh"]

    def slow_tanh(z, out=None):
        if slow.is_set() and trainer.network.cancel is not None:    # in the step, not the probe
            entered.set()
            time.sleep(0.5)
        return tanh(z, out=out)

    monkeypatch.setitem(cells.ACTIVATIONS, "tanh", slow_tanh)
    before = {k: v.copy() for k, v in trainer.network.params.items()}
    window.controller.start()
    qtbot.waitUntil(entered.is_set, timeout=5_000)
    t0 = time.perf_counter()
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert time.perf_counter() - t0 < 2.0             # a whole step would take seconds
    assert trainer.step_count == 0
    assert trainer.network.cancel is None             # the stop check does not outlive the step
    for name, value in trainer.network.params.items():
        np.testing.assert_array_equal(value, before[name])
    slow.clear()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert trainer.step_count == 1


def test_lstm_heatmap_switches_between_hidden_cell_and_gates(qtbot, make_window, config):
    window = make_window(config(cell="lstm"))
    window.render_now()
    panel = window.hidden_panel
    names = [panel.state_box.itemText(i) for i in range(panel.state_box.count())]
    assert names[0].startswith("hidden") and any("cell" in n for n in names)
    assert any("forget" in n for n in names) and any("output" in n for n in names)
    assert panel.colorbar.levels() == (-1.0, 1.0)
    forget = next(i for i, n in enumerate(names) if "forget" in n)
    panel.state_box.setCurrentIndex(forget)
    panel.state_box.activated.emit(forget)
    assert panel.colorbar.levels() == (0.0, 1.0)          # gates: sequential map from 0 to 1
    assert panel.image.image.shape == (8, 8)


def test_hover_readouts_name_step_and_value(qtbot, make_window):
    window = make_window()
    window.controller.start()
    wait_steps(qtbot, window, 10)
    pause_and_wait(qtbot, window)
    window.render_now()
    vb = window.cost_panel.plot.vb
    y_mid = sum(vb.viewRange()[1]) / 2
    window.cost_panel._on_hover_proxy_fired((vb.mapViewToScene(pg_point(5, y_mid)),))
    # step 5 alone, or the steps of the pixel column holding it when more steps ran before the pause
    found = re.match(r"steps? (\d+)(?:–(\d+))?: loss", window.cost_panel.readout.text())
    assert found, window.cost_panel.readout.text()
    assert int(found[1]) <= 5 <= int(found[2] or found[1])
    hb = window.hidden_panel.plot.vb
    window.hidden_panel._on_hover_proxy_fired((hb.mapViewToScene(pg_point(2.5, 3.5)),))
    text = window.hidden_panel.readout.text()
    assert text.startswith("unit 3, step t=3, input") and "hidden a<t> =" in text


def pg_point(x, y):
    from PySide6.QtCore import QPointF
    return QPointF(x, y)


def test_character_model_samples_on_demand_and_while_training(qtbot, make_window, config, tmp_path, dialogs):
    corpus = tmp_path / "book.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 400, encoding="utf-8")
    window = make_window(config(task="charlm", corpus=str(corpus), seq_length=10, hidden=12, batch_size=1,
                                optimizer="adagrad", lr=0.1, clip_mode="value", sample_every=20,
                                sample_length=30, eval_every=50))
    assert window.sampling_panel.controls.isVisibleTo(window)
    assert "step 0" in window.sampling_panel.text.toPlainText()   # the untrained network's text
    qtbot.mouseClick(window.sampling_panel.sample_button, Qt.MouseButton.LeftButton)
    window.render_now()
    assert window.sampling_panel.text.toPlainText().count("step 0") == 2
    window.controller.start()
    wait_steps(qtbot, window, 60)
    pause_and_wait(qtbot, window)
    window.render_now()
    assert "step 20 " in window.sampling_panel.text.toPlainText()
    assert window.cost_panel.metric_box.currentData() == "bits_per_char"
    # A priming text the model cannot read is explained in the sample box; training goes on.
    window.sampling_panel.prime_edit.setText("Ωmega")
    window.sampling_panel.prime_edit.editingFinished.emit()
    assert window.controller.config.prime == "Ωmega"
    window.controller.start()
    qtbot.waitUntil(lambda: (window.render_now(), "[no sample:" in window.sampling_panel.text.toPlainText())[1],
                    timeout=10_000)
    pause_and_wait(qtbot, window)
    assert window.controller.trainer.step_count > 60
    assert dialogs.shown == []


def test_dropping_a_session_file_opens_it(qtbot, make_window, tmp_path, dialogs):
    first = make_window()
    first.controller.step_once()
    qtbot.waitUntil(lambda: not first.controller.is_running, timeout=5_000)
    path = tmp_path / "dropped.rnnviz"
    first.controller.save_session(str(path))
    second = make_window()
    second.open_dropped_file(str(path))
    assert second.controller.trainer.step_count == 1
    assert second.windowTitle().startswith("dropped.rnnviz")


def test_view_menu_hides_panels_and_reset_layout_brings_them_back(make_window):
    window = make_window()
    window.panel_actions["gradient"].setChecked(False)
    window.control_dock.toggleViewAction().trigger()
    assert not window.panel_shown("gradient")
    assert not window.control_dock.isVisible()
    window.reset_layout()
    assert window.panel_shown("gradient")
    assert window.control_dock.isVisible()


def test_forget_bias_control_shows_for_the_lstm_and_rebuilds_its_weights(qtbot, make_window, config, dialogs):
    rnn_window = make_window()                                  # a vanilla RNN: no forget gate
    assert not rnn_window.controls._widgets["forget_bias"].isEnabled()
    assert "only the LSTM" in rnn_window.controls._widgets["forget_bias"].toolTip()
    window = make_window(config(cell="lstm"))
    widget = window.controls._widgets["forget_bias"]
    assert widget.isEnabled()
    assert "forget" in widget.toolTip().lower()
    widget.setValue(3.0)                                        # before training: applies at once
    qtbot.waitUntil(lambda: window.controller.trainer.config.forget_bias == 3.0, timeout=5_000)
    H = window.controller.trainer.config.hidden
    assert np.all(window.controller.trainer.network.params["ba"][:H] == 3.0)
    assert dialogs.shown == []


def test_garbage_is_collected_by_the_gui_thread_while_training_runs(qtbot, make_window):
    """The training thread must never free reference cycles that hold Qt objects (in PySide6 a
    QObject destructor run there can deadlock against the GUI thread, or crash): while it runs,
    automatic collection is off and the GUI thread collects on a timer; afterwards it is back."""
    import gc
    import threading
    import weakref

    from PySide6.QtCore import QObject

    window = make_window()
    collectors = []

    def record(phase, info):
        if phase == "stop":
            collectors.append(threading.current_thread() is threading.main_thread())

    assert gc.isenabled()
    gc.callbacks.append(record)
    try:
        window.controller.start()
        wait_steps(qtbot, window, 20)
        assert not gc.isenabled()
        refs = []
        for _ in range(2_000):     # cycles holding Qt objects, as replaced plot items can leave
            holder = {"qt": QObject()}
            holder["self"] = holder
            refs.append(weakref.ref(holder["qt"]))
        del holder
        qtbot.waitUntil(lambda: all(r() is None for r in refs), timeout=5_000)
        assert window.controller.is_running
        window.controller.pause()
        qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    finally:
        gc.callbacks.remove(record)
    assert gc.isenabled()
    assert collectors and all(collectors)


def test_paints_no_redraw_asked_for_count_against_the_drawing_budget_only_while_training(make_window, monkeypatch):
    """Drawing is held to RENDER_SHARE of the time during training, Qt's own repaints included
    (at most STRAY_PAINT_MAX of them per redraw); while paused, a resize or hovering costs the next
    redraw nothing."""
    from rnnviz.gui import frames as mw

    window = make_window()
    view = window.cost_panel.views[0]
    frame = 0.004

    def wait_after(stray):
        window.frames.view_painted(view, stray)     # a paint outside any frame
        window.frames.cost = frame
        window.frames.finish_frame()
        return window.frames.wait

    assert wait_after(1.0) == pytest.approx(frame / mw.RENDER_SHARE - frame)       # paused: free
    monkeypatch.setattr(type(window.controller), "is_running", property(lambda self: True))
    assert wait_after(0.01) == pytest.approx((frame + 0.01) / mw.RENDER_SHARE - (frame + 0.01))
    capped = frame + mw.STRAY_PAINT_MAX
    assert wait_after(1.0) == pytest.approx(capped / mw.RENDER_SHARE - capped)
    assert window.frames.frame_cost == frame                   # what the frame itself cost


def test_a_frame_waits_for_every_panel_it_redrew_to_paint_and_counts_all_of_them(qtbot, make_window, monkeypatch):
    """One frame redraws all four panels; its cost is every refresh and every paint, and the next
    frame waits for that whole cost (a frame is skipped, never a panel)."""
    from rnnviz.gui import frames as mw

    window = make_window()
    window.resize(1600, 1000)
    qtbot.wait(50)
    window.controller.step_once()
    qtbot.waitUntil(lambda: window.controller.data.step == 1 and not window.controller.is_running, timeout=10_000)
    refreshed = []
    for key, panel in window._panels.items():
        original = panel.refresh
        monkeypatch.setattr(panel, "refresh", lambda data, k=key, f=original: refreshed.append(k) or f(data))
    window.frames.timer.stop()
    window.frames.stray_paint = 0.0                                   # (paints while step_once ran)
    window.frames.dirty.update(window._panels)
    window.controller.data.revision += 1                        # news for every panel
    window.hidden_panel.clear()                                 # (its news is a probe it has not shown)
    window.frames.draw_frame()                                      # what the render timer calls
    assert sorted(refreshed) == sorted(window._panels)          # all four in one frame
    assert {window.frames.view_panel[v] for v in window.frames.painting} == {"cost", "hidden", "gradient"}
    assert not window.controller.gui_idle.is_set()              # the worker holds back meanwhile
    for view in list(window.frames.painting)[:-1]:                    # Qt paints each view once
        window.frames.view_painted(view, 0.005)
        assert window.frames.painting                                 # the frame waits for the last one
    window.frames.view_painted(next(iter(window.frames.painting)), 0.005)
    assert not window.frames.painting and window.controller.gui_idle.is_set()
    assert window.frames.frame_cost >= 3 * 0.005
    cost = window.frames.frame_cost
    assert window.frames.wait == pytest.approx(max(mw.RENDER_MIN_GAP, cost / mw.RENDER_SHARE - cost))


def test_the_speed_reads_seconds_per_step_below_one_step_a_second(make_window, monkeypatch):
    from rnnviz.gui.main_window import speed_text

    assert speed_text(0.4) == "2.5 s/step"                     # parity-100k's full-batch step
    assert speed_text(0.05) == "20 s/step"
    assert speed_text(1.5) == "1.5 steps/s"
    assert speed_text(1020.4) == "1,020 steps/s"
    assert speed_text(0.0) == ""                               # no rate measured yet: no "0 steps/s"
    window = make_window()
    monkeypatch.setattr(type(window.controller), "state", property(lambda self: "running"))
    window.controller.steps_per_second = 0.4
    window._update_status()
    assert window.status_labels["speed"].text() == "2.5 s/step"


@pytest.mark.parametrize("task, unit", [("adding", "squared error"), ("parity", "nats per sequence")])
def test_the_loss_axis_says_the_tasks_unit(make_window, config, task, unit):
    from rnnviz.gui import main_window as mw
    from rnnviz.gui.panels import cost

    assert mw.loss_axis_label is cost.loss_axis_label          # one implementation, the panel's
    window = make_window(config(task=task, seq_length=10, batch_size=4) if task == "adding" else config())
    assert unit in window.cost_panel.loss_label
    assert "nats" not in window.cost_panel.loss_label or task != "adding"


def test_the_window_and_application_carry_rnnviz_icon(make_window):
    from rnnviz.gui.main_window import application_icon
    icon = application_icon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} >= {16, 32, 64, 256}
    image = icon.pixmap(64, 64).toImage()
    assert image.pixelColor(32, 32).alpha() == 255            # drawn, not blank
    assert not make_window().windowIcon().isNull()


@pytest.mark.parametrize("name, reason", [
    ("missing-folder/shot.png", "does not exist"),
    ("shot.jpg", "must be a .png file"),
    ("shot", "must be a .png file"),
    ("folder.png", "is a folder"),
])
def test_an_unwritable_screenshot_path_is_refused_before_the_window_opens(tmp_path, capsys, name, reason):
    from rnnviz.gui.app import run_gui
    (tmp_path / "folder.png").mkdir()
    assert run_gui(preset="addition", quit_after=30, screenshot=str(tmp_path / name)) == 2
    err = capsys.readouterr().err
    assert reason in err and len(err.splitlines()) == 1
    from PySide6.QtWidgets import QApplication
    assert not any(w.isVisible() for w in QApplication.topLevelWidgets())


def test_the_command_line_refuses_a_screenshot_in_a_missing_folder_at_once(tmp_path):
    import os
    import subprocess
    import sys
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", "rnnviz", "gui", "--autostart", "--quit-after", "30",
                          "--screenshot", str(tmp_path / "nowhere" / "x.png")],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"rnnviz: cannot write the screenshot {tmp_path / 'nowhere' / 'x.png'}: "
        f"the folder {tmp_path / 'nowhere'} does not exist"]


def test_quit_after_quits_even_when_the_screenshot_fails(qtbot, tmp_path, monkeypatch, capsys):
    import time

    from rnnviz.gui import main_window
    from rnnviz.gui.app import run_gui

    def broken(self, path):
        raise OSError("the disk is full")
    monkeypatch.setattr(main_window.MainWindow, "save_screenshot", broken)
    started = time.monotonic()
    assert run_gui(preset="addition", autostart=True, quit_after=1.0, screenshot=str(tmp_path / "x.png")) == 1
    assert time.monotonic() - started < 20
    assert "the disk is full" in capsys.readouterr().err
    from PySide6.QtWidgets import QApplication
    assert not any(isinstance(w, main_window.MainWindow) and w.isVisible() for w in QApplication.topLevelWidgets())


def test_quit_after_quits_even_when_stopping_fails(qtbot, monkeypatch, capsys):
    from rnnviz.gui import controller
    from rnnviz.gui.app import run_gui
    original = controller.TrainingController.stop_and_wait
    calls = []

    def failing_once(self, timeout_ms=None):
        calls.append(timeout_ms)
        if len(calls) == 1:
            raise RuntimeError("simulated failure while stopping")
        return original(self, timeout_ms)
    monkeypatch.setattr(controller.TrainingController, "stop_and_wait", failing_once)
    assert run_gui(preset="addition", autostart=True, quit_after=1.0) == 1
    assert "simulated failure while stopping" in capsys.readouterr().err
