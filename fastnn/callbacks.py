"""Callbacks that run between chunks of training steps, as in Keras.

A callback sees ``model`` (set by ``fit``) and receives ``logs`` dicts such as
``{"loss": 0.31, "accuracy": 0.91, "val_loss": 0.28, ...}``. Set
``model.stop_training = True`` to stop after the current epoch.
"""
import csv
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np

from fastnn import _checks

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "ReduceLROnPlateau", "TerminateOnNaN", "CSVLogger", "ProgressBar", "LambdaCallback"]


class Callback:
    """Base class. Override any of the ``on_*`` hooks; all are no-ops here."""

    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_end(self, step, logs=None):
        """Called after each chunk of steps; ``step`` counts steps this epoch."""

    def __repr__(self):
        return f"{type(self).__name__}()"


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is a list per epoch."""

    def __init__(self):
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def _mode_better(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode == "auto":
        mode = "max" if any(s in monitor for s in ("acc", "r2")) else "min"
    return mode, (np.greater if mode == "max" else np.less)


class _Monitor(Callback):
    def __init__(self, monitor, mode, min_delta=0.0):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be the name of a logged value such as 'val_loss'. "
                            f"Received: monitor={monitor!r}")
        self.monitor = self._watching = monitor
        self.mode, self._op = _mode_better(monitor, mode)
        min_delta = _checks.number("min_delta", min_delta)
        self.min_delta = abs(min_delta) * (1 if self.mode == "max" else -1)

    def set_model(self, model):
        super().set_model(model)
        self._watching = self.monitor   # each fit starts from the name asked for

    def _current(self, logs):
        logs = logs or {}
        if self._watching in logs:
            return logs[self._watching]
        fallback = self.monitor[4:] if self.monitor.startswith("val_") else None
        if fallback in logs:
            warnings.warn(f"{type(self).__name__}: '{self.monitor}' is not logged (no validation "
                          f"data); monitoring '{fallback}' for this fit", stacklevel=3)
            self._watching = fallback
            return logs[fallback]
        raise KeyError(f"{type(self).__name__}: metric '{self.monitor}' is not available; "
                       f"logged: {', '.join(sorted(logs))}")

    def _improved(self, value, best):
        return best is None or bool(self._op(value - self.min_delta, best))


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    With ``restore_best_weights=True`` the weights of the best epoch are put back.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=False, baseline=None, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0. Received: patience={patience!r}")
        if baseline is not None:
            baseline = _checks.number("baseline", baseline)
        start_from_epoch = _checks.integer("start_from_epoch", start_from_epoch, lo=0)
        self.patience, self.baseline = int(patience), baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best, self.best_weights = self.baseline, None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = self._current(logs)
        if self._improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"restore_best_weights={self.restore_best_weights})")


class ModelCheckpoint(_Monitor):
    """Save the model (or weights) after each epoch, or only when ``monitor`` improves.

    ``filepath`` may hold format fields: ``"ckpt-{epoch:02d}-{val_loss:.3f}.fnn"``.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False,
                 save_weights_only=False, mode="auto"):
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._current(logs)
            if not self._improved(value, self.best):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, epoch=epoch + 1)

    def __repr__(self):
        return f"ModelCheckpoint({self.filepath!r}, save_best_only={self.save_best_only})"


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)``; the epoch's
    logs (and so the History) get its ``learning_rate``, as in Keras."""

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"schedule must be callable. Received: schedule={schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(self.schedule(epoch, opt.current_lr()))
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"LearningRateScheduler: schedule returned lr={lr} at epoch {epoch}")
        opt.lr = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:                   # as Keras: the rate this epoch trained with
            logs["learning_rate"] = float(self.model.optimizer.lr)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (Keras's rule: then wait ``cooldown`` epochs before counting
    again, and never go below ``min_lr``). The new rate applies from the next epoch.
    The optimizer needs a constant learning rate, not a schedule. The epoch's logs (and
    so the History) get the ``learning_rate`` it trained with, as in Keras."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        self.factor = _checks.number("factor", factor, lo=0.0, hi=1.0, lo_open=True,
                                     hi_open=True)
        self.patience = _checks.integer("patience", patience, lo=0)
        self.cooldown = _checks.integer("cooldown", cooldown, lo=0)
        self.min_lr = _checks.number("min_lr", min_lr, lo=0.0)
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_train_begin(self, logs=None):
        self._reset()
        if callable(self.model.optimizer.lr):
            raise TypeError(f"ReduceLROnPlateau sets the learning rate, but "
                            f"{self.model.optimizer!r} follows a schedule; use a constant "
                            "learning rate with it")

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if logs is not None:                   # as Keras: the rate this epoch trained with
            logs["learning_rate"] = float(self.model.optimizer.lr)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value, self.best):
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                opt = self.model.optimizer
                old = float(opt.lr)
                if old > self.min_lr:
                    opt.lr = max(old * self.factor, self.min_lr)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {opt.lr:.6g}")
                    self.cooldown_counter, self.wait = self.cooldown, 0

    def __repr__(self):
        return (f"ReduceLROnPlateau(monitor={self.monitor!r}, factor={self.factor}, "
                f"patience={self.patience})")


class LambdaCallback(Callback):
    """A callback from plain functions, as in Keras: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)`` and
    ``on_train_batch_end(step, logs)`` (called per chunk of steps, see ``Callback``)."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
              "on_train_batch_end")

    def __init__(self, **hooks):
        self._fns = {}
        for name, fn in hooks.items():
            if name not in self._HOOKS:
                raise TypeError(f"LambdaCallback has no hook {name!r}; it takes "
                                f"{', '.join(self._HOOKS)}")
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable. Received: "
                                f"{name}={fn!r}")
            if fn is not None:
                self._fns[name] = fn

    def _call(self, name, *args, logs=None):
        fn = self._fns.get(name)
        if fn is not None:
            fn(*args, {} if logs is None else logs)   # Keras passes a dict, never None

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs=logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs=logs)

    def on_train_batch_end(self, step, logs=None):
        self._call("on_train_batch_end", step, logs=logs)

    def __repr__(self):
        return f"LambdaCallback({', '.join(self._fns)})"


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss is NaN or infinite."""

    def on_train_batch_end(self, step, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Step {step}: invalid loss {loss}, terminating training", file=sys.stderr)
            self.model.stop_training = True


class CSVLogger(Callback):
    """Append one CSV row of logs per epoch to ``filename``."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer, self._header_done = None, exists

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **(logs or {})}
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(row),
                                          delimiter=self.separator, extrasaction="ignore")
            if not self._header_done:
                self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


def _fmt_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{k}: {v:.4e}"
                      for k, v in logs.items() if isinstance(v, float))   # Keras's rule


class ProgressBar(Callback):
    """Keras-style progress: a bar per epoch, with loss/metrics and samples per second."""

    def __init__(self, steps, samples, epochs, verbose=1, file=None):
        self.steps, self.samples, self.epochs = steps, samples, epochs
        self.verbose, self.file = verbose, file if file is not None else sys.stdout
        self.tty = hasattr(self.file, "isatty") and self.file.isatty()

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", file=self.file, flush=True)

    def _line(self, step, logs, final):
        dt = max(time.perf_counter() - self.t0, 1e-9)
        width = 30
        done = int(width * step / max(self.steps, 1))
        bar = "=" * done + (">" if done < width else "") + "." * (width - done - 1)
        n = len(str(self.steps))
        rate = self.samples * step / max(self.steps, 1) / dt
        head = f"{step:{n}d}/{self.steps} [{bar[:width]}] - {dt:.1f}s"
        if final:
            head += f" {1000 * dt / max(step, 1):.2f}ms/step"
        return f"{head} - {_fmt_logs(logs)} - {rate:,.0f} samples/s"

    def on_train_batch_end(self, step, logs=None):
        if self.verbose == 1 and self.tty:
            print("\r" + self._line(step, logs or {}, False), end="", file=self.file, flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1:
            print(("\r" if self.tty else "") + self._line(self.steps, logs or {}, True),
                  file=self.file, flush=True)
        elif self.verbose == 2:
            dt = time.perf_counter() - self.t0
            print(f"Epoch {epoch + 1}/{self.epochs} - {dt:.1f}s - {_fmt_logs(logs or {})}",
                  file=self.file, flush=True)
