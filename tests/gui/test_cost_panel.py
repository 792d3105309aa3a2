"""The cost plot tells the truth at a glance: the raw loss as a min-max band per pixel column, a
debiased moving average to read, the chance level, log and recent-steps views; and its hover
readout never changes the size of anything."""

import itertools
import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF

from rnnviz.gui.panels.cost import OFF_SCALE, CostPanel, smoothed
from rnnviz.gui.run_data import LossEnvelope, RunData, ema_blocks, pixel_columns


@pytest.fixture
def panel(qtbot):
    from rnnviz.gui.app import _configure_pyqtgraph

    _configure_pyqtgraph()
    panel = CostPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 420)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


REVISIONS = itertools.count(1000)     # each RunData built here is news to a panel


def run_data(losses, first_step=1, evals=(), smooth=None, chance=None) -> RunData:
    data = RunData()
    steps = np.arange(first_step, first_step + len(losses))
    data.loss.extend(steps, losses)
    if smooth is not None:
        data.smooth_loss.extend(steps, smooth)
    data.evals = list(evals)
    data.step = int(steps[-1]) if len(steps) else 0
    data.chance_loss = chance
    data.revision = next(REVISIONS)
    return data


def show(qtbot, panel, data):
    panel.refresh(data)
    qtbot.wait(20)             # deferred redraws (a new range or width) run
    return panel


def drawn_band(panel):
    """(x, low, high) of the band as drawn: along the highs, then back along the lows."""
    x, y = panel.raw_curve.getOriginalDataset()
    n = len(x) // 2
    return x[:n], y[n:][::-1], y[:n]


# ---- the hover readout never changes a minimum size --------------------------------------------
def hover_everywhere(qtbot, panel):
    """Hover along the plot at many positions, with the readouts the issue reported (steps in the
    tens of thousands, a min-char-rnn smooth_loss and the test metric), then past its edges."""
    vb = panel.plot.vb
    (x0, x1), (y0, y1) = vb.viewRange()
    for fraction in np.linspace(-0.1, 1.1, 41):
        point = vb.mapViewToScene(QPointF(x0 + fraction * (x1 - x0), 0.5 * (y0 + y1)))
        panel._on_hover_proxy_fired((point,))
    qtbot.wait(20)


def test_long_hover_readouts_leave_every_minimum_size_unchanged(qtbot, make_window):
    window = make_window()
    window.resize(1580, 960)
    qtbot.wait(50)
    cost = window.cost_panel
    losses = np.random.default_rng(0).uniform(34.64, 52.72, 36_180)
    data = run_data(losses, evals=[(26_000, {"bits_per_char": 3.206}), (36_000, {"bits_per_char": 3.1})],
                    smooth=losses * 0.99, chance=78.3)
    show(qtbot, cost, data)
    before = (window.minimumSizeHint(), window.minimumWidth(), cost.minimumSizeHint(), cost.minimumWidth(),
              window.panel_frames["cost"].minimumSizeHint(), cost.width(), window.hidden_panel.width())
    hover_everywhere(qtbot, cost)
    text = cost.readout.text()
    assert text.startswith("steps ") and "3.1" in text and "smooth_loss" in text
    cost.readout.setText("x" * 2000 + " the longest readout anyone will ever see")
    qtbot.wait(20)
    after = (window.minimumSizeHint(), window.minimumWidth(), cost.minimumSizeHint(), cost.minimumWidth(),
             window.panel_frames["cost"].minimumSizeHint(), cost.width(), window.hidden_panel.width())
    assert after == before
    assert cost.readout.width() <= cost.width()
    assert window.minimumSizeHint().width() <= 1580         # the window still fits where it was made


def test_the_panel_is_no_wider_at_its_minimum_than_its_controls_need(panel):
    """Log x, log y and the step range fit beside the smoothing slider: the panel's minimum width
    stays what the window was designed around (the readout never adds to it)."""
    assert panel.minimumSizeHint().width() <= 380
    assert panel.readout.minimumSizeHint().width() < 40


# ---- the raw loss: lowest and highest of every pixel column -------------------------------------
def reference_columns(steps, values, x0, x1, width, log_x=False):
    """Per-column min, max and mean of every step's loss, straight from NumPy (one step at a time)."""
    if log_x:
        where = (np.log10(steps) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))
    else:
        where = (steps - x0) / (x1 - x0)
    inside = (steps >= x0) & (steps <= x1)
    column = np.clip((where[inside] * width).astype(int), 0, width - 1)
    used = np.unique(column)
    lo = np.array([values[inside][column == c].min() for c in used])
    hi = np.array([values[inside][column == c].max() for c in used])
    mean = np.array([values[inside][column == c].mean() for c in used])
    return used, lo, hi, mean


@pytest.mark.parametrize("log_x", [False, True])
def test_the_band_covers_the_raw_min_and_max_of_each_pixel_column(log_x):
    rng = np.random.default_rng(5)
    n = 20_000                                    # one step per bucket: compare step by step
    values = 3.0 * np.exp(-np.arange(n) / 3000) + rng.gamma(2.0, 0.2, n)
    values[[17, 4321, 19_998]] = [40.0, 25.0, 0.0]         # spikes must stay in sight
    env = LossEnvelope()
    env.extend(np.arange(1, n + 1), values)
    assert env.size == 1
    x0, x1 = (1.0, 25_000.0) if log_x else (-400.0, 25_000.0)
    columns = pixel_columns(env, x0, x1, 600, log_x=log_x)
    used, lo, hi, mean = reference_columns(np.arange(1, n + 1, dtype=float), values, x0, x1, 600, log_x)
    assert len(columns) == used.size
    np.testing.assert_array_equal(columns.lo, lo)
    np.testing.assert_array_equal(columns.hi, hi)
    np.testing.assert_allclose(columns.mean, mean, rtol=1e-12)
    assert columns.hi.max() == 40.0 and columns.lo.min() == 0.0
    assert columns.first[0] == 1 and columns.last[-1] == n
    np.testing.assert_array_equal(columns.first[1:], columns.last[:-1] + 1)    # every step, once


def test_merged_buckets_still_bound_every_step_and_a_zoom_shows_only_its_steps():
    rng = np.random.default_rng(6)
    n = 300_000
    values = rng.random(n)
    values[123_457] = 99.0
    env = LossEnvelope()
    for start in range(0, n, 7919):
        env.extend(np.arange(start + 1, min(start + 7919, n) + 1), values[start:start + 7919])
    assert env.size > 1
    columns = pixel_columns(env, 0.0, n * 1.05, 500)
    assert len(columns) <= 500 and columns.hi.max() == 99.0
    for i in range(len(columns)):                 # each column spans its steps, bounds each of them
        part = values[int(columns.first[i]) - 1:int(columns.last[i])]
        assert columns.lo[i] == part.min() and columns.hi[i] == part.max()
    zoom = pixel_columns(env, 100_000, 101_000, 500)
    assert zoom.first[0] >= 100_000 - env.size and zoom.last[-1] <= 101_000 + env.size


def test_the_panel_draws_that_band_and_the_readout_names_a_column(qtbot, panel):
    rng = np.random.default_rng(7)
    values = rng.random(50_000) + 1.0
    data = run_data(values)
    show(qtbot, panel, data)
    x, low, high = drawn_band(panel)
    x0, x1 = panel.visible_steps()
    columns = pixel_columns(data.loss, x0, x1, max(int(panel.plot.vb.width()), 50))
    np.testing.assert_array_equal(x, columns.x)
    np.testing.assert_array_equal(low, columns.lo)
    np.testing.assert_array_equal(high, columns.hi)
    assert len(x) <= panel.plot.vb.width() + 1         # at most one point per pixel column
    i = len(columns) // 2
    first, last = int(columns.first[i]), int(columns.last[i])
    assert panel.readout_text(i).startswith(
        f"steps {first:,}–{last:,}: loss {values[first - 1:last].min():.4g} to {values[first - 1:last].max():.4g}")


# ---- the smoothed line ----------------------------------------------------------------------
def test_debiased_ema_has_no_startup_bias_and_matches_the_textbook_loop():
    constant = np.full(1000, 2.5)
    for beta in (0.0, 0.6, 0.9, 0.99, 0.999):
        np.testing.assert_allclose(ema_blocks(constant, beta)[0], 2.5, rtol=1e-12)
    x = np.random.default_rng(1).random(3000)
    beta = 0.95
    expected, e = [], 0.0
    for t, v in enumerate(x):
        e = beta * e + (1 - beta) * v
        expected.append(e / (1 - beta ** (t + 1)))       # TensorBoard's debiasing
    np.testing.assert_allclose(ema_blocks(x, beta)[0], expected, rtol=1e-10)


def test_the_smoothed_line_is_that_ema_across_the_drawn_columns(qtbot, panel):
    data = run_data(np.full(40_000, 0.693))
    show(qtbot, panel, data)
    x, y = panel.ema_curve.getOriginalDataset()
    np.testing.assert_allclose(y, 0.693, rtol=1e-6)          # a constant loss: a flat line from the start
    rng = np.random.default_rng(2)
    data = run_data(rng.random(40_000))
    panel.set_smoothing(0.8)
    show(qtbot, panel, data)
    x, y = panel.ema_curve.getOriginalDataset()
    columns = panel._columns
    np.testing.assert_allclose(y, smoothed(columns, 0.8))
    np.testing.assert_array_equal(x, columns.x)
    # the same share of the plot whatever range is shown: as many columns in "last 1k" as in all
    panel.set_recent(1000)
    qtbot.wait(20)
    assert len(panel.ema_curve.getOriginalDataset()[0]) > 0.5 * len(x)


# ---- axes -------------------------------------------------------------------------------------
def test_log_loss_axis_leaves_the_metric_axis_linear(qtbot, panel):
    data = run_data(np.linspace(5.0, 0.05, 2000), evals=[(s, {"accuracy": s / 2000}) for s in range(100, 2001, 100)])
    show(qtbot, panel, data)
    panel.log_box.setChecked(True)
    show(qtbot, panel, data)
    assert panel.plot.getAxis("left").logMode
    right = panel.plot.getAxis("right")
    assert not right.logMode
    assert panel.metric_view.state["logMode"] == [False, False]
    assert panel.metric_view.viewRange()[1] == pytest.approx([0, 1.02])
    assert [float(t) for t in right.tickStrings([0.0, 0.5, 1.0], 1.0, 0.5)] == [0.0, 0.5, 1.0]
    x, y = panel.metric_curve.getData()
    np.testing.assert_allclose(y, np.arange(100, 2001, 100) / 2000)   # drawn as they are, not log10
    lo, hi = panel.plot.vb.viewRange()[1]
    assert lo < math.log10(0.06) and hi > math.log10(4.9)              # the loss axis is log10
    panel.log_box.setChecked(False)
    assert not panel.plot.getAxis("left").logMode and not right.logMode


def test_log_x_and_recent_steps_change_the_visible_range(qtbot, panel):
    data = run_data(np.random.default_rng(3).random(50_000))
    show(qtbot, panel, data)
    lo, hi = panel.visible_steps()
    assert lo <= 0 and 50_000 <= hi <= 62_000
    panel.set_recent(1000)
    show(qtbot, panel, data)
    lo, hi = panel.visible_steps()
    assert 48_800 <= lo <= 49_000 and 50_000 <= hi <= 50_250
    assert panel._columns.first[0] >= 48_800
    panel.set_recent(10_000)
    lo, hi = panel.visible_steps()
    assert 38_800 <= lo <= 40_000 and 50_000 <= hi <= 51_500
    # the range follows training in jumps of a tenth
    more = run_data(np.random.default_rng(3).random(50_950))
    show(qtbot, panel, more)
    assert panel.visible_steps() == pytest.approx((lo, hi))
    more = run_data(np.random.default_rng(3).random(51_200))
    show(qtbot, panel, more)
    assert panel.visible_steps()[1] > hi

    panel.set_recent(None)
    panel.log_x_box.setChecked(True)
    show(qtbot, panel, more)
    assert panel.plot.getAxis("bottom").logMode
    assert "log" in panel.plot.getAxis("bottom").labelText
    lo, hi = panel.visible_steps()
    assert 0.8 <= lo <= 1.0 and 51_200 <= hi <= 70_000
    columns = panel._columns
    assert columns.first[0] == 1 and columns.last[-1] == 51_200
    assert np.count_nonzero(columns.last <= 100) >= 50     # the first hundred steps get room
    assert panel.plot.getAxis("bottom").logTickStrings([0, 2, 4], 1.0, 1.0) == ["1", "100", "10,000"]
    panel.log_x_box.setChecked(False)
    lo, hi = panel.visible_steps()
    assert lo <= 0 and 51_200 <= hi <= 62_000


def test_markers_and_metric_move_with_a_log_step_axis(qtbot, panel):
    data = run_data(np.ones(5000), evals=[(1000, {"accuracy": 0.5})])
    data.setting_changes = [(2000, "lr", 0.1, 0.05)]
    show(qtbot, panel, data)
    line = panel.marker_lines.lines[0][0]
    assert line.value() == 2000
    panel.log_x_box.setChecked(True)
    assert line.value() == pytest.approx(math.log10(2000))
    assert panel.metric_curve.getData()[0] == pytest.approx([math.log10(1000)])


# ---- the chance level ----------------------------------------------------------------------------
CHANCE_CONFIGS = {
    "parity": dict(task="parity", seq_length=8, n_train=1000, n_test=32, hidden=8, batch_size=0, reduction="mean"),
    "addition": dict(task="addition", n_bits=8, n_test=32, hidden=8, reduction="sum"),
    "copy": dict(task="copy", seq_length=5, n_symbols=8, copy_length=4, n_test=32, hidden=8, batch_size=4,
                 reduction="mean"),
    "adding": dict(task="adding", seq_length=10, n_test=32, hidden=8, batch_size=4),
    "charlm": dict(task="charlm", seq_length=25, hidden=8, reduction="sum"),
}
EXPECTED_CHANCE = {"parity": math.log(2), "addition": 8 * math.log(2), "copy": math.log(8), "adding": 1 / 6}


@pytest.mark.parametrize("task", list(CHANCE_CONFIGS))
def test_the_chance_line_sits_at_the_tasks_chance_level(qtbot, panel, task):
    from rnnviz.training.config import Config
    from rnnviz.training.trainer import Trainer

    text = "the quick brown fox jumps over the lazy dog. " * 100
    trainer = Trainer(Config(**CHANCE_CONFIGS[task]), corpus_text=text if task == "charlm" else None)
    chance = trainer.task.chance_loss()
    if task == "charlm":
        counts = np.unique(list(text[:len(trainer.task.train_ids)]), return_counts=True)[1]
        p = counts / counts.sum()
        assert chance == pytest.approx(25 * float(-(p * np.log(p)).sum()), rel=1e-3)
    else:
        assert chance == pytest.approx(EXPECTED_CHANCE[task], rel=2e-3)
    with trainer.running():
        for _ in range(20):
            trainer.step()
    data = RunData()
    data.load_history(trainer.history, trainer.step_count, chance)
    show(qtbot, panel, data)
    assert panel.chance_level == chance
    assert panel.chance_line.isVisible() and panel.chance_line.value() == pytest.approx(chance)
    assert panel.chance_line.label.textItem.toPlainText() == f"chance level {chance:.4g}"
    panel.log_box.setChecked(True)
    assert panel.chance_line.value() == pytest.approx(math.log10(chance))
    panel.clear()
    assert panel.chance_level is None and not panel.chance_line.isVisible()


def test_the_window_shows_the_chance_level_once_training_runs(qtbot, make_window):
    window = make_window()
    trainer = window.controller.trainer
    chance = trainer.task.chance_loss()
    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.data.step >= 5, timeout=10_000)
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    window.render_now()
    assert window.cost_panel.chance_level == pytest.approx(chance)
    assert isinstance(window.cost_panel.chance_line, pg.InfiniteLine)


# ---- the first screen, the previous run, the step budget, the loss's unit -------------------------
def test_before_the_first_step_the_loss_axis_shows_the_chance_level(qtbot, panel):
    data = run_data([], chance=78.3)                     # char-rnn's chance level, no step yet
    show(qtbot, panel, data)
    y0, y1 = panel.plot.vb.viewRange()[1]
    assert y0 <= 0 and 78.3 < y1 <= 78.3 * 1.5 + 1e-9     # on screen, below the legend
    assert panel.chance_line.isVisible()
    panel.log_box.setChecked(True)
    y0, y1 = panel.plot.vb.viewRange()[1]
    assert y0 < math.log10(78.3) < y1
    panel.log_box.setChecked(False)
    show(qtbot, panel, run_data(np.linspace(5.0, 4.0, 50), chance=78.3))   # then fitted: data and chance
    y0, y1 = panel.plot.vb.viewRange()[1]
    assert y0 < 4.0 and 78.3 < y1 < 78.3 * 1.2
    assert panel.plot.vb.state["autoRange"][1]


def test_the_ghost_is_the_previous_runs_curve_named_in_the_legend_and_survives_clear(qtbot, panel):
    steps, values = np.arange(1.0, 501.0), np.linspace(4.2, 1.5, 500)
    panel.set_ghost(steps, values, "previous run (Character RNN, 500 steps)")
    show(qtbot, panel, run_data(np.linspace(4.0, 3.0, 50)))
    x, y = panel.ghost_curve.getOriginalDataset()
    np.testing.assert_array_equal(x, steps)
    np.testing.assert_array_equal(y, values)
    legend = [label.text for _, label in panel.legend.items]
    assert "previous run (Character RNN, 500 steps)" in legend
    assert panel.ghost_curve.opts["pen"].color().alpha() < 255          # faint
    panel.clear()                                                       # the window clears first
    assert panel.ghost_label == "previous run (Character RNN, 500 steps)"
    assert panel.ghost_curve.getOriginalDataset()[0].size == 500
    panel.set_ghost(steps[:10], values[:10], "previous run (Parity, 10 steps)")   # a new one replaces it
    legend = [label.text for _, label in panel.legend.items]
    assert "previous run (Parity, 10 steps)" in legend
    assert not any("500 steps" in text for text in legend)
    panel.set_ghost(np.empty(0), np.empty(0), "")
    assert panel.ghost_label is None and not any("previous run" in t for t in [lb.text for _, lb in panel.legend.items])


def test_the_ghost_keeps_its_steps_on_a_log_step_axis(qtbot, panel):
    panel.set_ghost(np.array([1.0, 10.0, 100.0]), np.array([3.0, 2.0, 1.0]), "previous run")
    show(qtbot, panel, run_data(np.linspace(4.0, 3.0, 100)))
    panel.log_x_box.setChecked(True)
    x, _ = panel.ghost_curve.getData()
    np.testing.assert_allclose(x, [0.0, 1.0, 2.0])


def test_the_budget_is_a_labelled_line_on_the_step_axis(qtbot, panel):
    show(qtbot, panel, run_data(np.linspace(4.0, 3.0, 900)))
    panel.set_budget(1000)
    assert panel.budget == 1000
    assert panel.budget_line.isVisible() and panel.budget_line.value() == 1000
    assert panel.budget_line.label.textItem.toPlainText() == "budget 1,000"
    x0, x1 = panel.plot.vb.viewRange()[0]
    assert x0 < 1000 < x1                                 # 900 steps of 1,000: the axis reaches it
    assert "up to step 900 of 1,000" in panel.caption.text()
    panel.log_x_box.setChecked(True)
    assert panel.budget_line.value() == pytest.approx(3.0)
    panel.log_x_box.setChecked(False)
    panel.set_budget(2000)                                # Continue
    assert panel.budget_line.value() == 2000 and "budget 2,000" in panel.budget_line.label.textItem.toPlainText()
    panel.set_budget(None)
    assert panel.budget is None and not panel.budget_line.isVisible()
    assert "of 2,000" not in panel.caption.text()


def test_the_loss_axis_says_the_losss_unit_and_fits_a_short_axis(qtbot, panel):
    from rnnviz.gui.panels.cost import loss_axis_label, shorter_labels
    from rnnviz.training.config import Config

    assert loss_axis_label(Config(task="adding")) == "training loss (squared error)"
    text = loss_axis_label(Config(task="charlm", seq_length=25, reduction="sum"))
    assert text == "training loss (nats, summed over 25 characters)"
    forms = shorter_labels(text)
    assert forms[0] == text and "loss (nats/25 chars)" in forms
    panel.set_loss_label(text)
    axis = panel.plot.getAxis("left")
    panel.resize(700, 600)
    qtbot.wait(30)
    assert axis.labelText == text                         # room for the whole text
    panel.resize(700, 260)
    qtbot.wait(30)
    assert axis.labelText in forms[1:]                    # shortened, never clipped
    assert axis.label.boundingRect().width() <= panel.plot.vb.height()
    assert axis.toolTip() == text                         # the whole text a hover away
    assert panel.loss_label == text


def test_the_fitted_loss_axis_keeps_the_chance_line_in_view_while_all_steps_are_shown(qtbot, panel):
    chance = math.log(2)                                       # parity: the loss sits just above ln 2
    show(qtbot, panel, run_data(np.linspace(0.6996, 0.6950, 2000), chance=chance))
    y0, y1 = panel.plot.vb.viewRange()[1]
    assert y0 < chance < y1
    panel.log_box.setChecked(True)
    qtbot.wait(20)
    y0, y1 = panel.plot.vb.viewRange()[1]
    assert y0 < math.log10(chance) < y1
    panel.log_box.setChecked(False)
    panel.set_recent(1_000)                                   # a zoom on the latest steps: the data decide
    show(qtbot, panel, run_data(np.linspace(30.0, 29.0, 2000), chance=78.3))
    y0, y1 = panel.plot.vb.viewRange()[1]
    assert y1 < 78.3


@pytest.mark.parametrize("log_y", [False, True])
def test_before_the_first_step_the_loss_axis_reaches_the_previous_runs_top(qtbot, panel, log_y):
    """The previous run's curve is read in losses, not in the log10 values drawn on a log axis."""
    panel.log_box.setChecked(log_y)
    panel.set_ghost(np.arange(1.0, 101.0), np.linspace(300.0, 20.0, 100), "previous run")
    panel.clear()
    show(qtbot, panel, run_data([], chance=78.3))
    top = panel.plot.vb.viewRange()[1][1]
    assert (10 ** top if log_y else top) == pytest.approx(300.0 * 1.05)
    panel.set_ghost(np.arange(1.0, 11.0), np.zeros(10), "previous run")    # zero loss: nothing to go by
    panel.clear()
    show(qtbot, panel, run_data([]))
    top = panel.plot.vb.viewRange()[1][1]
    assert math.isfinite(top) and (10 ** top if log_y else top) == pytest.approx(1.0)


@pytest.mark.parametrize("spike", [1e200, 1.7e308, np.inf])
def test_a_diverging_step_is_marked_off_the_scale_instead_of_emptying_the_plot(qtbot, panel, spike):
    """A ReLU network's loss can jump to 1e308 for a step: the axis stays on the rest of the run
    (it was 0..1, or 0..1e200, with the curve out of sight or squashed flat)."""
    losses = np.r_[np.linspace(4.0, 2.0, 2000), [spike], np.linspace(2.0, 1.9, 31)]
    show(qtbot, panel, run_data(losses, chance=4.2))
    y0, y1 = panel.plot.vb.viewRange()[1]
    assert y0 < 2.0 and 4.0 < y1 < 4.2 * OFF_SCALE * 1.2
    x, y = panel.off_scale_marks.getData()
    assert len(x) == 1 and x[0] == pytest.approx(2001, abs=10) and y[0] <= y1
    assert "1 off the scale" in panel.caption.text()
    panel.log_box.setChecked(True)
    show(qtbot, panel, run_data(losses, chance=4.2))
    assert panel.plot.vb.viewRange()[1][1] < math.log10(4.2 * OFF_SCALE * 1.2)


@pytest.mark.parametrize("losses", [np.linspace(104.0, 40.0, 3000) + np.random.default_rng(0).normal(0, 5, 3000),
                                    np.r_[np.full(20, 0.5), np.full(20_000, 0.001)]])
def test_a_learning_curve_from_the_chance_level_is_never_off_the_scale(qtbot, panel, losses):
    chance = float(losses[0])
    show(qtbot, panel, run_data(losses, chance=chance))
    assert panel.off_scale_marks.getData()[0] is None or len(panel.off_scale_marks.getData()[0]) == 0
    assert "off the scale" not in panel.caption.text()
    assert panel.plot.vb.viewRange()[1][1] >= losses.max()
