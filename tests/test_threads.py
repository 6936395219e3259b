"""The thread count of the matrix products: who decides (--threads, MINIVAE_THREADS, a variable set outside, the
free cores), bad values refused in one line, the free cores read from /proc/stat, and the same training numbers
with one thread and with two."""
import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from minivae import VAE, threads
from minivae.cli.main import main
from minivae.threads import ThreadChoice, busy_cores, choose_threads, ranks_on_this_machine, threads_for
from minivae.training.trainer import TrainConfig, Trainer


def test_the_command_line_value_wins_over_every_variable():
    environ = {"MINIVAE_THREADS": "3", "OPENBLAS_NUM_THREADS": "4"}
    assert choose_threads(1, environ) == ThreadChoice(1, "--threads 1")


def test_minivae_threads_wins_over_a_variable_set_outside():
    environ = {"MINIVAE_THREADS": "3", "OMP_NUM_THREADS": "4"}
    assert choose_threads(None, environ) == ThreadChoice(3, "MINIVAE_THREADS=3")


@pytest.mark.parametrize("name", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"])
def test_a_thread_variable_set_outside_is_left_as_it_is(name):
    choice = choose_threads(None, {name: "1"})
    assert choice.threads is None and choice.reason.startswith(f"{name}=1 (set outside minivae")


def test_with_nothing_set_the_free_cores_are_counted():
    choice = choose_threads(None, {})
    assert isinstance(choice.threads, int) and choice.threads >= 1
    assert "busy with other programs" in choice.reason


@pytest.mark.parametrize("bad", [0, -2])
def test_a_count_below_one_is_refused(bad):
    with pytest.raises(ValueError, match="--threads must be a whole number of threads, at least 1"):
        choose_threads(bad, {})


@pytest.mark.parametrize("bad", ["two", "0", "1.5"])
def test_a_bad_environment_value_is_refused(bad):
    with pytest.raises(ValueError, match=f"MINIVAE_THREADS must be a whole number of threads, at least 1, got '{bad}'"):
        choose_threads(None, {"MINIVAE_THREADS": bad})


def test_a_bad_value_is_one_line_on_the_command_line(capsys, monkeypatch):
    monkeypatch.setenv("MINIVAE_THREADS", "many")
    assert main(["evaluate", "no-such-checkpoint.npz"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "MINIVAE_THREADS must be a whole number of threads" in err


@pytest.mark.parametrize("usable, cores, busy, threads", [
    (2, 2, 0.0, 2),   # an idle machine: every core
    (2, 2, 0.4, 2),   # a little background work: still both
    (2, 2, 1.0, 1),   # another program keeps one core busy: one thread
    (2, 2, 2.0, 1),   # all cores busy: never fewer than one
    (1, 8, 0.0, 1),   # the affinity allows one core of eight
    (8, 8, 2.6, 5),   # round(8 - 2.6)
])
def test_threads_for(usable, cores, busy, threads):
    assert threads_for(usable, cores, busy) == threads


@pytest.mark.parametrize("usable, cores, busy, ranks, threads", [
    (2, 2, 0.0, 2, 1),   # mpiexec -n 2 on two idle cores: one thread per rank
    (2, 2, 1.0, 2, 1),   # the other rank already busy: still at least one
    (8, 8, 0.0, 2, 4),   # two ranks on eight cores: four each
    (8, 8, 1.0, 3, 2),   # round(7 / 3)
])
def test_threads_for_the_ranks_of_one_machine(usable, cores, busy, ranks, threads):
    assert threads_for(usable, cores, busy, ranks) == threads


@pytest.mark.parametrize("environ, ranks", [
    ({}, 1), ({"MPI_LOCALNRANKS": "2"}, 2), ({"OMPI_COMM_WORLD_LOCAL_SIZE": "4"}, 4), ({"MPI_LOCALNRANKS": "x"}, 1),
])
def test_ranks_on_this_machine_from_the_launcher(environ, ranks):
    assert ranks_on_this_machine(environ) == ranks


def test_the_measured_count_under_a_launcher_names_the_ranks(monkeypatch):
    monkeypatch.setattr(threads, "_measured", None)
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.0)
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    choice = choose_threads(None, {"MPI_LOCALNRANKS": "2"})
    assert choice == ThreadChoice(1, "2 cores, 0.0 busy with other programs, 2 usable, shared by 2 ranks")


def test_busy_cores_from_two_readings_of_proc_stat(tmp_path, monkeypatch):
    """Between the readings: 400 jiffies in all, 100 of them idle (idle 60 + iowait 40): 3/4 of the cores busy."""
    readings = iter(["cpu  1000 0 500 2000 100 0 0 0 0 0\n", "cpu  1200 0 600 2060 140 0 0 0 0 0\n"])
    stat = tmp_path / "stat"

    def sleep(_seconds):
        stat.write_text(next(readings))

    stat.write_text(next(readings))
    monkeypatch.setattr("minivae.threads.time.sleep", sleep)
    monkeypatch.setattr("minivae.threads.os.cpu_count", lambda: 4)
    assert busy_cores(stat=str(stat)) == pytest.approx(3.0)


def _train(threads, epochs=2):
    """784-256-20, batch 128: products large enough for OpenBLAS to share them between two threads."""
    x = np.random.default_rng(0).random((512, 784)).astype(np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        trainer = Trainer(VAE(784, latent_dim=20, hidden=(256,), seed=3),
                          TrainConfig(epochs=epochs, batch_size=128, seed=1, quiet=True))
        history = trainer.fit(x[:384], x[384:])
    return trainer.model.params, history


@pytest.mark.parametrize("threads", [1, 2])
def test_a_seed_and_a_thread_count_repeat_a_run_bit_for_bit(threads):
    (params1, history1), (params2, history2) = _train(threads), _train(threads)
    assert all(np.array_equal(params1[k], params2[k]) for k in params1)
    assert history1["train_loss"] == history2["train_loss"]


def test_another_thread_count_changes_a_run_by_rounding_only():
    """One thread against two: the losses agree to float32 rounding, far below what one step of training changes."""
    (params1, history1), (params2, history2) = _train(1), _train(2)
    assert history1["train_loss"] == pytest.approx(history2["train_loss"], rel=1e-5)
    assert abs(history1["train_loss"][1] - history1["train_loss"][0]) > 1e-3 * history1["train_loss"][0]
    for k in params1:
        assert np.allclose(params1[k], params2[k], rtol=1e-3, atol=1e-5), k


def test_train_records_its_thread_count(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden", "16", "--threads", "1", "--no-figures", "--quiet",
                 "--out", str(out)]) is None
    assert json.loads((out / "config.json").read_text())["threads"] == {"count": 1, "reason": "--threads 1"}


@pytest.mark.parametrize("bad", ["0", "two", "1.5"])
def test_a_bad_threads_option_is_one_line_from_the_parser(capsys, bad):
    with pytest.raises(SystemExit) as stopped:
        main(["evaluate", "no-such-checkpoint.npz", "--threads", bad])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument --threads: expected an integer >= 1, got '{bad}'" in err
