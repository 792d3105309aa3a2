"""Owns the Trainer, the training thread and the GUI-side history; no widgets here.

Thread ownership: the Trainer is used by the GUI thread only while no worker runs. While one
runs, the GUI reaches it through the worker's thread-safe request methods and learns what
happened from snapshots (copies). ``stop_and_wait`` gives the Trainer back synchronously.
"""

from __future__ import annotations

import collections
import threading
import time

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Signal, Slot

from rnnviz.errors import InputError
from rnnviz.training.config import LIVE_FIELDS, Config
from rnnviz.training.trainer import Trainer

from . import gc_guard
from .run_data import RunData
from .worker import EXAMPLES, TrainingWorker, compute_insight, freeze_probe

AUTO_EXPLAIN_SECONDS = 0.5
"""A pause recomputes the why-views' numbers in the window's thread only if the last took this long at most."""

from rnnviz.session import load_session, save_session


class TrainingController(QObject):
    """Start/pause/step/reset a Trainer on a worker thread and keep the GUI's copy of its history."""

    state_changed = Signal(str)          # "running" | "pausing" | "paused"
    data_changed = Signal()              # RunData has new points
    trainer_replaced = Signal()          # new run (reset, preset, opened session): panels start over
    config_changed = Signal(object)      # the Config as the GUI knows it
    training_refused = Signal(str)       # a non-finite step paused training
    worker_failed = Signal(str)          # an exception in the worker (traceback text)
    dirty_changed = Signal(bool)
    path_changed = Signal(object)        # str | None
    budget_reached = Signal(int)         # training stopped at (or Start found it at) the step budget
    undo_changed = Signal(bool)          # whether a live setting change can be undone

    def __init__(self, trainer: Trainer, parent=None):
        super().__init__(parent)
        self._trainer = trainer
        self._config: Config = trainer.config
        self.data = RunData()
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._generation = 0
        self._restart_after_stop = False
        self.gui_idle = threading.Event()   # cleared while the window draws: the worker holds back
        self.gui_idle.set()
        self._rates = collections.deque(maxlen=64)   # (time, step) for steps per second
        self.steps_per_second = 0.0
        self.path: str | None = None
        self.dirty = False
        self.step_budget: int | None = None   # Start trains until this step (None: until paused)
        self._undo: list[dict] = []           # live settings as they were before each change
        self._insight_wanted = False          # the why-views are shown: compute their numbers
        self._insight_layer: int | None = None  # the layer they analyse (None: the top one)
        self.data.load_history(trainer.history, trainer.step_count, trainer.task.chance_loss())
        self.refresh_idle_view()

    # ---- state ------------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        return self._config

    @property
    def is_running(self) -> bool:
        """True from start until the worker thread has finished (including while pausing)."""
        return self._thread is not None

    @property
    def state(self) -> str:
        if self._thread is None:
            return "paused"
        return "pausing" if self._worker.stop_requested and not self._restart_after_stop else "running"

    @property
    def trainer(self) -> Trainer:
        """The Trainer, for the GUI thread: only while no worker runs."""
        if self._thread is not None:
            raise RuntimeError("the trainer belongs to the training thread while it runs")
        return self._trainer

    @property
    def step_count(self) -> int:
        return self.data.step

    @property
    def budget_left(self) -> int | None:
        """Steps until the budget (None: no budget)."""
        return None if self.step_budget is None else max(self.step_budget - self.step_count, 0)

    def set_budget(self, steps: int | None) -> None:
        """Train until step ``steps`` (None: until paused). A running worker keeps its own limit
        until it is next started."""
        self.step_budget = steps

    def extend_budget(self, steps: int) -> None:
        """Continue: ``steps`` more than the budget (or than the current step, if further on)."""
        self.step_budget = max(self.step_budget or 0, self.step_count) + steps

    # ---- commands ---------------------------------------------------------------------------
    def start(self, max_steps: int | None = None) -> None:
        if max_steps is None and self.budget_left is not None:
            if self.budget_left == 0:
                if self._thread is None:
                    self.budget_reached.emit(self.step_budget)
                return
            max_steps = self.budget_left
        if self._thread is not None:
            if self._worker.stop_requested and (max_steps is None or self.step_budget is not None):
                self._restart_after_stop = True   # start again as soon as the old worker is done
                self.state_changed.emit("running")
            return
        self._generation += 1
        generation = self._generation
        worker = TrainingWorker(self._trainer, max_steps=max_steps, generation=generation,
                                gui_idle=self.gui_idle)
        if self._insight_wanted:
            worker.want_insight.set()
        worker.insight_layer = self._insight_layer
        thread = QThread()
        thread.setObjectName("rnnviz-training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Bound slots of this GUI-thread object: queued, so they run in the GUI thread.
        worker.snapshot_ready.connect(self._on_snapshot_ready)
        worker.finished.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._worker, self._thread = worker, thread
        self._rates.clear()
        self._rates.append((time.perf_counter(), self.data.step))
        gc_guard.hold()         # from now until the thread has finished: see gc_guard
        thread.start()
        self.state_changed.emit("running")

    def pause(self) -> None:
        """Ask the worker to stop after its current step; returns at once."""
        self._restart_after_stop = False
        if self._worker is not None and not self._worker.stop_requested:
            self._worker.request_stop()
            self.state_changed.emit("pausing")

    def toggle(self) -> None:
        if self.state == "running":
            self.pause()
        else:
            self.start()

    def step_once(self) -> None:
        if self._thread is None:
            self.start(max_steps=1)

    def stop_and_wait(self, timeout_ms: int | None = None) -> bool:
        """Stop -> quit -> wait (``None``: as long as it takes). Afterwards, if it returns True,
        the Trainer belongs to the GUI thread again."""
        self._restart_after_stop = False
        thread, worker = self._thread, self._worker
        if thread is None:
            return True
        worker.request_stop()
        thread.quit()
        finished = thread.wait() if timeout_ms is None else thread.wait(timeout_ms)
        if finished:
            # Deliver the worker's last snapshot and the finished notice now, not later.
            QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
            self._finish_thread(thread)
        return finished

    def set_live(self, *, _record_undo: bool = True, **changes) -> None:
        """Change live settings; they apply at the next step. InputError if a value is invalid.
        The values they replace go on the undo stack (``undo_live``)."""
        bad = sorted(set(changes) - LIVE_FIELDS)
        if bad:
            raise InputError(f"{', '.join(bad)} apply on reset, not live")
        changes = {k: v for k, v in changes.items() if getattr(self._config, k) != v}
        if not changes:
            return
        new_config = self._config.replace(**changes)   # validates
        if self._worker is not None:
            self._worker.request_live(**changes)
        else:
            history = self._trainer.history
            mark = len(history.setting_changes)
            self._trainer.set_live(**changes)
            self.data.setting_changes.extend(history.setting_changes[mark:])
            self.data.revision += 1
            self.data_changed.emit()
        if _record_undo:
            self._undo.append({k: getattr(self._config, k) for k in changes})
            self.undo_changed.emit(True)
        self._config = new_config
        self._set_dirty(True)
        self.config_changed.emit(new_config)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo_live(self) -> dict | None:
        """Put back the live settings the latest change replaced; the undo is itself a setting
        change (recorded in the history, marked on the curves). Returns what it set, or None."""
        while self._undo:
            previous = self._undo.pop()
            changed = {k: v for k, v in previous.items() if getattr(self._config, k) != v}
            if changed:
                self.set_live(_record_undo=False, **changed)
                self.undo_changed.emit(bool(self._undo))
                return changed
        self.undo_changed.emit(False)
        return None

    # ---- the why-views ------------------------------------------------------------------------
    @property
    def insight_wanted(self) -> bool:
        """Whether a view that draws the why-views' numbers is shown (see ``want_insight``)."""
        return self._insight_wanted

    def want_insight(self, wanted: bool) -> None:
        """Whether the why-views are shown: while they are, training computes their numbers
        under a small time budget (``worker.INSIGHT_BUDGET``), and a pause refreshes them if that
        is quick (``AUTO_EXPLAIN_SECONDS``). While they are not, the numbers are dropped as soon as
        training moves past them, so no view shows them stale later."""
        self._insight_wanted = wanted
        if self._worker is not None:
            (self._worker.want_insight.set if wanted else self._worker.want_insight.clear)()

    @property
    def insight_layer(self) -> int | None:
        """The layer of a stacked network the why-views analyse (None: the top one)."""
        return self._insight_layer

    def set_insight_layer(self, layer: int | None) -> None:
        """Analyse ``layer`` (None: the top one) from now on; numbers of another layer are dropped
        (recomputed at once while paused and wanted, else by the training thread)."""
        if layer == self._insight_layer:
            return
        self._insight_layer = layer
        if self._worker is not None:
            self._worker.insight_layer = layer
        last = self.data.insight
        if last is not None and last.layer != (layer or last.layers):
            self.data.horizons.clear()        # (another layer's memory horizons)
            self.data.drop_insight()
            if self._insight_wanted and self._thread is None:
                self.explain_now()
            else:
                self.data_changed.emit()

    def explain_now(self):
        """Compute the why-views' numbers now, in this thread (only while no worker runs); returns
        the LiveInsight (None if the probe cannot be run)."""
        if self._thread is not None:
            raise RuntimeError("the why-views are computed by the training thread while it runs")
        insight = compute_insight(self._trainer, self._insight_layer)
        if insight is not None:
            self.data.set_insight(insight)
            self.data_changed.emit()
        return insight

    def _refresh_insight_if_quick(self) -> None:
        last = self.data.insight
        if (self._insight_wanted and last is not None and last.seconds <= AUTO_EXPLAIN_SECONDS
                and last.step != self.step_count):
            self.explain_now()

    def sample_now(self, **kwargs) -> None:
        """A sample from the character model (on the worker's next step if it is running)."""
        if self._worker is not None:
            self._worker.request_sample(**kwargs)
            return
        history = self._trainer.history
        mark = history.samples_recorded      # the History keeps only the latest MAX_SAMPLES
        text = self._trainer.sample(**kwargs)
        new = list(history.samples_since(mark)) or [(self._trainer.step_count, text)]
        self.data.add_samples(new)
        self.data.revision += 1
        self.data_changed.emit()

    def reset(self, config: Config, corpus_text: str | None = None) -> None:
        """Build a new Trainer from ``config`` (ValueError, with the current run kept, if it fails)."""
        self.stop_and_wait()
        trainer = Trainer(config, corpus_text=corpus_text) if corpus_text is not None else Trainer(config)
        self._install(trainer, path=self.path, dirty=True)

    def open_session(self, path: str) -> None:
        """Replace the run with the session in ``path``; a RnnvizError keeps the current one."""
        self.stop_and_wait()
        trainer = load_session(path)
        self._install(trainer, path=path, dirty=False)

    def save_session(self, path: str) -> None:
        """Write the run to ``path`` (training pauses first so the file is consistent)."""
        self.stop_and_wait()
        save_session(self._trainer, path)
        self.set_file(path)

    def save_copy(self, path: str) -> None:
        """Write the run to ``path`` without making it the run's file (the recovery autosave):
        training pauses for the moment it takes and then continues."""
        was_running = self.state == "running"
        self.stop_and_wait()
        try:
            save_session(self._trainer, path)
        finally:
            if was_running:
                self.start()

    def replace_trainer(self, trainer: Trainer, path: str | None = None, dirty: bool = False) -> None:
        self.stop_and_wait()
        self._install(trainer, path=path, dirty=dirty)

    # ---- internals --------------------------------------------------------------------------
    def _install(self, trainer: Trainer, *, path, dirty) -> None:
        self._trainer = trainer
        self._config = trainer.config
        self.data.load_history(trainer.history, trainer.step_count, trainer.task.chance_loss())
        self.steps_per_second = 0.0
        self.step_budget = None          # the window sets the new run's budget
        if self._undo:
            self._undo.clear()
            self.undo_changed.emit(False)
        self.refresh_idle_view()
        self.set_file(path, dirty=dirty)
        self.config_changed.emit(self._config)
        self.trainer_replaced.emit()
        self.data_changed.emit()

    def set_file(self, path: str | None, *, dirty: bool = False) -> None:
        """The run's file is now ``path`` (None: none), with unsaved changes if ``dirty``."""
        if path != self.path:
            self.path = path
            self.path_changed.emit(path)
        self._set_dirty(dirty)

    def refresh_idle_view(self) -> None:
        """Recompute the probe and examples in the GUI thread; only while no worker runs (a
        running worker sends its own with each snapshot)."""
        trainer = self._trainer
        self.data.probe = freeze_probe(trainer.probe())
        if trainer.config.task != "charlm":
            self.data.examples = tuple(trainer.examples(EXAMPLES))
        elif trainer.step_count == 0 and not trainer.history.samples:
            # What the untrained network writes: the "before" to compare later samples with.
            try:
                self.sample_now()
            except InputError:   # e.g. a priming text the model cannot read: no sample yet
                pass
        self.data.revision += 1

    @Slot(object)
    def _on_snapshot_ready(self, snapshot) -> None:
        if snapshot.generation != self._generation:
            return   # a stale worker's message
        self.data.add_snapshot(snapshot)
        last = self.data.insight
        if not self._insight_wanted and last is not None and last.step != self.data.step:
            self.data.drop_insight()     # nobody keeps it up to date: never shown stale
        now = time.perf_counter()
        self._rates.append((now, snapshot.step))
        while len(self._rates) > 2 and now - self._rates[0][0] > 2.0:
            self._rates.popleft()
        (t0, s0), (t1, s1) = self._rates[0], self._rates[-1]
        if t1 > t0 and snapshot.steps_taken:
            self.steps_per_second = (s1 - s0) / (t1 - t0)
        if snapshot.steps_taken or snapshot.setting_changes:
            self._set_dirty(True)
        self.data_changed.emit()
        if snapshot.refused:
            self.training_refused.emit(snapshot.refused)
        if snapshot.error:
            self.worker_failed.emit(snapshot.error)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._finish_thread(self.sender())

    def _finish_thread(self, thread) -> None:
        """Clean up after ``thread`` (once; a late notice from an older thread is ignored)."""
        if thread is None or thread is not self._thread:
            return
        thread.wait()   # 'finished' is emitted just before the thread ends: let it end
        gc_guard.release()
        worker = self._worker
        self._thread = self._worker = None
        try:
            worker.snapshot_ready.disconnect()
        except (RuntimeError, TypeError):  # pragma: no cover - already disconnected
            pass
        live_errors = list(worker.live_errors)
        # The worker lives in ``thread``, whose event loop has ended: a deleteLater() would never
        # run, and the worker (with the Trainer it holds) would leak. The thread has finished, so
        # nothing else can touch the worker now: delete it here.
        shiboken6.delete(worker)
        thread.deleteLater()
        for message in live_errors:
            self.worker_failed.emit(message)
        if self._restart_after_stop:
            self._restart_after_stop = False
            self.start()
        else:
            self.state_changed.emit("paused")
            self._refresh_insight_if_quick()
            if self.step_budget is not None and self.step_count >= self.step_budget:
                self.budget_reached.emit(self.step_budget)

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirty_changed.emit(dirty)
