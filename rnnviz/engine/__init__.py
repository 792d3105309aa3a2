"""The NumPy engine: recurrent cells, BPTT, losses, optimizers, initialisers, diagnostics.

Depends on numpy and the standard library only (never Qt).
"""

from rnnviz.engine.diagnostics import nonfinite_report, saturation, spectral_radius
from rnnviz.engine.gradcheck import gradcheck
from rnnviz.engine.network import (PARAM_NAMES, ForwardResult, Network, NetworkSpec, sample,
                                   truncated_bptt)
from rnnviz.engine.sequence import Cancelled
from rnnviz.engine.optim import OPTIMIZERS, clip_gradients, global_norm, make_optimizer

__all__ = [
    "Network", "NetworkSpec", "Cancelled", "ForwardResult", "PARAM_NAMES", "sample", "truncated_bptt",
    "make_optimizer", "clip_gradients", "global_norm", "OPTIMIZERS",
    "gradcheck", "spectral_radius", "saturation", "nonfinite_report",
]
