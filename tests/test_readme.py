"""The README, walked as a newcomer walks it: every command of its ```bash blocks runs here, in the README's order.

What is checked, and why:

* A command that runs (``python ...``) runs from the README's own text, in one fresh folder for the whole walk (so
  ``evaluate runs/mnist-vae-2d/checkpoint.npz`` finds the checkpoint that the Quick start's ``train`` wrote before it,
  as it does for a newcomer who types them one after another). It fails the test when it exits with another status
  than EXPECTED_STATUS gives (0 for all but one), prints a warning (a Python or Numba warning, any line with
  "warning" on stdout or stderr), or does not write the files the README says it writes.
* A command that would take minutes runs shorter: SHORTER appends options to the README's own. argparse keeps the
  last value of an option given twice, so ``--epochs 50 ... --epochs 1`` trains one epoch; every other word still
  comes from the README, so a README edit that breaks a command breaks this test. TOO_LONG names the commands that
  have no shorter setting: for those, only that the script starts and knows every option the README gives it.
* The install commands (``pip install ...``) and the test command (``python -m pytest``) are not run here: there is no
  network in a test, and the test command would run this file again. What they name is checked instead: the
  requirement files exist and pin every dependency of pyproject.toml, every optional extra included, at versions its
  ranges allow; the training install stays free of the test and lesson packages; ``.ci/run`` runs the README's test
  command exactly; the test files the README names exist.

The whole file takes about a minute on 2 cores (the walk's commands are separate processes: numba and matplotlib
load in each).
"""
import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Options appended to a command (keyed by its first words) so that it runs in seconds instead of minutes.
SHORTER = {  # the first prefix that matches applies: the longer ones first
    # one epoch of a small GRU on the molecules of at most 40 tokens (85% of them): the walk's molecule run takes
    # seconds; the commands after it read its checkpoint, and its data as it recorded them
    ("python", "-m", "minivae", "train", "--model", "seq-vae", "--data", "molecules"): ["--epochs", "1", "--hidden",
                                                                                        "32", "--max-length", "40"],
    ("python", "-m", "minivae", "evaluate", "runs/molecules/checkpoint.npz"): ["--n-samples", "100"],
    ("python", "-m", "minivae", "sample", "runs/molecules/checkpoint.npz"): ["-n", "100"],
    ("python", "-m", "minivae", "optimize"): ["--steps", "10", "--predictor-epochs", "5"],
    ("python", "-m", "minivae", "train"): ["--epochs", "1"],
    ("python", "-m", "minivae.start_here"): ["--epochs", "1", "--examples", "1000"],
    ("python", "bench/quality.py"): ["--epochs", "1", "--seeds", "1"],
    # One setting, one repeat of 2 steps, no start-up timing; --quick keeps its own 5 repeats. PyTorch is left out
    # here because its two workers would double the time of the whole file; bench/quality.py runs PyTorch's side
    # whenever it is installed.
    ("python", "bench/throughput.py"): ["--configs", "784-400-20", "--batches", "128", "--threads", "1",
                                        "--repeats", "1", "--steps", "2", "--pause", "0", "--no-startup",
                                        "--no-torch", "--no-jax", "--epochs", "2", "--epoch-runs", "1"],
    # the busy machine only, 3 repeats of 2 steps, minivae's three workers
    ("python", "bench/busy_machine.py"): ["--quick", "--steps", "2", "--pause", "0", "--no-torch", "--no-jax"],
    ("python", "bench/profile_step.py"): ["--steps", "3"],
    # every row of the table, each one epoch of a tiny model
    ("python", "bench/text_quality.py"): ["--epochs", "1", "--hidden", "8", "--embed", "4", "--k", "5"],
    ("python", "bench/molecule_design.py"): ["--walks", "1"],
    ("python", "bench/privacy_utility.py"): ["--max-epochs", "1"],  # all twelve runs, one epoch each
    ("python", "bench/dp_step.py"): ["--rounds", "2"],
    ("python", "bench/table_quality.py"): ["--epochs", "1", "--seeds", "1"],
    ("python", "bench/table_streaming.py"): ["--rows", "20000"],  # every stage, each in its process: about 13 s
    ("mpiexec", "-n", "2", "python", "-m", "minivae", "train"): ["--epochs", "1"],
    ("python", "bench/distributed_scoring.py"): ["--rows", "20000", "--batch-rows", "4096"],
    ("python", "bench/grading.py"): ["-n", "4"],
    ("python", "bench/distributed_scaling.py"): ["--quick"],  # one batch size, one round: about 15 s
    ("python", "bench/molecule_quality.py"): ["--epochs", "1", "--hidden", "8", "--embed", "4", "--k", "5",
                                              "--samples", "50"],
}
# Options made smaller wherever the README gives them: K importance samples per test digit.
SMALLER = {"-k": "5"}
# Commands with no shorter setting than the README's: why they are only started with --help.
TOO_LONG = {
    ("python", "-m", "minivae", "train", "--data", "mnist"): "it trains on the full MNIST for up to an hour, from "
                                                             "files a test install does not have",
    ("python", "-m", "minivae", "evaluate", "runs/mnist-vae/checkpoint.npz"): "the checkpoint of the hour's run",
    ("python", "-m", "minivae", "evaluate", "runs/mnist-vae-warmup/checkpoint.npz"): "the checkpoint of the hour's "
                                                                                     "run",
    ("python", "-m", "minivae", "evaluate", "runs/mnist-iwae/checkpoint.npz"): "the checkpoint of the hour's IWAE run",
    ("python", "-m", "minivae", "train", "--resume", "runs/mnist-vae-warmup/checkpoint.npz"): "it continues the hour's "
                                                                                             "run for another hour",
    ("python", "bench/conv_step.py"): "it compares with PyTorch, which the test install does not include",
    ("python", "bench/seq_vae_step.py"): "it compares with PyTorch, which the test install does not include",
    ("python", "bench/conv_vs_mlp.py"): "one epoch of its ConvVAE takes about 4 s on 2 cores, and the script has no "
                                        "option for fewer training digits",
}
# Exit statuses other than 0 that the README's commands are meant to give, and why.
EXPECTED_STATUS = {
    ("python", "-m", "minivae", "grade"): (1, "a fresh assignment has every exercise still TODO: 0 points, status 1"),
}
WARNING = re.compile(r"warn", re.IGNORECASE)


# -- reading the README -----------------------------------------------------------------------------------------------

def readme_commands():
    """Every command of the README's ```bash blocks, in order, as argument lists: lines split at ``&&``, comments
    dropped, backslash continuations joined."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", README, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words:
                cut = words.index("&&") if "&&" in words else len(words)
                commands.append(words[:cut])
                words = words[cut + 1:]
    return commands


def kind(argv):
    """'install', 'pytest' or 'run'; a command this file does not know how to check fails the test."""
    if argv[:2] == ["pip", "install"]:
        return "install"
    if argv[:3] == ["python", "-m", "pytest"]:
        return "pytest"
    if argv[0] == "python" or argv[:1] == ["mpiexec"] and "python" in argv:
        return "run"
    raise AssertionError(f"the README shows a command that tests/test_readme.py does not know how to check: "
                         f"{shlex.join(argv)}; teach kind() what it is")


COMMANDS = readme_commands()
RUN = [argv for argv in COMMANDS if kind(argv) == "run"]
INSTALLS = [argv for argv in COMMANDS if kind(argv) == "install"]
PYTESTS = [argv for argv in COMMANDS if kind(argv) == "pytest"]


def _matching(table, argv):
    for prefix, value in table.items():
        if tuple(argv[:len(prefix)]) == prefix:
            return value
    return None


def shortened(argv):
    """The command as this file runs it: the README's words, then the options that make it short."""
    if _matching(TOO_LONG, argv) is not None:
        return argv + ["--help"]
    extra = list(_matching(SHORTER, argv) or [])
    for option, value in SMALLER.items():
        if option in argv:
            extra += [option, value]
    return argv + extra


def option_value(argv, option, default=None):
    """The last value of ``option`` in argv (argparse's rule), or default."""
    value = default
    for i, word in enumerate(argv[:-1]):
        if word == option:
            value = argv[i + 1]
    return value


def expected_files(argv):
    """The files the README says the command writes, relative to the folder it runs in (none for TOO_LONG's, which
    run with --help)."""
    if _matching(TOO_LONG, argv) is not None:
        return []
    if argv[:1] == ["mpiexec"]:  # mpiexec -n N python ...: the files of the command it launches
        argv = argv[argv.index("python"):]
    if argv[:4] == ["python", "-m", "minivae", "train"] and "--help" not in argv:
        out = Path(option_value(argv, "--out", "runs/mnist-vae-2d"))
        files = [out / "checkpoint.npz", out / "history.json", out / "config.json"]
        figures = Path(option_value(argv, "--figures-dir", str(out / "figures")))
        if "--no-figures" in argv:
            return files
        if "--table" in argv:  # a table run: its curves and its codes
            return files + [figures / "history.png", figures / "latent_scatter.png"]
        if option_value(argv, "--model", "vae") == "seq-vae":  # a text run: its curves and its texts
            files += [figures / name for name in ("history.png", "samples.md", "reconstructions.md", "homotopy.md")]
            if option_value(argv, "--data") == "molecules" or "--smiles" in argv:  # and its molecules, judged
                files += [figures / name for name in ("samples.smi", "metrics.md", "properties.png", "molecules.png")]
            return files
        if option_value(argv, "--latent", "2") == "2":
            files += [figures / Path(name).name for name in MAIN_JOB_FIGURES]  # the main job's figures, all of them
        return files
    out = option_value(argv, "--out")
    if out and out.startswith("delta:"):  # a Delta table: its first commit
        return [Path(out[len("delta:"):]) / "_delta_log" / "00000000000000000000.json"]
    if out and out.endswith("/") and argv[3:4] in (["anomaly"], ["synthesize"]):  # a folder of parts: the first
        return [Path(out) / "part-000000.parquet"]
    if out and argv[3:4] == ["make-assignment"] and option_value(argv, "--format") == "notebook":
        return [Path(out) / "exercises.ipynb"]
    return [Path(out)] if out and argv[:3] == ["python", "-m", "minivae"] and "--help" not in argv else []


README_FIGURES = sorted(set(re.findall(r"\]\((figures/[\w.-]+\.png)\)", README)))
MAIN_JOB_FIGURES = [f for f in README_FIGURES  # not a molecule run's, not the privacy benchmark's
                    if not f.startswith(("figures/molecules-", "figures/privacy-"))]


# -- the walk -----------------------------------------------------------------------------------------------------

class Walk:
    """The README's runnable commands, run in order in one folder; a command runs its predecessors first."""

    def __init__(self, folder):
        self.folder = folder
        self.results = {}
        path = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)  # this clone's minivae
        self.env = dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg", MINIVAE_CACHE_DIR=str(folder / "cache"))
        self.env.pop("PYTHONWARNINGS", None)  # the warnings a user sees: Python's default filters

    def result(self, index):
        for i in range(index + 1):
            if i not in self.results:
                self.results[i] = self._run(shortened(RUN[i]))
        return self.results[index]

    def _run(self, argv):
        launcher = []
        if argv[0] == "mpiexec":  # the mpiexec of this environment (the distributed extra's mpich), then python
            at = argv.index("python")
            launcher = [shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or "mpiexec", *argv[1:at]]
            argv = argv[at:]
        words = launcher + [sys.executable] + argv[1:]
        at = len(launcher) + 1
        if (ROOT / words[at]).is_file():  # python bench/x.py: the README runs it from the repository's root
            words[at] = str(ROOT / words[at])
        return subprocess.run(words, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    return Walk(tmp_path_factory.mktemp("readme-walk"))


def _label(argv):
    text = shlex.join(argv)
    return text if len(text) <= 70 else text[:67] + "..."


@pytest.mark.parametrize("index", range(len(RUN)), ids=[_label(argv) for argv in RUN])
def test_every_readme_command_runs_without_a_warning(walk, index):
    argv = RUN[index]
    run = walk.result(index)
    shown = (f"the README's command\n    {shlex.join(argv)}\nrun here as\n    {shlex.join(shortened(argv))}\n"
             f"--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}")
    status, why = _matching(EXPECTED_STATUS, argv) or (0, "")
    assert run.returncode == status, f"exit status {run.returncode}, expected {status} {why}\n{shown}"
    warnings = [line for line in (run.stdout + "\n" + run.stderr).splitlines() if WARNING.search(line)]
    assert not warnings, "it printed a warning:\n    " + "\n    ".join(warnings) + "\n" + shown
    missing = [str(f) for f in expected_files(argv) if not (walk.folder / f).is_file()]
    assert not missing, f"it did not write {', '.join(missing)}\n{shown}"
    too_long = _matching(TOO_LONG, argv)
    if too_long is not None:  # started with --help: every option the README gives must be one of its options
        unknown = [w for w in argv if w.startswith("-") and not re.search(rf"(^|[\s,]){re.escape(w)}\b", run.stdout)]
        assert not unknown, f"{argv[1]} has no option {', '.join(unknown)}\n{shown}"


def test_the_walk_knows_every_command_it_shortens():
    """A key of SHORTER, TOO_LONG or EXPECTED_STATUS that matches no README command is a command that was renamed or
    removed: the table would silently stop applying."""
    for table in (SHORTER, TOO_LONG, EXPECTED_STATUS):
        for prefix in table:
            assert any(tuple(argv[:len(prefix)]) == prefix for argv in RUN), f"no README command starts {prefix}"


def test_the_readme_shows_its_main_commands_in_bash_blocks():
    """The Quick start is two commands (one trains, one runs the tests), and the commands the README talks about
    inline are in blocks too, where this file walks them."""
    quick = re.search(r"^## Quick start\n(.*?)^## ", README, re.S | re.M).group(1)
    blocks = re.findall(r"^```bash\n(.*?)^```", quick, re.S | re.M)
    assert [b.strip() for b in blocks] == [
        "pip install -r requirements-core.txt -e . && python -m minivae train",
        "pip install -r requirements.txt -e . && python -m pytest",
    ]
    walked = {shlex.join(argv) for argv in COMMANDS}
    for span in re.findall(r"`((?:python -m minivae|python bench/)[^`]*)`", README):
        if re.search(r"\b[A-Z]{2,}\b|\bK\b", span):  # a placeholder such as COMMAND, CKPT or K: not a command
            continue
        assert span in walked, f"the README shows `{span}` inline but in no ```bash block, where it would be walked"


def test_the_figures_the_readme_shows_exist():
    assert README_FIGURES, "the README shows no figure"
    for name in README_FIGURES:
        assert (ROOT / name).is_file(), f"the README shows {name}, which does not exist"


# -- what the install commands name ---------------------------------------------------------------------------------

@functools.cache
def pyproject():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement):
    from packaging.utils import canonicalize_name

    return canonicalize_name(requirement.name)


def pins(path):
    """{package: version} of a requirements file, following its ``-r`` includes (relative to the file, as in pip)."""
    from packaging.requirements import Requirement

    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found.update(pins(path.parent / line[3:].strip()))
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {line!r} is not a pin (name==version)"
        found[_name(req)] = specs[0].version
    return found


def _install_files(argv):
    """The requirement files and the project extras an install command names."""
    files, extras = [], []
    for i, word in enumerate(argv):
        if word in ("-r", "--requirement"):
            files.append(argv[i + 1])
        elif word.startswith(".["):  # -e .[extra,...] (shlex has taken its quotes off)
            extras += re.search(r"\[(.*)\]", word).group(1).split(",")
    return files, extras


def test_the_install_commands_name_files_and_extras_that_exist():
    assert INSTALLS, "the README shows no install command"
    declared = set(pyproject()["project"].get("optional-dependencies", {}))
    for argv in INSTALLS:
        files, extras = _install_files(argv)
        for name in files:
            assert (ROOT / name).is_file(), f"{shlex.join(argv)} names {name}, which does not exist"
        assert set(extras) <= declared, f"{shlex.join(argv)} names extras pyproject.toml does not declare"


def _fits(version, requirement):
    return requirement.specifier.contains(version, prereleases=True)


def test_the_training_install_pins_the_core_dependencies_and_nothing_of_the_tests():
    from packaging.requirements import Requirement

    core = pins(ROOT / "requirements-core.txt")
    for text in pyproject()["project"]["dependencies"]:
        req = Requirement(text)
        assert _name(req) in core, f"requirements-core.txt does not pin {req.name}, a dependency of minivae"
        assert _fits(core[_name(req)], req), f"requirements-core.txt pins {req.name}=={core[_name(req)]}, " \
            f"outside pyproject's range {text!r}"
    for extra, reqs in pyproject()["project"].get("optional-dependencies", {}).items():
        for req in map(Requirement, reqs):
            assert _name(req) not in core, f"requirements-core.txt pins {req.name} of the [{extra}] extra: the " \
                "training command would install it"


def test_the_test_install_pins_every_extra_and_the_same_core():
    from packaging.requirements import Requirement

    everything, core = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-core.txt")
    for name, version in core.items():
        assert everything.get(name) == version, f"requirements.txt and requirements-core.txt disagree on {name}"
    for extra, reqs in pyproject()["project"].get("optional-dependencies", {}).items():
        for text in reqs:
            req = Requirement(text)
            assert _name(req) in everything, f"requirements.txt does not pin {req.name} of the [{extra}] extra"
            assert _fits(everything[_name(req)], req), f"requirements.txt pins {req.name}=={everything[_name(req)]}," \
                f" outside the range {text!r} of [{extra}]"


def test_ci_runs_the_readme_test_command_exactly():
    quick = re.search(r"^## Quick start\n(.*?)^## ", README, re.S | re.M).group(1)
    test_command = re.findall(r"^```bash\n(.*?)\n```", quick, re.S | re.M)[-1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in [line.strip() for line in ci.splitlines()], f".ci/run does not run {test_command!r}"
    assert "set -euo pipefail" in ci, ".ci/run must stop at the first failing command"


def test_the_test_commands_name_test_files_that_exist():
    assert PYTESTS, "the README shows no test command"
    for argv in PYTESTS:
        for word in argv[3:]:
            if word.startswith("tests/"):
                path, _, test = word.partition("::")
                assert (ROOT / path).is_file(), f"{shlex.join(argv)}: there is no {path}"
                if test:
                    text = (ROOT / path).read_text(encoding="utf-8")
                    assert re.search(rf"def {re.escape(test)}\(", text), f"{path} has no test {test}"


def test_the_package_builds_without_a_setuptools_warning(tmp_path):
    """What ``pip install -e .`` makes setuptools do, with every warning an error: a deprecated pyproject field (the
    licence as a table), a package left out of the package list, or the notice of the editable import hook would
    each be printed to a newcomer on install."""
    setuptools = pytest.importorskip("setuptools")
    required = re.search(r"setuptools>=([\d.]+)", " ".join(pyproject()["build-system"]["requires"])).group(1)
    if tuple(map(int, setuptools.__version__.split(".")[:2])) < tuple(map(int, required.split(".")[:2])):
        pytest.skip(f"setuptools {setuptools.__version__} is older than the {required} pyproject.toml asks for")
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "minivae", project / "minivae", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, project / name)
    build = "import setuptools.build_meta as backend; backend.build_editable('dist')"
    run = subprocess.run([sys.executable, "-W", "error", "-c", build], cwd=project, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    warnings = [line for line in (run.stdout + run.stderr).splitlines() if WARNING.search(line)]
    assert not warnings, "\n".join(warnings)
