"""Data-parallel training on 2 MPI ranks equals the single-process run (minivae.distributed.data_parallel).

Each test compares a run under ``mpiexec -n 2`` with the same run in this process: the parameters agree to float32
rounding (the sums over a batch are added in another order: shards, then ranks), and are identical on both ranks.
The runs are tiny (256 rows of 20 values, a 20-16-2 VAE, 2 epochs); the launches are shared by the tests through
module fixtures. Skipped without mpi4py or mpiexec (the distributed extra).
"""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")

from minivae.cli.main import main  # noqa: E402
from minivae.distributed.data_parallel import DataParallel, RanksDisagree, parameter_checksum  # noqa: E402
from minivae.distributed.mpi import LAUNCHER_VARIABLES, SingleProcess  # noqa: E402
from minivae.models import VAE, ConvVAE  # noqa: E402
from minivae.training.checkpoint import load_checkpoint  # noqa: E402
from minivae.training.trainer import Trainer, recorded_config  # noqa: E402

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
import mpi_training_script as script  # noqa: E402

MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found (pip install 'minivae[distributed]')")
RTOL = 1e-6  # relative to the largest parameter: float32 sums in another order, over 16 steps


def environment():
    """This environment with the package importable, one BLAS thread per rank, and no launcher variables."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), env.get("PYTHONPATH", "")])
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    return env


def launch(*args, ranks=2, cwd=None):
    """Run ``mpiexec -n ranks python args...``; fail with its output if it fails."""
    done = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=environment(), cwd=cwd)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def assert_close(distributed, single):
    scale = np.abs(single).max()
    assert np.abs(distributed - single).max() <= RTOL * scale, np.abs(distributed - single).max() / scale


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Every run of mpi_training_script.RUNS, trained once on 2 ranks: the folder of its outputs."""
    out = tmp_path_factory.mktemp("two-ranks")
    launch(TESTS / "mpi_training_script.py", out)
    return out


@pytest.mark.parametrize("name", [n for n in script.RUNS if n != "resume"])
def test_two_ranks_equal_one_process(two_ranks, name):
    rank0, rank1 = (np.load(two_ranks / f"{name}-rank{r}.npy") for r in (0, 1))
    assert np.array_equal(rank0, rank1), "the two ranks hold different parameters"
    single = script.train(name, SingleProcess())
    assert_close(rank0, script.flat_parameters(single.model))
    history = json.loads((two_ranks / f"{name}.json").read_text())
    for key in ("train_loss", "val_loss", "train_kl", "epsilon"):
        if single.history[key][0] is not None:
            np.testing.assert_allclose(history[key], single.history[key], rtol=1e-5)


def test_a_run_of_two_ranks_resumes_on_one(two_ranks):
    """1 epoch on 2 ranks, then the 2nd on 1 rank == 2 epochs on 1 rank: the checkpoint holds no rank count."""
    ckpt = load_checkpoint(two_ranks / "resume.npz")
    resumed = Trainer.from_checkpoint(ckpt, replace(recorded_config(ckpt), epochs=2), comm=SingleProcess())
    resumed.fit(*script.data())
    straight = script.train("adam", SingleProcess())
    assert_close(script.flat_parameters(resumed.model), script.flat_parameters(straight.model))


# -- the command line ------------------------------------------------------------------------------------------------

TRAIN = ["train", "--data", "mnist-test-10k", "--hidden", "16", "--latent", "2", "--batch-size", "256",
         "--no-figures", "--quiet"]


def test_train_distributed_writes_one_run_that_resumes_on_one_rank(tmp_path):
    out = tmp_path / "run"
    done = launch("-m", "minivae", *TRAIN, "--epochs", "1", "--distributed", "--out", out, cwd=tmp_path)
    assert done.stdout.count("outputs in") == 1  # rank 0 alone prints
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "config.json", "history.json"]
    resume = ["train", "--resume", str(out / "checkpoint.npz"), "--epochs", "2", "--quiet", "--no-figures"]
    assert main(resume) in (0, None)  # on 1 rank
    assert main([*TRAIN, "--epochs", "2", "--out", str(tmp_path / "one")]) in (0, None)
    resumed, straight = (load_checkpoint(p / "checkpoint.npz").model for p in (out, tmp_path / "one"))
    for key in straight.params:
        assert_close(resumed.params[key], straight.params[key])
    assert len(json.loads((out / "history.json").read_text())["epoch"]) == 2


def test_train_distributed_refuses_an_occupied_folder_on_every_rank(tmp_path):
    out = tmp_path / "run"
    launch("-m", "minivae", *TRAIN, "--epochs", "1", "--distributed", "--out", out, cwd=tmp_path)
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "minivae", *TRAIN, "--epochs", "1",
                           "--distributed", "--out", str(out)], capture_output=True, text=True, timeout=120,
                          env=environment(), cwd=tmp_path)
    assert done.returncode == 2 and "already holds a run" in done.stderr  # no rank left waiting


def test_distributed_without_a_launcher_says_how_to_launch(tmp_path):
    done = subprocess.run([sys.executable, "-m", "minivae", "train", "--distributed", "--epochs", "1"],
                          capture_output=True, text=True, timeout=60, env=environment(), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --distributed needs an MPI launcher") and "mpiexec -n 2" in done.stderr


def test_distributed_without_mpi4py_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert main(["train", "--distributed", "--epochs", "1"]) == 1
    assert "minivae[distributed]" in capsys.readouterr().err


# -- in one process: what is refused, and the check of the parameters -----------------------------------------------

class TwoRanks(SingleProcess):
    """rank 0 of 2 whose collectives are the identity, and whose allgather shows another rank's checksum."""

    size = 2

    def allgather(self, obj):
        return [obj, [obj[0] + 1e-3, obj[1]]]


def test_models_without_data_parallel_training_are_refused():
    with pytest.raises(ValueError, match="ConvVAE cannot be trained on several ranks"):
        Trainer(ConvVAE(latent_dim=2, image_shape=(8, 8)), comm=TwoRanks())


def test_ranks_with_different_parameters_stop_the_run():
    with pytest.raises(RanksDisagree, match="after step 3 the ranks hold different parameters"):
        DataParallel(VAE(6, latent_dim=2, hidden=(4,)), TwoRanks()).check_parameters(3)


def test_the_parameter_checksum_does_not_depend_on_the_blas_thread_count():
    """Two ranks may run with other thread counts; equal parameters must give equal checksums to the last bit
    (OpenBLAS's dot product adds a long vector's parts in another order with two threads)."""
    from threadpoolctl import threadpool_limits

    params = {"w": np.random.default_rng(0).standard_normal(652_824) * 0.05, "b": np.arange(3.0)}
    with threadpool_limits(1):
        one = parameter_checksum(params)
    with threadpool_limits(2):
        two = parameter_checksum(params)
    assert one.tolist() == two.tolist()
    assert one[1] == pytest.approx(sum(float(np.sum(p.astype(np.float64) ** 2)) for p in params.values()))


ONE_RANK_FAILS = '''
import importlib
import sys

from mpi4py import MPI

cli = importlib.import_module("minivae.cli.main")  # the module (the package's name main is the function)
train = importlib.import_module("minivae.cli.train")


def fails_on_rank_1(args):
    """Rank 1 raises while rank 0 waits for it in a collective call, as a bug or an out-of-memory error would."""
    if MPI.COMM_WORLD.Get_rank() == 1:
        raise ValueError("only rank 1 fails")
    MPI.COMM_WORLD.Barrier()


train.cmd_train = fails_on_rank_1
sys.exit(cli.main(["train", "--distributed"]))
'''


def test_an_error_of_one_rank_alone_aborts_the_launch_instead_of_hanging(tmp_path):
    script = tmp_path / "one_rank_fails.py"
    script.write_text(ONE_RANK_FAILS)
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=environment())
    assert done.returncode != 0, done
    assert "error (rank 1 of 2, which stops every rank): only rank 1 fails" in done.stderr
    assert "Traceback" not in done.stderr
