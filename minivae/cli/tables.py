"""The command line for tables: train on a table, score it batch by batch, write synthetic rows, judge them.

    python -m minivae train --table people.parquet --key person_id          # or a .csv, a folder, delta:, iceberg:
    python -m minivae anomaly runs/people/checkpoint.npz --table big.parquet --out scores.parquet
    python -m minivae synthesize runs/people/checkpoint.npz -n 10000 --out synthetic.parquet   # or .csv, delta:...
    python -m minivae report runs/people/checkpoint.npz                     # report.md, scores.json, figures

A table run reads its source with ``minivae.tables.dataset.table_dataset`` (the TableEncoder, the source's schema
and the key columns are recorded in the checkpoint, so every later command reads tables the same way) and trains a
VAE with the Mixed likelihood, one block per column. What the commands write:

    anomaly --table     one row per input row: the key columns, then negative_elbo, reconstruction_error and
                        negative_iw_bound (nats; higher is more anomalous), written batch by batch (Parquet, atomic)
    synthesize          rows with the source's schema (its types, categories and nullability; the key columns, which
                        identify real rows, are left out), to Parquet, CSV, or a new Delta version / Iceberg snapshot
    report              (cli/table_report.py) the synthetic-data quality report of ``minivae.tables.report``: the run's training rows against
                        as many synthetic rows, the held-out rows for the privacy comparison

A table that does not have the model's columns (missing, renamed, of another kind) is refused with every difference
(``tables.dataset.check_drift``); a column the model does not know is left out with a note.

**Parts, and many processes.** An --out folder (ending in /; ``cli.table_output``) gets one Parquet file per unit,
``part-000000.parquet``, ... (``distributed.parts``): for anomaly a unit is a row group of the table (a CSV file is
one), for synthesize a block of --batch-rows rows. Under ``mpiexec -n N ... --distributed`` rank r writes the units
r, r + N, ...; rank 0 alone prints, with the rows and top scores gathered from all. The folder is the same, bit for
bit, whatever N: a batch's noise comes from its id (unit, batch within the unit), a block's rows from
``default_rng([seed, block])``, so no number depends on which rank drew it or on what that rank drew before.
"""
import sys
import time
from pathlib import Path

import numpy as np

from minivae.cli import options
from minivae.cli.distributed import communicator, same_on_every_rank
from minivae.cli.table_output import check_target, is_parts_folder, refuse_own_source, write as _write

# The defaults of a new table run where they differ from an image run's (cli/train.py NEW_RUN)
TABLE_RUN = dict(latent=8, hidden=(128, 128), likelihood="mixed", epochs=100, batch_size=128, lr=1e-3)


def add_train_options(p):
    """The options of ``train`` that only table runs take."""
    p.add_argument("--table", default=None, metavar="SOURCE",
                   help="train on a table: 'penguins' (bundled), a .csv file, a Parquet file or folder, delta:PATH "
                        "or iceberg:CATALOG#NS.TABLE, streamed; numeric, categorical, whole-number and nullable "
                        "columns, each modelled in its support (default: none, train on --data)")
    p.add_argument("--categorical", type=_names, default=[], metavar="C1,C2",
                   help="with --table: columns to treat as categories even if they hold numbers, e.g. 'group,year'")
    p.add_argument("--key", type=_names, default=[], metavar="C1,C2",
                   help="with --table: columns that identify a row (an id): kept out of the model, written beside "
                        "the scores of anomaly --table")
    p.add_argument("--range", type=_ranges, default={}, metavar="C=LO:HI",
                   help="with --table: declared ranges, e.g. 'fraction=0:1,age=0:120': the column is modelled "
                        "with a logit on it and no value outside it is accepted or synthesised")


def _names(text):
    return [name.strip() for name in text.split(",") if name.strip()]


def _ranges(text):
    """'a=0:1,b=-5:5' -> {"a": (0.0, 1.0), "b": (-5.0, 5.0)}."""
    ranges = {}
    for item in _names(text):
        name, _, bounds = item.rpartition("=")
        low, _, high = bounds.partition(":")
        try:
            ranges[name] = (float(low), float(high))
        except ValueError:
            name = ""
        if not name or not ranges[name][0] < ranges[name][1]:
            raise options.argparse.ArgumentTypeError(f"expected COLUMN=LO:HI with LO < HI (e.g. fraction=0:1), "
                                                     f"got {item!r}")
    return ranges


def is_table_run(args):
    return getattr(args, "table", None) is not None


def source_of(name):
    """A --table value as a source: the name of a bundled table ("penguins") becomes its file's path."""
    from minivae.datasets.catalog import BUNDLED_TABLES, bundled_table

    return str(bundled_table(name)) if name in BUNDLED_TABLES else name


def refuse_table_options(args):
    given = [f"--{o}" for o in ("categorical", "key", "range") if getattr(args, o)]
    if given:
        raise ValueError(f"{', '.join(given)} apply to a table: give it with --table")


def table_options(args, out):
    """The keyword arguments of ``training_data`` for a new table run (its scratch files go to ``out``)."""
    return dict(categorical=args.categorical,
                table_options=dict(keys=args.key, ranges=args.range, scratch=out))


# ------------------------------------------------------------------------------------------------- the checkpoint
def table_of(ckpt):
    """(TableEncoder, table record) of a table run's checkpoint, or (None, None) for any other run (a run of
    minivae 0.2, whose TabularEncoder reads CSV files only, gives (None, None) too)."""
    from minivae.tables.columns import FORMAT, TableEncoder

    encoder = ckpt.extra.get("table_encoder")
    if not isinstance(encoder, dict) or encoder.get("format") != FORMAT:
        return None, None
    return TableEncoder.from_dict(encoder), ckpt.extra.get("table") or {"schema": None, "keys": [], "rows": None}


def column_specs(ckpt):
    """The Mixed likelihood's columns of a table run (this version's TableEncoder, or minivae 0.2's)."""
    encoder = table_of(ckpt)[0]
    if encoder is None:
        from minivae.datasets.tables import TabularEncoder

        encoder = TabularEncoder.from_dict(ckpt.extra["table_encoder"])
    return encoder.column_specs()


def _model_schema(encoder, table):
    """The schema of the model's columns, in the encoder's order (the key columns left out)."""
    by_name = {c["name"]: c for c in table.get("schema") or []}
    return [by_name.get(name) or _schema_of_column(c) for name, c in zip(encoder.header, encoder.columns)]


def _schema_of_column(c):
    """A schema entry from the encoder alone, for a record without the source's schema."""
    if c["kind"] == "numeric":
        kind = "int" if c["whole"] else "float"
    else:
        kind = "float" if c.get("number") else "string"
    return {"name": c["name"], "type": kind, "arrow_type": {"int": "int64", "float": "double"}.get(kind, "string"),
            "nullable": bool(c["nullable"])}


# ------------------------------------------------------------------------------------------------- anomaly --table
def score_table(args, ckpt):
    """anomaly CHECKPOINT --table SOURCE --out scores.parquet (or a folder of parts): every row's scores, batch by
    batch; with --distributed each rank scores the units of the table that are its own (module docstring)."""
    from minivae.distributed import parts
    from minivae.tables.dataset import row_count
    from minivae.tables.scoring import SCORES, score_batches

    encoder, table = table_run(ckpt, "anomaly --table")
    args.table = source_of(args.table)
    out = _scores_out(args)
    comm = communicator(args)
    keys = list(table.get("keys") or [])
    csv_batch, schema = same_on_every_rank(lambda: _checked_source(args.table, encoder, table, keys, comm))
    model = ckpt.model
    methods = [args.method] if args.method else (["elbo", "reconstruction", "iwae"] if model.probabilistic
                                                 else ["reconstruction"])
    columns = keys + encoder.header
    out_schema = [c for c in schema if c["name"] in keys] + [
        {"name": SCORES[m], "type": "float", "arrow_type": "double", "nullable": False} for m in methods]
    n, t0 = row_count(args.table, csv_batch), time.perf_counter()
    summary = _Summary(SCORES[methods[0]])

    def scored(batches):
        return (summary.add(b) for b in score_batches(model, encoder, batches, keys=keys, methods=methods,
                                                      seed=args.seed, k=args.k))

    if is_parts_folder(out):  # one part per unit: part i of the folder is unit i of the table
        parts.prepare_folder(out, comm)
        units = _unit_count(args.table, csv_batch)
        count = parts.write_parts(out, out_schema, ((u, scored(_unit_batches(args.table, columns, csv_batch,
                                                                              args.batch_rows, u, units)))
                                                    for u in parts.mine(units, comm)), comm)
        summary = _Summary.merged(comm.allgather(summary))
        written = f"{out} ({count} part{'s' * (count != 1)}{f', from {comm.size} ranks' if comm.size > 1 else ''})"
    else:
        written = _write(out, out_schema, scored(_numbered(args.table, columns, csv_batch, args.batch_rows)))
    seconds = time.perf_counter() - t0
    if comm.is_root:
        print(f"scored {summary.rows:,} rows of {args.table} ({', '.join(SCORES[m] for m in methods)}"
              + (f", K = {args.k}" if "iwae" in methods else "") + f") in {seconds:.1f} s "
              f"({summary.rows / max(seconds, 1e-9):,.0f} rows/s); wrote {written}")
    if summary.rows != n:
        raise ValueError(f"{args.table} was said to hold {n} rows but gave {summary.rows}; it changed while it was "
                         "read")
    if comm.is_root:
        print(summary.describe())


def _checked_source(source, encoder, table, keys, comm):
    """(a CSV file's batch or None, the schema) of a table to score, refused if it lacks the model's columns or
    the run's keys (``check_drift``); the notes printed by rank 0."""
    from minivae.tables.dataset import check_drift, is_csv, read_csv_batch, source_schema

    csv_batch = read_csv_batch(source, "keep", encoder=encoder)[0] if is_csv(source) else None
    schema = source_schema(source, csv_batch)
    for note in check_drift(source, encoder, schema, keys, table.get("schema")):
        if comm.is_root:
            print(f"minivae: {note}", file=sys.stderr)
    missing_keys = [k for k in keys if k not in {c["name"] for c in schema}]
    if missing_keys:
        raise ValueError(f"{source} lacks the key column(s) {missing_keys} the run was trained with; the scores "
                         "would not say which row they belong to")
    return csv_batch, schema


def _unit_count(source, csv_batch):
    """The number of units of work of a table: its row groups (``tables.arrow_io.fragments``); a CSV file is one."""
    from minivae.tables.arrow_io import fragments

    return 1 if csv_batch is not None else len(fragments(source))


def _unit_batches(source, columns, csv_batch, batch_rows, unit, units):
    """(batch id, batch) pairs of one unit: the id is (unit, batch within it), so that the noise of a batch does
    not depend on the batches before it (``tables.scoring``), nor on how many processes share the units."""
    if csv_batch is not None:
        from minivae.tables.dataset import batches_of

        return (((0, j), b) for j, b in enumerate(batches_of(source, columns, batch_rows, csv_batch)))
    from minivae.tables.arrow_io import iter_batches

    batches = iter_batches(source, batch_rows=batch_rows, columns=columns, part=unit, parts=units)
    return (((unit, j), b) for j, b in enumerate(batches))


def _numbered(source, columns, csv_batch, batch_rows):
    """The (batch id, batch) pairs of every unit, in the table's order."""
    units = _unit_count(source, csv_batch)
    for unit in range(units):
        yield from _unit_batches(source, columns, csv_batch, batch_rows, unit, units)


class _Summary:
    """The rows seen and the largest scores, as batches of scores pass by to the writer."""

    def __init__(self, column, top=5):
        self.column, self.top, self.rows = column, top, 0
        self.best = np.zeros(0)
        self.median_sample = []

    def add(self, batch):
        scores = batch[self.column]
        self.rows += len(scores)
        self.best = np.sort(np.concatenate([self.best, scores]))[-self.top:]
        self.median_sample.append(scores[:: max(1, len(scores) // 1000)])
        return batch

    @classmethod
    def merged(cls, summaries):
        """One summary of the rows of several (each rank's, gathered)."""
        whole = cls(summaries[0].column, summaries[0].top)
        whole.rows = sum(s.rows for s in summaries)
        whole.best = np.sort(np.concatenate([s.best for s in summaries]))[-whole.top:]
        whole.median_sample = [a for s in summaries for a in s.median_sample]
        return whole

    def describe(self):
        sample = np.concatenate(self.median_sample) if self.median_sample else np.zeros(1)
        return (f"{self.column}: median {np.median(sample):.2f} nats (of a sample of the rows), highest "
                + ", ".join(f"{v:.1f}" for v in self.best[::-1]))


def _scores_out(args):
    """--out, or scores.parquet (with --distributed the folder scores/) in the checkpoint's folder; checked."""
    out = args.out if args.out_given else _next_to(args.checkpoint, "scores/" if args.distributed else "scores.parquet")
    check_target(out, "the scores", args.distributed)
    refuse_own_source(out, args.table)
    return out


def _next_to(checkpoint, name):
    """The path of ``name`` in the checkpoint's folder (a trailing / kept: a folder of parts)."""
    return str(Path(checkpoint).resolve().parent / name) + "/" * name.endswith("/")


# ------------------------------------------------------------------------------------------------- synthesize
def synthesize_table(args, ckpt):
    """synthesize CHECKPOINT -n N --out FILE for a table run: rows with the source's schema, batch by batch; to a
    folder --out, block b of --batch-rows rows from its own generator into part b, rank r writing blocks r, r+size..."""
    from minivae.distributed import parts
    from minivae.tables.dataset import is_csv
    from minivae.tables.synthesis import block_count, synthetic_batches, synthetic_block

    encoder, table = table_run(ckpt, "synthesize")
    name = ".csv" if is_csv(ckpt.extra.get("dataset", "")) else ".parquet"
    out = args.out if args.out_given else _next_to(args.checkpoint, "synthetic" + ("/" if args.distributed else name))
    check_target(out, "synthetic rows", args.distributed)
    comm = communicator(args)
    schema = _model_schema(encoder, table)
    if is_parts_folder(out):
        parts.prepare_folder(out, comm)
        blocks = ((b, [synthetic_block(ckpt.model, encoder, args.n, b, args.seed, args.batch_rows)])
                  for b in parts.mine(block_count(args.n, args.batch_rows), comm))
        count = parts.write_parts(out, schema, blocks, comm)
        written = f"{out} ({count} part{'s' * (count != 1)})"
    else:
        rng = np.random.default_rng(args.seed)
        written = _write(out, schema, synthetic_batches(ckpt.model, encoder, args.n, rng, batch_rows=args.batch_rows))
    left_out = f" (the key column(s) {', '.join(table['keys'])} left out)" if table.get("keys") else ""
    if comm.is_root:
        print(f"wrote {args.n:,} synthetic rows of {len(schema)} columns to {written}{left_out}")


def table_run(ckpt, command):
    encoder, table = table_of(ckpt)
    if encoder is None:
        raise ValueError(f"{command} needs a model trained on a table with this version of minivae (train --table "
                         "SOURCE); this checkpoint's model was not" + (
                             " (it is a minivae 0.2 table run: synthesize --out FILE.csv still writes its rows)"
                             if ckpt.extra.get("table_encoder") else ""))
    return encoder, table
