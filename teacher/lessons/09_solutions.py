"""Lesson 9 (limits and remedies): reference solutions of its checkable exercises, for teachers.

Each section below is the code a student would write in a cell above the lesson's check cell; it defines exactly
the names the check cell looks for, and may use the lesson's own variables and imports. These answers are kept
outside the lessons and outside the minivae package, so that students do not get them by default.
"""

# %% exercise 1: collapse at beta = 1: the units above 0.1 nats of a 50-D VAE with a stronger decoder
model50 = VAE(784, latent_dim=50, hidden=(256, 128), seed=0)
Trainer(model50, TrainConfig(epochs=EPOCHS, batch_size=BATCH, lr=LR, quiet=True)).fit(x_train, x_val)
used50 = unit_report(model50)[2]


# %% exercise 2: the validation KL of beta = 8 with free bits 1.0, and the prediction: every unit at its floor
expected_kl = LATENT * 1.0                                        # L units x 1 nat each
_, history_fb1 = train(beta=8.0, free_bits=1.0)
kl_fb1 = history_fb1["val_kl"][-1]
