"""A stacked run in the window: the gradient-flow panel's layer selector and per-layer view."""

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
    assert panel.layer == 1
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
