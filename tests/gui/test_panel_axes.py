"""Axis labels of every plot: no pyqtgraph SI-prefix scale ("time step t (x0.001)") and sensible
ranges on count axes, before the first training step, while training and after a reset."""

import math
import re

import pyqtgraph as pg
import pytest

from rnnviz.gui.panels.cost import CostPanel
from rnnviz.gui.panels.gradient_flow import GradientFlowPanel
from rnnviz.gui.panels.hidden_states import HiddenStatesPanel
from rnnviz.gui.panels.sampling import SamplingPanel

SI_SCALE = re.compile(r"\(\s*[x×]\s*[-+0-9.e]+\s*\)|×")
COUNT_LABELS = ("time step", "training step", "hidden unit")


def axes_of(panel):
    """Every visible AxisItem in the panel's pyqtgraph views (plots and colour bars)."""
    found = []
    for view in panel.views:
        for item in view.scene().items():
            if isinstance(item, pg.AxisItem) and item.isVisible():
                found.append(item)
    return found


def label_text(axis) -> str:
    return re.sub(r"<[^>]+>", "", axis.labelString())


def axis_problems(panel):
    problems = []
    for axis in axes_of(panel):
        text = label_text(axis)
        if axis.label.isVisible() and SI_SCALE.search(text):
            problems.append(f"{type(panel).__name__} {axis.orientation} axis label {text!r}")
        if axis.autoSIPrefixScale != 1.0:
            problems.append(f"{type(panel).__name__} {axis.orientation} axis {text!r} scales its tick "
                            f"labels by {axis.autoSIPrefixScale:g}")
        if any(name in axis.labelText for name in COUNT_LABELS) and axis.linkedView() is not None:
            # Counts: the ticks pyqtgraph would draw for this range are whole numbers.
            lo, hi = axis.range
            length = axis.width() if axis.orientation in ("left", "right") else axis.height()
            levels = axis.tickValues(lo, hi, max(length, 100.0)) if axis._tickLevels is None else []
            if levels:
                spacing, _values = levels[0]
                if spacing < 1:
                    problems.append(f"{type(panel).__name__} {axis.orientation} axis {text!r} has "
                                    f"fractional ticks (range {lo:g}..{hi:g}, spacing {spacing:g})")
    return problems


def check_axes(panels, where):
    problems = [problem for panel in panels for problem in axis_problems(panel)]
    assert not problems, f"{where}:\n" + "\n".join(problems)


def settle(qtbot, window):
    window.render_now()
    qtbot.wait(50)   # let the layouts and axes update


@pytest.mark.parametrize("panel_class", [CostPanel, GradientFlowPanel, HiddenStatesPanel, SamplingPanel])
def test_a_new_panel_shows_no_si_prefix(qtbot, panel_class):
    from rnnviz.gui.app import _configure_pyqtgraph

    _configure_pyqtgraph()
    panel = panel_class()
    qtbot.addWidget(panel)
    panel.resize(700, 450)
    panel.show()
    qtbot.wait(50)
    check_axes([panel], "new panel")
    panel.clear()
    qtbot.wait(50)
    check_axes([panel], "cleared panel")


def test_window_axes_before_first_step_while_training_and_after_reset(qtbot, make_window, config):
    window = make_window(config(seq_length=12))
    window.resize(1600, 1000)
    settle(qtbot, window)
    panels = list(window._panels.values())
    check_axes(panels, "before the first step")

    # Empty plots start at sensible ranges: time steps 1..T, training steps from 0.
    gradient = window.gradient_panel
    lo, hi = gradient.latest.getViewBox().viewRange()[0]
    assert lo <= 1 and 12 <= hi < 13
    lo, hi = gradient.over_time.getViewBox().viewRange()[1]
    assert lo <= 1 and 12 <= hi < 13
    for plot in (gradient.over_time, gradient.params, window.cost_panel.plot):
        lo, hi = plot.getViewBox().viewRange()[0]
        assert lo <= 0 < 10 <= hi <= 100.0 * 1.1

    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.data.step >= 30, timeout=10_000)
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    settle(qtbot, window)
    check_axes(panels, "after training")
    lo, hi = gradient.latest.getViewBox().viewRange()[0]
    assert lo <= 1 and 12 <= hi < 13

    window.controls.show_config(config(seq_length=5))
    window.reset_run()
    settle(qtbot, window)
    assert window.controller.data.step == 0
    check_axes(panels, "after a reset")
    lo, hi = gradient.latest.getViewBox().viewRange()[0]
    assert lo <= 1 and 5 <= hi < 6
    for plot in (gradient.over_time, gradient.params, window.cost_panel.plot):
        lo, hi = plot.getViewBox().viewRange()[0]
        assert lo <= 0 < 10 <= hi <= 100.0 * 1.1
        assert math.isfinite(lo)
    # Nothing of the previous run is left on the empty plots but its ghost curve; the loss axis
    # runs from 0 to above the chance level (and the ghost).
    from rnnviz.gui.panels.cost import CHANCE_HEADROOM

    cost = window.cost_panel
    ghost = cost.ghost_curve.getOriginalDataset()[1]
    top = max(cost.chance_level * CHANCE_HEADROOM, float(ghost.max()) * 1.05)
    assert cost.plot.getViewBox().viewRange()[1] == pytest.approx([0, top])
    assert window.cost_panel.metric_view.viewRange()[1] == pytest.approx([0, 1])
    assert gradient.latest.titleLabel.text == "latest step"   # (not "step 123: ...")
    assert gradient.colorbar.levels() == (-6.0, 0.0)
