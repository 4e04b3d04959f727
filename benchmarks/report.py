"""Run every workload for every framework, each in its own process with the same thread
limit, and print one markdown table with absolute figures and ratios to fastnn.

    python benchmarks/report.py --threads 1,2 [--rounds 3] [--repeat 3] [--write FILE]

Each workload runs in ``--rounds`` rounds; a round starts one process per framework, in an
order that rotates from round to round, and each process reports the median of
``--repeat`` timed runs. A framework's figure is the median over rounds, and its ratio to
fastnn is the median of the per-round ratios, so a slow spell of the machine (or of the
host placing both vCPUs on one core) hits both sides of a ratio alike.

Frameworks that are not installed are skipped with a note (PyTorch is installed by hand:
``pip install torch``; scikit-learn comes with ``pip install ".[bench]"``).
Run it on an otherwise idle machine: the cores are shared by everything.
"""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = {
    "mnist_epoch": ("fastnn", "torch", "numpy", "sklearn"),
    "xor_step": ("fastnn", "torch"),
    "digits_step": ("fastnn", "torch"),
    "predict_1": ("fastnn", "torch"),
    "predict_1_dense": ("fastnn", "torch"),
    "predict_10k": ("fastnn", "torch"),
}
# matrix-multiply FLOPs of one MNIST epoch: forward, weight gradient, input gradient
# (none for the first layer) for each Dense layer, 2·m·k·n each.
LAYERS = [(784, 512), (512, 256), (256, 10)]


def cpu_description():
    """The processor's model name and per-core caches (Linux): the VM this runs on has
    moved between hosts (AMD Zen 4 with 1 MiB of L2 per core, Intel with 2 MiB), and a
    table is only comparable with another from the same processor."""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f
                          if ln.startswith("model name")), platform.processor())
    except OSError:
        model = platform.processor() or "unknown processor"
    caches = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    for idx in sorted(os.listdir(base)) if os.path.isdir(base) else ():
        try:
            with open(f"{base}/{idx}/level") as f:
                level = f.read().strip()
            with open(f"{base}/{idx}/type") as f:
                kind = f.read().strip()
            with open(f"{base}/{idx}/size") as f:
                size = f.read().strip()
        except OSError:
            continue
        if kind != "Instruction":
            caches.append(f"L{level} {size}")
    return model + (f" ({', '.join(caches)})" if caches else "")


def epoch_flops(n=60000):
    f = 0
    for i, (k, m) in enumerate(LAYERS):
        f += 2 * n * k * m * (2 if i == 0 else 3)
    return f


def executed_flops(n=60000, batch=128):
    """epoch_flops less what fastnn's training skips in the first layer's forward and
    weight-gradient products, over the batches of one shuffle: a batch whose non-zeros,
    paired by adjacent columns, need at most SPARSE_INPUT_RATIO of its live columns'
    multiply-adds runs on the pairs alone (2 per row and pair with a non-zero: 33% of the
    live columns' for 128 MNIST digits; counted as GEMM FLOPs, though they run at 0.7-1.0
    times the rate), any other on its live columns (zero input columns skipped: a third of
    MNIST's pixels per batch of 128). The pairs are (2j, 2j + 1), as the first layer's K
    panels (392 of 784) group them."""
    import numpy as np
    sys.path[:0] = [ROOT, HERE]                       # fastnn as the children import it
    from workloads import mnist

    from fastnn import _train
    X = mnist()[0][:n].reshape(min(n, 60000), -1)
    order = np.random.default_rng(0).permutation(len(X))
    k, m = LAYERS[0]
    f = epoch_flops(n)
    for i in range(0, len(X), batch):
        nz = X[order[i:i + batch]] != 0
        rows, live = len(nz), int(nz.any(axis=0).sum())
        pairs = int(nz.reshape(rows, k // 2, 2).any(axis=2).sum())
        kept = 2 * pairs if 2 * pairs <= _train.SPARSE_INPUT_RATIO * live * rows else rows * live
        f -= 2 * 2 * (rows * k - kept) * m
    return f


def run(framework, workload, threads, repeat):
    cmd = [sys.executable, os.path.join(HERE, "workloads.py"), "--framework", framework,
           "--workload", workload, "--threads", str(threads), "--repeat", str(repeat)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr else "failed"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def available(framework):
    if framework == "fastnn":       # the children import it from ROOT (see run)
        return True
    return importlib.util.find_spec(framework) is not None


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def measure(workload, frameworks, threads, rounds, repeat):
    """{framework: {"seconds", "ratio" (its time / fastnn's, per-round median), "peak_rss"}}"""
    runs = {fw: [] for fw in frameworks}
    for r in range(rounds):
        k = r % len(frameworks)
        for fw in frameworks[k:] + frameworks[:k]:
            out = run(fw, workload, threads, repeat)
            runs[fw].append(out)
            print(f"[{time.strftime('%H:%M:%S')}] {workload:12s} {fw:8s} {threads} threads, "
                  f"round {r + 1}: {out.get('error') or fmt_time(out['seconds'])}",
                  file=sys.stderr, flush=True)
    res = {}
    for fw, outs in runs.items():
        errors = [o["error"] for o in outs if "error" in o]
        if errors:
            res[fw] = {"error": errors[0]}
            continue
        res[fw] = {"seconds": median([o["seconds"] for o in outs]),
                   "peak_rss": median([o["peak_rss"] for o in outs])}
        base = runs.get("fastnn")
        if base and all("seconds" in b for b in base):
            res[fw]["ratio"] = median([o["seconds"] / b["seconds"] for o, b in zip(outs, base)])
    return res


def fmt_time(s):
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--write", metavar="FILE", help="also write the table (markdown) here")
    a = ap.parse_args()
    bad = [wl for wl in a.workloads.split(",") if wl not in WORKLOADS]
    if bad:  # before anything runs, not in the printing after minutes of benchmarks
        ap.error(f"unknown workload(s) {', '.join(bad)}; choose from {', '.join(WORKLOADS)}")
    try:
        threads = [int(t) for t in a.threads.split(",")]
    except ValueError:
        threads = []
    if not threads or min(threads) < 1:
        ap.error(f"--threads takes positive counts separated by commas; got {a.threads!r}")
    rows, notes, res = [], [], {}
    for fw in ("torch", "sklearn"):
        if not available(fw):
            notes.append(f"- {fw}: not installed, skipped")
    for t in threads:
        res[("gemm", t)] = measure("gemm_1024", ("fastnn",), t, a.rounds, a.repeat)["fastnn"]
        for wl in a.workloads.split(","):
            fws = tuple(fw for fw in WORKLOADS[wl] if available(fw))
            for fw, r in measure(wl, fws, t, a.rounds, a.repeat).items():
                res[(wl, fw, t)] = r
    rows.append("| workload | threads | framework | median | fastnn speed-up |")
    rows.append("|---|---|---|---|---|")
    for wl in a.workloads.split(","):
        for t in threads:
            for fw in WORKLOADS[wl]:
                r = res.get((wl, fw, t))
                if r is None:
                    continue
                if "error" in r:
                    rows.append(f"| {wl} | {t} | {fw} | error: {r['error'][:60]} | |")
                    continue
                ratio = "1.00× (ref)" if fw == "fastnn" else \
                    (f"{r['ratio']:.2f}×" if "ratio" in r else "")
                rows.append(f"| {wl} | {t} | {fw} | {fmt_time(r['seconds'])} | {ratio} |")
    extra = ["", "| derived | value |", "|---|---|"]
    for t in threads:
        g, e = res[("gemm", t)], res.get(("mnist_epoch", "fastnn", t))
        if "seconds" in g and e and "seconds" in e:
            rate = 2 * 1024 ** 3 / g["seconds"]
            roof = epoch_flops() / rate
            extra.append(f"| GEMM 1024³ rate, {t} thread(s) | {rate / 1e9:.1f} GFLOP/s |")
            extra.append(f"| MNIST epoch / GEMM roofline ({epoch_flops() / 1e9:.0f} GFLOP), "
                         f"{t} thread(s) | {e['seconds'] / roof:.2f}× (target ≤ 1.2×) |")
            ex = executed_flops()
            extra.append(f"| MNIST epoch / GEMM roofline of the FLOPs executed ({ex / 1e9:.0f} "
                         f"GFLOP, zero inputs skipped), {t} thread(s) | "
                         f"{e['seconds'] / (ex / rate):.2f}× |")
    e1, e2 = res.get(("mnist_epoch", "fastnn", 1)), res.get(("mnist_epoch", "fastnn", 2))
    if e1 and e2 and "seconds" in e1 and "seconds" in e2:
        extra.append(f"| MNIST epoch scaling 1→2 threads | {e1['seconds'] / e2['seconds']:.2f}× "
                     "(target ≥ 1.8×) |")
    imp = {fw: [] for fw in ("fastnn", "torch") if available(fw)}
    for _ in range(5):                                  # interleaved, fresh processes
        for fw, ts in imp.items():
            ts.append(run(fw, "import", 1, 1).get("seconds"))
    for fw, ts in imp.items():
        ts = sorted(x for x in ts if x is not None)
        if ts:
            med = fmt_time(ts[len(ts) // 2])
            extra.append(f"| import {fw} (median of 5 fresh processes) | {med} |")
    if "torch" in imp and "fastnn" in imp:
        extra.append("| import torch / import fastnn | "
                     f"{sorted(imp['torch'])[2] / sorted(imp['fastnn'])[2]:.1f}× (target ≥ 5×) |")
    data_bytes = 60000 * 784 * 4 + 60000 * 8
    for t in threads[:1]:
        f, p = res.get(("mnist_epoch", "fastnn", t)), res.get(("mnist_epoch", "torch", t))
        if f and p and "peak_rss" in f and "peak_rss" in p:
            fr, pr = f["peak_rss"] - data_bytes, p["peak_rss"] - data_bytes
            extra.append("| peak RSS less data, MNIST epoch: fastnn / torch | "
                         f"{fr / 2**20:.0f} MiB "
                         f"/ {pr / 2**20:.0f} MiB = {fr / pr:.2f} (target ≤ 0.33) |")
    head = [f"Machine: {cpu_description()}, {platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.platform()}, Python {platform.python_version()}; "
            f"medians of {a.rounds} rounds of {a.repeat} runs; speed-up = median over rounds of "
            "the other framework's time / fastnn's in the same round.", ""]
    text = "\n".join(head + rows + extra + ([""] + notes if notes else []))
    print(text)
    if a.write:
        with open(a.write, "w") as f:
            f.write("# fastnn benchmark results\n\nProduced by `python benchmarks/report.py "
                    f"--threads {a.threads} --rounds {a.rounds} --repeat {a.repeat}`.\n\n"
                    f"{text}\n")


if __name__ == "__main__":
    main()
