"""The why-views' numbers reach the window: computed by the training thread under a budget only while
the views are shown, on demand while paused, and their memory horizons kept over training."""

import pytest

from conftest import small_config
from rnnviz.gui import worker as worker_module


def wait_steps(qtbot, window, n, timeout=10_000):
    start = window.controller.data.step
    qtbot.waitUntil(lambda: window.controller.data.step >= start + n, timeout=timeout)


def pause_and_wait(qtbot, window):
    window.controller.pause()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)


@pytest.fixture
def quick_insight(monkeypatch):
    monkeypatch.setattr(worker_module, "MIN_INSIGHT_INTERVAL", 0.0)


def test_training_computes_insight_only_while_wanted(qtbot, make_window, quick_insight):
    window = make_window(small_config())
    c = window.controller
    c.want_insight(False)
    c.start()
    wait_steps(qtbot, window, 200)
    pause_and_wait(qtbot, window)
    assert c.data.insight is None and c.data.horizons == []

    c.want_insight(True)
    c.start()
    qtbot.waitUntil(lambda: c.data.insight is not None, timeout=20_000)
    pause_and_wait(qtbot, window)
    li = c.data.insight
    assert 0 < li.step <= c.step_count and li.cell == "rnn" and li.T == small_config().seq_length
    assert c.data.horizons and c.data.horizons[-1][0] == li.step


def test_explain_now_while_paused_gives_the_current_step(qtbot, make_window):
    window = make_window(small_config())
    c = window.controller
    c.step_once()
    qtbot.waitUntil(lambda: not c.is_running, timeout=5_000)
    li = c.explain_now()
    assert li is c.data.insight and li.step == c.step_count == 1
    c.start()
    with pytest.raises(RuntimeError):
        c.explain_now()
    pause_and_wait(qtbot, window)


def test_a_pause_refreshes_quick_insight(qtbot, make_window):
    window = make_window(small_config())
    c = window.controller
    c.want_insight(True)
    c.explain_now()                         # a cheap one: the next pause recomputes it
    c.start()
    wait_steps(qtbot, window, 50)
    pause_and_wait(qtbot, window)
    qtbot.waitUntil(lambda: c.data.insight.step == c.step_count, timeout=5_000)


def test_horizons_over_training_stay_bounded(make_window):
    from rnnviz.gui.run_data import MAX_HORIZONS
    window = make_window(small_config())
    data, li = window.controller.data, window.controller.explain_now()
    for step in range(1, 3 * MAX_HORIZONS):
        data.set_insight(type(li)(**{**li.__dict__, "step": step}))
    steps = [s for s, _, _ in data.horizons]
    assert len(steps) <= MAX_HORIZONS and steps == sorted(steps) and steps[-1] == 3 * MAX_HORIZONS - 1
    window.controller.reset(small_config(seed=3))        # a new run starts a new horizon curve
    assert window.controller.data.horizons == []
