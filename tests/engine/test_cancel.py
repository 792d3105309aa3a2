"""A pass polls its cancel check once per time step and stops with ``Cancelled``."""

import numpy as np
import pytest

from rnnviz.engine import Cancelled, Network, NetworkSpec


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("stop_after", [0, 5, 11])        # in the forward pass, or in BPTT
def test_cancel_stops_forward_and_backward_passes(cell, stop_after):
    T, N = 8, 3
    spec = NetworkSpec(cell, 4, 6, 4, input_kind="tokens")
    net = Network.create(spec, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 4, (T, N)), rng.integers(0, 4, (T, N))
    before = net.params.copy()
    polls = []

    def check():
        polls.append(len(polls))
        return len(polls) > stop_after

    with net.cancellable(check):
        with pytest.raises(Cancelled):
            net.loss_and_grads(x, y)
    assert len(polls) == stop_after + 1                      # stopped at the first True
    np.testing.assert_array_equal(net.params.flat, before.flat)
    assert net.cancel is None
    polls.clear()
    net.loss_and_grads(x, y)                                 # outside the block: not polled
    assert polls == []


def test_a_check_that_never_fires_is_polled_every_time_step_and_changes_nothing():
    T = 7
    spec = NetworkSpec("rnn", 3, 5, 2, readout="sigmoid", many_to_one=True)
    net = Network.create(spec, np.random.default_rng(0))
    x = np.random.default_rng(2).standard_normal((T, 4, 3))
    y = np.ones((4, 2))
    plain = net.loss_and_grads(x, y)
    polls = []
    with net.cancellable(lambda: polls.append(1) and False):
        polled = net.loss_and_grads(x, y)
    assert len(polls) == 2 * T                               # forward and backward
    assert polled[0] == plain[0]
    np.testing.assert_array_equal(polled[1].flat, plain[1].flat)
