"""Training: the run configuration, the trainer shared by the CLI and the window, its history."""

from rnnviz.training.config import LIVE_FIELDS, RESET_FIELDS, Config
from rnnviz.training.history import History
from rnnviz.training.trainer import Probe, StepResult, Trainer

__all__ = ["Config", "LIVE_FIELDS", "RESET_FIELDS", "History", "Trainer", "StepResult", "Probe"]
