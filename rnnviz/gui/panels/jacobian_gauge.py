"""How the one-step Jacobians' spectrum is drawn, shared by the why dock's Jacobians tab
(:mod:`.why_dynamics`) and the strip under the hidden-state heatmap (:mod:`.hidden_states`): the
contracting / near-isometric / expanding gauge's colours and key, and the floor of the log axes."""

from __future__ import annotations

import html

import numpy as np

from rnnviz.insight.jacobians import CONTRACTING_BELOW, EXPANDING_ABOVE

SIGMA_FLOOR = 1e-4
"""Singular values below this (a direction the step wipes out, or an exact 0) are drawn at it."""
CLASSES = ("contracting", "near-isometric", "expanding")
CLASS_COLOURS = {"contracting": "#0072B2", "near-isometric": "#009E73", "expanding": "#D55E00"}
"""Okabe–Ito blue, bluish green and vermillion: told apart with the common colour-vision deficiencies."""
CLASS_RULES = {"contracting": f" (σmax < {CONTRACTING_BELOW:g})", "near-isometric": "",
               "expanding": f" (σmax > {EXPANDING_ABOVE:g})"}
"""The gauge's key: the bounds (between them a step is near-isometric)."""


def floored(values) -> np.ndarray:
    """Singular values for a log axis: at least SIGMA_FLOOR; non-finite values become gaps."""
    v = np.asarray(values, dtype=float)
    return np.where(np.isfinite(v), np.maximum(v, SIGMA_FLOOR), np.nan)


def class_key(classes=None) -> str:
    """The gauge's key as rich text: a coloured square and each class's rule, with how many of
    ``classes`` (the steps' classes) fall in it when given. Each entry is kept on one line."""
    parts = []
    for name in CLASSES:
        text = f"{name}{CLASS_RULES[name]}" + ("" if classes is None else f": {sum(c == name for c in classes)}")
        parts.append(f"<span style='color:{CLASS_COLOURS[name]}; font-size:14px'>■</span>&nbsp;"
                     + html.escape(text).replace(" ", "&nbsp;").replace("-", "\u2011"))
    return " &nbsp; ".join(parts)
