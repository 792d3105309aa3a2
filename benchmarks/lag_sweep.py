"""The longest lag each cell learns within a fixed budget of steps, on the copy and adding problems.

For each task (copy, adding), cell (rnn, lstm, gru) and lag, the task's preset (copy-<cell>,
adding-<cell>) is trained for its own number of steps (copy 5,000, adding 3,000), with the lag
changed and everything else as the preset has it, and scored on its held-out set:

* copy: solved when at least 90% of the recalled symbols are right (chance: 1 in 8);
* adding: solved when the mean squared error is below 0.01 (answering 1 always: about 0.167).

A table of the held-out score per lag, and the largest solved lag per cell, is printed. Runs go
in parallel, one per core (``--jobs``); each is seeded, so the table is reproducible.

    python benchmarks/lag_sweep.py                         # ~6 minutes on 2 cores
    python benchmarks/lag_sweep.py --tasks copy --lags-copy 10 35 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

CELLS = ("rnn", "lstm", "gru")
LAGS = {"copy": (5, 10, 20, 35, 50, 80), "adding": (10, 25, 50, 100, 150)}
SOLVED = {"copy": ("accuracy", lambda v: v >= 0.9, "accuracy >= 0.9"),
          "adding": ("mse", lambda v: v < 0.01, "mse < 0.01")}


def run_one(task: str, cell: str, lag: int, seed: int) -> tuple[str, str, int, int, float, float]:
    """Train one preset at one lag; ``(task, cell, lag, seed, score, seconds)``."""
    from rnnviz.training.presets import load_preset
    from rnnviz.training.trainer import Trainer

    preset = load_preset(f"{task}-{cell}")
    trainer = Trainer(preset.config.replace(seq_length=lag, seed=seed))
    t0 = time.perf_counter()
    with trainer.running():
        for _ in range(preset.steps):
            if trainer.step().refused:
                break
    metric = SOLVED[task][0]
    return task, cell, lag, seed, float(trainer.evaluate()[metric]), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["copy", "adding"], choices=sorted(LAGS))
    ap.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    ap.add_argument("--lags-copy", nargs="+", type=int, default=list(LAGS["copy"]))
    ap.add_argument("--lags-adding", nargs="+", type=int, default=list(LAGS["adding"]))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    lags = {"copy": args.lags_copy, "adding": args.lags_adding}
    runs = [(task, cell, lag, seed) for task in args.tasks for cell in args.cells
            for lag in lags[task] for seed in args.seeds]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_one, *zip(*runs)))
    scores = {(t, c, lag, s): v for t, c, lag, s, v, _ in results}
    for task in args.tasks:
        metric, solved, rule = SOLVED[task]
        print(f"\n== {task}: held-out {metric} after the preset's steps (solved: {rule}); "
              f"seeds {', '.join(map(str, args.seeds))}")
        print(f"{'lag':>6} " + " ".join(f"{cell:>16}" for cell in args.cells))
        for lag in lags[task]:
            cells = []
            for cell in args.cells:
                values = [scores[(task, cell, lag, s)] for s in args.seeds]
                mark = "".join("+" if solved(v) else "-" for v in values)
                cells.append(f"{' '.join(f'{v:.3f}' for v in values)} {mark}".rjust(16))
            print(f"{lag:>6} " + " ".join(cells))
        print("largest lag solved by every seed: " + ", ".join(
            f"{cell} {max([lag for lag in lags[task] if all(solved(scores[(task, cell, lag, s)]) for s in args.seeds)], default='none')}"
            for cell in args.cells))
    print(f"\n{len(runs)} runs in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
