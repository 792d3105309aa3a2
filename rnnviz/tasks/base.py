"""What every task gives the trainer: batches of arrays, held-out metrics, a probe sequence.

Shapes use fixed letters: T time steps, N sequences in a batch, D input features,
V vocabulary (token inputs), K outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    """One batch, time-major.

    x: (T, N, D) float for dense inputs, or (T, N) int64 token ids for token inputs.
    y: targets. softmax readout: int64 class ids, (T, N) many-to-many or (N,) many-to-one;
       sigmoid / linear readout: float, (T, N, K) or (N, K).
    mask: (T,) float loss weight per time step (many-to-many only), or None for all ones.
    reset_state: True when the state carried from the previous batch must be zeroed first.
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray | None = None
    reset_state: bool = True
