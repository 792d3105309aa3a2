"""Peak memory of one full-batch BPTT step against the size of the hidden states it must keep.

The XOR-parity setting at scale: vanilla RNN, hidden 25, T = 50, 100,000 sequences of one input
bit, sigmoid readout at the last step. For each dtype a fresh subprocess builds the network and
the data, then measures one ``Network.loss_and_grads`` (forward + BPTT) and one SGD step:

* tracemalloc: peak bytes allocated during the step above what was allocated before it
  (numpy reports its array buffers to tracemalloc);
* RSS: the process's peak resident size (ru_maxrss) minus its resident size just before the step.

Both are printed as multiples of the hidden states, ``T·N·H·itemsize``; the target is < 1.5x, and
float32 should need half of float64. Run from the repository root:
``python benchmarks/bench_memory.py [--n 100000] [--dtypes float64,float32]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnnviz.engine import Network, NetworkSpec, make_optimizer  # noqa: E402


def rss_bytes() -> int:
    """Current resident set size (Linux /proc), in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def measure(dtype: str, T: int, N: int, H: int, use_tracemalloc: bool) -> dict:
    rng = np.random.default_rng(0)
    net = Network.create(NetworkSpec("rnn", 1, H, 1, readout="sigmoid", many_to_one=True, dtype=dtype), rng)
    bits = rng.integers(0, 2, (T, N), dtype=np.int8)
    x = bits[:, :, None].astype(dtype)                      # (T, N, 1)
    y = (bits.sum(axis=0) % 2)[:, None].astype(dtype)      # (N, 1)
    del bits
    opt = make_optimizer("sgd", net.params, lr=0.5)
    hidden = T * N * H * np.dtype(dtype).itemsize
    out = {"dtype": dtype, "T": T, "N": N, "H": H, "hidden_bytes": hidden}
    if use_tracemalloc:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    loss, grads, _ = net.loss_and_grads(x, y)
    opt.step(net.params, grads)
    out["seconds"] = time.perf_counter() - t0
    out["rss_peak_extra"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    if use_tracemalloc:
        out["tracemalloc_peak_extra"] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    out["loss"] = loss
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="sequences in the full batch")
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--H", type=int, default=25)
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    ap.add_argument("--no-tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.T, args.n, args.H,
                                 not args.no_tracemalloc)))
        return 0
    print(f"full-batch BPTT, vanilla RNN H={args.H}, T={args.T}, N={args.n}, sigmoid many-to-one; "
          "peak extra memory of one loss_and_grads + SGD step")
    results = {}
    for dtype in args.dtypes.split(","):
        row = {}
        # tracemalloc and RSS in separate processes, so tracemalloc's own bookkeeping stays out of RSS
        for tm in (True, False):
            cmd = [sys.executable, __file__, "--child", dtype, "--n", str(args.n), "--T", str(args.T),
                   "--H", str(args.H)] + ([] if tm else ["--no-tracemalloc"])
            row.update(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
        results[dtype] = row
        h = row["hidden_bytes"]
        print(f"  {dtype}: hidden states T·N·H·itemsize = {h / 2**20:8.1f} MiB | "
              f"tracemalloc peak extra {row['tracemalloc_peak_extra'] / 2**20:8.1f} MiB = "
              f"{row['tracemalloc_peak_extra'] / h:.2f}x | RSS peak extra {row['rss_peak_extra'] / 2**20:8.1f} MiB = "
              f"{row['rss_peak_extra'] / h:.2f}x | step {row['seconds']:.2f} s (target < 1.5x)")
    if "float64" in results and "float32" in results:
        r = results["float32"]["tracemalloc_peak_extra"] / results["float64"]["tracemalloc_peak_extra"]
        print(f"  float32 / float64 peak extra (tracemalloc): {r:.2f} (target ~0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
