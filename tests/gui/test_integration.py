"""The window tells one story (issue 15): every frame shows one snapshot in all four panels, the
cost plot carries the previous run, the step budget and the chance level from the first screen,
and the heatmap's probe text is a live setting typed into the panel."""

import numpy as np
import pytest
from PySide6.QtCore import QRect, Qt

from rnnviz.gui.main_window import MainWindow

from conftest import small_config

CHAR = dict(task="charlm", seq_length=10, hidden=8, batch_size=1, optimizer="adagrad", lr=0.1,
            reduction="sum", sample_every=1000, eval_every=5, clip_mode="value", clip=5.0)


@pytest.fixture(autouse=True)
def wide_screen(monkeypatch):
    """A 1600 x 1000 screen: the four panels side by side, all of them visible."""
    monkeypatch.setattr(MainWindow, "screen_room", lambda self: QRect(0, 0, 1600, 1000))


def record_frames(window, monkeypatch):
    """Every panel refresh the window makes: (frame number, panel, the data's steps at that moment)."""
    calls = []
    for key, panel in window._panels.items():
        original = panel.refresh

        def refresh(data, key=key, original=original):
            calls.append((window.frames.frames, key, data.step, data.probe_step, data.examples_step))
            return original(data)

        monkeypatch.setattr(panel, "refresh", refresh)
    return calls


def test_every_frame_redraws_all_four_panels_from_one_snapshot(qtbot, make_window, monkeypatch):
    window = make_window(small_config(eval_every=5))
    window.resize(1600, 1000)
    qtbot.wait(50)
    calls = record_frames(window, monkeypatch)
    window.controller.start(max_steps=600)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=60_000)
    # The last snapshot carries the probe and the held-out examples of its own step: every panel
    # comes to name step 600, drawn by the scheduler (not render_now).
    qtbot.waitUntil(lambda: all(p.shown_step() == 600 for p in window._panels.values()), timeout=20_000)
    frames = {}
    for frame, key, *steps in calls:
        frames.setdefault(frame, []).append((key, tuple(steps)))
    assert frames
    for frame, drawn in frames.items():
        assert sorted(k for k, _ in drawn) == sorted(window._panels), frame    # never a single panel
        assert len({steps for _, steps in drawn}) == 1, drawn                  # one snapshot
    data = window.controller.data
    assert data.step == data.probe_step == data.examples_step == 600
    # and within every frame, each panel shows the step of what it was given
    _, _, step, probe_step, examples_step = calls[-1]
    assert window.cost_panel.shown_step() == window.gradient_panel.shown_step() == step
    assert window.hidden_panel.shown_step() == probe_step
    assert window.sampling_panel.shown_step() == examples_step


def test_typing_a_probe_text_and_enter_shows_its_states(qtbot, make_window):
    window = make_window(small_config(**CHAR))
    panel = window.hidden_panel
    assert panel.probe_edit.isVisible()
    marks = len(window.cost_panel.marker_labels)
    panel.probe_edit.setFocus()
    panel.probe_edit.clear()
    qtbot.keyClicks(panel.probe_edit, "the cat")
    qtbot.keyClick(panel.probe_edit, Qt.Key.Key_Return)
    assert window.controller.config.probe == "the cat"
    assert window.controller.trainer.config.probe == "the cat"
    qtbot.waitUntil(lambda: panel.image.image is not None and panel.image.image.shape[1] == 7, timeout=5_000)
    assert "the probe text, 7 steps, “the␣cat”" in panel.caption.text()
    x0, x1 = panel.plot.vb.viewRange()[0]
    assert (x0, x1) == pytest.approx((0, 7))
    window.render_now()
    assert len(window.cost_panel.marker_labels) == marks        # the probe changes nothing in training
    # Training takes it too: the worker's probes use it.
    window.controller.start(max_steps=3)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=20_000)
    window.render_now()
    assert panel.shown_step() == 3 and panel.image.image.shape[1] == 7
    assert "the probe text" in panel.caption.text()


def test_the_probe_field_follows_the_run_and_is_only_for_the_character_model(qtbot, make_window, config, dialogs):
    window = make_window(small_config(**CHAR, probe="abc"))
    panel = window.hidden_panel
    assert panel.probe_edit.text() == "abc" and panel.probe_edit.isVisible()
    window.controls._widgets["task"].setCurrentIndex(window.controls._widgets["task"].findData("parity"))
    window._build_run(config())
    assert not panel.probe_edit.isVisible()


def test_a_reset_leaves_the_previous_run_as_a_ghost_beside_a_budget(qtbot, make_window, dialogs):
    window = make_window()
    window.load_preset("parity-short")
    cost = window.cost_panel
    assert cost.budget == 1000 and cost.budget_line.isVisible()
    assert cost.ghost_label is None
    window.controller.start(max_steps=4)                       # (a full-batch step: ~0.1 s)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=60_000)
    window.reset_run()
    assert window.controller.step_count == 0
    assert cost.ghost_label is not None and cost.ghost_label.startswith("previous run (")
    assert "4 steps" in cost.ghost_label
    x, y = cost.ghost_curve.getOriginalDataset()
    assert x.size and x.max() == pytest.approx(4, abs=0.5) and np.isfinite(y).all()
    assert cost.budget == 1000
    window.controller.set_budget(30)                            # at the budget: Continue extends it
    window._budget_increment = 1000
    window.continue_training()
    assert cost.budget == window.controller.step_budget == 1030
    window.controller.stop_and_wait()


def test_the_first_screen_of_char_rnn_shows_its_chance_level(qtbot, make_window):
    window = make_window(small_config(**CHAR))
    cost = window.cost_panel
    chance = window.controller.trainer.task.chance_loss()
    assert cost.chance_level == pytest.approx(chance)
    y0, y1 = cost.plot.vb.viewRange()[1]
    assert y0 <= 0 < chance < y1


def label_rect(axis):
    """The axis title's rectangle in scene coordinates (empty when it has no text)."""
    if not axis.labelText or not axis.label.isVisible():
        return None
    return axis.label.mapRectToScene(axis.label.boundingRect())


@pytest.mark.parametrize("width", [380, 520, 1400])
@pytest.mark.parametrize("preset", ["char-rnn", "adding-rnn"])
def test_heatmap_titles_fit_and_never_run_into_each_other(qtbot, width, preset):
    from rnnviz.gui.panels.hidden_states import HiddenStatesPanel
    from rnnviz.gui.run_data import RunData
    from rnnviz.gui.worker import freeze_probe
    from rnnviz.training.presets import load_preset
    from rnnviz.training.trainer import Trainer

    panel = HiddenStatesPanel()
    qtbot.addWidget(panel)
    panel.resize(width, 360)
    panel.show()
    qtbot.waitExposed(panel)
    data = RunData()
    data.probe = freeze_probe(Trainer(load_preset(preset).config).probe())
    panel.refresh(data)
    qtbot.wait(50)
    bar = label_rect(panel.colorbar.getAxis("left"))
    bar_view = panel.colorbar.vb.sceneBoundingRect()
    for axis in (panel.plot.getAxis("bottom"), panel.input_strip.getAxis("bottom")):
        rect = label_rect(axis)
        if rect is None or not axis.isVisible():
            continue
        assert rect.left() >= -1 and rect.right() <= panel.graphics.width() + 1, axis.labelText  # not clipped
        assert bar is None or not rect.intersects(bar), (axis.labelText, panel.colorbar.getAxis("left").labelText)
    if bar is not None:        # the colour bar's title no longer than the bar
        assert bar.top() >= bar_view.top() - 2 and bar.bottom() <= bar_view.bottom() + 2


@pytest.mark.parametrize("size", [(1600, 1000), (1024, 700)])
@pytest.mark.parametrize("preset", ["char-rnn", "adding-rnn"])
def test_no_cost_axis_title_is_clipped(qtbot, make_window, monkeypatch, size, preset):
    monkeypatch.setattr(MainWindow, "screen_room", lambda self: QRect(0, 0, *size))
    window = make_window()
    window.load_preset(preset)
    window.resize(*size)
    window.controller.data.evals = [(10, {"accuracy": 0.5, "mse": 0.1, "bits_per_char": 3.0})]
    window.controller.data.revision += 1
    window.render_now()
    if window.panel_area.compact:
        window.panel_area.tabs.setCurrentWidget(window.panel_frames["cost"])
    qtbot.wait(100)
    plot = window.cost_panel.plot
    for side in ("left", "right"):
        axis = plot.getAxis(side)
        rect = label_rect(axis)
        assert rect is not None
        view = plot.vb.sceneBoundingRect()
        assert rect.top() >= view.top() - 2 and rect.bottom() <= view.bottom() + 2, (side, axis.labelText)


@pytest.mark.parametrize("height", [260, 320, 600])
def test_cost_axis_titles_fit_a_short_plot(qtbot, height):
    from rnnviz.gui.panels.cost import ADDING_ACCURACY, CostPanel, shorter_labels
    from rnnviz.gui.run_data import RunData

    panel = CostPanel()
    qtbot.addWidget(panel)
    panel.resize(600, height)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_loss_label("training loss (nats, summed over 25 characters)")
    data = RunData()
    data.loss.extend(np.arange(1.0, 101.0), np.linspace(1.0, 0.2, 100))
    data.step, data.revision = 100, 1
    data.evals = [(50, {"accuracy": 0.5, "mse": 0.1}), (100, {"accuracy": 0.6, "mse": 0.08})]
    panel.refresh(data)
    qtbot.wait(50)
    view = panel.plot.vb.sceneBoundingRect()
    for side, full in (("left", "training loss (nats, summed over 25 characters)"), ("right", ADDING_ACCURACY)):
        axis = panel.plot.getAxis(side)
        rect = label_rect(axis)
        assert rect is not None and rect.top() >= view.top() - 2 and rect.bottom() <= view.bottom() + 2, \
            (side, axis.labelText, rect, view)
        assert axis.toolTip() == full
        assert axis.label.toPlainText().strip() in shorter_labels(full)    # drawn whole ("< 0.04" is not a tag)


def test_finished_runs_free_their_worker_and_trainer(qtbot, make_window, dialogs):
    """Each start makes a worker on a thread; once the thread ends, the worker and any Trainer
    replaced by a reset must be freed (they were kept alive forever, ~0.1-0.3 MB a run)."""
    import gc
    import weakref

    from rnnviz.gui.worker import TrainingWorker

    window = make_window()
    controller = window.controller
    workers, trainers = weakref.WeakSet(), weakref.WeakSet()
    original_init = TrainingWorker.__init__

    def recording_init(self, trainer, *args, **kwargs):
        workers.add(self)
        trainers.add(trainer)
        original_init(self, trainer, *args, **kwargs)

    TrainingWorker.__init__ = recording_init
    try:
        for _ in range(4):
            controller.start(max_steps=controller.step_count + 3)
            qtbot.waitUntil(lambda: not controller.is_running, timeout=60_000)
            window.reset_run()
    finally:
        TrainingWorker.__init__ = original_init
    qtbot.wait(50)
    gc.collect()
    assert len(workers) == 0, f"{len(workers)} finished workers are still alive"
    alive = [t for t in trainers if t is not controller.trainer]
    assert not alive, f"{len(alive)} Trainers replaced by a reset are still alive"
