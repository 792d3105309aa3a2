"""The window tells the user's mistakes from rnnviz's bugs: a bad setting or file is explained in a
dialog; anything else is called a bug, with its traceback and the line asking to report it; the
run survives either way."""

import pytest

from rnnviz.errors import BUG_LINE


def test_a_bug_inside_a_slot_is_reported_as_a_bug_and_the_run_survives(qtbot, make_window, dialogs, capsys):
    from rnnviz.gui.app import _bug_reporter

    window = make_window()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    steps = window.controller.trainer.step_count
    report = _bug_reporter(window)
    try:
        raise ZeroDivisionError("an internal slip")
    except ZeroDivisionError as exc:
        report(type(exc), exc, exc.__traceback__)
    (kind, title, text), = dialogs.shown
    assert kind == "error" and "inside rnnviz" in title
    assert "ZeroDivisionError: an internal slip" in text and text.rstrip().endswith(BUG_LINE)
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert window.controller.trainer.step_count == steps and window.isVisible()


def test_a_failed_training_step_asks_for_a_report(qtbot, make_window, dialogs):
    window = make_window()
    trainer = window.controller.trainer

    def failing_step():
        raise IndexError("simulated engine slip")

    trainer.step = failing_step
    window.controller.start()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=10_000)
    text = dialogs.texts("error")[-1]
    assert "IndexError: simulated engine slip" in text and BUG_LINE in text


def test_an_internal_value_error_is_not_passed_off_as_an_invalid_setting(make_window, dialogs, monkeypatch):
    """A ValueError from a bug used to be shown as "Invalid setting"; now only InputError is."""
    window = make_window()

    def broken(**changes):
        raise ValueError("operands could not be broadcast together")
    monkeypatch.setattr(window.controller, "set_live", broken)
    with pytest.raises(ValueError, match="broadcast"):
        window._on_live_edited({"lr": 0.1})
    assert "Invalid setting" not in dialogs.titles("error")


def test_a_bad_live_setting_is_explained(make_window, dialogs):
    window = make_window()
    window._on_live_edited({"lr": -1.0})
    assert dialogs.titles("error") == ["Invalid setting"]
    assert "lr" in dialogs.texts("error")[0] and BUG_LINE not in dialogs.texts("error")[0]
    assert window.controller.config.lr == 0.5
