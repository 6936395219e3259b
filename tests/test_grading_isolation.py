"""Hostile submissions: each is handled, fails only what it should, and leaves the report honest.

Every graded run starts one child process per exercise (about 0.15 s each), so the hostile behaviours that do not
interfere share one submission, graded once (the fixture ``hostile``), each in its own exercise.
"""
import json
import re

import numpy as np
import pytest

from minivae.teaching import compare, grader
from minivae.teaching.assignments import PACKAGED_EXERCISES, make_student_version
from minivae.teaching.checks import EXERCISES
from minivae.teaching.grader import format_report, grade, main_grade
from minivae.teaching.checks_layers import draw_sizes

REFERENCE = PACKAGED_EXERCISES.read_text(encoding="utf-8")
MAX_SCORE = sum(e.points for e in EXERCISES)
TIMEOUT = 2.0


def replace_function(source, name, new_def):
    """The source with the whole function ``name`` replaced by ``new_def`` (a complete def, dedented)."""
    start = source.index(f"\ndef {name}(")
    end = source.find("\ndef ", start + 1)
    end = len(source) if end < 0 else end
    return source[:start] + "\n" + new_def.strip("\n") + "\n\n" + source[end:]


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return path


HOSTILE = {  # exercise -> its hostile body; the other exercises keep the reference solution
    "linear_forward": "def linear_forward(x, W, b):\n    while True:\n        pass\n",
    "linear_backward": ("def linear_backward(dout, x, W):\n    for i in range(12000):\n"
                        "        print('Score: 18 / 18', i)\n    print('\\rScore: 18 / 18')\n"
                        "    return dout @ W.T, x.T @ dout, dout.sum(axis=0)\n"),
    "relu_backward": "def relu_backward(dout, x):\n    import sys\n    sys.exit(0)\n",
    "sigmoid_backward": "def sigmoid_backward(dout, out):\n    import os\n    os._exit(0)\n",
    "bernoulli_nll_from_logits": ("def bernoulli_nll_from_logits(logits, x):\n    import ctypes\n"
                                  "    return ctypes.string_at(0)\n"),
    # one 4 GiB block: beyond the 1 GiB limit at once (200 blocks of 128 MiB took the time limit to zero-fill on a
    # busy machine before the limit was met); without the limit this machine would grant it
    "kl_standard_normal": ("def kl_standard_normal(mu, logvar):\n"
                           "    hog = bytearray(2**32)\n    return hog\n"),
    "reparameterize": "def reparameterize(mu, logvar, eps):\n    raise KeyboardInterrupt\n",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    source = REFERENCE
    for name, body in HOSTILE.items():
        source = replace_function(source, name, body)
    path = write(tmp_path_factory.mktemp("hostile"), "hostile.py", source)
    report = grade(path, timeout=TIMEOUT, memory_mb=1024)
    return report, format_report(report)


def test_an_endless_loop_times_out_and_the_other_exercises_are_still_graded(hostile):
    report, _ = hostile
    result = report.result("linear_forward")
    assert result.status == "fail" and "time limit" in result.message and f"{TIMEOUT:g} s" in result.message
    assert [r.name for r in report.results] == [e.name for e in EXERCISES]
    for name in ("linear_backward", "reparameterize_backward", "adam_step", "vae_negative_elbo"):
        assert report.result(name).passed, report.result(name).message
    assert report.score == 2 + 2 + 2 + 4


def test_sys_exit_and_keyboard_interrupt_inside_a_function_fail_that_exercise(hostile):
    report, _ = hostile
    assert "raised SystemExit" in report.result("relu_backward").message
    assert 'in relu_backward' in report.result("relu_backward").traceback  # the student's own frame
    assert "raised KeyboardInterrupt" in report.result("reparameterize").message


def test_os_exit_and_a_segfault_fail_their_exercise_with_a_clear_message(hostile):
    report, _ = hostile
    assert "exit code 0" in report.result("sigmoid_backward").message
    crash = report.result("bernoulli_nll_from_logits")
    assert "SIGSEGV" in crash.message and "segmentation fault" in crash.message


def test_a_memory_bomb_meets_the_memory_limit(hostile):
    report, _ = hostile
    assert "MemoryError" in report.result("kl_standard_normal").message


def test_a_flood_of_prints_is_truncated_and_cannot_fake_the_score(hostile):
    report, text = hostile
    output = report.result("linear_backward").output
    assert "output truncated" in output and len(output) < 2200
    assert [line for line in text.splitlines() if line.startswith("Score")] == [f"Score: 10 / {MAX_SCORE}"]
    assert text.splitlines()[-1] == f"Score: 10 / {MAX_SCORE}"
    assert "\r" not in text  # a carriage return cannot overwrite a line of the report on a terminal


def test_the_end_to_end_note_survives_the_students_own_hanging_blocks(hostile):
    report, _ = hostile
    assert "did not finish" in report.result("vae_negative_elbo").message


def test_sys_exit_gives_a_failing_exit_status_and_a_report(tmp_path, capsys):
    path = write(tmp_path, "quitter.py", replace_function(REFERENCE, "relu_backward", HOSTILE["relu_backward"]))
    assert main_grade([str(path), "--seed", "3"]) == 1
    printed = capsys.readouterr().out
    assert f"Score: {MAX_SCORE - 1} / {MAX_SCORE}" in printed and "SystemExit" in printed and "--seed 3" in printed


PATCHER = """
import minivae.teaching.compare as compare
import minivae.teaching.grader as grader
import minivae.teaching.checks_layers as checks_layers
compare.TOLERANCE = 1e300
always = lambda *args, **kwargs: compare.Check("out", 0.0, True)
compare.compare = checks_layers.compare = always
grader.format_report = lambda report, width=100: "Score: 18 / 18"
grader.GradeReport.score = property(lambda self: 18)
print("Score: 18 / 18")
"""


def test_patching_the_grader_inside_the_submission_has_no_effect(tmp_path):
    student = make_student_version(PACKAGED_EXERCISES, tmp_path / "student.py")
    path = write(tmp_path, "patcher.py", PATCHER + student.read_text(encoding="utf-8"))
    report = grade(path)
    assert report.import_error is None and report.score == 0
    assert all(r.status == "todo" for r in report.results)
    assert compare.TOLERANCE == 1e-6 and grader.format_report is format_report  # the grader's own are untouched
    assert format_report(report).splitlines()[-1] == f"Score: 0 / {MAX_SCORE}"
    assert "| Score: 18 / 18" in format_report(report)  # shown as the file's output, behind "| "


STACK_READER = """
def linear_forward(x, W, b):
    import sys
    frame = sys._getframe(1)
    while frame is not None:  # look for an array of the answer's shape among the callers' variables
        for value in list(frame.f_locals.values()):
            if isinstance(value, np.ndarray) and value.shape == (x.shape[0], W.shape[1]):
                return value
        frame = frame.f_back
    return np.zeros((x.shape[0], W.shape[1]))
"""


def test_reading_the_expected_answer_from_the_callers_frames_finds_nothing(tmp_path):
    path = write(tmp_path, "reader.py", replace_function(REFERENCE, "linear_forward", STACK_READER))
    in_process = grade(path, isolated=False).result("linear_forward")
    assert in_process.passed  # where the student's code shares the grader's stack, the cheat works ...
    isolated = grade(path).result("linear_forward")
    assert not isolated.passed and "zeros" in isolated.message  # ... in its own process there is nothing to read


RECORDER = """
def linear_forward(x, W, b):
    import json
    with open({log!r}, "a") as f:
        f.write(json.dumps([x.tolist(), W.tolist(), b.tolist()]) + "\\n")
    return x @ W + b
"""

LOOKUP = """
TABLE = {table!r}

def linear_forward(x, W, b):
    key = repr(np.round(x, 6).tolist())
    return np.array(TABLE[key]) if key in TABLE else np.zeros((x.shape[0], W.shape[1]))
"""


def test_a_lookup_table_of_one_runs_inputs_fails_with_a_fresh_seed(tmp_path):
    log = tmp_path / "inputs.jsonl"
    recorder = write(tmp_path, "recorder.py",
                     replace_function(REFERENCE, "linear_forward", RECORDER.format(log=str(log))))
    seed = 12345
    grade(recorder, seed=seed)
    x, W, b = (np.array(a) for a in json.loads(log.read_text().splitlines()[0]))
    index = [e.name for e in EXERCISES].index("linear_forward")
    sizes = draw_sizes(np.random.default_rng([seed, index]))  # the check's first draws: its sizes
    assert x.shape == (sizes.N, sizes.D) and W.shape == (sizes.D, sizes.M)  # the seed's sizes reach the check
    table = {repr(np.round(x, 6).tolist()): (x @ W + b).tolist()}
    lookup = write(tmp_path, "lookup.py", replace_function(REFERENCE, "linear_forward", LOOKUP.format(table=table)))
    assert grade(lookup, seed=seed).result("linear_forward").passed  # the memorised run
    fresh = grade(lookup)
    assert fresh.seed != seed and not fresh.result("linear_forward").passed


def test_the_sizes_vary_with_the_seed_and_keep_the_hypotheses_apart():
    drawn = [draw_sizes(np.random.default_rng([seed, 0])) for seed in range(200)]
    assert len(set(drawn)) > 20
    for s in drawn:
        assert s.N % 2 == 1 and s.N >= 5 and s.D != s.M and s.L < s.N and s.Dx % 2 == 0
    assert draw_sizes(np.random.default_rng([7, 0])) == draw_sizes(np.random.default_rng([7, 0]))


def test_a_syntax_error_needs_no_process_and_says_where(tmp_path):
    path = write(tmp_path, "broken.py", REFERENCE.replace("def linear_forward(x, W, b):", "def linear_forward(x, W, b)"))
    report = grade(path)
    assert report.import_error.startswith("SyntaxError") and report.startup_seconds == []
    assert re.search(r"line \d+", report.import_error)


def test_an_import_time_hang_is_one_timeout_not_ten(tmp_path):
    path = write(tmp_path, "stuck.py", "while True:\n    pass\n")
    report = grade(path, timeout=1.0)
    assert report.score == 0 and "time limit" in report.import_error
    assert report.seconds < 6
