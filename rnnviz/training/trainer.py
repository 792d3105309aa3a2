"""The trainer shared by the command line and the window: no threads, no Qt.

``Trainer(config).step()`` takes one optimisation step on one training batch and returns an
immutable :class:`StepResult` with the loss and the diagnostics the window shows. Settings in
``LIVE_FIELDS`` change between steps through :meth:`Trainer.set_live`; any other setting needs a
new trainer (a reset). Evaluation and sampling never touch the training data stream or its RNG.

Random streams (all ``numpy.random.Generator``, spawned from ``config.seed``): ``init`` (weights),
``data`` (owned by the task), ``sample`` (text sampling). Equal seeds give bit-identical runs.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnnviz.errors import InputError
from rnnviz.engine import Network, NetworkSpec, clip_gradients, make_optimizer, nonfinite_report
from rnnviz.engine import sample as sample_tokens
from rnnviz.engine import wavefront
from rnnviz.engine.diagnostics import array_norms, saturation, spectral_radius
from rnnviz.engine.seq2seq import Seq2Seq, Seq2SeqSpec
from rnnviz.engine.stack import direction_key
from rnnviz.tasks import make_task
from rnnviz.tasks.base import escape_char
from rnnviz.tasks.corpus import default_corpus, load_corpus
from rnnviz.training.allocator import keep_freed_memory
from rnnviz.training.blas import blas_limit, blas_threads_for
from rnnviz.training.config import LIVE_FIELDS, MAX_SAMPLE_LENGTH, Config, SettingError
from rnnviz.training.history import History
from rnnviz.training.memory import check_fits

STATE_FORMAT = 1


#: the Trainer whose :meth:`Trainer.running` block this thread is in (a context variable: per thread)
_RUNNING: contextvars.ContextVar = contextvars.ContextVar("rnnviz_running_trainer", default=None)


class _Running:
    """What :meth:`Trainer.running` returns: see there."""

    __slots__ = ("trainer", "_blas", "_errors", "_token")

    def __init__(self, trainer: "Trainer"):
        self.trainer = trainer

    def __enter__(self) -> "Trainer":
        self._blas = blas_limit(self.trainer.blas_threads)
        self._blas.__enter__()
        # overflow and invalid values are reported by the step that meets them (a refused step
        # naming what went non-finite), not as RuntimeWarnings
        self._errors = np.errstate(over="ignore", invalid="ignore")
        self._errors.__enter__()
        self._token = _RUNNING.set(self.trainer)
        return self.trainer

    def __exit__(self, *exc) -> bool:
        _RUNNING.reset(self._token)
        self._errors.__exit__(*exc)
        self._blas.__exit__(*exc)
        return False


def _running(method):
    """Run a Trainer method inside :meth:`Trainer.running` (at no cost when already in it)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if _RUNNING.get() is self:
            return method(self, *args, **kwargs)
        with _Running(self):
            return method(self, *args, **kwargs)
    return wrapper


class StepResult(NamedTuple):
    """One training step, as the window and the command line see it (arrays are private copies).

    Immutable; a NamedTuple because one is made at every step (a quarter of a frozen
    dataclass's construction time)."""

    step: int                          # steps completed after this one
    loss: float                        # this batch's loss (the network's reduction over time)
    smooth_loss: float | None          # charlm: min-char-rnn's smoothed chunk loss
    grad_a_norms: np.ndarray           # (T,) ||dL/da<t>||
    grad_c_norms: np.ndarray | None    # (T,) ||dL/dc<t>|| (LSTM)
    param_grad_norms: dict             # name -> ||dL/dW|| before clipping
    grad_norm: float                   # global gradient norm before clipping
    clipped: bool
    refused: str | None                # non-finite: what went wrong; parameters unchanged
    seconds: float
    layer_grad_a_norms: np.ndarray | None = None   # (L, T) ||dL/da[l]<t>|| per layer, bottom first
    layer_grad_c_norms: np.ndarray | None = None   # (L, T) ||dL/dc[l]<t>|| (LSTM)
    reverse_grad_a_norms: np.ndarray | None = None # bidirectional: (L, T) the reverse directions', t in time order


@dataclass(frozen=True)
class Probe:
    """The network's internal states on one fixed probe sequence."""

    labels: list                       # input symbol at each time step
    states: dict                       # display name -> (H, T) array
    ranges: dict                       # display name -> (low, high) colour range
    spectral_radius: float
    saturation: float
    description: str = ""              # what the probe is, in words, for the panel's caption
    output_labels: list | None = None  # encoder–decoder: the symbol written at each output step


ATTENTION = "attention α<t,t'>"
"""The probe's name of the attention matrix (Ty, Tx): output steps by input steps, not units by steps."""


class Trainer:
    """Owns the task, network, optimizer, random streams and history of one run."""

    def __init__(self, config: Config, *, corpus_text: str | None = None):
        config.validate()
        self.config = config
        init_seq, data_seq, sample_seq = np.random.SeedSequence(config.seed).spawn(3)
        self.rng_sample = np.random.Generator(np.random.PCG64(sample_seq))
        self.corpus_text = None
        if config.task == "charlm":
            if corpus_text is None:
                corpus_text = load_corpus(config.corpus) if config.corpus else default_corpus()
            self.corpus_text = corpus_text
        # refuse what cannot fit before the task allocates its data (full-batch BPTT keeps every state)
        check_fits(config, vocab=len(set(corpus_text)) if corpus_text else 256,
                   corpus_chars=len(corpus_text) if corpus_text else 0)
        self.task = make_task(config, np.random.Generator(np.random.PCG64(data_seq)), corpus_text)
        task = self.task
        if self.is_encoder_decoder:
            # reversal, dates: an encoder–decoder (Seq2Seq) with the Network's interface; its step
            # reports the encoder's ||dL/da<t'>|| as the per-step gradient norms
            self.spec = Seq2SeqSpec(
                config.cell, task.input_size, task.output_size, config.hidden, attention=config.attention,
                output_length=task.output_length, activation=config.activation,
                reduction=config.reduction, dtype=config.dtype)
            self.network = Seq2Seq.create(self.spec, np.random.Generator(np.random.PCG64(init_seq)),
                                          config.init, forget_bias=config.forget_bias)
        else:
            self.spec = NetworkSpec(
                config.cell, task.input_size, config.hidden, task.output_size,
                input_kind=task.input_kind, activation=config.activation, readout=task.readout,
                many_to_one=task.many_to_one, reduction=config.reduction, dtype=config.dtype,
                layers=config.layers, bidirectional=config.bidirectional)
            self.network = Network.create(self.spec, np.random.Generator(np.random.PCG64(init_seq)),
                                          config.init, forget_bias=config.forget_bias)
        self.optimizer = self._make_optimizer(config)
        self._backup = self.network.params.copy()        # weights before the latest update
        self._grads = self.network.empty_grads()         # every step's gradients, written in place
        #: BLAS threads for this problem's steps: 1 for small ones (see rnnviz.training.blas)
        layers = getattr(self.spec, "layers", 1)
        self.blas_threads = blas_threads_for(
            config.batch_size, config.hidden, self.spec.gate_blocks,
            wavefront=not getattr(self.spec, "bidirectional", False)     # (bidirectional runs layer by layer)
            and wavefront.applies(config.cell, layers, config.batch_size, config.hidden))
        keep_freed_memory()                              # each step reuses the last one's pages
        self.step_count = 0
        self.carried_state: dict | None = None
        self.smooth_loss = self._initial_smooth_loss()
        self.history = History(self.network.params)

    # ------------------------------------------------------------------ helpers
    def _make_optimizer(self, config: Config):
        return make_optimizer(config.optimizer, self.network.params, lr=config.lr,
                              momentum=config.momentum, beta1=config.beta1, beta2=config.beta2,
                              rho=config.rho, eps=config.eps)

    def _initial_smooth_loss(self) -> float | None:
        """min-char-rnn starts its smoothed loss at ``-ln(1/V) · seq_length``."""
        if self.config.task != "charlm":
            return None
        return -math.log(1.0 / self.task.output_size) * self.config.seq_length

    @property
    def is_charlm(self) -> bool:
        return self.config.task == "charlm"

    @property
    def is_encoder_decoder(self) -> bool:
        """Is the model an encoder–decoder (:class:`~rnnviz.engine.seq2seq.Seq2Seq`), not a Network?"""
        return getattr(self.task, "encoder_decoder", False)

    def running(self) -> _Running:
        """``with trainer.running():`` around a loop of steps sets, once for the whole loop, what
        each step would otherwise set and restore itself: the BLAS thread limit for this problem
        size (see :mod:`rnnviz.training.blas`) and quiet floating-point errors (a non-finite step
        is refused and reported instead). For this thread only; nesting is harmless."""
        return _Running(self)

    # ------------------------------------------------------------------ training
    @_running
    def step(self) -> StepResult:
        """One optimisation step.

        A non-finite loss or gradient, or an update that overflows (||ΔW||² not finite),
        refuses the step: the batch is skipped, the step counter does not move, and the weights go
        back to the last ones whose loss was finite (those before the latest update). ``refused``
        says what went non-finite, so a lower learning rate can continue from there.
        """
        t0 = time.perf_counter()
        cfg, net, task = self.config, self.network, self.task
        batch = task.train_batch()
        carry = task.carries_state and not batch.reset_state
        state0 = self.carried_state if carry else None
        loss, grads, res = net.loss_and_grads(batch.x, batch.y, state0, batch.mask, out=self._grads)
        norms = array_norms(grads)
        problem = None
        grad_norm = math.hypot(*norms.values())
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            problem = nonfinite_report(loss, grads, res.grad_a_norms, res.final_state) or "overflow"
        if problem is None:
            grad_norm, clipped = clip_gradients(grads, cfg.clip_mode, cfg.clip, grad_norm)
            # keep the weights before the update (to undo it if it overflows), then update in place:
            # net.params stays the same object, so a reference to it never goes stale
            np.copyto(self._backup.flat, net.params.flat)
            self.optimizer.step(net.params, grads)
            # an update too large to square (norm > ~1e154) has blown the weights up: refuse it now
            # (the pass over the update is needed only when its bound is not small)
            if (self.optimizer.update_norm_bound(grad_norm) > 1e150
                    and not math.isfinite(self.optimizer.last_update_norm())):
                bad = [k for k, u in self.optimizer.last_update.items() if not math.isfinite(np.vdot(u, u))]
                problem = f"the update made {', '.join(bad)} non-finite (overflow: learning rate too high?)"
        if problem is not None:
            np.copyto(net.params.flat, self._backup.flat)   # back to the last weights with a finite loss
            return StepResult(self.step_count, float(loss), self.smooth_loss, res.grad_a_norms,
                              res.grad_c_norms, norms, float("nan"), False,
                              f"step {self.step_count + 1} refused: {problem}",
                              time.perf_counter() - t0, *_layer_norms(res))
        self.carried_state = res.final_state if task.carries_state else None
        self.step_count += 1
        if self.smooth_loss is not None:
            chunk_loss = loss * (batch.x.shape[0] if cfg.reduction == "mean" else 1)
            self.smooth_loss = self.smooth_loss * 0.999 + chunk_loss * 0.001
        self.history.record_step(self.step_count, loss, self.smooth_loss, res.grad_a_norms, norms)
        return StepResult(self.step_count, float(loss), self.smooth_loss, res.grad_a_norms,
                          res.grad_c_norms, norms, grad_norm, clipped, None,
                          time.perf_counter() - t0, *_layer_norms(res))

    def set_live(self, **changes) -> None:
        """Change settings that apply at the next step; ``ValueError`` for anything else."""
        not_live = sorted(set(changes) - LIVE_FIELDS)
        if not_live:
            raise InputError(f"{', '.join(not_live)} cannot change during training; it applies on reset")
        new = self.config.replace(**changes)
        old = self.config
        for name in changes:
            if getattr(old, name) != getattr(new, name):
                self.history.record_change(self.step_count, name, getattr(old, name), getattr(new, name))
        self.config = new
        if new.optimizer != old.optimizer:
            self.optimizer = self._make_optimizer(new)
        else:
            self.optimizer.set_hyper(lr=new.lr, momentum=new.momentum, beta1=new.beta1,
                                     beta2=new.beta2, rho=new.rho, eps=new.eps)

    # ------------------------------------------------------------------ looking
    @_running
    def evaluate(self) -> dict[str, float]:
        """Held-out metrics; never touches the training state or any RNG. Recorded in history."""
        metrics = {k: float(v) for k, v in self.task.metrics(self.network).items()}
        self.history.record_eval(self.step_count, metrics)
        return metrics

    @_running
    def probe(self) -> Probe:
        """Hidden states (and LSTM cell state and gates, GRU gates) on the probe sequence; a
        stacked network's layer 1 first, then layer 2's ("layer 2: hidden a[2]<t>", …)."""
        if self.is_encoder_decoder:
            return self._probe_encoder_decoder()
        x, labels, description = self._probe_input()
        res = self.network.forward(x)
        act = self.config.activation if self.config.cell == "rnn" else "tanh"
        states, ranges = {}, {}
        for layer in range(1, self.spec.layers + 1):
            for reverse in ((False, True) if self.spec.bidirectional else (False,)):
                for title, values, value_range in _probe_rows(res.states, layer, act, reverse):
                    states[title], ranges[title] = values, value_range
        return Probe(list(labels), states, ranges,
                     spectral_radius(self.network.params["Waa"], self.config.cell),
                     saturation(res.states["a"], act), description)

    def _probe_encoder_decoder(self) -> Probe:
        """The encoder's a<t'> (H, Tx), the decoder's s<t> (H, Ty) of a greedy decode of the first
        held-out input, and with attention α<t,t'> (Ty, Tx): rows are output steps, each sums to 1.
        ``labels`` are the input symbols; ``output_labels`` the symbols the decoder wrote."""
        x, labels = self.task.probe_input()                                       # (Tx, 1)
        res = self.network.forward(x, length=self.task.output_length)          # free-running, greedy
        act = self.config.activation if self.config.cell == "rnn" else "tanh"
        enc, dec = res.enc_states[:, 0, :].T, res.dec_states[:, 0, :].T
        hidden_range = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(act)
        if hidden_range is None:   # relu: unbounded above
            hidden_range = (0.0, max(1.0, float(enc.max(initial=0.0)), float(dec.max(initial=0.0))))
        states = {"encoder a<t'>": enc, "decoder s<t>": dec}
        ranges = {"encoder a<t'>": hidden_range, "decoder s<t>": hidden_range}
        if res.attention is not None:
            states[ATTENTION] = res.attention[:, 0, :]                             # (Ty, Tx)
            ranges[ATTENTION] = (0.0, 1.0)
        output_labels = [self.task.output_text([t]) for t in res.tokens[:, 0]]
        return Probe(list(labels), states, ranges,
                     spectral_radius(self.network.params["enc.Waa"], self.config.cell),
                     saturation(res.enc_states, act),
                     "the first held-out input and the model's greedy output", output_labels)

    def _probe_input(self):
        """(x, the symbol at each step, what the probe is): the character model's ``probe`` text
        when one is set and the model knows every character of it, else the task's own probe."""
        probe = self.config.probe if self.is_charlm else ""
        if probe:
            known = set(self.task.vocab)
            unknown = sorted({c for c in probe if c not in known})
            if not unknown:
                ids = self.task.encode(probe)
                return ids[:, None], [escape_char(self.task.vocab[i]) for i in ids], "the probe text"
            shown = "".join(escape_char(c) for c in unknown)
            x, labels = self.task.probe_input()
            return x, labels, f"the first held-out sequence (the probe text holds {shown!r}, never seen)"
        x, labels = self.task.probe_input()
        return x, labels, "the first held-out sequence"

    @_running
    def examples(self, k: int = 4) -> list[str]:
        """Readable predictions on held-out examples (``74 + 120 = 194 ✓``)."""
        return list(self.task.examples(self.network, k))

    @_running
    def sample(self, prime: str | None = None, length: int | None = None,
               temperature: float | None = None, seed: int | None = None, greedy: bool = False) -> str:
        """Text from the character model: the priming text followed by ``length`` new characters.

        Without a seed, draws come from the trainer's own sampling stream (saved with a session).
        """
        if not self.is_charlm:
            raise InputError("sampling text needs the character model task (charlm)")
        cfg = self.config
        prime = cfg.prime if prime is None else prime
        length = cfg.sample_length if length is None else int(length)
        temperature = cfg.temperature if temperature is None else float(temperature)
        text = prime + "".join(self.sample_pieces(prime, length, temperature, seed, greedy))
        self.history.record_sample(self.step_count, text)
        return text

    def check_known(self, text: str, setting: str = "prime") -> None:
        """``SettingError`` naming ``setting`` if ``text`` holds characters the model never saw."""
        vocab = set(self.task.vocab)
        missing = sorted({c for c in text if c not in vocab})
        if missing:
            shown = "".join(escape_char(c) for c in missing)
            raise SettingError(setting, f"holds characters the model never saw: {shown!r} "
                                        f"(it knows {len(vocab)} characters of its corpus)")

    def sample_pieces(self, prime: str, length: int, temperature: float, seed: int | None = None,
                      greedy: bool = False, piece: int = 4096):
        """The ``length`` new characters after ``prime``, as pieces of at most ``piece`` characters
        (for streaming a long sample). Not recorded in the history; :meth:`sample` joins and records.
        The draws, and so the text, are the same whatever the piece size. A generator: iterate it
        inside ``with trainer.running():`` for the trainer's BLAS and error settings."""
        if not self.is_charlm:
            raise InputError("sampling text needs the character model task (charlm)")
        if not 0 <= length <= MAX_SAMPLE_LENGTH:
            raise SettingError("sample_length", f"must be between 0 and {MAX_SAMPLE_LENGTH:,} (got {length:,})")
        if not temperature > 0:
            raise SettingError("temperature", "must be a positive number")
        self.check_known(prime)
        rng = self.rng_sample if seed is None else np.random.default_rng(seed)
        vocab = self.task.vocab
        if prime:
            ids = self.task.encode(prime)
            state = None
            if ids.size > 1:
                state = self.network.forward(ids[:-1, None]).final_state
            token = int(ids[-1])
        else:
            state, token = None, vocab.index("\n") if "\n" in vocab else 0
        left = length
        while left > 0:
            n = min(piece, left)
            tokens, state = sample_tokens(self.network, state, token, n, rng, temperature, greedy)
            token, left = tokens[-1], left - n
            yield self.task.decode(tokens)

    def update_ratios(self) -> dict[str, float]:
        """``||ΔW|| / ||W||`` of the latest update, per parameter (computed on demand)."""
        return self.optimizer.update_ratios(self.network.params)

    # ------------------------------------------------------------------ saving and resuming
    def state_dict(self) -> dict:
        """Everything needed to continue exactly: config, weights, optimizer, RNGs, data position,
        carried state, history. Arrays are copies; everything else is JSON-able."""
        opt = self.optimizer.state_dict()
        return {
            "format": STATE_FORMAT,
            "config": self.config.to_dict(),
            "step": self.step_count,
            "params": {k: v.copy() for k, v in self.network.params.items()},
            "previous_params": {k: v.copy() for k, v in self._backup.items()},
            "optimizer": {"name": self.config.optimizer, "t": opt.pop("t"),
                          "slots": {k: v.copy() for k, v in opt.items()}},
            "rng_sample": self.rng_sample.bit_generator.state,
            "task": self.task.state_dict(),
            "carried_state": None if self.carried_state is None
            else {k: v.copy() for k, v in self.carried_state.items()},
            "smooth_loss": self.smooth_loss,
            "history": self.history.state_dict(),
        }

    @classmethod
    def from_state_dict(cls, state: dict, *, corpus_text: str | None = None) -> "Trainer":
        """Rebuild a trainer from :meth:`state_dict`; ``InputError`` naming anything that does not fit.

        Only the state's own faults are reported so (a missing or mis-typed entry, weights or
        optimizer slots of the wrong shape, a bad random state); any other exception is a bug.
        """
        state = _mapping(state, "trainer state")
        try:
            if state.get("format") != STATE_FORMAT:
                raise InputError(f"unsupported trainer state format {state.get('format')!r}")
            config = Config.from_dict(_mapping(state["config"], "config"))
            trainer = cls(config, corpus_text=corpus_text)
            opt = _mapping(state["optimizer"], "optimizer state")
            if opt["name"] != config.optimizer:
                raise InputError(f"optimizer state is for {opt['name']!r}, config says {config.optimizer!r}")
            try:   # the engine checks shapes and values and names what is wrong as a ValueError
                model = type(trainer.network)          # Network, or Seq2Seq for the encoder–decoder tasks
                trainer.network = model(trainer.spec, _mapping(state["params"], "params"))
                trainer._backup = model(trainer.spec, _mapping(state["previous_params"], "previous_params")).params
                trainer.optimizer = trainer._make_optimizer(config)
                trainer.optimizer.load_state_dict({"t": opt["t"], **_mapping(opt["slots"], "optimizer slots")})
            except InputError:
                raise
            except ValueError as exc:
                raise InputError(str(exc)) from None
            trainer._grads = trainer.network.empty_grads()
            trainer.task.load_state_dict(state["task"])
            try:
                trainer.rng_sample.bit_generator.state = _mapping(state["rng_sample"], "sampling random state")
            except (TypeError, ValueError) as exc:    # numpy's own check of a generator state
                raise InputError(f"the sampling random state is invalid ({exc})") from None
            carried = state["carried_state"]
            if carried is not None:       # only tasks that carry state (charlm: one row per stream)
                if not trainer.task.carries_state:
                    raise InputError(f"the {config.task} task carries no state between batches")
                try:
                    carried = trainer.network.check_state(_mapping(carried, "carried state"), trainer.task.n_streams)
                except InputError:
                    raise
                except ValueError as exc:
                    raise InputError(str(exc)) from None
            trainer.carried_state = carried
            step = state["step"]
            if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                raise InputError("step must be a non-negative integer")
            trainer.step_count = step
            smooth = state["smooth_loss"]
            if smooth is not None and (isinstance(smooth, bool) or not isinstance(smooth, (int, float))):
                raise InputError("smooth_loss must be a number or null")
            trainer.smooth_loss = None if smooth is None else float(smooth)
            trainer.history.load_state_dict(_mapping(state["history"], "history"))
        except KeyError as exc:
            raise InputError(f"trainer state is missing {exc}") from None
        return trainer


def _mapping(value, what: str) -> dict:
    """``value`` if it is a dict, else ``InputError`` naming ``what``."""
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a mapping, not {type(value).__name__}")
    return value


#: the probe's states, each with its title (layer 1's spelling) and colour range, in display order;
#: None: from the values (ReLU hidden states, unbounded above; the cell state, unbounded)
_PROBE_STATES = (("a", "hidden a<t>", None), ("c", "cell c<t>", None), ("f", "forget gate Γf", (0.0, 1.0)),
                 ("i", "update gate Γi", (0.0, 1.0)), ("o", "output gate Γo", (0.0, 1.0)),
                 ("r", "reset gate Γr", (0.0, 1.0)), ("u", "update gate Γu", (0.0, 1.0)),
                 ("z", "update gate Γz", (0.0, 1.0)), ("cand", "candidate c~<t>", (-1.0, 1.0)))


def _probe_rows(states: dict, layer: int, activation: str, reverse: bool = False):
    """``(title, (H, T) values, (low, high))`` for each of layer ``layer``'s states in ``states``
    (a forward pass's, one sequence). Layer 1's titles are the one-layer network's ("hidden a<t>");
    layer l ≥ 2's name it ("layer 2: hidden a[2]<t>"); a bidirectional layer's reverse direction
    says so ("reverse: hidden a<t>", "layer 2, reverse: hidden a[2]<t>"), its steps in time order."""
    for key, title, value_range in _PROBE_STATES:
        name = direction_key(key, layer, reverse)
        if name not in states:
            continue
        values = states[name][:, 0, :].T
        if key == "a":
            value_range = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(activation)
            if value_range is None:        # relu: unbounded above
                value_range = (0.0, max(1.0, float(values.max(initial=0.0))))
        elif key == "c":
            m = max(1.0, float(np.abs(values).max(initial=0.0)))
            value_range = (-m, m)
        if layer > 1:
            title = f"layer {layer}{', reverse' if reverse else ''}: {layer_words(title, layer)}"
        elif reverse:
            title = f"reverse: {title}"
        yield title, values, value_range


def layer_words(text: str, layer: int) -> str:
    """``text`` about layer 1's states, written for layer ``layer`` in the course's superscript:
    ``a<t>`` -> ``a[2]<t>``, ``c~<t>`` -> ``c~[2]<t>``, ``Γf`` -> ``Γf[2]``."""
    if layer == 1:
        return text
    text = re.sub(r"(Γ\w)", rf"\1[{layer}]", text)
    return re.sub(r"\b(a|c~|c)<t", rf"\1[{layer}]<t", text)


def _layer_norms(res) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """A forward result's per-layer ``(||dL/da[l]<t>||, ||dL/dc[l]<t>||)`` (L, T) arrays and the
    reverse directions' ``||dL/da[l]<t>||`` (L, T) of a bidirectional network; None for what the
    result has not (an encoder–decoder has none)."""
    return (getattr(res, "layer_grad_a_norms", None), getattr(res, "layer_grad_c_norms", None),
            getattr(res, "reverse_grad_a_norms", None))
