"""Side-by-side timing in worker processes, one per library and thread count, that take turns.

A benchmark that compares libraries starts one worker per library and thread count with ``start_worker``: the
thread variables (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, NUMBA_NUM_THREADS) are set in its
environment, so every library reads them before it loads. The worker (``run_worker``) builds its steps, warms them
up and calls ``serve``, which answers one JSON line per request on stdin:

    "run NAME"  ->  {"median": seconds}     the median of `steps` timed calls of the step called NAME

The orchestrator asks the workers in turn with ``ask``, the one to go first alternating between repeats, so that
every library sees the same machine load; the ratios of times taken in the same round are what to quote.
"""
import json
import os
import subprocess
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def start_worker(script, args, threads):
    """Start ``python script args...`` with every thread variable set to ``threads``; wait until it is ready."""
    env = dict(os.environ, **{v: str(threads) for v in THREAD_VARS})
    proc = subprocess.Popen([sys.executable, str(script), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stdout.readline()
    if not line:
        sys.exit(f"the worker {script} {' '.join(args)} stopped before it was ready (see its error above)")
    assert json.loads(line)["ready"]
    return proc


def worker_threads():
    """The thread count this worker was started with (``start_worker`` sets it)."""
    return int(os.environ["OMP_NUM_THREADS"])


def run_worker(impl, build_steps, n_steps, warmup=5):
    """The body of a worker: the library's thread count (torch's, or Numba's for minivae), its steps built by
    ``build_steps()`` (a dict name -> step function), each called ``warmup`` times, then ``serve``."""
    threads = worker_threads()
    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        import numba

        numba.set_num_threads(threads)
    steps = build_steps()
    for step in steps.values():
        for _ in range(warmup):
            step()
    serve(steps, n_steps)


def serve(steps, n_steps):
    """Answer "run NAME" lines on stdin with the median of n_steps timed calls of steps[NAME]; stop at EOF."""
    import numpy as np

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] != "run":
            break
        step, times = steps[words[1]], np.empty(n_steps)
        for i in range(n_steps):
            t0 = time.perf_counter()
            step()
            times[i] = time.perf_counter() - t0
        print(json.dumps({"median": float(np.median(times))}), flush=True)


def ask(proc, name):
    """The median step time (seconds) of the step called ``name`` in the worker ``proc``."""
    proc.stdin.write(f"run {name}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())["median"]


def stop(procs):
    for proc in procs:
        proc.stdin.close()
        proc.wait()


def take_turns(procs, names, repeats, pause=0.05):
    """times[(impl, name)]: one median step per repeat, the workers asked in turn (the first one alternating)."""
    impls = list(procs)
    times = {(impl, name): [] for impl in impls for name in names}
    for r in range(repeats):
        order = impls if r % 2 == 0 else impls[::-1]
        for name in names:
            for impl in order:
                times[impl, name].append(ask(procs[impl], name))
                time.sleep(pause)  # let the other process's spinning threads go to sleep
    return times
