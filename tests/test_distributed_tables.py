"""Distributed scoring and synthesis: under ``mpiexec -n 2 ... --distributed`` each rank writes its own parts of a
folder, and the folder read as a table equals what one process writes, row for row and bit for bit; the parts of an
earlier run never join the union; a failure on one rank fails the launch and leaves no parts; the misuses (a file
--out, no launcher) get their one-line errors."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("mpi4py")

from minivae.cli import main  # noqa: E402
from minivae.tables.arrow_io import iter_batches  # noqa: E402
from test_table_commands import run  # noqa: E402  (exit status and output of one command, in this process)

MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec (pip install 'minivae[distributed]')")

ROWS, ROW_GROUP = 2500, 500  # 5 row groups: 2 ranks get 3 and 2 of them
TRAIN = ["--epochs", "3", "--hidden", "16", "--latent", "3", "--quiet", "--no-figures"]
SCORE = ["-k", "3", "--batch-rows", "200"]  # batches smaller than a row group: several per unit


def people(n=ROWS, seed=0, city=None):
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    city = city if city is not None else rng.choice(["oslo", "paris", "rome"], n).tolist()
    return pa.table({"id": pa.array(np.arange(n), pa.int64()),
                     "age": pa.array(age, pa.int32()),
                     "income": np.exp(rng.normal(10, 0.8, n)).round(2),
                     "city": pa.array(city).dictionary_encode()})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    pq.write_table(people(), root / "people.parquet", row_group_size=ROW_GROUP)
    assert main(["train", "--table", str(root / "people.parquet"), "--key", "id", "--out", str(root / "run"),
                 *TRAIN]) is None
    return root




def mpiexec(argv, n=2):
    """(exit status, stdout + stderr) of ``mpiexec -n N python -m minivae ARGV``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, "-m", "minivae", *argv], env=env,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def read(table):
    """A table read by minivae (a folder: its files in path order) as one dict of arrays."""
    batches = list(iter_batches(str(table), batch_rows=1 << 20))
    return {c: np.concatenate([b[c] for b in batches]) for c in batches[0]}


def assert_same(a, b):
    """The same columns, dtypes and values, numbers bit for bit (their bytes), strings and nulls as lists."""
    assert list(a) == list(b)
    for column in a:
        x, y = a[column], b[column]
        assert x.dtype == y.dtype, column
        assert (x.tolist() == y.tolist()) if x.dtype == object else (x.tobytes() == y.tobytes()), column


def parts_of(folder):
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith((".", "_")))


def test_two_ranks_write_the_scores_of_one_process_bit_for_bit(trained, capsys):
    ckpt, table = str(trained / "run" / "checkpoint.npz"), str(trained / "people.parquet")
    status, text = run(["anomaly", ckpt, "--table", table, "--out", str(trained / "one.parquet"), *SCORE], capsys)
    assert status == 0, text
    status, text = mpiexec(["anomaly", ckpt, "--table", table, "--out", f"{trained / 'scores'}/", *SCORE,
                            "--distributed"])
    assert status == 0, text
    assert parts_of(trained / "scores") == [f"part-{i:06d}.parquet" for i in range(5)]
    whole = read(trained / "one.parquet")
    assert_same(read(trained / "scores"), whole)
    assert whole["id"].tolist() == list(range(ROWS))
    assert text.count(f"scored {ROWS:,} rows") == 1 and "5 parts, from 2 ranks" in text, text  # rank 0 alone
    status, text = run(["anomaly", ckpt, "--table", table, "--out", f"{trained / 'scores-one'}/", *SCORE], capsys)
    assert status == 0 and "5 parts" in text, text  # one process, a folder: the same parts
    for name in parts_of(trained / "scores"):
        assert pq.read_table(trained / "scores" / name).equals(pq.read_table(trained / "scores-one" / name)), name


def test_two_ranks_draw_the_synthetic_blocks_of_one_process(trained, capsys):
    ckpt = str(trained / "run" / "checkpoint.npz")
    argv = ["synthesize", ckpt, "-n", "2300", "--batch-rows", "500"]  # 5 blocks, the last of 300 rows
    status, text = run([*argv, "--out", f"{trained / 'syn-one'}/"], capsys)
    assert status == 0, text
    status, text = mpiexec([*argv, "--out", f"{trained / 'syn'}/", "--distributed"])
    assert status == 0 and text.count("wrote 2,300 synthetic rows") == 1, text
    assert parts_of(trained / "syn") == [f"part-{b:06d}.parquet" for b in range(5)]
    rows = read(trained / "syn")
    assert_same(rows, read(trained / "syn-one"))
    assert len(rows["age"]) == 2300 and "id" not in rows
    assert pq.read_table(trained / "syn" / "part-000004.parquet").num_rows == 300


def test_a_failure_on_one_rank_fails_the_launch_and_leaves_no_parts(trained):
    city = people()["city"].to_pylist()
    city[2200] = "lima"  # in row group 4, rank 0's third unit: rank 1 has written its parts by then
    pq.write_table(people(city=city), trained / "new.parquet", row_group_size=ROW_GROUP)
    status, text = mpiexec(["anomaly", str(trained / "run" / "checkpoint.npz"), "--table",
                            str(trained / "new.parquet"), "--out", f"{trained / 'new'}/", *SCORE, "--distributed"])
    assert status != 0 and "'lima'" in text and "Traceback" not in text, text
    assert parts_of(trained / "new") == []


def test_the_parts_of_an_earlier_run_are_replaced_and_other_files_refused(trained, capsys):
    ckpt, table = str(trained / "run" / "checkpoint.npz"), str(trained / "people.parquet")
    folder = trained / "stale"
    folder.mkdir()
    pq.write_table(people(n=10), folder / "part-000007.parquet")  # of a bigger table, scored before
    status, text = run(["anomaly", ckpt, "--table", table, "--out", f"{folder}/", *SCORE], capsys)
    assert status == 0, text
    assert parts_of(folder) == [f"part-{i:06d}.parquet" for i in range(5)]
    (folder / "notes.txt").write_text("mine")
    status, text = run(["anomaly", ckpt, "--table", table, "--out", f"{folder}/", *SCORE], capsys)
    assert status == 2 and "notes.txt" in text and "empty or a new folder" in text, text
    assert (folder / "notes.txt").exists() and len(parts_of(folder)) == 6
    status, text = run(["anomaly", ckpt, "--table", str(folder / "part-000000.parquet"), "--out", f"{folder}/",
                        *SCORE], capsys)
    assert status == 2 and "is where the table" in text, text


def test_distributed_refuses_a_file_out_and_a_launch_without_mpiexec(trained, capsys):
    ckpt, table = str(trained / "run" / "checkpoint.npz"), str(trained / "people.parquet")
    status, text = run(["anomaly", ckpt, "--table", table, "--out", str(trained / "s.parquet"), "--distributed"],
                       capsys)
    assert status == 2 and f"give --out a folder, ending in / (e.g. --out {trained / 's'}/)" in text, text
    status, text = run(["synthesize", ckpt, "--out", str(trained / "s.csv"), "--distributed"], capsys)
    assert status == 2 and "give --out a folder" in text, text
    status, text = run(["anomaly", ckpt, "--table", table, "--out", f"{trained / 's'}/", "--distributed"], capsys)
    assert status == 2 and "mpiexec -n 2 python -m minivae" in text and len(text.strip().splitlines()) == 1, text
    assert not (trained / "s").exists()
