"""Ctrl-C between two steps: the signal that stops a run at the end of a batch, and where an epoch stood.

A first Ctrl-C (SIGINT) during ``Trainer.fit`` lets the running batch finish and stops there, so that the state saved
(as "<name>-interrupted.npz", ``interrupted_path``) is a state between two steps; a second one stops at once. That
checkpoint holds the unfinished epoch's ``position``, which a resumed run continues from:

    {"epoch_rng_state": the generator's state when the epoch began (it draws the epoch's permutation again),
     "examples": N, "batches_done": k, "sums": [loss, reconstruction, KL] summed over the examples seen,
     "seen": the examples seen so far (a private run's Poisson batches vary in size)}

``save_interrupted`` writes that state for the Trainer (on rank 0 of a distributed run); ``checked_position`` and
``checked_count`` turn a malformed record into a CheckpointError that says what is wrong.
"""
import signal
import threading

from tqdm.auto import tqdm

from minivae.training.checkpoint import CheckpointError, generator_from_state


def interrupted_path(path):
    return path.with_name(path.stem + "-interrupted.npz")


class StopAtBatchEnd:
    """While ``fit`` runs: the first Ctrl-C (SIGINT) sets ``requested``, and the loop stops at the end of the batch;
    a second one raises KeyboardInterrupt at once. Outside the main thread (no signals there) it does nothing."""

    def __enter__(self):
        self.requested, self._previous = False, None
        if threading.current_thread() is threading.main_thread():
            try:
                previous = signal.signal(signal.SIGINT, self._handle)
            except (ValueError, OSError):  # an embedding that does not let Python handle signals
                return self
            self._previous = previous if previous is not None else signal.default_int_handler
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)
        tqdm.write("\nCtrl-C: stopping at the end of this batch (press Ctrl-C again to stop at once)")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def checked_count(value, what, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointError(f"{where}: its {what} is {value!r:.40}, not a count >= 0")
    return value


def checked_position(position, where):
    """The ``position`` of a checkpoint saved inside an epoch, checked; None for one saved between epochs."""
    if position is None:
        return None
    try:
        ok = (isinstance(position, dict) and isinstance(position["epoch_rng_state"], dict)
              and all(isinstance(position[k], int) and not isinstance(position[k], bool) and position[k] >= 0
                      for k in ("examples", "batches_done"))
              and len(position["sums"]) == 3 and all(isinstance(s, (int, float)) for s in position["sums"])
              and (type(position.get("seen", 0)) is int and position.get("seen", 0) >= 0))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise CheckpointError(f"{where}: its position inside the epoch ({position!r:.80}) is not "
                              '{"epoch_rng_state": ..., "examples": N, "batches_done": k, "sums": [3 numbers]}')
    generator_from_state(position["epoch_rng_state"], where)  # a clear error for a bad state
    return dict(position, sums=[float(s) for s in position["sums"]])


def save_interrupted(trainer, path):
    """On Ctrl-C: go back to the start of the batch that was running (its noise is drawn again when the run
    continues), and save that state, between two steps."""
    if trainer._updating:  # a second Ctrl-C inside the update: half the parameters moved
        if not trainer.comm.is_root:
            return
        print(f"\ninterrupted inside a parameter update, so no exact state could be saved; the checkpoint of "
              f"epoch {trainer.epoch} is unchanged")
        return
    if trainer._batch_start is not None:
        trainer.rng.bit_generator.state, trainer._batch_start = trainer._batch_start, None
    if path is None or not trainer.comm.is_root:  # rank 0 alone writes
        return
    saved = trainer.save(interrupted_path(path))
    where = (f"after batch {trainer.position['batches_done']} of epoch {trainer.epoch + 1}"
             if trainer.position is not None else f"after epoch {trainer.epoch}")
    print(f"\ninterrupted {where}: the state is saved in {saved}; resuming from it continues exactly there")
