"""Lesson 03 (the reparameterization trick): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/03_reparameterization_trick.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: the variance of the reparameterized estimate of d/dmu E[(z - c)^2], in closed form, as a function of sigma
def reparam_variance(sigma):
    # the estimate is f'(z) = 2 (z - c) with z = mu + sigma eps: Var = 4 sigma^2 Var[eps] = 4 sigma^2 (whatever mu, c)
    return 4 * sigma**2


# %% exercise 2: M_DRAWS one-draw estimates of d/dmu P(z > c), mu = 0, sigma = 1, c = 1, by score function and reparameterization
step_mu, step_sigma, step_c = 0.0, 1.0, 1.0
step_eps = np.random.default_rng(2).standard_normal(M_DRAWS)
step_z = step_mu + step_sigma * step_eps
score_est = (step_z > step_c).astype(np.float64) * step_eps / step_sigma   # f(z) * d/dmu log q(z)
reparam_est = np.zeros(M_DRAWS)                                            # f'(z) = 0 wherever it exists
