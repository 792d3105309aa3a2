"""How the window shows a probe's time steps and symbols to its reader.

Steps are numbered 1 … T, as the course writes x<1> … x<T> and a<1> … a<T>, in every panel and in
the why dock alike. The LiveInsight's arrays, and every step index the panels pass between them
(``select_tau``, ``output_selected``, spans), count from 0; only the text and axes a user reads go
through :func:`step_number`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

NEWLINE = "⏎"


def step_number(t: int) -> int:
    """The number shown for probe step ``t`` (an index from 0): t + 1."""
    return int(t) + 1


def shown_symbol(label: str) -> str:
    """A label as given, except a raw newline (shown as ⏎) and other invisible control characters."""
    if label == "\n":
        return NEWLINE
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in label)


def tau_entry(tau: int, label: str, last: bool) -> str:
    """The list entry for output step ``tau`` (an index from 0) after input ``label``, the same in the
    gradient-flow panel and the why dock: "τ = 5, after ‘a’ (the last)"."""
    return f"τ = {step_number(tau)}, after ‘{shown_symbol(label)}’" + (" (the last)" if last else "")


def step_ticks(T: int, max_labels: int = 10) -> list:
    """Ticks for an axis with probe steps drawn at x = 1 … T: at most about ``max_labels`` step numbers
    labelled, evenly spaced from step 1 (1, 3, 5, …) or step 1 and the multiples of k = 5, 10, 20, …
    (1, 5, 10, …); an unlabelled tick at every step."""
    every = next((s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500) if T / s <= max_labels), 1000)
    labelled = list(range(1, T + 1, every)) if every <= 2 else [1, *range(every, T + 1, every)]
    return [[(n, str(n)) for n in labelled], [(n, "") for n in range(1, T + 1)]]


def clicked_output(view, event, output_steps) -> int | None:
    """The output step (an index from 0) nearest a left click inside the view box ``view`` of a plot
    whose x axis draws probe step t at x = t + 1; None for another button, a click outside the plot,
    or no outputs. Both plots where a click picks τ (the gradient-flow panel, the why dock) use it."""
    if not len(output_steps) or event.button() != Qt.MouseButton.LeftButton:
        return None
    if not view.sceneBoundingRect().contains(event.scenePos()):
        return None
    t = view.mapSceneToView(event.scenePos()).x() - 1
    steps = [int(s) for s in output_steps]
    return min(steps, key=lambda s: abs(s - t))
