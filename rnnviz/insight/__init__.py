"""Why a recurrent network learns or fails (issue 17): pure NumPy computations on a network's
weights and one probe sequence, shared by ``rnnviz explain`` and the window. No Qt here; only the
engine's public API (``Network.forward``, ``params``, ``spec``, ``sample``).

Modules, one concept each:

* ``trace``: the forward pass over one probe, kept in float64 (:func:`run_trace`);
* ``jacobians``: one-step Jacobians per cell, their products' largest singular values, the spectrum;
* ``saliency``: output scores (log-probability of the target), saliency over the inputs, gradient
  from one output;
* ``memory``: memory horizon, Pascanu's bound, the LSTM's paths;
* ``saturation``, ``units`` (selectivity), ``sampling`` (inspector, saliency of a sample),
  ``diagnosis``, ``probes`` (linear read-outs); ``explain``: the command.
"""

from rnnviz.insight.diagnosis import Finding, RunStats, diagnose
from rnnviz.insight.jacobians import (StepJacobians, classify_steps, product_norms, step_jacobians,
                                      step_singular_values)
from rnnviz.insight.memory import lag_medians, memory_horizon, pascanu_bound, state_norms
from rnnviz.insight.probes import readout_curve, task_readout_curve
from rnnviz.insight.saliency import output_gradients, output_scores
from rnnviz.insight.sampling import inspect_tokens, sample_inspected, sample_saliency
from rnnviz.insight.saturation import saturation_report
from rnnviz.insight.trace import Trace, run_trace
from rnnviz.insight.units import rank_units, selectivity, unit_activation

__all__ = [
    "Trace", "run_trace", "StepJacobians", "step_jacobians", "product_norms", "step_singular_values",
    "classify_steps", "output_scores", "output_gradients", "lag_medians", "memory_horizon",
    "pascanu_bound", "state_norms", "saturation_report", "unit_activation", "selectivity", "rank_units",
    "inspect_tokens", "sample_inspected", "sample_saliency", "RunStats", "Finding", "diagnose", "readout_curve",
    "task_readout_curve",
]
