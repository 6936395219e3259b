"""Lesson 01 (autoencoders): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/01_autoencoders.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: the smallest number of principal components that keeps 90% of the variance of the training images
explained = np.cumsum(S**2) / np.sum(S**2)          # share of the variance kept by the first k components
k90 = int(np.argmax(explained >= 0.9)) + 1            # first index reaching 90%, counted from 1

# %% exercise 2: a linear autoencoder with code size 8 whose training error lies between PCA's and 1.05 times PCA's
lin8 = Autoencoder(784, latent_dim=8, hidden=(), likelihood="gaussian", seed=0)
Trainer(lin8, TrainConfig(epochs=2 * EPOCHS, batch_size=BATCH, lr=3e-3, quiet=True)).fit(x_train)

# %% exercise 5: a denoising autoencoder trained with your own loop on Gaussian noise (std 0.3), clipped to [0, 1]
from minivae.nn.optim import Adam

my_dae = Autoencoder(784, latent_dim=16, hidden=(128,), seed=0)
dae_optimizer = Adam(lr=LR)
dae_rng = np.random.default_rng(0)
for epoch in range(EPOCHS):
    order = dae_rng.permutation(len(x_train))
    for start in range(0, len(x_train), BATCH):
        x_batch = x_train[order[start:start + BATCH]]
        noisy_batch = np.clip(x_batch + 0.3 * dae_rng.standard_normal(x_batch.shape), 0, 1).astype(x_batch.dtype)
        my_dae.loss_and_gradients(noisy_batch, target=x_batch)    # the clean batch is the target
        dae_optimizer.step(my_dae.params, my_dae.grads)
