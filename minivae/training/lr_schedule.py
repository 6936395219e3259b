"""Learning-rate schedules: the step size of epoch e (0 for the first), from the base rate lr of the TrainConfig.

A constant rate leaves Adam's steps as large in the last epoch as in the first, so the parameters keep jittering
around a minimum they could settle into; letting the rate fall is worth about a nat of log-likelihood on full MNIST
(README, "Full MNIST"). Three schedules:

    constant      lr_e = lr
    exponential   lr_e = lr * gamma^e                        (gamma = ``lr_decay``, in (0, 1): 0.995 per epoch
                                                              takes 1e-3 to 8.2e-5 in 500 epochs)
    burda         lr_e = lr * 10^(-i/7)  for epoch e in stage i, stage i lasting 3^i epochs
                  (Burda et al. 2016, section 5: i = 0..7, 3,280 epochs in all; e is in stage i when
                  3^i <= 2e + 1 < 3^(i+1), since stages 0..i-1 hold (3^i - 1) / 2 epochs; past stage 7 the
                  rate keeps falling by the same rule)

The rate depends only on the epoch, never on the total number of epochs, so raising ``epochs`` on resume continues
the same curve, and a run resumed from a checkpoint (which records its epoch) repeats it exactly.

Example
-------
>>> [round(learning_rate(e, 1e-3, "burda"), 6) for e in (0, 1, 3, 4, 12, 13)]   # stages 0, 1, 1, 2, 2, 3
[0.001, 0.00072, 0.00072, 0.000518, 0.000518, 0.000373]
>>> round(learning_rate(500, 1e-3, "exponential", 0.995), 7)
8.16e-05
"""
SCHEDULES = ("constant", "exponential", "burda")


def burda_stage(epoch):
    """The stage i of Burda et al.'s schedule that holds epoch ``epoch`` (0-based): 3^i <= 2 epoch + 1 < 3^(i+1)."""
    stage, power = 0, 3
    while power <= 2 * epoch + 1:
        stage, power = stage + 1, power * 3
    return stage


def learning_rate(epoch, lr, schedule="constant", decay=1.0):
    """lr_e, the learning rate of epoch ``epoch`` (0 for the first), by the formulas of the module docstring."""
    if schedule not in SCHEDULES:
        raise ValueError(f"the learning-rate schedule must be one of {SCHEDULES}, got {schedule!r}")
    if epoch < 0:
        raise ValueError(f"the epoch must be >= 0, got {epoch}")
    if schedule == "exponential":
        return lr * decay ** epoch
    if schedule == "burda":
        return lr * 10.0 ** (-burda_stage(epoch) / 7)
    return lr
