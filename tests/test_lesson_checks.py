"""The exercise check cells of the lessons check what the student wrote in an EARLIER cell.

Each check cell follows one pattern: ``if "name" in globals():`` it checks the student's ``name`` and prints
``exercise N: correct`` or ``exercise N: not yet: <hint>`` (a wrong answer never raises, so that the notebook still
runs top to bottom); otherwise it prints ``exercise N: define name in a cell above and run it, then run this cell``.

Here a student's answer is planted in a new code cell right before the check cell, the lesson is run in its fast
setting (as tests/test_lessons.py runs it), and the check cell's printed verdict is read. Each lesson runs at most
twice: once with the correct answers of all its cases, once with the wrong ones. To add a lesson: one entry in
CHECK_CELLS (its file and how to find its check cell) and its cases in CASES. Two lessons are run, the two quickest
(11 and 16), since every lesson's check cells follow the same pattern; each run costs a whole lesson.
"""
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parent.parent / "lessons"

# lesson file -> its check cell: a cell id, or None for the first cell that contains 'if "<name>" in globals()'
CHECK_CELLS = {
    "11_evaluation.ipynb": None,
    "16_distributed.ipynb": "l16-044",
}

# (lesson file, exercise number, the name it checks, a correct answer, a wrong answer)
CASES = [
    ("11_evaluation.ipynb", 1, "my_bound", '''
my_eps = np.random.default_rng(3).standard_normal((10, 20, vae.latent_dim))
my_bound = logsumexp(log_importance_weights(vae, x_eval[:10], my_eps), axis=1) - np.log(20)
''', '''
my_eps = np.random.default_rng(3).standard_normal((10, 20, vae.latent_dim))
my_bound = logsumexp(log_importance_weights(vae, x_eval[:10], my_eps), axis=1)      # - log K forgotten
'''),
    ("16_distributed.ipynb", 1, "weighted_gradient", '''
def weighted_gradient(shard_grads, sizes):
    total = sum(sizes)
    return sum(n / total * g for g, n in zip(shard_grads, sizes) if n > 0)
''', '''
def weighted_gradient(shard_grads, sizes):
    return sum(shard_grads) / len(shard_grads)                  # the plain mean of unequal shards
'''),
    ("16_distributed.ipynb", 2, "ring_allreduce_time", '''
def ring_allreduce_time(p, n_bytes, alpha, beta):
    return 0.0 if p == 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * n_bytes / beta
''', '''
def ring_allreduce_time(p, n_bytes, alpha, beta):
    return 0.0 if p == 1 else 2 * (p - 1) * alpha + (p - 1) / p * n_bytes / beta   # the all-gather forgotten
'''),
]


def check_cell_index(nb, marker):
    """The index of the check cell: the cell whose id is ``marker``, or the first cell with 'if "..." in globals()'."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if (cell.get("id") == marker) if marker else re.search(r'^if "\w+" in globals\(\)', cell.source, re.M):
            return i
    raise LookupError(f"no check cell {marker!r}")


def run_with_planted(lesson, sources, monkeypatch):
    """Run ``lesson`` in fast mode with ``sources`` in a new cell right before its check cell; the check's stdout."""
    path = LESSONS / lesson
    monkeypatch.setenv("MINIVAE_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    index = check_cell_index(nb, CHECK_CELLS[lesson])
    planted = nbformat.v4.new_code_cell("\n\n".join(s.strip() for s in sources))
    nb.cells.insert(index, planted)                     # an EARLIER cell than the check, as the student writes it
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    check = nb.cells[index + 1]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    return "".join(o.get("text", "") for o in check.outputs if o.output_type == "stream" and o.name == "stdout")


_RUNS = {}


@pytest.fixture
def verdicts(monkeypatch):
    """(lesson, "right" or "wrong") -> the check cell's stdout, each lesson and kind run once for all its cases."""
    def get(lesson, kind):
        if (lesson, kind) not in _RUNS:
            sources = [case[3] if kind == "right" else case[4] for case in CASES if case[0] == lesson]
            _RUNS[lesson, kind] = run_with_planted(lesson, sources, monkeypatch)
        return _RUNS[lesson, kind]
    return get


def verdict_line(stdout, number):
    lines = [line for line in stdout.splitlines() if line.startswith(f"exercise {number}:")]
    assert len(lines) == 1, f"exercise {number}: expected one verdict line, got {lines!r} in\n{stdout}"
    return lines[0]


@pytest.mark.parametrize("kind", ["right", "wrong"])
@pytest.mark.parametrize("lesson, number, name, right, wrong", CASES, ids=[f"{c[0][:2]}-{c[2]}" for c in CASES])
def test_check_sees_the_answer_written_above(verdicts, lesson, number, name, right, wrong, kind):
    line = verdict_line(verdicts(lesson, kind), number)
    expected = f"exercise {number}: correct" if kind == "right" else f"exercise {number}: not yet"
    assert line.startswith(expected), line


def test_the_lessons_check_cells_follow_the_pattern():
    # Every exercise a check cell of these lessons names gets the 'define it above' line when nothing is defined.
    for lesson in CHECK_CELLS:
        nb = nbformat.read(LESSONS / lesson, as_version=4)
        source = nb.cells[check_cell_index(nb, CHECK_CELLS[lesson])].source
        assert "= None" not in source.split("if ")[0], f"{lesson}: the check cell resets an answer"
        for number in {case[1] for case in CASES if case[0] == lesson}:
            assert f'print("exercise {number}: define ' in source, (lesson, number)
