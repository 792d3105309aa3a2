"""Units over text: one unit's activation per character, and units ranked by selectivity for a span.

Selectivity of a unit for a span of the probe (LSTMVis's selection, scored as an effect size):

    d = (mean inside − mean outside) / pooled standard deviation

with the pooled standard deviation ``sqrt(((n_in − 1) s_in² + (n_out − 1) s_out²) / (n_in + n_out − 2))``
(Cohen's d), floored at ``MIN_POOLED_STD`` so that a unit that hardly moves does not rank first.
Positive: the unit is higher on the span than elsewhere; negative: lower. Units are ranked by |d|.
"""

from __future__ import annotations

import numpy as np

from rnnviz.insight.trace import Trace

MIN_POOLED_STD = 1e-3
"""Floor of the pooled standard deviation in the selectivity score."""


def unit_activation(trace: Trace, unit: int, state: str = "a") -> np.ndarray:
    """(T,) the value of ``unit`` of ``state`` ("a"; LSTM "c", gates; GRU gates) at every step."""
    return trace.states[state][:, unit].copy()


def selectivity(values: np.ndarray, start: int, stop: int) -> np.ndarray:
    """values (T, H); the span is steps [start, stop) -> (H,) selectivity d of every unit.

    ``ValueError`` unless the span and the rest each hold at least one step (and two in all).
    """
    T = values.shape[0]
    if not 0 <= start < stop <= T or stop - start == T:
        raise ValueError(f"the span must be a part of the {T} steps, [start, stop) with 0 <= start < stop <= {T}, "
                         "leaving some steps outside")
    inside = np.zeros(T, dtype=bool)
    inside[start:stop] = True
    a, b = values[inside], values[~inside]
    n_a, n_b = len(a), len(b)
    pooled = ((n_a - 1) * a.var(axis=0, ddof=1 if n_a > 1 else 0)
              + (n_b - 1) * b.var(axis=0, ddof=1 if n_b > 1 else 0)) / max(n_a + n_b - 2, 1)
    return (a.mean(axis=0) - b.mean(axis=0)) / np.maximum(np.sqrt(pooled), MIN_POOLED_STD)


def rank_units(trace: Trace, start: int, stop: int, state: str = "a", top: int = 10) -> list[tuple[int, float]]:
    """The ``top`` units of ``state`` most selective for steps [start, stop): [(unit, d)], by |d|."""
    d = selectivity(trace.states[state], start, stop)
    order = np.argsort(-np.abs(d), kind="stable")[:top]
    return [(int(u), float(d[u])) for u in order]
