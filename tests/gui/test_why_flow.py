"""Issue 17's views 1 and 2 where the issue puts them, as a user meets them: the gradient-flow plot's
source selector draws the LiveInsight's rows for the chosen output τ (a click picks τ), the window
computes those numbers only while a probe source is chosen (or the why dock is shown), and the strip
under the hidden-state heatmap is the one-step Jacobians' σmax, column under column."""

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt

from conftest import small_config
from rnnviz.gui import worker as worker_module
from rnnviz.gui.panels.gradient_flow import SOURCES, GradientFlowPanel
from rnnviz.gui.panels.jacobian_gauge import CLASS_COLOURS
from rnnviz.gui.run_data import RunData
from rnnviz.insight.live import live_insight
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

COPY = dict(task="copy", seq_length=6, copy_length=3, n_symbols=4, batch_size=8, hidden=8)
CONFIGS = {"rnn": Config(**COPY, cell="rnn"), "lstm": Config(**COPY, cell="lstm"),
           "gru": Config(**COPY, cell="gru")}
_cache = {}


def insight(cell, steps=3):
    if cell not in _cache:
        trainer = Trainer(CONFIGS[cell])
        with trainer.running():
            for _ in range(steps):
                trainer.step()
        _cache[cell] = live_insight(trainer, memory=False)
    return _cache[cell]


def data_with(li) -> RunData:
    data = RunData()
    data.set_insight(li)
    return data


@pytest.fixture
def panel(qtbot):
    from rnnviz.gui.app import _configure_pyqtgraph

    _configure_pyqtgraph()
    p = GradientFlowPanel()
    qtbot.addWidget(p)
    p.resize(900, 450)
    p.show()
    qtbot.waitExposed(p)
    return p


def curve(item):
    x, y = item.getOriginalDataset()
    return (np.array([]), np.array([])) if x is None else (np.asarray(x), np.asarray(y))


def drawn(row) -> np.ndarray:
    """A row as a log axis draws it: zeros are gaps (∂L<τ>/∂c<τ> is 0 for the LSTM, for one)."""
    row = np.asarray(row, dtype=float)
    return np.where(row > 0, row, np.nan)


def title(panel) -> str:
    return panel.latest.titleLabel.text


def y_label(panel) -> str:
    return panel.latest.getAxis("left").labelText


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_each_source_draws_the_insights_rows_for_the_chosen_output(panel, cell):
    li = insight(cell)
    steps = [int(t) for t in li.output_steps]
    assert len(steps) >= 3
    panel.refresh(data_with(li))
    assert panel.source == "all" and panel.tau is None and not panel.wants_insight
    box = panel.source_box
    # (the per-layer view is offered for stacked networks only)
    assert [(box.itemData(i), box.itemText(i)) for i in range(box.count())] == \
        [(key, text) for key, text in SOURCES.items() if key != "layers"]
    assert box.currentText() == "all losses (training batch)"
    assert curve(panel.latest_a)[0].size == 0              # no training step yet: the batch curve is empty

    panel.set_source("output")
    assert panel.wants_insight and panel.tau == steps[-1]   # the last output by default
    tau = steps[1]
    assert panel.select_tau(tau) and panel.tau == tau
    x, y = curve(panel.latest_a)
    np.testing.assert_array_equal(x, np.arange(1, tau + 2))   # time steps counted from 1, t ≤ τ
    np.testing.assert_array_equal(y, drawn(li.grad_a[tau, :tau + 1]))
    if cell == "lstm":
        np.testing.assert_array_equal(curve(panel.latest_c)[1], drawn(li.grad_c[tau, :tau + 1]))
        assert "∂c⟨t⟩" in title(panel)
    else:
        assert curve(panel.latest_c)[0].size == 0
    assert ("∂L⟨τ⟩/∂(a, c)⟨t⟩" if cell == "lstm" else "∂L⟨τ⟩/∂a⟨t⟩") in y_label(panel)
    assert "∂L⟨τ⟩/∂a⟨t⟩" in title(panel)
    assert curve(panel.latest_bound)[0].size == 0
    assert panel.tau_line.value() == tau + 1 and f"as of step {li.step:,}" in panel.probe_note.text()

    panel.set_source("recurrence")
    assert panel.tau == tau                                  # τ stays across sources
    x, y = curve(panel.latest_a)
    np.testing.assert_array_equal(x, np.arange(1, tau + 2))
    np.testing.assert_array_equal(y, drawn(li.state_norm[tau, :tau + 1]))
    assert "σmax" in y_label(panel)
    if cell == "rnn":                                        # Pascanu et al.'s bound, vanilla RNN only
        np.testing.assert_array_equal(curve(panel.latest_bound)[1], drawn(li.bound[tau - np.arange(tau + 1)]))
        assert "bound" in title(panel) and "∂a⟨τ⟩/∂a⟨t⟩" in y_label(panel)
    else:
        assert curve(panel.latest_bound)[0].size == 0 and "bound" not in title(panel)
    if cell == "lstm":                                       # the state is [a; c]: both blocks as well
        np.testing.assert_array_equal(curve(panel.latest_ablock)[1], drawn(li.a_norm[tau, :tau + 1]))
        np.testing.assert_array_equal(curve(panel.latest_c)[1], drawn(li.c_norm[tau, :tau + 1]))
        assert "∂state⟨τ⟩/∂state⟨t⟩" in y_label(panel) and "c→c" in title(panel)
    else:
        assert curve(panel.latest_ablock)[0].size == 0 and curve(panel.latest_c)[0].size == 0

    panel.set_source("all")                                  # back to the training batch
    assert curve(panel.latest_a)[0].size == 0 and not panel.tau_line.isVisible()
    assert y_label(panel).startswith("‖∂L/∂a⟨t⟩‖") and not panel.tau_box.isVisible()


def test_a_probe_source_without_numbers_says_computing_until_they_arrive(panel):
    data = RunData()
    panel.refresh(data)
    panel.set_source("recurrence")
    assert panel.waiting.isVisible() and panel.probe_note.text() == "computing…"
    assert curve(panel.latest_a)[0].size == 0 and panel.tau is None
    li = insight("rnn")
    data.set_insight(li)
    assert panel.refresh(data)
    assert not panel.waiting.isVisible() and panel.tau == int(li.output_steps[-1])
    np.testing.assert_array_equal(curve(panel.latest_a)[1], drawn(li.state_norm[panel.tau, :panel.tau + 1]))
    data.drop_insight()                                      # never the old numbers once they are gone
    panel.refresh(data)
    assert panel.waiting.isVisible() and curve(panel.latest_a)[0].size == 0
    with pytest.raises(ValueError, match="unknown gradient source"):
        panel.set_source("everything")


def test_clicking_near_a_point_picks_that_output(qtbot, panel):
    li = insight("rnn")
    panel.refresh(data_with(li))
    panel.set_source("output")
    steps = [int(t) for t in li.output_steps]
    qtbot.wait(50)                                           # laid out and ranged
    view = panel.latest.getViewBox()
    for tau in (steps[0], steps[1]):
        where = view.mapViewToScene(pg.Point(tau + 1 + 0.2, float(np.mean(view.viewRange()[1]))))
        qtbot.mouseClick(panel.graphics.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.graphics.mapFromScene(where))
        assert panel.tau == tau
        assert panel.tau_box.currentData() == tau
        np.testing.assert_array_equal(curve(panel.latest_a)[1], drawn(li.grad_a[tau, :tau + 1]))
    outside = panel.over_time.getViewBox().sceneBoundingRect().center()   # another plot: nothing changes
    qtbot.mouseClick(panel.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.graphics.mapFromScene(outside))
    assert panel.tau == steps[1]
    assert not panel.select_tau(steps[-1] + 5) and panel.tau == steps[1]   # not an output


def test_the_window_wants_insight_while_a_probe_source_is_chosen(qtbot, make_window):
    window = make_window(CONFIGS["rnn"])
    c, panel = window.controller, window.gradient_panel
    c.step_once()
    qtbot.waitUntil(lambda: not c.is_running, timeout=5_000)
    assert not window.why_dock.isVisible() and not c.insight_wanted and c.data.insight is None
    assert not window.hidden_panel.jacobian_strip.isVisible()

    index = panel.source_box.findData("output")               # as the user picks it
    panel.source_box.setCurrentIndex(index)
    panel.source_box.activated.emit(index)
    assert c.insight_wanted
    li = c.data.insight                                       # paused: computed for the weights as they are
    assert li is not None and li.step == c.step_count == 1
    window.render_now()
    tau = int(li.output_steps[-1])
    np.testing.assert_array_equal(curve(panel.latest_a)[1], drawn(li.grad_a[tau, :tau + 1]))

    window.why_dock.show()                                    # the dock too: still wanted once it goes
    panel.set_source("all")
    assert c.insight_wanted
    window.why_dock.hide()
    assert not c.insight_wanted
    panel.set_source("recurrence")
    assert c.insight_wanted
    panel.set_source("all")
    assert not c.insight_wanted

    c.step_once()                                             # nobody keeps the numbers up to date:
    qtbot.waitUntil(lambda: not c.is_running, timeout=5_000)  # they are dropped, never shown stale
    window.render_now()
    assert c.data.insight is None and not window.hidden_panel.jacobian_strip.isVisible()


def test_while_training_a_probe_source_shows_computing_until_its_numbers_arrive(qtbot, make_window, monkeypatch):
    monkeypatch.setattr(worker_module, "MIN_INSIGHT_INTERVAL", 0.0)
    window = make_window(small_config())
    c, panel = window.controller, window.gradient_panel
    c.start()
    qtbot.waitUntil(lambda: c.data.step >= 5, timeout=10_000)
    panel.set_source("output")
    assert c.insight_wanted and c.data.insight is None       # never wanted before: none computed yet
    assert panel.waiting.isVisible() and curve(panel.latest_a)[0].size == 0
    qtbot.waitUntil(lambda: c.data.insight is not None, timeout=20_000)
    c.pause()
    qtbot.waitUntil(lambda: not c.is_running, timeout=5_000)
    window.render_now()
    li = c.data.insight
    assert not panel.waiting.isVisible() and li.step > 0
    np.testing.assert_array_equal(curve(panel.latest_a)[1], drawn(li.grad_a[panel.tau, :panel.tau + 1]))


def test_the_choice_survives_updates_and_resets_with_tau_clamped(qtbot, make_window):
    window = make_window(Config(**{**COPY, "seq_length": 8}, cell="rnn"))
    c, panel = window.controller, window.gradient_panel
    panel.set_source("recurrence")
    window.render_now()
    li = c.data.insight
    steps = [int(t) for t in li.output_steps]
    assert panel.select_tau(steps[-2])

    c.step_once()                                             # a new insight keeps source and τ
    qtbot.waitUntil(lambda: not c.is_running and c.data.insight is not li, timeout=10_000)
    window.render_now()
    assert panel.source == "recurrence" and panel.tau == steps[-2]
    np.testing.assert_array_equal(curve(panel.latest_a)[1], drawn(c.data.insight.state_norm[steps[-2], :steps[-2] + 1]))

    window.controls.show_config(Config(**{**COPY, "seq_length": 3}, cell="rnn"))   # a shorter probe
    window.reset_run()
    window.render_now()
    li = c.data.insight
    assert c.insight_wanted and li is not None and li.step == 0
    assert panel.source == "recurrence" and panel.source_box.currentData() == "recurrence"
    assert panel.tau == int(li.output_steps[-1]) < steps[-2]          # clamped to the new probe's outputs
    np.testing.assert_array_equal(curve(panel.latest_a)[1], drawn(li.state_norm[panel.tau, :panel.tau + 1]))
    lo, hi = panel.latest.getViewBox().viewRange()[0]
    assert lo <= 1 and li.T <= hi < li.T + 1                          # the new probe's time steps


def test_the_strip_under_the_heatmap_is_the_one_step_spectrum_column_by_column(qtbot, make_window):
    window = make_window(Config(task="charlm", cell="lstm", hidden=8, probe="hello world, hello"))
    window.resize(1600, 1000)
    hidden = window.hidden_panel
    window.render_now()
    assert not hidden.jacobian_strip.isVisible() and hidden.strip_sigma is None   # off until insight
    window.gradient_panel.set_source("recurrence")
    window.render_now()
    li = window.controller.data.insight
    assert hidden.jacobian_strip.isVisible() and hidden.gauge_strip.isVisible()
    np.testing.assert_array_equal(hidden.strip_sigma, li.step_sigma[:, 0])
    x, y = curve(hidden.sigma_curve)
    np.testing.assert_array_equal(x, np.arange(li.T) + 0.5)             # the heatmap's column centres
    np.testing.assert_allclose(y, np.maximum(li.step_sigma[:, 0], 1e-4))
    brushes = [pg.mkBrush(b).color().name().upper() for b in hidden.gauge_cells.opts["brushes"]]
    assert brushes == [CLASS_COLOURS[k].upper() for k in li.step_class]
    strip_view, heat_view = hidden.jacobian_strip.getViewBox(), hidden.plot.getViewBox()
    qtbot.waitUntil(lambda: strip_view.viewRange()[0] == heat_view.viewRange()[0], timeout=3_000)   # once laid out
    assert heat_view.viewRange()[0] == pytest.approx([0, li.T])
    heat, strip = hidden.plot.getViewBox().sceneBoundingRect(), hidden.jacobian_strip.getViewBox().sceneBoundingRect()
    assert (heat.left(), heat.width()) == pytest.approx((strip.left(), strip.width()), abs=0.5)   # columns line up
    assert hidden.jacobian_strip.getViewBox().toolTip() and "σmax" in hidden.jacobian_key.text()

    before = (hidden.plot.getViewBox().sceneBoundingRect(), hidden.graphics.size(), hidden.readout.size())
    t = 3
    for target in (hidden.jacobian_strip, hidden.plot):      # hovering reads values, moves nothing
        point = target.getViewBox().mapViewToScene(QPointF(t + 0.5, target.getViewBox().viewRange()[1][0]
                                                           + 0.5 * np.ptp(target.getViewBox().viewRange()[1])))
        hidden._on_hover_proxy_fired((point,))
        if target is hidden.jacobian_strip:
            assert f"{li.step_sigma[t, 0]:.3g}" in hidden.readout.text() and li.step_class[t] in hidden.readout.text()
        qtbot.wait(20)
        assert (hidden.plot.getViewBox().sceneBoundingRect(), hidden.graphics.size(), hidden.readout.size()) == before
