"""History memory: every step's number, loss and smoothed loss are kept, 16 bytes a step (at most
twice that with the buffers' spare capacity), and stay right through gaps, refused steps and state
round trips; gradient rows stay bounded."""

import tracemalloc
import warnings

import numpy as np
import pytest

from rnnviz.training import Config, Trainer
from rnnviz.errors import InputError
from rnnviz.training.history import F32_MAX, History

S = 100_000
PER_STEP = 16
"""Bytes stored a step: the step (int64), loss and smoothed loss (float32)."""
CONSTANT = 64 * 1024
"""Bytes allowed on top: the gradient rows' buffers (bounded by max_rows; ~10 KiB here)."""


def held_bytes(obj, seen=None) -> int:
    """Bytes of every numpy buffer reachable from ``obj`` (attributes, lists, dicts), each counted once."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        base = obj
        while isinstance(base.base, np.ndarray):
            base = base.base
        if id(base) in seen and base is not obj:
            return 0
        seen.add(id(base))
        return base.nbytes
    if isinstance(obj, dict):
        return sum(held_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(held_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return held_bytes(vars(obj), seen)
    return 0


def fill(history: History, n: int, smooth: bool, first: int = 1) -> np.ndarray:
    """Record ``n`` consecutive steps; the float64 losses recorded."""
    losses = 2.0 + np.sin(np.arange(n) * 1e-3) + np.arange(n) * 1e-7
    grad_a, norms = np.ones(2), {"W": 0.5}
    for i in range(n):
        history.record_step(first + i, float(losses[i]), float(losses[i]) + 1.0 if smooth else None, grad_a, norms)
    return losses


def small_history() -> History:
    return History(["W"], T=2, max_rows=64)


@pytest.mark.parametrize("smooth", [True, False])
def test_bytes_per_step_after_100000_steps(smooth):
    h = small_history()
    losses = fill(h, S, smooth)

    held = held_bytes(h)
    assert held <= 2 * PER_STEP * S + CONSTANT, f"{held / S:.2f} bytes a step"
    assert PER_STEP * S <= h.nbytes <= 2 * PER_STEP * S

    # Everything is still there, as float32.
    np.testing.assert_array_equal(h.steps, np.arange(1, S + 1))
    assert h.loss.dtype == np.float32 and np.array_equal(h.loss, losses.astype(np.float32))
    expected_smooth = (losses + 1.0).astype(np.float32) if smooth else np.full(S, np.nan, np.float32)
    np.testing.assert_array_equal(h.smooth_loss, expected_smooth)
    assert h.smooth_loss.dtype == np.float32
    assert len(h.grad_steps) <= 64                # gradient rows bounded by max_rows


def test_allocations_while_recording_stay_within_the_buffers_bound():
    h = small_history()
    fill(h, 2000, True)            # gradient-row buffers exist
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fill(h, S, True, first=2001)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown <= 2 * PER_STEP * S + CONSTANT, f"{grown / S:.2f} bytes a step"


def test_steps_before_the_first_step_and_a_late_start():
    h = small_history()
    assert h.steps.dtype == np.int64 and h.steps.shape == (0,) and len(h) == 0
    assert h.smooth_loss.shape == (0,)
    fill(h, 5, False, first=51)
    assert list(h.steps) == [51, 52, 53, 54, 55] and len(h) == 5


def test_a_gap_keeps_every_step_from_then_on():
    h = small_history()
    fill(h, 3, True)
    fill(h, 2, True, first=10)      # 1 2 3 10 11
    fill(h, 1, True, first=11)      # a repeated step is recorded as given
    assert list(h.steps) == [1, 2, 3, 10, 11, 11]
    assert h.steps.dtype == np.int64 and len(h.loss) == len(h.smooth_loss) == 6

    again = small_history()
    again.load_state_dict(h.state_dict())
    assert list(again.steps) == [1, 2, 3, 10, 11, 11]
    fill(again, 1, True, first=12)
    assert list(again.steps) == [1, 2, 3, 10, 11, 11, 12]


def test_state_dict_round_trip_is_exact_and_recording_continues():
    h = small_history()
    fill(h, 3000, True, first=7)
    state = h.state_dict()
    assert state["steps"].dtype == np.int64 and state["loss"].dtype == np.float32
    assert state["smooth_loss"].dtype == np.float32
    np.testing.assert_array_equal(state["steps"], np.arange(7, 3007))

    again = small_history()
    again.load_state_dict(state)
    for key in ("steps", "loss", "smooth_loss", "grad_steps", "grad_a_norms", "param_grad_norms",
                "param_grad_norms_min"):
        a, b = state[key], again.state_dict()[key]
        assert a.dtype == b.dtype and np.array_equal(a, b), key
    fill(again, 1, True, first=3007)
    assert again.steps[-1] == 3007 and len(again) == 3001


def test_a_file_without_the_lower_envelope_loads_with_the_kept_norms_as_both_extremes():
    """Sessions saved before the smallest norms were kept: each row's one norm is all that is known."""
    h = small_history()
    fill(h, 3000, True, first=7)
    state = h.state_dict()
    del state["param_grad_norms_min"]
    again = small_history()
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.state_dict()["param_grad_norms_min"], state["param_grad_norms"])
    bad = h.state_dict()
    bad["param_grad_norms_min"] = bad["param_grad_norms_min"][:-1]
    with pytest.raises(InputError, match="wrong shapes"):
        small_history().load_state_dict(bad)


def test_old_float64_state_loads_as_float32():
    """The layout before float32 history: int64 steps, float64 loss and smoothed loss."""
    rng = np.random.default_rng(0)
    loss = 40 + rng.standard_normal(50)
    old = small_history().state_dict()
    old.update(steps=np.arange(1, 51, dtype=np.int64), loss=loss, smooth_loss=np.full(50, np.nan))
    h = small_history()
    h.load_state_dict(old)
    assert h.loss.dtype == np.float32 and np.array_equal(h.loss, loss.astype(np.float32))
    assert np.isnan(h.smooth_loss).all() and h.smooth_loss.shape == (50,)
    np.testing.assert_array_equal(h.steps, np.arange(1, 51))


def test_smoothed_loss_defined_later_is_nan_before():
    h = small_history()
    fill(h, 3, False)
    h.record_step(4, 1.0, 5.0, np.ones(2), {"W": 1.0})
    h.record_step(5, 1.0, None, np.ones(2), {"W": 1.0})
    np.testing.assert_array_equal(h.smooth_loss, [np.nan, np.nan, np.nan, 5.0, np.nan])


def test_losses_beyond_float32_range_stay_finite_without_warnings():
    h = small_history()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h.record_step(1, 1e300, -1e300, np.ones(2), {"W": 1.0})
        state = h.state_dict()
        state["loss"] = np.array([1e300])
        h.load_state_dict(state)
    assert h.loss[0] == np.float32(F32_MAX) and h.smooth_loss[0] == -np.float32(F32_MAX)


def test_refused_steps_are_not_recorded_and_steps_stay_consecutive():
    config = Config(task="adding", seq_length=6, batch_size=4, hidden=6, n_test=16, eval_every=1000,
                    sample_every=1000, optimizer="sgd", lr=0.1, clip_mode="none")
    t = Trainer(config)
    accepted = []
    for _ in range(2):
        accepted += [t.step().step for _ in range(3)]
        t.set_live(lr=1e154)
        result = t.step()                 # finite but huge weights: accepted
        assert result.refused is None
        accepted.append(result.step)
        result = t.step()                 # non-finite: refused, the counter stays
        assert result.refused is not None and t.step_count == accepted[-1]
        t.set_live(lr=1e-3)
    accepted.append(t.step().step)

    assert accepted == list(range(1, 10))
    np.testing.assert_array_equal(t.history.steps, accepted)
    assert len(t.history.loss) == len(t.history) == 9
    assert np.isfinite(t.history.loss).all()


def test_values_recorded_between_reads_are_all_there_whenever_it_is_read():
    """What is read must not depend on when it is read: after every few steps or only at the end."""
    rng = np.random.default_rng(5)
    steps = list(range(1, 700)) + list(range(720, 1500))        # a gap, past several decimations
    losses = rng.uniform(0.0, 3.0, len(steps))
    grads = rng.uniform(0.0, 2.0, (len(steps), 3))
    norms = rng.uniform(0.0, 1.0, (len(steps), 2))

    def record(h: History, read_every: int | None) -> History:
        for i, step in enumerate(steps):
            smooth = None if i < 300 else float(losses[i]) + 1.0     # defined from step 301 on
            h.record_step(step, float(losses[i]), smooth, grads[i].copy(), {"W": norms[i, 0], "b": norms[i, 1]})
            if read_every and i % read_every == 0:
                assert len(h.loss) == len(h) == i + 1 and h.steps[-1] == step
        return h

    histories = [record(History(["W", "b"], max_rows=100), None),
                 record(History(["W", "b"], max_rows=100), 37)]
    expected = histories[0].state_dict()
    assert expected["stride"] > 1 and len(expected["grad_steps"]) <= 100       # decimated
    np.testing.assert_array_equal(expected["steps"], steps)
    np.testing.assert_array_equal(expected["loss"], losses.astype(np.float32))
    assert np.isnan(expected["smooth_loss"][:300]).all()
    np.testing.assert_array_equal(expected["smooth_loss"][300:], (losses[300:] + 1.0).astype(np.float32))
    rows = np.searchsorted(steps, expected["grad_steps"])
    np.testing.assert_array_equal(expected["grad_a_norms"], grads[rows].astype(np.float32))
    # each parameter norm is the largest over the steps its row stands for: a spike is never thinned away
    stride, steps_arr = expected["stride"], np.asarray(steps)
    peaks = [norms[(steps_arr >= s) & (steps_arr < s + stride)].max(axis=0) for s in expected["grad_steps"]]
    np.testing.assert_array_equal(expected["param_grad_norms"], np.array(peaks, dtype=np.float32))
    # and the smallest, so a dip is never thinned away either
    troughs = [norms[(steps_arr >= s) & (steps_arr < s + stride)].min(axis=0) for s in expected["grad_steps"]]
    np.testing.assert_array_equal(expected["param_grad_norms_min"], np.array(troughs, dtype=np.float32))
    assert (expected["param_grad_norms_min"] < expected["param_grad_norms"]).any()
    for h in histories[1:]:
        got = h.state_dict()
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_blocks_read_while_recording_hold_every_step_once_and_the_rows_then_kept():
    """What the window's training thread sends: each BlockReader.take() holds the steps recorded
    since the previous one; joined, they are the history (with a gap, a smoothed loss defined
    later, and rows decimated meanwhile)."""
    from rnnviz.training.history import BlockReader

    rng = np.random.default_rng(6)
    steps = list(range(1, 900)) + list(range(905, 2600))
    losses = rng.uniform(0.0, 3.0, len(steps))
    grads = rng.uniform(0.0, 2.0, (len(steps), 3))
    h = History(["W", "b"], max_rows=100)
    reader = BlockReader(h)
    blocks = []
    for i, step in enumerate(steps):
        smooth = None if i < 300 else float(losses[i]) + 1.0
        h.record_step(step, float(losses[i]), smooth, grads[i].copy(), {"W": float(i), "b": 1.0})
        if rng.random() < 0.02:
            blocks.append(reader.take())
    blocks.append(reader.take())
    assert reader.take() is None
    blocks = [b for b in blocks if b is not None]
    np.testing.assert_array_equal(np.concatenate([b.steps for b in blocks]), steps)
    np.testing.assert_array_equal(np.concatenate([b.loss for b in blocks]), losses.astype(np.float32))
    smooth = np.concatenate([np.full(b.steps.size, np.nan, np.float32) if b.smooth_loss is None
                             else b.smooth_loss for b in blocks])
    np.testing.assert_array_equal(smooth, h.smooth_loss)
    sent = np.concatenate([b.grad_steps for b in blocks])
    for block in blocks:
        assert np.all(np.diff(block.grad_steps) > 0)
    for before, after in zip(blocks, blocks[1:]):          # only the newest interval is sent again
        if before.grad_steps.size and after.grad_steps.size:
            assert after.grad_steps[0] > before.grad_steps[-1] - h.stride
    assert set(h.grad_steps) <= set(sent) and h.stride > 1  # every row kept at the end was sent
    rows = np.searchsorted(steps, sent)
    np.testing.assert_array_equal(np.concatenate([b.grad_a_norms for b in blocks]), grads[rows].astype(np.float32))
    # What was sent holds every peak the history keeps: the largest "W" norm (= the step's index)
    # among the rows sent within a kept row's interval (each at its latest sending) is that row's.
    final = {}
    for b in blocks:
        for step, norm in zip(b.grad_steps, b.param_grad_norms[:, 0]):
            final[int(step)] = norm
    for step, norm in zip(h.grad_steps, h.param_grad_norms["W"]):
        assert max(v for k, v in final.items() if step <= k < step + h.stride) == norm


def test_new_samples_are_found_after_the_kept_ones_are_full_and_after_a_reload():
    """Only the latest MAX_SAMPLES are kept, so the list stops growing: a reader must count the
    samples recorded in total (the window's worker did not, and showed no sample after 200)."""
    from rnnviz.training.history import MAX_SAMPLES

    history = History(("Waa",), T=2)
    seen = history.samples_recorded
    found = []
    for i in range(3 * MAX_SAMPLES + 7):
        history.record_sample(i, f"text {i}")
        if i % 13 == 0:
            found += history.samples_since(seen)
            seen = history.samples_recorded
    found += history.samples_since(seen)
    assert found == [(i, f"text {i}") for i in range(3 * MAX_SAMPLES + 7)]
    assert len(history.samples) == MAX_SAMPLES and history.samples_recorded == 3 * MAX_SAMPLES + 7
    assert history.samples_since(history.samples_recorded) == []
    assert history.samples_since(0) == history.samples              # older ones are gone

    reopened = History(("Waa",), T=2)           # a session saved with the list full
    reopened.load_state_dict(history.state_dict())
    assert reopened.samples == history.samples
    seen = reopened.samples_recorded
    reopened.record_sample(10_000, "after reopening")
    assert reopened.samples_since(seen) == [(10_000, "after reopening")]
    assert len(reopened.samples) == MAX_SAMPLES
