"""Run every workload for every framework, each in its own process with the same thread
limit, and print one markdown table with absolute figures and ratios to fastnn.

    python benchmarks/report.py --threads 1,2 [--repeat 5] [--write benchmarks/RESULTS.md]

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
    "predict_10k": ("fastnn", "torch"),
}
# matrix-multiply FLOPs of one MNIST epoch: forward, weight gradient, input gradient
# (none for the first layer) for each Dense layer, 2·m·k·n each.
LAYERS = [(784, 512), (512, 256), (256, 10)]


def epoch_flops(n=60000):
    f = 0
    for i, (k, m) in enumerate(LAYERS):
        f += 2 * n * k * m * (2 if i == 0 else 3)
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


def fmt_time(s):
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--write", metavar="FILE", help="also write the table (markdown) here")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    rows, notes, res = [], [], {}
    for fw in ("torch", "sklearn"):
        if not available(fw):
            notes.append(f"- {fw}: not installed, skipped")
    for t in threads:
        res[("gemm", t)] = run("fastnn", "gemm_1024", t, a.repeat)
        for wl in a.workloads.split(","):
            for fw in WORKLOADS[wl]:
                if not available(fw):
                    continue
                res[(wl, fw, t)] = r = run(fw, wl, t, a.repeat)
                print(f"[{time.strftime('%H:%M:%S')}] {wl:12s} {fw:8s} {t} threads: "
                      f"{r.get('error') or fmt_time(r['seconds'])}", file=sys.stderr, flush=True)
    rows.append("| workload | threads | framework | median | fastnn speed-up |")
    rows.append("|---|---|---|---|---|")
    for wl in a.workloads.split(","):
        for t in threads:
            base = res.get((wl, "fastnn", t), {}).get("seconds")
            for fw in WORKLOADS[wl]:
                r = res.get((wl, fw, t))
                if r is None:
                    continue
                if "error" in r:
                    rows.append(f"| {wl} | {t} | {fw} | error: {r['error'][:60]} | |")
                    continue
                ratio = "1.00× (ref)" if fw == "fastnn" else \
                    (f"{r['seconds'] / base:.2f}×" if base else "")
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
    e1, e2 = res.get(("mnist_epoch", "fastnn", 1)), res.get(("mnist_epoch", "fastnn", 2))
    if e1 and e2 and "seconds" in e1 and "seconds" in e2:
        extra.append(f"| MNIST epoch scaling 1→2 threads | {e1['seconds'] / e2['seconds']:.2f}× "
                     "(target ≥ 1.8×) |")
    imp = {fw: [run(fw, "import", 1, 1).get("seconds") for _ in range(5)]
           for fw in ("fastnn", "torch") if available(fw)}
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
    head = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.platform()}, Python {platform.python_version()}; "
            f"medians of {a.repeat} runs; speed-up = other framework's time / fastnn's.", ""]
    text = "\n".join(head + rows + extra + ([""] + notes if notes else []))
    print(text)
    if a.write:
        with open(a.write, "w") as f:
            f.write("# fastnn benchmark results\n\nProduced by `python benchmarks/report.py "
                    f"--threads {a.threads} --repeat {a.repeat}`.\n\n{text}\n")


if __name__ == "__main__":
    main()
