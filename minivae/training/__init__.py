"""Training: the loop and what it saves.

    config        TrainConfig (every setting) and what a resumed run may change of them
    trainer       Trainer (epochs, validation, warm-up, exact resume, Ctrl-C between two steps)
    kl_schedule   KL annealing: linear or logistic growth of the KL weight
    lr_schedule   the learning rate of each epoch: constant, exponential or Burda et al.'s steps
    guard         the divergence guard (NaN, infinity, or a loss far above its start)
    interrupt     Ctrl-C between two steps, and where an unfinished epoch stood
    kernel_loading  the epoch's Numba kernels loaded before the first epoch's clock starts
    checkpoint    one .npz file per run, no pickle, every field checked on load
    run_data      the data a run was trained on (source, checksum, options, split), rebuilt from its record
    run_folder    one run per folder: the lock, and no run written over another

The names below are also importable from ``minivae.training`` itself, as in version 0.1.0.
"""
from minivae.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minivae.training.trainer import TrainConfig, Trainer, TrainingDiverged

__all__ = ["TrainConfig", "Trainer", "TrainingDiverged", "load_checkpoint", "save_checkpoint", "CheckpointError"]
