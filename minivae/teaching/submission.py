"""Reading a submission: a student's ``.py`` file, or a notebook (``.ipynb``) whose code cells make the program.

    read_submission(path) -> Submission(student, filename, source, cells)

This runs in the grader's process and executes nothing: a notebook is JSON, read with ``json.loads``; a ``.py``
file is text. The source is compiled (not run) by the grader to report a syntax error without starting a process.

A notebook's program is its code cells joined in order, each preceded by a comment line ``# cell <n>`` (so a
traceback's line number leads back to a cell, see ``Submission.where``). IPython lines that are not Python are
dropped: magics (``%matplotlib inline``, ``%%time``) and shell lines (``!pip install ...``); a cell that starts with
a cell magic (``%%...``) is dropped whole, since its body is not Python either.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".py", ".ipynb")


@dataclass
class Submission:
    """One student's program.

    student : the file name without its suffix;  filename : the name tracebacks show (the file's name)
    source : the Python program;  cells : for a notebook, (first line in source, cell number) per code cell
    """

    student: str
    filename: str
    source: str
    cells: list = field(default_factory=list)

    def where(self, line):
        """Where line ``line`` of the program is, as a student finds it: "line 12", or "cell 3, line 2"."""
        for first, number in reversed(self.cells):
            if line > first:
                return f"cell {number}, line {line - first}"
        return f"line {line}"


    def locate(self, text):
        """A traceback's text with each 'File "<filename>", line N' of a notebook's program read as its cell."""
        if not self.cells:
            return text
        pattern = re.compile(r'File "' + re.escape(self.filename) + r'", line (\d+)')
        return pattern.sub(lambda m: f'File "{self.filename}", {self.where(int(m.group(1)))}', text)


def _cell_source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _python_lines(text):
    """The lines of a cell without IPython magics and shell commands (a cell magic drops the whole cell)."""
    if text.lstrip().startswith("%%"):
        return []
    return ["" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()]


def notebook_source(text):
    """The program of a notebook (its JSON as text): (source, cells), see the module's docstring.

    Raises ValueError when the text is not a notebook.
    """
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not a notebook: the file is not valid JSON ({err})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a notebook: no list of cells")
    lines, cells = [], []
    code = [c for c in notebook["cells"] if isinstance(c, dict) and c.get("cell_type") == "code"]
    for number, cell in enumerate(code, start=1):
        lines.append(f"# cell {number}")
        cells.append((len(lines), number))
        lines.extend(_python_lines(_cell_source(cell)))
    return "\n".join(lines) + "\n", cells


def read_submission(path):
    """The Submission in ``path`` (.py or .ipynb). Raises FileNotFoundError, or ValueError for another suffix or
    a file that is not a notebook."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        source, cells = notebook_source(text)
        return Submission(path.stem, path.name, source, cells)
    if path.suffix != ".py":
        raise ValueError(f"{path.name}: a submission is a .py file or a notebook (.ipynb)")
    return Submission(path.stem, path.name, text)
