"""Lesson 06 (optimizers): reference solutions of its checkable exercises, for teachers.

Each section below, `# %% exercise N: ...`, is what a student would write in a cell above the lesson's check cell:
it defines exactly the names that the check cell looks for, using the lesson's own variables and imports.
The solutions are kept here, outside the lessons and outside the `minivae` package, so that students (and an
installed minivae) do not get them by default.

How tests use this file: they load lessons/06_optimizers.ipynb with nbformat, insert one code cell holding this whole file right
before the lesson's first check cell (the first cell containing `in globals()`), run the notebook with nbclient
(kernel python3, MINIVAE_FAST=1, working directory lessons/), and require every check to print
`exercise N: correct`.
"""

# %% exercise 1: train with Nesterov momentum and keep what train(...) returns (losses, held-out loss)
nesterov_result = train(SGD(lr=0.001, momentum=0.9, nesterov=True), STEPS)

# %% exercise 2: the AdamAblation settings that take exactly RMSProp(lr=0.001, alpha=0.99)'s steps
# RMSProp: no moving average of g (beta1 = 0, so m = g), v with beta2 = alpha, and no bias correction of either.
rmsprop_as_adam = AdamAblation(lr=0.001, betas=(0.0, 0.99), correct_m=False, correct_v=False)

# %% exercise 3: a learning-rate sweep for SGD and Adam, the held-out losses in a dict keyed by (name, lr)
sweep = {}
for lr in (0.003, 0.01, 0.03):
    sweep["sgd", lr] = train(SGD(lr=lr), STEPS)[1]
for lr in (0.0003, 0.001, 0.003):
    sweep["adam", lr] = train(Adam(lr=lr), STEPS)[1]
