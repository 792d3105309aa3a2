"""How long each insight computation (rnnviz.insight, issue 17) takes on the char-rnn probe.

A char-rnn network (the preset's sizes: RNN, H = 100, the built-in corpus's vocabulary), briefly
trained, explained on its probe of T = 25 characters and on a 200-character probe (the window's
longest), and the same for a char-lstm network (state [a; c], S = 200). Each computation is timed
``--repeats`` times (fewer for the slow T×T Jacobian norms) and its median printed as a table.

    python benchmarks/bench_insight.py [--repeats 7] [--cells rnn lstm] [--lengths 25 200]

Measured on the 2-core development machine (``--repeats 5 --slow-repeats 1``): every computation
but one takes milliseconds (the per-step spectrum 13-100 ms for the RNN, 67-550 ms for the LSTM);
the T×T Jacobian norms, T²/2 matrix products and SVDs, take 0.17 s (RNN, T 25), 0.91 s (LSTM,
T 25), 11.9 s (RNN, T 200) and 58 s (LSTM, T 200): the cost of ``rnnviz explain`` on long texts.
The saliency of every character of a 200-character sample over those before it, computed with the
window's sample, takes 38 ms (RNN) and 0.13 s (LSTM); 0.37 s for char-lstm's 128 units, where the
rest of the window's insight takes about 1.1 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from rnnviz.insight.diagnosis import RunStats, diagnose
from rnnviz.insight.jacobians import product_norms, step_jacobians, step_singular_values
from rnnviz.insight.memory import memory_horizon
from rnnviz.insight.saliency import output_gradients, output_scores
from rnnviz.insight.sampling import inspect_tokens, sample_saliency
from rnnviz.insight.saturation import saturation_report
from rnnviz.insight.trace import run_trace
from rnnviz.insight.units import rank_units
from rnnviz.training import Trainer
from rnnviz.training.blas import blas_limit
from rnnviz.training.presets import load_preset


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(cell: str, T: int, repeats: int, slow_repeats: int) -> list[tuple[str, float]]:
    config = load_preset("char-rnn").config
    trainer = Trainer(config.replace(cell=cell, sample_every=10**6, eval_every=10**6))
    for _ in range(50):
        trainer.step()
    task, net = trainer.task, trainer.network
    ids = task.test_ids[:T]
    trace = run_trace(net, ids, ids[1:], range(T - 1))
    jac = step_jacobians(trace)
    scores = output_scores(trace)
    norms = product_norms(jac.state)
    rows = [
        ("trace (forward in float64)", lambda: run_trace(net, ids, ids[1:], range(T - 1)), repeats),
        ("one-step Jacobians", lambda: step_jacobians(trace), repeats),
        ("Jacobian spectrum (per step)", lambda: step_singular_values(jac.state), repeats),
        ("saliency + gradient from every output", lambda: output_gradients(trace, jac, scores), repeats),
        ("Jacobian norms T×T (σmax of products)", lambda: product_norms(jac.state), slow_repeats),
        ("memory horizon (from the norms)", lambda: memory_horizon(norms), repeats),
        ("gate / unit saturation", lambda: saturation_report(trace), repeats),
        ("units ranked for a span", lambda: rank_units(trace, T // 3, T // 2), repeats),
        ("sampling inspector", lambda: inspect_tokens(net, ids, 0.8), repeats),
        ("saliency of a sample (every character)", lambda: sample_saliency(net, ids), repeats),
        ("diagnosis", lambda: diagnose(RunStats(losses=trainer.history.loss, chance_loss=task.chance_loss(),
                                                output_gradient=np.ones(T))), repeats),
    ]
    with blas_limit(1):
        return [(name, median_seconds(fn, n)) for name, fn, n in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--slow-repeats", type=int, default=3, help="repeats of the T×T Jacobian norms")
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[25, 200])
    args = parser.parse_args()
    results = {(cell, T): dict(bench(cell, T, args.repeats, args.slow_repeats))
               for cell in args.cells for T in args.lengths}
    columns = list(results)
    names = list(next(iter(results.values())))
    head = " | ".join(f"{cell} H 100, T {T}" for cell, T in columns)
    print(f"| computation (median, 1 BLAS thread) | {head} |")
    print("| --- |" + " --- |" * len(columns))
    for name in names:
        cells = " | ".join(_fmt(results[c][name]) for c in columns)
        print(f"| {name} | {cells} |")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.1f} s"


if __name__ == "__main__":
    main()
