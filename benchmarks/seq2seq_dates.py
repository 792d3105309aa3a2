"""The encoder–decoder's proof runs (issue 18): date normalisation with attention and without, at
the same budget, and reversal of length-20 sequences with attention and without.

Each run trains a :class:`rnnviz.engine.seq2seq.Seq2Seq` (LSTM encoder and decoder by default)
with Adam on fresh training batches of its task (:class:`rnnviz.tasks.dates.DatesTask`,
:class:`rnnviz.tasks.seq2seq.ReversalTask`), teacher forced, gradients clipped by global norm,
and prints the held-out exact match and per-character accuracy of its greedy decodes (each
output fed back as the next input) every ``--eval-every`` steps and at the end. The held-out
dates are never drawn for training. Runs (each run and seed) go in parallel, one per core, each
with one BLAS thread; each is seeded, so the figures are reproducible.

The default budget, the same for every run: 1,500 Adam steps (lr 0.003, β 0.9/0.999, global-norm
clip 5) of batch 32, hidden 64 in encoder and decoder, float32, seeds 0 and 1.

    python benchmarks/seq2seq_dates.py                       # 8 runs, ~4 minutes on 2 cores
    python benchmarks/seq2seq_dates.py --runs dates-attention --steps 1000 --seeds 0
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

RUNS = ("dates-attention", "dates-plain", "reversal-attention", "reversal-plain")


def train(run: str, seed: int, args) -> tuple[str, int, list[tuple[int, dict]], float]:
    """Train one run; ``(run, seed, [(step, held-out metrics)], seconds)``."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from rnnviz.engine.optim import clip_gradients, make_optimizer
    from rnnviz.engine.seq2seq import Seq2Seq, Seq2SeqSpec
    from rnnviz.tasks.dates import DatesTask
    from rnnviz.tasks.seq2seq import ReversalTask
    from rnnviz.training.config import Config

    task_name, attention = run.split("-")[0], run.endswith("attention")
    config = Config(task=task_name, seq_length=args.reversal_length, n_symbols=args.symbols,
                    n_test=args.n_test, batch_size=args.batch, hidden=args.hidden, seed=seed,
                    reduction="mean", dtype=args.dtype)
    rng = np.random.default_rng([seed, 1])
    task = (DatesTask if task_name == "dates" else ReversalTask)(config, np.random.default_rng([seed, 2]))
    spec = Seq2SeqSpec(args.cell, task.input_size, task.output_size, args.hidden, attention=attention,
                       output_length=task.output_length, reduction="mean", dtype=args.dtype)
    model = Seq2Seq.create(spec, rng, init="xavier")
    opt = make_optimizer("adam", model.params, lr=args.lr, beta1=0.9, beta2=0.999, eps=1e-8)
    grads = model.empty_grads()
    curve = []
    t0 = time.perf_counter()
    with threadpool_limits(1):
        for step in range(1, args.steps + 1):
            batch = task.train_batch()
            _, grads, _ = model.loss_and_grads(batch.x, batch.y, out=grads)
            clip_gradients(grads, "norm", args.clip)
            opt.step(model.params, grads)
            if step % args.eval_every == 0 or step == args.steps:
                m = task.metrics(model)
                curve.append((step, m))
                print(f"  {run:<20} seed {seed}  step {step:>6}  exact {m['exact_match']:6.1%}  "
                      f"per-char {m['accuracy']:6.1%}  loss {m['loss']:.3f}  "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return run, seed, curve, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--clip", type=float, default=5.0)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--reversal-length", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=8, help="reversal alphabet size")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(f"budget per run: {args.steps} Adam steps (lr {args.lr}, global-norm clip {args.clip}), batch "
          f"{args.batch}, {args.cell.upper()} encoder and decoder, hidden {args.hidden}, {args.dtype}, "
          f"seeds {args.seeds}; held out: {args.n_test} sequences, greedy decodes")
    jobs = [(run, seed) for seed in args.seeds for run in args.runs]
    with ProcessPoolExecutor(max_workers=min(args.jobs, len(jobs))) as pool:
        results = list(pool.map(train, *zip(*jobs), [args] * len(jobs)))
    print()
    print(f"held out after {args.steps} steps:")
    print(f"{'run':<20} {'seed':>4} {'exact match':>12} {'per-char':>9} {'minutes':>8}")
    for run, seed, curve, seconds in results:
        m = curve[-1][1]
        print(f"{run:<20} {seed:>4} {m['exact_match']:>12.1%} {m['accuracy']:>9.1%} {seconds / 60:>8.1f}")


if __name__ == "__main__":
    main()
