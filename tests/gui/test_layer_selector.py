"""A stacked run in the window: the gradient-flow panel's layer selector and per-layer view."""

import re

import numpy as np
import pytest

from conftest import small_config


def trained_window(qtbot, make_window, steps=20, **changes):
    window = make_window(small_config(layers=2, **changes))
    window.resize(1600, 1000)
    window.controller.start(max_steps=steps)
    qtbot.waitUntil(lambda: not window.controller.is_running, timeout=20_000)
    window.render_now()
    return window


def test_a_one_layer_run_has_no_layer_selector_nor_per_layer_view(qtbot, make_window):
    window = make_window()
    panel = window.gradient_panel
    assert panel.layers == 1
    assert not panel.layer_box.isVisibleTo(panel)
    assert panel.source_box.findData("layers") < 0
    with pytest.raises(ValueError, match="stacked"):
        panel.set_source("layers")


def test_the_per_layer_view_draws_one_labelled_curve_per_layer(qtbot, make_window):
    window = trained_window(qtbot, make_window)
    panel, data = window.gradient_panel, window.controller.data
    assert panel.layer_box.isVisibleTo(panel) and panel.layer_box.count() == 2
    panel.source_box.setCurrentIndex(panel.source_box.findData("layers"))
    panel.source_box.activated.emit(panel.source_box.currentIndex())
    assert panel.source == "layers" and not panel.wants_insight
    assert [c.opts["name"] for c in panel.layer_curves] == ["layer 1", "layer 2"]
    title = panel.latest.titleLabel.text
    assert "layer 1" in title and "layer 2" in title and f"step {data.step:,}" in title
    assert "∂a[l]" in panel.latest.getAxis("left").labelText and panel.latest.ctrl.logYCheck.isChecked()
    for layer, curve in enumerate(panel.layer_curves):
        x, y = curve.getData()
        np.testing.assert_array_equal(x, np.arange(1, 9))
        np.testing.assert_allclose(10 ** y, data.latest_layer_grad_a[layer])   # (log-mode data)
    # the gradient reaching the bottom layer went through the top one: the batch's curves are layer 1's
    np.testing.assert_array_equal(data.latest_layer_grad_a[0], data.latest_grad_a)


def test_the_layer_selector_switches_the_image_and_the_batch_curve(qtbot, make_window):
    window = trained_window(qtbot, make_window)
    panel, data = window.gradient_panel, window.controller.data
    assert panel.layer == 2                    # the top layer, which the readout reads
    panel.layer_box.setCurrentIndex(0)
    panel.layer_box.activated.emit(0)
    assert panel.layer == 1
    assert "a[1]" in panel.over_time.titleLabel.text and "a[1]" in panel.latest.titleLabel.text
    _, y = panel.latest_a.getData()
    np.testing.assert_allclose(10 ** y, data.latest_grad_a)                    # layer 1's: the History's
    layer1_image = np.array(panel.image.image)
    panel.layer_box.setCurrentIndex(1)
    panel.layer_box.activated.emit(1)
    assert panel.layer == 2
    assert "a[2]" in panel.over_time.titleLabel.text
    assert "a[2]" in panel.latest.titleLabel.text and "a[2]" in panel.latest.getAxis("left").labelText
    _, y = panel.latest_a.getData()
    np.testing.assert_allclose(10 ** y, data.latest_layer_grad_a[1])
    # every layer's image over training: the same steps, layer 2's own numbers
    assert panel.image.image.shape == layer1_image.shape
    assert not np.allclose(panel.image.image, layer1_image)
    assert data.layer_images[2].last_step == data.gradient_image.last_step == data.step
    # a one-layer run next: back to layer 1, no selector
    window.controller.reset(small_config())
    window.render_now()
    assert panel.layers == 1 and panel.layer == 1 and not panel.layer_box.isVisibleTo(panel)


def test_the_why_dock_and_the_gradient_panel_share_one_layer_choice(qtbot, make_window):
    """The why dock explains the top layer of a 2-layer run; choosing layer 1 there (or in the
    gradient panel) switches both, and the numbers drawn are layer 1's: its states, as the engine
    computes them, in the why-views and in the gradient panel's probe source."""
    window = trained_window(qtbot, make_window)
    c, panel = window.controller, window.gradient_panel
    window.show_why()
    qtbot.waitUntil(lambda: c.data.insight is not None, timeout=10_000)
    assert window.why_layer_row.isVisibleTo(window) and window.why_layer_box.count() == 2
    assert c.data.insight.layer == 2 and window.why_layer_box.layer == panel.layer == 2
    window.why_layer_box.setCurrentIndex(0)
    window.why_layer_box.activated.emit(0)
    assert panel.layer == 1 and c.insight_layer == 1
    qtbot.waitUntil(lambda: c.data.insight is not None and c.data.insight.layer == 1, timeout=10_000)
    li = c.data.insight
    assert li.states["a"].shape[1] == c.config.hidden
    panel.set_source("output")
    window.render_now()
    assert "a[1]" in panel.latest.titleLabel.text
    tau = panel.tau
    _, y = panel.latest_a.getData()
    np.testing.assert_allclose(10 ** y, li.grad_a[tau, :tau + 1], rtol=1e-12)
    # the gradient panel's selector moves the why dock's
    panel.layer_box.setCurrentIndex(1)
    panel.layer_box.activated.emit(1)
    assert window.why_layer_box.layer == 2 and c.insight_layer == 2
    qtbot.waitUntil(lambda: c.data.insight is not None and c.data.insight.layer == 2, timeout=10_000)
    window.render_now()
    assert "a[2]" in panel.latest.titleLabel.text


def test_a_bidirectional_run_draws_each_directions_gradient(qtbot, make_window):
    """The reverse direction reads from the last step back: the panel draws its ‖∂L/∂←a⟨t⟩‖ (dash-dot)
    beside the forward one's, for the chosen layer and in the per-layer view, as the engine computed them."""
    window = trained_window(qtbot, make_window, bidirectional=True)
    panel, data = window.gradient_panel, window.controller.data
    reverse = data.latest_reverse_grad_a
    assert reverse is not None and reverse.shape == data.latest_layer_grad_a.shape
    x, y = panel.latest_reverse.getData()
    np.testing.assert_allclose(10 ** y, reverse[1])            # (log10 in a log plot)                     # the top layer, chosen by default
    assert "reverse" in panel.latest.titleLabel.text
    panel.set_layer(1)
    np.testing.assert_allclose(10 ** panel.latest_reverse.getData()[1], reverse[0])
    panel.set_source("layers")
    assert [c.opts["name"] for c in panel.layer_reverse_curves] == ["layer 1, reverse", "layer 2, reverse"]
    for row, curve in zip(reverse, panel.layer_reverse_curves):
        np.testing.assert_allclose(10 ** curve.getData()[1], row)
    panel.set_source("all")
    window.controller.reset(window.controller.config.replace(bidirectional=False))
    window.render_now()
    assert window.controller.data.latest_reverse_grad_a is None
    assert panel.latest_reverse.getData()[1] is None or len(panel.latest_reverse.getData()[1]) == 0


def test_an_upper_layers_caption_says_what_it_reads():
    """Layer 2 reads layer 1's states; in a bidirectional network both directions' of layer 1, and its
    reverse direction says it reads the sequence backwards."""
    from rnnviz.gui.panels.hidden_states import explain_state

    one_way = explain_state("layer 2: hidden a[2]<t>")
    assert "reads layer 1's hidden states" in one_way and "both directions" not in one_way
    both = explain_state("layer 2: hidden a[2]<t>", bidirectional=True)
    assert "both directions' hidden states of layer 1" in both and "reverse direction" not in both
    backwards = explain_state("layer 2, reverse: hidden a[2]<t>", bidirectional=True)
    assert "both directions" in backwards and "reverse direction" in backwards


def test_a_many_parameter_network_fits_the_gradient_panel(qtbot, make_window):
    """A 2-layer bidirectional LSTM has 14 parameter names and long plot titles: at 1600 x 1000 they
    wrap onto more lines, and every plot and the colour bar stay inside the panel's view (they used
    to widen the layout past it, 757 px in a 689-px view, and be cut off on the right)."""
    window = trained_window(qtbot, make_window, cell="lstm", bidirectional=True)
    panel = window.gradient_panel
    qtbot.wait(200)                                          # (the layout settles after the render)
    assert panel.isVisible()
    view_width = panel.graphics.width()
    layout = panel.graphics.ci
    assert layout.size().width() <= view_width + 1
    for item in (panel.latest, panel.over_time, panel.colorbar, panel.params, panel.params_legend):
        right = item.mapRectToScene(item.boundingRect()).right()
        assert right <= view_width + 1, f"{type(item).__name__} ends at {right:.0f} px of {view_width}"
    names = window.controller.trainer.network.params.keys()
    shown = re.findall(r"━\s(\S+)", panel.params_legend.text)
    assert len(names) == 14 and sorted(shown) == sorted([*names, "all"])
