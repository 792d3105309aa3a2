"""The task registry's ``settings`` say which settings each task reads; check that against the
tasks themselves: changing a setting a task is said to read changes what it builds, changing one
it is said not to read changes nothing (and a setting it does not read is never even opened)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.tasks import TASK_INFO, make_task
from rnnviz.training.config import SAMPLING_SETTINGS, Config, field_help, unused_settings
from rnnviz.training.trainer import Trainer

from tasks_testing import CORPUS, SMALL

TASK_SETTINGS = sorted({name for info in TASK_INFO.values() for name in info.settings})
# a second value for each task setting that every small config accepts
OTHER_VALUE = {"seq_length": 7, "n_bits": 5, "n_train": 33, "n_test": 21, "n_symbols": 3, "copy_length": 2,
               "batch_size": 2}


def _built(config: Config, corpus_text: str | None = None) -> list:
    """What a task builds from ``config``: its sizes, held-out set and first training batches."""
    task = make_task(config, np.random.default_rng(3), corpus_text)
    out = [task.input_size, task.output_size, task.held_out_size()]
    for batch in list(task.test_batches()) + [task.train_batch() for _ in range(3)]:
        out += [batch.x, batch.y, batch.mask]
    return out


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))
        for x, y in zip(a, b))


def _corpus_file(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("task", list(TASK_INFO))
def test_a_setting_the_registry_says_a_task_does_not_read_changes_nothing_it_builds(task, tmp_path):
    base = Config(**SMALL[task])
    corpus = _corpus_file(tmp_path, "base.txt", CORPUS)
    if task == "charlm":
        base = base.replace(corpus=corpus)
    before = _built(base)
    not_read = [n for n in TASK_SETTINGS if n not in TASK_INFO[task].settings]
    assert not_read
    for name in not_read:
        if name in SAMPLING_SETTINGS:
            value = {"temperature": 0.5, "sample_every": 7, "sample_length": 9, "prime": "ab", "probe": "ab"}[name]
        elif name == "corpus":
            value = str(tmp_path / "no-such-file.txt")          # opening it would fail
        else:
            value = OTHER_VALUE[name]
        assert _same(_built(base.replace(**{name: value})), before), name
        assert name in unused_settings(base, [name]), name


@pytest.mark.parametrize("task", list(TASK_INFO))
def test_every_task_setting_the_registry_names_changes_what_the_task_builds(task, tmp_path):
    base = Config(**SMALL[task])
    if task == "charlm":
        base = base.replace(corpus=_corpus_file(tmp_path, "base.txt", CORPUS))
    before = _built(base)
    for name in TASK_INFO[task].settings:
        if name in SAMPLING_SETTINGS:
            continue                      # read by the trainer's sampler and probe: the next test
        if name == "corpus":
            changed = base.replace(corpus=_corpus_file(tmp_path, "other.txt", CORPUS.upper()))
        else:
            changed = base.replace(**{name: OTHER_VALUE[name]})
        assert not _same(_built(changed), before), name
        assert unused_settings(base, [name]) == {}, name


def test_the_sampling_settings_change_the_character_models_samples_and_probe_only():
    """temperature, sample_length, prime and probe through the trainer (sample_every only paces
    the command line's and the window's samples)."""
    def sample(task, **changes):
        # U(-1, 1) weights: outputs far from uniform, so the temperature shows in the draws
        return Trainer(Config(**{**SMALL[task], "init": "uniform", **changes}), corpus_text=CORPUS).sample()

    def probe(task, **changes):
        result = Trainer(Config(**{**SMALL[task], **changes}), corpus_text=CORPUS).probe()
        return result.labels, [a.tolist() for a in result.states.values()]

    plain = sample("charlm")
    for change in ({"temperature": 0.3}, {"sample_length": 50}, {"prime": "The "}):
        assert sample("charlm", **change) != plain, change
    assert probe("charlm", probe="The fox") != probe("charlm")
    for task in TASK_INFO:
        if task != "charlm":
            assert probe(task, probe="The fox") == probe(task), task


def test_a_setting_only_one_task_reads_says_so_first_in_its_help():
    readers = {}
    for task, info in TASK_INFO.items():
        for name in info.settings:
            readers.setdefault(name, []).append(task)
    for name, tasks in readers.items():
        says = field_help(name).split(":")[0].lower()      # "Copy: alphabet size ..." -> "copy"
        names_a_task = [t for t, info in TASK_INFO.items() if says and says in info.title.lower()]
        if len(tasks) == 1:
            assert names_a_task == tasks, name
        else:
            assert not names_a_task, name
