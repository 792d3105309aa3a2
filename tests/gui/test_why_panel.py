"""The why-view as a user meets it: hidden until asked for; opened while paused it shows the
current weights' numbers; the curves are the LiveInsight's rows; a new run clears it."""

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from conftest import small_config
from rnnviz.gui.panels.why import FLOOR
from rnnviz.training.config import Config


def test_opening_the_view_while_paused_explains_the_current_weights(qtbot, make_window):
    window = make_window(small_config())
    assert not window.why_dock.isVisible()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    window.why_dock.show()
    li = window.controller.data.insight
    assert li is not None and li.step == window.controller.step_count == 1
    panel = window.why_panel
    assert "As of step 1" in panel.status.text()
    tau = int(li.output_steps[-1])
    x, y = panel.curves["loss"].getOriginalDataset()
    np.testing.assert_allclose(y, np.maximum(li.grad_a[tau, :tau + 1], FLOOR))
    assert panel.curves["bound"].getOriginalDataset()[0] is not None        # the vanilla RNN has the bound
    x, y = panel.lag_curve.getOriginalDataset()
    np.testing.assert_allclose(y, np.maximum(li.lag_median[1:], FLOOR))
    expected = "beyond the probe" if li.horizon is None else f"{li.horizon} steps"
    assert expected in panel.horizon_text.text()
    assert (li.diagnosis[0] if li.diagnosis else "No problem found") in panel.diagnosis.text().replace("&amp;", "&")

    window.controller.reset(small_config(seed=5))      # never the old run's numbers after a reset
    qtbot.wait(50)
    assert panel.status.text().startswith(("Shown while training runs", "As of step 0 "))


def test_lstm_shows_its_cell_path_and_no_bound(qtbot, make_window):
    window = make_window(Config(task="charlm", cell="lstm", hidden=8, probe="hello world"))
    window.why_dock.show()
    panel, li = window.why_panel, window.controller.data.insight
    assert panel.curves["bound"].getOriginalDataset()[0] is None or len(panel.curves["bound"].getOriginalDataset()[0]) == 0
    assert len(panel.curves["cell"].getOriginalDataset()[0]) == int(li.output_steps[-1]) + 1
    assert "cell path" in panel.horizon_text.text()


def test_training_with_the_view_open_updates_it(qtbot, make_window, monkeypatch):
    from rnnviz.gui import worker
    monkeypatch.setattr(worker, "MIN_INSIGHT_INTERVAL", 0.0)
    window = make_window(small_config())
    window.why_dock.show()
    first = window.controller.data.insight
    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.data.insight is not first, timeout=20_000)
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    li = window.controller.data.insight
    assert li.step > 0 and f"As of step {li.step:,}" in window.why_panel.status.text()


def test_on_a_small_window_the_view_is_a_tab_beside_the_controls(qtbot, make_window):
    """Opened at 1024x700 it must not widen the window past the screen (issue 15's layout rule)."""
    window = make_window(small_config())
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() <= 1024, timeout=2_000)
    window.why_action.setChecked(True)
    assert window.why_dock in window.tabifiedDockWidgets(window.control_dock)
    assert window.minimumSizeHint().width() <= 1024 and window.width() <= 1024
    window.why_action.setChecked(False)
    assert window.why_dock.isHidden() and window.controller._insight_wanted is False


def test_the_inputs_tab_shows_the_same_insight(qtbot, make_window):
    window = make_window(Config(task="charlm", cell="rnn", hidden=8, probe="hello world"))
    window.why_action.setChecked(True)
    li = window.controller.data.insight
    tau = window.inputs_view.selected_output()
    assert tau == int(li.output_steps[-1])
    np.testing.assert_allclose(window.inputs_view.saliency_values, li.saliency[tau, :tau + 1])
    window.resize(1024, 700)
    window.why_tabs.setCurrentIndex(1)
    qtbot.wait(50)
    assert window.minimumSizeHint().width() <= 1024          # neither tab widens a small window


def test_choosing_an_output_traces_that_outputs_loss(qtbot, make_window):
    """Copy has several outputs: picking one (in the list, or by a click near it
    on the plot) draws that row of the LiveInsight, and the choice survives the next update."""
    window = make_window(Config(task="copy", cell="rnn", hidden=8, seq_length=6, copy_length=3,
                                n_symbols=4, batch_size=8))
    window.why_dock.show()
    panel, li = window.why_panel, window.controller.data.insight
    steps = [int(t) for t in li.output_steps]
    assert len(steps) > 2 and panel.tau == steps[-1] and panel.tau_choice.count() == len(steps)
    tau = steps[len(steps) // 2]
    assert panel.select_tau(tau) and panel.tau == tau
    x, y = panel.curves["loss"].getOriginalDataset()
    np.testing.assert_array_equal(x, np.arange(1, tau + 2))    # time steps counted from 1, t ≤ τ
    np.testing.assert_allclose(y, np.maximum(li.grad_a[tau, :tau + 1], FLOOR))
    np.testing.assert_allclose(panel.curves["bound"].getOriginalDataset()[1],
                               np.maximum(li.bound[tau - np.arange(tau + 1)], FLOOR))
    assert f"τ = {tau + 1} back" in panel.gradient_plot.plotItem.titleLabel.text
    assert panel.tau_choice.currentText().startswith(f"τ = {tau + 1}, after ‘{li.labels[tau]}’")
    assert not panel.select_tau(steps[-1] + 5)         # not an output: nothing changes
    assert panel.tau == tau

    window.resize(1600, 1000)
    window.why_tabs.setCurrentWidget(panel)
    qtbot.waitExposed(window)
    qtbot.wait(100)                                    # laid out and ranged
    view = panel.gradient_plot.getViewBox()
    for pick in (steps[1], steps[0]):                  # near the point drawn at τ + 1
        where = view.mapViewToScene(pg.Point(pick + 1 + 0.2, float(np.mean(view.viewRange()[1]))))
        qtbot.mouseClick(panel.gradient_plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.gradient_plot.mapFromScene(where))
        assert panel.tau == pick
        qtbot.wait(50)                                 # re-ranged to the new curve
    panel.select_tau(steps[1])

    window.controller.step_once()                      # a new insight keeps the chosen output
    qtbot.waitUntil(lambda: window.controller.data.insight is not li and not window.controller.is_running,
                    timeout=10_000)
    window.render_now()
    window.why_panel.refresh(window.controller.data, False)
    assert panel.tau == steps[1]
    np.testing.assert_allclose(panel.curves["loss"].getOriginalDataset()[1],
                               np.maximum(window.controller.data.insight.grad_a[steps[1], :steps[1] + 1], FLOOR))


def test_the_horizon_is_plotted_over_training(qtbot, make_window):
    window = make_window(small_config())
    window.why_dock.show()
    for _ in range(3):
        window.controller.step_once()
        qtbot.waitUntil(lambda: not window.controller.is_running, timeout=10_000)
        window.explain_now()
    data, panel = window.controller.data, window.why_panel
    panel.refresh(data, False)
    assert len(data.horizons) >= 2
    x, y = panel.history_curve.getOriginalDataset()
    x, y = (x, y) if x is not None else ([], [])
    np.testing.assert_array_equal(x, [h[0] for h in data.horizons if h[1] is not None])
    beyond = [h[0] for h in data.horizons if h[1] is None]
    bx, by = panel.history_beyond.getOriginalDataset()
    assert list(bx if bx is not None else []) == beyond
    if beyond:
        assert set(by) == {float(data.insight.T)}      # drawn at the probe's length
    np.testing.assert_array_equal(y, [h[1] for h in data.horizons if h[1] is not None])


def _with_findings(li, *findings):
    import dataclasses
    return dataclasses.replace(li, findings=tuple(findings), diagnosis=tuple(f.line for f in findings))


def test_try_this_applies_a_live_change_now_and_marks_it(qtbot, make_window, dialogs):
    from rnnviz.insight.diagnosis import Finding

    window = make_window(small_config(lr=0.02))
    window.why_dock.show()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    panel = window.why_panel
    finding = Finding("exploding", "exploding: ‖g‖ spiked to 500 at step 5", "a smaller learning rate",
                      change={"lr": 0.01})
    panel.show_insight(_with_findings(window.controller.data.insight, finding))
    button = panel.try_buttons[0]
    assert button.isVisibleTo(panel) and "0.01" in button.text() and "new run" not in button.text()
    assert not panel.try_buttons[1].isVisibleTo(panel)
    button.click()
    assert window.controller.config.lr == 0.01 and window.controller.step_count == 1   # the same run
    assert window.controller.data.setting_changes[-1][1:] == ("lr", 0.02, 0.01)       # marked on the curve
    assert not dialogs.shown


def test_try_this_starts_a_new_run_with_a_reset_change_and_keeps_the_old_curve(qtbot, make_window, dialogs):
    from rnnviz.insight.diagnosis import Finding

    window = make_window(small_config())
    window.why_dock.show()
    for _ in range(3):
        window.controller.step_once()
        qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    panel = window.why_panel
    finding = Finding("vanishing", "vanishing: the gradient reaching step 1 is 1e-9 of step 30",
                      "an LSTM", change={"cell": "lstm"})
    panel.show_insight(_with_findings(window.controller.data.insight, finding))
    assert "new run" in panel.try_buttons[0].text()
    dialogs.answers["question"] = "Cancel"
    panel.try_buttons[0].click()
    assert window.controller.config.cell == "rnn" and window.controller.step_count == 3   # kept
    dialogs.answers["question"] = "Discard"
    panel.try_buttons[0].click()
    assert window.controller.config.cell == "lstm" and window.controller.step_count == 0
    assert "before Cell: rnn → lstm" in window.cost_panel.ghost_label


def test_the_sample_tab_inspects_what_the_network_writes_and_keeps_the_chosen_temperature(qtbot, make_window):
    window = make_window(Config(task="charlm", cell="rnn", hidden=8, probe="hello world", temperature=0.8))
    window.why_action.setChecked(True)
    li = window.controller.data.insight
    inspector = window.sample_inspector
    assert li.sample is not None and inspector.sample() is li.sample
    assert li.sample.first == "h" and li.sample.temperature == 0.8
    n = len(li.sample.chars)
    assert li.sample.saliency.shape == (n, n)                       # a click on a character shows a row
    assert inspector.explain(n - 1)
    np.testing.assert_array_equal(inspector.saliency_values, li.sample.saliency[n - 1])
    inspector.explain(None)
    assert inspector.temperature_value() == pytest.approx(0.8)
    inspector.set_temperature(0.3)
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    window.explain_now()
    assert window.controller.data.insight is not li and inspector.sample() is window.controller.data.insight.sample
    assert inspector.temperature_value() == pytest.approx(0.3)      # the user's choice survives the update
    window.controller.reset(Config(task="parity", hidden=4, seq_length=4, n_train=16, n_test=8))
    qtbot.wait(50)
    window.explain_now()
    assert inspector.sample() is None and inspector.stack.currentWidget() is inspector.empty


def test_the_jacobians_tab_shows_the_same_insight(qtbot, make_window):
    window = make_window(Config(task="copy", cell="lstm", hidden=8, seq_length=6, copy_length=3,
                                n_symbols=4, batch_size=8))
    window.why_action.setChecked(True)
    li = window.controller.data.insight
    window.why_tabs.setCurrentWidget(window.dynamics_view)
    np.testing.assert_array_equal(window.dynamics_view.sigma_max, li.step_sigma[:, 0])
    assert set(window.dynamics_view.gate_points) == {"f", "i", "o"}
    window.controller.reset(small_config())
    qtbot.wait(50)
    assert not window.dynamics_view.gate_points


def test_the_dock_and_the_gradient_flow_panel_number_the_same_output_alike(qtbot, make_window):
    """Steps are numbered from 1 across the window: for one output, the dock's τ list and plot title,
    the inputs tab's output list and caption, and the gradient-flow panel's τ list and τ line all
    say the same τ; both lists hold the same entries."""
    window = make_window(Config(task="copy", cell="rnn", hidden=8, seq_length=6, copy_length=3,
                                n_symbols=4, batch_size=8))
    window.why_dock.show()
    flow = window.gradient_panel
    flow.set_source("output")
    window.render_now()
    panel, li = window.why_panel, window.controller.data.insight
    steps = [int(t) for t in li.output_steps]
    assert [panel.tau_choice.itemText(i) for i in range(panel.tau_choice.count())] == \
           [flow.tau_box.itemText(i) for i in range(flow.tau_box.count())]
    for tau in (steps[0], steps[len(steps) // 2], steps[-1]):
        assert panel.select_tau(tau) and flow.select_tau(tau) and window.inputs_view.select_output(tau)
        shown = f"τ = {tau + 1}"
        assert panel.tau_choice.currentText() == flow.tau_box.currentText()
        assert panel.tau_choice.currentText().startswith(shown + ",")
        assert flow.tau_line.label.format == shown and flow.tau_line.value() == tau + 1
        assert f"{shown} back to each step" in panel.gradient_plot.plotItem.titleLabel.text
        assert window.inputs_view.output_box.currentText().startswith(f"{tau + 1} ")
        assert window.inputs_view.output_label.text().startswith(f"output at step {tau + 1}:")
