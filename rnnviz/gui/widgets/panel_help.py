""""What am I looking at?": one explanation per panel, for students of the course.

The one place these texts live: the "?" button in each panel's title and Help ▸ What am I
looking at? both show them. Notation as in the course: a<t> the hidden state after step t,
Wax, Waa, Wya, ba, by the parameters, BPTT backpropagation through time.
"""

from __future__ import annotations

from typing import NamedTuple


class PanelHelp(NamedTuple):
    title: str      # the panel's title, as its frame shows it
    tab: str        # its tab's title, when the window is too small for four panels side by side
    text: str       # rich text (Qt's HTML subset)


START_HINT = "Press Start (Space) to train"

PANEL_HELP = {
    "cost": PanelHelp("Cost", "Cost", """
<p><b>What it shows.</b> The loss <i>L</i> after every training step. The faint blue band spans the
lowest to the highest loss of the steps in each pixel column (one step's loss is noisy: each step
sees a different batch). The dark line is a smoothed average of the band: read that one.
The orange dots, on the right axis, are measured on held-out examples the network never trains
on: accuracy, or bits per character for the character model.</p>
<p><b>The red dashed line</b> is chance: the loss of the best guess that ignores the input (for
parity ln 2 ≈ 0.693 per sequence). A curve sitting on it has learned nothing from the input yet.
<b>Grey dashed lines</b> mark where you changed a setting while training, with what changed above
the plot.</p>
<p><b>A good picture:</b> the dark line falls well below chance and flattens; the held-out curve
improves with it. <b>Bad pictures:</b> flat at chance for thousands of steps (the gradient does not
reach far enough back: see the gradient-flow panel); spikes or a sudden jump up (the learning rate
is too high, or gradients explode: lower it or turn on clipping); training loss falling while the
held-out curve gets worse (overfitting: more data or a smaller network).</p>
<p>Try <i>log x</i> to see the first hundred steps, and <i>last 1k</i> to follow the end.</p>
"""),
    "hidden": PanelHelp("Hidden states across time", "Hidden states", """
<p><b>What it shows.</b> The hidden state <i>a</i>&lt;t&gt; = tanh(Waa·a&lt;t−1&gt; + Wax·x&lt;t&gt; + ba)
for one probe sequence: one row per hidden unit, one column per time step t, the input symbol
read at that step under each column. It is the network's memory: everything it knows about the
past at step t is in column t.</p>
<p><b>Colours.</b> Blue is negative, white 0, red positive (tanh runs from −1 to 1); sigmoid units
and gates run from 0 to 1 on their own scale. For an LSTM choose the cell state <i>c</i>&lt;t&gt;
or a gate (Γf forget, Γi input, Γo output) under <i>Show</i>; for a GRU its gates.</p>
<p><b>A good picture:</b> rows that change where the input matters (a unit that flips on every 1
in parity, one that holds a value across a copy task's lag) and a mix of colours. <b>Bad
pictures:</b> every cell deep red or deep blue (saturated units: their derivative is about 0, so
no gradient passes through them; the gradient-flow panel's "saturated units" counts them); every column
alike (the state ignores the input); all near white (the state carries almost nothing).</p>
<p><b>The strip under the map</b> (while the why-view or a probe source of the gradient-flow plot
computes its numbers): at each step t, σmax of the one-step Jacobian ∂state&lt;t&gt;/∂state&lt;t−1&gt;,
the most that step can stretch a change of the state or a gradient passing back (dashed line: 1),
and each step's class: contracting (blue), near-isometric (green), expanding (orange).</p>
"""),
    "gradient": PanelHelp("Gradient flow through time", "Gradient flow", """
<p><b>What it shows.</b> BPTT sends the error back through the time steps: ‖∂L/∂a&lt;t&gt;‖ is how
much the loss would change if the hidden state at step t changed, that is, how loudly step t
hears about the error. Left: at every time step t of the latest training step, on a log axis.
Middle: the same over training (one column per step, time steps upwards, bright = large).
Below: the norm of the gradient of each parameter (Wax, Waa, ba, Wya, by) per training step, with
the clipping threshold when clipping by norm.</p>
<p><b>Left plot</b> chooses what the left plot shows. <i>All losses</i>: the training batch's gradient,
every output's loss summed (on copy, whose loss sits at the end, or a character model with a loss at
every step, the sum hides how far one loss reaches). <i>Loss of one output τ</i>: on the probe
sequence, ‖∂L&lt;τ&gt;/∂a&lt;t&gt;‖ for t ≤ τ from that output's loss alone. <i>Recurrence</i>: the
largest singular value of ∂a&lt;τ&gt;/∂a&lt;t&gt;, what the recurrence alone carries from step t to τ,
with Pascanu et al.'s bound (γ·σmax(Waa))^(τ−t) for a vanilla RNN (dotted) and, for the LSTM, the
a→a and c→c blocks. Pick τ in the list or click the plot near it. The probe sources are computed
every few seconds while training runs.</p>
<p><b>The spectral radius of Waa</b> (its largest |eigenvalue|) says roughly what happens on the
way back: each step multiplies the gradient by Waaᵀ and by the activation's derivative. Below 1
(and with saturated units) the gradient tends to shrink over many steps: it <i>vanishes</i>. Above
1 it may grow: it <i>explodes</i>. Strictly, vanishing is certain only when the largest
<i>singular value</i> of Waa is below 1 (for tanh; below 4 for sigmoid; Pascanu, Mikolov &amp;
Bengio 2013): a Waa with spectral radius below 1 can still grow a gradient for tens of steps
before it decays.</p>
<p><b>A good picture:</b> a fairly flat line on the left: early steps still get a gradient, so the
network can learn what happened long ago. <b>Bad pictures:</b> a line falling by orders of
magnitude towards t = 1 (vanishing: a vanilla RNN cannot learn long dependencies; try an LSTM or
GRU, or shorter sequences); a line rising steeply, or spikes in the parameter norms (exploding:
clip the gradient or lower the learning rate).</p>
"""),
    "sampling": PanelHelp("Samples and predictions", "Samples", """
<p><b>What it shows.</b> For the character model: text the network writes one character at a
time, each drawn from its predicted distribution and fed back as the next input. The newest
sample is on top, with the step it was drawn at; bold is the priming text you typed.
<i>Temperature</i> sharpens (below 1) or flattens (above 1) the distribution.</p>
<p>For the other tasks: the network's answers on held-out examples, as
<tt>input → prediction (target) ✓/✗</tt>.</p>
<p><b>A good picture:</b> samples go from random characters to words, then to the corpus's
spelling and layout; answers turn from ✗ to ✓. <b>Bad pictures:</b> the same few characters over
and over (temperature too low, or the model stuck at letter frequencies); answers that stay ✗
while the loss falls (it learns the easy part only, such as the low bits of a sum).</p>
"""),
}
