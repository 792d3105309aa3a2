"""The main window: a control dock beside four panels, menus, status bar, settings persistence.

Thin by design: training state lives in TrainingController, drawing in the panels. Every dialog
goes through ``_dialog`` so tests (and scripted runs) never block on one.
"""

from __future__ import annotations

import html
import importlib.resources
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyqtgraph.exporters  # noqa: F401 - registers ImageExporter / SVGExporter
from PySide6.QtCore import QByteArray, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QKeySequence, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QApplication, QDialog, QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
    QScrollArea, QSplitter, QStackedWidget, QTabWidget, QToolButton, QVBoxLayout, QWidget,
)

from superqt import QElidingLabel

from rnnviz.errors import BUG_LINE, InputError, RnnvizError
from rnnviz.insight.trace import not_analysable
from rnnviz.session import SessionError
from rnnviz.training.config import LIVE_FIELDS, Config, is_encoder_decoder
from rnnviz.training.history import write_csv

from . import recovery
from .controller import TrainingController
from .export import export_plot_item
from .frames import FrameScheduler
from .panels.cost import CostPanel, loss_axis_label, smoothed
from .panels.markers import marker_text
from .panels.gradient_flow import GradientFlowPanel
from .panels.hidden_states import HiddenStatesPanel, sentence
from .panels.sample_inspector import SampleInspector
from .panels.sampling import SamplingPanel
from .panels.why import LAYER_HELP, WhyPanel
from .panels.why_dynamics import DynamicsView
from .panels.why_inputs import InputsView
from .widgets.layer_selector import LayerBox
from .run_data import pixel_columns
from .widgets.adaptive_area import AdaptiveArea
from .widgets.control_panel import ControlPanel
from .widgets.panel_help import PANEL_HELP, START_HINT

from rnnviz.training.presets import list_presets, load_preset

WHY_BESIDE_MIN_WIDTH = 1400
"""Narrower windows show the why-view as a tab beside the controls."""

ORGANIZATION = "rnnviz"
APPLICATION = "rnnviz"
SESSION_SUFFIX = ".rnnviz"
SESSION_FILTER = "rnnviz sessions (*.rnnviz);;All files (*)"
TEXT_FILTER = "Text files (*.txt *.md *.py *.csv *.tex *.html);;All files (*)"
MAX_RECENT = 8
DEFAULT_SIZE = QSize(1580, 960)   # the window's first size (smaller if the screen is)
DEFAULT_SPLITS = ((600, 500), (660, 440), (1, 1))   # cost | hidden, gradient | samples, top / bottom
GHOST_COLUMNS = 600            # points in the previous run's curve kept on the cost plot
SHORTCUTS = [
    ("Space", "Start / pause training (Continue at the step budget)"),
    ("Ctrl+Right", "Step once (one training step)"),
    ("Ctrl+R", "Reset: fresh weights with the settings shown"),
    ("Ctrl+N", "New run with the default preset"),
    ("Ctrl+O", "Open a session file"),
    ("Ctrl+Z", "Undo the latest change of a training setting"),
    ("Shift or Ctrl + drag", "Learning rate in finer steps than 1-2-5"),
    ("Ctrl+S / Ctrl+Shift+S", "Save / Save as"),
    ("Ctrl+Q", "Quit"),
]


def settings() -> QSettings:
    """The app's persistent settings (an INI file; tests point QSettings.setPath elsewhere)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def application_icon() -> QIcon:
    """rnnviz's icon: ``icons/rnnviz.svg`` drawn at the usual sizes (the PNG if the SVG cannot be read)."""
    icons = importlib.resources.files("rnnviz.gui") / "icons"
    icon = QIcon()
    renderer = QSvgRenderer(QByteArray((icons / "rnnviz.svg").read_bytes()))
    if renderer.isValid():
        for size in (16, 24, 32, 48, 64, 128, 256):
            image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(painter)
            painter.end()
            icon.addPixmap(QPixmap.fromImage(image))
    else:
        pixmap = QPixmap()
        if pixmap.loadFromData((icons / "rnnviz.png").read_bytes(), "PNG"):
            icon.addPixmap(pixmap)
    return icon


def speed_text(steps_per_second: float) -> str:
    """Training speed for the status bar: steps per second, or seconds per step below one a second."""
    if not steps_per_second > 0:
        return ""
    if steps_per_second < 1:
        seconds = 1 / steps_per_second
        return f"{seconds:.1f} s/step" if seconds < 10 else f"{seconds:,.0f} s/step"
    return f"{steps_per_second:.1f} steps/s" if steps_per_second < 10 else f"{steps_per_second:,.0f} steps/s"


class MainWindow(QMainWindow):
    """rnnviz's window. ``trainer`` is the run shown at start."""

    closed = Signal()    # the window accepted a close (training stopped, settings saved)

    def __init__(self, trainer, parent=None):
        super().__init__(parent)
        self.setWindowTitle("rnnviz")
        self.setWindowIcon(application_icon())
        self.setAcceptDrops(True)
        self.non_interactive = False   # scripted runs (--quit-after): dialogs print instead of blocking
        self.exit_signal: int | None = None   # set by close_for_signal: closing unattended
        self._closing_accepted = False
        self._dialog_depth = 0         # > 0 while a dialog blocks (a signal's close waits for it)
        self._presets = {p.name: p for p in list_presets()}
        self.previous_run: tuple[np.ndarray, np.ndarray, str] | None = None   # the ghost curve
        self._ghost_candidate = None
        self._budget_increment: int | None = None

        self.controller = TrainingController(trainer, self)
        self.controls = ControlPanel(self._presets.values())
        self.cost_panel = CostPanel()
        self.hidden_panel = HiddenStatesPanel()
        self.gradient_panel = GradientFlowPanel()
        self.sampling_panel = SamplingPanel()
        self._panels = {"cost": self.cost_panel, "hidden": self.hidden_panel,
                        "gradient": self.gradient_panel, "sampling": self.sampling_panel}
        self.frames = FrameScheduler(
            self._panels, data=lambda: self.controller.data, visible=lambda k: self.panel_frames[k].isVisible(),
            running=lambda: self.controller.is_running, gate=self.controller.gui_idle,
            window_shown=lambda: self.isVisible() and not self.isMinimized(),
            before_frame=self._update_status, parent=self)
        self._build_layout()
        self._build_menus()
        self._build_status_bar()
        self._reset_edit_timer = QTimer(self, singleShot=True, interval=400)
        self._reset_edit_timer.timeout.connect(self._on_reset_edit_timer_timeout)

        c = self.controller
        c.state_changed.connect(self._on_controller_state_changed)
        c.data_changed.connect(self._on_controller_data_changed)
        c.trainer_replaced.connect(self._on_controller_trainer_replaced)
        c.config_changed.connect(self._on_controller_config_changed)
        c.training_refused.connect(self._on_controller_training_refused)
        c.worker_failed.connect(self._on_controller_worker_failed)
        c.dirty_changed.connect(self._update_title)
        c.path_changed.connect(self._update_title)
        c.budget_reached.connect(self._on_controller_budget_reached)
        c.undo_changed.connect(self.undo_action.setEnabled)
        self.autosave = recovery.RecoveryAutosave(c, recovery.AUTOSAVE_INTERVAL, parent=self)
        self.autosave.failed.connect(self._on_autosave_failed)
        self.controls.start_clicked.connect(self.toggle_training)
        self.controls.step_clicked.connect(c.step_once)
        self.controls.reset_clicked.connect(self.reset_run)
        self.controls.preset_chosen.connect(self.load_preset)
        self.controls.live_edited.connect(self._on_live_edited)
        self.controls.reset_field_edited.connect(self._on_controls_reset_field_edited)
        self.controls.corpus_chosen.connect(self._on_controls_corpus_chosen)
        self.controls.corpus_browse_requested.connect(self._on_controls_corpus_browse_requested)
        self.sampling_panel.live_edited.connect(self._on_live_edited)
        self.hidden_panel.live_edited.connect(self._on_live_edited)
        self.gradient_panel.source_changed.connect(self._on_gradient_panel_source_changed)
        self.gradient_panel.layer_changed.connect(self._on_layer_chosen)
        self.sampling_panel.sample_requested.connect(self._on_sampling_panel_sample_requested)

        self._default_state = self.saveState()
        self._splits_to_default = True     # at the first show, unless the settings bring sizes
        self._fitted = False
        self.setGeometry(self.default_geometry())
        self._restore_settings()
        self._fit_to_screen()
        self._on_controller_trainer_replaced()
        self._on_controller_state_changed("paused")

    # ---- construction -----------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.control_dock = QDockWidget("Controls", self)
        self.control_dock.setObjectName("controls_dock")
        self.control_dock.setWidget(self.controls)
        self.control_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable |
                                      QDockWidget.DockWidgetFeature.DockWidgetFloatable |
                                      QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.control_dock.setMinimumWidth(self.controls.content_width())
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.control_dock)
        # The why-view: hidden until asked for (View ▸ Why it learns or fails, Ctrl+E); while
        # shown, training spends a little of its time computing its numbers.
        self.why_panel = WhyPanel()
        self.why_panel.explain_requested.connect(self.explain_now)
        self.why_panel.try_requested.connect(self.try_change)
        self.why_dock = QDockWidget("Why it learns or fails", self)
        self.why_dock.setObjectName("why_dock")
        self.inputs_view = InputsView()
        self.why_tabs = QTabWidget()
        self.why_tabs.addTab(self.why_panel, "Gradients and memory")
        inputs_scroll = QScrollArea()          # scrolls, rather than widen a small window past the screen
        inputs_scroll.setWidgetResizable(True)
        inputs_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        inputs_scroll.setWidget(self.inputs_view)
        self.why_tabs.addTab(inputs_scroll, "Inputs and units")
        self.sample_inspector = SampleInspector()
        self.why_tabs.addTab(self.sample_inspector, "Sample")
        self.dynamics_view = DynamicsView()
        self.why_tabs.addTab(self.dynamics_view, "Jacobians and gates")
        self.why_tabs.setTabToolTip(3, "Whether each step of the recurrence contracts or expands a change "
                                       "(the one-step Jacobian's singular values), and how saturated the gates are")
        self.why_tabs.setTabToolTip(2, "A text the network writes, each character coloured by the probability "
                                       "it had; change the temperature to see how it reshapes the choice")
        self.why_tabs.setTabToolTip(0, "How far back the gradient reaches, the memory horizon and a diagnosis")
        self.why_tabs.setTabToolTip(1, "Which inputs an output leans on, what single units respond to, the "
                                       "probability of each symbol, and what the state still holds")
        # a stacked network's layer the why-views analyse (the gradient-flow panel follows it)
        self.why_layer_box = LayerBox(LAYER_HELP)
        self.why_layer_box.layer_chosen.connect(self._on_layer_chosen)
        self.why_layer_row = QWidget()
        layer_row = QHBoxLayout(self.why_layer_row)
        layer_row.setContentsMargins(4, 0, 4, 0)
        layer_row.addWidget(self.why_layer_box)      # ("layer 1 (input)" …: no label, room for the tabs)
        self.why_layer_row.setToolTip(LAYER_HELP)
        self.why_tabs.setCornerWidget(self.why_layer_row, Qt.Corner.TopRightCorner)
        self.why_layer_row.hide()
        # a network the why-views cannot analyse (a stacked one) gets one line in their place
        self.why_refusal = QLabel()
        self.why_refusal.setWordWrap(True)
        self.why_refusal.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.why_refusal.setMargin(24)
        self.why_pages = QStackedWidget()
        self.why_pages.addWidget(self.why_tabs)
        self.why_pages.addWidget(self.why_refusal)
        self.why_dock.setWidget(self.why_pages)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.why_dock)
        self.why_dock.hide()
        self.why_dock.visibilityChanged.connect(self._on_why_dock_visibility_changed)

        self.help_buttons: dict[str, QToolButton] = {}

        def framed(key, panel, name):
            box = QWidget()
            box.setObjectName(name)
            title = PANEL_HELP[key].title
            heading = QLabel(f"<b>{title}</b>")
            help_button = QToolButton()
            help_button.setText("?")
            help_button.setAutoRaise(True)
            help_button.setToolTip(f"What am I looking at? What the {title.lower()} panel shows, what its "
                                   "colours mean, and what a good and a bad picture look like.")
            help_button.clicked.connect(lambda _=False, k=key: self.show_panel_help(k))
            self.help_buttons[key] = help_button
            row = QHBoxLayout()
            row.setContentsMargins(4, 2, 4, 0)
            row.setSpacing(4)
            row.addWidget(heading)
            row.addWidget(help_button)
            if key == "cost":
                row.addWidget(self.start_hint)
            row.addStretch(1)
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(0)
            lay.addLayout(row)
            lay.addWidget(panel, 1)
            return box

        # Until the first Start: where to begin (also in the status bar)
        self.start_hint = QLabel(f"◀ {START_HINT}")
        self.start_hint.setStyleSheet("background-color: #fff3c4; color: #5a3c00; padding: 1px 6px; "
                                      "border-radius: 3px;")
        self.start_hint.setToolTip("Start trains the network in the background; the four panels update as it "
                                   "learns. Press it again (or Space) to pause.")
        self.panel_frames = {key: framed(key, panel, f"{key}_panel") for key, panel in self._panels.items()}
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.panel_frames["cost"])
        top.addWidget(self.panel_frames["hidden"])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.panel_frames["gradient"])
        bottom.addWidget(self.panel_frames["sampling"])
        rows = QSplitter(Qt.Orientation.Vertical)
        rows.addWidget(top)
        rows.addWidget(bottom)
        for s, sizes in ((top, [1, 1]), (bottom, [3, 2]), (rows, [1, 1])):
            s.setChildrenCollapsible(False)
            for i, size in enumerate(sizes):
                s.setStretchFactor(i, size)
        top.setSizes([600, 500])
        bottom.setSizes([660, 440])
        self._splitters = [top, bottom, rows]
        self._split_places = [(top, "cost"), (top, "hidden"), (bottom, "gradient"), (bottom, "sampling")]
        self._wide_splits = None
        self.panel_area = AdaptiveArea(rows, self._place_panels_wide, self._place_panels_in_tabs)
        self.panel_area.tabs.currentChanged.connect(lambda _i: self._schedule_render())
        self.setCentralWidget(self.panel_area)
        self.resize(DEFAULT_SIZE)

    def _place_panels_in_tabs(self, tabs) -> None:
        """Below the room for four panels: one tab per panel (each at the full size)."""
        self._wide_splits = [s.saveState() for s in self._splitters]
        for key, frame in self.panel_frames.items():
            tabs.addTab(frame, PANEL_HELP[key].tab)
            tabs.setTabToolTip(tabs.count() - 1, PANEL_HELP[key].title)
            tabs.setTabVisible(tabs.count() - 1, self.panel_actions[key].isChecked()
                              if hasattr(self, "panel_actions") else True)
        self._schedule_render()

    def _place_panels_wide(self) -> None:
        for splitter, key in self._split_places:
            splitter.addWidget(self.panel_frames[key])
            self.panel_frames[key].setVisible(self.panel_actions[key].isChecked())
        if self._wide_splits:
            for s, state in zip(self._splitters, self._wide_splits):
                s.restoreState(state)
        self._schedule_render()
        self._apply_default_splits()

    def _apply_default_splits(self) -> None:
        """The splitters in DEFAULT_SPLITS' proportions of the room they have (once asked for:
        at the first show, or by Reset Layout, as soon as the panels sit side by side)."""
        if not self._splits_to_default or self.panel_area.compact or not self.isVisible():
            return
        for splitter, ratio in zip(self._splitters, DEFAULT_SPLITS):
            total = sum(splitter.sizes())
            first = round(total * ratio[0] / sum(ratio))
            splitter.setSizes([first, total - first])
        self._splits_to_default = False

    def showEvent(self, event):  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._fitted:       # now the frame's size is known: fit it on the screen too
            self._fitted = True
            self._fit_to_screen()
        QTimer.singleShot(0, self._apply_default_splits)

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._splits_to_default:
            QTimer.singleShot(0, self._apply_default_splits)

    def _action(self, menu, text, slot, shortcut=None, tip=None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&New", self.new_run, QKeySequence.StandardKey.New,
                     "Start over with the default experiment")
        self._action(file_menu, "&Open…", self.open_session_dialog, QKeySequence.StandardKey.Open,
                     "Open a saved session (.rnnviz) and continue where it stopped")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        self._action(file_menu, "&Save", self.save, QKeySequence.StandardKey.Save,
                     "Save the run (weights, optimizer state, history) to its session file")
        self._action(file_menu, "Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        file_menu.addSeparator()
        export = file_menu.addMenu("&Export Plot as PNG/SVG")
        for title, item in (("Cost plot…", lambda: self.cost_panel.plot),
                            ("Hidden-state heatmap…", lambda: self.hidden_panel.graphics.ci),
                            ("Gradient-flow plots…", lambda: self.gradient_panel.graphics.ci)):
            self._action(export, title, lambda _=False, t=title, i=item: self.export_plot_dialog(t, i()))
        self._action(file_menu, "Export &History as CSV…", self.export_history_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit_menu = bar.addMenu("&Edit")
        self.undo_action = self._action(edit_menu, "&Undo setting change", self.undo_setting_change,
                                        QKeySequence.StandardKey.Undo,
                                        "Put back the training setting you changed last (itself marked on "
                                        "the curves as a setting change)")
        self.undo_action.setEnabled(False)

        run_menu = bar.addMenu("&Run")
        self.start_action = self._action(run_menu, "Start / Pause", self.toggle_training, "Space")
        self.start_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self._action(run_menu, "Step once", self.controller.step_once, "Ctrl+Right")
        self._action(run_menu, "Reset", self.reset_run, "Ctrl+R")

        view = bar.addMenu("&View")
        toggle = self.control_dock.toggleViewAction()
        toggle.setText("Controls")
        view.addAction(toggle)
        self.panel_actions = {}
        for key, title in (("cost", "Cost"), ("hidden", "Hidden states"), ("gradient", "Gradient flow"),
                           ("sampling", "Samples and predictions")):
            action = QAction(title, self, checkable=True, checked=True)
            action.toggled.connect(lambda on, k=key: self._set_panel_visible(k, on))
            view.addAction(action)
            self.panel_actions[key] = action
        view.addSeparator()
        why = QAction("Why it learns or fails", self, checkable=True)
        why.setShortcut("Ctrl+E")
        why.toggled.connect(self.show_why)
        self.why_dock.visibilityChanged.connect(
            lambda _v: why.setChecked(self.why_dock.isVisible() or not self.why_dock.isHidden()))
        view.addAction(why)
        self.why_action = why
        view.addSeparator()
        self._action(view, "Reset Layout", self.reset_layout)

        help_menu = bar.addMenu("&Help")
        looking = help_menu.addMenu("What am I looking at?")
        for key, entry in PANEL_HELP.items():
            self._action(looking, f"{entry.title}…", lambda _=False, k=key: self.show_panel_help(k))
        self._action(help_menu, "Keyboard Shortcuts", self.show_shortcuts)
        self._action(help_menu, "About rnnviz", self.show_about)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_labels = {}
        self.status_hint = QElidingLabel(START_HINT)
        self.status_hint.setMinimumWidth(self.status_hint.fontMetrics().horizontalAdvance(START_HINT) * 6 // 5 + 12)   # bold
        self.status_hint.setStyleSheet("color: #5a3c00; font-weight: bold;")
        bar.addWidget(self.status_hint)
        for key, width in (("state", 80), ("step", 140), ("loss", 100), ("speed", 90), ("file", 120)):
            label = QElidingLabel() if key == "file" else QLabel()
            label.setMinimumWidth(width)
            bar.addPermanentWidget(label)
            self.status_labels[key] = label
        self.status_labels["step"].setToolTip("Training steps taken, and the step budget Start trains to (the "
                                              "preset's suggested length; Continue adds as many again).")

    # ---- dialogs (the one place that may block) -----------------------------------------------
    def _dialog(self, kind: str, title: str, text: str = "", *, choices=None, file_filter: str = "",
                path: str = "") -> str | None:
        """Show a dialog and return the answer.

        kind: "info" | "error" -> None; "question" -> one of ``choices`` (first is the default) or
        None; "open" / "save" -> a path or None. Tests monkeypatch this method.
        """
        if self.non_interactive:
            print(f"rnnviz: {title}: {text}", file=sys.stderr)
            return None
        self._dialog_depth += 1
        try:
            return self._blocking_dialog(kind, title, text, choices=choices, file_filter=file_filter, path=path)
        finally:
            self._dialog_depth -= 1

    def _blocking_dialog(self, kind, title, text, *, choices, file_filter, path) -> str | None:
        if kind in ("open", "save"):
            start = path or settings().value("last_folder", str(Path.home()))
            if kind == "open":
                chosen, _ = QFileDialog.getOpenFileName(self, title, start, file_filter)
            else:
                chosen, _ = QFileDialog.getSaveFileName(self, title, start, file_filter)
            if chosen:
                settings().setValue("last_folder", str(Path(chosen).parent))
            return chosen or None
        box = QMessageBox(self)
        box.setWindowTitle(title)
        box.setText(text)
        box.setIcon({"error": QMessageBox.Icon.Critical, "question": QMessageBox.Icon.Question}
                    .get(kind, QMessageBox.Icon.Information))
        if kind == "question":
            buttons = {}
            for choice in choices:
                role = QMessageBox.ButtonRole.RejectRole if choice == "Cancel" else QMessageBox.ButtonRole.AcceptRole
                buttons[box.addButton(choice, role)] = choice
            box.setDefaultButton(next(iter(buttons)))
            box.exec()
            return buttons.get(box.clickedButton())
        if "\n" in text and text.count("\n") > 3:   # a traceback: keep the dialog short
            box.setText(text.strip().splitlines()[-1])
            box.setDetailedText(text)
        box.exec()
        return None

    def _confirm_discard(self, what: str, carried: str = "") -> bool:
        """Ask before throwing away trained weights: Save (then go on), Discard or Cancel."""
        steps = self.controller.step_count
        if steps == 0 or not self.controller.dirty:
            return True
        answer = self._dialog("question", "Save the trained weights first?",
                              f"{what} replaces the weights trained for {steps:,} steps, which are not saved."
                              f"{carried}\n\nThe old run's loss stays on the cost plot as a faint curve until "
                              "the next reset.", choices=["Save", "Discard", "Cancel"])
        if answer == "Save":
            return self.save()
        return answer == "Discard"

    def carried_settings(self) -> list[str]:
        """Training settings changed during the run that a Reset keeps ("Learning rate 0.1 → 0.05")."""
        first: dict[str, object] = {}
        for _step, name, old, _new in self.controller.data.setting_changes:
            first.setdefault(name, old)
        config = self.controller.config
        out = []
        for name, old in first.items():
            if name in self.controls._widgets and getattr(config, name) != old:
                out.append(f"{self.controls._labels[name].text()} {self.controls.shown_text(name, old)} → "
                           f"{self.controls.shown_text(name, getattr(config, name))}")
        return out

    def _maybe_save(self, what: str) -> bool:
        """Offer to save unsaved work; False if the user cancelled."""
        if not self.controller.dirty or self.controller.step_count == 0:
            return True
        answer = self._dialog("question", "Save this run?",
                              f"{what}: the run has {self.controller.step_count:,} training steps that are not "
                              "saved. Save them to a session file first?",
                              choices=["Save", "Discard", "Cancel"])
        if answer == "Save":
            return self.save()
        return answer == "Discard"

    # ---- run management -----------------------------------------------------------------------
    def reset_run(self) -> None:
        """Fresh weights with the settings shown in the controls (asks before discarding)."""
        try:
            config = self.controls.edited_config()
        except InputError as exc:
            self._dialog("error", "Invalid setting", str(exc))
            return
        carried = self.carried_settings()
        note = ("\n\nThe new run keeps the training settings changed during this one: " + "; ".join(carried) + "."
                if carried else "")
        if not self._confirm_discard("Reset", note):
            return
        if self._build_run(config) and carried:
            self.statusBar().showMessage("New run, keeping the settings changed while training: "
                                         + "; ".join(carried), 15000)

    def load_preset(self, name: str) -> bool:
        try:
            preset = load_preset(name)
        except InputError as exc:
            self._dialog("error", "Unknown preset", str(exc))
            return False
        if not self._confirm_discard(f"Loading the preset “{preset.title}”"):
            self.controls.show_config(self.controller.config)
            return False
        config = preset.config if preset.config.preset else preset.config.replace(preset=preset.name)
        if not self._build_run(config):
            return False
        self.statusBar().showMessage(f"{preset.title}: {preset.source}. Suggested length: {preset.steps:,} steps.",
                                     15000)
        return True

    def new_run(self) -> None:
        if not self._maybe_save("New run"):
            return
        config = self._default_config()
        self._ghost_candidate = self._current_run_curve()
        try:
            self.controller.reset(config)
        except InputError as exc:
            self._ghost_candidate = None
            self._dialog("error", "Cannot build the default run", str(exc))
            return
        self.controller.set_file(None)

    @staticmethod
    def _default_config() -> Config:
        try:
            return load_preset("char-rnn").config
        except Exception:  # noqa: BLE001 - presets missing: fall back to Config's defaults
            return Config()

    def try_change(self, change: dict) -> bool:
        """Apply a diagnosis's suggested change: live settings at once (marked on the cost curve),
        others as a new run with them (the replaced run stays on the cost plot, its label naming
        what changed). False if nothing was applied (invalid, or the user cancelled)."""
        config = self.controller.config
        words = "; ".join(marker_text(k, getattr(config, k), v) for k, v in change.items())
        if set(change) <= LIVE_FIELDS:
            try:
                self.controller.set_live(**change)
            except InputError as exc:
                self._dialog("error", "Cannot apply this change", str(exc))
                return False
            self.controls.show_live_config(self.controller.config)
            self.statusBar().showMessage(f"Applied to this run: {words}", 15000)
            return True
        try:
            new_config = config.replace(**change)
        except InputError as exc:
            self._dialog("error", "Cannot apply this change", str(exc))
            return False
        if not self._confirm_discard(f"Trying {words}"):
            return False
        if not self._build_run(new_config, tried=words):
            return False
        self.statusBar().showMessage(f"New run with {words}; the previous run stays on the cost plot", 15000)
        return True

    def _build_run(self, config: Config, tried: str | None = None) -> bool:
        """A new run with ``config``; ``tried``: the change it tries, named on the old run's curve."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self._ghost_candidate = self._current_run_curve()
        if tried and self._ghost_candidate is not None:
            steps, values, label = self._ghost_candidate
            self._ghost_candidate = (steps, values, f"{label[:-1]}; before {tried})")
        try:
            self.controller.reset(config)
        except InputError as exc:
            self._ghost_candidate = None
            QApplication.restoreOverrideCursor()
            what = "Cannot use this corpus" if config.task == "charlm" and config.corpus else "Cannot build this run"
            self._dialog("error", what, f"{exc}\n\nThe current run is unchanged.")
            self.controls.show_config(self.controller.config)
            return False
        QApplication.restoreOverrideCursor()
        return True

    # ---- sessions -----------------------------------------------------------------------------
    def open_session_dialog(self) -> None:
        if not self._maybe_save("Opening another session"):
            return
        path = self._dialog("open", "Open session", file_filter=SESSION_FILTER)
        if path:
            self.open_path(path, ask_to_save=False)

    def open_path(self, path: str, ask_to_save: bool = True) -> bool:
        """Open a session file; on any problem show why and keep the current session."""
        if ask_to_save and not self._maybe_save("Opening another session"):
            return False
        try:
            self.controller.open_session(path)
        except (RnnvizError, OSError) as exc:
            self._dialog("error", "Could not open session",
                         f"{Path(path).name}: {exc}\n\nThe current session is unchanged.")
            return False
        self._add_recent(path)
        return True

    def save(self) -> bool:
        if self.controller.path is None:
            return self.save_as()
        return self._save_to(self.controller.path)

    def save_as(self) -> bool:
        path = self._dialog("save", "Save session as", file_filter=SESSION_FILTER,
                            path=self.controller.path or "")
        if not path:
            return False
        if not path.endswith(SESSION_SUFFIX):
            path += SESSION_SUFFIX
        return self._save_to(path)

    def _save_to(self, path: str) -> bool:
        was_running = self.controller.state == "running"
        try:
            self.controller.save_session(path)
        except (RnnvizError, OSError) as exc:
            self._dialog("error", "Could not save", f"{path}: {exc}")
            return False
        self._add_recent(path)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        if was_running and not self._closing_accepted:
            self.controller.start()
        return True

    def _add_recent(self, path: str) -> None:
        path = os.path.abspath(path)
        s = settings()
        recent = [p for p in (s.value("recent_files") or []) if p != path]
        if isinstance(recent, str):
            recent = [recent]
        s.setValue("recent_files", [path] + recent[: MAX_RECENT - 1])
        s.setValue("last_folder", os.path.dirname(path))
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = settings().value("recent_files") or []
        if isinstance(recent, str):
            recent = [recent]
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    # ---- exports ------------------------------------------------------------------------------
    def export_plot_dialog(self, title: str, item) -> None:
        path = self._dialog("save", f"Export {title.rstrip('…').lower()}",
                            file_filter="PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            self.export_plot(item, path)

    def export_plot(self, item, path: str) -> None:
        """PNG or SVG by the file's suffix, with pyqtgraph's exporters."""
        if not path.lower().endswith((".png", ".svg")):
            path += ".png"
        try:
            export_plot_item(item, path)
        except OSError as exc:
            self._dialog("error", "Could not export", f"{path}: {exc}")

    def export_history_dialog(self) -> None:
        path = self._dialog("save", "Export history as CSV", file_filter="CSV files (*.csv)")
        if path:
            if not path.lower().endswith(".csv"):
                path += ".csv"
            try:
                self.export_history(path)
            except OSError as exc:
                self._dialog("error", "Could not export", f"{path}: {exc}")

    def export_history(self, path: str) -> None:
        """One row per training step, from the Trainer's own history (full precision): loss,
        gradient norms on the steps the history keeps them for, held-out metrics where measured.
        Training pauses for the moment it takes."""
        was_running = self.controller.state == "running"
        self.controller.stop_and_wait()
        try:
            write_csv(self.controller.trainer.history, path)
        finally:
            if was_running:
                self.controller.start()

    # ---- layout, settings ---------------------------------------------------------------------
    def panel_shown(self, key: str) -> bool:
        """Whether the panel is in the layout (as a tab that may be in the background, when tabbed)."""
        if self.panel_area.compact:
            tabs = self.panel_area.tabs
            return tabs.isTabVisible(tabs.indexOf(self.panel_frames[key]))
        return self.panel_frames[key].isVisible()

    def _set_panel_visible(self, key: str, visible: bool) -> None:
        if self.panel_area.compact:
            tabs = self.panel_area.tabs
            tabs.setTabVisible(tabs.indexOf(self.panel_frames[key]), visible)
        else:
            self.panel_frames[key].setVisible(visible)
        if visible:
            self._schedule_render()

    def screen_room(self) -> QRect:
        """The room the window's screen leaves for windows (tests stand in a screen size)."""
        return (self.screen() or QApplication.primaryScreen()).availableGeometry()

    def default_geometry(self) -> QRect:
        """The window's first place: DEFAULT_SIZE (or the screen's room), centred on the screen."""
        screen = self.screen_room()
        rect = QRect(0, 0, min(DEFAULT_SIZE.width(), screen.width()), min(DEFAULT_SIZE.height(), screen.height()))
        rect.moveCenter(screen.center())
        return rect

    def _fit_to_screen(self) -> None:
        """A size remembered from a bigger screen is cut to this one's room (and moved onto it)."""
        screen = self.screen_room()
        if self.isMaximized() or self.isFullScreen():
            return
        frame = self.frameGeometry()
        extra = frame.size() - self.geometry().size()          # the frame's share (0 before a show)
        size = self.size().boundedTo(screen.size() - extra)
        if size != self.size():
            self.resize(size)
        outer = QRect(frame.topLeft(), size + extra)
        if not screen.contains(outer):
            outer.moveLeft(min(max(outer.left(), screen.left()), screen.right() - outer.width() + 1))
            outer.moveTop(min(max(outer.top(), screen.top()), screen.bottom() - outer.height() + 1))
            self.move(outer.topLeft())     # move() places the frame

    def reset_layout(self) -> None:
        """View ▸ Reset Layout: the window's first size and place, the dock, every panel shown,
        and the splitters as they started."""
        if self.isMaximized() or self.isFullScreen():
            self.showNormal()
        self.setGeometry(self.default_geometry())
        self.restoreState(self._default_state)
        self.control_dock.show()
        self.why_dock.hide()
        for action in self.panel_actions.values():
            action.setChecked(True)
        self._wide_splits = None
        self._splits_to_default = True      # now, or once there is room for the panels side by side
        self.panel_area.update_mode()
        self._apply_default_splits()

    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for i, splitter in enumerate(self._splitters):
            split = s.value(f"window/splitter{i}")
            if isinstance(split, QByteArray):
                splitter.restoreState(split)
                self._splits_to_default = False
        hidden = s.value("window/hidden_panels") or []
        if isinstance(hidden, str):
            hidden = [hidden]
        for key in hidden:
            if key in self.panel_actions:
                self.panel_actions[key].setChecked(False)
        smoothing = s.value("cost/smoothing")
        if smoothing is not None:
            try:
                self.cost_panel.set_smoothing(min(max(float(smoothing), 0.0), 0.999))
            except (TypeError, ValueError):
                pass
        self._update_recent_menu()

    def _save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        # in tabs the splitters are empty: keep what they held when the panels were side by side
        splits = self._wide_splits if self.panel_area.compact else [p.saveState() for p in self._splitters]
        for i in range(len(self._splitters)):
            if splits and not self._splits_to_default:
                s.setValue(f"window/splitter{i}", splits[i])
            else:
                s.remove(f"window/splitter{i}")
        s.setValue("window/hidden_panels", [k for k, a in self.panel_actions.items() if not a.isChecked()])
        s.setValue("cost/smoothing", self.cost_panel.smoothing_value)
        s.sync()

    # ---- help ---------------------------------------------------------------------------------
    def show_panel_help(self, key: str) -> None:
        """What am I looking at? The panel's explanation (Help menu and the "?" in its title)."""
        entry = PANEL_HELP[key]
        self._dialog("info", f"What am I looking at? {entry.title}", entry.text.strip())

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>&nbsp;&nbsp;{html.escape(v)}</td></tr>"
                       for k, v in SHORTCUTS)
        self._dialog("info", "Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self) -> None:
        from rnnviz import __version__ as version  # noqa: PLC0415
        self._dialog("info", "About rnnviz",
                     f"<b>rnnviz {version}</b><br>Watch recurrent neural networks (RNN, LSTM, GRU) learn. "
                     "The networks are written from scratch in NumPy with exact backpropagation through "
                     "time; this window shows the cost, the hidden states across time, and how the gradient "
                     "flows (or vanishes) back through the time steps.")

    # ---- rendering (rnnviz.gui.frames) -----------------------------------------------------------
    def _schedule_render(self) -> None:
        self.frames.schedule()

    def render_now(self) -> None:
        """Redraw every panel immediately (after a reset, for tests and screenshots)."""
        self.frames.draw_now()

    def _update_status(self) -> None:
        c = self.controller
        self.status_labels["state"].setText({"running": "● running", "pausing": "pausing…"}.get(c.state, "‖ paused"))
        budget = c.step_budget
        self.status_labels["step"].setText(f"step {c.step_count:,}" + ("" if budget is None else f" of {budget:,}"))
        loss = c.data.latest_loss()
        self.status_labels["loss"].setText("loss –" if loss is None else f"loss {loss:.4g}")
        self.status_labels["speed"].setText(speed_text(c.steps_per_second) if c.state == "running" else "")

    def _update_title(self, *_args) -> None:
        c = self.controller
        name = Path(c.path).name if c.path else "untitled"
        mark = "*" if c.dirty else ""
        self.setWindowTitle(f"{name}{mark} — rnnviz")
        self.status_labels["file"].setText(f"{name}{' (unsaved changes)' if c.dirty else ''}")
        self.status_labels["file"].setToolTip(c.path or "not saved yet")

    # ---- controller signals -------------------------------------------------------------------
    def _on_controller_state_changed(self, state: str) -> None:
        self.controls.set_run_state(state)
        self._show_start_hint(state == "paused" and self.controller.step_count == 0)
        self._show_continue(state == "paused" and self.controller.budget_left == 0)
        self._update_status()
        if state == "paused":
            self._schedule_render()
        self.why_panel.explain_button.setEnabled(state == "paused")

    def _on_controller_data_changed(self) -> None:
        self._schedule_render()
        if self.why_dock.isVisible():
            self._refresh_why(self.controller.is_running)

    # ---- the why-view -------------------------------------------------------------------------
    def show_why(self, on: bool = True) -> None:
        """View ▸ Why it learns or fails: beside the panels on a wide window; on a narrower one as
        a tab beside the controls, so the window never grows past the screen."""
        dock = self.why_dock
        if not on:
            dock.hide()
            return
        if (self.width() < WHY_BESIDE_MIN_WIDTH and not dock.isFloating()
                and self.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea):
            self.tabifyDockWidget(self.control_dock, dock)
        dock.show()
        dock.raise_()

    def _on_why_dock_visibility_changed(self, visible: bool) -> None:
        self._update_insight_wanted()
        if visible:
            self._refresh_why(self.controller.is_running)

    def _show_layer_choice(self, layers: int) -> None:
        """The layer selectors of a run with ``layers`` layers: the why dock's and the gradient
        panel's show the controller's insight layer (the top one unless another was chosen)."""
        c = self.controller
        if c.insight_layer is not None and c.insight_layer > layers:
            c.set_insight_layer(None)
        layer = c.insight_layer or layers
        self.why_layer_box.set_layers(layers, layer)
        self.why_layer_row.setVisible(layers > 1)
        if layers > 1 and self.gradient_panel.layer != layer:
            self.gradient_panel.set_layer(layer)

    def _on_layer_chosen(self, layer: int) -> None:
        """A layer chosen in the why dock or the gradient-flow panel: both show it, and the
        why-views' numbers are those of that layer from now on."""
        self.why_layer_box.set_layer(layer)
        if self.gradient_panel.layer != layer:
            self.gradient_panel.set_layer(layer)
        self.controller.set_insight_layer(layer)
        if self.why_dock.isVisible():
            self._refresh_why(self.controller.is_running)

    def _on_gradient_panel_source_changed(self, _source: str) -> None:
        self._update_insight_wanted()

    def _update_insight_wanted(self) -> None:
        """The why-views' numbers are computed while something shows them: the why dock, or a
        probe source of the gradient-flow plot. While paused, numbers not of the current weights
        are computed at once."""
        c = self.controller
        wanted = self.why_dock.isVisible() or self.gradient_panel.wants_insight
        c.want_insight(wanted)
        if wanted and not c.is_running and (c.data.insight is None or c.data.insight.step != c.step_count):
            self.explain_now()

    def explain_now(self) -> None:
        """The why-view for the weights as they are (while paused), with a busy cursor."""
        if self.controller.is_running:
            return
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.controller.explain_now()
        finally:
            QApplication.restoreOverrideCursor()
        self._refresh_why(False)

    def _refresh_why(self, running: bool) -> None:
        data = self.controller.data
        if self.why_panel.refresh(data, running):
            self.inputs_view.show_insight(data.insight)
            self.dynamics_view.show_insight(data.insight)
            self._show_inspected_sample(None if data.insight is None else data.insight.sample)

    def _show_inspected_sample(self, sample) -> None:
        """A new sample to inspect, at the temperature the user chose for the last one, if they did
        (held back while the user looks at one character's saliency)."""
        self.sample_inspector.show_sample(sample, keep_temperature=True)

    def _on_controller_trainer_replaced(self) -> None:
        config = self.controller.config
        for panel in (self.cost_panel, self.hidden_panel, self.gradient_panel, self.sampling_panel):
            panel.clear()
        self.why_panel.clear()
        self.inputs_view.show_insight(None)
        self.dynamics_view.show_insight(None)
        self.sample_inspector.show_sample(None)
        if self._ghost_candidate is not None:     # a reset: the run replaced stays as a ghost
            self.previous_run = self._ghost_candidate
        self._ghost_candidate = None
        if self.previous_run is not None:
            self.cost_panel.set_ghost(*self.previous_run)
        self._set_budget_for(config)
        self._show_start_hint(self.controller.step_count == 0)
        self.controls.show_config(config)
        self._on_controller_config_changed(config)
        self._update_title()
        self._update_insight_wanted()      # a new run, traced as the old one was
        self.render_now()

    def _on_controller_config_changed(self, config: Config) -> None:
        refusal = not_analysable(config)
        self.why_refusal.setText(sentence(refusal) + "." if refusal else "")
        self.why_pages.setCurrentWidget(self.why_refusal if refusal else self.why_tabs)
        self.controls.show_live_config(config)
        self.sampling_panel.show_config(config)
        self.hidden_panel.show_config(config)
        self.gradient_panel.set_clipping(config.clip_mode, config.clip)
        self.gradient_panel.set_cell(config.cell, config.activation)
        self.gradient_panel.set_encoder_decoder(is_encoder_decoder(config.task))
        self.gradient_panel.set_layers(config.layers)
        self._show_layer_choice(config.layers)
        self.cost_panel.set_loss_label(loss_axis_label(config))

    def _on_controller_training_refused(self, message: str) -> None:
        self._dialog("error", "Training paused: a step went non-finite",
                     f"{message}\n\nThat step was not applied: the last good parameters are kept. Lower the "
                     "learning rate (or turn on gradient clipping) and press Start to continue.")

    def _on_controller_worker_failed(self, text: str) -> None:
        self._dialog("error", "Training stopped by an error",
                     f"Training was paused because of an unexpected error. The window keeps running; "
                     f"you can reset or open another session.\n\n{text}\n{BUG_LINE}")

    # ---- step budget, Continue, undo, the first screen -------------------------------------------
    def _set_budget_for(self, config: Config) -> None:
        """A preset's run trains to the preset's length (the next multiple of it, for a session
        opened further on); other runs train until paused."""
        preset = self._presets.get(config.preset)
        c = self.controller
        if preset is None or preset.steps <= 0:
            self._budget_increment = None
            c.set_budget(None)
        else:
            self._budget_increment = preset.steps
            c.set_budget(preset.steps * max(1, math.ceil(c.step_count / preset.steps)))
        self.cost_panel.set_budget(c.step_budget)
        self._show_continue(c.state == "paused" and c.budget_left == 0)

    def toggle_training(self) -> None:
        """Start / Pause (Space); at the step budget, Continue."""
        c = self.controller
        if c.state != "running" and c.budget_left == 0:
            self.continue_training()
        else:
            c.toggle()

    def continue_training(self) -> None:
        """Extend the step budget by the preset's length and train on."""
        c = self.controller
        c.extend_budget(self._budget_increment or 0)
        self.cost_panel.set_budget(c.step_budget)
        self.statusBar().showMessage(f"Continuing to step {c.step_budget:,}.", 5000)
        c.start()

    def _on_controller_budget_reached(self, budget: int) -> None:
        self._show_continue(True)
        self._update_status()
        self.statusBar().showMessage(
            f"Reached this preset's length, {budget:,} steps. Continue (Space) trains "
            f"{self._budget_increment or 0:,} more.", 20000)

    def _show_continue(self, at_budget: bool) -> None:
        button = self.controls.start_button
        if at_budget and self._budget_increment:
            button.setText(f"Continue (+{self._budget_increment:,})")
            button.setToolTip(f"Training stopped at the preset's length ({self.controller.step_budget:,} steps). "
                              f"Continue trains {self._budget_increment:,} more (Space).")
        else:
            button.setToolTip("Start or pause training (Space). Training runs in the background; the plots update "
                              "live." + ("" if self.controller.step_budget is None else
                                         f" It stops at step {self.controller.step_budget:,}, the preset's length."))

    def _show_start_hint(self, show: bool) -> None:
        self.start_hint.setVisible(show)
        self.status_hint.setVisible(show)

    def undo_setting_change(self) -> None:
        """Edit ▸ Undo setting change: the previous value of the training setting changed last."""
        try:
            restored = self.controller.undo_live()
        except InputError as exc:
            self._dialog("error", "Cannot undo", str(exc))
            return
        if restored:
            words = "; ".join(f"{self.controls._labels[n].text() if n in self.controls._labels else n} back to "
                              f"{self.controls.shown_text(n, v) if n in self.controls._labels else v}"
                              for n, v in restored.items())
            self.statusBar().showMessage(f"Undone: {words}.", 6000)

    def _current_run_curve(self) -> tuple[np.ndarray, np.ndarray, str] | None:
        """The run shown, as the cost plot's smoothed line (steps, loss), and a label; None if it
        has not trained."""
        data = self.controller.data
        if data.step < 1 or len(data.loss) == 0:
            return None
        columns = pixel_columns(data.loss, 0.0, float(max(data.step, 1)), GHOST_COLUMNS)
        if len(columns) == 0:
            return None
        values = smoothed(columns, self.cost_panel.smoothing_value)
        preset = self._presets.get(self.controller.config.preset)
        name = preset.title if preset else self.controller.config.task
        modified = ", modified" if self.controls.preset_differences() else ""
        return (np.asarray(columns.x, dtype=float), np.asarray(values, dtype=float),
                f"previous run ({name}{modified}, {data.step:,} steps)")

    # ---- control signals ----------------------------------------------------------------------
    def _on_live_edited(self, changes: dict) -> None:
        before = self.controller.config
        try:
            self.controller.set_live(**changes)
        except InputError as exc:
            self._dialog("error", "Invalid setting", str(exc))
            self.controls.show_live_config(self.controller.config)
            self.hidden_panel.show_config(self.controller.config)
            return
        if "probe" in changes and self.controller.config.probe != before.probe and not self.controller.is_running:
            # Training takes the new probe at its next one; paused, the heatmap shows it now.
            self.controller.refresh_idle_view()
            self._schedule_render()

    def _on_controls_reset_field_edited(self, name: str) -> None:
        if self.controller.step_count == 0:
            self._reset_edit_timer.start()     # nothing trained yet: rebuild once the edits settle
        else:
            self.statusBar().showMessage("That setting applies on reset: press Reset to rebuild the network "
                                         "(trained weights are discarded).", 6000)

    def _on_reset_edit_timer_timeout(self) -> None:
        if self.controller.step_count == 0 and self.controls.reset_changes():
            try:
                config = self.controls.edited_config()
            except InputError as exc:
                self._dialog("error", "Invalid setting", str(exc))
                self.controls.show_config(self.controller.config)
                return
            self._build_run(config)

    def _on_controls_corpus_chosen(self, path: str) -> None:
        self.use_corpus(path or None)

    def _on_controls_corpus_browse_requested(self) -> None:
        path = self._dialog("open", "Choose a text file to learn from", file_filter=TEXT_FILTER)
        if path:
            self.use_corpus(path)

    def use_corpus(self, path: str | None) -> bool:
        """Train a character model on ``path`` (None: the built-in corpus); asks before discarding."""
        self.controls.set_value("task", "charlm")
        self.controls.set_value("corpus", path)
        self.controls.update_pending()
        try:
            config = self.controls.edited_config()
        except InputError as exc:
            self._dialog("error", "Invalid setting", str(exc))
            self.controls.show_config(self.controller.config)
            return False
        if not self._confirm_discard("Training on a new corpus"):
            self.controls.show_config(self.controller.config)
            return False
        return self._build_run(config)

    def _on_sampling_panel_sample_requested(self) -> None:
        if self.controller.config.task == "charlm":
            try:
                self.controller.sample_now()
            except InputError as exc:
                self._dialog("error", "Cannot sample", str(exc))

    # ---- drag and drop ----------------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not files:
            return
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.open_dropped_file(files[0]))   # leave the drop handler first

    def open_dropped_file(self, path: str) -> None:
        if path.endswith(SESSION_SUFFIX):
            self.open_path(path)
        else:
            self.use_corpus(path)

    # ---- recovery ---------------------------------------------------------------------------------
    def offer_recovery(self) -> None:
        """At launch: offer back the unsaved run a crash, a power cut or a kill left behind.
        Scripted runs (--quit-after) do not ask: they leave the file for the next launch."""
        autosave = self.autosave
        if not autosave.leftover:
            return
        if self.non_interactive:
            print(f"rnnviz: an unsaved run from an earlier session is kept in {autosave.path}; "
                  "open rnnviz without --quit-after to restore it", file=sys.stderr)
            return
        info = autosave.leftover_info()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info["kept_at"]))
        name = f"“{Path(info['path']).name}”" if isinstance(info["path"], str) else "an untitled run"
        steps = f" ({info['steps']:,} training steps)" if isinstance(info["steps"], int) else ""
        answer = self._dialog("question", "Restore the unsaved run?",
                              f"rnnviz did not close normally last time (a crash, a power cut, or it was "
                              f"stopped). Unsaved work on {name}{steps} was kept at {when}.\n\n"
                              "Restore it? Discard deletes it.", choices=["Restore", "Discard"])
        if self.exit_signal is not None:
            return          # closing on a signal meanwhile: keep the file for the next launch
        if answer == "Discard":
            autosave.discard_leftover()
            return
        try:       # Restore, or the dialog closed without an answer: restoring loses nothing
            autosave.restore()
        except SessionError as exc:
            self._dialog("error", "Could not restore the unsaved run", str(exc))
            return
        self.statusBar().showMessage("Restored the unsaved run: save it to keep it.", 15000)

    def _on_autosave_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Autosave failed: {message}", 15000)

    # ---- closing ----------------------------------------------------------------------------------
    def close_for_signal(self, signum: int) -> None:
        """Ctrl-C, SIGTERM, SIGHUP: close as File ▸ Quit does, but without questions. Training stops
        (the thread is joined) and an unsaved run is kept in the recovery file."""
        if self.exit_signal is not None:
            return
        self.exit_signal = signum
        for widget in QApplication.topLevelWidgets():     # an open question no longer matters
            if isinstance(widget, QDialog) and widget.isVisible():
                widget.reject()
        QTimer.singleShot(0, self._close_once_no_dialog)

    def _close_once_no_dialog(self) -> None:
        if self._dialog_depth or QApplication.activeModalWidget() is not None:
            QTimer.singleShot(20, self._close_once_no_dialog)    # let the dialog's own loop end first
            return
        if not self._closing_accepted:
            self.close()

    def closeEvent(self, event):  # noqa: N802 - Qt override
        was_running = self.controller.state == "running"
        if not self.controller.stop_and_wait(timeout_ms=5000):
            # A step that cannot be interrupted is still running; a QThread must never be
            # destroyed while it runs, so wait for it (pause normally ends a step far sooner).
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            self.controller.stop_and_wait(timeout_ms=None)
            QApplication.restoreOverrideCursor()
        unattended = self.non_interactive or self.exit_signal is not None
        if not unattended and not self._maybe_save("Quitting"):
            event.ignore()
            if was_running and self.exit_signal is None:
                self.controller.start()
            return
        if self.exit_signal is not None:
            self.autosave.keep()           # the unsaved run waits in the recovery file
        else:
            self.autosave.remove()         # saved, or the user (or the script) discarded it
        self.autosave.close()
        self._closing_accepted = True
        self._reset_edit_timer.stop()      # a pending rebuild must not run on a closed window
        self._save_settings()
        event.accept()
        self.closed.emit()

    def save_screenshot(self, path: str) -> None:
        """Render the window into an image file (for documentation); PNGs at maximum compression."""
        self.render_now()
        QApplication.processEvents()
        image = self.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        if not image.save(path, None, 0 if path.lower().endswith(".png") else -1):
            raise OSError(f"could not write {path}")

