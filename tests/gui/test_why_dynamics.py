"""The dynamics why-views as a user reads them: the plotted σmax is the LiveInsight's, the gauge's
colours are the steps' classes, every gate's points are its saturation fractions, ReLU units are
counted as dead and never called saturated, and a new cell's view names only what it has."""

import dataclasses
import html

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from rnnviz.gui.panels.why_dynamics import (
    CLASS_COLOURS,
    HIST_BINS,
    MAX_POINTS_PER_STEP,
    SIGMA_FLOOR,
    DynamicsView,
)
from rnnviz.gui.panels.why_inputs import EMPTY_TEXT
from rnnviz.insight.jacobians import classify_steps
from rnnviz.insight.live import live_insight
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

COPY = {"task": "copy", "seq_length": 6, "copy_length": 2, "n_symbols": 4, "batch_size": 16}
CONFIGS = {
    "rnn-tanh": {"task": "charlm", "cell": "rnn", "hidden": 12, "probe": "the cat sat on the mat"},
    "rnn-relu": {"task": "parity", "cell": "rnn", "activation": "relu", "hidden": 8, "seq_length": 10,
                 "n_train": 64, "n_test": 32},
    "lstm": {**COPY, "cell": "lstm", "hidden": 6, "forget_bias": 3.0},   # forget gates wide open from the start
    "gru": {**COPY, "cell": "gru", "hidden": 6, "lr": 1.0},              # gates spread over the triangle
    "long": {"task": "charlm", "cell": "rnn", "hidden": 4, "seq_length": 40},
}
GATE_NAMES = {"f": "forget gate Γf", "i": "input gate Γi", "o": "output gate Γo",
              "r": "reset gate Γr", "u": "update gate Γu"}
_cache = {}


def insight(name, steps=5):
    if name not in _cache:
        trainer = Trainer(Config(**CONFIGS[name]))
        with trainer.running():
            for _ in range(steps):
                trainer.step()
        _cache[name] = live_insight(trainer, memory=False)
    return _cache[name]


@pytest.fixture
def view(qtbot):
    w = DynamicsView()
    qtbot.addWidget(w)
    w.resize(450, 700)
    w.show()
    return w


def legend_names(legend):
    return [label.text for _, label in legend.items]


def test_none_shows_the_empty_state(view):
    assert view.stack.currentWidget() is view.empty
    assert view.empty.text() == EMPTY_TEXT
    view.show_insight(insight("rnn-tanh"))
    assert view.stack.currentWidget() is view.scroll
    view.show_insight(None)
    assert view.stack.currentWidget() is view.empty
    assert view.sigma_max is None and view.gate_points == {} and view.histogram is None


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm", "gru"])
def test_spectrum_is_the_one_step_singular_values(view, name):
    li = insight(name)
    view.show_insight(li)
    T, S = li.step_sigma.shape
    assert S == (2 if name == "lstm" else 1) * li.states["a"].shape[1]
    assert np.all(li.step_sigma[:, 0] > SIGMA_FLOOR)                   # nothing drawn at the floor
    x, y = view.sigma_max_curve.getOriginalDataset()
    np.testing.assert_array_equal(x, np.arange(1, T + 1))             # steps counted from 1
    np.testing.assert_allclose(y, li.step_sigma[:, 0])
    np.testing.assert_allclose(view.band_low.getOriginalDataset()[1],
                               np.maximum(li.step_sigma[:, -1], SIGMA_FLOOR))
    px, py = view.sigma_points.getOriginalDataset()
    assert len(py) == T * min(S, MAX_POINTS_PER_STEP)
    for t in (0, T - 1):                                              # every σ of the step is a point
        np.testing.assert_allclose(np.sort(py[px == t + 1]), np.sort(np.maximum(li.step_sigma[t], SIGMA_FLOOR)))
    # log axis (values as decades) with σ = 1 inside the range
    assert view.spectrum_plot.getAxis("left").logMode
    lo, hi = view.spectrum_plot.viewRange()[1]
    assert lo < 0.0 < hi and hi - lo >= 1.5
    np.testing.assert_allclose(view.unit_line.getOriginalDataset()[1], [1.0, 1.0])
    assert not view.spectrum_plot.getAxis("left").autoSIPrefix
    assert view.spectrum_plot.getAxis("left").labelText == "singular value of<br>∂state&lt;t&gt;/∂state&lt;t−1&gt;"
    assert view.gauge_plot.getAxis("bottom").labelText == "probe step t"
    assert legend_names(view.spectrum_legend) == ["σmax", "all σ", "σmin", "σ = 1"]


def test_gauge_colours_and_caption_follow_the_step_classes(view):
    li = insight("rnn-tanh")
    assert len(set(li.step_class)) >= 2                               # a probe with steps of both kinds
    assert list(li.step_class) == classify_steps(li.step_sigma[:, 0])
    view.show_insight(li)
    brushes = view.gauge.opts["brushes"]
    assert [pgcolour(b) for b in brushes] == [CLASS_COLOURS[c].lower() for c in li.step_class]
    np.testing.assert_array_equal(view.gauge.opts["x"], np.arange(1, li.T + 1))
    # the σmax markers carry the same colours as the strip below them
    symbol_brushes = view.sigma_max_curve.opts["symbolBrush"]
    assert [pgcolour(b) for b in symbol_brushes] == [CLASS_COLOURS[c].lower() for c in li.step_class]
    n = sum(c == "contracting" for c in li.step_class)
    caption = view.spectrum_caption.text()
    assert caption.startswith(f"σmax of the one-step Jacobian: median {np.median(li.step_sigma[:, 0]):.2g}; "
                              f"{n} of {li.T} steps contracting")
    legend = view.class_legend.text()
    for name in ("contracting", "expanding"):
        assert f"{sum(c == name for c in li.step_class)}" in legend.split(name)[1].split("■")[0]


def pgcolour(brush):
    import pyqtgraph as pg
    return pg.mkBrush(brush).color().name()


def test_symbol_ticks_on_short_probes_only(view):
    li = insight("rnn-tanh")
    view.show_insight(li)
    top = view.spectrum_plot.getAxis("top")
    assert top._tickLevels[0] == [(t + 1, label) for t, label in enumerate(li.labels)]   # over its step
    view.show_insight(insight("long"))
    assert insight("long").T == 40
    assert top._tickLevels[0] == []
    bottom = view.gauge_plot.getAxis("bottom")._tickLevels[0]
    assert bottom[0] == (1, "1") and len(bottom) <= 10 and all(str(x) == label for x, label in bottom)


def test_hovering_a_step_reads_out_its_numbers(view, qtbot):
    li = insight("rnn-tanh")
    view.show_insight(li)
    qtbot.waitExposed(view)
    scene_point = view.spectrum_plot.vb.mapViewToScene(QPointF(4.2, 0.0))     # near the point of step 4
    view._on_spectrum_mouse_moved((scene_point,))
    text = view.step_readout.text()
    assert text.startswith(f"step 4, input ‘{li.labels[3]}’: σmax = {li.step_sigma[3, 0]:.3g}")
    assert text.endswith(li.step_class[3])


@pytest.mark.parametrize("name, gates", [("lstm", "fio"), ("gru", "ru")])
def test_gate_points_are_the_saturation_fractions(view, name, gates):
    li = insight(name)
    report = li.saturation["gates"]
    assert sorted(report) == sorted(gates)
    assert any(np.any(np.asarray(g["right"]) > 0.5) for g in report.values())   # not all at the origin
    view.show_insight(li)
    assert view.saturation_stack.currentWidget() is view.gate_plot
    for gate, item in view.gate_scatter.items():
        x, y = item.getData()
        if gate in report:
            np.testing.assert_allclose(x, report[gate]["left"])
            np.testing.assert_allclose(y, report[gate]["right"])
        else:
            assert x is None or len(x) == 0
    H = li.states["a"].shape[1]
    assert legend_names(view.gate_legend) == [f"{GATE_NAMES[g]} ({H} units)" for g in gates]
    caption = view.saturation_caption.text()
    assert caption.startswith("Shut: Γ < 0.1; open: Γ > 0.9.")
    if name == "lstm":
        assert f"0 of {H} forget-gate units shut more than half the time, {H} open." in caption


def test_each_gate_gets_its_own_numbers(view):
    """Distinct made-up fractions per gate: a mix-up of gates (or of left and right) shows."""
    li = insight("lstm")
    rng = np.random.default_rng(1)
    H = li.states["a"].shape[1]
    gates = {}
    for g in "fio":
        left = rng.uniform(0, 0.5, H)
        gates[g] = {"left": left.tolist(), "right": (rng.uniform(0, 1, H) * (1 - left)).tolist()}
    gates["f"]["left"][:3] = [0.9, 0.8, 0.7]
    view.show_insight(dataclasses.replace(li, saturation={**li.saturation, "gates": gates}))
    for g in "fio":
        x, y = view.gate_scatter[g].getData()
        np.testing.assert_allclose(x, gates[g]["left"])
        np.testing.assert_allclose(y, gates[g]["right"])
    assert f"3 of {H} forget-gate units shut more than half the time" in view.saturation_caption.text()


def test_tanh_histogram_names_its_rule(view):
    li = insight("rnn-tanh")
    view.show_insight(li)
    assert view.saturation_stack.currentWidget() is view.hist_plot
    per_unit = np.asarray(li.saturation["hidden"]["per_unit"])
    assert per_unit.max() > 0
    counts, dead = view.histogram
    np.testing.assert_array_equal(counts, np.histogram(per_unit, bins=HIST_BINS, range=(0, 1))[0])
    np.testing.assert_array_equal(view.hist_bars.opts["height"], counts)
    assert dead == 0 and len(view.dead_bar.opts["height"]) == 0
    assert html.unescape(view.hist_plot.getAxis("bottom").labelText) == "fraction of steps saturated (|a| > 0.95)"
    H = per_unit.size
    assert f"{int(np.sum(per_unit > 0.5))} of {H} units saturated more than half the time" in \
        view.saturation_caption.text()
    assert legend_names(view.hist_legend) == []              # one kind of bar: no legend


def test_relu_counts_dead_units_and_never_says_saturated(view):
    li = insight("rnn-relu")
    hidden = li.saturation["hidden"]
    assert hidden["kind"] == "relu" and hidden["dead_units"] > 0
    view.show_insight(li)
    counts, dead = view.histogram
    H = li.states["a"].shape[1]
    assert dead == hidden["dead_units"] and counts.sum() + dead == H
    np.testing.assert_array_equal(view.dead_bar.opts["height"], [dead])
    off = (np.asarray(li.states["a"]) <= 0).mean(axis=0)
    live = np.ones(H, bool)
    live[hidden["dead"]] = False
    np.testing.assert_array_equal(counts, np.histogram(off[live], bins=HIST_BINS, range=(0, 1))[0])
    caption = view.saturation_caption.text()
    assert f"{dead} of {H} units are dead on the whole probe" in caption
    for text in (caption, view.saturation_title.text(), view.hist_plot.getAxis("bottom").labelText,
                 *legend_names(view.hist_legend)):
        assert "saturat" not in text.lower()
    assert legend_names(view.hist_legend) == ["hidden units", "dead: off at every step"]


def test_switching_cells_names_only_what_the_new_cell_has(view):
    view.show_insight(insight("lstm"))
    assert len(legend_names(view.gate_legend)) == 3
    view.show_insight(insight("rnn-tanh"))
    assert legend_names(view.gate_legend) == []
    assert all(len(item.getData()[0] or []) == 0 for item in view.gate_scatter.values())
    assert view.saturation_stack.currentWidget() is view.hist_plot
    assert view.gate_points == {}
    view.show_insight(insight("gru"))
    assert [n.split(" (")[0] for n in legend_names(view.gate_legend)] == ["reset gate Γr", "update gate Γu"]
    assert legend_names(view.hist_legend) == []
    assert len(view.hist_bars.opts["height"]) == 0


def test_fits_a_narrow_dock(view, qtbot):
    view.show_insight(insight("lstm"))
    assert view.minimumSizeHint().width() <= 300
    for width in (450, 320):
        view.resize(width, 600)
        qtbot.waitExposed(view)
        qtbot.wait(20)
        assert view.content.width() <= view.scroll.viewport().width()
        # the plot's scene fits its view: nothing (legend, last tick) is cut off on the right
        graphics = view.spectrum_view
        assert graphics.ci.boundingRect().width() <= graphics.viewport().width() + 1


def test_sections_stack_without_overlapping(view, qtbot):
    """On a short dock the page scrolls; its plots and captions never draw over each other."""
    view.show_insight(insight("lstm"))
    for height in (700, 420):
        view.resize(450, height)
        qtbot.waitExposed(view)
        qtbot.wait(20)
        order = [view.spectrum_view, view.class_legend, view.spectrum_caption, view.step_readout,
                 view.saturation_stack, view.saturation_caption]
        for upper, lower in zip(order, order[1:]):
            assert upper.geometry().bottom() < lower.geometry().top(), (upper, lower)
        assert view.spectrum_view.height() >= view.spectrum_view.minimumHeight()
        assert view.saturation_stack.height() >= view.gate_plot.minimumHeight()
