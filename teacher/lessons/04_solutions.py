"""Lesson 04 (the KL divergence): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/04_kl_divergence.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: KL(N(mu1, diag exp(logvar1)) || N(mu2, diag exp(logvar2))) in closed form, summed over the dimensions
def kl_two_gaussians(mu1, logvar1, mu2, logvar2):
    mu1, logvar1, mu2, logvar2 = (np.asarray(a, dtype=np.float64) for a in (mu1, logvar1, mu2, logvar2))
    return 0.5 * np.sum(logvar2 - logvar1 + (np.exp(logvar1) + (mu1 - mu2) ** 2) / np.exp(logvar2) - 1)


# %% exercise 2: the reverse KL, KL(N(0, I) || N(mu, diag exp(logvar)))
def kl_reverse(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    return 0.5 * np.sum(logvar + (1 + mu**2) / np.exp(logvar) - 1)
