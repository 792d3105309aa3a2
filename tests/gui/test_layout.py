"""The window on small and large screens, and View ▸ Reset Layout.

Stated minimums: on a 1024 x 700 screen every panel's plot area is at least MIN_PLOT (as a tab
of its own when four side by side do not fit), no slider is narrower than SLIDER_MIN_WIDTH, and
the window fits the screen."""

import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QApplication, QSlider

from rnnviz.gui.main_window import DEFAULT_SIZE, MainWindow
from rnnviz.gui.widgets.sliders import SLIDER_MIN_WIDTH

MIN_PLOT = QSize(300, 200)            # each plot view, in pixels
MIN_PLOT_WIDE = QSize(250, 150)       # side by side on a 1600 x 1000 screen


def on_screen(monkeypatch, width, height):
    monkeypatch.setattr(MainWindow, "screen_room", lambda self: QRect(0, 0, width, height))


def settle():
    for _ in range(3):
        QApplication.processEvents()


def test_on_a_1024_by_700_screen_every_panel_is_usable(make_window, monkeypatch):
    on_screen(monkeypatch, 1024, 700)
    window = make_window()
    settle()
    assert window.width() <= 1024 and window.height() <= 700
    assert window.minimumSizeHint().width() <= 1024 and window.minimumSizeHint().height() <= 700
    assert window.panel_area.compact                         # one panel at a time, as tabs
    tabs = window.panel_area.tabs
    for key, panel in window._panels.items():
        tabs.setCurrentWidget(window.panel_frames[key])
        settle()
        for view in panel.views:
            assert view.isVisible(), key
            assert view.width() >= MIN_PLOT.width() and view.height() >= MIN_PLOT.height(), \
                (key, view.size())
        for slider in window.findChildren(QSlider):
            if slider.isVisible():
                assert slider.width() >= SLIDER_MIN_WIDTH, (key, slider.parent(), slider.width())
    # the dock keeps its full width (its labels unclipped) and scrolls
    assert window.control_dock.width() >= window.controls.content_width()


def test_on_a_large_screen_the_four_panels_sit_side_by_side(make_window, monkeypatch):
    on_screen(monkeypatch, 1600, 1000)
    window = make_window()
    settle()
    assert window.size() == DEFAULT_SIZE
    assert not window.panel_area.compact
    for key, panel in window._panels.items():
        assert window.panel_frames[key].isVisible()
        for view in panel.views:
            assert view.width() >= MIN_PLOT_WIDE.width() and view.height() >= MIN_PLOT_WIDE.height(), key
    for slider in window.findChildren(QSlider):
        if slider.isVisible():
            assert slider.width() >= SLIDER_MIN_WIDTH


def test_shrinking_the_window_switches_to_tabs_and_back_with_the_splitters_kept(make_window, monkeypatch):
    on_screen(monkeypatch, 1600, 1000)
    window = make_window()
    settle()
    top = window._splitters[0]
    top.setSizes([800, 300])
    settle()
    sizes = top.sizes()
    window.resize(1000, 680)
    settle()
    assert window.panel_area.compact
    window.panel_actions["hidden"].setChecked(False)       # View menu in tabs: the tab goes
    assert not window.panel_shown("hidden")
    window.panel_actions["hidden"].setChecked(True)
    window.resize(DEFAULT_SIZE)
    settle()
    assert not window.panel_area.compact
    assert all(window.panel_frames[k].isVisible() for k in window.panel_frames)
    assert top.sizes() == sizes


def test_reset_layout_restores_splitters_and_geometry_after_hover_and_resize(qtbot, make_window, monkeypatch):
    on_screen(monkeypatch, 1600, 1000)
    window = make_window()
    settle()
    first_sizes = [s.sizes() for s in window._splitters]
    first_geometry = window.geometry()
    assert first_geometry == window.default_geometry()
    # the user hovers the plots, drags splitters, resizes and moves the window, hides the dock
    for key in ("cost", "hidden", "gradient"):
        view = window._panels[key].views[0]
        for x in range(10, view.width(), 60):
            qtbot.mouseMove(view, QPoint(x, view.height() // 2))
    window._splitters[0].setSizes([300, 900])
    window._splitters[2].setSizes([700, 200])
    window.setGeometry(40, 30, 1300, 900)
    window.control_dock.hide()
    settle()
    window.reset_layout()
    settle()
    assert window.geometry() == first_geometry
    assert window.control_dock.isVisible()
    assert [s.sizes() for s in window._splitters] == first_sizes


def test_reset_layout_from_tabs_on_a_large_screen_brings_the_side_by_side_layout_back(make_window, monkeypatch):
    on_screen(monkeypatch, 1600, 1000)
    window = make_window()
    settle()
    first_sizes = [s.sizes() for s in window._splitters]
    window._splitters[1].setSizes([200, 900])
    window.resize(900, 600)
    settle()
    assert window.panel_area.compact
    window.reset_layout()
    settle()
    assert not window.panel_area.compact
    assert window.geometry() == window.default_geometry()
    assert [s.sizes() for s in window._splitters] == first_sizes


@pytest.mark.parametrize("saved", [QRect(0, 0, 2400, 1500), QRect(3000, 2000, 1580, 960)])
def test_a_geometry_saved_on_a_bigger_screen_is_fitted_to_this_one(make_window, monkeypatch, saved):
    on_screen(monkeypatch, 1600, 1000)
    window = make_window()
    window.setGeometry(saved)
    window.close()                                        # saves it in the (temporary) settings
    on_screen(monkeypatch, 1024, 700)
    again = make_window()
    settle()
    assert QRect(0, 0, 1024, 700).contains(again.frameGeometry())


def test_each_panel_explains_itself_a_click_away(qtbot, make_window, dialogs):
    window = make_window()
    for key, button in window.help_buttons.items():
        assert button.toolTip()
        if button.isVisible():
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        else:
            button.click()
    titles = dialogs.titles("info")
    assert titles == [f"What am I looking at? {t}" for t in
                      ("Cost", "Hidden states across time", "Gradient flow through time", "Samples and predictions")]
    texts = " ".join(dialogs.texts("info"))
    for words in ("a</i>&lt;t&gt;", "Waa", "BPTT", "‖∂L/∂a&lt;t&gt;‖", "good picture", "Bad pictures"):
        assert words in texts
    menu = [a.text() for a in window.menuBar().actions()]
    assert menu[:2] == ["&File", "&Edit"]


def test_the_first_screen_says_where_to_start(qtbot, make_window):
    window = make_window()
    assert window.start_hint.isVisibleTo(window) and window.status_hint.isVisibleTo(window)
    assert "Start (Space)" in window.status_hint.text()
    window.controller.step_once()
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=5_000)
    assert not window.start_hint.isVisibleTo(window)
    window.reset_run()                                   # a new untrained run: the hint again
    assert window.start_hint.isVisibleTo(window)
