"""The training loop: ``fit`` and ``train_on_batch`` for ``Sequential``.

Steps run in chunks; callbacks and the progress bar run between chunks. When every
layer is built in, a chunk runs in the compiled C plan (``fastnn._train``) with the GIL
released; otherwise each step goes through the layers' Python ``forward``/``backward``.
"""
import contextlib
import math
import numbers
import signal
import sys
import threading
import time
import warnings

import numpy as np

from fastnn import _checks
from fastnn import callbacks as C
from fastnn._data import check_positive_int, check_sample_weight, check_x, check_y, keras_x

_BUSY_LOCK = threading.Lock()      # guards every model's _busy flag

__all__ = ["FitMixin"]

CHUNK_SECONDS = 0.25      # target wall time between progress/callback updates


class DivergedError(FloatingPointError):
    """Training produced a non-finite loss; the weights are those of the last good step."""


class _Stats:
    """Running sums for the epoch's training loss and metrics (weighted by batch size)."""

    def __init__(self, metric_names):
        self.n, self.loss = 0, 0.0
        self.metrics = {k: 0.0 for k in metric_names}

    def add(self, n, loss, metric_values):
        self.n += n
        self.loss += n * loss
        for k, v in metric_values.items():
            self.metrics[k] += n * v

    def logs(self):
        d = max(self.n, 1)
        return {"loss": self.loss / d, **{k: v / d for k, v in self.metrics.items()}}


class _PlanStats:
    """The C plan's running sums: [loss·n, rows right (arg-max, as metrics.accuracy),
    squared error, absolute error, outputs right (as metrics.binary_accuracy)]."""

    def __init__(self, metric_names, n_outputs):
        self.sums, self.n = np.zeros(5), 0
        self.names, self.k = metric_names, n_outputs

    def logs(self):
        n, s = max(self.n, 1), self.sums
        vals = {"accuracy": s[1] / n, "binary_accuracy": s[4] / (n * self.k),
                "mse": s[2] / (n * self.k), "mae": s[3] / (n * self.k)}
        return {"loss": float(s[0] / n), **{k: float(vals[k]) for k in self.names}}


class FitMixin:
    # ---- one step through the Python layer objects ----------------------------------
    def _py_step(self, xb, yb, swb, with_metrics=True):
        self._step += 1
        for layer in self.layers:
            if hasattr(layer, "step"):
                layer.step = self._step
        z = self._forward(xb, True)
        loss, grad = self._be.loss(self.loss, z, yb, swb)
        loss = float(loss) + self._penalty()
        if not math.isfinite(loss):
            self._step -= 1
            return loss, {}
        self.grads[...] = 0
        self._backward(grad)
        self.optimizer.step(self.params, self.grads, self._be)
        if not with_metrics or not self.metrics:
            return loss, {}
        out = self._be.output(self._output_act, z)
        return loss, {name: float(fn(yb, out)) for name, fn in self.metrics}

    def _catch_sigint(self):
        """Turn Ctrl-C into a flag checked between chunks, so training stops at a step
        boundary with consistent weights and counters (main thread only)."""
        self._interrupted = False
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            self._interrupted = True

        return signal.signal(signal.SIGINT, handler)

    def _snapshot_arrays(self):
        return [self.params, self.buffers] + [self.optimizer.state[k]
                                              for k in sorted(self.optimizer.state)]

    def _snapshot_save(self):
        """Copy weights and optimizer state into one of two buffers, allocated once per fit
        (and freed when it ends).

        The other buffer keeps the start of the chunk before. A chunk's start is the
        restore point when a later step of the chunk diverges; when its very first step
        does, the start itself gave the non-finite loss, and the chunk before's start (a
        finite loss) is restored instead, unless the data may hold NaN or inf
        (``allow_nonfinite``), which the weights are then not to blame for.
        """
        arrays = self._snapshot_arrays()
        snaps = getattr(self, "_snap", None)

        def fits(snap):
            return snap is not None and len(snap[0]) == len(arrays) and all(
                d.shape == a.shape and d.dtype == a.dtype for d, a in zip(snap[0], arrays))

        if not isinstance(snaps, list) or not fits(snaps[1]):   # (or a pickle's older form)
            snaps = self._snap = [None, None]
        spare = snaps[0] if fits(snaps[0]) else ([np.empty_like(a) for a in arrays], [0, 0])
        snaps[0], snaps[1] = snaps[1], spare
        for dst, src in zip(spare[0], arrays):
            np.copyto(dst, src)
        spare[1][:] = [self.optimizer.iterations, self._step]
        self._snaps_taken += 1

    def _snapshot_restore(self, back):
        """Restore the latest snapshot, or with ``back`` the one before it if there is
        one; returns the optimizer steps it was taken after."""
        previous, latest = self._snap
        snap = previous if back and self._snaps_taken > 1 else latest
        for dst, src in zip(self._snapshot_arrays(), snap[0]):
            np.copyto(dst, src)
        self.optimizer.iterations, self._step = snap[1]
        return snap[1][0]

    @contextlib.contextmanager
    def _exclusive(self, what):
        """Mark the model busy training for the block; RuntimeError if it already is. Two
        fits on one model from two threads shared its plan and arenas and corrupted the
        heap (glibc aborted the process)."""
        with _BUSY_LOCK:
            busy = getattr(self, "_busy", None)
            if busy is not None:
                raise RuntimeError(f"cannot start {what}: {busy} is running on this model; a "
                                   "model trains in one call at a time (clone it with "
                                   "fastnn.utils.clone_model to train copies in parallel)")
            self._busy = what
        try:
            yield
        finally:
            self._busy = None

    def _check_not_busy(self, what):
        busy = getattr(self, "_busy", None)
        if busy is not None:
            raise RuntimeError(f"cannot {what} while {busy} is running on this model")

    def train_on_batch(self, x, y, sample_weight=None):
        """One optimizer step on one batch; returns ``{"loss": ..., <metric>: ...}`` measured
        on the batch before the update."""
        with self._exclusive("train_on_batch"):
            return self._train_on_batch(x, y, sample_weight)

    def _train_on_batch(self, x, y, sample_weight):
        self._require_compiled_and_build(x)
        x = check_x(x, self.dtype, self.input_shape)
        y = check_y(y, x.shape[0], self.loss, self.output_shape[0], self.dtype)
        sw = check_sample_weight(sample_weight, x.shape[0], self.dtype)
        loss, mets = self._py_step(x, y, sw)
        if not math.isfinite(loss):
            raise DivergedError(f"non-finite loss {loss}; the update was not applied")
        return {"loss": loss, **mets}

    def _require_compiled_and_build(self, X):
        if not self.compiled:
            raise RuntimeError("call model.compile(optimizer=..., loss=...) before training")
        self._build_from_input()
        if not self.built:
            shape = np.shape(X)
            if len(shape) < 2:
                raise ValueError("X must have a batch axis and features (at least 2 dimensions); "
                                 f"got shape {shape}")
            self._build_from_input(X)

    # ---- fit --------------------------------------------------------------------
    def fit(self, X=None, y=None, *, epochs=1, batch_size=32, shuffle=True,
            validation_split=0.0, validation_data=None, callbacks=None, verbose=1,
            class_weight=None, sample_weight=None, initial_epoch=0, allow_nonfinite=False,
            x=None):
        """Train for ``epochs`` epochs of mini-batches; returns a ``History``.

        ``batch_size=None`` is full-batch gradient descent. The validation split takes
        the last samples, before shuffling (as Keras does). Ctrl-C stops cleanly at a
        step boundary and returns the history so far. NaN/inf in ``X`` is an error unless
        ``allow_nonfinite=True`` (a non-finite loss then stops training, see below); a
        loss that becomes NaN or infinite stops training with a warning and restores the
        weights (and optimizer state) at the start of a chunk of steps whose first loss was
        finite. ``x=`` is Keras's name for ``X``.

        Everything after ``y`` is keyword-only: Keras's positional order is
        ``(x, y, batch_size, epochs)``, so ``fit(X, y, 32, 5)`` is an error rather than
        32 epochs of batches of 5.

        One model trains in one call at a time: a second ``fit`` or ``train_on_batch`` on
        it from another thread (or a callback) is a RuntimeError.
        """
        with self._exclusive("fit"):
            return self._fit(keras_x(X, x, "fit"), y, epochs, batch_size, shuffle,
                             validation_split, validation_data, callbacks, verbose,
                             class_weight, sample_weight, initial_epoch, allow_nonfinite)

    def _fit(self, X, y, epochs, batch_size, shuffle, validation_split, validation_data,
             callbacks, verbose, class_weight, sample_weight, initial_epoch, allow_nonfinite):
        if y is None:
            raise TypeError("fit() needs the targets y")
        self._require_compiled_and_build(X)
        epochs = check_positive_int(epochs, "epochs")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) \
                or not 0 <= initial_epoch <= epochs:
            raise ValueError(f"initial_epoch must be an int in [0, epochs]. "
                             f"Received: initial_epoch={initial_epoch!r}")
        initial_epoch = int(initial_epoch)
        X = check_x(X, self.dtype, self.input_shape, allow_nonfinite=allow_nonfinite)
        y = check_y(y, X.shape[0], self.loss, self.output_shape[0], self.dtype)
        sw = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        sw = self._apply_class_weight(class_weight, y, sw)
        X, y, sw, val = self._split_validation(X, y, sw, validation_split, validation_data)
        n = X.shape[0]
        bs = n if batch_size is None else min(check_positive_int(batch_size, "batch_size"), n)
        steps = math.ceil(n / bs)
        history = C.History()
        cbs = list(callbacks or []) + [history]      # Keras's order: History sees what
                                                     # callbacks added (learning_rate)
        if verbose:
            cbs.append(C.ProgressBar(steps, n, epochs, verbose=verbose))
        for cb in cbs:
            if not isinstance(cb, C.Callback):
                raise TypeError(f"callbacks must be fastnn.callbacks.Callback objects; got {cb!r}")
            cb.set_model(self)
        self.stop_training, self.history, self._snaps_taken, self._chunk = False, history, 0, 1
        self.optimizer._bind(self.params)
        self._plan = self._train_plan(bs)
        X = X.reshape(X.shape[0], -1) if self._plan is not None else X
        begun, old_handler = [], None     # on_train_end for each callback that began
        try:
            for cb in cbs:
                cb.on_train_begin()
                begun.append(cb)
            old_handler = self._catch_sigint()
            for epoch in range(initial_epoch, epochs):
                logs = self._fit_epoch(epoch, X, y, sw, bs, steps, shuffle, cbs,
                                       allow_nonfinite)
                if val is not None:
                    vlogs = self.evaluate(val[0], val[1], sample_weight=val[2])
                    logs.update({"val_" + k: v for k, v in vlogs.items()})
                if logs.pop("diverged", False):
                    break
                for cb in cbs:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        finally:
            self._plan = self._snap = None    # the restore points last one fit
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
            for cb in begun:
                cb.on_train_end()
        return history

    def _fit_epoch(self, epoch, X, y, sw, bs, steps, shuffle, cbs, allow_nonfinite=False):
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        n = X.shape[0]
        order = np.random.default_rng([self.seed, 2, epoch]).permutation(n) if shuffle \
            else np.arange(n, dtype=np.int64)
        names = [m for m, _ in self.metrics]
        stats = _Stats(names) if self._plan is None else \
            _PlanStats(names, self.output_shape[0])
        step, chunk = 0, self._chunk      # the chunk size carries over between epochs
        while step < steps:
            t0 = time.perf_counter()
            todo = min(chunk, steps - step)
            self._snapshot_save()
            good = self._run_steps(X, y, sw, order, bs, step, todo, stats)
            step += good
            logs = stats.logs()
            if good < todo and not self._interrupted:
                kept = self._snapshot_restore(good == 0 and not allow_nonfinite)
                self.stop_training = True
                msg = (f"training diverged at epoch {epoch + 1}, step {step + 1}: the loss "
                       "became NaN or infinite, so training stopped and the weights and "
                       f"optimizer state were reset to those after {kept} optimizer steps, "
                       "whose loss was finite (try a lower learning rate, clipnorm=1.0, or "
                       "check the data)")
                warnings.warn(msg, RuntimeWarning, stacklevel=4)
                logs["diverged"] = True
                return logs
            for cb in cbs:
                cb.on_train_batch_end(step, logs)
            if self._interrupted:
                print("\nfit interrupted (Ctrl-C): stopped at a step boundary; returning the "
                      "history so far", file=sys.stderr)
                self.stop_training = True
            if self.stop_training:
                break
            dt = time.perf_counter() - t0
            chunk = max(1, min(steps, int(todo * CHUNK_SECONDS / max(dt, 1e-6))))
            self._chunk = max(chunk, self._chunk) if good == todo == steps else chunk
        return stats.logs()

    def _train_plan(self, batch_size):
        """A C plan for this model, loss, optimizer and metrics, or None (Python path)."""
        if self._be.name != "c":
            return None
        from fastnn import _train
        names = [n for n, _ in self.metrics]
        allowed = ("accuracy",) if self.loss.name == "softmax_cross_entropy" else \
            ("accuracy", "binary_accuracy") if self.loss.classification else _train.PLAN_METRICS
        if any(fn is not dict(self.metrics).get(n) or n not in allowed
               for n, fn in self.metrics) or len(set(names)) != len(names):
            return None
        try:
            return _train.Plan(self, batch_size, training=True)
        except _train.Unsupported:
            return None

    def _run_plan(self, plan, X, y, sw, order, bs, first, count, stats):
        opt = self.optimizer
        it = opt.iterations
        if callable(opt.lr):
            lrs = np.array([opt.current_lr(it + s + 1) for s in range(count)], np.float64)
        else:
            lrs = self._lr_buffer(count, opt.current_lr())
        done = plan.run(X, y, sw, order, bs, first, count, self._step, it, lrs, stats.sums)
        stats.n += min((first + done) * bs, X.shape[0]) - first * bs
        self._step += done
        opt.iterations += done
        return done

    def _lr_buffer(self, count, lr):
        """A constant learning rate for ``count`` steps, in a reused buffer."""
        buf = getattr(self, "_lrs", None)
        if buf is None or buf.shape[0] < count:
            buf = self._lrs = np.empty(max(count, 1024), np.float64)
        buf[:count] = lr
        return buf

    def _run_steps(self, X, y, sw, order, bs, first, count, stats):
        """Run ``count`` steps from step ``first``; return how many finished with a finite loss."""
        if self._plan is not None:
            return self._run_plan(self._plan, X, y, sw, order, bs, first, count, stats)
        n = X.shape[0]
        for s in range(first, first + count):
            if self._interrupted:
                return s - first
            idx = order[s * bs:min((s + 1) * bs, n)]
            xb, yb = X[idx], y[idx]
            swb = None if sw is None else sw[idx]
            loss, mets = self._py_step(xb, yb, swb)
            if not math.isfinite(loss):
                return s - first
            stats.add(len(idx), loss, mets)
        return count

    def _apply_class_weight(self, class_weight, y, sw):
        if class_weight is None:
            return sw
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class: weight}}; got {class_weight!r}")
        labels = y if y.ndim == 1 else (np.argmax(y, 1) if y.shape[1] > 1 else
                                        (y[:, 0] > 0.5).astype(np.int64))
        k = max(self.output_shape[0], 2)        # one sigmoid output: classes 0 and 1
        w = np.ones(len(labels), self.dtype)
        for cls, weight in class_weight.items():
            if isinstance(cls, bool) or not isinstance(cls, numbers.Integral) or \
                    not 0 <= cls < k:       # a typo'd key would silently weigh nothing
                raise ValueError(f"class_weight keys must be class indices in [0, {k}); "
                                 f"got {cls!r}")
            weight = _checks.number(f"class_weight[{cls!r}]", weight, lo=0.0)
            w[labels == cls] = weight
        return w if sw is None else sw * w

    def _split_validation(self, X, y, sw, split, data):
        if data is not None:
            if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
                raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, sw)")
            Xv = check_x(data[0], self.dtype, self.input_shape, name="X_val")
            yv = check_y(data[1], Xv.shape[0], self.loss, self.output_shape[0], self.dtype,
                         name="y_val")
            swv = check_sample_weight(data[2] if len(data) == 3 else None, Xv.shape[0],
                                      self.dtype, name="validation sample_weight")
            return X, y, sw, (Xv, yv, swv)
        if not isinstance(split, (int, float)) or not 0 <= split < 1:
            raise ValueError(f"validation_split must be in [0, 1). Received: {split!r}")
        if split == 0:
            return X, y, sw, None
        k = int(X.shape[0] * (1 - split))
        if k < 1 or k >= X.shape[0]:
            raise ValueError(f"validation_split={split} leaves no training or no validation "
                             f"samples out of {X.shape[0]}")
        val = (X[k:], y[k:], None if sw is None else sw[k:])  # as Keras splits them
        return X[:k], y[:k], None if sw is None else sw[:k], val
