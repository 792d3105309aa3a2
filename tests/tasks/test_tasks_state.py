"""A saved task state continues the training stream bit for bit; bad states are refused."""

import json

import numpy as np
import pytest

from rnnviz.training.config import TASKS
from tasks_testing import small_task


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.array_equal(x.x, y.x) and np.array_equal(x.y, y.y) and x.reset_state == y.reset_state
        assert (x.mask is None) == (y.mask is None)


def to_json(value):
    """What a session file could hold: arrays as lists (the session code stores them its own way)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


CASES = [("parity", {}), ("parity", {"batch_size": 30}), ("addition", {}), ("charlm", {}),
         ("charlm", {"batch_size": 3, "seq_length": 4}), ("copy", {}), ("adding", {})]


@pytest.mark.parametrize(("name", "changes"), CASES)
def test_state_dict_round_trip_continues_the_stream_exactly(name, changes):
    original = small_task(name, seed=11, **changes)
    for _ in range(17):
        original.train_batch()
    state = original.state_dict()
    json.dumps(to_json(state))                                  # JSON-able apart from the arrays
    expected = [original.train_batch() for _ in range(25)]

    resumed = small_task(name, seed=999, **changes)             # a different rng, restored from state
    resumed.load_state_dict(state)
    assert_same_batches([resumed.train_batch() for _ in range(25)], expected)


@pytest.mark.parametrize("name", TASKS)
def test_state_dict_is_a_snapshot_not_a_view(name):
    task = small_task(name, **({"batch_size": 10} if name == "parity" else {}))
    state = task.state_dict()
    before = to_json(state)
    for _ in range(40):
        task.train_batch()
    assert to_json(state) == before


@pytest.mark.parametrize("name", TASKS)
def test_wrong_keys_task_or_rng_are_refused_and_leave_the_task_alone(name):
    task = small_task(name)
    good = task.state_dict()
    bad_states = [
        {k: v for k, v in good.items() if k != "rng"},
        {**good, "extra": 1},
        {**good, "task": "other"},
        {**good, "rng": {"bit_generator": "MT19937", "state": {}}},
        {**good, "rng": {**good["rng"], "state": "nonsense"}},
        "not a dict",
    ]
    for bad in bad_states:
        with pytest.raises(ValueError, match="task state"):
            task.load_state_dict(bad)
    assert task.state_dict()["rng"] == good["rng"]


def test_wrong_positions_are_refused():
    parity = small_task("parity", batch_size=10)
    good = parity.state_dict()
    for bad in [{**good, "order": good["order"][:-1]},
                {**good, "order": good["order"].astype(float)},
                {**good, "order": np.zeros_like(good["order"])},
                {**good, "pos": -1},
                {**good, "pos": "3"},
                {**good, "pos": 10_000}]:
        with pytest.raises(ValueError, match="task state"):
            parity.load_state_dict(bad)

    lm = small_task("charlm", batch_size=2, seq_length=4)
    good = lm.state_dict()
    for bad in [{**good, "positions": good["positions"][:1]},
                {**good, "positions": np.array([0, 1])},
                {**good, "positions": np.array([10**9, 10**9])},
                {**good, "started": 1}]:
        with pytest.raises(ValueError, match="task state"):
            lm.load_state_dict(bad)
