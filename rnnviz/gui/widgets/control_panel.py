"""The control dock: presets, task, model and training settings, and the run buttons.

It only shows a Config and reports edits; the window decides what an edit does (a live change
at the next step, or a pending change that applies on reset).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
    QScrollArea, QSpinBox, QVBoxLayout, QWidget,
)

from rnnviz.training.config import (
    ACTIVATIONS, CELLS, CLIP_MODES, DTYPES, INITS, LIVE_FIELDS, OPTIMIZERS, REDUCTIONS, TASKS, Config,
    CHOICE_TITLES, MAX_LAYERS, field_help, field_label, unused_settings,
)
from rnnviz.tasks import TASK_INFO

from .file_field import FileField
from .sliders import SLIDER_MIN_WIDTH, LogSlider, ValueSlider

OPTIMIZER_FIELDS = {
    "sgd": (), "momentum": ("momentum",), "adagrad": ("eps",), "rmsprop": ("rho", "eps"),
    "adam": ("beta1", "beta2", "eps"),
}
PENDING_STYLE = "background-color: #fff3c4;"
PENDING_NAMES_SHOWN = 3      # the banner names this many changed settings, then "and N more"
BANNER_LINES = 2             # the banner's height is reserved for this many lines, shown or not


def _combo(items, titles=None) -> QComboBox:
    box = QComboBox()
    # sized for 14 characters, not the longest item, so the dock stays narrow (longer ones elide)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(14)
    for item in items:
        box.addItem((titles or {}).get(item, item), item)
    return box


def _spin(low, high) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setKeyboardTracking(False)
    box.setGroupSeparatorShown(True)
    return box


def _dspin(low, high, decimals, step) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setKeyboardTracking(False)
    return box


class ControlPanel(QWidget):
    """Settings and run buttons. Signals report what the user did; the window acts on them."""

    preset_chosen = Signal(str)
    live_edited = Signal(dict)            # live settings to apply at the next step
    reset_field_edited = Signal(str)      # a setting that applies on reset was edited
    corpus_chosen = Signal(str)
    corpus_browse_requested = Signal()
    start_clicked = Signal()
    step_clicked = Signal()
    reset_clicked = Signal()

    def __init__(self, presets=(), parent=None):
        super().__init__(parent)
        self._config = Config()
        self._preset_configs = {p.name: p.config for p in presets}
        self._widgets: dict[str, QWidget] = {}
        self._labels: dict[str, QLabel] = {}
        self._forms: dict[str, QFormLayout] = {}
        self._tips: dict[str, str] = {}
        self._boxes: list[QGroupBox] = []
        self._live_burst: dict = {}
        self._live_timer = QTimer(self, singleShot=True, interval=300)
        self._live_timer.timeout.connect(self._on_live_timer_timeout)

        # --- run buttons -------------------------------------------------------------------
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start or pause training (Space). Training runs in the background; "
                                     "the plots update live.")
        self.step_button = QPushButton("Step once")
        self.step_button.setToolTip("Run exactly one training step, to watch the network change slowly "
                                     "(Ctrl+Right).")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Build a fresh network with the settings shown, discarding the trained "
                                     "weights (asks first). Applies every setting marked 'applies on reset' "
                                     "(Ctrl+R).")
        for b in (self.start_button, self.step_button, self.reset_button):
            b.setMinimumHeight(30)
        self.start_button.setStyleSheet("font-weight: bold;")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.step_button, 1)
        buttons.addWidget(self.reset_button, 1)
        # The banner's room is kept while it is empty, so no control moves when it appears.
        self.pending_label = QLabel()
        self.pending_label.setWordWrap(True)
        self.pending_label.setStyleSheet("color: #8a5a00;")
        self.pending_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.pending_label.setFixedHeight(BANNER_LINES * self.pending_label.fontMetrics().lineSpacing() + 4)
        self.pending_label.setMinimumWidth(1)

        # --- problem -----------------------------------------------------------------------
        problem = self._group("Problem — applies on reset")
        self.preset_box = QComboBox()
        self.preset_box.addItem("(choose a preset…)", None)
        for preset in presets:
            self.preset_box.addItem(preset.title or preset.name, preset.name)
            tip = f"<b>{preset.title}</b><br>{preset.description}"
            if preset.source:
                tip += f"<br><i>Source: {preset.source}</i>"
            self.preset_box.setItemData(self.preset_box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self._preset_tip = ("Load a ready-made experiment (task, network and training settings from the "
                            "tutorial or paper it comes from, and how many steps to train). Replaces the current run.")
        self.preset_box.setToolTip(self._preset_tip)
        self.preset_box.activated.connect(self._on_preset_box_activated)
        self.preset_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_box.setMinimumContentsLength(14)
        # "(modified)" once a setting differs from the preset's; its room is always kept
        self.modified_label = QLabel()
        self.modified_label.setStyleSheet("color: #8a5a00;")
        self.modified_label.setFixedWidth(self.modified_label.fontMetrics().horizontalAdvance("(modified)") + 6)
        preset_row = QHBoxLayout()
        preset_row.setContentsMargins(0, 0, 0, 0)
        preset_row.addWidget(self.preset_box, 1)
        preset_row.addWidget(self.modified_label)
        preset_label = QLabel("Preset")
        preset_label.setToolTip(self.preset_box.toolTip())
        problem.addRow(preset_label, preset_row)
        self._add(problem, "task", _combo(TASKS, CHOICE_TITLES["task"]))
        self._add(problem, "seq_length", _spin(1, 10_000))
        self._add(problem, "n_bits", _spin(1, 62))
        self._add(problem, "n_train", _spin(1, 10_000_000))
        self._add(problem, "n_test", _spin(1, 1_000_000))
        self._add(problem, "n_symbols", _spin(1, 256))
        self._add(problem, "copy_length", _spin(1, 1000))
        corpus = FileField("built-in corpus (Python source)")
        corpus.file_chosen.connect(self.corpus_chosen)
        corpus.browse_requested.connect(self.corpus_browse_requested)
        self._add(problem, "corpus", corpus, connect=False)

        # --- model -------------------------------------------------------------------------
        model = self._group("Network — applies on reset")
        self._add(model, "cell", _combo(CELLS, CHOICE_TITLES["cell"]))
        self._add(model, "activation", _combo(ACTIVATIONS))
        self._add(model, "hidden", _spin(1, 4096))
        self._add(model, "layers", _spin(1, MAX_LAYERS))
        self._add(model, "bidirectional", QCheckBox("also read each sequence backwards"))
        self._add(model, "attention", QCheckBox("additive (Bahdanau)"))
        self._add(model, "batch_size", _spin(0, 1_000_000))
        self._widgets["batch_size"].setSpecialValueText("full batch")
        self._add(model, "init", _combo(INITS))
        self._add(model, "forget_bias", _dspin(-10, 20, 2, 0.5))
        self._add(model, "seed", _spin(0, 2**31 - 1))
        self._add(model, "dtype", _combo(DTYPES))
        self._add(model, "reduction", _combo(REDUCTIONS))

        # --- training ----------------------------------------------------------------------
        train = self._group("Training — live, applies at the next step")
        self._add(train, "optimizer", _combo(OPTIMIZERS, CHOICE_TITLES["optimizer"]))
        self._add(train, "lr", LogSlider(1e-5, 1.0, 0.1), connect=False)
        self._add(train, "momentum", _dspin(0, 0.999, 3, 0.01))
        self._add(train, "beta1", _dspin(0, 0.9999, 4, 0.01))
        self._add(train, "beta2", _dspin(0, 0.99999, 5, 0.001))
        self._add(train, "rho", _dspin(0, 0.9999, 4, 0.01))
        eps = _dspin(1e-12, 1.0, 12, 1e-8)
        self._add(train, "eps", eps)
        self._add(train, "clip_mode", _combo(CLIP_MODES, CHOICE_TITLES["clip_mode"]))
        self._add(train, "clip", _dspin(1e-4, 1e6, 4, 0.5))
        self._add(train, "temperature", ValueSlider(0.05, 2.0, 1.0, resolution=195, min_width=SLIDER_MIN_WIDTH), connect=False)
        self._add(train, "sample_every", _spin(1, 1_000_000))
        self._add(train, "sample_length", _spin(1, 100_000))
        self._add(train, "eval_every", _spin(1, 1_000_000))

        # The learning-rate slider sends bursts while dragged: apply only the value it settles on.
        self._lr_proxy = pg.SignalProxy(self._widgets["lr"].value_changed, delay=0.25, rateLimit=0,
                                        slot=self._on_lr_proxy_fired)
        self._temperature_proxy = pg.SignalProxy(self._widgets["temperature"].value_changed, delay=0.2,
                                                 rateLimit=0, slot=self._on_temperature_proxy_fired)

        self._content = content = QWidget()
        column = QVBoxLayout(content)
        column.addLayout(buttons)
        column.addWidget(self.pending_label)
        for box in self._boxes:
            column.addWidget(box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.start_button.clicked.connect(self.start_clicked)
        self.step_button.clicked.connect(self.step_clicked)
        self.reset_button.clicked.connect(self.reset_clicked)
        self.show_config(self._config)

    def content_width(self) -> int:
        """Width that shows every control unclipped (plus room for the vertical scroll bar)."""
        return self._content.sizeHint().width() + 24

    # ---- building ---------------------------------------------------------------------------
    def _group(self, title: str) -> QFormLayout:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._boxes.append(box)
        return form

    def _add(self, form: QFormLayout, name: str, widget: QWidget, *, connect: bool = True) -> None:
        label = field_label(name)
        tip = field_help(name)
        if name not in LIVE_FIELDS and name != "task":
            tip += " (Applies on reset.)"
        self._tips[name] = tip
        widget.setToolTip(tip)
        lab = QLabel(label)
        lab.setToolTip(tip)
        form.addRow(lab, widget)
        self._widgets[name] = widget
        self._labels[name] = lab
        self._forms[name] = form
        if not connect:
            return
        if isinstance(widget, QComboBox):
            widget.activated.connect(lambda _i, n=name: self._on_field_edited(n))
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.valueChanged.connect(lambda _v, n=name: self._on_field_edited(n))
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(lambda _on, n=name: self._on_field_edited(n))

    # ---- reading and showing ----------------------------------------------------------------
    def value(self, name: str):
        w = self._widgets[name]
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QSpinBox):
            return int(w.value())
        if isinstance(w, (QDoubleSpinBox, LogSlider, ValueSlider)):
            return float(w.value())
        if isinstance(w, FileField):
            return w.path() or None
        if isinstance(w, QCheckBox):
            return w.isChecked()
        raise KeyError(name)

    def set_value(self, name: str, value) -> None:
        """Show ``value`` without reporting it as an edit."""
        w = self._widgets[name]
        w.blockSignals(True)
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setValue(value)
        elif isinstance(w, (LogSlider, ValueSlider)):
            w.set_value(value)
        elif isinstance(w, FileField):
            w.set_path(value)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        w.blockSignals(False)

    def show_config(self, config: Config) -> None:
        """Show ``config`` as the current run's settings (clears pending marks)."""
        self._config = config
        for name in self._widgets:
            self.set_value(name, getattr(config, name))
        self.preset_box.setCurrentIndex(max(0, self.preset_box.findData(config.preset)) if config.preset else 0)
        self._update_visibility()
        self.update_pending()

    def show_live_config(self, config: Config) -> None:
        """Show changed live settings only (pending reset-only edits stay as the user left them)."""
        self._config = config
        for name in LIVE_FIELDS & set(self._widgets):
            if self.value(name) != getattr(config, name):
                self.set_value(name, getattr(config, name))
        self._update_visibility()
        self.update_preset_mark()

    def reset_changes(self) -> dict:
        """Settings edited in the panel that apply on reset, as {name: new value}."""
        out = {}
        for name in self._widgets:
            if name in LIVE_FIELDS:
                continue
            value = self.value(name)
            if value != getattr(self._config, name):
                out[name] = value
        return out

    def edited_config(self) -> Config:
        """The current config with every pending reset-only edit applied (ValueError if invalid)."""
        return self._config.replace(**self.reset_changes())

    def update_pending(self) -> None:
        pending = self.reset_changes()
        for name, w in self._widgets.items():
            self._labels[name].setStyleSheet(PENDING_STYLE if name in pending else "")
        if pending:
            names = [self._labels[n].text().lower() for n in pending]
            shown = ", ".join(names[:PENDING_NAMES_SHOWN])
            if len(names) > PENDING_NAMES_SHOWN:
                shown += f" and {len(names) - PENDING_NAMES_SHOWN} more"
            self.pending_label.setText(f"Changed: {shown}. Applies on reset (press Reset).")
            self.pending_label.setToolTip("Settings changed here that apply when you press Reset: "
                                          + ", ".join(names) + ".")
            self.reset_button.setText(f"Reset ({len(pending)})")
            self.pending_label.setStyleSheet("color: #8a5a00;")
        else:
            self.pending_label.setText("Problem and network settings apply when you press Reset; training "
                                       "settings at the next step.")
            self.pending_label.setStyleSheet("color: #777;")
            self.pending_label.setToolTip("Settings that apply on reset are listed here once you change one.")
            self.reset_button.setText("Reset")
        self.update_preset_mark()

    # ---- the preset and how the settings shown differ from it ----------------------------------
    def shown_text(self, name: str, value=None) -> str:
        """A setting's value as the dock shows it (the combo box's words; numbers in short)."""
        w = self._widgets[name]
        if value is None:
            value = self.value(name)
        if isinstance(w, QComboBox):
            i = w.findData(value)
            return w.itemText(i) if i >= 0 else str(value)
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, float):
            return f"{value:.4g}"
        if isinstance(value, int):
            return f"{value:,}"
        return "built-in" if value is None else str(value)

    def preset_differences(self) -> list[tuple[str, str, str]]:
        """(label, preset's value, shown value) of every setting this run reads that differs from
        its preset's (empty without a preset)."""
        preset = self._preset_configs.get(self._config.preset)
        if preset is None:
            return []
        off = self._unused()
        out = []
        for name in self._widgets:
            if name in off:
                continue
            shown, wanted = self.value(name), getattr(preset, name)
            if shown != wanted:
                out.append((self._labels[name].text(), self.shown_text(name, wanted), self.shown_text(name, shown)))
        return out

    def update_preset_mark(self) -> None:
        differences = self.preset_differences()
        self.modified_label.setText("(modified)" if differences else "")
        if differences:
            rows = "".join(f"<tr><td>{label}</td><td>&nbsp;{old}</td><td>&nbsp;→&nbsp;{new}</td></tr>"
                           for label, old, new in differences)
            tip = (f"<b>Differs from the preset “{self.preset_box.currentText()}”</b> (preset → now):"
                   f"<table>{rows}</table>Choose the preset again to go back to its settings.")
        elif self._config.preset in self._preset_configs:
            tip = "Every setting this run reads is the preset's."
        else:
            tip = "Not a preset's run: choose one to load its settings."
        self.modified_label.setToolTip(tip)
        self.preset_box.setToolTip(self._preset_tip + "<br><br>" + tip)

    def set_run_state(self, state: str) -> None:
        self.start_button.setText({"running": "Pause", "pausing": "Pausing…"}.get(state, "Start"))
        self.start_button.setEnabled(state != "pausing")
        self.step_button.setEnabled(state == "paused")

    def _unused(self) -> dict[str, str]:
        """Settings the run shown in the dock would not read, each with the reason (config's words)."""
        shown = SimpleNamespace(**{n: self.value(n) for n in ("task", "cell", "optimizer", "clip_mode")})
        return unused_settings(shown, self._widgets)

    def _update_visibility(self) -> None:
        """Rows stay where they are: a setting this run does not read is disabled, and says why."""
        task = self.value("task")
        info = TASK_INFO.get(task)
        label = (info.seq_length_label if info and info.seq_length_label else "sequence length")
        tip = info.seq_length_help if info else ""
        self._labels["seq_length"].setText(label[0].upper() + label[1:])
        self._tips["seq_length"] = tip + " (Applies on reset.)"
        off = self._unused()
        if "bidirectional" in off and self.value("bidirectional"):
            self.set_value("bidirectional", False)     # a task that refuses it: never a pending "on"
        for name in self._widgets:
            self._set_row_enabled(name, off.get(name))

    def _set_row_enabled(self, name: str, why_off: str | None) -> None:
        tip = self._tips[name]
        if why_off:
            tip = f"<b>Off for this run:</b> {self._in_dock_words(why_off)}.<br><br>{tip}"
        for w in (self._widgets[name], self._labels[name]):
            w.setEnabled(why_off is None)
            w.setToolTip(tip)

    def _in_dock_words(self, reason: str) -> str:
        """``--cell rnn`` (the command line's words) as ``Cell: rnn`` (the dock's)."""
        def word(match):
            name = match.group(1).replace("-", "_")
            return f"“{self._labels[name].text()}”" if name in self._labels else match.group(0)
        return re.sub(r"--([a-z][a-z0-9-]*)", word, reason)

    # ---- edits --------------------------------------------------------------------------------
    def _on_field_edited(self, name: str) -> None:
        self._update_visibility()
        if name in LIVE_FIELDS:
            if isinstance(self._widgets[name], QComboBox):
                self.live_edited.emit({name: self.value(name)})
            else:
                # Spin-box arrows send a value per click: apply the one the user settles on.
                self._live_burst[name] = self.value(name)
                self._live_timer.start()
        else:
            self.update_pending()
            self.reset_field_edited.emit(name)

    def _on_live_timer_timeout(self) -> None:
        changes, self._live_burst = self._live_burst, {}
        if changes:
            self.live_edited.emit(changes)

    def _on_lr_proxy_fired(self, args) -> None:
        self.live_edited.emit({"lr": float(args[0])})

    def _on_temperature_proxy_fired(self, args) -> None:
        self.live_edited.emit({"temperature": round(float(args[0]), 3)})

    def _on_preset_box_activated(self, index: int) -> None:
        name = self.preset_box.itemData(index)
        if name:
            self.preset_chosen.emit(name)
