"""The training loop, run on a QThread.

Ownership: while a worker runs, its thread is the only one that touches the Trainer. The GUI
thread talks to it only through the thread-safe methods below (an Event for stop, a locked
slot for pending commands) and hears back only through immutable ``Snapshot`` copies.
When the thread has finished, the Trainer belongs to the GUI thread again.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from rnnviz.engine import Cancelled
from rnnviz.errors import InputError
from rnnviz.training.blas import blas_limit
from rnnviz.training.history import BlockReader

# What the worker does besides training steps is held to a small share of its time, because
# every millisecond of it (and of the window's work on what it sends) is taken from training:
# python benchmarks/gui_latency.py measures the sum (target: >= 90% of headless speed).
EMIT_INTERVAL = 0.25          # seconds between snapshots: at most 4 per second (each costs the GUI
                              # thread ~0.5 ms however few steps it holds); under load the window
                              # redraws each panel about every 2 s, the status bar 1-3 times a second
PROBE_BUDGET = 0.005          # the heatmap's probe takes at most ~0.5% of the time, and runs
MIN_PROBE_INTERVAL = 1.0      # at most once a second (the heatmap is redrawn about that often)
HELD_OUT_SHARE = 0.02         # the window evaluates at every "test every" interval on a fixed held-out
                              # subset: one held-out sequence (or character) per 50 trained between two
                              # evaluations, a forward pass only (~1% of the training work)
MIN_HELD_OUT = 64             # but at least this many sequences (accuracy in steps of 1/64 at worst)
MIN_HELD_OUT_CHARS = 1000     # or characters of held-out text
SAMPLE_BUDGET = 0.005         # text samples at most ~0.5% of the time (char-rnn: 4.5 ms each)
MIN_SAMPLE_INTERVAL = 2.0     # a new sample every 2 s at most: time to read it
EXAMPLES = 6                  # test examples shown by the sampling panel (non-text tasks)
INSIGHT_BUDGET = 0.03         # the why-views' numbers (rnnviz.insight.live, 0.05-4 s on a preset's probe)
MIN_INSIGHT_INTERVAL = 2.0    # take at most ~3% of the time, only while those views are shown


def held_out_limit(trainer) -> int:
    """How many held-out sequences (characters for the character model) the window's periodic
    evaluations score: fixed for a run (kept on its History the first time it is asked for), from
    the settings alone, so the curve is the same on any machine and a reopened run with the same
    "test every" continues on the same subset. The whole held-out set stays what
    ``Trainer.evaluate`` and the command line score."""
    history = trainer.history
    if getattr(history, "eval_limit", None) is None:
        cfg, task = trainer.config, trainer.task
        per_step = cfg.batch_size or cfg.n_train          # sequences trained per step (0: full batch)
        if cfg.task == "charlm":
            per_step, floor = per_step * cfg.seq_length, MIN_HELD_OUT_CHARS
        else:
            floor = MIN_HELD_OUT
        wanted = max(floor, math.ceil(HELD_OUT_SHARE * cfg.eval_every * per_step))
        history.eval_limit = min(task.held_out_size(), wanted)
    return history.eval_limit


def evaluate_subset(trainer, limit: int, n_examples: int = 0):
    """Held-out metrics on the first ``limit`` held-out items, recorded in the History at the
    current step, and the first ``n_examples`` of those items as readable examples (the same
    network, step and subset, so the examples never contradict the curve)."""
    net, task = trainer.network, trainer.task
    metrics = {k: float(v) for k, v in task.metrics(net, limit=limit).items()}
    examples = tuple(task.examples(net, n_examples)) if n_examples else None
    trainer.history.record_eval(trainer.step_count, metrics)
    return metrics, examples


def _cancellable(trainer, check, armed: bool):
    """The trainer's network polls ``check`` during this block if ``armed`` (see ``run``)."""
    return trainer.network.cancellable(check) if armed else contextlib.nullcontext()


def _frozen(array):
    """A read-only copy, so a snapshot can be shared with the GUI thread safely."""
    if array is None:
        return None
    out = np.array(array, copy=True)
    out.flags.writeable = False
    return out


def compute_insight(trainer, layer: int | None = None):
    """The why-views' numbers (:func:`rnnviz.insight.live.live_insight`) on one BLAS thread for
    ``layer`` of a stacked network (None: the top one), or None when the probe cannot be run; the
    result is read-only."""
    from rnnviz.insight.live import live_insight
    with blas_limit(1), np.errstate(all="ignore"):
        try:
            return live_insight(trainer, layer=layer)
        except InputError:
            return None


def freeze_probe(probe):
    """A copy of a Probe whose arrays the worker can no longer change."""
    if probe is None:
        return None
    return type(probe)(
        labels=list(probe.labels),
        states={name: _frozen(value) for name, value in probe.states.items()},
        ranges=dict(probe.ranges),
        spectral_radius=float(probe.spectral_radius),
        saturation=float(probe.saturation),
        description=str(probe.description),
        output_labels=None if probe.output_labels is None else list(probe.output_labels),
    )


@dataclass(frozen=True)
class Snapshot:
    """What happened since the previous snapshot. Every field is a copy.

    block: the History's record of every step since the last snapshot (none are dropped), as
    arrays: the GUI thread takes them in with a few array calls, not a Python loop over steps.
    last: the latest step's StepResult (its gradient norms over time are drawn as they are).
    """

    block: object | None        # SeriesBlock, or None when no step was taken
    last: object | None         # StepResult of the latest step, or None
    step: int
    probe: object | None
    examples: tuple[str, ...] | None   # held-out examples of the latest evaluation (examples_step)
    evals: tuple                # (step, {metric: value}) added since the last snapshot
    samples: tuple              # (step, text) added since the last snapshot
    setting_changes: tuple      # (step, name, old, new) added since the last snapshot
    final: bool                 # the worker stops after this one
    refused: str | None = None  # set when a non-finite step paused training
    error: str | None = None    # set when an exception stopped the worker
    generation: int = 0         # which worker sent it (stale snapshots are ignored)
    chance_loss: float | None = None   # the task's chance level (Task.chance_loss), for the cost plot
    probe_step: int | None = None      # the step the probe was taken at
    examples_step: int | None = None   # the step of the evaluation the examples come from
    held_out: int | None = None        # held-out items each evaluation scores (held_out_limit)
    eval_every: int | None = None      # the interval between evaluations (the "test every" setting)
    sample_notes: tuple = ()           # per sample in ``samples``: {temperature, prime, on_demand}
    probe_note: str | None = None      # what the probe sequence is (Probe.description)
    insight: object | None = None      # a LiveInsight for the why-views, when one was computed
    layer_grad_steps: object | None = None   # stacked network: (R,) steps of the rows below (the
                                             # History's stride), or None
    layer_grad_a_norms: object | None = None # (R, L, T) ||dL/da[l]<t>|| per layer at those steps

    @property
    def steps_taken(self) -> int:
        return 0 if self.block is None else len(self.block.steps)


class _Budget:
    """Lets an optional extra (probe, evaluation, sample) run only while its cost stays small."""

    def __init__(self, fraction: float, min_interval: float = 0.0):
        self.fraction = fraction
        self.min_interval = min_interval
        self.last_end = -1e9
        self.last_cost = 0.0

    def allows(self, now: float) -> bool:
        return now - self.last_end >= max(self.min_interval, self.last_cost / self.fraction)

    def run(self, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            t1 = time.perf_counter()
            self.last_cost, self.last_end = t1 - t0, t1


class TrainingWorker(QObject):
    """Runs ``trainer.step()`` until stopped (or ``max_steps`` done). Create without a parent,
    move to a QThread, connect ``thread.started`` to ``run``. Shutdown: ``request_stop`` ->
    ``thread.quit`` -> ``thread.wait``."""

    snapshot_ready = Signal(object)   # Snapshot
    finished = Signal()

    def __init__(self, trainer, *, max_steps: int | None = None, emit_interval: float = EMIT_INTERVAL,
                 generation: int = 0, gui_idle: threading.Event | None = None):
        super().__init__()
        self._generation = generation
        self._gui_idle = gui_idle
        self._trainer = trainer
        self._max_steps = max_steps
        self._emit_interval = emit_interval
        self._stop = threading.Event()
        self._lock = threading.Lock()       # guards the two pending-command slots below
        self._pending_live: dict = {}
        self._pending_sample: dict | None = None
        self._has_pending = False           # cheap unlocked check; set/cleared under the lock
        self._failed_samples: list = []     # worker thread only
        self._sample_notes: dict = {}       # worker thread only: History.samples_recorded -> note
        self._examples: tuple | None = None # worker thread only: (step, examples) of the latest evaluation
        self._layer_rows: list = []         # worker thread only: (step, (L, T) norms) of a stacked network
        self.live_errors: list[str] = []    # filled in the worker thread, read after finished
        self.want_insight = threading.Event()   # set by the window while the why-views are shown
        self.insight_layer: int | None = None   # set by the window: the layer they analyse (None: top);
                                                # one int, read once per computation
        self._chance_loss = trainer.task.chance_loss()   # (fixed for a run) read here, in the GUI thread

    # ---- called from the GUI thread -------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def request_live(self, **changes) -> None:
        """Live settings to apply before the next step (later requests overwrite earlier ones)."""
        with self._lock:
            self._pending_live.update(changes)
            self._has_pending = True

    def request_sample(self, **kwargs) -> None:
        with self._lock:
            self._pending_sample = dict(kwargs)
            self._has_pending = True

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ---- runs in the worker thread --------------------------------------------------------
    @Slot()
    def run(self) -> None:
        trainer = self._trainer
        history = trainer.history
        last = None          # the latest StepResult
        # Where the previous snapshot left off. Samples are counted as recorded in total: the
        # History keeps only the latest MAX_SAMPLES, so once full its list no longer grows.
        # (Evaluations and setting changes are all kept: their list lengths count them.)
        marks = {"evals": len(history.evals), "samples": history.samples_recorded,
                 "changes": len(history.setting_changes)}
        new_steps = BlockReader(history)
        probe_budget = _Budget(PROBE_BUDGET, MIN_PROBE_INTERVAL)
        held_out = held_out_limit(trainer)
        n_examples = 0 if trainer.config.task == "charlm" else EXAMPLES
        sample_budget = _Budget(SAMPLE_BUDGET, MIN_SAMPLE_INTERVAL)
        insight_budget = _Budget(INSIGHT_BUDGET, MIN_INSIGHT_INTERVAL)
        insight_budget.last_end = time.perf_counter()     # not in the run's first seconds
        is_charlm = trainer.config.task == "charlm"
        # Pause can cut short a full-batch step (seconds on 100,000 parity sequences) and an
        # evaluation: both are pure until they finish (a full batch does not move the data
        # position), so a cancelled one simply has not happened. The network polls the stop flag
        # at every time step. A minibatch step has already drawn its batch, so it runs to the end.
        stop_check = self._stop.is_set
        full_batch = trainer.config.batch_size == 0
        gui_idle = self._gui_idle
        last_emit = time.perf_counter()
        done = 0
        refused = error = None
        # the trainer's BLAS thread limit and error mode for the whole run (else each step sets and
        # restores them)
        with trainer.running():
            try:
                while not self._stop.is_set():
                    if self._max_steps is not None and done >= self._max_steps:
                        break
                    if self._has_pending:
                        self._apply_pending(trainer)
                    if gui_idle is not None and not gui_idle.is_set():
                        gui_idle.wait(0.25)     # the window is drawing: let it have the GIL briefly
                    try:
                        with _cancellable(trainer, stop_check, full_batch):
                            result = trainer.step()
                    except Cancelled:
                        break           # the step was abandoned before it changed anything
                    if result.refused:
                        refused = result.refused
                        break
                    last = result
                    done += 1
                    now = time.perf_counter()
                    cfg = trainer.config
                    step = trainer.step_count
                    if result.layer_grad_a_norms is not None and step % history.stride == 0 \
                            and len(result.layer_grad_a_norms) > 1:
                        # every layer's row at the History's stride (which keeps layer 1's only)
                        self._layer_rows.append((step, result.layer_grad_a_norms))
                    if step % cfg.eval_every == 0:      # every interval, on the run's fixed subset
                        try:
                            with _cancellable(trainer, stop_check, True):
                                _, examples = evaluate_subset(trainer, held_out, n_examples)
                        except Cancelled:
                            break       # evaluation is pure: skipping it changes nothing
                        self._examples = (step, examples)
                    if is_charlm and step % cfg.sample_every == 0 and sample_budget.allows(now):
                        sample_budget.run(self._sample, trainer, {})
                    if now - last_emit >= self._emit_interval:
                        probe = insight = None
                        if probe_budget.allows(now):
                            probe = probe_budget.run(self._probe, trainer)
                        if self.want_insight.is_set() and insight_budget.allows(now):
                            insight = insight_budget.run(compute_insight, trainer, self.insight_layer)
                        self.snapshot_ready.emit(self._snapshot(trainer, new_steps, last, marks, probe, final=False,
                                                                insight=insight))
                        last = None
                        last_emit = time.perf_counter()
                if self._has_pending:
                    self._apply_pending(trainer)
            except Exception:  # noqa: BLE001 - reported to the user, the app keeps running
                error = traceback.format_exc()
        probe = None
        if error is None:
            try:
                probe = self._probe(trainer)
            except Exception:  # noqa: BLE001
                error = traceback.format_exc()
        self.snapshot_ready.emit(self._snapshot(trainer, new_steps, last, marks, probe, final=True,
                                                refused=refused, error=error))
        self.finished.emit()

    def _apply_pending(self, trainer) -> None:
        with self._lock:
            live, self._pending_live = self._pending_live, {}
            sample, self._pending_sample = self._pending_sample, None
            self._has_pending = False
        if live:
            try:
                trainer.set_live(**live)
            except InputError as exc:
                self.live_errors.append(str(exc))
        if sample is not None and trainer.config.task == "charlm":
            self._sample(trainer, sample, on_demand=True)

    def _sample(self, trainer, kwargs: dict, on_demand: bool = False) -> None:
        """A sample; a setting that makes sampling impossible (a priming text with characters the
        model never saw) is reported in the sample box instead of stopping training."""
        cfg = trainer.config
        note = {"temperature": float(kwargs.get("temperature") or cfg.temperature),
                "prime": cfg.prime if kwargs.get("prime") is None else kwargs["prime"], "on_demand": on_demand}
        try:
            trainer.sample(**kwargs)
            self._sample_notes[trainer.history.samples_recorded] = note
        except InputError as exc:
            self._failed_samples.append(((trainer.step_count, f"[no sample: {exc}]"), note))

    @staticmethod
    def _probe(trainer):
        # The probe's small eigenvalue problem (spectral radius) sometimes takes 100x longer when
        # OpenBLAS spreads it over threads that compete with the GUI thread: keep it on one.
        with blas_limit(1):
            return freeze_probe(trainer.probe())

    def _snapshot(self, trainer, new_steps, last, marks, probe, *, final, refused=None, error=None,
                  insight=None):
        history = trainer.history
        try:
            block = new_steps.take()
        except Exception:  # noqa: BLE001 - the last snapshot must go out: it reports the failure
            if not final:
                raise          # run() stops training and reports it in the last snapshot
            block, error = None, "\n".join(filter(None, [error, traceback.format_exc()]))
        evals = tuple((s, dict(m)) for s, m in history.evals[marks["evals"]:])
        kept = history.samples_since(marks["samples"])
        first = history.samples_recorded - len(kept) + 1          # the recorded count of kept[0]
        notes = [self._sample_notes.get(first + i, {}) for i in range(len(kept))]
        self._sample_notes.clear()
        samples = tuple(kept) + tuple(sample for sample, _ in self._failed_samples)
        notes += [note for _, note in self._failed_samples]
        self._failed_samples.clear()
        examples_step, examples = self._examples or (None, None)
        self._examples = None
        changes = tuple(history.setting_changes[marks["changes"]:])
        layer_steps = layer_rows = None
        if self._layer_rows:
            shape = self._layer_rows[-1][1].shape        # (rows of another length T are dropped)
            kept = [(step, rows) for step, rows in self._layer_rows if rows.shape == shape]
            layer_steps = _frozen(np.array([step for step, _ in kept], dtype=np.int64))
            layer_rows = _frozen(np.stack([rows for _, rows in kept]))      # (R, L, T)
            self._layer_rows.clear()
        marks.update(evals=len(history.evals), samples=history.samples_recorded,
                     changes=len(history.setting_changes))
        return Snapshot(block=block, last=last, step=trainer.step_count, probe=probe, examples=examples,
                        evals=evals, samples=samples, setting_changes=changes, final=final,
                        refused=refused, error=error, generation=self._generation,
                        chance_loss=self._chance_loss,
                        probe_step=None if probe is None else trainer.step_count,
                        probe_note=None if probe is None else probe.description,
                        examples_step=examples_step, held_out=history.eval_limit,
                        eval_every=trainer.config.eval_every, sample_notes=tuple(notes), insight=insight,
                        layer_grad_steps=layer_steps, layer_grad_a_norms=layer_rows)
