"""Why a recurrent network learns or fails (issue 17): pure NumPy computations on a network's
weights and one probe sequence, shared by ``rnnviz explain`` and the window. No Qt here.

Modules: ``trace`` (the forward pass kept in float64), ``jacobians`` (one-step Jacobians per
cell, their products and spectrum), ``saliency`` (output scores, saliency over the inputs,
gradient from one output), ``memory`` (memory horizon, Pascanu's bound).
"""
