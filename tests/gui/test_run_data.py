"""The window's own copy of the history: smoothing is right, long runs take bounded memory."""

import numpy as np

from rnnviz.gui.run_data import GradientImage, RunData, ema_blocks
from rnnviz.training.series import StridedRows


def test_debiased_ema_matches_the_textbook_loop_and_continues_incrementally():
    rng = np.random.default_rng(0)
    x = rng.random(5000)
    for beta in (0.0, 0.5, 0.9, 0.999):
        expected, e = [], 0.0
        for t, v in enumerate(x):
            e = beta * e + (1 - beta) * v
            expected.append(e / (1 - beta ** (t + 1)) if beta else v)
        np.testing.assert_allclose(ema_blocks(x, beta)[0], expected, rtol=1e-10, atol=1e-12)
        head, state = ema_blocks(x[:1234], beta)
        tail, _ = ema_blocks(x[1234:], beta, state)
        np.testing.assert_allclose(np.concatenate([head, tail]), expected, rtol=1e-10, atol=1e-12)


def test_ema_skips_non_finite_values():
    out, _ = ema_blocks(np.array([1.0, np.nan, 3.0]), 0.5)
    assert np.isfinite(out).all()
    assert out[1] == out[0]


def test_gradient_rows_stay_bounded_and_keep_every_kth_step():
    rows = StridedRows(64)
    for start in range(1, 10_001, 100):
        steps = np.arange(start, start + 100, dtype=float)
        rows.add(steps, {"all": steps * 2, "Waa": steps})
    assert len(rows) <= 64
    assert np.all(rows.steps % rows.stride == 0)
    np.testing.assert_array_equal(rows.column("all"), rows.steps * 2)
    assert rows.steps[-1] >= 10_000 - rows.stride


def test_gradient_image_has_bounded_width_and_spans_all_steps():
    image = GradientImage(width=32)
    for start in range(1, 5001, 50):
        steps = np.arange(start, start + 50, dtype=float)
        image.add(steps, np.tile(np.log10(steps)[:, None], (1, 7)))
    img, first, last = image.image()
    assert img.shape[0] <= 33 and img.shape[1] == 7
    assert (first, last) == (1.0, 5000.0)
    assert np.all(np.diff(img[:, 0]) > 0)        # columns in training order


def test_loss_envelope_is_bounded_and_keeps_every_extreme():
    from rnnviz.gui.run_data import LossEnvelope

    rng = np.random.default_rng(1)
    values = rng.random(100_000)
    values[77_777] = 50.0                        # one spike must stay visible
    env = LossEnvelope(max_buckets=1024)
    for start in range(0, values.size, 997):
        chunk = values[start:start + 997]
        env.extend(np.arange(start + 1, start + 1 + chunk.size), chunk)
    assert len(env) <= 1024 and env.size == 128
    full = env.n * env.size
    assert env.hi.max() == 50.0
    np.testing.assert_allclose(env.mean, values[:full].reshape(env.n, env.size).mean(axis=1))
    np.testing.assert_array_equal(env.lo, values[:full].reshape(env.n, env.size).min(axis=1))
    np.testing.assert_array_equal(env.x, np.arange(1, full + 1, env.size))
    assert env.last == values[-1]


def test_window_keeps_per_parameter_gradient_norms_of_every_kth_step_from_snapshots():
    """What the gradient panel draws from snapshots: for each kept step, the largest and the smallest
    norm per parameter over the steps it stands for, and an envelope holding every step's global
    norm, however many snapshots and stride doublings it took (in the trainer's History and in the
    window's own rows): neither a spike nor a dip is thinned away. And every step's loss, in order."""
    from rnnviz.gui.run_data import RunData
    from rnnviz.training.history import BlockReader, History

    rng = np.random.default_rng(3)
    n_steps, names = 9_000, ("Wax", "Waa", "ba")
    norms = (rng.random((n_steps + 1, len(names))) + 0.1).astype(np.float32)   # as History keeps them
    losses = rng.random(n_steps + 1)
    history = History(names, T=4, max_rows=512)
    reader = BlockReader(history)
    data = RunData()
    data.gradient_norms = StridedRows(256, np.float64, peaks=True)
    data.gradient_norms_min = StridedRows(256, np.float64, troughs=True)
    norms[4321] = [1e-7, 5.0, 2.0]      # one step whose Wax gradient nearly vanished
    step = snapshots = 0
    while step < n_steps:
        for _ in range(min(int(rng.integers(1, 400)), n_steps - step)):
            step += 1
            history.record_step(step, losses[step], None, np.full(4, step, float), dict(zip(names, norms[step])))
        data.add_block(reader.take())
        snapshots += 1
    assert reader.take() is None           # nothing new: nothing sent
    assert snapshots > 20 and history.stride == 32
    rows = data.gradient_norms
    assert rows.stride == 64 and len(rows) <= 256
    kept = rows.steps.astype(int)
    np.testing.assert_array_equal(kept, np.arange(rows.stride, n_steps + 1, rows.stride))
    def peak(first, width):
        return norms[first:min(first + width, n_steps + 1)].max(axis=0)

    def trough(first, width):
        return norms[first:min(first + width, n_steps + 1)].min(axis=0)

    lows = data.gradient_norms_min
    np.testing.assert_array_equal(lows.steps, rows.steps)
    for j, name in enumerate(names):
        np.testing.assert_array_equal(rows.column(name), [peak(s, rows.stride)[j] for s in kept])
        np.testing.assert_array_equal(lows.column(name), [trough(s, rows.stride)[j] for s in kept])
    assert lows.column("Wax").min() == np.float32(1e-7)        # the dip survives
    # the global norm: at least the largest of any step in the interval (no spike lost), at most
    # what the per-parameter peaks allow
    global_norm = np.sqrt((norms.astype(float) ** 2).sum(axis=1))
    for s, value, low in zip(kept, rows.column("all"), lows.column("all")):
        assert global_norm[s:s + rows.stride].max() <= value * (1 + 1e-12)
        assert low <= global_norm[s:s + rows.stride].min() * (1 + 1e-12)
        assert value <= np.sqrt((peak(s, rows.stride).astype(float) ** 2).sum()) * (1 + 1e-12)
    np.testing.assert_array_equal(data.loss.x, np.arange(1, n_steps + 1))
    np.testing.assert_array_equal(data.loss.mean, losses[1:].astype(np.float32))
    # the gradient image spans every step, from rows at the History's stride
    _, first, last = data.gradient_image.image()
    assert (first, last) == (1.0, float(n_steps - n_steps % history.stride))
    np.testing.assert_array_equal(data.latest_grad_a, np.full(4, last))


def test_samples_keep_arriving_once_the_history_holds_its_200(monkeypatch):
    """A long run, or a reopened session with 200 samples: every new sample reaches the window
    (the worker found new ones by slicing the History's list from its length, which stops growing
    at the cap). The worker runs in this thread here, so its snapshots arrive directly."""
    import rnnviz.gui.worker as worker_module
    from rnnviz.gui.run_data import RunData
    from rnnviz.gui.worker import TrainingWorker
    from rnnviz.training.config import Config
    from rnnviz.training.history import MAX_SAMPLES
    from rnnviz.training.trainer import Trainer

    monkeypatch.setattr(worker_module, "MIN_SAMPLE_INTERVAL", 0.0)
    monkeypatch.setattr(worker_module, "SAMPLE_BUDGET", 1e9)       # a sample at every chance
    text = "the quick brown fox jumps over the lazy dog. " * 200
    trainer = Trainer(Config(task="charlm", seq_length=8, hidden=8, sample_every=1, sample_length=5,
                             eval_every=10_000), corpus_text=text)
    for i in range(MAX_SAMPLES):                                      # the list is full already
        trainer.history.record_sample(0, f"old {i}")
    data = RunData()
    data.load_history(trainer.history, trainer.step_count, trainer.task.chance_loss())
    assert len(data.samples) == MAX_SAMPLES
    data.new_samples.clear()
    worker = TrainingWorker(trainer, max_steps=30, emit_interval=0.0)
    snapshots = []
    worker.snapshot_ready.connect(snapshots.append)
    worker.run()
    for snapshot in snapshots:
        data.add_snapshot(snapshot)
    assert [step for step, _ in data.new_samples] == list(range(1, 31))
    assert data.samples[-30:] == trainer.history.samples[-30:]
    assert len(data.samples) == len(trainer.history.samples) == MAX_SAMPLES
    assert data.chance_loss == trainer.task.chance_loss() and snapshots[-1].chance_loss == data.chance_loss


def test_a_stacked_runs_layer_rows_fill_one_image_per_upper_layer():
    """Rows (R, L, T) of ||dL/da[l]<t>||: layers 2 … L get their own image over training (layer 1's
    is the History's ``gradient_image``); a row sent twice is taken once."""
    data = RunData()
    steps = np.arange(1, 11)
    norms = np.stack([np.full((3, 4), 10.0 ** -s) for s in steps])            # (R=10, L=3, T=4)
    norms[:, 1] *= 10
    data.add_layer_rows(steps, norms)
    data.add_layer_rows(steps[-2:], norms[-2:])
    assert data.layer_image(1) is data.gradient_image and sorted(data.layer_images) == [2, 3]
    img, first, last = data.layer_image(2).image()
    assert (first, last) == (1.0, 10.0) and img.shape == (10, 4)
    np.testing.assert_allclose(img[:, 0], np.log10(norms[:, 1, 0]))
    np.testing.assert_allclose(data.layer_image(3).image()[0][:, 0], np.log10(norms[:, 2, 0]))
    assert data.layer_image(4) is None
    data.clear()
    assert data.layer_images == {} and data.latest_layer_grad_a is None
