"""The recurrent product's two forms (cells.TALL_PRODUCT): same values, whichever is taken."""

import numpy as np
import pytest

from rnnviz.engine import Network, NetworkSpec, cells


def test_the_tall_form_is_taken_where_measured_faster():
    """float32 steps at batch 4-64 whose gate width is at least 512 and 16 per example."""
    f32 = np.float32
    assert cells.tall_form(32, 1024, f32) and cells.tall_form(64, 1024, f32) and cells.tall_form(4, 512, f32)
    assert not cells.tall_form(64, 512, f32)            # (measured slower: 1.02-1.27x)
    assert not cells.tall_form(1, 1024, f32) and not cells.tall_form(128, 4096, f32)
    assert not cells.tall_form(32, 1024, np.float64) and not cells.tall_form(32, 256, f32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, K, M", [(1, 100, 400), (4, 256, 1024), (32, 256, 1024), (32, 64, 256),
                                     (64, 128, 512), (65, 256, 1024), (1600, 256, 1024)])
@pytest.mark.parametrize("with_out", [False, True])
def test_times_transposed_is_a_times_W_transposed(dtype, N, K, M, with_out):
    rng = np.random.default_rng(N * 7 + K)
    a, W = rng.standard_normal((N, K)).astype(dtype), rng.standard_normal((M, K)).astype(dtype)
    out = np.full((N, M), np.nan, dtype=dtype) if with_out else None
    got = cells.times_transposed(a, W, out=out)
    if with_out:
        assert got is out
    assert got.shape == (N, M) and got.dtype == dtype
    expected = a.astype(np.float64) @ W.astype(np.float64).T
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.sqrt(K))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "gru_torch"])
def test_a_float32_training_pass_agrees_with_the_switch_off(cell, monkeypatch):
    """Batch 32, gate width 1024 (512 for the RNN): inside the switch's range. Loss, every
    gradient and the final state agree with every product taken as a Wᵀ, to float32 rounding."""
    hidden = 512 if cell == "rnn" else 256
    assert cells.tall_form(32, hidden * {"rnn": 1, "lstm": 4}.get(cell, 3), np.float32)
    spec = NetworkSpec(cell, 20, hidden, 20, input_kind="tokens", dtype="float32")
    rng = np.random.default_rng(3)
    net = Network.create(spec, np.random.default_rng(1), "xavier")
    x, y = rng.integers(0, 20, (12, 32)), rng.integers(0, 20, (12, 32))
    runs = []
    for switch in (cells.TALL_PRODUCT, None):
        monkeypatch.setattr(cells, "TALL_PRODUCT", switch)
        loss, grads, result = net.loss_and_grads(x, y)
        runs.append((loss, grads.flat.copy(), result.final_state["a"]))
    assert cells.TALL_PRODUCT is None and runs[0][0] == pytest.approx(runs[1][0], rel=1e-5)
    for tall, wide in zip(runs[0][1:], runs[1][1:]):
        np.testing.assert_allclose(tall, wide, rtol=1e-3, atol=1e-5)
