"""The teaching commands: check the library's gradients, write the assignment, grade it.

    gradcheck        finite-difference check of every layer and of whole models: a table of relative errors
    make-assignment  write the student version of the exercises (solutions replaced by TODOs)
    grade            grade a student's exercises file or notebook (each exercise in its own process, fresh inputs),
                     or a folder of them into grades.csv, grades.json and feedback/<student>.md

make-assignment and grade have their own parsers (``minivae.teaching.assignments``, ``minivae.teaching.grader``);
they are registered here so that ``--help`` lists them, and ``main`` hands them the rest of the command line.
"""
from minivae.cli.common import add_command
from minivae.teaching import assignments, grader
from minivae.teaching.gradcheck_table import gradcheck_table

# command -> its own main(argv), which parses the arguments after the command name
DELEGATED = {"make-assignment": assignments.main_make_student, "grade": grader.main_grade}


def add_commands(sub):
    p = add_command(sub, "gradcheck", "finite-difference check of every layer and of whole models: a table of "
                    "relative errors", cmd_gradcheck)
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs and the models' initial weights")
    p.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes")

    sub.add_parser("make-assignment", add_help=False,
                   help="write the student version of the exercises (solutions replaced by TODOs), as a .py "
                        "file or, with --format notebook, a notebook with a check cell after each exercise")
    sub.add_parser("grade", add_help=False,
                   help="grade a student's exercises file or notebook, or a folder of them (--out grades.csv): "
                        "each exercise in its own process on fresh inputs; pass/fail, hints, score")


def cmd_gradcheck(args):
    rows = gradcheck_table(args.seed)  # (what, w.r.t., relative error)
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'w.r.t.':<14} {'rel. error':>10}  ok (< {args.tol:g})")
    for what, param, err in rows:
        print(f"{what:<{width}}  {param:<14} {err:10.2e}  {'yes' if err < args.tol else 'NO'}")
    worst = max(r[2] for r in rows)
    print(f"\n{len(rows)} gradients checked, worst relative error {worst:.2e}")
    return 1 if worst >= args.tol else None  # the exit status: 1 if a gradient failed
