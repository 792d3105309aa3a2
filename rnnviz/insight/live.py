"""Everything the window's why-views draw, computed together on the run's probe (float64).

:func:`live_insight` runs one probe sequence through a trainer's network and returns a
:class:`LiveInsight`: read-only arrays the window's views draw without further computation
(clicking an output or a unit only selects a row). The training thread computes it under a time
budget while a run trains, the window's thread when it is paused; both hold the trainer then.

The probe is the window's: the character model's probe text (or, when it holds characters the
model never saw, the start of the held-out text), else the first held-out sequence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rnnviz.errors import InputError
from rnnviz.insight.diagnosis import diagnose
from rnnviz.insight.explain import MAX_TEXT, choose_input, output_labels, refuse_unsupported, run_stats
from rnnviz.insight.jacobians import (classify_steps, estimated_singular_values, step_jacobians,
                                      step_singular_values)
from rnnviz.insight.memory import lag_medians, memory_horizon, pascanu_bound, state_norms
from rnnviz.insight.probes import ProbeCurve, task_readout_curve
from rnnviz.insight.saliency import output_gradients, output_scores
from rnnviz.insight.sampling import InspectedSample, draw_inspected_sample
from rnnviz.insight.saturation import saturation_report
from rnnviz.insight.trace import run_trace

SAMPLE_LENGTH = 200
"""Characters in the inspected sample (fewer if the run's sample length is shorter)."""
READOUT_TASKS = ("copy", "parity", "adding")
"""Tasks with a linear read-out curve of what the state remembers (:mod:`rnnviz.insight.probes`)."""


@dataclass(frozen=True, eq=False)
class LiveInsight:
    """The why-views' numbers for one probe at one training step. T probe steps, H hidden units,
    n output steps, K outputs. Arrays are read-only float64.

    step: the training step of the weights.  cell, activation, readout: the network's.
    labels: (T,) the input symbols as shown.  output_names: the K output classes' names (softmax
        readouts), else None.
    output_steps: (n,) the steps τ that have a target; targets: (n,) class ids or (n, K) values.
    states: (T, H) arrays by name: "a"; LSTM also "c", "f", "i", "o", "cand"; GRU "r", "u", "cand";
        PyTorch GRU "r", "z", "cand".
    score: (n,) log-probability of the target (softmax, sigmoid) or the output value (linear).
    probs: (n, K) the readout's probabilities (values for a linear readout).
    saliency: (T, T) [τ, s] = ‖∂score<τ>/∂x<s>‖₂ (rows of steps without an output are 0).
    grad_a: (T, T) [τ, t] = ‖∂score<τ>/∂a<t>‖₂; grad_c: the same for the LSTM's cell, else None.
    state_norm: (T, T) [τ, s] = σmax(∂state<τ>/∂state<s>), state = a (RNN, GRU) or [a; c] (LSTM);
        a_norm, c_norm: the LSTM's ∂a<τ>/∂a<s> and ∂c<τ>/∂c<s> blocks, else None.
    step_sigma: (T, S) singular values of each one-step Jacobian ∂state<t>/∂state<t-1>, largest
        first; step_class: (T,) "contracting", "near-isometric" or "expanding".
    lag_median: (T,) median over τ of state_norm[τ, τ-k], k = 0 … T-1; lag_median_a/_c: LSTM blocks.
    horizon: the memory horizon (first lag where lag_median < 10⁻³; None: beyond the probe);
        horizon_c: the same along the LSTM's cell path.
    bound: (T,) Pascanu et al.'s (γ·σmax(Waa))^k for the vanilla RNN, else None.
    saturation: :func:`~rnnviz.insight.saturation.saturation_report`.
    diagnosis: the diagnosis lines (:func:`~rnnviz.insight.diagnosis.diagnose`); findings: the
        :class:`~rnnviz.insight.diagnosis.Finding` objects behind them (with the change to try).
    task: the task's name.
    memory: the read-out curve for copy, parity and adding (else None).
    sample: for character models, a text the network writes from the probe's first character at the
        run's temperature (at most ``SAMPLE_LENGTH`` characters) with the logits each character was
        drawn from and the saliency of each character over those before it
        (:class:`~rnnviz.insight.sampling.InspectedSample`); else None.
    seconds: how long the computation took.
    layer, layers: the layer analysed (1 … layers) and how many the network has. A stacked
        network's ``states``, ``grad_a``/``grad_c``, ``state_norm`` … are those of layer ``layer``
        (a[l]<t>, c[l]<t>); ``saliency`` and ``score`` go through every layer to the inputs.
    """

    step: int
    cell: str
    activation: str
    readout: str
    labels: tuple
    output_names: tuple | None
    output_steps: np.ndarray
    targets: np.ndarray | None
    states: dict
    score: np.ndarray
    probs: np.ndarray
    saliency: np.ndarray
    grad_a: np.ndarray
    grad_c: np.ndarray | None
    state_norm: np.ndarray
    a_norm: np.ndarray | None
    c_norm: np.ndarray | None
    step_sigma: np.ndarray
    step_class: tuple
    lag_median: np.ndarray
    lag_median_a: np.ndarray | None
    lag_median_c: np.ndarray | None
    horizon: int | None
    horizon_c: int | None
    bound: np.ndarray | None
    saturation: dict
    diagnosis: tuple
    findings: tuple
    task: str
    memory: ProbeCurve | None
    sample: InspectedSample | None
    seconds: float
    layer: int = 1
    layers: int = 1

    @property
    def T(self) -> int:
        return len(self.labels)


def probe_choice(trainer) -> tuple[str | None, int | None]:
    """(text, example) for :func:`~rnnviz.insight.explain.choose_input`: the window's probe."""
    if not trainer.is_charlm:
        return None, 0
    task, text = trainer.task, trainer.config.probe
    if not text or set(text) - set(task.vocab):
        text = task.decode(task.test_ids[:task.T])
    return text[:MAX_TEXT], None


def live_insight(trainer, *, memory: bool = True, layer: int | None = None) -> LiveInsight:
    """The why-views' numbers for ``trainer``'s network on the window's probe (see the module doc).

    memory: also fit the read-out curve (copy, parity, adding; a forward pass over 256 held-out
    sequences and a ridge fit per lag).  layer: a stacked network's layer to analyse (default the
    top one; one the network lacks: the top one, as a window's choice may outlive a reset).
    InputError if the probe cannot be run (an empty text), or for a network the why-views do not
    analyse, an encoder–decoder (the line of :func:`~rnnviz.insight.trace.not_analysable`).
    """
    refuse_unsupported(trainer)
    t0 = time.perf_counter()
    text, example = probe_choice(trainer)
    x, targets, steps, labels = choose_input(trainer, text, example)
    layers = trainer.network.spec.layers
    layer = layers if layer is None or not 1 <= layer <= layers else int(layer)
    trace = run_trace(trainer.network, x, targets, steps, layer=layer)
    jac = step_jacobians(trace)
    scores = output_scores(trace)
    grads = output_gradients(trace, jac, scores)
    norms = state_norms(trace, jac.state, sigma=estimated_singular_values)
    horizon = memory_horizon(norms["state"])
    saturation = saturation_report(trace)
    findings = diagnose(run_stats(trainer, trace, grads, horizon, saturation))
    sigma = step_singular_values(jac.state)
    T = trace.T
    bound = pascanu_bound(trace.params["Waa"], trace.activation, np.arange(T)) if trace.cell == "rnn" else None
    curve = None
    if memory and trainer.task.name in READOUT_TASKS:
        curve = task_readout_curve(trainer.task, trainer.network, layer=layer)
    names = output_labels(trainer.task)
    lstm = trace.cell == "lstm"
    drawn = None
    if trainer.is_charlm and text:
        task, cfg = trainer.task, trainer.config
        drawn = draw_inspected_sample(trainer.network, task.vocab, int(task.encode(text[0])[0]),
                                      min(cfg.sample_length, SAMPLE_LENGTH),
                                      np.random.default_rng(int(trainer.step_count)), cfg.temperature,
                                      saliency=True)
    return LiveInsight(
        step=int(trainer.step_count), cell=trace.cell, activation=trace.activation, readout=trace.readout,
        labels=tuple(labels), output_names=None if names is None else tuple(names),
        output_steps=_frozen(trace.output_steps), targets=None if trace.targets is None else _frozen(trace.targets),
        states={k: _frozen(v) for k, v in trace.states.items()},
        score=_frozen(scores.score), probs=_frozen(scores.probs),
        saliency=_frozen(grads.saliency), grad_a=_frozen(grads.a_norms),
        grad_c=None if grads.c_norms is None else _frozen(grads.c_norms),
        state_norm=_frozen(norms["state"]),
        a_norm=_frozen(norms["a"]) if lstm else None, c_norm=_frozen(norms["c"]) if lstm else None,
        step_sigma=_frozen(sigma), step_class=tuple(classify_steps(sigma[:, 0])),
        lag_median=_frozen(lag_medians(norms["state"])),
        lag_median_a=_frozen(lag_medians(norms["a"])) if lstm else None,
        lag_median_c=_frozen(lag_medians(norms["c"])) if lstm else None,
        horizon=horizon, horizon_c=memory_horizon(norms["c"]) if lstm else None,
        bound=None if bound is None else _frozen(bound),
        saturation=saturation, diagnosis=tuple(f.line for f in findings), findings=tuple(findings),
        task=trainer.task.name,
        memory=curve, sample=drawn, seconds=time.perf_counter() - t0, layer=layer, layers=layers,
    )


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64 if np.asarray(a).dtype.kind == "f" else None)
    a.setflags(write=False)
    return a


__all__ = ["LiveInsight", "live_insight", "probe_choice", "READOUT_TASKS", "InputError"]
