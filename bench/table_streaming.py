"""The table path at scale: rows per second and peak memory of each stage, from a Parquet table to synthetic rows.

    python bench/table_streaming.py                  # 2,000,000 rows (a few minutes on 2 cores)
    python bench/table_streaming.py --quick          # 200,000 rows (well under a minute)
    python bench/table_streaming.py --rows 20000     # a smoke run

The table is made batch by batch, as tests/test_table_streaming.py makes it (8 float64 columns, two of them
correlated, one string column "kind"), with an int64 key column "id" in front, and written with
``AtomicParquetWriter`` (one row group per batch of --batch-rows rows, snappy). Then each stage runs in its own
process, one after the other, in one run:

    write          making the table and writing it                         AtomicParquetWriter
    pyarrow read   pyarrow alone: ParquetFile.iter_batches, all columns    the ceiling of reading
                   (once as pyarrow's defaults read, once with pre_buffer=False)
    minivae read   tables.arrow_io.iter_batches, all columns               Arrow -> the column-batch convention
    fit            TableEncoder().fit(iter_batches(...))                   one streaming pass
    encode         streaming.encode_split(iter_batches(...), ...)          into memory-mapped train.npy / test.npy
    train          Trainer(VAE(mixed), TrainConfig(epochs=1)).fit(train, test)   from the memory-mapped files
    score METHOD   scoring.score_batches(..., methods=[METHOD]) -> AtomicParquetWriter, one process per method
    synthesize     synthesis.synthetic_batches(...) -> AtomicParquetWriter, as many rows as the table

rows/s is the stage's rows over its wall time (the training stage: the training rows over ``fit``, which includes
the validation pass over the test rows and the latent-use report); "x read" is the stage's time per row over
the faster of pyarrow's two reads. Each worker first loads its libraries and runs its stage once on a few thousand
rows (Numba's kernels compile or load from the cache), then runs the stage timed. Its memory, in MiB:

    start          resident set just before the timed stage (the interpreter, NumPy, Numba, pyarrow, minivae, the
                   warm-up's leftovers): what any process of the table path holds anyway
    peak           the process's peak resident set, VmHWM of /proc/self/status (not ru_maxrss, which Linux carries
                   over from the parent across fork and exec); it counts the pages of memory-mapped files that the
                   process touched, which the operating system can drop
    peak anon      the peak of RssAnon (memory the process allocated, no file pages), sampled every 10 ms by a thread

beside the size of the table on disk and as Arrow holds it in memory (the sum of the record batches' buffers).
The files are read from the page cache (they were just written): these are not the speeds of a cold disk.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
MODEL_COLUMNS = [f"v{j}" for j in range(6)] + ["a", "b", "kind"]
KEY = "id"
METHODS = ("elbo", "reconstruction", "iwae")
WARM_ROWS = 4096
MiB = 2 ** 20


# ----------------------------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------------------------

def table_schema():
    """The schema of the benchmark's table: the key, 8 float64 columns, one string column."""
    def column(name, kind, arrow_type):
        return {"name": name, "type": kind, "arrow_type": arrow_type, "nullable": False}

    return ([column(KEY, "int", "int64")] + [column(name, "float", "double") for name in MODEL_COLUMNS[:-1]]
            + [column("kind", "string", "string")])


def stream(rows, batch_rows, seed=0):
    """The table made batch by batch, never whole (as in tests/test_table_streaming.py), with its key in front."""
    import numpy as np

    for start in range(0, rows, batch_rows):
        b = min(batch_rows, rows - start)
        rng = np.random.default_rng([seed, start])
        z = rng.standard_normal(b)
        batch = {KEY: np.arange(start, start + b, dtype=np.int64)}
        batch.update({f"v{j}": rng.standard_normal(b) for j in range(6)})
        batch["a"], batch["b"] = z, 2 * z + 0.1 * rng.standard_normal(b)
        batch["kind"] = np.where(z > 0, "up", "down").astype(object)
        yield batch


# ----------------------------------------------------------------------------------------------------------------------
# The stages: each runs once on a few rows (the warm-up), then timed on the table; each returns the rows it handled
# ----------------------------------------------------------------------------------------------------------------------

class Paths:
    """The files of one run, in one folder."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.table = self.folder / "table.parquet"
        self.encoder = self.folder / "encoder.json"
        self.encoded = self.folder / "encoded"
        self.model = self.folder / "model.npz"
        self.warm = self.folder / "warm-up"

    def scores(self, method):
        return self.folder / f"scores-{method}.parquet"

    @property
    def synthetic(self):
        return self.folder / "synthetic.parquet"


def stage_write(paths, args, warm):
    from minivae.tables.arrow_io import write_parquet

    rows, target = (WARM_ROWS, paths.warm / "table.parquet") if warm else (args.rows, paths.table)
    write_parquet(target, table_schema(), stream(rows, args.batch_rows))
    return {"rows": rows}


def pyarrow_read(pre_buffer):
    """The stage that reads the table with pyarrow alone; ``pre_buffer``: of ``pyarrow.parquet.ParquetFile``
    (True, its default, reads the column chunks of all the row groups asked for ahead, in large coalesced reads)."""
    def stage(paths, args, warm):
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = arrow_bytes = 0
        parquet_file = pq.ParquetFile(table_path(paths, warm), pre_buffer=pre_buffer)
        for record_batch in parquet_file.iter_batches(batch_size=args.batch_rows):
            rows, arrow_bytes = rows + record_batch.num_rows, arrow_bytes + record_batch.nbytes
        return {"rows": rows, "arrow_bytes": arrow_bytes, "arrow_pool_peak": pa.default_memory_pool().max_memory()}
    return stage


def stage_minivae_read(paths, args, warm):
    from minivae.tables.arrow_io import iter_batches

    rows = 0
    for batch in iter_batches(table_path(paths, warm), batch_rows=args.batch_rows):
        rows += len(batch[KEY])
    return {"rows": rows}


def stage_fit(paths, args, warm):
    from minivae.tables.arrow_io import count_rows, iter_batches
    from minivae.tables.columns import TableEncoder

    encoder = TableEncoder().fit(iter_batches(table_path(paths, warm), args.batch_rows, columns=MODEL_COLUMNS))
    target = paths.warm / "encoder.json" if warm else paths.encoder
    target.write_text(json.dumps(encoder.to_dict()))
    return {"rows": count_rows(table_path(paths, warm)), "data_dim": encoder.data_dim}


def stage_encode(paths, args, warm):
    from minivae.tables.arrow_io import count_rows, iter_batches
    from minivae.tables.streaming import encode_split

    source, encoder = table_path(paths, warm), load_encoder(paths, warm)
    n = count_rows(source)
    train, test = encode_split(iter_batches(source, args.batch_rows, columns=MODEL_COLUMNS), n, encoder,
                               paths.warm / "encoded" if warm else paths.encoded, test_fraction=args.test_fraction,
                               seed=1)
    return {"rows": n, "train_rows": len(train), "test_rows": len(test),
            "encoded_bytes": train.nbytes + test.nbytes}


def stage_train(paths, args, warm):
    import numpy as np

    from minivae.models import VAE
    from minivae.training.trainer import TrainConfig, Trainer

    folder = paths.warm / "encoded" if warm else paths.encoded
    train, test = (np.load(folder / name, mmap_mode="r") for name in ("train.npy", "test.npy"))
    encoder = load_encoder(paths, warm)
    vae = VAE(encoder.data_dim, latent_dim=args.latent, hidden=(args.hidden,), seed=0,
              likelihood={"name": "mixed", "columns": encoder.column_specs()})
    trainer = Trainer(vae, TrainConfig(epochs=1, batch_size=args.train_batch, lr=3e-3, quiet=True))
    history = trainer.fit(train, test)
    trainer.save(paths.warm / "model.npz" if warm else paths.model)
    return {"rows": len(train), "val_loss": history["val_loss"][-1], "train_loss": history["train_loss"][-1]}


def stage_score(method):
    def stage(paths, args, warm):
        from minivae.tables.arrow_io import AtomicParquetWriter, iter_batches
        from minivae.tables.scoring import SCORES, score_batches

        model, encoder = load_model(paths, warm), load_encoder(paths, warm)
        batches = enumerate(iter_batches(table_path(paths, warm), args.batch_rows, columns=[KEY] + MODEL_COLUMNS))
        schema = [table_schema()[0], {"name": SCORES[method], "type": "float", "arrow_type": "double",
                                      "nullable": False}]
        target = paths.warm / f"scores-{method}.parquet" if warm else paths.scores(method)
        with AtomicParquetWriter(target, schema) as writer:
            for scores in score_batches(model, encoder, (((0, i), b) for i, b in batches), keys=[KEY],
                                        methods=[method], k=args.k):
                writer.write(scores)
        return {"rows": writer.rows, "bytes_written": target.stat().st_size}
    return stage


def stage_synthesize(paths, args, warm):
    import numpy as np

    from minivae.tables.arrow_io import AtomicParquetWriter
    from minivae.tables.synthesis import synthetic_batches

    model, encoder = load_model(paths, warm), load_encoder(paths, warm)
    rows = WARM_ROWS if warm else args.rows
    target = paths.warm / "synthetic.parquet" if warm else paths.synthetic
    with AtomicParquetWriter(target, table_schema()[1:]) as writer:
        for batch in synthetic_batches(model, encoder, rows, np.random.default_rng(2), batch_rows=args.batch_rows):
            writer.write(batch)
    return {"rows": writer.rows, "bytes_written": target.stat().st_size}


STAGES = {"write": stage_write, "pyarrow read": pyarrow_read(True), "pyarrow read, no pre-buffer": pyarrow_read(False),
          "minivae read": stage_minivae_read,
          "fit": stage_fit, "encode": stage_encode, "train": stage_train,
          **{f"score {m}": stage_score(m) for m in METHODS}, "synthesize": stage_synthesize}
WHAT = {"write": "make the table, write it (AtomicParquetWriter)",
        "pyarrow read": "pyarrow ParquetFile.iter_batches, all columns",
        "pyarrow read, no pre-buffer": "the same, ParquetFile(pre_buffer=False)",
        "minivae read": "arrow_io.iter_batches, all columns (column batches)",
        "fit": "TableEncoder.fit, one pass",
        "encode": "encode_split into train.npy / test.npy",
        "train": "one epoch of Trainer.fit from the memmaps",
        "score elbo": "score_batches elbo -> Parquet",
        "score reconstruction": "score_batches reconstruction -> Parquet",
        "score iwae": "score_batches iwae -> Parquet",
        "synthesize": "synthetic_batches -> Parquet"}


def table_path(paths, warm):
    return paths.warm / "table.parquet" if warm else paths.table


def load_encoder(paths, warm):
    from minivae.tables.columns import TableEncoder

    return TableEncoder.from_dict(json.loads((paths.warm / "encoder.json" if warm else paths.encoder).read_text()))


def load_model(paths, warm):
    from minivae.training.checkpoint import load_checkpoint

    return load_checkpoint(paths.warm / "model.npz" if warm else paths.model).model


# ----------------------------------------------------------------------------------------------------------------------
# One worker: one stage in its own process
# ----------------------------------------------------------------------------------------------------------------------

def proc_status_kib(field):
    """A field of /proc/self/status in KiB (VmHWM, VmRSS, RssAnon), or None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mib():
    """The process's peak resident set: VmHWM on Linux, else ru_maxrss (KiB on Linux and BSD, bytes on macOS)."""
    hwm = proc_status_kib("VmHWM")
    if hwm is not None:
        return hwm / 1024
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / MiB if sys.platform == "darwin" else rss / 1024


class AnonSampler(threading.Thread):
    """Samples RssAnon every ``interval`` seconds until stopped; ``peak_mib`` is the largest seen (None off Linux)."""

    def __init__(self, interval=0.01):
        super().__init__(daemon=True)
        self.interval, self.peak_kib, self._stop_event = interval, proc_status_kib("RssAnon"), threading.Event()

    def run(self):
        while not self._stop_event.wait(self.interval):
            self.peak_kib = max(self.peak_kib or 0, proc_status_kib("RssAnon") or 0)

    def stop(self):
        self._stop_event.set()
        self.join()
        self.peak_kib = max(self.peak_kib or 0, proc_status_kib("RssAnon") or 0)
        return self.peak_kib / 1024 if self.peak_kib else None


def blas_threads():
    """'N (library)' of NumPy's BLAS, from threadpoolctl if it is installed, else from the environment."""
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            return ", ".join(sorted({f"{p['num_threads']} ({p['internal_api']})" for p in blas}))
    except ImportError:
        pass
    return f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')} (OPENBLAS_NUM_THREADS)"


def run_worker(stage, args):
    """Warm up, then run the stage timed; print one JSON line (prefixed "@@") with its rows, time and memory."""
    import numpy as np
    import pyarrow

    import minivae.tables.arrow_io  # noqa: F401

    pyarrow.set_cpu_count(args.arrow_threads)
    paths = Paths(args.folder)
    paths.warm.mkdir(parents=True, exist_ok=True)
    STAGES[stage](paths, args, warm=True)
    start_mib, start_anon_mib = ((proc_status_kib(field) or 0) / 1024 for field in ("VmRSS", "RssAnon"))
    sampler = AnonSampler()
    sampler.start()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = STAGES[stage](paths, args, warm=False)
        times.append(time.perf_counter() - t0)
    anon = sampler.stop()
    result.update(stage=stage, seconds=float(np.median(times)), times=times, start_mib=start_mib,
                  start_anon_mib=start_anon_mib, peak_mib=peak_rss_mib(), peak_anon_mib=anon, blas=blas_threads(),
                  arrow_threads=pyarrow.cpu_count())
    print("@@" + json.dumps(result), flush=True)


# ----------------------------------------------------------------------------------------------------------------------
# The orchestrator
# ----------------------------------------------------------------------------------------------------------------------

def worker_command(stage, args, folder):
    return [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--folder", str(folder),
            "--rows", str(args.rows), "--batch-rows", str(args.batch_rows), "--train-batch", str(args.train_batch),
            "--hidden", str(args.hidden), "--latent", str(args.latent), "--k", str(args.k),
            "--test-fraction", str(args.test_fraction), "--threads", str(args.threads), "--repeats", str(args.repeats),
            "--arrow-threads", str(args.arrow_threads)]


def run_stage(stage, args, folder):
    """Run one stage in a fresh process; returns its JSON result."""
    env = dict(os.environ, **{var: str(args.threads) for var in THREAD_VARS})
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p)
    print(f"  {stage} ...", end="", file=sys.stderr, flush=True)
    done = subprocess.run(worker_command(stage, args, folder), env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"\nthe stage {stage!r} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result = json.loads(next(line[2:] for line in done.stdout.splitlines() if line.startswith("@@")))
    print(f" {result['seconds']:.1f} s", file=sys.stderr, flush=True)
    return result


def versions():
    import numba
    import numpy as np
    import pyarrow

    return f"Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}, " \
           f"pyarrow {pyarrow.__version__}"


def mib(value):
    return "" if value is None else f"{value:,.0f}"


def report(results, args, table, load):
    """The markdown: the machine, the table's size, one row per stage."""
    from throughput import cpu_model  # the machine line every benchmark prints (bench/ is on the path of a script)

    base = results["pyarrow read"]
    per_row = min(r["seconds"] / r["rows"] for stage, r in results.items() if stage.startswith("pyarrow"))
    lines = [f"Machine: {cpu_model()}, {os.cpu_count()} CPUs; BLAS threads: {results['train']['blas']}; "
             f"pyarrow threads: {base['arrow_threads']}. {versions()}. Load average (1 min) before / after: "
             f"{load[0]:.1f} / {load[1]:.1f}.",
             "",
             f"Table: {table['rows']:,} rows, {table['columns']} columns ({KEY} int64, 8 float64, kind string), "
             f"{table['row_groups']} row groups of up to {args.batch_rows:,} rows; {table['disk'] / MiB:,.1f} MiB "
             f"on disk (snappy), {base['arrow_bytes'] / MiB:,.1f} MiB as Arrow holds it in memory (the peak of "
             f"pyarrow's "
             f"memory pool while reading it: {base['arrow_pool_peak'] / MiB:,.1f} MiB with pre-buffering, "
             f"{results['pyarrow read, no pre-buffer']['arrow_pool_peak'] / MiB:,.1f} MiB without); encoded: "
             f"{results['encode']['train_rows']:,} train + {results['encode']['test_rows']:,} test rows x "
             f"{results['fit']['data_dim']} float32 = {results['encode']['encoded_bytes'] / MiB:,.1f} MiB. "
             f"VAE D-{args.hidden}-{args.latent}, mixed likelihood, batch {args.train_batch}; IW bound K = {args.k}.",
             "",
             "| stage | what | rows | seconds | rows/s | x read | RSS start | RSS peak | anon start | anon peak |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for stage, r in results.items():
        ratio = (r["seconds"] / r["rows"]) / per_row
        lines.append(f"| {stage} | {WHAT[stage]} | {r['rows']:,} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f}"
                     f" | {ratio:,.1f} | {mib(r['start_mib'])} | {mib(r['peak_mib'])} | {mib(r['start_anon_mib'])} | "
                     f"{mib(r['peak_anon_mib'])} |")
    lines += ["", f"seconds: the median of {args.repeats} timed runs in the stage's process, after a warm-up on "
              f"{WARM_ROWS:,} rows; x read: time per row over pyarrow's faster read; memory in MiB: RSS start = VmRSS "
              "before the timed runs, RSS peak = VmHWM (with the pages of memory-mapped files touched), anon = "
              "RssAnon (sampled every 10 ms)."]
    return "\n".join(lines)


def table_facts(path):
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    return {"rows": meta.num_rows, "columns": meta.num_columns, "row_groups": meta.num_row_groups,
            "disk": path.stat().st_size}


def run_all(args, folder):
    print(f"{args.rows:,} rows, in {folder}:", file=sys.stderr)
    load_before = os.getloadavg()[0]
    results = {stage: run_stage(stage, args, folder) for stage in STAGES}
    table = table_facts(Paths(folder).table)
    print(report(results, args, table, (load_before, os.getloadavg()[0])))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000, help="rows of the table (default 2,000,000)")
    p.add_argument("--quick", action="store_true", help="200,000 rows")
    p.add_argument("--folder", help="where the files go (default: a temporary folder, removed at the end)")
    p.add_argument("--batch-rows", type=int, default=65_536, help="rows per batch and per row group")
    p.add_argument("--train-batch", type=int, default=1024, help="training batch size")
    p.add_argument("--hidden", type=int, default=64, help="hidden units of the VAE")
    p.add_argument("--latent", type=int, default=4, help="latent dimensions of the VAE")
    p.add_argument("--k", type=int, default=10, help="importance samples of the IW bound")
    p.add_argument("--test-fraction", type=float, default=0.01, help="rows held out by encode_split")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of each stage in its process (the median)")
    p.add_argument("--threads", type=int, default=1, help="BLAS and Numba threads of every stage (default 1)")
    p.add_argument("--arrow-threads", type=int, default=os.cpu_count(),
                   help="pyarrow's threads (default: every CPU; OMP_NUM_THREADS would otherwise set them too)")
    p.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)  # a worker's one stage
    args = p.parse_args()
    if args.quick:
        args.rows = 200_000
    return args


def main():
    args = parse_args()
    if args.stage:
        run_worker(args.stage, args)
        return
    if args.folder:
        Path(args.folder).mkdir(parents=True, exist_ok=True)
        run_all(args, Path(args.folder))
        return
    folder = Path(tempfile.mkdtemp(prefix="minivae-table-bench-"))
    try:
        run_all(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
