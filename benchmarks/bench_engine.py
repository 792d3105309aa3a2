"""Training-step speed of the rnnviz engine against a min-char-rnn-style NumPy loop and PyTorch CPU.

Every figure is measured in this one process: the implementations of a case run in turns
(round robin), ``--repeats`` timed blocks each, so a neighbour's load hits them alike; the script
prints the median time per training step of each (wall clock, and the process's CPU time over
all its threads), and ratios of those medians. Before each timed block the process rests
(``SETTLE``) so the previous implementation's threads are asleep, then runs a tenth of a block
untimed (``WARM_SHARE``) so the timed steps run warm, as in a training loop. PyTorch runs at
1 and 2 intra-op threads and its better setting is the one compared; rnnviz runs with the BLAS
at its default threads and at 1 thread, and its better setting is compared likewise.

Cases (``--cases``, default all):

* ``minchar``  vanilla RNN, hidden 100, 25-step chunks, batch 1, vocabulary 95, summed loss,
  Adagrad 0.1 (min-char-rnn's eps), clip ±5, state carried: rnnviz vs a per-step NumPy loop
  written in min-char-rnn's style (one-hot vectors, dict caches, np.dot per step) vs
  nn.RNN + Linear. float64 (min-char-rnn's), and float32 for rnnviz and torch too.
* ``charlstm`` the same setting with an LSTM, float32: rnnviz vs nn.LSTM + Linear.
* ``parity``   vanilla RNN, hidden 25, T = 50, 10,000 sequences of one input bit, full-batch
  gradient descent, sigmoid readout at the last step, float32: rnnviz vs nn.RNN + Linear.
* ``biglstm``  LSTM, hidden 256, batch 64, T = 50, vocabulary 80, mean loss, Adam, float32.
* ``lstm2``    2 stacked LSTM layers, hidden 256, batch 32, T = 50, vocabulary 65 (a character
  model's), mean loss, Adam, clip norm 5, float32: rnnviz (``layers=2``) vs
  nn.LSTM(num_layers=2) + Linear (issue 18's target: at most 1.2x PyTorch's time). rnnviz runs
  its layers as a wavefront (a thread per layer, :mod:`rnnviz.engine.wavefront`); the
  ``layer-by-layer`` entry switches that off (``wavefront.MIN_STEP`` None) to measure its gain.

``--factored-max-step N`` sets the switch of the engine's one fast path,
``sequence.FACTORED_BPTT_MAX_STEP``: 0 runs the plain step kernels everywhere, a large N the
factored BPTT everywhere; run a case with and without it to measure what the fast path earns.

``--profile CASE`` adds a cProfile of the rnnviz training step of that case (top functions by
own time). Run from the repository root:  ``python benchmarks/bench_engine.py``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnnviz.engine import Network, NetworkSpec, clip_gradients, make_optimizer, sequence, wavefront  # noqa: E402
from rnnviz.training.allocator import keep_freed_memory  # noqa: E402

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # the timings still run; the BLAS line says it is unknown
    threadpool_info = None
    threadpool_limits = None

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None


# --------------------------------------------------------------------------- timing harness
CPU_TIMES: dict[str, list[float]] = {}   # process CPU seconds per step, all threads, by implementation
#: seconds of rest before each timed block, so that the BLAS or OpenMP worker threads of the
#: previous block (which spin for a while after their last job) are asleep and do not compete
SETTLE = 0.15
#: untimed steps after the rest, as a share of the block: the first steps after a rest run on cold
#: caches (the previous implementation evicted them) and a dozing core, a fixed cost of a few
#: milliseconds that would weigh most on the implementation with the shortest blocks; a training
#: loop runs warm
WARM_SHARE = 0.1


def run_round_robin(impls: dict, block: int, repeats: int, warmup: int) -> dict[str, list[float]]:
    """impls: name -> runner(warm, n) running warm untimed then n timed training steps and returning
    ``(wall, cpu)`` seconds of the n (see :func:`plain`). Returns name -> per-step seconds of each block."""
    warm = max(1, round(block * WARM_SHARE))
    for run in impls.values():
        run(warmup, 1)
    times = {name: [] for name in impls}
    cpu = {name: [] for name in impls}
    for _ in range(repeats):
        for name, run in impls.items():
            time.sleep(SETTLE)
            wall, proc = run(warm, block)
            times[name].append(wall / block)
            cpu[name].append(proc / block)
    CPU_TIMES.update(cpu)
    return times


def plain(fn):
    """A runner for ``fn(n)`` (n training steps): warm untimed steps, then n timed ones."""
    def run(warm, n):
        fn(warm)
        c0, t0 = time.process_time(), time.perf_counter()
        fn(n)
        return time.perf_counter() - t0, time.process_time() - c0
    return run


def with_blas_threads(fn, n: int | None):
    """A runner of fn whose steps (warm and timed) run with the BLAS limited to n threads."""
    run = plain(fn)
    if n is None or threadpool_limits is None:
        return run

    def limited(warm, k):
        with threadpool_limits(limits=n, user_api="blas"):
            return run(warm, k)
    return limited


def with_torch_threads(fn, n: int):
    run = plain(fn)

    def limited(warm, k):
        torch.set_num_threads(n)
        return run(warm, k)
    return limited


def report(title: str, times: dict[str, list[float]], compare: list[tuple[str, str, str]]) -> dict:
    """Print medians and the ratios ``(label, slower_group, faster_group)``; a group is a name prefix
    whose best (lowest-median) member is used."""
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n== {title}")
    width = max(len(k) for k in med)
    for k, v in med.items():
        lo, hi = min(times[k]), max(times[k])
        c = statistics.median(CPU_TIMES[k]) if k in CPU_TIMES else float("nan")
        print(f"  {k:<{width}}  {v * 1e3:9.3f} ms/step  {1.0 / v:9.1f} steps/s   "
              f"cpu {c * 1e3:9.3f} ms/step   (blocks {lo * 1e3:.3f}..{hi * 1e3:.3f} ms)")

    def best(prefix):
        names = [k for k in med if k.startswith(prefix)]
        k = min(names, key=med.get)
        return k, med[k]

    out = {}
    for label, a, b in compare:
        (ka, va), (kb, vb) = best(a), best(b)
        out[label] = va / vb
        ca, cb = statistics.median(CPU_TIMES[ka]), statistics.median(CPU_TIMES[kb])
        print(f"  {label}: {ka} / {kb} = {va / vb:.2f}x wall ({ca / cb:.2f}x cpu)")
    return med | {"ratios": out}


# --------------------------------------------------------------------------- data
def char_stream(rng, V, n=200_000):
    """Random token stream; a chunk at p is inputs stream[p:p+T], targets stream[p+1:p+T+1]."""
    return rng.integers(0, V, n)


def chunks(stream, T):
    p = 0
    while True:
        if p + T + 1 > len(stream):
            p = 0
        yield stream[p:p + T], stream[p + 1:p + T + 1]
        p += T


# --------------------------------------------------------------------------- rnnviz
def rnnviz_char_trainer(cell, V, H, T, dtype, rng, stream):
    """Truncated-BPTT character model: Adagrad 0.1, clip ±5, summed loss, state carried."""
    net = Network.create(NetworkSpec(cell, V, H, V, input_kind="tokens", reduction="sum", dtype=dtype),
                         rng, "small")
    opt = make_optimizer("adagrad", net.params, lr=0.1, eps=1e-8)
    data = chunks(stream, T)
    state = {"s": None}
    grads = net.empty_grads()           # written in place at every step, as the app's trainer does

    def train(n):
        for _ in range(n):
            inputs, targets = next(data)
            _, _, res = net.loss_and_grads(inputs[:, None], targets[:, None], state["s"], out=grads)
            clip_gradients(grads, "value", 5.0)
            opt.step(net.params, grads)
            state["s"] = res.final_state
    return train


def rnnviz_parity_trainer(H, T, N, dtype, rng):
    net = Network.create(NetworkSpec("rnn", 1, H, 1, readout="sigmoid", many_to_one=True, dtype=dtype),
                         rng, "xavier")
    bits = rng.integers(0, 2, (T, N))
    x = bits[:, :, None].astype(dtype)                        # (T, N, 1)
    y = (bits.sum(axis=0) % 2)[:, None].astype(dtype)        # (N, 1)
    opt = make_optimizer("sgd", net.params, lr=0.5)
    grads = net.empty_grads()

    def train(n):
        for _ in range(n):
            net.loss_and_grads(x, y, out=grads)
            opt.step(net.params, grads)
    return train


def rnnviz_biglstm_trainer(V, H, T, N, dtype, rng, layers=1):
    net = Network.create(NetworkSpec("lstm", V, H, V, input_kind="tokens", reduction="mean", dtype=dtype,
                                     layers=layers), rng, "xavier")
    x, y = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    opt = make_optimizer("adam", net.params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    grads = net.empty_grads()

    def train(n):
        for _ in range(n):
            net.loss_and_grads(x, y, out=grads)
            clip_gradients(grads, "norm", 5.0)
            opt.step(net.params, grads)
    return train


# --------------------------------------------------------------------------- min-char-rnn style
def minchar_numpy_trainer(V, H, T, rng, stream):
    """min-char-rnn's own structure, written for this benchmark: column vectors, one-hot inputs,
    dicts of per-step values, np.dot at every step, Adagrad and ±5 clipping over five arrays."""
    Wxh = rng.standard_normal((H, V)) * 0.01
    Whh = rng.standard_normal((H, H)) * 0.01
    Why = rng.standard_normal((V, H)) * 0.01
    bh = np.zeros((H, 1))
    by = np.zeros((V, 1))
    mWxh, mWhh, mWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    mbh, mby = np.zeros_like(bh), np.zeros_like(by)
    data = chunks(stream, T)
    h = {"prev": np.zeros((H, 1))}

    def loss_fun(inputs, targets, hprev):
        xs, hs, ps = {}, {}, {}
        hs[-1] = np.copy(hprev)
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((V, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            ys = np.dot(Why, hs[t]) + by
            ps[t] = np.exp(ys) / np.sum(np.exp(ys))
            loss += -np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby = np.zeros_like(bh), np.zeros_like(by)
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
            np.clip(dparam, -5, 5, out=dparam)
        return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]

    def train(n):
        for _ in range(n):
            inputs, targets = next(data)
            loss, dWxh, dWhh, dWhy, dbh, dby, h["prev"] = loss_fun(inputs, targets, h["prev"])
            for param, dparam, mem in zip([Wxh, Whh, Why, bh, by], [dWxh, dWhh, dWhy, dbh, dby],
                                          [mWxh, mWhh, mWhy, mbh, mby]):
                mem += dparam * dparam
                param += -0.1 * dparam / np.sqrt(mem + 1e-8)
    return train


# --------------------------------------------------------------------------- PyTorch
def torch_char_trainer(cell, V, H, T, dtype, stream, seed):
    """nn.RNN / nn.LSTM + Linear on one-hot inputs (made before timing), summed cross-entropy,
    Adagrad 0.1, clip ±5, state carried and detached between chunks."""
    torch.manual_seed(seed)
    tdt = getattr(torch, dtype)
    rnn = (torch.nn.RNN if cell == "rnn" else torch.nn.LSTM)(V, H).to(tdt)
    lin = torch.nn.Linear(H, V).to(tdt)
    params = list(rnn.parameters()) + list(lin.parameters())
    opt = torch.optim.Adagrad(params, lr=0.1)
    n_chunks = (len(stream) - 1) // T
    onehot = F.one_hot(torch.as_tensor(stream[:n_chunks * T]), V).to(tdt).reshape(n_chunks, T, 1, V)
    targets = torch.as_tensor(stream[1:n_chunks * T + 1]).reshape(n_chunks, T)
    zero = torch.zeros(1, 1, H, dtype=tdt)
    st = {"k": 0, "h": zero if cell == "rnn" else (zero, zero.clone())}

    def train(n):
        for _ in range(n):
            k = st["k"] % n_chunks
            out, h = rnn(onehot[k], st["h"])
            loss = F.cross_entropy(lin(out.reshape(T, H)), targets[k], reduction="sum")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_value_(params, 5.0)
            opt.step()
            st["h"] = h.detach() if cell == "rnn" else (h[0].detach(), h[1].detach())
            st["k"] += 1
    return train


def torch_parity_trainer(H, T, N, seed, rng):
    torch.manual_seed(seed)
    rnn, lin = torch.nn.RNN(1, H), torch.nn.Linear(H, 1)
    params = list(rnn.parameters()) + list(lin.parameters())
    opt = torch.optim.SGD(params, lr=0.5)
    bits = rng.integers(0, 2, (T, N))
    x = torch.as_tensor(bits[:, :, None], dtype=torch.float32)
    y = torch.as_tensor((bits.sum(axis=0) % 2)[:, None], dtype=torch.float32)

    def train(n):
        for _ in range(n):
            out, _ = rnn(x)
            loss = F.binary_cross_entropy_with_logits(lin(out[-1]), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return train


def torch_biglstm_trainer(V, H, T, N, seed, rng, layers=1):
    torch.manual_seed(seed)
    rnn, lin = torch.nn.LSTM(V, H, num_layers=layers), torch.nn.Linear(H, V)
    params = list(rnn.parameters()) + list(lin.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = F.one_hot(torch.as_tensor(rng.integers(0, V, (T, N))), V).float()
    y = torch.as_tensor(rng.integers(0, V, (T, N)))

    def train(n):
        for _ in range(n):
            out, _ = rnn(x)
            loss = F.cross_entropy(lin(out.reshape(T * N, H)), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
    return train


# --------------------------------------------------------------------------- cases
def add_blas_variants(impls, name, fn):
    impls[f"{name} blas-default"] = plain(fn)
    impls[f"{name} blas-1"] = with_blas_threads(fn, 1)


def add_torch_variants(impls, name, make):
    for n in (1, 2):
        impls[f"{name} threads-{n}"] = with_torch_threads(make(), n)


def case_minchar(args):
    V, H, T = 95, 100, 25
    rng = np.random.default_rng(0)
    stream = char_stream(rng, V)
    impls = {}
    add_blas_variants(impls, "min-char-rnn style numpy f64",
                        minchar_numpy_trainer(V, H, T, np.random.default_rng(1), stream))
    for dt in ("float64", "float32"):
        add_blas_variants(impls, f"rnnviz {dt}", rnnviz_char_trainer("rnn", V, H, T, dt, np.random.default_rng(1), stream))
        if torch is not None:
            add_torch_variants(impls, f"torch {dt}", lambda dt=dt: torch_char_trainer("rnn", V, H, T, dt, stream, 1))
    times = run_round_robin(impls, args.block or 200, args.repeats or 9, warmup=20)
    compare = [("min-char style / rnnviz f64 (target >= 3)", "min-char", "rnnviz float64")]
    if torch is not None:
        compare += [("torch f64 / rnnviz f64 (target > 1)", "torch float64", "rnnviz float64"),
                    ("torch f32 / rnnviz f32 (target > 1)", "torch float32", "rnnviz float32")]
    return report("minchar: vanilla RNN H=100, T=25, batch 1, V=95, Adagrad 0.1, clip ±5", times, compare)


def case_charlstm(args):
    V, H, T = 95, 100, 25
    rng = np.random.default_rng(0)
    stream = char_stream(rng, V)
    impls = {}
    add_blas_variants(impls, "rnnviz float32", rnnviz_char_trainer("lstm", V, H, T, "float32", np.random.default_rng(1), stream))
    if torch is not None:
        add_torch_variants(impls, "torch float32", lambda: torch_char_trainer("lstm", V, H, T, "float32", stream, 1))
    times = run_round_robin(impls, args.block or 200, args.repeats or 9, warmup=20)
    compare = [("torch / rnnviz (target >= 1)", "torch", "rnnviz")] if torch is not None else []
    return report("charlstm: LSTM H=100, T=25, batch 1, V=95, float32, Adagrad 0.1, clip ±5", times, compare)


def case_parity(args):
    H, T, N = 25, 50, 10_000
    impls = {}
    add_blas_variants(impls, "rnnviz float32", rnnviz_parity_trainer(H, T, N, "float32", np.random.default_rng(2)))
    if torch is not None:
        add_torch_variants(impls, "torch float32", lambda: torch_parity_trainer(H, T, N, 2, np.random.default_rng(2)))
    times = run_round_robin(impls, args.block or 3, args.repeats or 9, warmup=2)
    compare = [("torch / rnnviz (target >= 1)", "torch", "rnnviz")] if torch is not None else []
    return report("parity: vanilla RNN H=25, T=50, N=10,000, 1 input bit, full-batch GD, sigmoid many-to-one, float32",
                  times, compare)


def case_biglstm(args):
    V, H, T, N = 80, 256, 50, 64
    impls = {}
    add_blas_variants(impls, "rnnviz float32", rnnviz_biglstm_trainer(V, H, T, N, "float32", np.random.default_rng(3)))
    if torch is not None:
        add_torch_variants(impls, "torch float32", lambda: torch_biglstm_trainer(V, H, T, N, 3, np.random.default_rng(3)))
    times = run_round_robin(impls, args.block or 3, args.repeats or 9, warmup=2)
    compare = [("rnnviz / torch (target <= 1.3)", "rnnviz", "torch")] if torch is not None else []
    return report("biglstm: LSTM H=256, batch 64, T=50, V=80, float32, Adam, clip norm 5", times, compare)


def without_wavefront(run):
    """A runner whose stacks run layer by layer (``wavefront.MIN_STEP`` None), restored after."""
    def layer_by_layer(warm, k):
        saved, wavefront.MIN_STEP = wavefront.MIN_STEP, None
        try:
            return run(warm, k)
        finally:
            wavefront.MIN_STEP = saved
    return layer_by_layer


def case_lstm2(args):
    V, H, T, N, L = 65, 256, 50, 32, 2
    impls = {}
    train = rnnviz_biglstm_trainer(V, H, T, N, "float32", np.random.default_rng(4), layers=L)
    add_blas_variants(impls, "rnnviz float32", train)
    impls["layer-by-layer rnnviz float32 blas-1"] = without_wavefront(with_blas_threads(train, 1))
    if torch is not None:
        add_torch_variants(impls, "torch float32",
                           lambda: torch_biglstm_trainer(V, H, T, N, 4, np.random.default_rng(4), layers=L))
    times = run_round_robin(impls, args.block or 3, args.repeats or 9, warmup=2)
    compare = [("wavefront rnnviz / rnnviz layer by layer, 1 BLAS thread", "rnnviz float32 blas-1", "layer-by-layer")]
    if torch is not None:
        compare += [("rnnviz / torch (target <= 1.2)", "rnnviz", "torch"),
                    ("1 thread each: layer-by-layer rnnviz / torch", "layer-by-layer", "torch float32 threads-1")]
    return report("lstm2: 2-layer LSTM H=256, batch 32, T=50, V=65, float32, Adam, clip norm 5", times, compare)


CASES = {"minchar": case_minchar, "charlstm": case_charlstm, "parity": case_parity, "biglstm": case_biglstm,
         "lstm2": case_lstm2}

PROFILE_MAKERS = {
    "minchar": lambda: rnnviz_char_trainer("rnn", 95, 100, 25, "float64", np.random.default_rng(1),
                                           char_stream(np.random.default_rng(0), 95)),
    "charlstm": lambda: rnnviz_char_trainer("lstm", 95, 100, 25, "float32", np.random.default_rng(1),
                                            char_stream(np.random.default_rng(0), 95)),
    "parity": lambda: rnnviz_parity_trainer(25, 50, 10_000, "float32", np.random.default_rng(2)),
    "biglstm": lambda: rnnviz_biglstm_trainer(80, 256, 50, 64, "float32", np.random.default_rng(3)),
    "lstm2": lambda: rnnviz_biglstm_trainer(65, 256, 50, 32, "float32", np.random.default_rng(4), layers=2),
}


def profile(case: str, steps: int) -> None:
    train = PROFILE_MAKERS[case]()
    train(5)
    prof = cProfile.Profile()
    prof.enable()
    train(steps)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(14)
    print(f"\n== cProfile of {steps} rnnviz steps, case {case} (own time per function)")
    print("\n".join(line for line in buf.getvalue().splitlines()[4:] if line.strip()))


def describe_machine() -> None:
    print(f"python {platform.python_version()}, numpy {np.__version__}"
          + (f", torch {torch.__version__} (intra-op threads default {torch.get_num_threads()})" if torch else ", torch not installed"))
    if threadpool_info is None:
        print("BLAS: unknown (threadpoolctl not installed)")
        return
    for lib in threadpool_info():
        print(f"threadpool: {lib.get('internal_api')} {lib.get('version')} "
              f"kernel={lib.get('architecture', '-')} threads={lib.get('num_threads')} "
              f"({Path(lib.get('filepath', '')).name})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--repeats", type=int, default=0,
                    help="timed blocks per implementation, median taken (0: 15, or 9 for parity, biglstm and lstm2)")
    ap.add_argument("--block", type=int, default=0, help="training steps per timed block (0: per-case default)")
    ap.add_argument("--factored-max-step", type=int, default=None,
                    help="sequence.FACTORED_BPTT_MAX_STEP for this run (0: no fast path)")
    ap.add_argument("--profile", default="", help="also cProfile the rnnviz step of this case")
    ap.add_argument("--profile-steps", type=int, default=200)
    args = ap.parse_args(argv)
    if args.factored_max_step is not None:
        sequence.FACTORED_BPTT_MAX_STEP = args.factored_max_step
    describe_machine()
    # as the app's trainer does: freed pages are kept for the next step (torch's steps get it too)
    print(f"glibc malloc thresholds raised (rnnviz.training.allocator): {keep_freed_memory()}")
    print(f"rnnviz fast path: factored BPTT for steps of N·H <= {sequence.FACTORED_BPTT_MAX_STEP}; "
          f"stacks as a wavefront for steps of N·H² >= {wavefront.MIN_STEP} on {wavefront.cores()} cores")
    for name in args.cases.split(","):
        if name not in CASES:
            ap.error(f"unknown case {name!r}")
        CASES[name](args)
    if args.profile:
        profile(args.profile, args.profile_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
