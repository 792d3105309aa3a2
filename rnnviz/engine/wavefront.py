"""Stacked layers on a thread each: the wavefront schedule of :mod:`rnnviz.engine.stack`.

:func:`stack.forward_stack` runs layer 1 over all T steps, then layer 2, and so on. But layer l
needs only ``a[l-1]<t>`` to compute step t, so layer l can run step t while layer l-1 already
runs step t+1: a wavefront moving through the (layer, time) grid. Each layer runs on a thread of
its own (the calling thread takes the top layer) and hands each finished step to the layer above::

    layer 2:        a[2]<1>  a[2]<2>  a[2]<3>  ...
    layer 1: a<1>   a<2>     a<3>     a<4>     ...         (time →, one column per moment)

BPTT runs the same way down: the top layer runs t = T … 1 and hands each ``dz[l]<t>`` to the
layer below, which follows a step behind and turns it into ``dx<t> = dz[l]<t> Wax[l]``, the
gradient on its ``a[l-1]<t>`` from above. NumPy releases the GIL inside its ufunc loops and BLAS calls, so on two
cores the layers' arithmetic overlaps; the BLAS runs on one thread meanwhile (each layer's
thread is one BLAS caller), restored after.

The maths is the sequence module's own (:func:`sequence.forward_steps`,
:func:`sequence.step_backward`, :func:`sequence.weight_grads`, the cells' step kernels); only the
order differs. Two products move inside the loop: layer l ≥ 2's input half ``a[l-1]<t> Waxᵀ + ba``
(one product per step instead of one for all steps; layer l-1 makes it for even t, layer l for
odd t, which balances the two threads' work) and ``dx<t> = dz<t> Wax`` (likewise, made by the
lower layer, whose weight gradients are the smaller), so results equal the layer-by-layer passes
to floating-point rounding.

When it runs (:func:`chosen`): the BLAS on one thread, two or more layers, each step big enough that the overlap pays
for the handoffs (``N·H² ≥ MIN_STEP``), two or more cores, and not the vanilla RNN's in-place BPTT (its ``dz<t>`` overwrites the states the layer above reads).

Shapes: T time, N batch, D input features (V vocabulary for token inputs), H hidden, L layers.
"""

from __future__ import annotations

import contextvars
import functools
import math
import os
import threading

import numpy as np

from rnnviz.engine import sequence, stack
from rnnviz.engine.blas import blas_limit, blas_threads
from rnnviz.engine.sequence import SequenceCache

#: Speed switch: stacks whose steps do at least this much work, N·H² (a step's recurrent product
#: ``a<t-1> Waaᵀ`` is G·N·H² multiply-adds), run on a thread per layer; smaller ones (and
#: everything when this is None) run layer by layer. Below 2^19 (N·H = 8·256, 32·128) the
#: handoffs cost what the overlap saves (see benchmarks/README.md; bench_engine.py --cases lstm2).
MIN_STEP: int | None = 1 << 19


@functools.lru_cache(maxsize=1)
def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                       # not on Linux
        return os.cpu_count() or 1


def applies(cell: str, layers: int, batch: int, hidden: int, states_bytes: int = 0) -> bool:
    """Whether a stack of ``layers`` layers of ``cell`` with steps of (N, H) = (batch, hidden) runs
    as a wavefront; states_bytes: the size of one layer's (T, N, H) states, for BPTT (the vanilla
    RNN's in-place BPTT above ``sequence.SEPARATE_DZ_BYTES`` stays layer by layer)."""
    return (MIN_STEP is not None and layers >= 2 and batch * hidden * hidden >= MIN_STEP and cores() >= 2
            and not (cell == "rnn" and states_bytes > sequence.SEPARATE_DZ_BYTES))


def chosen(cell: str, layers: int, batch: int, hidden: int, states_bytes: int = 0) -> bool:
    """Whether a pass runs as a wavefront now: where it :func:`applies`, and the caller has the BLAS
    on one thread (as the trainer does for such steps, see :mod:`rnnviz.training.blas`). With more
    BLAS threads, the library's helper threads, spinning after the products outside the passes,
    take the cores the layers need, and the layer-by-layer passes with threaded products are faster."""
    return applies(cell, layers, batch, hidden, states_bytes) and blas_threads() == 1


class _Stopped(Exception):
    """Raised in a layer's thread when another layer failed, so that it stops waiting."""


class _Progress:
    """How many steps each layer has finished, and whether one of them failed.

    A layer waits for the steps it reads from its neighbour; a failure anywhere wakes every
    waiter with :class:`_Stopped`.
    """

    def __init__(self, layers: int):
        self.done = [0] * (layers + 1)           # done[l]: steps finished by layer l (1-based)
        self.failed = False
        self._changed = threading.Condition(threading.Lock())

    def advance(self, layer: int, steps: int) -> None:
        with self._changed:
            self.done[layer] = steps
            self._changed.notify_all()

    def wait(self, layer: int, steps: int) -> None:
        """Return once layer ``layer`` has finished ``steps`` steps; :class:`_Stopped` on a failure."""
        if self.done[layer] >= steps:            # the common case once the wavefront is under way
            return
        with self._changed:
            while self.done[layer] < steps and not self.failed:
                self._changed.wait()
        if self.failed:
            raise _Stopped

    def fail(self) -> None:
        with self._changed:
            self.failed = True
            self._changed.notify_all()


def _run_layers(jobs: list, progress: _Progress) -> None:
    """Run ``jobs[0]()`` on this thread and every other job on a thread of its own (started here
    and joined before returning, each in a copy of this thread's context, so NumPy's error state
    holds there too). The first exception of any job other than :class:`_Stopped`, this thread's
    first, is raised once every thread has stopped."""
    errors: list[BaseException | None] = [None] * len(jobs)

    def guarded(i: int) -> None:
        try:
            jobs[i]()
        except BaseException as exc:             # noqa: BLE001 - re-raised on the calling thread
            errors[i] = exc
            progress.fail()

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(guarded, i),
                                name=f"rnnviz-layer-{i}", daemon=True) for i in range(1, len(jobs))]
    try:
        for thread in threads:
            thread.start()
        guarded(0)
    except BaseException:                        # a thread that could not start
        progress.fail()
        raise
    finally:
        for thread in threads:
            while thread.is_alive():             # a KeyboardInterrupt here still stops the layers
                try:
                    thread.join()
                except BaseException:
                    progress.fail()
                    raise
    error = next((e for e in errors if e is not None and not isinstance(e, _Stopped)), None)
    if error is not None:
        raise error


def forward_stack_wavefront(params: dict, cell: str, activation: str, layers: int, x: np.ndarray,
                            state0: dict, cancel=None) -> tuple[np.ndarray, dict, list[SequenceCache]]:
    """:func:`stack.forward_stack` with the layers on threads of their own (same arguments, same
    results to rounding). ``cancel`` is polled on the calling thread, once per step of the top
    layer; when it fires, every layer stops and :class:`~rnnviz.engine.sequence.Cancelled` is raised."""
    T = x.shape[0]
    views = [stack.layer_view(params, cell, layer) for layer in range(1, layers + 1)]
    caches: list[SequenceCache] = []
    for layer, p in enumerate(views, start=1):                      # buffers; layer 1's projection
        inputs = x if layer == 1 else caches[-1].A[1:]              # (T, N, H) the layer below's states
        caches.append(sequence.start_cache(p, cell, activation, inputs, stack.layer_state(state0, cell, layer),
                                           project=layer == 1))
    progress = _Progress(layers)

    def run(layer: int, poll) -> None:
        p, cache = views[layer - 1], caches[layer - 1]

        def hand_over(t: int) -> None:
            """Step t is done: layer l+1's input half of step t is this layer's work if t is even."""
            if layer < layers and t % 2 == 0:
                sequence.project_step(views[layer], caches[layer], t)
            progress.advance(layer, t + 1)

        def before_step(t: int) -> None:
            if t > 0:
                hand_over(t - 1)
            poll()
            if layer > 1:
                progress.wait(layer - 1, t + 1)                     # a[l-1]<t+1> is in
                if t % 2 == 1:
                    sequence.project_step(p, cache, t)

        sequence.forward_steps(p, cache, before_step)
        hand_over(T - 1)

    jobs = [functools.partial(run, layers, _poller(cancel))]
    jobs += [functools.partial(run, layer, _no_poll) for layer in range(1, layers)]
    with blas_limit(1):
        _run_layers(jobs, progress)
    final = {}
    for layer, cache in enumerate(caches, start=1):
        final.update((stack.layer_key(k, layer), v) for k, v in sequence.final_state(cache).items())
    return caches[-1].A, final, caches


def backward_stack_wavefront(params: dict, dA_out: np.ndarray | None, dA_last: np.ndarray | None,
                             caches: list[SequenceCache], out: dict, cancel=None
                             ) -> tuple[dict, list[np.ndarray], list[np.ndarray | None]]:
    """:func:`stack.backward_stack` with the layers on threads of their own (same arguments, same
    results to rounding; the caches are destroyed likewise). ``cancel`` is polled on the calling
    thread, once per step of the top layer (``out`` is then left half-written)."""
    layers, cell = len(caches), caches[0].cell
    A = caches[0].A
    T, N, H = A.shape[0] - 1, A.shape[1], A.shape[2]
    # dZ[l] (T, N, G·H): layer l's dz<t>, step by step; the layer below reads them
    dZ = [c.gates if cell != "rnn" else np.empty_like(c.A[1:]) for c in caches]
    norms = [np.empty(T) for _ in range(layers)]
    c_norms = [np.empty(T) if cell == "lstm" else None for _ in range(layers)]
    dstate0 = [None] * layers
    progress = _Progress(layers)

    def run(layer: int, poll) -> None:
        cache, p = caches[layer - 1], stack.layer_view(params, cell, layer)
        Waa, layer_dZ = p["Waa"], dZ[layer - 1]
        top = layer == layers
        if not top:                                                 # dx<t> = dz[l+1]<t> Wax[l+1], made here
            dZ_above, Wax_above = dZ[layer], params[stack.layer_key("Wax", layer + 1)]
            dx = np.empty((N, H), dtype=A.dtype)
        dnext = np.zeros((N, H), dtype=A.dtype)                     # dL/da<t> from step t+1
        if top and dA_last is not None:
            dnext += dA_last
        dc_next = np.zeros_like(dnext)                              # LSTM: dL/dc<t> from step t+1
        a_norms, layer_c_norms = norms[layer - 1], c_norms[layer - 1]
        for step, t in enumerate(range(T - 1, -1, -1), start=1):
            poll()
            if top:
                da = dnext if dA_out is None else dA_out[t] + dnext  # total dL/da<t>
            else:
                progress.wait(layer + 1, step)                      # dz[l+1]<t> is in
                da = np.matmul(dZ_above[t], Wax_above, out=dx)      # (N, G·H) x (G·H, H)
                da += dnext
            a_norms[t] = math.sqrt(np.vdot(da, da))
            dz, dnext, dc_next = sequence.step_backward(Waa, cache, t, da, dc_next, layer_c_norms)
            layer_dZ[t] = dz
            progress.advance(layer, step)
        sequence.weight_grads(cache, layer_dZ, stack.layer_view(out, cell, layer))
        dstate0[layer - 1] = {"a": dnext, "c": dc_next} if cell == "lstm" else {"a": dnext}

    jobs = [functools.partial(run, layers, _poller(cancel))]
    jobs += [functools.partial(run, layer, _no_poll) for layer in range(layers - 1, 0, -1)]
    with blas_limit(1):
        _run_layers(jobs, progress)
    d0 = {}
    for layer, d in enumerate(dstate0, start=1):
        d0.update((stack.layer_key(k, layer), v) for k, v in d.items())
    return d0, norms, c_norms


def _poller(cancel):
    """The top layer's check at every step: raises Cancelled when ``cancel()`` returns True."""
    def poll() -> None:
        if cancel is not None and cancel():
            raise sequence.Cancelled
    return poll


def _no_poll() -> None:
    """Layers on their own threads do not call the user's cancel check (it may not be
    thread-safe): the top layer's does, and its failure stops them."""
