"""Where units sit in the flat parts of their nonlinearity, over one probe (Karpathy et al. 2015, Fig. 4).

* Gates (LSTM f, i, o; GRU r, u; PyTorch's GRU r, z): per unit, the fraction of steps it is left-saturated
  (``Γ < GATE_LOW``, shut) and right-saturated (``Γ > GATE_HIGH``, wide open).
* tanh units (the vanilla RNN's a<t>; the gated cells' candidate c~): the fraction of steps with
  ``|value| > TANH_SATURATED``, where tanh' < 0.1. A sigmoid RNN's units use the same slope:
  ``a < SIGMOID_LOW`` or ``a > 1 - SIGMOID_LOW`` (σ(z) = (1 + tanh(z/2))/2).
* ReLU units do not saturate: a unit that is 0 at every step of the probe is **dead** (it passes no
  signal and gets no gradient), and is counted as dead, not as saturated.
"""

from __future__ import annotations

import numpy as np

from rnnviz.insight.trace import Trace

GATE_LOW = 0.1
GATE_HIGH = 0.9
TANH_SATURATED = 0.95
SIGMOID_LOW = (1.0 - TANH_SATURATED) / 2.0
"""0.025: a sigmoid unit this close to 0 or 1 is as flat as a tanh unit beyond 0.95."""

GATES = {"lstm": ("f", "i", "o"), "gru": ("r", "u"), "gru_torch": ("r", "z")}


def gate_saturation(gate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """gate (T, H) values in (0, 1) -> (left, right) fractions of time per unit, each (H,)."""
    return (gate < GATE_LOW).mean(axis=0), (gate > GATE_HIGH).mean(axis=0)


def unit_saturation(values: np.ndarray, kind: str) -> np.ndarray:
    """values (T, H) of tanh or sigmoid units -> fraction of time each unit is saturated (H,)."""
    if kind == "tanh":
        return (np.abs(values) > TANH_SATURATED).mean(axis=0)
    if kind == "sigmoid":
        return ((values < SIGMOID_LOW) | (values > 1.0 - SIGMOID_LOW)).mean(axis=0)
    raise ValueError(f"kind must be tanh or sigmoid (got {kind!r})")


def dead_units(values: np.ndarray) -> np.ndarray:
    """values (T, H) of ReLU units -> (H,) True where the unit is 0 at every step."""
    return np.all(values <= 0.0, axis=0)


def saturation_report(trace: Trace) -> dict:
    """JSON-able summary of the probe's saturation.

    ``hidden``: {"units": which values ("a" or "cand"), "kind": tanh | sigmoid | relu,
    "threshold": the rule, "per_unit": (H,) fraction of time saturated (0 for ReLU),
    "saturated_fraction": over all units and steps (ReLU: 0), "dead_units": count (ReLU: dead on
    the whole probe; 0 otherwise), "dead": their indices}.
    ``gates``: {gate: {"left": (H,), "right": (H,), "left_mean", "right_mean"}} for the gated cells.
    """
    if trace.cell == "rnn":
        values, units, kind = trace.states["a"], "a", trace.activation
    else:
        values, units, kind = trace.states["cand"], "cand", "tanh"
    if kind == "relu":
        dead = dead_units(values)
        hidden = {"units": units, "kind": kind, "threshold": "dead: a = 0 at every step",
                  "per_unit": [0.0] * values.shape[1], "saturated_fraction": 0.0,
                  "dead_units": int(dead.sum()), "dead": np.flatnonzero(dead).tolist()}
    else:
        per_unit = unit_saturation(values, kind)
        rule = f"|x| > {TANH_SATURATED}" if kind == "tanh" else f"x < {SIGMOID_LOW} or x > {1 - SIGMOID_LOW}"
        hidden = {"units": units, "kind": kind, "threshold": rule, "per_unit": per_unit.tolist(),
                  "saturated_fraction": float(per_unit.mean()), "dead_units": 0, "dead": []}
    gates = {}
    for name in GATES.get(trace.cell, ()):
        left, right = gate_saturation(trace.states[name])
        gates[name] = {"left": left.tolist(), "right": right.tolist(),
                       "left_mean": float(left.mean()), "right_mean": float(right.mean())}
    return {"hidden": hidden, "gates": gates, "gate_low": GATE_LOW, "gate_high": GATE_HIGH}
