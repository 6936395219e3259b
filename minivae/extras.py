"""The optional extras: what each application needs beyond the core, and the one error when it is missing.

minivae's core is NumPy, Numba, Matplotlib and tqdm. An application that works with the library its field uses brings
it as an extra, installed by name:

    pip install "minivae[molecules]"      RDKit and selfies: molecules as SMILES and SELFIES strings, judged by RDKit
    pip install "minivae[tables]"         pyarrow: Parquet files and folders, and CSV files, streamed in column batches
    pip install "minivae[lakehouse]"      deltalake and pyiceberg (SQLite catalog): Delta Lake and Iceberg tables
    pip install "minivae[distributed]"    mpi4py and the mpich wheel: training and scoring on several MPI ranks

``require("molecules")`` imports what an extra holds and returns nothing; when a package is missing it raises
``MissingExtraError``, whose one line says which extra to install. Import the packages themselves where they are
used, after ``require``: the core never imports them at start-up.
"""
import importlib

EXTRAS = {  # extra -> the modules it provides (import names), as pyproject.toml's optional-dependencies install them
    "molecules": ("rdkit", "selfies"),
    "tables": ("pyarrow",),
    "lakehouse": ("deltalake", "pyiceberg", "sqlalchemy"),  # sqlalchemy: pyiceberg's SQL catalog ([sql-sqlite])
    "distributed": ("mpi4py",),  # with the mpich wheel: an MPI library and mpiexec, no system MPI needed
}


class MissingExtraError(ModuleNotFoundError):
    """An optional package is not installed: the message names the extra that installs it."""


def require(extra, purpose=None):
    """Import every module of ``extra`` or raise MissingExtraError, e.g. "molecules need RDKit (rdkit), not installed
    here: pip install 'minivae[molecules]'"."""
    if extra not in EXTRAS:
        raise ValueError(f"no extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            what = purpose or f"the {extra} extra"
            raise MissingExtraError(f"{what} needs {module}, which is not installed here: "
                                    f"pip install 'minivae[{extra}]'") from None
