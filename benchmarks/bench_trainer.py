"""What the trainer and the command line add to a bare engine step, per preset.

For each preset, three loops run over the same data in this one process, interleaved in rounds:
  engine   task.train_batch() + Network.loss_and_grads + clip_gradients + optimizer.step
  trainer  Trainer.step() (adds diagnostics, history, refusal checks) inside Trainer.running()
  cli      `rnnviz train --preset P --steps N --json --no-samples --eval-every N+1` through
           rnnviz.cli.main (adds the loop, progress bookkeeping, signal checks and the final held-out
           evaluation, which is excluded by timing only the training loop it reports:
           steps_per_second; periodic evaluations, work the user asks for, are moved past the end)
It prints the median steps/s of each and the ratios trainer/engine and cli/engine (target >= 0.9).

    python benchmarks/bench_trainer.py [--presets char-rnn addition parity] [--steps 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import time

import numpy as np

from rnnviz.engine import clip_gradients
from rnnviz.training.presets import load_preset
from rnnviz.training import Trainer
from rnnviz.training.blas import blas_limit


def engine_loop(trainer: Trainer, steps: int) -> float:
    """The bare engine on the trainer's own task, network and optimizer, with the same BLAS
    threads the trainer uses for this problem size (its faster setting: see rnnviz.training.blas)."""
    cfg, net, task, opt = trainer.config, trainer.network, trainer.task, trainer.optimizer
    t0 = time.perf_counter()
    with blas_limit(trainer.blas_threads):
        _engine_steps(cfg, net, task, opt, steps)
    return steps / (time.perf_counter() - t0)


def _engine_steps(cfg, net, task, opt, steps: int) -> None:
    state = None
    grads = net.empty_grads()
    for _ in range(steps):
        batch = task.train_batch()
        state0 = state if task.carries_state and not batch.reset_state else None
        loss, grads, res = net.loss_and_grads(batch.x, batch.y, state0, batch.mask, out=grads)
        clip_gradients(grads, cfg.clip_mode, cfg.clip)
        opt.step(net.params, grads)
        state = res.final_state


def trainer_loop(trainer: Trainer, steps: int) -> float:
    """Trainer.step() in a loop, driven as the command line and the window drive it: inside
    ``Trainer.running()`` (BLAS thread limit and error mode set once, not at every step)."""
    t0 = time.perf_counter()
    with trainer.running():
        for _ in range(steps):
            trainer.step()
    return steps / (time.perf_counter() - t0)


def cli_loop(preset: str, steps: int) -> float:
    from rnnviz.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["train", "--preset", preset, "--steps", str(steps), "--json", "--no-samples",
              "--eval-every", str(steps + 1)])
    return json.loads(out.getvalue().strip().splitlines()[-1])["steps_per_second"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["char-rnn", "char-lstm", "addition", "parity"])
    ap.add_argument("--steps", type=int, default=1000,
                    help="steps per loop (full-batch presets: a hundredth); the CLI starts a new run "
                         "each time, so short loops would weigh its first, cold steps too heavily")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
                         f"threads={i['num_threads']}" for i in threadpool_info())
    except ImportError:
        blas = "unknown (install threadpoolctl)"
    print(f"numpy {np.__version__}; BLAS: {blas}")
    print(f"{'preset':<12} {'engine/s':>10} {'trainer/s':>10} {'cli/s':>10} {'trainer/eng':>12} {'cli/eng':>9}")
    for name in args.presets:
        config = load_preset(name).config
        steps = args.steps if config.batch_size != 0 else max(5, args.steps // 100)
        eng, trn, cli = [], [], []
        a, b = Trainer(config), Trainer(config)
        for _ in range(args.rounds):
            eng.append(engine_loop(a, steps))
            trn.append(trainer_loop(b, steps))
            cli.append(cli_loop(name, steps))
        e, t, c = (statistics.median(v) for v in (eng, trn, cli))
        print(f"{name:<12} {e:>10.1f} {t:>10.1f} {c:>10.1f} {t / e:>12.3f} {c / e:>9.3f}")


if __name__ == "__main__":
    main()
