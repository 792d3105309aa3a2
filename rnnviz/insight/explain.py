"""``rnnviz explain SESSION.rnnviz``: the insight numbers of a saved network on one input, for
scripts and notebooks (issue 17).

``--text "..."`` (character models) or ``--example K`` (the K-th held-out example of the other
tasks) is run from a zero initial state with the saved weights in float64. ``--json`` prints one
JSON object with these fields (T input steps, H hidden units). Its time steps are array indices,
counted from 0 (row τ of ``saliency`` is the output after ``tokens[τ]``); the readable summary, like
the window, numbers them from 1 (x<1> … x<T>):

* ``tokens``: the T input symbols, as strings;
* ``layer``: the layer explained (1 … L; ``--layer K``, default the top layer L of a stacked
  network, which the readout reads; 1 for a one-layer network);
* ``hidden``: T×H hidden states a<t> (of that layer, a[K]<t>); for the LSTM also ``cell``: T×H
  cell states c<t>;
* ``log_prob``: character models: the T−1 values log p(tokens[t+1] | tokens[0..t]); other tasks:
  the log-probability of each target output (sigmoid: of the target bit); null for a linear
  readout (the adding problem), which gives a value, not a probability;
* ``top``: per step, the 5 most likely outputs as ``[symbol, probability]`` (a sigmoid output:
  ``"1"`` and ``"0"``; empty for a linear readout);
* ``saliency``: T×T, row τ holds ‖∂ score<τ> / ∂x<s>‖₂ for s ≤ τ and 0 for s > τ, where x<s> is the
  input vector (one-hot for characters) and score<τ> the log-probability of the target at τ (for
  a linear readout: the output value); rows of steps without a target are 0 (a stacked network:
  through every layer, whichever is explained);
* ``jacobian_norm``: T×T, entry [τ][s] the largest singular value of ∂state<τ>/∂state<s> for s ≤ τ
  (1 on the diagonal), 0 above; the state is a<t> (RNN, GRU) or [a<t>; c<t>] (LSTM), of the layer
  explained (a stacked network's lower layers do not depend on it, so this is the chain of that
  layer's own one-step Jacobians); null where it overflowed;
* ``memory_horizon``: the lag at which the median over τ of that norm falls below 10⁻³ (null:
  not within the input);
* ``saturation``: see :func:`rnnviz.insight.saturation.saturation_report`;
* ``diagnosis``: the diagnosis lines (:mod:`rnnviz.insight.diagnosis`).

Bad input raises :class:`~rnnviz.errors.InputError` (or ``SessionError`` for the file): one line,
exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

from rnnviz.errors import InputError, RnnvizError
from rnnviz.engine.cells import sigmoid
from rnnviz.insight.diagnosis import RunStats, diagnose
from rnnviz.insight.jacobians import classify_steps, product_norms, step_jacobians
from rnnviz.insight.memory import HORIZON_THRESHOLD, memory_horizon
from rnnviz.insight.saliency import logits, output_gradients, output_scores, softmax
from rnnviz.insight.saturation import saturation_report
from rnnviz.insight.trace import check_analysable, not_analysable, run_trace
from rnnviz.tasks.base import escape_char

TOP = 5
HELD_OUT_LIMIT = 2000
"""Held-out items scored for the diagnosis when the session has no recorded evaluation."""
MAX_TEXT = 200
"""Longest --text (the window's longest probe): ``jacobian_norm`` costs T²/2 products and
singular value decompositions of state-sized matrices, about 12 s for 200 characters of a
100-unit RNN and a minute for a 100-unit LSTM (benchmarks/bench_insight.py)."""


def unsupported(trainer) -> str | None:
    """Why the insight numbers cannot be computed for ``trainer``'s model (one line), or None
    (:func:`rnnviz.insight.trace.not_analysable` of its settings)."""
    return not_analysable(trainer.config)


def refuse_unsupported(trainer) -> None:
    """``InputError`` with :func:`unsupported`'s line when the insight numbers cannot be computed."""
    reason = unsupported(trainer)
    if reason is not None:
        raise InputError(reason)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments, for ``rnnviz explain`` and ``python -m rnnviz.insight.explain``."""
    parser.add_argument("session", metavar="SESSION.rnnviz", help="a saved session")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--text", help="character models: the text to explain (default: the probe text)")
    which.add_argument("--example", type=int, metavar="K",
                       help="other tasks: the K-th held-out example, from 0 (default 0)")
    parser.add_argument("--layer", type=int, metavar="K",
                        help="a stacked network: the layer whose states, Jacobians and saturation are "
                             "explained, 1 (reads the input) to L (feeds the output; the default)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (see the fields in the docs); its time steps are array "
                             "indices from 0, where the readable summary and the window count from 1")


def run(args) -> int:
    """Explain ``args.session`` on the chosen input and print the result; 0 on success."""
    from rnnviz.session import load_session
    trainer = load_session(args.session)
    report = explain(trainer, text=args.text, example=args.example, layer=getattr(args, "layer", None))
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(summary(report, trainer, os.fspath(args.session)) + "\n")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="rnnviz explain", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except RnnvizError as exc:
        sys.stderr.write(f"rnnviz: error: {exc}\n")
        return 2


# --------------------------------------------------------------------------- the input
def held_out_count(task) -> int:
    return sum(b.x.shape[1] for b in task.test_batches())


def held_out_example(task, k: int):
    """(x, y) of the k-th held-out sequence: x (T,) tokens or (T, D); y (T,), (T, K) or (K,)."""
    for batch in task.test_batches():
        n = batch.x.shape[1]
        if k < n:
            return batch.x[:, k], (batch.y[k] if task.many_to_one else batch.y[:, k])
        k -= n
    raise IndexError(k)


def input_labels(task, x) -> list[str]:
    """The input symbols as strings, as the window labels them."""
    name = task.name
    if name == "charlm":
        return [task.vocab[int(i)] for i in x]
    if name == "copy":
        return [task.token_label(int(i)) for i in x]
    if name == "parity":
        return [str(int(b)) for b in x[:, 0]]
    if name == "addition":
        return [f"{int(a)} {int(b)}" for a, b in x]
    if name == "adding":
        return [f"{v:.2f}" + ("*" if m else "") for v, m in x]
    return [" ".join(f"{v:g}" for v in row) for row in np.atleast_2d(x)]


def output_labels(task) -> list[str] | None:
    if task.name == "charlm":
        return list(task.vocab)
    if task.name == "copy":
        return [task.token_label(k) for k in range(task.output_size)]
    return None


def choose_input(trainer, text: str | None, example: int | None):
    """(x, targets, output_steps, labels) for the text or example asked for; InputError otherwise."""
    task, title = trainer.task, trainer.task.name
    if trainer.is_charlm:
        if example is not None:
            raise InputError("--example is for tasks with held-out examples; this session is a character "
                             "model: give --text \"...\"")
        if text is None:
            text = trainer.config.probe or task.decode(task.test_ids[:task.T])
        if not text:
            raise InputError("--text is empty: give at least one character")
        if len(text) > MAX_TEXT:
            raise InputError(f"--text has {len(text):,} characters; at most {MAX_TEXT:,} can be explained at once")
        vocab = set(task.vocab)
        unknown = sorted({c for c in text if c not in vocab})
        if unknown:
            shown = " ".join(repr(escape_char(c)) for c in unknown)
            raise InputError(f"--text holds characters the model never saw: {shown} "
                             f"(it knows the {len(vocab)} characters of its corpus)")
        ids = task.encode(text)
        return ids, ids[1:], range(len(ids) - 1), input_labels(task, ids)
    if text is not None:
        raise InputError(f"--text is for character models; this session is a {title} model: use --example K")
    n = held_out_count(task)
    k = 0 if example is None else example
    if not 0 <= k < n:
        raise InputError(f"--example {k} is out of range: this session has {n:,} held-out examples, 0 to {n - 1:,}")
    x, y = held_out_example(task, k)
    steps = [x.shape[0] - 1] if task.many_to_one else range(x.shape[0])
    targets = np.asarray(y)[None] if task.many_to_one else y
    return x, targets, steps, input_labels(task, x)


# --------------------------------------------------------------------------- the numbers
def _finite_or_none(m: np.ndarray):
    """Nested lists of floats with non-finite entries as None (JSON has no inf or NaN)."""
    m = np.asarray(m, dtype=float)
    if np.isfinite(m).all():
        return m.tolist()
    return [[v if math.isfinite(v) else None for v in row] for row in m.tolist()]


def _top(trace, labels: list[str] | None) -> list:
    """Per step, the TOP most likely outputs as [symbol, probability]."""
    z = logits(trace.top_a, trace.params["Wya"], trace.params["by"])               # (T, K)
    if trace.readout == "softmax":
        p = softmax(z)
        order = np.argsort(-p, axis=1, kind="stable")[:, :TOP]
        names = labels or [str(k) for k in range(p.shape[1])]
        return [[[names[k], float(p[t, k])] for k in order[t]] for t in range(len(p))]
    if trace.readout == "sigmoid" and z.shape[1] == 1:
        p1 = sigmoid(z[:, 0])
        return [sorted([["1", float(q)], ["0", float(1.0 - q)]], key=lambda e: -e[1]) for q in p1]
    return [[] for _ in range(len(z))]


def explain(trainer, text: str | None = None, example: int | None = None, layer: int | None = None) -> dict:
    """The JSON object of ``rnnviz explain`` for a :class:`~rnnviz.training.Trainer` (see the module
    doc); ``layer``: a stacked network's layer to explain (default the top one)."""
    refuse_unsupported(trainer)
    check_analysable(trainer.network, layer)          # (a bad layer before any work)
    x, targets, steps, labels = choose_input(trainer, text, example)
    trace = run_trace(trainer.network, x, targets, steps, layer=layer)
    jac = step_jacobians(trace)
    scores = output_scores(trace)
    grads = output_gradients(trace, jac, scores)
    norms = product_norms(jac.state)
    horizon = memory_horizon(norms)
    saturation = saturation_report(trace)
    stats = run_stats(trainer, trace, grads, horizon, saturation)
    report = {
        "tokens": labels,
        "layer": trace.layer,
        "hidden": trace.states["a"].tolist(),
    }
    if trace.cell == "lstm":
        report["cell"] = trace.states["c"].tolist()
    report.update(
        log_prob=None if trace.readout == "linear" else scores.score.tolist(),
        top=_top(trace, output_labels(trainer.task)),
        saliency=_finite_or_none(grads.saliency),
        jacobian_norm=_finite_or_none(norms),
        memory_horizon=horizon,
        saturation=saturation,
        diagnosis=[f.line for f in diagnose(stats)],
    )
    return report


def _chance_label(chance: float) -> str:
    for name, value in (("ln 2", math.log(2.0)),):
        if abs(chance - value) < 0.01 * value:
            return f"{name} = {chance:.3f}"
    return f"{chance:.3g}"


def needed_lag(task) -> int | None:
    """How many steps back the task's answer depends on (None: no long-range need)."""
    return {"copy": lambda: task.lag + task.copy_length, "parity": lambda: task.T - 1,
            "adding": lambda: task.T - 1}.get(task.name, lambda: None)()


def held_out_measure(trainer) -> tuple[float | None, float | None, str, str]:
    """(held-out value, its chance level, unit, how chance is reached) from the last recorded
    evaluation, or a fresh one on the first ``HELD_OUT_LIMIT`` items. The chance level is a uniform
    guess over the outputs (ln K nats per symbol, ln 2 per bit; log₂ V bits per character), and for
    the adding problem (a linear readout) always answering the mean sum, 1 (squared error 1/6)."""
    task = trainer.task
    evals = [m for _, m in trainer.history.evals if "loss" in m]
    metrics = evals[-1] if evals else task.metrics(trainer.network, limit=HELD_OUT_LIMIT)
    if task.name == "charlm":
        return (metrics.get("bits_per_char", metrics["loss"] / math.log(2.0)), math.log2(len(task.vocab)),
                "bits per character", "guessing uniformly")
    if task.readout == "linear":
        return float(metrics["loss"]), task.chance_loss(), "squared error", "always answering the mean"
    per_item = "symbol" if task.readout == "softmax" else "bit"
    uniform = math.log(task.output_size) if task.readout == "softmax" else math.log(2.0)
    return float(metrics["loss"]), uniform, f"nats per {per_item}", "guessing uniformly"


def run_stats(trainer, trace, grads, horizon, saturation) -> RunStats:
    """The diagnosis's inputs from a trainer and the explained input's numbers."""
    hist, cfg, task = trainer.history, trainer.config, trainer.task
    tau = int(trace.output_steps[-1]) if len(trace.output_steps) else None
    norms = hist.param_grad_norms
    grad_norms = np.sqrt(sum(np.square(v.astype(np.float64)) for v in norms.values())) if len(hist.grad_steps) else None
    held_out, held_chance, unit, how = held_out_measure(trainer)
    chance = task.chance_loss()
    hidden = saturation["hidden"]
    return RunStats(
        cell=trace.cell, activation=trace.activation,
        output_gradient=None if tau is None else grads.a_norms[tau, :tau + 1],
        losses=hist.loss.astype(np.float64), steps=hist.steps,
        chance_loss=chance, chance_label=None if chance is None else _chance_label(chance),
        grad_norms=grad_norms, grad_steps=hist.grad_steps if grad_norms is not None else None,
        clipping=cfg.clip_mode != "none",
        memory_horizon=horizon, probe_length=trace.T, needed_lag=needed_lag(task),
        dead_units=hidden["dead_units"], hidden_size=trace.H,
        saturated_fraction=hidden["saturated_fraction"],
        forget_closed=saturation["gates"]["f"]["left_mean"] if "f" in saturation["gates"] else None,
        held_out=held_out, held_out_chance=held_chance, held_out_unit=unit, held_out_chance_label=how,
        lr=cfg.lr, forget_bias=cfg.forget_bias,
    )


# --------------------------------------------------------------------------- the readable form
def summary(report: dict, trainer, path: str) -> str:
    """The report as a few readable lines."""
    cfg = trainer.config
    T = len(report["tokens"])
    tokens = report["tokens"]
    shown = ("".join(escape_char(t) for t in tokens) if trainer.is_charlm
             else (" | " if any(" " in t for t in tokens) else " ").join(tokens))
    lines = [f"{path}: {cfg.task}, {cfg.cell}{' ' + cfg.activation if cfg.cell == 'rnn' else ''}, "
             f"{cfg.hidden} hidden units, "
             + (f"{cfg.layers} layers (explaining layer {report['layer']}), " if cfg.layers > 1 else "")
             + f"step {trainer.step_count:,}",
             f"input ({T} steps): {shown}"]
    if report["log_prob"] is not None and report["log_prob"]:
        lp = np.asarray(report["log_prob"])
        lines.append(f"log-probability of the targets: mean {lp.mean():.3f} nats ({-lp.mean() / math.log(2):.2f} bits), "
                     f"lowest {lp.min():.3f}")
    elif report["log_prob"] is None:
        lines.append("linear readout: the saliency is of the output value itself, not of a probability")
    horizon = report["memory_horizon"]
    lines.append("memory horizon: " + (f"{horizon} steps (median ‖∂state<τ>/∂state<τ-k>‖ < {HORIZON_THRESHOLD:g} from lag {horizon})"
                                       if horizon is not None else f"beyond the {T} steps of the input"))
    jn = np.array([[np.inf if v is None else v for v in row] for row in report["jacobian_norm"]])
    if T > 1:
        kinds = classify_steps(np.diagonal(jn, offset=-1))
        counts = {k: kinds.count(k) for k in ("contracting", "near-isometric", "expanding")}
        lines.append("one-step Jacobians: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    sal = np.array([[np.inf if v is None else v for v in row] for row in report["saliency"]])
    rows = np.flatnonzero(sal.any(axis=1))
    if rows.size:
        tau = int(rows[-1])
        best = np.argsort(-sal[tau, :tau + 1], kind="stable")[:3]
        # steps numbered from 1, as in the window (the JSON's indices are these minus 1)
        lines.append(f"saliency of the output at step {tau + 1}: most from steps " +
                     ", ".join(f"{int(s) + 1} ({escape_char(report['tokens'][s]) if trainer.is_charlm else report['tokens'][s]})"
                               for s in best))
    sat = report["saturation"]
    hidden = sat["hidden"]
    if hidden["kind"] == "relu":
        lines.append(f"ReLU units dead on the whole input: {hidden['dead_units']} of {cfg.hidden}")
    else:
        lines.append(f"saturated {hidden['units']} ({hidden['threshold']}): {100 * hidden['saturated_fraction']:.1f}% of the time")
    for gate, g in sat["gates"].items():
        lines.append(f"gate {gate}: shut (< {sat['gate_low']}) {100 * g['left_mean']:.1f}%, "
                     f"open (> {sat['gate_high']}) {100 * g['right_mean']:.1f}% of the time")
    lines.append("diagnosis:" if report["diagnosis"] else "diagnosis: nothing wrong found")
    lines.extend(f"  - {line}" for line in report["diagnosis"])
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
