"""Teaching: exercises with reference solutions, the student version generator, the grader, and the table of
gradient checks.

    exercises      the exercises, each with its reference solution between BEGIN/END SOLUTION markers
    assignments    ``make-assignment``: the student version, each solution replaced by a TODO
    grader         ``grade``: loads a student's file, runs every exercise's check, reports a score with hints
    compare        how one output is judged: a safe call, the comparison, the mistake that explains a wrong value
    checks         the exercise table: each graded function, its points, its check
    checks_layers  the checks of the building blocks (layers, losses, KL, reparameterization, Adam), with their hints
    checks_vae     the check of the whole VAE's negative ELBO and gradients, with its hints
    gradcheck_table  ``gradcheck``: finite-difference checks of every layer and of whole models, as a table
"""
