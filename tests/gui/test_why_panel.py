"""The why-view as a user meets it: hidden until asked for; opened while paused it shows the
current weights' numbers; the curves are the LiveInsight's rows; a new run clears it."""

import numpy as np
import pytest

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
