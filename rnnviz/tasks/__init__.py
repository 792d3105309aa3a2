"""Training tasks: parity, binary addition, character model, copy (delayed recall), adding problem,
and the encoder–decoder tasks reversal and dates (date normalisation).

``make_task(config, rng)`` builds the task named by ``config.task``; ``TASK_INFO`` tells the CLI
and window what each task is and what ``seq_length`` means for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.errors import InputError
from rnnviz.tasks.addition import AdditionTask
from rnnviz.tasks.base import Batch, Task
from rnnviz.tasks.charlm import CharLMTask
from rnnviz.tasks.dates import DatesTask
from rnnviz.tasks.memory import AddingTask, CopyTask
from rnnviz.tasks.parity import ParityTask
from rnnviz.tasks.seq2seq import ReversalTask


@dataclass(frozen=True)
class TaskInfo:
    title: str
    seq_length_label: str | None  # what config.seq_length means for this task; None: not used
    description: str
    settings: tuple[str, ...]  # the task settings (Config fields) this task reads
    seq_length_help: str = ""  # what seq_length does for this task, for the window's tooltip


TASK_INFO: dict[str, TaskInfo] = {
    "parity": TaskInfo(
        "XOR parity", "bits T",
        "Read T random bits; at the end say whether an odd number of them were 1.",
        ("seq_length", "n_train", "n_test", "batch_size"),
        "How many random bits each sequence has; the label is their XOR. Longer sequences make the gradient "
        "travel further back in time: vanilla RNNs stall beyond ~20 bits."),
    "addition": TaskInfo(
        "Binary addition", None,
        "Add two numbers fed bit by bit, least significant first; output each bit of the sum.",
        ("n_bits", "n_test", "batch_size"),
        "Not used by binary addition (its length is the number width)."),
    "charlm": TaskInfo(
        "Character model", "chunk length",
        "Predict the next character of a text, reading it in chunks with the state carried over.",
        ("seq_length", "corpus", "batch_size"),
        "Characters per training chunk (truncated backpropagation through time): the gradient reaches at most "
        "this many characters back; the hidden state still carries over from one chunk to the next."),
    "copy": TaskInfo(
        "Copy (delayed recall)", "lag",
        "See a few symbols, wait through a lag of blanks, then repeat the symbols when the marker appears.",
        ("seq_length", "n_symbols", "copy_length", "n_test", "batch_size"),
        "How many steps the network must wait before recalling the symbols: the memory span it needs. "
        "Vanilla RNNs fail at long lags; LSTM and GRU bridge them."),
    "adding": TaskInfo(
        "Adding problem", "length T",
        "Read a sequence of random numbers, two of them marked; output the sum of the marked two.",
        ("seq_length", "n_test", "batch_size"),
        "Sequence length of the adding problem: the two marked numbers can be this far apart, so the memory "
        "needed grows with T."),
    "reversal": TaskInfo(
        "Sequence reversal", "length T",
        "Encoder–decoder: read T random symbols, then write them in reverse order (the first one read is "
        "the last one written).",
        ("seq_length", "n_symbols", "n_test", "batch_size"),
        "How many symbols to reverse: without attention the first of them must survive T encoder steps and "
        "T decoder steps in the state."),
    "dates": TaskInfo(
        "Date normalisation", None,
        "Encoder–decoder: read a date as people write it (Thursday, May 3, 1979; 05/03/79; ...), padded to 30 "
        "characters, and write it in ISO form (1979-05-03).",
        ("n_test", "batch_size"),
        "Not used by date normalisation (input 30 characters, output 10)."),
}

TASK_CLASSES: dict[str, type[Task]] = {
    "parity": ParityTask,
    "addition": AdditionTask,
    "charlm": CharLMTask,
    "copy": CopyTask,
    "adding": AddingTask,
    "reversal": ReversalTask,
    "dates": DatesTask,
}


def make_task(config, rng: np.random.Generator, corpus_text: str | None = None) -> Task:
    """The task ``config.task``; ``rng`` drives its training data only.

    ``corpus_text`` (charlm only) overrides ``config.corpus``; ``ValueError`` with a one-line
    message when the settings or the corpus do not fit the task.
    """
    try:
        cls = TASK_CLASSES[config.task]
    except KeyError:
        raise InputError(f"task must be one of {', '.join(TASK_CLASSES)} (got {config.task!r})") from None
    return cls(config, rng, corpus_text)


__all__ = ["Batch", "Task", "TaskInfo", "TASK_INFO", "TASK_CLASSES", "make_task",
           "ParityTask", "AdditionTask", "CharLMTask", "CopyTask", "AddingTask",
           "ReversalTask", "DatesTask"]
