"""Teaching: the exercises, the student version generator (a file or a notebook), the grader, and the table of
gradient checks.

    exercises      the student template: the exercises, each solution replaced by a TODO (the reference solutions
                   are teacher/solutions.py in the repository, not in the package)
    assignments    ``make-assignment``: the student version, a .py file or (``--format notebook``) a notebook
    notebook_assignment  the notebook: each exercise's explanation, its TODO cell, its ``check("name")`` cell
    local_check    ``check("name")``: the grader's checks on a function defined in a notebook, pass/fail and hint
    static_checks  ``solution_imports``: the places where a submission imports minivae's own implementations
    reference_blocks  the grader's building blocks: minivae's library functions with the exercises' signatures
    grader         ``grade``: loads a student's file, runs every exercise's check, reports a score with hints
    compare        how one output is judged: a safe call, the comparison, the mistake that explains a wrong value
    checks         the exercise table: each graded function, its points, its check
    checks_layers  the checks of the building blocks (layers, losses, KL, reparameterization, Adam), with their hints
    checks_vae     the check of the whole VAE's negative ELBO and gradients, with its hints
    gradcheck_table  ``gradcheck``: finite-difference checks of every layer and of whole models, as a table
"""
