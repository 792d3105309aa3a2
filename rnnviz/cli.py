"""Command line: ``rnnviz [gui|train|sample|info|presets|gradcheck]``.

Bad input never prints a traceback: one line naming the problem and the fix, exit code 2.
Nothing here imports Qt; ``rnnviz gui`` imports the window package only when it runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time

import numpy as np

from rnnviz import __version__

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the problem and where to look), exit code 2."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------------------- options
def _config_fields():
    from rnnviz.training.config import Config
    return [f for f in dataclasses.fields(Config) if f.name != "preset"]


CONFIG_HELP = {
    "task": "parity | addition | charlm | copy | adding",
    "seq_length": "parity: bits T; charlm: chunk length; adding: sequence length; copy: lag",
    "n_bits": "addition: bits per number",
    "n_train": "parity: size of the fixed training set",
    "n_test": "held-out examples",
    "n_symbols": "copy: alphabet size",
    "copy_length": "copy: symbols to recall",
    "corpus": "charlm: a UTF-8 text file (default: built-in corpus)",
    "cell": "rnn | lstm | gru",
    "activation": "vanilla RNN activation: tanh | relu | sigmoid",
    "hidden": "hidden units",
    "init": "small | uniform | xavier | orthogonal | identity",
    "reduction": "loss over time: sum | mean",
    "dtype": "float64 | float32",
    "seed": "random seed",
    "batch_size": "sequences per step (0 = full batch)",
    "optimizer": "sgd | momentum | adagrad | rmsprop | adam",
    "lr": "learning rate",
    "clip_mode": "gradient clipping: none | value | norm",
    "clip": "clipping threshold",
    "temperature": "sampling temperature",
    "sample_every": "print a sample every N steps (charlm)",
    "sample_length": "characters per sample",
    "prime": "priming text for samples",
    "eval_every": "held-out evaluation every N steps",
}


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run settings (override the preset's)")
    for f in _config_fields():
        default = f.default
        kind = float if isinstance(default, float) else int if isinstance(default, int) else str
        if f.name in ("momentum", "beta1", "beta2", "rho", "eps"):
            help_text = f"optimizer hyperparameter ({default})"
        else:
            help_text = CONFIG_HELP.get(f.name, f.name)
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                           metavar=kind.__name__.upper(), help=help_text)


def _config_from_args(args):
    """Config from ``--preset`` (or defaults) with explicitly given options on top; preset steps."""
    from rnnviz.training.presets import load_preset
    from rnnviz.training.config import Config
    steps = None
    if args.preset:
        preset = load_preset(args.preset)
        base, steps = preset.config.to_dict(), preset.steps
        base["preset"] = preset.name
    else:
        base = Config().to_dict()
    for f in _config_fields():
        value = getattr(args, f.name, None)
        if value is not None:
            base[f.name] = value
    return Config.from_dict(base), steps


# ---------------------------------------------------------------------------- reporting
class _Reporter:
    """Progress: a tqdm bar on a terminal, plain lines otherwise, or JSON lines."""

    def __init__(self, total: int, mode: str):
        self.mode, self.total = mode, total
        self.t0 = time.perf_counter()
        self.last_print = self.t0
        self.bar = None
        if mode == "bar":
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stderr)

    def steps_per_second(self, done: int) -> float:
        dt = time.perf_counter() - self.t0
        return done / dt if dt > 0 else 0.0

    def progress(self, done: int, result) -> None:
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(1)
            if now - self.last_print > 0.25:
                post = {"loss": f"{result.loss:.4g}"}
                if result.smooth_loss is not None:
                    post["smooth"] = f"{result.smooth_loss:.4g}"
                self.bar.set_postfix(post, refresh=False)
                self.last_print = now
            return
        if now - self.last_print < 2.0 and done != self.total:
            return
        self.last_print = now
        line = {"step": result.step, "loss": result.loss, "steps_per_second": self.steps_per_second(done)}
        if result.smooth_loss is not None:
            line["smooth_loss"] = result.smooth_loss
        self.emit(line, f"step {result.step}  loss {result.loss:.4f}"
                        + (f"  smooth_loss {result.smooth_loss:.3f}" if result.smooth_loss is not None else "")
                        + f"  {line['steps_per_second']:.0f} steps/s")

    def emit(self, obj: dict, text: str) -> None:
        if self.mode == "json":
            print(json.dumps(obj, ensure_ascii=False), flush=True)
        elif self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _finite_or_none(value):
    return value if value is None or math.isfinite(value) else None


# ---------------------------------------------------------------------------- commands
def _cmd_train(args) -> int:
    from rnnviz.training.trainer import Trainer
    if args.resume:
        from rnnviz.session import load_session
        overrides = {f.name: getattr(args, f.name) for f in _config_fields() if getattr(args, f.name) is not None}
        # --corpus with --resume says where a large (not embedded) corpus now lives
        trainer = load_session(args.resume, corpus_path=overrides.pop("corpus", None))
        if args.preset:
            raise UsageError("--preset cannot be combined with --resume (the session has its settings)")
        if overrides:
            trainer.set_live(**overrides)
        steps = args.steps if args.steps is not None else 1000
        save_path = args.save or args.resume
    else:
        config, preset_steps = _config_from_args(args)
        trainer = Trainer(config)
        steps = args.steps if args.steps is not None else (preset_steps or 1000)
        save_path = args.save
    if steps < 0:
        raise UsageError("--steps must be zero or more")
    mode = "json" if args.json else ("bar" if sys.stderr.isatty() and not args.quiet else "plain")
    if args.quiet and not args.json:
        mode = "quiet"
    reporter = _Reporter(steps, mode)
    done = 0
    interrupted = False
    last = None
    cfg = trainer.config
    # the BLAS thread limit and floating-point error mode set once for the loop, not at every step
    with trainer.running():
        try:
            while done < steps:
                last = trainer.step()
                if last.refused:
                    reporter.close()
                    print(f"rnnviz: training stopped: {last.refused}. Lower the learning rate "
                          "(--lr) or clip gradients (--clip-mode norm).", file=sys.stderr)
                    break
                done += 1
                if mode != "quiet":
                    reporter.progress(done, last)
                cfg = trainer.config
                if trainer.is_charlm and cfg.sample_every and trainer.step_count % cfg.sample_every == 0 \
                        and mode in ("bar", "plain") and args.samples:
                    text = trainer.sample()
                    reporter.emit({"step": trainer.step_count, "sample": text},
                                  f"----- sample at step {trainer.step_count} -----\n{text}\n-----")
        except KeyboardInterrupt:
            interrupted = True
    elapsed = time.perf_counter() - reporter.t0
    reporter.close()
    metrics = trainer.evaluate()
    sps = done / elapsed if elapsed > 0 else 0.0
    summary = {
        "summary": True, "step": trainer.step_count,
        "loss": None if last is None else _finite_or_none(last.loss),
        "steps_per_second": sps, "metrics": metrics, "interrupted": interrupted,
    }
    if trainer.smooth_loss is not None:
        summary["smooth_loss"] = trainer.smooth_loss
    if save_path:
        from rnnviz.session import save_session
        save_session(trainer, save_path)
        summary["saved"] = str(save_path)
    if mode == "json":
        print(json.dumps(summary, ensure_ascii=False), flush=True)
    else:
        parts = [f"step {trainer.step_count}"]
        if summary["loss"] is not None:
            parts.append(f"loss {summary['loss']:.4f}")
        if "smooth_loss" in summary:
            parts.append(f"smooth_loss {summary['smooth_loss']:.3f}")
        parts.append(f"{sps:.0f} steps/s")
        print(("interrupted: " if interrupted else "done: ") + ", ".join(parts))
        print("held-out: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if save_path:
            print(f"saved {save_path}")
    return 130 if interrupted else 0


def _cmd_sample(args) -> int:
    from rnnviz.session import load_session
    trainer = load_session(args.session)
    if not trainer.is_charlm:
        raise UsageError(f"{args.session} is a {trainer.config.task} session; sampling text needs a charlm session")
    if args.length < 0:
        raise UsageError("--length must be zero or more")
    if not args.temperature > 0:
        raise UsageError("--temperature must be a positive number")
    text = trainer.sample(prime=args.prime, length=args.length, temperature=args.temperature,
                          seed=args.seed, greedy=args.greedy)
    print(text)
    return 0


def _cmd_info(args) -> int:
    from rnnviz.session import describe_session
    info = describe_session(args.session)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, default=str))
    else:
        width = max(len(k) for k in info)
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def _cmd_presets(args) -> int:
    from rnnviz.training.presets import list_presets
    presets = list_presets()
    if args.json:
        print(json.dumps([{"name": p.name, "title": p.title, "description": p.description,
                           "source": p.source, "steps": p.steps, "config": p.config.to_dict()}
                          for p in presets], ensure_ascii=False))
        return 0
    width = max(len(p.name) for p in presets)
    for p in presets:
        c = p.config
        print(f"{p.name:<{width}}  {p.title} — {c.cell} hidden {c.hidden}, {c.optimizer} lr {c.lr:g}, "
              f"{p.steps} steps")
        print(f"{'':<{width}}  source: {p.source}")
    return 0


def _cmd_gradcheck(args) -> int:
    from rnnviz.engine import Network, NetworkSpec, gradcheck
    rng = np.random.default_rng(args.seed)
    T, N, D, H, K = args.steps_t, 3, 5, args.hidden, 4
    spec = NetworkSpec(args.cell, D, H, K, input_kind="dense", readout="softmax", reduction="mean",
                       activation=args.activation)
    net = Network.create(spec, rng, "xavier")
    x = rng.standard_normal((T, N, D))
    y = rng.integers(0, K, (T, N))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    report = gradcheck(net, x, y, state0, h=1e-5 if args.activation == "relu" else 1e-3)
    print(f"gradient check: {args.cell} ({args.activation if args.cell == 'rnn' else 'gated'}), "
          f"T={T} N={N} D={D} H={H} K={K}, float64, centred differences")
    width = max(len(k) for k in report)
    for k, v in report.items():
        print(f"  {k:<{width}}  largest relative error {v:.2e}")
    worst = max(report.values())
    ok = worst < 1e-6
    print(("PASS" if ok else "FAIL") + f": largest relative error {worst:.2e} (tolerance 1e-06)")
    return 0 if ok else 1


def _cmd_gui(args) -> int:
    from rnnviz.gui.app import run_gui
    return run_gui(session_path=args.session, preset=args.preset, autostart=args.autostart,
                   quit_after=args.quit_after, screenshot=args.screenshot)


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnviz", description="Watch recurrent neural networks learn.")
    parser.add_argument("--version", action="version", version=f"rnnviz {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    gui = sub.add_parser("gui", help="open the window (the default command)")
    gui.add_argument("session", nargs="?", help="a .rnnviz session file to open")
    _add_gui_options(gui)

    train = sub.add_parser("train", help="train without a window")
    train.add_argument("--preset", help="start from a preset (see 'rnnviz presets')")
    train.add_argument("--steps", type=int, help="training steps (default: the preset's, else 1000)")
    train.add_argument("--save", metavar="FILE", help="write a session file at the end")
    train.add_argument("--resume", metavar="FILE", help="continue a saved session (saved back in place "
                                                         "unless --save names another file)")
    train.add_argument("--json", action="store_true", help="JSON lines; the last one is the summary")
    train.add_argument("--quiet", action="store_true", help="only the summary")
    train.add_argument("--no-samples", dest="samples", action="store_false",
                       help="do not print character-model samples while training")
    _add_config_options(train)

    sample = sub.add_parser("sample", help="sample text from a saved character model")
    sample.add_argument("session", help="a .rnnviz session file of a charlm run")
    sample.add_argument("--prime", default="", help="priming text")
    sample.add_argument("--length", type=int, default=200, help="characters to generate")
    sample.add_argument("--temperature", type=float, default=1.0, help="softmax temperature")
    sample.add_argument("--seed", type=int, default=None, help="random seed (repeatable samples)")
    sample.add_argument("--greedy", action="store_true", help="always take the most likely character")

    info = sub.add_parser("info", help="what a session file holds")
    info.add_argument("session")
    info.add_argument("--json", action="store_true")

    presets = sub.add_parser("presets", help="list the presets")
    presets.add_argument("--json", action="store_true")

    gc = sub.add_parser("gradcheck", help="check BPTT gradients against finite differences")
    gc.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="rnn")
    gc.add_argument("--activation", choices=("tanh", "relu", "sigmoid"), default="tanh")
    gc.add_argument("--hidden", type=int, default=6)
    gc.add_argument("--steps-t", type=int, default=6, help="time steps")
    gc.add_argument("--seed", type=int, default=0)
    return parser


def _add_gui_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="open with a preset")
    p.add_argument("--autostart", action="store_true", help="start training at once")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="quit after this many seconds")
    p.add_argument("--screenshot", metavar="FILE.png", help="save the window as PNG just before quitting")


COMMANDS = {"train": _cmd_train, "sample": _cmd_sample, "info": _cmd_info, "presets": _cmd_presets,
            "gradcheck": _cmd_gradcheck, "gui": _cmd_gui}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")) \
            or (argv[0].endswith(".rnnviz") and not argv[0].startswith("-")):
        argv = ["gui"] + argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            args = parser.parse_args(["gui"])
        for name in ("steps", "length"):
            value = getattr(args, name, None)
            if value is not None and value < 0:
                raise UsageError(f"--{name} must be zero or more")
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"rnnviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:       # bad settings, corpus, preset or session file
        print(f"rnnviz: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"rnnviz: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
