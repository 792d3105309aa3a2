"""Optimizers and gradient clipping. State is name-keyed like the parameters, so it saves exactly.

Every optimizer updates parameters in place: ``step(params, grads)``. ``state_dict()`` returns
``{"t": steps taken, "<slot>/<name>": array}`` (slots: ``velocity``, ``mem``, ``m``, ``v``);
``load_state_dict`` checks names and shapes.
"""

from __future__ import annotations

import math

import numpy as np

from rnnviz.engine.flat import FlatDict, flat_of


class Optimizer:
    """Base class: hyperparameters, per-parameter slots, the update of the last step.

    Slots, gradients and updates live in flat buffers (one array over all parameters), so an
    update costs a handful of array calls however many parameters there are; the name-keyed
    dicts ``state[slot][name]`` and ``last_update[name]`` are views into them
    (:class:`~rnnviz.engine.flat.FlatDict`). Parameters and gradients given as FlatDicts of the
    same layout (a :class:`~rnnviz.engine.network.Network`'s) are used in place, without copies.
    """

    slots: tuple[str, ...] = ()
    nonnegative_slots: tuple[str, ...] = ()     # running sums of squared gradients
    hyper_names: tuple[str, ...] = ("lr",)

    def __init__(self, params: dict[str, np.ndarray], lr: float, **hyper):
        self.hyper = {"lr": float(lr)}
        for name in self.hyper_names[1:]:
            self.hyper[name] = float(hyper[name])
        self.t = 0
        dtype = np.result_type(*params.values()) if params else np.float64
        # a FlatDict's own layout object: flat_of then matches it by identity, not element by element
        shapes = params.layout if isinstance(params, FlatDict) else {k: np.shape(v) for k, v in params.items()}
        self.state = {slot: FlatDict.zeros(shapes, dtype) for slot in self.slots}
        self.flat = {slot: d.flat for slot, d in self.state.items()}
        self._grads: FlatDict | None = None       # gathers gradients not given as a FlatDict (made once needed)
        self.last_update = FlatDict.zeros(shapes, dtype)
        self._upd = self.last_update.flat
        self.layout = self.last_update.layout

    def set_hyper(self, **hyper) -> None:
        for name, value in hyper.items():
            if name in self.hyper:
                self.hyper[name] = float(value)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
             out: dict[str, np.ndarray] | None = None) -> None:
        """Apply one update; the update itself is kept in ``last_update``.

        In place, or, with ``out`` (a FlatDict laid out like ``params``, as ``params`` is), write
        ``params + update`` there and leave ``params`` as they were: a caller that keeps the weights
        before each update (to undo a step that went non-finite) can swap buffers instead of copying.
        """
        self.t += 1
        g = flat_of(grads, self.layout)
        if g is None:
            if self._grads is None:
                self._grads = FlatDict.empty(self.layout, self._upd.dtype)
            for k, view in self._grads.items():
                np.copyto(view, grads[k])
            g = self._grads.flat
        self._update(g, self._upd)
        p = flat_of(params, self.layout)
        if out is not None:
            target = flat_of(out, self.layout)
            if p is None or target is None:
                raise ValueError("out needs params and out to be FlatDicts laid out as the optimizer's")
            np.add(p, self._upd, out=target)
        elif p is not None:
            p += self._upd
        else:
            for k, p in params.items():
                p += self.last_update[k]

    def _update(self, g: np.ndarray, out: np.ndarray) -> None:
        """Write the update for the flat gradient ``g`` into ``out``, advancing the flat slots."""
        raise NotImplementedError

    def last_update_norm(self) -> float:
        """``||Δθ||`` of the latest step over all parameters together (inf or NaN on overflow)."""
        return math.sqrt(np.vdot(self._upd, self._upd))

    def update_norm_bound(self, grad_norm: float) -> float:
        """An upper bound on ``||Δθ||`` of the latest step, from the gradient's norm alone (no pass
        over the parameters); inf where the optimizer has none. A caller checking for an update
        that overflowed needs :meth:`last_update_norm` only when this bound is huge."""
        return math.inf

    def update_ratios(self, params: dict[str, np.ndarray]) -> dict[str, float]:
        """``||Δp|| / ||p||`` of the last step for every parameter (``||Δp||`` where p is all zeros;
        NaN or inf when the update or the weight is not finite)."""
        out = {}
        for k, p in params.items():
            pn = float(np.sqrt(np.vdot(p, p)))
            un = float(np.sqrt(np.vdot(self.last_update[k], self.last_update[k])))
            if not np.isfinite(pn):
                out[k] = float("nan")        # a weight overflowed: callers treat NaN as failure
            else:
                out[k] = un / pn if pn > 0 else un
        return out

    def state_dict(self) -> dict:
        d = {"t": self.t}
        for slot, arrays in self.state.items():
            for k, v in arrays.items():
                d[f"{slot}/{k}"] = v
        return d

    def load_state_dict(self, d: dict) -> None:
        expected = {f"{slot}/{k}": v for slot, arrays in self.state.items() for k, v in arrays.items()}
        if set(d) != set(expected) | {"t"}:
            raise ValueError(f"optimizer state must have keys {sorted(expected) + ['t']}")
        t = d["t"]
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError("optimizer step counter must be a non-negative integer")
        checked = {}
        for key, ref in expected.items():          # validate everything before changing anything
            arr = np.asarray(d[key])
            if arr.shape != ref.shape:
                raise ValueError(f"optimizer state {key!r} must have shape {ref.shape}; got {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"optimizer state {key!r} holds NaN or infinite values")
            if key.split("/")[0] in self.nonnegative_slots and (arr < 0).any():
                raise ValueError(f"optimizer state {key!r} holds negative values (it sums squares)")
            checked[key] = arr
        for key, ref in expected.items():
            ref[...] = checked[key]
        self.t = int(t)


class SGD(Optimizer):
    """``p -= lr·g``."""

    def _update(self, g, out):
        np.multiply(g, -self.hyper["lr"], out=out)

    def update_norm_bound(self, grad_norm):
        return self.hyper["lr"] * grad_norm


class Momentum(Optimizer):
    """Classical momentum: ``v = μ·v - lr·g; p += v``."""

    slots = ("velocity",)
    hyper_names = ("lr", "momentum")

    def _update(self, g, out):
        v = self.flat["velocity"]
        v *= self.hyper["momentum"]
        np.multiply(g, self.hyper["lr"], out=out)
        v -= out
        out[...] = v


class Adagrad(Optimizer):
    """min-char-rnn's Adagrad: ``mem += g²; p -= lr·g / sqrt(mem + eps)``."""

    slots = ("mem",)
    nonnegative_slots = ("mem",)
    hyper_names = ("lr", "eps")

    def _update(self, g, out):
        mem = self.flat["mem"]
        np.square(g, out=out)       # np.square: half the time of np.multiply(g, g) here
        mem += out
        np.add(mem, self.hyper["eps"], out=out)
        np.sqrt(out, out=out)
        np.divide(g, out, out=out)
        out *= -self.hyper["lr"]

    def update_norm_bound(self, grad_norm):
        # mem ≥ g² entry by entry (mem only grows), so every |Δ| ≤ lr: ||Δθ|| ≤ lr·sqrt(P)
        if not self.hyper["eps"] > 0:
            return math.inf
        return self.hyper["lr"] * math.sqrt(self._upd.size)


class RMSProp(Optimizer):
    """``ms = ρ·ms + (1-ρ)·g²; p -= lr·g / (sqrt(ms) + eps)``."""

    slots = ("mem",)
    nonnegative_slots = ("mem",)
    hyper_names = ("lr", "rho", "eps")

    def _update(self, g, out):
        ms = self.flat["mem"]
        rho = self.hyper["rho"]
        ms *= rho
        np.square(g, out=out)
        out *= 1.0 - rho
        ms += out
        np.sqrt(ms, out=out)
        out += self.hyper["eps"]
        np.divide(g, out, out=out)
        out *= -self.hyper["lr"]

    def update_norm_bound(self, grad_norm):
        # ms ≥ (1-ρ)·g² entry by entry, so every |Δ| ≤ lr / sqrt(1-ρ)
        rho = self.hyper["rho"]
        if not (self.hyper["eps"] > 0 and rho < 1.0):
            return math.inf
        return self.hyper["lr"] * math.sqrt(self._upd.size / (1.0 - rho))


class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moments."""

    slots = ("m", "v")
    nonnegative_slots = ("v",)
    hyper_names = ("lr", "beta1", "beta2", "eps")

    def _update(self, g, out):
        b1, b2 = self.hyper["beta1"], self.hyper["beta2"]
        m, v = self.flat["m"], self.flat["v"]
        m *= b1
        np.multiply(g, 1.0 - b1, out=out)
        m += out
        v *= b2
        np.square(g, out=out)
        out *= 1.0 - b2
        v += out
        c1 = 1.0 - b1 ** self.t
        c2 = 1.0 - b2 ** self.t
        np.sqrt(v, out=out)
        out /= np.sqrt(c2)
        out += self.hyper["eps"]
        np.divide(m, out, out=out)
        out *= -self.hyper["lr"] / c1


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adagrad": Adagrad, "rmsprop": RMSProp, "adam": Adam}


def make_optimizer(name: str, params: dict[str, np.ndarray], **hyper) -> Optimizer:
    """An optimizer by name; ``hyper`` may hold extra keys (only the ones it uses are read)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {name!r})")
    cls = OPTIMIZERS[name]
    missing = [k for k in cls.hyper_names if k not in hyper]
    if missing:
        raise ValueError(f"optimizer {name} needs {', '.join(missing)}")
    return cls(params, **{k: hyper[k] for k in cls.hyper_names})


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """``sqrt(Σ ||g||²)`` over all gradients."""
    if isinstance(grads, FlatDict):
        return math.sqrt(np.vdot(grads.flat, grads.flat))
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_gradients(grads: dict[str, np.ndarray], mode: str, threshold: float,
                   norm: float | None = None) -> tuple[float, bool]:
    """Clip in place. mode "value": every entry to [-threshold, threshold] (min-char-rnn's ±5);
    "norm": rescale all gradients together if their global norm exceeds threshold; "none".
    ``norm``: the global norm if the caller has it already.
    Returns ``(global norm before clipping, whether anything changed)``.
    """
    if norm is None:
        norm = global_norm(grads)
    arrays = [grads.flat] if isinstance(grads, FlatDict) else list(grads.values())
    if mode == "none":
        return norm, False
    if mode == "value":
        # every |entry| <= the global norm: below the threshold, nothing can need clipping
        clipped = False
        if norm > threshold:
            for g in arrays:
                if g.size and (g.max() > threshold or g.min() < -threshold):
                    clipped = True
                    break
        if clipped:
            for g in arrays:
                np.clip(g, -threshold, threshold, out=g)
        return norm, clipped
    if mode == "norm":
        if norm > threshold:
            scale = threshold / norm
            for g in arrays:
                g *= scale
            return norm, True
        return norm, False
    raise ValueError(f"clip mode must be none, value or norm (got {mode!r})")
