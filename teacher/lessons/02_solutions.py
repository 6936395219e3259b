"""Lesson 02 (from autoencoder to VAE): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/02_from_autoencoder_to_vae.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: the maximiser over v of the toy ELBO, for fixed m: it does not depend on m
def v_star(w, s):
    # d/dv [-w^2 v / (2 s^2) - (v - log v) / 2] = -w^2 / (2 s^2) - 1/2 + 1 / (2 v) = 0  =>  1/v = 1 + w^2 / s^2
    return s**2 / (s**2 + w**2)


# %% exercise 2: the mean importance-weighted bound of vae1 on x_test[:200] for K = 1, 10, 100
iw_means = [float(importance_weighted_bound(vae1, x_test[:200], k=k, rng=np.random.default_rng(0)).mean())
            for k in (1, 10, 100)]
