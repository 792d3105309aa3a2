"""Command line: ``rnnviz [gui|train|sample|info|presets|gradcheck|explain|export|import]``.

Bad input never prints a traceback: one line naming the problem and the fix, exit code 2. Only
the errors of :mod:`rnnviz.errors` (and the system's own ``OSError``) count as bad input; anything
else is a bug in rnnviz and is printed with its traceback and a request to report it, exit code 1.
Nothing here imports Qt; ``rnnviz gui`` imports the window package only when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import sys
import threading
import time
import traceback

import numpy as np

from rnnviz import __version__
from rnnviz.bridge.files import add_export_arguments, add_import_arguments, run_export, run_import
from rnnviz.errors import BUG_LINE, FileError, RnnvizError, SettingError
from rnnviz.insight.explain import add_arguments as explain_arguments
from rnnviz.insight.explain import run as run_explain
from rnnviz.training.config import CELLS, MAX_LAYERS

EXIT_BAD_INPUT = 2
EXIT_NONFINITE = 3
EXIT_BUG = 1
_OWN_PROCESS = False   # True when rnnviz runs as its own program (the console script), not inside another


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


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    from rnnviz.training.config import CHOICES, field_help
    group = parser.add_argument_group("run settings (override the preset's)")
    for f in _config_fields():
        default = f.default
        kind = (_yes_no if isinstance(default, bool) else float if isinstance(default, float)
                else int if isinstance(default, int) else str)
        help_text = field_help(f.name)
        if f.name in CHOICES:
            help_text += f" One of: {', '.join(CHOICES[f.name])}."
        help_text = help_text.replace("%", "%%")      # argparse formats help with %
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                           metavar=kind.__name__.upper(), help=help_text)


def _yes_no(text: str) -> bool:
    """A true/false setting on the command line: true, false, yes, no, on, off, 1 or 0."""
    value = {"true": True, "yes": True, "on": True, "1": True,
             "false": False, "no": False, "off": False, "0": False}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"must be true or false (got {text!r})")
    return value


_yes_no.__name__ = "bool"         # argparse names the type in its messages and the metavar


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


# ---------------------------------------------------------------------------- output
class _Stream:
    """stdout or stderr that a closed pipe or a closed terminal silences instead of stopping the work.

    ``rnnviz train ... | head -1`` closes stdout after one line; closing the terminal (SIGHUP)
    makes every write fail. Training goes on and saves either way: output is not the work."""

    def __init__(self, file):
        self.file, self.open = file, True

    def line(self, text: str) -> None:
        if not self.open:
            return
        try:
            print(text, file=self.file, flush=True)
        except (BrokenPipeError, OSError, ValueError):
            self.close()

    def close(self) -> None:
        """Stop writing; point the descriptor at /dev/null so the interpreter's last flush is quiet."""
        self.open = False
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.file.fileno())
            os.close(devnull)


class _Reporter:
    """Progress: a tqdm bar on a terminal, plain lines otherwise, or JSON lines; samples and
    held-out metrics as they come."""

    def __init__(self, total: int, mode: str, out: _Stream, err: _Stream):
        self.mode, self.total, self.out, self.err = mode, total, out, err
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
        if self.mode == "quiet":
            return
        now = time.perf_counter()
        if self.bar is not None:
            try:
                self.bar.update(1)
                if now - self.last_print > 0.25:
                    post = {"loss": f"{result.loss:.4g}"}
                    if result.smooth_loss is not None:
                        post["smooth"] = f"{result.smooth_loss:.4g}"
                    self.bar.set_postfix(post, refresh=False)
                    self.last_print = now
            except (OSError, ValueError):      # the terminal is gone: no bar, the work goes on
                self._drop_bar()
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
        if self.mode == "quiet":
            return
        if self.mode == "json":
            self.out.line(json.dumps(obj, ensure_ascii=False))
        elif self.bar is not None:
            try:
                self.bar.write(text)
            except (OSError, ValueError):
                self._drop_bar()
        else:
            self.out.line(text)

    def _drop_bar(self) -> None:
        self.bar.disable = True
        self.bar = None
        self.err.close()

    def close(self) -> None:
        if self.bar is not None:
            with contextlib.suppress(OSError, ValueError):
                self.bar.close()
            self.bar = None


def _finite_or_none(value):
    return value if value is None or math.isfinite(value) else None


# ---------------------------------------------------------------------------- signals
class _Signals:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP become a flag that the training loop reads between
    steps, so a step is always whole: finished, or (a cancelled full-batch pass) not begun. The
    run is then saved and the process exits with 128 + the signal's number."""

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self):
        self.caught: int | None = None
        self._previous = {}

    def __enter__(self) -> "_Signals":
        if threading.current_thread() is threading.main_thread():
            for name in self.NAMES:
                number = getattr(signal, name, None)
                if number is not None:
                    self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def _on_signal(self, number, _frame) -> None:
        if self.caught is None:
            self.caught = number

    def __exit__(self, *exc) -> bool:
        # A process of its own is on its way out with the run saved: a late signal is ignored, so it
        # cannot kill the process before it reports (Python resets its own handlers to the default,
        # fatal one while exiting, but leaves ignored ones alone). Inside another program (tests,
        # notebooks): the previous handlers.
        ignore = _OWN_PROCESS
        for number, handler in self._previous.items():
            signal.signal(number, signal.SIG_IGN if ignore else handler)
        return False

    def pending(self) -> bool:
        return self.caught is not None

    @property
    def name(self) -> str | None:
        return None if self.caught is None else signal.Signals(self.caught).name

    @property
    def exit_code(self) -> int:
        return 128 + int(self.caught)


# ---------------------------------------------------------------------------- commands
def _given_settings(args) -> dict:
    return {f.name: getattr(args, f.name) for f in _config_fields() if getattr(args, f.name, None) is not None}


def _refuse_unused(config, names) -> None:
    from rnnviz.training.config import unused_settings
    unused = unused_settings(config, names)
    if unused:
        name, why = next(iter(unused.items()))
        raise UsageError(f"{_flag(name)} is not used by this run: {why}")


def _prepare_train(args):
    """The trainer, the number of steps and the checked save target, before any training."""
    from rnnviz.training.config import LIVE_FIELDS
    from rnnviz.training.trainer import Trainer
    given = _given_settings(args)
    if args.save == "":
        raise UsageError("--save needs a file name")
    if args.resume:
        if args.preset:
            raise UsageError("--preset cannot be combined with --resume (the session has its settings)")
        fixed = sorted(set(given) - LIVE_FIELDS - {"corpus"})
        if fixed:
            raise UsageError(f"{_flag(fixed[0])} cannot change when resuming: the session's run was built "
                             f"with its own value (start a new run without --resume to change it)")
        from rnnviz.session import load_session
        # --corpus with --resume says where a large (not embedded) corpus now lives
        trainer = load_session(args.resume, corpus_path=given.pop("corpus", None))
        _refuse_unused(trainer.config.replace(**given), given)
        if given:
            trainer.set_live(**given)
        steps = args.steps if args.steps is not None else 1000
        save_path = args.save if args.save is not None else args.resume
    else:
        config, preset_steps = _config_from_args(args)
        _refuse_unused(config, given)
        trainer = Trainer(config)
        steps = args.steps if args.steps is not None else (preset_steps or 1000)
        save_path = args.save
    if trainer.is_charlm:
        trainer.check_known(trainer.config.prime, "prime")
        trainer.check_known(trainer.config.probe, "probe")
    target = None
    if save_path is not None:
        from rnnviz.session import check_save_target
        protect = [trainer.config.corpus] if trainer.config.corpus else []
        weights = trainer.network.params.flat.nbytes
        corpus = len(trainer.corpus_text.encode("utf-8")) if trainer.corpus_text else 0
        need = 4 * weights + min(corpus, 2 << 20) + 16 * (trainer.step_count + steps) + (1 << 20)
        target = check_save_target(save_path, protect=protect, force=args.force, need_bytes=need)
    return trainer, steps, save_path, target


def _cmd_train(args) -> int:
    from rnnviz.engine import Cancelled
    from rnnviz.session import SessionError, save_session
    out, err = _Stream(sys.stdout), _Stream(sys.stderr)
    trainer, steps, save_path, target = _prepare_train(args)
    mode = "json" if args.json else ("bar" if sys.stderr.isatty() and not args.quiet else "plain")
    if args.quiet and not args.json:
        mode = "quiet"
    reporter = _Reporter(steps, mode, out, err)
    autosave_every = args.autosave_minutes * 60.0
    last_save = time.monotonic()
    saved_at = None            # the step of the latest save, for the message when the last save fails
    done, last, refused = 0, None, None
    full_batch = trainer.config.batch_size == 0

    def save(reason: str) -> bool:
        nonlocal saved_at, last_save
        try:
            save_session(trainer, target)
        except SessionError as exc:
            kept = f"; the file holds the save from step {saved_at:,}" if saved_at is not None else ""
            err.line(f"rnnviz: error: {reason} save failed: {exc}{kept}")
            return False
        saved_at, last_save = trainer.step_count, time.monotonic()
        return True

    # the BLAS thread limit and floating-point error mode set once for the loop, not at every step
    with _Signals() as signals, trainer.running():
        reporter.emit({"started": True, "step": trainer.step_count, "steps": steps,
                       "save": None if target is None else str(save_path)},
                      f"training {steps:,} steps from step {trainer.step_count:,}"
                      + (f", saving to {save_path}" if target else ""))
        while done < steps and not signals.pending():
            try:
                # a full-batch step can take seconds: a signal abandons it (it changes nothing until
                # it ends); a minibatch step has drawn its batch and runs to its end
                with (trainer.network.cancellable(signals.pending) if full_batch else contextlib.nullcontext()):
                    last = trainer.step()
            except Cancelled:
                break
            if last.refused:
                refused = last.refused
                break
            done += 1
            reporter.progress(done, last)
            cfg, step = trainer.config, trainer.step_count
            if step % cfg.eval_every == 0 and done < steps:
                try:
                    with trainer.network.cancellable(signals.pending):
                        metrics = trainer.evaluate()
                except Cancelled:
                    break          # evaluating is pure: an abandoned one changes nothing
                reporter.emit({"step": step, "metrics": metrics},
                              f"step {step}  held-out: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            if trainer.is_charlm and step % cfg.sample_every == 0 and mode in ("bar", "plain") and args.samples:
                text = trainer.sample()
                reporter.emit({"step": step, "sample": text}, f"----- sample at step {step} -----\n{text}\n-----")
            if target and autosave_every and time.monotonic() - last_save >= autosave_every:
                save("periodic")
        elapsed = time.perf_counter() - reporter.t0
        reporter.close()
        if refused:
            err.line(f"rnnviz: training stopped: {refused}. Lower the learning rate (--lr) or clip "
                     "gradients (--clip-mode norm).")
        if not signals.pending():
            try:
                with trainer.network.cancellable(signals.pending):
                    trainer.evaluate()
            except Cancelled:
                pass
        saved = save("final") if target else False
    stopped = "interrupted" if signals.pending() else "non-finite" if refused else "finished"
    code = signals.exit_code if signals.pending() else EXIT_NONFINITE if refused else 0
    if target and not saved:
        code = code or EXIT_BAD_INPUT
    evals = trainer.history.evals
    metrics_step, metrics = evals[-1] if evals else (None, {})
    summary = {
        "summary": True, "step": trainer.step_count,
        "loss": None if last is None else _finite_or_none(last.loss),
        "smooth_loss": trainer.smooth_loss,
        "steps_per_second": done / elapsed if elapsed > 0 else 0.0,
        "metrics": metrics, "metrics_step": metrics_step,
        "stopped": stopped, "signal": signals.name, "interrupted": signals.pending(),
        "saved": str(save_path) if saved else None, "exit_code": code,
    }
    if mode == "json":
        out.line(json.dumps(summary, ensure_ascii=False))
    else:
        parts = [f"step {trainer.step_count}"]
        if summary["loss"] is not None:
            parts.append(f"loss {summary['loss']:.4f}")
        if summary["smooth_loss"] is not None:
            parts.append(f"smooth_loss {summary['smooth_loss']:.3f}")
        parts.append(f"{summary['steps_per_second']:.0f} steps/s")
        head = {"finished": "done", "non-finite": "stopped (non-finite)",
                "interrupted": f"interrupted ({signals.name})"}[stopped]
        out.line(f"{head}: " + ", ".join(parts))
        if metrics:
            out.line("held-out: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                     + f" (as of step {metrics_step})")
        if saved:
            out.line(f"saved {save_path}")
        if trainer.is_encoder_decoder and mode != "quiet":
            # a translation is read, not scored: the first held-out inputs and the greedy outputs
            with trainer.running():
                lines = trainer.examples()
            out.line("held-out examples (input → output (target)):")
            for line in lines:
                out.line("  " + line)
    return code


def _cmd_sample(args) -> int:
    from rnnviz.session import load_session
    from rnnviz.tasks import TASK_INFO
    from rnnviz.training.config import MAX_SAMPLE_LENGTH
    if not 0 <= args.length <= MAX_SAMPLE_LENGTH:
        raise UsageError(f"--length must be between 0 and {MAX_SAMPLE_LENGTH:,} characters")
    if not args.temperature > 0:
        raise UsageError("--temperature must be a positive number")
    trainer = load_session(args.session)
    if not trainer.is_charlm:
        title = TASK_INFO[trainer.config.task].title.lower()
        raise UsageError(f"{args.session} holds a {title} run; sampling text needs a character-model session")
    out = _Stream(sys.stdout)
    pieces = trainer.sample_pieces(args.prime, args.length, args.temperature, seed=args.seed,
                                   greedy=args.greedy)
    with trainer.running():
        first = next(pieces, "")          # the prime is checked here, before anything is printed
        text = args.prime + first
        for piece in pieces:              # long samples stream; a closed pipe ends them early
            if not out.open:
                break
            _write(out, text)
            text = piece
    _write(out, text + "\n")
    return 0


def _write(stream: _Stream, text: str) -> None:
    if not stream.open:
        return
    try:
        stream.file.write(text)
        stream.file.flush()
    except (BrokenPipeError, OSError, ValueError):
        stream.close()


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
                       activation=args.activation, layers=args.layers, bidirectional=args.bidirectional)
    net = Network.create(spec, rng, "xavier")
    x = rng.standard_normal((T, N, D))
    y = rng.integers(0, K, (T, N))
    state0 = {k: 0.5 * rng.standard_normal((N, H)) for k in net.zero_state(N)}
    report = gradcheck(net, x, y, state0, h=1e-5 if args.activation == "relu" else 1e-3)
    print(f"gradient check: {args.cell} ({args.activation if args.cell == 'rnn' else 'gated'}), "
          f"T={T} N={N} D={D} H={H} K={K}" + (f" L={args.layers}" if args.layers > 1 else "")
          + (", bidirectional" if args.bidirectional else "")
          + ", float64, centred differences")
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
    train.add_argument("--save", metavar="FILE", help="write a session file at the end, at every "
                       "--autosave-minutes and on Ctrl-C, SIGTERM or SIGHUP (never over a file that is "
                       "not a session, nor over the corpus)")
    train.add_argument("--resume", metavar="FILE", help="continue a saved session (saved back in place "
                                                         "unless --save names another file)")
    train.add_argument("--force", action="store_true",
                       help="let --save replace an existing file that is not a session (never the corpus)")
    train.add_argument("--autosave-minutes", type=float, default=5.0, metavar="MIN",
                       help="with --save or --resume, also save every MIN minutes (0: only at the end; default 5)")
    train.add_argument("--json", action="store_true", help="JSON lines; the last one is the summary")
    train.add_argument("--quiet", action="store_true", help="only the summary")
    train.add_argument("--no-samples", dest="samples", action="store_false",
                       help="do not print character-model samples while training")
    _add_config_options(train)

    sample = sub.add_parser("sample", help="sample text from a saved character model")
    sample.add_argument("session", help="a .rnnviz session file of a charlm run")
    sample.add_argument("--prime", default="", help="priming text")
    sample.add_argument("--length", type=int, default=200,
                        help="characters to generate (at most 1,000,000; long samples stream)")
    sample.add_argument("--temperature", type=float, default=1.0, help="softmax temperature")
    sample.add_argument("--seed", type=int, default=None, help="random seed (repeatable samples)")
    sample.add_argument("--greedy", action="store_true", help="always take the most likely character")

    info = sub.add_parser("info", help="what a session file holds")
    info.add_argument("session")
    info.add_argument("--json", action="store_true")

    presets = sub.add_parser("presets", help="list the presets")
    presets.add_argument("--json", action="store_true")

    gc = sub.add_parser("gradcheck", help="check BPTT gradients against finite differences")
    gc.add_argument("--cell", choices=CELLS, default="rnn")
    gc.add_argument("--activation", choices=("tanh", "relu", "sigmoid"), default="tanh")
    gc.add_argument("--hidden", type=int, default=6)
    gc.add_argument("--layers", type=int, choices=range(1, MAX_LAYERS + 1), default=1, metavar="L",
                    help=f"stacked layers, 1 to {MAX_LAYERS}")
    gc.add_argument("--bidirectional", action="store_true", help="each layer also reads the sequence backwards")
    gc.add_argument("--steps-t", type=int, default=6, help="time steps")
    gc.add_argument("--seed", type=int, default=0)

    explain = sub.add_parser("explain", help="why a saved run learns or fails: gradients through time, "
                             "memory, saturation, a diagnosis")
    explain_arguments(explain)

    export = sub.add_parser("export", help="write a session's weights as safetensors under PyTorch's names")
    add_export_arguments(export)

    imported = sub.add_parser("import", help="make a character-model session from PyTorch weights (safetensors)")
    add_import_arguments(imported)
    return parser


def _add_gui_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", help="open with a preset")
    p.add_argument("--autostart", action="store_true", help="start training at once")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="quit after this many seconds")
    p.add_argument("--screenshot", metavar="FILE.png", help="save the window as PNG just before quitting")


COMMANDS = {"train": _cmd_train, "sample": _cmd_sample, "info": _cmd_info, "presets": _cmd_presets,
            "gradcheck": _cmd_gradcheck, "gui": _cmd_gui, "explain": run_explain, "export": run_export,
            "import": run_import}


def main(argv=None) -> int:
    global _OWN_PROCESS
    _OWN_PROCESS = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")) \
            or (argv[0].endswith(".rnnviz") and not argv[0].startswith("-")):
        argv = ["gui"] + argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            args = parser.parse_args(["gui"])
        for name in ("steps", "length", "autosave_minutes"):
            value = getattr(args, name, None)
            if value is not None and not value >= 0:
                raise UsageError(f"{_flag(name)} must be zero or more")
        return COMMANDS[args.command](args)
    except UsageError as exc:
        return _fail(str(exc))
    except BrokenPipeError:          # `rnnviz presets | head`: the reader has all it wanted
        _Stream(sys.stdout).close()
        return 0
    except SettingError as exc:
        return _fail(f"{_flag(exc.setting)} {exc.problem}")
    except FileError as exc:         # a session or weights file: damaged, unsupported, or an unsafe target
        return _fail(_one_line(exc))
    except RnnvizError as exc:       # bad input: an argument, a corpus, a preset, a text
        return _fail(_flagify(_one_line(exc)))
    except OSError as exc:           # the system refused: a full disk, a closed terminal, no permission
        return _fail(_one_line(exc))
    except KeyboardInterrupt:
        return 130
    except Exception:                # a bug in rnnviz: never dressed up as the user's mistake
        traceback.print_exc()
        _Stream(sys.stderr).line(BUG_LINE)
        return EXIT_BUG


def _fail(message: str) -> int:
    _Stream(sys.stderr).line(f"rnnviz: error: {message}")
    return EXIT_BAD_INPUT


def _flag(name: str) -> str:
    """The command-line flag of a Config field: ``sample_every`` -> ``--sample-every``."""
    return "--" + name.replace("_", "-")


def _flagify(text: str) -> str:
    """A message with the Config fields that have an underscore written as flags (``n_train``
    -> ``--n-train``); one-word fields (``hidden``, ``lr``) read as prose and stay."""
    names = sorted((f.name for f in _config_fields() if "_" in f.name), key=len, reverse=True)
    return re.sub(r"(?<![\w-])(" + "|".join(names) + r")\b", lambda m: _flag(m.group(1)), text)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
