"""Teaching assignments: the student version of the exercises, as a Python file or as notebooks.

Commands::

    python -m minivae make-assignment [--out exercises.py]                 the exercises as one .py file
    python -m minivae make-assignment --format notebook --out assignment/  one notebook per exercise group
    python -m minivae grade exercises.py                                   grade a student's file, report a score

``grade`` exits with code 0 when every exercise passes and 1 otherwise (also when the file does not import), so a
script or a CI job can use it.

Where the reference solutions are kept
--------------------------------------
Not in the installed package. The teacher's file with the solutions, ``teacher/solutions.py`` in the repository,
is not part of the ``minivae`` package (a wheel or ``pip install`` never contains it). The package ships only the
student template, ``minivae/teaching/exercises.py``: the same file with every solution replaced by a TODO (a test
holds it equal to ``strip_solutions`` of the teacher's file). The grader needs no solution file either: it compares
each output with minivae's library implementations (``minivae.nn``, ``minivae.models.vae``; see
``minivae.teaching.reference_blocks``) and with finite differences. A submission that imports those (or any module
of minivae holding a graded function) is flagged by ``minivae.teaching.static_checks.solution_imports``.

Solution regions
----------------
In the teacher's file the code a student has to write lies between two marker lines, each alone on its line at the
indentation of the code: ``### BEGIN SOLUTION`` and ``### END SOLUTION``. The first line inside a region must be
``### TODO: <what to write>``, so the instruction lives beside the solution. ``strip_solutions`` replaces each
region by ``raise NotImplementedError("TODO: <what to write>")``; everything outside the regions (docstrings, the
``return`` lines that name the expected results) is copied unchanged.

The grader is in ``minivae.teaching.grader``, the notebooks are written by ``minivae.teaching.notebook_assignment``.
"""
import argparse
import sys
from pathlib import Path

from minivae.fileio import atomic_write

BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
TODO_PREFIX = "### TODO:"
STUDENT_TEMPLATE = Path(__file__).with_name("exercises.py")  # shipped: every solution replaced by a TODO
# The teacher's file with the reference solutions: in a checkout of the repository only, never in the package.
REFERENCE_SOLUTIONS = Path(__file__).resolve().parents[2] / "teacher" / "solutions.py"
PACKAGED_EXERCISES = REFERENCE_SOLUTIONS  # the former name of the reference file (it used to be in the package)

# ======================================================================================================================
# The student version
# ======================================================================================================================


def strip_solutions(source, filename="<source>"):
    """Return ``source`` with each solution region replaced by ``raise NotImplementedError("TODO: ...")``.

    A region is the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (both alone on their line); its first
    line must be ``### TODO: <text>``. The ``raise`` gets the indentation of the BEGIN line.

    Raises ValueError, naming the line, for a BEGIN inside a region, an END without a BEGIN, a region that is never
    closed or has no TODO line, a source without any region, or a result that is not valid Python.

    >>> src = ("def f(x):\\n    ### BEGIN SOLUTION\\n    ### TODO: return 2 x\\n"
    ...        "    return 2 * x\\n    ### END SOLUTION\\n")
    >>> print(strip_solutions(src), end="")
    def f(x):
        raise NotImplementedError("TODO: return 2 x")
    """
    out = []
    region = None  # while inside a region: {"line": number of the BEGIN line, "indent": str, "todo": str or None}
    n_regions = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped == BEGIN_MARKER:
            if region is not None:
                raise ValueError(f"{filename}, line {number}: {BEGIN_MARKER!r} inside the region opened at line "
                                 f"{region['line']}; close that one with {END_MARKER!r} first")
            region = {"line": number, "indent": line[: len(line) - len(line.lstrip())], "todo": None}
        elif stripped == END_MARKER:
            if region is None:
                raise ValueError(f"{filename}, line {number}: {END_MARKER!r} without a {BEGIN_MARKER!r} before it")
            if region["todo"] is None:
                raise ValueError(f"{filename}, line {number}: the region opened at line {region['line']} is empty; "
                                 f"its first line must be '{TODO_PREFIX} <what the student should write>'")
            out.append(f"{region['indent']}raise NotImplementedError({_quote('TODO: ' + region['todo'])})\n")
            region = None
            n_regions += 1
        elif region is not None:
            if region["todo"] is None:  # the first line of the region
                todo = stripped[len(TODO_PREFIX):].strip() if stripped.startswith(TODO_PREFIX) else ""
                if not todo:
                    raise ValueError(f"{filename}, line {number}: the first line after {BEGIN_MARKER!r} (line "
                                     f"{region['line']}) must be '{TODO_PREFIX} <what the student should write>', "
                                     f"got {stripped!r}")
                region["todo"] = todo
            # every line of the solution is dropped
        else:
            out.append(line)
    if region is not None:
        raise ValueError(f"{filename}: the region opened at line {region['line']} is never closed; "
                         f"add a line {END_MARKER!r} after the solution")
    if n_regions == 0:
        raise ValueError(f"{filename} has no solution regions (lines {BEGIN_MARKER!r} ... {END_MARKER!r}); "
                         "is it the reference file with the solutions?")
    result = "".join(out)
    try:
        compile(result, filename, "exec")
    except SyntaxError as err:
        raise ValueError(f"{filename}: without its solutions the file is not valid Python ({err}); a region must "
                         "hold whole statements of one block") from err
    return result


def _quote(text):
    """A Python string literal for text, in double quotes when possible."""
    return f'"{text}"' if '"' not in text and "\\" not in text else repr(text)


def student_source(source_path=None):
    """The text of the student version: the packaged template, or ``strip_solutions`` of a reference file."""
    if source_path is None:
        return STUDENT_TEMPLATE.read_text(encoding="utf-8")
    source = Path(source_path)
    return strip_solutions(source.read_text(encoding="utf-8"), filename=source.name)


def make_student_version(source_path=None, dest_path=None, overwrite=False):
    """Write the student version of an exercise file; return the path written.

    source_path : a reference file with solution regions, stripped first (default: the packaged student
    template ``minivae/teaching/exercises.py``, copied as it is)
    dest_path : where to write it (default: ``exercises.py`` in the current directory)
    overwrite : replace an existing dest_path (default False: a student's work is not overwritten by accident)

    The file is written atomically (to a temporary file in the same folder, then renamed), so an interrupted call
    never leaves half a file. Raises ValueError for unbalanced markers (see ``strip_solutions``) or when dest_path is
    the source itself, FileExistsError when dest_path exists and overwrite is False.

    Example
    -------
    >>> path = make_student_version(dest_path="exercises.py")      # doctest: +SKIP
    >>> report = grade(path)                                       # doctest: +SKIP
    >>> report.score                                               # doctest: +SKIP
    0
    """
    source = Path(STUDENT_TEMPLATE if source_path is None else source_path)
    dest = Path("exercises.py" if dest_path is None else dest_path)
    student = student_source(source_path)
    if dest.exists():
        if dest.resolve() == source.resolve():
            raise ValueError(f"the destination {dest} is the reference file itself; choose another path")
        if not overwrite:
            raise FileExistsError(f"{dest} already exists; the work in it would be lost. Choose another path, or "
                                  "overwrite it on purpose (overwrite=True, or --force on the command line)")
    with atomic_write(dest, "w", encoding="utf-8") as f:
        f.write(student)
    return dest


def main_make_student(argv=None):
    """``python -m minivae make-assignment [--format py|notebook] [--out PATH]``: write the student version; return
    0, or 1 on an error."""
    parser = argparse.ArgumentParser(
        prog="python -m minivae make-assignment",
        description="Write the exercises with the solutions removed (each replaced by a NotImplementedError and a "
                    "TODO saying what to write), as a .py file or as a notebook with a check cell after each "
                    "exercise. Grade it afterwards with: python -m minivae grade PATH")
    parser.add_argument("--format", choices=("py", "notebook"), default="py",
                        help="py: one Python file (default); notebook: a folder with exercises.ipynb, the "
                             "explanations in markdown and a check(\"name\") cell after each exercise")
    parser.add_argument("--out", default=None,
                        help="where to write it (default: exercises.py for py, the folder assignment/ for notebook)")
    parser.add_argument("--force", action="store_true", help="overwrite the file if it exists (its work is lost)")
    parser.add_argument("--source", default=None,
                        help="a reference file with ### BEGIN/END SOLUTION regions, e.g. teacher/solutions.py "
                             "(default: the student template shipped with minivae)")
    args = parser.parse_args(argv)
    try:
        if args.format == "notebook":
            from minivae.teaching.notebook_assignment import make_notebook_assignment

            path = make_notebook_assignment(args.out or "assignment", args.source, overwrite=args.force)
        else:
            path = make_student_version(args.source, args.out or "exercises.py", overwrite=args.force)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.format == "notebook":
        print(f"Wrote {path}. Fill in each TODO and run the check cell below it; grade the notebook with:  "
              f"python -m minivae grade {path}")
    else:
        print(f"Wrote {path}. Fill in each TODO, then grade it with:  python -m minivae grade {path}")
    return 0
