"""Callbacks, history, progress output and Ctrl-C."""
import csv
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import child_kwargs

import fastnn as fn


def data(n=96, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 5)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def model(lr=1e-2, **kw):
    m = fn.Sequential([fn.Dense(5, 16, activation="relu"), fn.Dense(16, 2)], seed=0)
    m.compile(optimizer=fn.Adam(lr), loss="softmax_cross_entropy", metrics=["accuracy"], **kw)
    return m


def test_callback_hooks_are_called_in_order():
    calls = []

    class Spy(fn.Callback):
        def on_train_begin(self, logs=None): calls.append("begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"e{epoch}")
        def on_train_batch_end(self, step, logs=None): calls.append("b")
        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"end{epoch}:{sorted(logs)}")
        def on_train_end(self, logs=None): calls.append("finish")

    X, y = data()
    model().fit(X, y, epochs=2, batch_size=32, validation_split=0.25, callbacks=[Spy()],
                verbose=0)
    assert calls[0] == "begin" and calls[-1] == "finish"
    assert calls[1] == "e0" and "b" in calls
    assert "end0:['accuracy', 'loss', 'val_accuracy', 'val_loss']" in calls


def test_early_stopping_restores_best_weights():
    X, y = data()
    m = model(lr=0.3)
    seen = []

    class Record(fn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["val_loss"], m.get_weights()))

    es = fn.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = m.fit(X, y, epochs=200, batch_size=16, validation_split=0.3, callbacks=[Record(), es],
              verbose=0)
    assert len(h.epoch) < 200 and es.stopped_epoch is not None
    best = int(np.argmin([v for v, _ in seen]))
    assert es.best_epoch == best
    for a, b in zip(m.get_weights(), seen[best][1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_falls_back_to_loss_without_validation():
    X, y = data()
    with pytest.warns(UserWarning, match="monitoring 'loss'"):
        model().fit(X, y, epochs=3, batch_size=32, callbacks=[fn.EarlyStopping()], verbose=0)


def test_model_checkpoint_saves_best_only(tmp_path):
    X, y = data()
    path = str(tmp_path / "best-{epoch:02d}.fnn")
    model().fit(X, y, epochs=4, batch_size=32, validation_split=0.25, verbose=0,
                callbacks=[fn.ModelCheckpoint(path, save_best_only=True)])
    files = sorted(os.listdir(tmp_path))
    assert files and files[0] == "best-01.fnn"
    loaded = fn.load_model(tmp_path / files[-1])
    assert loaded.count_params() == 5 * 16 + 16 + 16 * 2 + 2


def test_learning_rate_scheduler_sets_lr_each_epoch():
    X, y = data()
    m = model()
    lrs = []

    class Spy(fn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            lrs.append(m.optimizer.lr)

    m.fit(X, y, epochs=3, batch_size=32, verbose=0,
          callbacks=[fn.LearningRateScheduler(lambda e, lr: 0.1 * 0.5 ** e), Spy()])
    assert lrs == [0.1, 0.05, 0.025]


def test_reduce_lr_on_plateau_follows_keras_rule():
    m = model(lr=0.2)
    cb = fn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1,
                              min_lr=0.03, min_delta=0)
    cb.set_model(m)
    cb.on_train_begin()
    lrs = []
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.95, 0.96, 0.97]):
        cb.on_epoch_end(epoch, {"loss": loss})
        lrs.append(m.optimizer.lr)
    # no gain for 2 epochs: halve, skip 1 epoch (cooldown), count again; floor 0.03
    assert lrs == [0.2, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03, 0.03]


def test_reduce_lr_on_plateau_trains_as_the_same_schedule():
    """The reduced rate is the one the next epoch's steps use (the compiled plan reads
    it), so training equals a LearningRateScheduler giving the same rates."""
    X, y = data()
    seen = []
    a = model()
    ha = a.fit(X, y, epochs=4, batch_size=32, verbose=0, callbacks=[
        fn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100.0),
        fn.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(a.optimizer.lr))])
    assert seen == [0.01, 0.01, 0.005, 0.0025]
    b = model()
    hb = b.fit(X, y, epochs=4, batch_size=32, verbose=0,
               callbacks=[fn.LearningRateScheduler(lambda e, lr: seen[e])])
    np.testing.assert_array_equal(a.params, b.params)
    # as Keras: the History holds the rate each epoch trained with
    assert ha.history["learning_rate"] == hb.history["learning_rate"] == seen
    assert ha.history["loss"] == hb.history["loss"]
    c = model()
    c.fit(X, y, epochs=4, batch_size=32, verbose=0)
    assert not np.array_equal(a.params, c.params)


def test_reduce_lr_on_plateau_and_lambda_callback_refuse_bad_settings():
    for kw in ({"factor": 1.0}, {"factor": 0.0}, {"patience": -1}, {"min_lr": -1.0},
               {"cooldown": -2}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            fn.ReduceLROnPlateau(**kw)
    with pytest.raises(TypeError, match="factor"):
        fn.ReduceLROnPlateau(factor="half")
    X, y = data()
    m = fn.Sequential([fn.Dense(5, 2)])
    m.compile(optimizer=fn.SGD(fn.StepDecay(0.1, 10, 0.5)), loss="softmax_cross_entropy")
    with pytest.raises(TypeError, match="schedule"):
        m.fit(X, y, epochs=1, verbose=0, callbacks=[fn.ReduceLROnPlateau(monitor="loss")])
    with pytest.raises(TypeError, match="on_batch_begin"):
        fn.LambdaCallback(on_batch_begin=print)
    with pytest.raises(TypeError, match="callable"):
        fn.LambdaCallback(on_epoch_end=3)


def test_lambda_callback_calls_its_functions():
    X, y = data()
    calls = []
    cb = fn.LambdaCallback(on_train_begin=lambda logs: calls.append("begin"),
                           on_epoch_end=lambda epoch, logs: calls.append((epoch, "loss" in logs)),
                           on_train_end=lambda logs: calls.append("end"))
    model().fit(X, y, epochs=2, batch_size=32, verbose=0, callbacks=[cb])
    assert calls == ["begin", (0, True), (1, True), "end"]


def test_terminate_on_nan_and_csv_logger(tmp_path):
    X, y = data()
    log = tmp_path / "log.csv"
    m = model()
    m.fit(X, y, epochs=3, batch_size=32, verbose=0, callbacks=[fn.CSVLogger(log),
                                                               fn.TerminateOnNaN()])
    rows = list(csv.DictReader(open(log)))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and "accuracy" in rows[0]


def test_progress_bar_reports_loss_metrics_and_throughput(capsys):
    X, y = data()
    model().fit(X, y, epochs=2, batch_size=32, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "3/3 [" in out and "loss:" in out and "accuracy:" in out and "samples/s" in out


CTRL_C = textwrap.dedent("""
    import numpy as np, fastnn as fn, sys
    X = np.random.default_rng(0).standard_normal((4096, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    m = fn.Sequential([fn.Dense(64, 256, activation="relu"), fn.Dense(256, 2)], seed=0)
    m.compile(optimizer="adam", loss="softmax_cross_entropy", metrics=["accuracy"])
    class Ready(fn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                print("READY", flush=True)
    h = m.fit(X, y, epochs=100000, batch_size=32, verbose=0, callbacks=[Ready()])
    assert np.isfinite(m.params).all()
    assert m.optimizer.iterations == m._step
    print("RETURNED", len(h.epoch), m.optimizer.iterations, flush=True)
""")


def test_ctrl_c_stops_at_a_step_boundary_and_returns_history():
    p = subprocess.Popen([sys.executable, "-c", CTRL_C], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **child_kwargs())
    try:
        assert p.stdout.readline().strip() == "READY"
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, err
    assert "RETURNED" in out and "interrupted" in err


def test_monitor_fallback_lasts_one_fit():
    """Without validation data val_loss falls back to loss; a later fit with validation
    data watched the training loss for good (EarlyStopping, ModelCheckpoint and
    ReduceLROnPlateau share this)."""
    X, y = data()
    m = model()
    cb = fn.ReduceLROnPlateau(patience=100)
    with pytest.warns(UserWarning, match="monitoring 'loss' for this fit"):
        m.fit(X, y, epochs=1, verbose=0, callbacks=[cb])
    assert cb.monitor == "val_loss"
    m.fit(X, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[cb])
    assert cb.best == m.history.history["val_loss"][np.argmin(m.history.history["val_loss"])]


def test_callbacks_that_began_end_when_a_later_one_refuses_to_begin(tmp_path):
    X, y = data()
    m = fn.Sequential([fn.Dense(5, 2)])
    m.compile(optimizer=fn.SGD(fn.StepDecay(0.1, 10)), loss="softmax_cross_entropy")
    ends = []
    with pytest.raises(TypeError, match="schedule"):
        m.fit(X, y, epochs=1, verbose=0, callbacks=[
            fn.LambdaCallback(on_train_end=lambda logs: ends.append("first")),
            fn.ReduceLROnPlateau(monitor="loss"),
            fn.LambdaCallback(on_train_end=lambda logs: ends.append("never began"))])
    assert ends == ["first"]


def test_progress_shows_small_values_in_exponent_form():
    """A learning rate of 1e-5 printed as 'learning_rate: 0.0000' (Keras switches to the
    exponent form below 1e-3)."""
    from fastnn.callbacks import _fmt_logs
    assert _fmt_logs({"loss": 0.25, "learning_rate": 1e-5, "acc": 0.0}) == \
        "loss: 0.2500 - learning_rate: 1.0000e-05 - acc: 0.0000"
