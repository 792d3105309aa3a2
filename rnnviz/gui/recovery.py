"""The recovery file: an unsaved run, kept every few minutes so a crash, a power cut or a kill
loses at most those minutes.

One file per user, ``recovery.rnnviz`` in the data folder (``QStandardPaths.AppDataLocation``),
written with ``rnnviz.session.save_session`` (atomic), beside it ``recovery.json`` (the run's own
file, if it had one, and when it was kept). A clean exit (the run was saved, or the user chose to
discard it) removes both; a file still there at the next launch is offered back.

Ownership: the window that holds ``recovery.lock`` (a ``QLockFile``; a dead holder's lock is
stale and taken over) may write and remove the file; a second rnnviz running at the same time
leaves it alone. A file left by an earlier run is not overwritten until the user has answered
whether to restore it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer, Signal

from rnnviz.errors import RnnvizError
from rnnviz.session import SessionError, load_session

AUTOSAVE_INTERVAL = 180.0        # seconds between two autosaves of a run with unsaved changes
RECOVERY_FILE = "recovery.rnnviz"
INFO_FILE = "recovery.json"
LOCK_FILE = "recovery.lock"
UNREADABLE_FILE = "recovery-unreadable.rnnviz"

folder_override: str | None = None
"""Tests point the data folder here (and never at the user's real one)."""


def data_folder() -> str:
    """The user's data folder for rnnviz (``folder_override`` if set)."""
    return folder_override or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)


class RecoveryAutosave(QObject):
    """Keeps the controller's unsaved run in the recovery file.

    Every ``interval`` seconds, if the run has unsaved trained steps that changed since the last
    write, training pauses for the moment the save takes (through the controller) and resumes.
    """

    failed = Signal(str)      # an autosave could not be written (one line)

    def __init__(self, controller, interval: float = AUTOSAVE_INTERVAL, folder: str | None = None, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.folder = folder or data_folder()
        self.path = os.path.join(self.folder, RECOVERY_FILE)
        self.info_path = os.path.join(self.folder, INFO_FILE)
        self._lock = QLockFile(os.path.join(self.folder, LOCK_FILE))
        self._lock.setStaleLockTime(0)           # only a dead holder's lock is stale, never an old one
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as exc:
            print(f"rnnviz: unsaved runs cannot be kept for recovery: {self.folder}: {exc.strerror or exc}",
                  file=sys.stderr)
        self.owned = self._lock.tryLock(0)
        self.leftover = self.owned and os.path.exists(self.path)   # from an earlier run: ask first
        self._written = None                     # what the file holds: (run id, step, revision)
        self._last_error = None
        self._run_id = 0
        controller.dirty_changed.connect(self._on_controller_dirty_changed)
        controller.trainer_replaced.connect(self._on_controller_trainer_replaced)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.autosave)
        self.set_interval(interval)

    @property
    def may_write(self) -> bool:
        return self.owned and not self.leftover

    def set_interval(self, seconds: float) -> None:
        self._timer.start(max(1, int(seconds * 1000)))

    # ---- writing ------------------------------------------------------------------------------
    def needs_saving(self) -> bool:
        c = self.controller
        return c.dirty and c.step_count > 0 and self._written != self._key()

    def autosave(self) -> bool:
        """Write the run if it has unsaved changes not yet kept; True if it wrote."""
        if not self.may_write or not self.needs_saving():
            return False
        return self._write()

    def keep(self) -> bool:
        """At an unattended exit (a signal): keep an unsaved run, or remove a file no longer needed.
        Training must already be stopped. True if the run is safe (saved or kept)."""
        if not self.may_write:
            return not self.controller.dirty
        c = self.controller
        if not (c.dirty and c.step_count > 0):
            self.remove()
            return True
        return self._written == self._key() or self._write()

    def _write(self) -> bool:
        c = self.controller
        key = self._key()
        try:
            c.save_copy(self.path)
            with open(self.info_path, "w", encoding="utf-8") as f:
                json.dump({"path": c.path, "steps": c.step_count, "kept_at": time.time()}, f)
        except (RnnvizError, OSError) as exc:
            message = f"could not keep the unsaved run in {self.path}: {exc}"
            if message != self._last_error:
                self._last_error = message
                print(f"rnnviz: {message}", file=sys.stderr)
                self.failed.emit(message)
            return False
        self._last_error = None
        self._written = key
        return True

    def _key(self):
        return self._run_id, self.controller.step_count, self.controller.data.revision

    # ---- the file from an earlier run -----------------------------------------------------------
    def leftover_info(self) -> dict:
        """What is known about the leftover file: path (the run's own file or None), steps, kept_at."""
        info = {"path": None, "steps": None, "kept_at": os.path.getmtime(self.path)}
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            with open(self.info_path, encoding="utf-8") as f:
                saved = json.load(f)
            info.update({k: saved[k] for k in ("path", "steps", "kept_at") if k in saved})
        return info

    def restore(self):
        """Load the leftover run and install it, marked unsaved; the file stays until the run is
        saved or discarded. SessionError (the file is moved aside, not deleted) if it cannot."""
        info = self.leftover_info()
        try:
            trainer = load_session(self.path)
        except (RnnvizError, OSError) as exc:
            aside = os.path.join(self.folder, UNREADABLE_FILE)
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            self.leftover = False
            raise SessionError(f"{exc} (the file was moved to {aside})") from None
        path = info["path"] if isinstance(info["path"], str) else None
        self.leftover = False
        self._restoring = True
        try:
            self.controller.replace_trainer(trainer, path=path, dirty=True)
        finally:
            self._restoring = False
        self._written = self._key()
        return trainer

    def discard_leftover(self) -> None:
        self.leftover = False
        self.remove()

    # ---- removing ---------------------------------------------------------------------------------
    def remove(self) -> None:
        """Remove the recovery file (only this window's, or one the user answered for)."""
        if not self.may_write:
            return
        for path in (self.path, self.info_path):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        self._written = None

    def close(self) -> None:
        """The window closes: no more autosaves; let the next rnnviz have the file."""
        self._timer.stop()
        if self.owned:
            self._lock.unlock()
            self.owned = False

    _restoring = False

    def _on_controller_dirty_changed(self, dirty: bool) -> None:
        if not dirty:        # saved, or replaced by a run with nothing unsaved
            self.remove()

    def _on_controller_trainer_replaced(self) -> None:
        self._run_id += 1
        if not self._restoring:      # the previous run was saved or discarded by the user
            self.remove()
