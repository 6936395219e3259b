"""Lesson 07 (training on MNIST): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/07_training_on_mnist.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: the final test reconstruction term of beta = 1 minus that of beta = 0.01
reconstruction_gap = history["val_reconstruction"][-1] - history_small_beta["val_reconstruction"][-1]

# %% exercise 2: the same VAE trained with beta = 4, and its latent_summary on x_test
vae_beta4 = VAE(784, latent_dim=2, hidden=HIDDEN, seed=0)
Trainer(vae_beta4, TrainConfig(epochs=EPOCHS, beta=4.0, seed=0, quiet=True)).fit(x_train, x_test)
summary_beta4 = latent_summary(vae_beta4, x_test)

# %% exercise 3: the same VAE trained with a KL warm-up of 500 steps, and the history that fit returns
vae_warmup = VAE(784, latent_dim=2, hidden=HIDDEN, seed=0)
history_warmup = Trainer(vae_warmup, TrainConfig(epochs=EPOCHS, warmup_steps=500, seed=0, quiet=True)).fit(
    x_train, x_test)
