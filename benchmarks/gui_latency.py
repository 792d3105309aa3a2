"""Window responsiveness while a preset trains at full speed, with every panel live.

Prints, from one run in one process:
- the GUI thread's event-loop latency (a 10 ms QTimer probe: how late each tick fires), p50/p99;
- training steps per second with the window open vs a headless ``Trainer.step()`` loop, and the
  ratio: the window runs in segments (15 s by default) between headless segments (5 s) in the
  same process, so the machine's drift in speed weighs on both alike; medians over blocks, and
  the ratio of each window segment to the mean of the headless segments either side of it (this
  machine's speed wanders by 10% within a minute: the per-segment median is the steadier figure);
- resident memory (RSS) at the start and end of the window run, and its slope per minute;
- time from launch to window shown (a separate ``python -m rnnviz.gui --quit-after`` process);
- how long pause takes to take effect, on the char-rnn preset and on the slowest one (parity-100k,
  whose full-batch step takes seconds).

    python benchmarks/gui_latency.py --minutes 5 --skip-slow   # ~8 minutes
    python benchmarks/gui_latency.py --minutes 20              # the memory-stays-flat run
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from rnnviz.gui.app import _configure_pyqtgraph  # noqa: E402
from rnnviz.gui.main_window import MainWindow  # noqa: E402
from rnnviz.training.presets import load_preset  # noqa: E402
from rnnviz.training.trainer import Trainer  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def thread_cpu_seconds(name: str) -> float:
    """CPU seconds used so far by this process's threads called ``name`` (Linux /proc)."""
    total = 0.0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return total


def wait(seconds: float) -> None:
    """Run the Qt event loop for ``seconds`` (the GUI stays live)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def wait_until(predicate, timeout: float) -> float:
    """Process events until ``predicate()``; returns seconds waited (inf on timeout)."""
    t0 = time.perf_counter()
    while not predicate():
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        if time.perf_counter() - t0 > timeout:
            return float("inf")
        time.sleep(0.001)
    return time.perf_counter() - t0


def _headless_blocks(trainer, seconds: float, block: float) -> tuple[list[float], float]:
    """Steps per second of a bare ``trainer.step()`` loop, per block of ``block`` seconds; and steps
    per CPU second. The caller sets ``Trainer.running()`` around it, as the command line does."""
    for _ in range(20):
        trainer.step()
    rates = []
    c0, first = time.thread_time(), trainer.step_count
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0, s0 = time.perf_counter(), trainer.step_count
        while time.perf_counter() - t0 < block:
            trainer.step()
        rates.append((trainer.step_count - s0) / (time.perf_counter() - t0))
    return rates, (trainer.step_count - first) / (time.thread_time() - c0)


class LatencyProbe:
    """A 10 ms timer on the GUI thread; records how late each tick fires."""

    def __init__(self, interval_ms: int = 10):
        self.interval = interval_ms / 1000
        self.late_ms: list[float] = []
        self._last = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer_timeout)

    def start(self):
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self):
        self.timer.stop()

    def _on_timer_timeout(self):
        now = time.perf_counter()
        self.late_ms.append(max(0.0, (now - self._last - self.interval) * 1000))
        self._last = now


def window_run(preset: str, seconds: float, block: float, headless_seconds: float, segment: float,
               warmup: float = 3.0, why: bool = False):
    """The window training ``preset`` with every panel live, in segments of ``segment`` seconds,
    between headless ``Trainer.step()`` loops of ``headless_seconds`` on a second Trainer in this
    process (window paused meanwhile), so drift of the machine's speed affects both alike: each
    segment's ratio is taken against the mean of the headless loops just before and after it.
    Throughput, CPU and latency are taken over the window segments only. ``why``: with the "Why it
    learns or fails" dock open and the gradient-flow plot showing one output's loss, so training also
    computes their numbers every few seconds."""
    window = MainWindow(Trainer(load_preset(preset).config))
    window.non_interactive = True
    window.resize(1500, 950)
    window.show()
    if why:
        window.why_action.setChecked(True)
        window.gradient_panel.set_source("output")       # the gradient-flow plot's probe source too
    wait(0.5)
    c = window.controller
    c.set_budget(None)      # no step budget: the window trains until the benchmark pauses it
    reference = Trainer(load_preset(preset).config)
    probe = LatencyProbe()
    rates, headless, per_round, memory = [], [], [], []
    per_cpu_headless, cpu_train, cpu_gui, wall, steps_windowed = [], 0.0, 0.0, 0.0, 0
    rounds = max(1, round(seconds / segment))
    headless_medians, window_medians = [], []

    def run_headless():
        with reference.running():
            h, h_cpu = _headless_blocks(reference, headless_seconds, block)
        headless.extend(h)
        headless_medians.append(statistics.median(h))
        per_cpu_headless.append(h_cpu)

    for r in range(rounds):
        run_headless()
        c.start()
        wait(warmup if r == 0 else 1.0)     # the thread starts, the first probe and evaluation run
        probe.start()
        t_start, cpu0, gui0, step0 = time.perf_counter(), thread_cpu_seconds("rnnviz-training"), time.thread_time(), c.data.step
        seg_rates = []
        while time.perf_counter() - t_start < segment:
            t0, s0 = time.perf_counter(), c.data.step
            wait(block)
            seg_rates.append((c.data.step - s0) / (time.perf_counter() - t0))
            memory.append((wall + time.perf_counter() - t_start, rss_mb()))
        probe.stop()
        seg_wall = time.perf_counter() - t_start
        cpu_train += thread_cpu_seconds("rnnviz-training") - cpu0
        cpu_gui += time.thread_time() - gui0
        steps_windowed += c.data.step - step0
        wall += seg_wall
        rates += seg_rates
        window_medians.append(statistics.median(seg_rates))
        if r < rounds - 1:
            c.pause()
            wait_until(lambda: not c.is_running, 30)
    cpu = {"training_share": cpu_train / wall, "gui_share": cpu_gui / wall,
           "steps_per_cpu_second": steps_windowed / max(1e-9, cpu_train),
           "headless_per_cpu_second": statistics.mean(per_cpu_headless), "per_round": per_round}
    renders = dict(window.frames.costs)
    # Pause latency on this preset, while it runs at full speed.
    c.pause()
    pause_s = wait_until(lambda: not c.is_running, 30)
    run_headless()      # each window segment is compared with the headless segments either side of it
    per_round += [w / ((a + b) / 2) for w, a, b in zip(window_medians, headless_medians, headless_medians[1:])]
    c.stop_and_wait()
    h = c.trainer.history    # every step's loss is kept there by design (the session file holds it)
    cpu["history_mb"] = h.nbytes / 2**20   # what its per-step series hold
    cpu["steps"] = c.trainer.step_count
    window.close()
    window.deleteLater()
    wait(0.2)
    return rates, headless, probe.late_ms, memory, pause_s, renders, cpu


def pause_latency(preset: str, repeats: int, into_step: float) -> list[float]:
    """Start, wait ``into_step`` seconds (inside a long step), pause: seconds until paused."""
    window = MainWindow(Trainer(load_preset(preset).config))
    window.non_interactive = True
    window.show()
    out = []
    for _ in range(repeats):
        window.controller.start()
        wait(into_step)
        window.controller.pause()
        out.append(wait_until(lambda: not window.controller.is_running, 60))
    window.controller.stop_and_wait()
    window.close()
    window.deleteLater()
    wait(0.2)
    return out


def launch_time(preset: str, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "rnnviz.gui", "--preset", preset, "--quit-after", "0.2"],
                             capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")})
        m = re.search(r"monotonic ([0-9.]+)", out.stderr)
        if m:
            times.append(float(m.group(1)) - t0)
        else:
            print("launch: could not read the child's timing:", out.stderr[-500:])
    return times


def pct(values, q):
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="char-rnn")
    parser.add_argument("--minutes", type=float, default=0.5, help="length of the window run (default 0.5)")
    parser.add_argument("--headless-seconds", type=float, default=5.0,
                        help="headless loop between window segments (default 5)")
    parser.add_argument("--segment", type=float, default=15.0,
                        help="seconds of window per segment (default 15)")
    parser.add_argument("--block", type=float, default=2.5, help="seconds per throughput sample")
    parser.add_argument("--slow-preset", default="parity-100k")
    parser.add_argument("--skip-slow", action="store_true", help="skip the parity-100k pause measurement")
    parser.add_argument("--why", action="store_true", help="with the why-view dock open (its numbers recomputed "
                        "every few seconds while training)")
    args = parser.parse_args()

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "rnnviz-bench-settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    app = QApplication.instance() or QApplication([])
    app.setOrganizationName("rnnviz-benchmark")
    _configure_pyqtgraph()

    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info())
    except ImportError:
        blas = "unknown (threadpoolctl missing)"
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, BLAS: {blas}, cpus: {os.cpu_count()}")
    print(f"load average at start: {os.getloadavg()}")

    launches = launch_time(args.preset, 3)
    print(f"\nlaunch to window shown ({args.preset}): median {statistics.median(launches):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in launches)}; target < 2 s)")

    seconds = args.minutes * 60
    print(f"\n{args.preset}: {seconds:.0f} s of the window with all panels live{' and the why-view open' if args.why else ''}, in {args.segment:.0f}-s segments, "
          f"between {args.headless_seconds:.0f}-s runs of a headless Trainer.step() loop ...")
    rates, headless_rates, late, memory, pause_s, render_cost, cpu = window_run(
        args.preset, seconds, args.block, args.headless_seconds, args.segment, why=args.why)
    headless = statistics.median(headless_rates)
    windowed = statistics.median(rates)
    rounds = cpu["per_round"]
    print(f"\nsteps/s headless: median {headless:,.0f}")
    print(f"steps/s with the window: median {windowed:,.0f}")
    print(f"ratio window/headless: {windowed / headless:.2f} (target >= 0.9); per segment: median "
          f"{statistics.median(rounds):.2f}, range {min(rounds):.2f}-{max(rounds):.2f} ({len(rounds)} segments)")
    per_cpu = cpu["headless_per_cpu_second"]
    print(f"training thread: {cpu['training_share']:.0%} of a core, {cpu['steps_per_cpu_second']:,.0f} steps per CPU "
          f"second (headless: {per_cpu:,.0f}; ratio {cpu['steps_per_cpu_second'] / per_cpu:.2f}); GUI thread: "
          f"{cpu['gui_share']:.0%} of a core")
    print(f"GUI event-loop latency (10 ms timer, {len(late)} ticks): p50 {pct(late, 50):.1f} ms, "
          f"p99 {pct(late, 99):.1f} ms, max {max(late):.1f} ms (target p99 < 30 ms)")
    print("last redraw cost per panel (refresh + paint): " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in render_cost.items()))
    t = np.array([m[0] for m in memory])
    mb = np.array([m[1] for m in memory])
    slope = float(np.polyfit(t / 60, mb, 1)[0]) if len(t) > 2 else float("nan")
    print(f"RSS: start {mb[0]:.0f} MB, end {mb[-1]:.0f} MB over {t[-1] / 60:.1f} min "
          f"(slope {slope:+.1f} MB/min; first half max {mb[: len(mb) // 2 + 1].max():.0f} MB, "
          f"second half max {mb[len(mb) // 2:].max():.0f} MB)")
    print(f"of which the Trainer's History keeps every step's loss ({cpu['steps']:,} steps): "
          f"{cpu['history_mb']:.1f} MB ({cpu['history_mb'] * 2**20 / max(1, cpu['steps']):.1f} bytes a step)")
    print(f"pause while {args.preset} trains at full speed: {pause_s * 1000:.0f} ms until paused")

    if not args.skip_slow:
        print(f"\npause on {args.slow_preset} (full batch; a step takes seconds), pressed 1.5 s into a step ...")
        t0 = time.perf_counter()
        trainer = Trainer(load_preset(args.slow_preset).config)
        trainer.step()
        print(f"one {args.slow_preset} step, headless: {time.perf_counter() - t0:.1f} s (incl. building the data)")
        del trainer
        waits = pause_latency(args.slow_preset, 4, 1.5)
        print(f"pause took effect after: {', '.join(f'{w * 1000:.0f} ms' for w in waits)} "
              f"(median {statistics.median(waits) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms; target < 500 ms)")
    print(f"\nload average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
