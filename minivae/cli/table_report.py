"""The ``report`` command: a table run's synthetic-data quality report (``minivae.tables.report``).

    python -m minivae report runs/people/checkpoint.npz --target income      # report.md, scores.json, figures

It compares the run's training rows with as many synthetic rows (or -n of them), and uses the run's held-out rows
(the split of ``minivae.tables.dataset``, drawn again from N and the seed) for the privacy comparison: the distance
of synthetic rows to the closest training row beside that of held-out real rows. ``--real`` compares with another
table instead (without held-out rows). At most --rows real rows of each part, a seeded sample, since the distance
and the detection scores grow with the rows squared.
"""
from pathlib import Path

import numpy as np

from minivae.cli import options
from minivae.cli.common import add_checkpoint_command
from minivae.cli.tables import source_of, table_run
from minivae.training.checkpoint import load_checkpoint

REPORT_ROWS = 5_000  # real rows (and as many synthetic ones) a report compares by default: its scores are O(N^2)

def add_commands(sub):
    p = add_checkpoint_command(sub, "report", "a synthetic-data quality report of a table run: column shapes, pair "
                               "trends, detection, train-on-synthetic efficacy and distance to the closest record, "
                               "with figures", cmd_report)
    p.add_argument("--real", default=None, metavar="SOURCE",
                   help="the real table to compare with (default: the run's own table, its training rows, and its "
                        "held-out rows for the privacy comparison)")
    p.add_argument("--rows", type=options.integer(20, 200_000), default=REPORT_ROWS,
                   help="real rows to compare (a seeded sample if the table has more), and as many synthetic ones")
    p.add_argument("-n", type=options.integer(20, 1_000_000), default=None,
                   help="synthetic rows to draw (default: as many as the real rows compared; more rows lower the "
                        "sampling noise of the synthetic side of every score)")
    p.add_argument("--target", default=None, metavar="COLUMN",
                   help="the column that train-on-synthetic, test-on-real efficacy predicts (default: none, the "
                        "efficacy score is left out)")
    p.add_argument("--out", default=None, help="the report's folder (default: report/ in the checkpoint's folder)")


def cmd_report(args):
    from minivae.tables.report import write_report
    from minivae.tables.synthesis import synthetic_batches

    ckpt = load_checkpoint(args.checkpoint)
    encoder, table = table_run(ckpt, "report")
    if args.target is not None and args.target not in encoder.header:
        raise ValueError(f"--target {args.target!r} is not a column of the model; its columns are {encoder.header}")
    real, holdout, source = _real_rows(args, ckpt, encoder, table)
    kinds = {c["name"]: "numeric" if c["kind"] == "numeric" else "categorical" for c in encoder.columns}
    rng = np.random.default_rng(args.seed)
    n_real = len(next(iter(real.values())))
    n = args.n or n_real
    synthetic = _joined(list(synthetic_batches(ckpt.model, encoder, n, rng)))
    folder = Path(args.out or Path(args.checkpoint).resolve().parent / "report")
    scores = write_report(folder, real, synthetic, kinds, holdout=holdout, target=args.target, rng=rng)
    print(f"compared {n_real:,} real rows of {source} with {n:,} synthetic rows"
          + (f" ({scores['n_holdout']:,} held-out rows for the privacy comparison)" if holdout else ""))
    print(f"  quality score {scores['quality_score']:.3f}: column shapes {scores['column_shapes']['score']:.3f}, "
          f"column-pair trends {_score(scores['column_pair_trends'])}")
    print(f"  detection {scores['detection']['score']:.3f} (1 - (2 AUC - 1); 1: a classifier cannot tell them apart)")
    print(f"  outside the real columns' support: {100 * scores['support']['share']:.2f}% of the synthetic cells")
    privacy = scores["privacy"]
    if privacy.get("holdout") is not None:
        print(f"  distance to the closest training row, median: synthetic {privacy['synthetic']['median']:.3f}, "
              f"held-out real {privacy['holdout']['median']:.3f} (synthetic rows closer than held-out ones would "
              "be copies)")
    print(f"wrote {folder}/report.md (scores.json and the figures beside it)")


def _score(part):
    return "n/a" if part.get("score") is None else f"{part['score']:.3f}"


def _real_rows(args, ckpt, encoder, table):
    """(real rows, held-out rows or None, source): at most --rows of each, a seeded sample, in the table's order."""
    from minivae.tables.dataset import (SPLIT_SEED, TEST_FRACTION, batches_of, check_drift, is_csv, read_csv_batch,
                                        row_count, source_schema)
    from minivae.tables.streaming import held_out_mask

    own = args.real is None
    source = ckpt.extra.get("dataset") if own else source_of(args.real)
    missing = (ckpt.extra.get("load_options") or {}).get("missing", "keep") if own else "keep"
    csv_batch = read_csv_batch(source, missing, encoder=encoder)[0] if is_csv(source) else None
    check_drift(source, encoder, source_schema(source, csv_batch), table.get("keys") or [], table.get("schema"))
    n = row_count(source, csv_batch)
    held_out = held_out_mask(n, TEST_FRACTION, SPLIT_SEED) if own else np.zeros(n, dtype=bool)
    rng = np.random.default_rng(args.seed)
    chosen = {role: _sample(np.flatnonzero(mask), args.rows, rng) for role, mask in
              (("real", ~held_out), ("holdout", held_out))}
    kept = {"real": [], "holdout": []}
    at = 0
    for batch in batches_of(source, encoder.header, 65_536, csv_batch):
        size = len(next(iter(batch.values())))
        for role, rows in chosen.items():
            inside = rows[(rows >= at) & (rows < at + size)] - at
            if inside.size:
                kept[role].append({c: v[inside] for c, v in batch.items()})
        at += size
    holdout = _joined(kept["holdout"]) if own and kept["holdout"] else None
    return _joined(kept["real"]), holdout, source


def _sample(rows, k, rng):
    return rows if len(rows) <= k else np.sort(rng.choice(rows, size=k, replace=False))


def _joined(batches):
    return {c: np.concatenate([b[c] for b in batches]) for c in batches[0]}
