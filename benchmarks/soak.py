"""Soak test: 200,000 training steps of a small model; RSS must not grow after warm-up.

    python benchmarks/soak.py [--steps 200000]

Prints RSS after a warm-up epoch and at the end, and the growth (target < 1 MB).
"""
import argparse
import os
import time

import numpy as np

import fastnn as fn


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()
    r = np.random.default_rng(0)
    n = a.batch_size * 1000                                   # 1,000 steps per epoch
    X = r.standard_normal((n, 32)).astype(np.float32)
    y = (X[:, :4].sum(1) > 0).astype(np.int64)
    m = fn.Sequential([fn.Dense(32, 64, activation="relu"), fn.Dropout(0.1),
                       fn.BatchNorm(), fn.Dense(64, 2)], seed=0)
    m.compile(optimizer=fn.Adam(1e-3, clipnorm=1.0), loss="softmax_cross_entropy",
              metrics=["accuracy"])
    m.fit(X, y, epochs=2, batch_size=a.batch_size, verbose=0)             # warm-up
    m.predict(X[:100])
    base, t0 = rss(), time.perf_counter()
    epochs = a.steps // 1000
    h = m.fit(X, y, epochs=epochs, batch_size=a.batch_size, verbose=0)
    m.predict(X[:100])
    dt, end = time.perf_counter() - t0, rss()
    print(f"{epochs * 1000:,} steps in {dt:.1f} s ({1e6 * dt / (epochs * 1000):.1f} µs/step); "
          f"final loss {h.history['loss'][-1]:.4f}")
    print(f"RSS after warm-up {base / 2**20:.2f} MiB, at the end {end / 2**20:.2f} MiB, "
          f"growth {(end - base) / 1024:.0f} KiB (target < 1024 KiB)")
    return 0 if end - base < 1 << 20 else 1


if __name__ == "__main__":
    raise SystemExit(main())
