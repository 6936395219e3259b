"""Teaching: exercises with reference solutions, the student version generator, the grader, and the table of
gradient checks.

    exercises     the exercises, each with its reference solution between BEGIN/END SOLUTION markers
    assignments   ``make-assignment``: the student version, each solution replaced by a TODO
    grading       ``grade``: checks a student's file against minivae and finite differences, with hints
    gradcheck_table  ``gradcheck``: finite-difference checks of every layer and of whole models, as a table
"""
