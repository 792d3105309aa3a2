"""The panels tell the truth at a glance (issue 15): the held-out metric at every interval on one
fixed subset, with the examples from the same evaluation; every panel says which step it shows;
marker labels in the controls' words that never overlap; the heatmap fitted to the probe shown;
samples that say what they were drawn with."""

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox

from rnnviz.gui.panels.hidden_states import HiddenStatesPanel, label_step
from rnnviz.gui.panels.markers import SETTING_WORDS, VALUE_WORDS, marker_text
from rnnviz.gui.run_data import RunData
from rnnviz.gui.worker import EXAMPLES, TrainingWorker, held_out_limit
from rnnviz.training.config import Config
from rnnviz.training.trainer import Trainer

from conftest import small_config


def run_worker(trainer, steps):
    """Run a worker synchronously in this thread for ``steps`` steps; its snapshots, in order."""
    worker = TrainingWorker(trainer, max_steps=steps, emit_interval=0.0)
    snapshots = []
    worker.snapshot_ready.connect(snapshots.append)
    worker.run()
    return snapshots


# ---- item 2: the held-out metric ------------------------------------------------------------------
@pytest.mark.parametrize("eval_every,n", [(5, 8), (7, 3)])
def test_every_interval_is_evaluated_on_one_fixed_subset(eval_every, n):
    trainer = Trainer(small_config(eval_every=eval_every, n_test=300))
    data = RunData()
    for snapshot in run_worker(trainer, n * eval_every):
        data.add_snapshot(snapshot)
    steps, values = data.metric_series("accuracy")
    assert list(steps) == [eval_every * (i + 1) for i in range(n)]           # N points after N intervals
    limit = held_out_limit(trainer)
    assert data.held_out == limit and 64 <= limit < 300                      # a subset of the held-out set
    task, net = trainer.task, trainer.network
    assert trainer.history.evals[-1][1] == task.metrics(net, limit=limit)    # the same subset every time
    # The examples come from the same evaluation: same step, and the subset's first items.
    assert data.examples_step == steps[-1] == trainer.step_count
    assert data.examples == tuple(task.examples(net, EXAMPLES))
    # The full held-out set stays what Trainer.evaluate scores.
    assert trainer.evaluate() == task.metrics(net)


def test_held_out_points_are_not_joined_across_a_gap():
    data = RunData()
    data.eval_every = 100
    connect = data.metric_connect(np.array([100, 200, 300, 1_000, 1_100]))
    assert list(connect[:-1]) == [True, True, False, True]
    data.eval_every = None                      # a reopened session: the usual spacing
    assert list(data.metric_connect(np.array([10, 20, 30, 200]))[:-1]) == [True, True, False]


# ---- item 5: every panel says which step it shows -------------------------------------------------
def test_every_panel_names_the_same_step_after_a_snapshot(qtbot, make_window):
    window = make_window(small_config(eval_every=5))
    window.resize(1600, 1000)
    window.controller.start(max_steps=20)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=20_000)
    window.render_now()
    step = window.controller.data.step
    assert step == 20
    said = f"step {step:,}"
    assert said in window.cost_panel.caption.text()
    assert f"as of step {step:,}" in window.cost_panel.caption.text()
    assert said in window.gradient_panel.latest.titleLabel.text
    assert said in window.gradient_panel.header.text()
    assert f"Probe at step {step:,}" in window.hidden_panel.caption.text()
    assert window.sampling_panel.text.toPlainText().startswith(f"Held-out examples at step {step:,}")
    for panel in window._panels.values():
        assert panel.shown_step() == step, type(panel).__name__


def test_the_cost_curve_is_visible_from_the_first_step(qtbot, make_window):
    window = make_window()
    window.controller.step_once()
    qtbot.waitUntil(lambda: window.controller.data.step == 1 and not window.controller.is_running, timeout=10_000)
    window.render_now()
    x, y = window.cost_panel.ema_curve.getData()
    assert len(x) == 1 and np.isfinite(y[0])
    assert window.cost_panel.ema_curve.opts["symbol"] is not None      # a single step is a dot


# ---- item 8: markers ------------------------------------------------------------------------------
def test_markers_use_the_words_of_the_controls(qtbot):
    from rnnviz.gui.widgets.control_panel import ControlPanel

    controls = ControlPanel()
    qtbot.addWidget(controls)
    for name, words in SETTING_WORDS.items():
        assert controls._labels[name].text() == words, name
    for name, values in VALUE_WORDS.items():
        box = controls._widgets[name]
        assert isinstance(box, QComboBox)
        shown = {box.itemData(i): box.itemText(i).split(" (")[0] for i in range(box.count())}
        assert shown == values, name
    assert marker_text("clip_mode", "value", "none") == "Clipping: by value → none"
    assert marker_text("lr", 0.1, 0.05) == "Learning rate: 0.1 → 0.05"


def test_marker_labels_sit_above_the_plot_and_never_overlap(qtbot, make_window):
    window = make_window()
    window.resize(1600, 1000)
    data = window.controller.data
    steps = np.arange(1, 2001)
    data.loss.extend(steps, np.ones(steps.size))
    data.step = 2000
    changes = [(1000, "clip_mode", "value", "none"), (1001, "lr", 0.1, 0.05), (1003, "optimizer", "sgd", "adam"),
               (1004, "clip", 5.0, 1.0), (1006, "lr", 0.05, 0.01), (1500, "temperature", 1.0, 0.5),
               (1800, "momentum", 0.9, 0.5)]
    data.setting_changes = list(changes)
    data.revision += 1
    window.render_now()
    qtbot.wait(50)
    cost = window.cost_panel
    rects = cost.marker_strip.label_rects()
    texts = [text for _, text in rects]
    assert "Clipping: by value → none" in texts and "Optimizer: SGD → Adam" in texts
    assert not any("clip_mode" in text or "temperature" in text.lower() for text in texts)
    assert len(rects) == 6
    for i, (a, _) in enumerate(rects):
        for b, _ in rects[i + 1:]:
            assert not a.intersects(b), (a, b)
    # the strip is above the plot, outside it; the lines are on both training-step plots too
    strip, plot = cost.marker_strip.geometry(), cost.plot_widget.geometry()
    assert strip.bottom() < plot.top()
    assert [step for _, step in cost.marker_lines.lines] == [1000, 1001, 1003, 1004, 1006, 1800]
    for lines in window.gradient_panel.marker_lines:
        assert [step for _, step in lines.lines] == [1000, 1001, 1003, 1004, 1006, 1800]


# ---- item 12: the heatmap fits the probe shown ----------------------------------------------------
class FakeProbe:
    def __init__(self, labels, H=4):
        self.labels = list(labels)
        self.states = {"hidden a<t>": np.zeros((H, len(labels)))}
        self.ranges = {"hidden a<t>": (-1.0, 1.0)}
        self.spectral_radius = 1.0
        self.saturation = 0.0


def show_probe(qtbot, panel, labels, step, note=None):
    data = RunData()
    data.step = step
    data.probe = FakeProbe(labels)
    data.probe_note = note
    panel.refresh(data)
    qtbot.wait(30)


@pytest.mark.parametrize("width", [700, 1400, 2560])
def test_the_heatmap_axis_spans_the_probe_and_labels_every_step(qtbot, width):
    panel = HiddenStatesPanel()
    qtbot.addWidget(panel)
    panel.resize(width, 500)
    panel.show()
    qtbot.waitExposed(panel)
    show_probe(qtbot, panel, list("abcdefghijklmnopqrstuvwxy"), 100, "the first held-out sequence")
    x0, x1 = panel.plot.vb.viewRange()[0]
    assert (x0, x1) == pytest.approx((0, 25))
    show_probe(qtbot, panel, list("The"), 200, "the priming text")       # a Prime: 3 steps
    x0, x1 = panel.plot.vb.viewRange()[0]
    assert (x0, x1) == pytest.approx((0, 3))
    assert "Probe at step 200: the priming text, 3 steps, “The”" in panel.caption.text()
    labels = [str(i % 10) for i in range(55)]                           # the copy task's 55 steps
    show_probe(qtbot, panel, labels, 300)
    qtbot.wait(30)
    px = panel.plot.vb.width() / 55
    major = panel.plot.getAxis("bottom")._tickLevels[0]
    if px >= 10:
        assert panel.label_every == 1 and len(major) == 55
    else:
        assert len(major) == len(range(0, 55, panel.label_every))
    assert [x for x, _ in major][:2] == [0.5, 0.5 + panel.label_every]


def test_label_step_needs_ten_pixels_and_room_for_the_text():
    def width(text):
        return 7.0 * len(text)
    assert label_step(list("abc"), 10.0, width) == 1
    assert label_step(list("abc"), 9.0, width) == 2
    assert label_step(["0 1", "1 1"], 12.0, width) == 2        # 21 px of text + room (23 > 12)


def test_the_caption_keeps_the_menus_gate_symbol(qtbot):
    panel = HiddenStatesPanel()
    qtbot.addWidget(panel)
    probe = FakeProbe("ab")
    probe.states = {"forget gate Γf": np.zeros((4, 2))}
    probe.ranges = {"forget gate Γf": (0.0, 1.0)}
    data = RunData()
    data.probe = probe
    panel.refresh(data)
    assert "Γf" in panel.caption.text() and "γf" not in panel.caption.text()


def test_long_heatmap_readouts_never_change_a_minimum_size(qtbot):
    panel = HiddenStatesPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 400)
    panel.show()
    before = (panel.minimumSizeHint(), panel.readout.minimumSizeHint())
    panel.readout.setText("unit 12, step t=40, input “x”: " + "forget gate Γf " * 200)
    qtbot.wait(20)
    assert (panel.minimumSizeHint(), panel.readout.minimumSizeHint()) == before


# ---- item 7: the adding problem -------------------------------------------------------------------
def test_the_adding_problem_shows_a_value_and_marker_strip_and_its_rule(qtbot, make_window):
    window = make_window(Config(task="adding", seq_length=20, n_test=100, hidden=8, batch_size=4, eval_every=5))
    window.resize(1600, 1000)
    window.controller.start(max_steps=10)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=20_000)
    window.render_now()
    hidden = window.hidden_panel
    assert hidden.input_strip.isVisible()
    assert len(hidden.strip_marks.data) == 2            # the two marked values
    assert hidden.plot.vb.viewRange()[0] == pytest.approx([0, 20])
    assert "|error| < 0.04" in window.cost_panel.plot.getAxis("right").label.toPlainText()   # as drawn
    assert "within 0.04" in window.sampling_panel.caption.text()
    lines = window.sampling_panel.text.toPlainText().splitlines()[2:]
    assert lines and all(" → " in line and line[-1] in "✓✗" for line in lines)


# ---- item 13: samples say what they were drawn with -----------------------------------------------
def test_samples_carry_step_temperature_prime_and_on_demand(qtbot, make_window, tmp_path):
    corpus = tmp_path / "book.txt"
    corpus.write_text("the quick brown fox\njumps over the lazy dog.\n" * 300, encoding="utf-8")
    window = make_window(small_config(task="charlm", corpus=str(corpus), seq_length=10, hidden=12, batch_size=1,
                                      optimizer="adagrad", lr=0.1, sample_every=10, sample_length=40,
                                      eval_every=50, prime="dog.\nthe", temperature=0.5))
    window.controller.start(max_steps=30)
    window.controller._worker.request_sample()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=20_000)
    window.render_now()
    text = window.sampling_panel.text
    plain = text.toPlainText()
    assert "temperature 0.5 · prime “dog.⏎the” · on demand" in plain
    assert "temperature 0.5 · prime “dog.⏎the” · scheduled" in plain
    # the prime is bold (its newline shown as ⏎), the continuation is not
    from PySide6.QtGui import QTextCursor

    start = plain.index("dog.⏎\nthe", plain.index("scheduled"))
    cursor = QTextCursor(text.document())
    cursor.setPosition(start + 1)                      # (the format of the character before it)
    assert cursor.charFormat().fontWeight() > 500
    cursor.setPosition(start + len("dog.⏎\nthe") + 1)  # the first character the model wrote
    assert cursor.charFormat().fontWeight() <= 500
