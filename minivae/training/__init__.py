"""Training: the loop and what it saves.

    trainer       TrainConfig (every setting), Trainer (epochs, validation, warm-up, the divergence guard)
    checkpoint    one .npz file per run, no pickle, exact resume
    run_data      the data a run was trained on, rebuilt from what its checkpoint records

The names below are also importable from ``minivae.training`` itself, as in version 0.1.0.
"""
from minivae.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minivae.training.trainer import TrainConfig, Trainer, TrainingDiverged

__all__ = ["TrainConfig", "Trainer", "TrainingDiverged", "load_checkpoint", "save_checkpoint", "CheckpointError"]
