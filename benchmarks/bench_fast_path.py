"""What the engine's one fast path earns: rnnviz's training step of a bench_engine.py case with
factored BPTT (``sequence.FACTORED_BPTT_MAX_STEP`` large) and with the plain step kernels (0),
in turns within one process, BLAS on one thread; prints the median process CPU time per step of
each and their ratio. Run from the repository root:

    python benchmarks/bench_fast_path.py minchar charlstm biglstm
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_engine as bench  # noqa: E402
from rnnviz.engine import sequence  # noqa: E402

STEPS = {"minchar": 100, "charlstm": 100, "parity": 2, "biglstm": 2}
SETTINGS = {"factored": 1 << 30, "plain": 0}


def main(cases: list[str], repeats: int = 7) -> None:
    from threadpoolctl import threadpool_limits
    for case in cases:
        trainers = {name: bench.PROFILE_MAKERS[case]() for name in SETTINGS}
        cpu = {name: [] for name in SETTINGS}
        with threadpool_limits(1, user_api="blas"):
            for _ in range(repeats):
                for name, train in trainers.items():
                    sequence.FACTORED_BPTT_MAX_STEP = SETTINGS[name]
                    train(max(1, STEPS[case] // 10))
                    c0 = time.process_time()
                    train(STEPS[case])
                    cpu[name].append((time.process_time() - c0) / STEPS[case])
        med = {name: statistics.median(v) for name, v in cpu.items()}
        print(f"{case}: factored {med['factored'] * 1e3:.3f} ms/step, plain {med['plain'] * 1e3:.3f} ms/step "
              f"(cpu, median of {repeats}); plain / factored = {med['plain'] / med['factored']:.2f}")
    sequence.FACTORED_BPTT_MAX_STEP = 4096


if __name__ == "__main__":
    main(sys.argv[1:] or ["minchar", "charlstm", "biglstm"])
