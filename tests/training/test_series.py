"""The one growable buffer and the one decimation rule the history and the window share."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz.training.series import GrowingArray, StridedRows


def test_growing_array_keeps_every_row_in_order_through_growth():
    g = GrowingArray((3,), np.float32, capacity=2)
    rows = np.arange(300, dtype=np.float32).reshape(100, 3)
    for row in rows[:37]:
        g.append(row)
    g.extend(rows[37:])
    np.testing.assert_array_equal(g.values, rows)
    assert g.values.dtype == np.float32 and len(g) == 100
    np.testing.assert_array_equal(g.tail(95), rows[95:])
    g.tail(95)[0] = -1.0                         # a copy, not a view
    assert g.values[95, 0] == rows[95, 0]
    assert g.nbytes < 2 * rows.nbytes + 3 * 4    # at most half the capacity unused


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(2, 50), st.booleans())
def test_strided_rows_are_bounded_evenly_spaced_and_exact(chunks, max_rows, one_by_one):
    """However rows arrive (in blocks or one at a time), at most max_rows are kept, all at multiples
    of the stride, holding exactly the values given at those steps, and the newest such step is kept."""
    rows = StridedRows(max_rows)
    step = 0
    for size in chunks:
        steps = np.arange(step + 1, step + 1 + size)
        columns = {"g": np.stack([steps, -steps], axis=1) * 0.5, "n": steps * 2.0}
        if one_by_one:
            for i, s in enumerate(steps):
                rows.append(int(s), {"g": columns["g"][i], "n": columns["n"][i]})
        else:
            rows.add(steps, columns)
        step += size
    assert len(rows) <= max(2, max_rows)
    assert np.all(rows.steps % rows.stride == 0) and np.all(np.diff(rows.steps) == rows.stride)
    np.testing.assert_array_equal(rows.column("n"), rows.steps * 2.0)
    np.testing.assert_array_equal(rows.column("g")[:, 1], rows.steps * -0.5)
    if step >= rows.stride:
        assert rows.steps[-1] == step - step % rows.stride
        assert rows.steps[0] == rows.stride        # nothing on the stride was dropped


def test_rows_after_a_step_are_copies_of_the_newest_rows():
    rows = StridedRows(100)
    rows.add(np.arange(1, 11), {"x": np.arange(1, 11) * 1.0})
    steps, cols = rows.rows_after(7)
    np.testing.assert_array_equal(steps, [8, 9, 10])
    cols["x"][0] = -1
    assert rows.column("x")[7] == 8.0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(2, 50), st.booleans(), st.integers(0, 10**6))
def test_peak_and_trough_fields_keep_the_extremes_of_each_interval(chunks, max_rows, one_by_one, seed):
    """A peak field's row at step s holds the maximum over the steps s … s + stride − 1 and a trough
    field's the minimum (so a one-step spike or dip survives any thinning), while the other fields
    hold the value at s itself."""
    rng = np.random.default_rng(seed)
    total = sum(chunks)
    values = rng.random((total + 1, 2)) + 1.0
    values[rng.integers(1, total + 1)] = 1e6                   # one spike somewhere
    values[rng.integers(1, total + 1)] = 1e-6                  # and one dip
    rows = StridedRows(max_rows, np.float64, peaks={"peak"}, troughs={"trough"})
    step = 0
    for size in chunks:
        steps = np.arange(step + 1, step + 1 + size)
        cols = {"peak": values[steps], "trough": values[steps], "at": values[steps, 0]}
        if one_by_one:
            for i, s in enumerate(steps):
                rows.append(int(s), {name: col[i] for name, col in cols.items()})
        else:
            rows.add(steps, cols)
        step += size
    for s, peak, trough, at in zip(rows.steps, rows.column("peak"), rows.column("trough"), rows.column("at")):
        interval = values[s:min(s + rows.stride, total + 1)]
        np.testing.assert_array_equal(peak, interval.max(axis=0))
        np.testing.assert_array_equal(trough, interval.min(axis=0))
        assert at == values[s, 0]
    if len(rows) and rows.steps[0] == rows.stride:
        covered = values[rows.stride:rows.steps[-1] + rows.stride]
        assert rows.column("peak").max() == covered.max()
        assert rows.column("trough").min() == covered.min()


def test_every_field_can_keep_its_minimum_and_resent_rows_only_lower_it():
    """troughs=True: every field is a trough (the window's lower gradient envelope); a row sent again
    (a History's reader resends the newest interval) lowers the kept row, never raises it."""
    rows = StridedRows(4, np.float64, troughs=True)
    rows.add(np.arange(1, 9), {"x": np.array([5.0, 4, 6, 3, 7, 2, 8, 9])})
    assert rows.stride == 2
    np.testing.assert_array_equal(rows.steps, [2, 4, 6, 8])
    np.testing.assert_array_equal(rows.column("x"), [4.0, 3, 2, 9])
    rows.add([8, 9], {"x": [10.0, 1.0]})            # step 8 again, higher: no change; 9 joins row 8
    np.testing.assert_array_equal(rows.column("x"), [4.0, 3, 2, 1])
    try:
        StridedRows(4, peaks={"x"}, troughs={"x"})
    except ValueError as exc:
        assert "both" in str(exc)
    else:
        raise AssertionError("a field in both peaks and troughs must be refused")
