"""Lesson 08 (generation): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/08_generation.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: the thickness direction within each class: the mean over the digits of inkiest-20% minus faintest-20%
per_digit = []
for k in range(10):
    images_k = x_train[y_train == k]
    ink_k = images_k.sum(axis=1)
    faint_k, inky_k = np.quantile(ink_k, [0.2, 0.8])
    extreme = (ink_k <= faint_k) | (ink_k >= inky_k)             # the 20% faintest and the 20% inkiest of digit k
    per_digit.append(attribute_vector(vae, images_k[extreme], ink_k[extreme] >= inky_k))
thickness_within = np.mean(per_digit, axis=0)                   # (LATENT,)

# %% exercise 2: 16 binary images x ~ p(x | z), for 16 codes z drawn from the prior
sample_rng = np.random.default_rng(0)
z_prior = sample_rng.standard_normal((16, LATENT)).astype(np.float32)
binary_samples = vae.likelihood.sample(vae.decoder.forward(z_prior), sample_rng)   # (16, 784), zeros and ones

# %% exercise 3: the norms of the encoder means of the test images, in the order of x_test
code_norms = np.linalg.norm(encoder_means(vae, x_test), axis=1)
