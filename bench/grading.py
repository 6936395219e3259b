"""The throughput of batch grading: N submissions graded as ``python -m minivae grade FOLDER`` grades them.

    python bench/grading.py                  # 100 submissions, --jobs = the number of CPUs
    python bench/grading.py -n 40 --jobs 4

Makes a temporary folder of N submissions (half the reference solution, half a few typical wrong ones in turn: a
dx without the transpose, a KL gradient with the wrong sign, the template with nothing done, a file whose import
fails), grades it with ``minivae.teaching.batch.grade_folder`` (every exercise in its own child process), and prints:

    submissions/s, seconds per submission (wall, for the whole pool), seconds of CPU per submission
    start-up         per exercise, the wall seconds from spawning a child to its "ready" (a fresh interpreter
                     importing NumPy; the next child starts while the current exercise runs, so this overlaps)
    start-up share   the CPU seconds the children spent starting, summed, over all the CPU seconds of the run
                     (the grader, the children): what isolation costs
"""
import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minivae.teaching.assignments import PACKAGED_EXERCISES, make_student_version  # noqa: E402
from minivae.teaching.batch import grade_folder  # noqa: E402
from minivae.teaching.grader import GradingOptions  # noqa: E402
from minivae.teaching.seeds import fresh_seed  # noqa: E402


def make_folder(folder, n):
    """n submissions in folder: every other one the reference, the rest the wrong ones in turn."""
    reference = PACKAGED_EXERCISES.read_text(encoding="utf-8")
    todo = make_student_version(PACKAGED_EXERCISES, folder / "template.txt").read_text(encoding="utf-8")
    wrong = [reference.replace("dx = dout @ W.T", "dx = dout @ W"),
             reference.replace("dlogvar = 0.5 * (var - 1) / N", "dlogvar = 0.5 * (1 - var) / N"),
             todo,
             "import numpy as np\nraise ImportError('a module that is not installed')\n"]
    for i in range(n):
        source = reference if i % 2 == 0 else wrong[(i // 2) % len(wrong)]
        (folder / f"student{i:03d}.py").write_text(source, encoding="utf-8")


def cpu_seconds():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=100, help="submissions (default 100)")
    p.add_argument("--jobs", type=int, default=os.cpu_count(), help="submissions at once (default: the CPUs)")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args()
    seed = fresh_seed() if args.seed is None else args.seed
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_folder(folder, args.n)
        cpu, start = cpu_seconds(), time.perf_counter()
        graded = grade_folder(folder, GradingOptions(seed, partial_credit=True), args.jobs)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    exercises = sum(len(r.startup_seconds) for _, r in graded)
    per_exercise = sum(s for _, r in graded for s in r.startup_seconds) / max(1, exercises)
    startup_cpu = sum(s for _, r in graded for s in r.startup_cpu)
    print(f"{len(graded)} submissions, {os.cpu_count()} CPUs, --jobs {args.jobs}, seed {seed}")
    print(f"  {len(graded) / wall:.2f} submissions/s, {wall / len(graded):.3f} s per submission (wall), "
          f"{wall:.1f} s in all; {cpu / len(graded):.3f} s of CPU per submission")
    print(f"  {exercises} child processes; start-up {per_exercise:.3f} s per exercise (spawn to ready, wall), "
          f"{startup_cpu / max(1, exercises):.3f} s of CPU each: {startup_cpu:.1f} s of CPU in all, "
          f"{startup_cpu / cpu:.0%} of the run's CPU")


if __name__ == "__main__":
    main()
