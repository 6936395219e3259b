"""Run by tests/test_distributed_training.py under ``mpiexec -n 2``: train the tiny runs of ``RUNS`` on every rank.

    mpiexec -n 2 python tests/mpi_training_script.py OUT_DIR

For each run, every rank saves its parameters as OUT_DIR/<name>-rank<r>.npy (so the test sees that the ranks agree)
and rank 0 saves its history as OUT_DIR/<name>.json; the "resume" run also leaves its checkpoint after 1 epoch.
The test trains the same runs in one process and compares.
"""
import json
import sys
from pathlib import Path

import numpy as np

from minivae.distributed.mpi import world
from minivae.models import VAE
from minivae.training.trainer import TrainConfig, Trainer

# name -> TrainConfig options; every run: 256 rows of 20 values, VAE 20-16-2, 2 epochs of batches of 32
RUNS = {
    "adam": {},
    "adamw-warmup": {"optimizer": "adamw", "warmup_steps": 5},
    "free-bits": {"free_bits": 0.35},
    "iw3": {"iw_samples": 3},
    "dp-sgd": {"dp_clip_norm": 1.0, "dp_noise_multiplier": 1.1, "dp_delta": 1e-3},
    "dynamic-denoising": {"binarize": "dynamic", "corruption": 0.2},
    "resume": {"epochs": 1},
}


def data():
    """(x_train (256, 20), x_val (64, 20)), float32 in [0, 1)."""
    rng = np.random.default_rng(1)
    return rng.random((256, 20)).astype(np.float32), rng.random((64, 20)).astype(np.float32)


def train(name, comm, checkpoint_path=None):
    """Train run ``name`` of RUNS on comm; returns the trainer."""
    config = TrainConfig(**{"epochs": 2, "batch_size": 32, "quiet": True, **RUNS[name]})
    trainer = Trainer(VAE(20, latent_dim=2, hidden=(16,)), config, comm=comm)
    x, x_val = data()
    trainer.fit(x, x_val, checkpoint_path=checkpoint_path)
    return trainer


def flat_parameters(model):
    return np.concatenate([p.ravel() for p in model.params.values()])


def main(out):
    comm = world()
    for name in RUNS:
        trainer = train(name, comm, out / f"{name}.npz" if name == "resume" else None)
        np.save(out / f"{name}-rank{comm.rank}.npy", flat_parameters(trainer.model))
        if comm.is_root:
            (out / f"{name}.json").write_text(json.dumps(trainer.history))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
