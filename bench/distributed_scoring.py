"""Scoring a Parquet table with one process and with ``mpiexec -n N``: rows per second, and the ratio.

    python bench/distributed_scoring.py                          # 2,000,000 rows, 1 process vs 2 ranks
    python bench/distributed_scoring.py --rows 200000 --ranks 2 4

The table is the one of ``bench/table_streaming.py`` (an int64 key "id", 8 float64 columns, one string column),
written with one row group per batch of --batch-rows rows. A tiny run is trained on its first 20,000 rows with the
command line (the speed of scoring does not depend on how well the model fits). Then the same command scores it,
once in one process to a folder of parts and once per entry of --ranks under ``mpiexec -n N ... --distributed``,
each process with one BLAS thread; the command's own "in X s" (reading, scoring and writing, after the imports and
the checks) and the wall and CPU time of the whole launch (every rank's) are reported, and the folders are checked
equal part by part.
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def make_tables(folder, rows, batch_rows):
    from table_streaming import stream, table_schema

    from minivae.tables.arrow_io import write_parquet

    write_parquet(folder / "table.parquet", table_schema(), stream(rows, batch_rows))
    write_parquet(folder / "train.parquet", table_schema(), stream(20_000, batch_rows))


def minivae(argv, ranks=None):
    """(seconds the command reports, from its rows/s; wall seconds; CPU seconds of all its processes) of ``python -m minivae ARGV``, under
    ``mpiexec -n ranks`` if ranks."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    launch = [shutil.which("mpiexec") or str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks)] if ranks \
        else []
    t0, cpu0 = time.perf_counter(), _children_cpu()
    done = subprocess.run([*launch, sys.executable, "-m", "minivae", *argv], env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    said = re.search(r"scored ([\d,]+) rows.*\(([\d,]+) rows/s\)", done.stdout)  # None: not a scoring command
    rows, rate = (float(m.replace(",", "")) for m in said.groups()) if said else (0.0, 1.0)
    return rows / rate, wall, cpu


def _children_cpu():
    """User + system CPU seconds of the finished child processes (all ranks: mpiexec waits for them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-rows", type=int, default=65_536, help="rows per row group, and per scored batch")
    parser.add_argument("--ranks", type=int, nargs="+", default=[2])
    parser.add_argument("--method", default="elbo", choices=["elbo", "reconstruction", "iwae"])
    parser.add_argument("-k", type=int, default=10, help="importance samples, for --method iwae")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="minivae-distributed-"))
    try:
        make_tables(folder, args.rows, args.batch_rows)
        minivae(["train", "--table", str(folder / "train.parquet"), "--key", "id", "--epochs", "1", "--hidden",
                 "64", "--latent", "4", "--quiet", "--no-figures", "--out", str(folder / "run")])
        score = ["anomaly", str(folder / "run" / "checkpoint.npz"), "--table", str(folder / "table.parquet"),
                 "--method", args.method, "-k", str(args.k), "--batch-rows", str(args.batch_rows)]
        print(f"{args.rows:,} rows, row groups of {args.batch_rows:,} rows, --method {args.method}; "
              f"{os.cpu_count()} cores")
        base, wall, cpu = minivae([*score, "--out", f"{folder / 'one'}/"])
        print(f"  1 process  {base:7.2f} s  {args.rows / base:10,.0f} rows/s   (launch: wall {wall:.1f} s, CPU {cpu:.1f} s)")
        for n in args.ranks:
            seconds, wall, cpu = minivae([*score, "--out", f"{folder / f'ranks-{n}'}/", "--distributed"], ranks=n)
            same = all((folder / "one" / p.name).read_bytes() == p.read_bytes()
                       for p in sorted((folder / f"ranks-{n}").glob("part-*.parquet")))
            print(f"  {n} ranks    {seconds:7.2f} s  {args.rows / seconds:10,.0f} rows/s   (launch: wall {wall:.1f} s, CPU {cpu:.1f} s)"
                  f"   x{base / seconds:.2f}; parts equal to one process's: {same}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
