"""Training throughput of minivae next to a plain-NumPy VAE and PyTorch, measured side by side on this CPU.

    python bench/throughput.py                  # the full table: 2 model sizes x 2 batch sizes x 1 and 2 threads
    python bench/throughput.py --quick          # 784-400-20, batch 128, 2 threads, 5 repeats

What is compared: the same VAE (784-400-20 or 784-512-2 MLP, ReLU, Bernoulli likelihood, Adam with lr 1e-3) on the
same data (the bundled MNIST training digits, shuffled once, in contiguous batches), trained by

* minivae (``VAE.loss_and_gradients`` + ``Adam.step``);
* the plain-NumPy baseline of ``minivae/start_here.py`` (float32, no Numba, new arrays for every expression);
* PyTorch, if installed, as in its official VAE example ("torch-example": sigmoid + binary cross-entropy, Adam) and
  tuned for speed ("torch-tuned": binary cross-entropy with logits, Adam(fused=True));
* JAX + optax, if installed ("jax", bench/jax_vae.py): the whole step jitted, XLA fusing the elementwise work;
* "gemm": only the 11 matrix products of minivae's step, into preallocated arrays. No implementation can beat its
  matrix products, so this is the ceiling; "% of GEMM" is how close minivae comes to it.

How it is measured, and why:

* Each implementation runs in its own process (``bench/runners.py``), started with OMP_NUM_THREADS,
  OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and NUMBA_NUM_THREADS set (and torch.set_num_threads), because every
  library reads its thread count once, when it loads. Separate processes also give each its own peak memory
  (the process's peak resident set: interpreter, libraries, data, model; see runners.peak_memory_mib) and keep
  thread pools from competing.
* The processes take turns: one repeat of one, a short pause, one repeat of the next, in a rotating order. On a shared,
  noisy machine a slow moment then hurts everyone alike, and the ratios come from repeats measured next to each
  other (the median over rounds of time_peer / time_minivae).
* A repeat is the same number of training steps (64) for every implementation, after a warm-up. Every step is timed;
  a repeat's throughput is the batch size over its median step (a stall of the machine in one step does not count),
  and the table shows the median over the repeats. The JSON output (--json) also has the throughput from the total
  times.
* Start-up: a fresh process that imports the library, loads the data, builds the model and runs one step, timed from
  the outside until it reports that step done (its exit is not counted); minivae with an empty Numba cache (cold:
  every kernel compiles) and then with that cache (warm).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from minivae.datasets import load_mnist_test_10k  # noqa: E402

IMPLS = ["minivae", "numpy", "torch-example", "torch-tuned", "jax", "gemm"]
PEERS = ["numpy", "torch-example", "torch-tuned", "jax"]
PHASES = ("forward", "loss", "backward", "optimizer")


def thread_env(threads, extra=None):
    """The environment with every library's thread variable set to ``threads``; None: with none of them set."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "MINIVAE_THREADS"):
        env.pop(var, None)
        if threads is not None and var != "MINIVAE_THREADS":
            env[var] = str(threads)
    env.update(extra or {})
    return env


class Worker:
    """A runners.py process and its line protocol."""

    def __init__(self, impl, cfg, batch_size, threads, data_path, steps, extra=()):
        d, h, latent = cfg
        cmd = [sys.executable, str(HERE / "runners.py"), "--impl", impl, "--data", str(data_path),
               "--input-dim", str(d), "--hidden", str(h), "--latent", str(latent), "--batch-size", str(batch_size),
               "--threads", str(threads or 1), "--steps", str(steps), *extra]
        self.impl = impl
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=thread_env(threads))

    def receive(self):
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise RuntimeError(f"the {self.impl} worker stopped (exit code {self.proc.wait()}); see its error above")

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def close(self):
        rss = self.ask("exit")["max_rss_mib"]
        self.proc.wait()
        return rss


def installed(name):
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def torch_available():
    return installed("torch")


def jax_available():
    return installed("jax") and installed("optax")


def scipy_installed():
    return installed("scipy")


def measure_group(cfg, batch_size, threads, impls, data_path, args):
    """Throughput, ratios, phases and memory of every implementation for one (model, batch, threads) setting."""
    workers = [Worker(impl, cfg, batch_size, threads, data_path, args.steps) for impl in impls]
    ready = {w.impl: w.receive() for w in workers}  # they set up at the same time; timing starts after all are ready
    seconds = {w.impl: [] for w in workers}  # per repeat: its median step time
    totals = {w.impl: [] for w in workers}  # per repeat: its total time
    for r in range(args.repeats + 1):  # round 0 is one more warm-up, in turn with the others; it is discarded
        shift = r % len(workers)
        for w in workers[shift:] + workers[:shift]:
            time.sleep(args.pause)  # let the previous process's spinning threads go to sleep
            t = w.ask("run")
            if r > 0:
                seconds[w.impl].append(t["step_median"])
                totals[w.impl].append(t["seconds"])
    phase_times = {w.impl: [] for w in workers}  # (steps, 4) per implementation, collected in turns as well
    for r in range(args.repeats):
        shift = r % len(workers)
        for w in workers[shift:] + workers[:shift]:
            time.sleep(args.pause)
            phase_times[w.impl] += w.ask("phases")["phase_ms"]
    phases = {k: dict(zip(PHASES, np.median(np.array(v), axis=0).tolist())) for k, v in phase_times.items()}
    rss = {w.impl: w.close() for w in workers}
    steps = args.steps
    sec = {k: np.array(v) for k, v in seconds.items()}
    result = {
        "config": cfg, "batch_size": batch_size, "threads": threads,
        # a repeat's throughput is batch / its median step; the table shows the median over repeats
        "examples_per_second": {k: float(batch_size / np.median(v)) for k, v in sec.items()},
        "best_examples_per_second": {k: float(batch_size / np.min(v)) for k, v in sec.items()},
        # the same from each repeat's total time (every step counted, hiccups of the machine included)
        "examples_per_second_from_totals": {k: float(steps * batch_size / np.median(v)) for k, v in totals.items()},
        "spread": {k: float((v.max() - v.min()) / np.median(v)) for k, v in sec.items()},
        # paired: each round's peer time over minivae's time in the same round, then the median over rounds
        "ratio": {k: float(np.median(sec[k] / sec["minivae"])) for k in sec if k != "minivae"},
        "phases_ms": phases, "max_rss_mib": rss,
        "flops_per_example": ready.get("gemm", {}).get("flops_per_example", 0.0),
    }
    return result


def measure_epochs(cfg, batch_size, threads, impls, data_path, args):
    """Whole epochs as a user sees them, for every implementation but the matrix products: ``args.epoch_runs`` runs,
    each in fresh processes (so the first epoch is a fresh process's first), ``args.epochs`` epochs per run, the
    processes taking turns epoch by epoch in a rotating order."""
    impls = [k for k in impls if k != "gemm"]
    times = {k: [] for k in impls}  # per run: the list of its epoch times
    kernels = []  # per run: the seconds minivae's Trainer.fit took to load its kernels before its first epoch
    for run in range(args.epoch_runs):
        workers = [Worker(impl, cfg, batch_size, threads, data_path, args.steps, extra=["--no-warmup"])
                   for impl in impls]
        for w in workers:
            w.receive()
        for k in impls:
            times[k].append([])
        for e in range(args.epochs):
            shift = (run + e) % len(workers)
            for w in workers[shift:] + workers[:shift]:
                time.sleep(args.pause)
                reply = w.ask("epoch")
                times[w.impl][-1].append(reply["seconds"])
                if w.impl == "minivae" and e == 0:
                    kernels.append(reply["kernel_seconds"])
        for w in workers:
            w.close()
    t = {k: np.array(v) for k, v in times.items()}  # (runs, epochs)
    n = len(np.load(data_path, mmap_mode="r"))
    steady = {k: v[:, 1:].mean(axis=1) for k, v in t.items()}  # per run: mean steady epoch
    return {"config": cfg, "batch_size": batch_size, "threads": threads, "examples": n, "epoch_seconds": times,
            "kernel_seconds": kernels,
            # per run, examples per second over the steady epochs (the first apart); the table: median and range
            "steady_examples_per_second": {k: (n / v).tolist() for k, v in steady.items()},
            "first_examples_per_second": {k: (n / v[:, 0]).tolist() for k, v in t.items()},
            # paired within each run: the peer's mean steady epoch over minivae's
            "ratio": {k: float(np.median(steady[k] / steady["minivae"])) for k in steady if k != "minivae"}}


def first_step_seconds(impl, data_path, env_extra=None, threads=2, hide_scipy=False):
    """Wall-clock seconds from starting a fresh Python process to the end of its first training step."""
    cmd = [sys.executable, str(HERE / "runners.py"), "--impl", impl, "--data", str(data_path), "--first-step",
           "--threads", str(threads)] + (["--hide-scipy"] if hide_scipy else [])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=thread_env(threads, env_extra))
    for line in proc.stdout:
        if line.startswith("@@"):  # printed right after the first step; the process's exit is not timed
            elapsed = time.perf_counter() - t0
            proc.wait()
            return elapsed
    raise RuntimeError(f"the first-step run of {impl} stopped (exit code {proc.wait()}) without a result")


def measure_startup(data_path, impls, repeats):
    """minivae cold (empty Numba cache) once, then warm (median of `repeats`), and the peers' first steps."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        out["minivae, cold Numba cache (every kernel compiles)"] = first_step_seconds("minivae", data_path, env)
        out["minivae, warm Numba cache"] = float(np.median([first_step_seconds("minivae", data_path, env)
                                                            for _ in range(repeats)]))
        if scipy_installed():
            out["minivae, warm cache, SciPy not installed (as from requirements.txt)"] = float(np.median(
                [first_step_seconds("minivae", data_path, env, hide_scipy=True) for _ in range(repeats)]))
    for impl in impls:
        if impl not in ("minivae", "gemm"):
            out[impl] = float(np.median([first_step_seconds(impl, data_path) for _ in range(repeats)]))
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Report.
# ----------------------------------------------------------------------------------------------------------------------


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions():
    import numba

    parts = [f"Python {platform.python_version()}", f"NumPy {np.__version__}", f"Numba {numba.__version__}"]
    if torch_available():
        import importlib.metadata

        parts.append(f"PyTorch {importlib.metadata.version('torch')}")
    if jax_available():
        import importlib.metadata

        parts.append(f"JAX {importlib.metadata.version('jax')}, optax {importlib.metadata.version('optax')}")
    return ", ".join(parts)


def fmt_cfg(cfg):
    return "-".join(str(c) for c in cfg)


def report(results, startup, meta):
    lines = [f"Date: {meta['date']}. Machine: {meta['cpu']}, {meta['cores']} cores. {meta['versions']}.",
             f"Load average (1 min) before / after: {meta['load_before']:.1f} / {meta['load_after']:.1f}. "
             f"Repeats: {meta['repeats']} x {meta['steps']} training steps per implementation and setting, "
             "after a warm-up.", ""]
    impls = [k for k in IMPLS if k != "gemm" and any(k in r["examples_per_second"] for r in results)]
    peers = [k for k in PEERS if k in impls]
    head = (["model", "batch", "threads"] + [f"{k} ex/s" for k in impls] + ["GEMM ceiling ex/s"]
            + [f"x {k}" for k in peers] + ["% of GEMM"])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        eps = r["examples_per_second"]
        row = [fmt_cfg(r["config"]), str(r["batch_size"]), str(r["threads"])]
        row += [f"{eps[k]:,.0f}" for k in impls + ["gemm"]]
        row += [f"{r['ratio'][k]:.2f}" for k in peers]
        best = r["best_examples_per_second"]
        row += [f"{100 * best['minivae'] / best['gemm']:.0f}%"]
        lines.append("| " + " | ".join(row) + " |")
    flops = {fmt_cfg(r["config"]): r["flops_per_example"] for r in results}
    lines += ["", "ex/s: training examples per second, the batch size over the median step time of a repeat, median "
              "over the repeats (a median step, because the virtual machine stalls now and then for tens of ms). "
              "x peer: how many times faster minivae trains than that peer (median over rounds of the peer's step "
              "time over minivae's in the same round). "
              "GEMM ceiling: the step's matrix products alone, timed in turn with the others "
              f"({', '.join(f'{k}: {v / 1e6:.2f} MFLOP per example' for k, v in flops.items())}). "
              "% of GEMM: minivae's fastest repeat over the products' fastest repeat. Best against best, because "
              "load from other programs slows back-to-back two-thread matrix products more than it slows minivae "
              "(whose single-threaded kernels run between them): a paired ratio would flatter minivae."]

    lines += ["", "Peak resident memory of each process (MiB; interpreter, libraries, data and model):", ""]
    head = ["model", "batch", "threads"] + impls
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        row = [fmt_cfg(r["config"]), str(r["batch_size"]), str(r["threads"])]
        row += [f"{r['max_rss_mib'][k]:.0f}" for k in impls]
        lines.append("| " + " | ".join(row) + " |")

    lines += ["", "One training step, phase by phase (median ms over the steps of the phase rounds, taken in turns "
              "like the repeats; the medians of the phases need not add up to the median of the whole step):", ""]
    lines += ["| model | batch | threads | implementation | " + " | ".join(PHASES) + " | total |",
              "|" + "---|" * (len(PHASES) + 5)]
    for r in results:
        for k in impls + ["gemm"]:
            ph = r["phases_ms"][k]
            name = "matrix products only" if k == "gemm" else k
            cells = [""] * len(PHASES) if k == "gemm" else [f"{ph[p]:.2f}" for p in PHASES]
            lines.append(f"| {fmt_cfg(r['config'])} | {r['batch_size']} | {r['threads']} | {name} | "
                         + " | ".join(cells) + f" | {sum(ph.values()):.2f} |")

    lines += targets(results, startup)
    if startup:
        lines += ["", "Start-up: a fresh process to the end of its first training step (784-400-20, batch 128, "
                  "2 threads; seconds):", ""]
        lines += ["| process | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in startup.items()]
    return "\n".join(lines)


def report_epochs(epochs, results):
    """The whole-epoch table, beside the step table's figure for the same setting where it was measured."""
    if not epochs:
        return []
    impls = [k for k in IMPLS if k in epochs[0]["steady_examples_per_second"]]
    peers = [k for k in PEERS if k in impls]
    steps = {(r["config"], r["batch_size"], r["threads"]): r for r in results}
    e0 = epochs[0]
    lines = ["", f"Whole epochs, as a user sees them: {e0['examples']:,} examples per epoch; minivae through "
             "Trainer.fit (the seconds it prints for an epoch: the shuffled batches, and after them the active units "
             "and I(x;z) it reports), the peers in a user's loop (a fresh permutation, each batch gathered from it, "
             f"the last one smaller). {len(e0['epoch_seconds']['minivae'])} runs, each in fresh processes taking "
             f"turns epoch by epoch, {len(e0['epoch_seconds']['minivae'][0])} epochs per run. ex/s: over the steady "
             "epochs (the first apart), the median over runs [lowest - highest]; x peer: paired within each run, "
             "median over runs; first: a fresh process's first epoch (minivae's after Trainer.fit has loaded its "
             "Numba kernels, in the time of the column beside it; the peers' own one-time work is inside theirs).", ""]
    head = (["model", "batch", "threads"] + [f"{k} ex/s" for k in impls] + [f"x {k}" for k in peers]
            + ["minivae first epoch ex/s", "steady / first", "kernels loaded before it", "minivae in the step table",
               "% of GEMM"])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in epochs:
        key = (e["config"], e["batch_size"], e["threads"])
        steady, first = e["steady_examples_per_second"], e["first_examples_per_second"]
        row = [fmt_cfg(e["config"]), str(e["batch_size"]), str(e["threads"])]
        row += [f"{np.median(steady[k]):,.0f} [{min(steady[k]):,.0f} - {max(steady[k]):,.0f}]" for k in impls]
        row += [f"{e['ratio'][k]:.2f}" for k in peers]
        mv = float(np.median(steady["minivae"]))
        row += [f"{np.median(first['minivae']):,.0f}", f"{mv / np.median(first['minivae']):.2f}",
                f"{np.median(e['kernel_seconds']):.2f} s" if e.get("kernel_seconds") else ""]
        step = steps.get(key)
        row += ([f"{step['examples_per_second']['minivae']:,.0f}",
                 f"{100 * mv / step['best_examples_per_second']['gemm']:.0f}%"] if step else ["", ""])
        lines.append("| " + " | ".join(row) + " |")
    return lines + epoch_targets(epochs, steps)


def epoch_targets(epochs, steps):
    """The whole-epoch goals, checked on this run: 784-400-20, batch 128, 2 threads."""
    key = ((784, 400, 20), 128, 2)
    head = [e for e in epochs if (e["config"], e["batch_size"], e["threads"]) == key]
    if not head:
        return []
    e, rows = head[0], []

    def row(what, value, ok):
        rows.append(f"| {what} | {value} | {'met' if ok else 'MISSED'} |")

    if "torch-tuned" in e["ratio"]:
        row("x tuned PyTorch >= 1.5", f"{e['ratio']['torch-tuned']:.2f}", e["ratio"]["torch-tuned"] >= 1.5)
    if "jax" in e["ratio"]:
        row("ahead of JAX", f"{e['ratio']['jax']:.2f}", e["ratio"]["jax"] > 1)
    mv = float(np.median(e["steady_examples_per_second"]["minivae"]))
    if key in steps:
        frac = mv / steps[key]["best_examples_per_second"]["gemm"]
        row("GEMM ceiling >= 70%", f"{100 * frac:.0f}%", frac >= 0.7)
    slower = mv / float(np.median(e["first_examples_per_second"]["minivae"]))
    row("first epoch within 1.5x of a steady one", f"{slower:.2f}x", slower <= 1.5)
    return ["", "Whole-epoch targets (784-400-20, batch 128, 2 threads):", "", "| target | this run | |",
            "|---|---|---|"] + rows


def targets(results, startup):
    """The issue's targets, checked on this run: 784-400-20, batch 128, 2 threads, and ahead of PyTorch elsewhere."""
    head = [r for r in results if (r["config"], r["batch_size"], r["threads"]) == ((784, 400, 20), 128, 2)]
    if not head:
        return []
    r = head[0]
    rows = []

    def row(what, value, ok):
        rows.append(f"| {what} | {value} | {'met' if ok else 'MISSED'} |")

    best = r["best_examples_per_second"]
    if "torch-tuned" in r["ratio"]:
        row("x tuned PyTorch >= 1.25", f"{r['ratio']['torch-tuned']:.2f}", r["ratio"]["torch-tuned"] >= 1.25)
        row("x PyTorch example ~2", f"{r['ratio']['torch-example']:.2f}", r["ratio"]["torch-example"] >= 1.9)
    if "jax" in r["ratio"]:
        row("ahead of JAX", f"{r['ratio']['jax']:.2f}", r["ratio"]["jax"] > 1)
    row("x plain NumPy >= 3", f"{r['ratio']['numpy']:.2f}", r["ratio"]["numpy"] >= 3)
    frac = best["minivae"] / best["gemm"]
    row("GEMM ceiling >= 60%", f"{100 * frac:.0f}%", frac >= 0.6)
    torch_ratios = [x["ratio"][k] for x in results for k in ("torch-example", "torch-tuned") if k in x["ratio"]]
    if torch_ratios:
        row("ahead of PyTorch everywhere", f"lowest x PyTorch: {min(torch_ratios):.2f}", min(torch_ratios) > 1)
        torch_mib = min(r["max_rss_mib"][k] for k in ("torch-example", "torch-tuned"))
        mib = r["max_rss_mib"]["minivae"]
        row("peak memory < half of PyTorch's", f"{mib:.0f} / {torch_mib:.0f} MiB = {mib / torch_mib:.0%}",
            mib < torch_mib / 2)
    warm = startup.get("minivae, warm Numba cache")
    if warm is not None:
        row("first step < 1.5 s, warm cache", f"{warm:.2f} s", warm < 1.5)
    return ["", "Targets (784-400-20, batch 128, 2 threads):", "", "| target | this run | |", "|---|---|---|"] + rows


def parse_cfg(text):
    d, h, latent = (int(p) for p in text.split("-"))
    return d, h, latent


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=["784-400-20", "784-512-2"], help="input-hidden-latent sizes")
    p.add_argument("--batches", nargs="+", type=int, default=[128, 32])
    p.add_argument("--threads", nargs="+", type=int, help="thread counts (default: 2 1; with --quick: 2)")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per implementation (median reported)")
    p.add_argument("--steps", type=int, default=64, help="training steps per repeat")
    p.add_argument("--pause", type=float, default=0.2, help="seconds between two repeats")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if it is installed")
    p.add_argument("--no-jax", action="store_true", help="leave JAX out even if it is installed")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    p.add_argument("--epochs", type=int, default=4, help="whole epochs per run in the epoch table (0: no table)")
    p.add_argument("--epoch-runs", type=int, default=3, help="runs of the epoch table, each in fresh processes")
    p.add_argument("--quick", action="store_true", help="784-400-20, batch 128, 5 repeats, 2 threads")
    p.add_argument("--json", help="also write the raw results to this file")
    args = p.parse_args()
    if args.quick:
        args.configs, args.batches, args.repeats = ["784-400-20"], [128], 5
    args.threads = args.threads or ([2] if args.quick else [2, 1])
    if args.repeats < 5:
        print("note: fewer than 5 repeats make the medians fragile", file=sys.stderr)

    impls = list(IMPLS)
    if args.no_torch or not torch_available():
        impls = [k for k in impls if not k.startswith("torch")]
        print("PyTorch is not installed (or --no-torch): no PyTorch columns", file=sys.stderr)
    if args.no_jax or not jax_available():
        impls.remove("jax")
        print("JAX and optax are not installed (or --no-jax): no JAX column (pip install jax optax)", file=sys.stderr)

    meta = {"date": datetime.date.today().isoformat(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "versions": versions(), "load_before": os.getloadavg()[0], "repeats": args.repeats,
            "steps": args.steps}
    results, startup, epochs = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        data = load_mnist_test_10k().x_train  # (9000, 784) float32 in [0, 1]
        data = data[np.random.default_rng(0).permutation(len(data))]
        data_path = Path(tmp) / "train.npy"
        np.save(data_path, data)
        for threads in args.threads:
            for cfg in args.configs:
                for batch_size in args.batches:
                    print(f"measuring {cfg}, batch {batch_size}, {threads} thread(s) ...", file=sys.stderr, flush=True)
                    r = measure_group(parse_cfg(cfg), batch_size, threads, impls, data_path, args)
                    results.append(r)
                    eps = r["examples_per_second"]
                    print("   " + ", ".join(f"{k} {v:,.0f} ex/s" for k, v in eps.items()), file=sys.stderr)
                    if args.epochs >= 2:
                        print(f"measuring whole epochs, {cfg}, batch {batch_size}, {threads} thread(s) ...",
                              file=sys.stderr, flush=True)
                        epochs.append(measure_epochs(parse_cfg(cfg), batch_size, threads, impls, data_path, args))
        if not args.no_startup:
            print("measuring start-up ...", file=sys.stderr, flush=True)
            startup = measure_startup(data_path, impls, repeats=5)
    meta["load_after"] = os.getloadavg()[0]
    print(report(results, startup, meta) + "\n".join([""] + report_epochs(epochs, results)))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results, "startup": startup,
                                               "epochs": epochs}, indent=1))


if __name__ == "__main__":
    main()
