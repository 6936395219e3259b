"""Molecules as strings: SMILES read with RDKit, canonicalised, written as SMILES or SELFIES tokens.

A molecule is a graph of atoms and bonds; a SMILES string writes it as a walk over that graph (``c1ccccc1O`` is
phenol: six aromatic carbons in a ring, ring bond 1 opened and closed, then an oxygen). One molecule has many
SMILES; RDKit's canonical SMILES picks one, so that two strings of the same molecule compare equal. SELFIES (Krenn et
al. 2020) writes the same molecule in a grammar in which *every* string is a molecule: ``[C][=C][C][=C][C][=C]
[Ring1][=Branch1][O]`` is phenol again. A model that writes SMILES can close a ring it never opened; one that writes
SELFIES cannot make that mistake.

The tokens a sequence model reads:

    SMILES   an atom is one token, also when it is two letters (Cl, Br) or a bracket atom ([nH], [O-], [C@@H]);
             bonds (= # / \\), branches ( ), ring-bond digits (1, %10) and "." (between the parts of a salt) are tokens
    SELFIES  every bracketed symbol ([C], [=O], [Ring1], [Branch1]) is one token, and "."

A molecule dataset, in order (``molecule_strings``):

1. the SMILES are read: RDKit's ``Data/NCI/first_5K.smi`` (4,999 molecules from the NCI open database, public
   domain; it ships in RDKit's wheel and is found through ``rdkit.RDConfig``), a ``.smi`` file (one SMILES per line,
   anything after it on the line is its name) or a CSV file with a ``smiles`` column;
2. each is parsed by RDKit. One it cannot parse is counted and reported with its line number, then left out (or,
   with ``invalid="refuse"``, the dataset is refused);
3. each is written as its canonical SMILES and as SELFIES; a molecule that is twice in the file is kept once (else it
   could sit in the training and the test part at once), one that SELFIES cannot write (an atom above the valences
   SELFIES knows) is left out, and so is one whose tokens do not fit in ``max_length`` in either representation:
   both representations keep the same molecules, so that a SMILES and a SELFIES model train and test on the same
   split. Everything left out is counted in the report.

``minivae.datasets.corpus.text_dataset("molecules", level="selfies")`` builds the Dataset of token ids from them.
RDKit and selfies come with the optional extra ``pip install 'minivae[molecules]'``.
"""
import csv
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from minivae.extras import require

REPRESENTATIONS = ("smiles", "selfies")
MOLECULE_CORPORA = ("molecules",)  # the molecule datasets known by name: RDKit's NCI first 5K
MOLECULE_MAX_LENGTH = 120  # the longest molecule kept, in tokens with <bos> and <eos> (the chemical VAE: ~120)
SHOWN_LINES = 5  # how many line numbers of invalid SMILES a report names

# One token per match; the last alternative, any one character, keeps every string whole ("".join(tokens) == text).
SMILES_TOKEN = re.compile(r"\[[^\]]+\]|Br|Cl|%\d{2}|[BCNOPSFIbcnops]|[()=#\-+\\/:~@?>*$.]|\d|.")
SELFIES_TOKEN = re.compile(r"\[[^\]]*\]|\.|.")


def smiles_tokens(text):
    """A SMILES string's tokens: "CC(Cl)c1cc[nH]c1" -> C C ( Cl ) c 1 c c [nH] c 1."""
    return SMILES_TOKEN.findall(text)


def selfies_tokens(text):
    """A SELFIES string's tokens: "[C][=O].[Na]" -> [C] [=O] . [Na]."""
    return SELFIES_TOKEN.findall(text)


@contextmanager
def rdkit_conventions():
    """Inside: RDKit's parse warnings off, and SELFIES held to the valences RDKit accepts; both restored afterwards.

    RDKit prints a warning for every string it cannot parse: here a bad SMILES is counted and reported instead
    (``rdBase.LogStatus`` lists the levels that were on, "rdApp.warning:enabled", to switch them on again).

    SELFIES guarantees a valid molecule only under its own table of valences, which has an entry for the common
    organic atoms and allows up to 8 bonds for any other atom: a decoded [As] with 6 bonds, or a [Cl+3] with 6, is
    a SELFIES molecule that RDKit rejects. Inside, every atom without an entry (element and charge) gets the
    largest valence RDKit allows it (As 5, Si 4, Cl+3 4, ...), so that SELFIES strings decode to molecules RDKit
    reads; metals, which RDKit does not restrict, keep the default.
    """
    import selfies
    from rdkit import rdBase

    status = dict(line.split(":") for line in rdBase.LogStatus().splitlines() if ":" in line)
    rdBase.DisableLog("rdApp.*")
    before = selfies.get_semantic_constraints()
    selfies.set_semantic_constraints({**_rdkit_valences(), **before})
    try:
        yield
    finally:
        selfies.set_semantic_constraints(before)
        for level, state in status.items():
            if state == "enabled":
                rdBase.EnableLog(level)


@lru_cache(maxsize=1)
def _rdkit_valences():
    """{SELFIES atom ("As", "Cl+3", ...): the most bonds RDKit accepts on it}, for every element and charge from -3
    to +3 that RDKit restricts, read from RDKit itself: the largest n for which "[AsH<n>]" (or "[ClH<n>+3]")
    parses. Atoms RDKit accepts with any number of bonds (metals) and those with none (noble gases) are left out."""
    from rdkit import Chem

    table, valences = Chem.GetPeriodicTable(), {}
    for number in range(1, 119):
        symbol = table.GetElementSymbol(number)
        for charge in range(-3, 4):
            sign = "" if charge == 0 else f"{'+' if charge > 0 else '-'}{abs(charge)}"
            accepted = [n for n in range(9) if Chem.MolFromSmiles(f"[{symbol}H{n}{sign}]") is not None]
            if accepted and 0 < max(accepted) < 8 and accepted == list(range(max(accepted) + 1)):
                valences[symbol + ("" if charge == 0 else f"{charge:+d}")] = max(accepted)
    return valences


def nci_path():
    """The path of RDKit's ``Data/NCI/first_5K.smi``, or FileNotFoundError when this RDKit install lacks it."""
    require("molecules", "the bundled molecules")
    from rdkit import RDConfig

    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    if not path.is_file():
        raise FileNotFoundError(f"RDKit's molecule file {path} is missing from its install: reinstall rdkit "
                                "(pip install --force-reinstall rdkit) or give your own file with --smiles FILE")
    return path


def read_smiles_file(path):
    """[(line number, SMILES)] of a ``.smi`` file (first field of each line) or a ``.csv`` file (its smiles column).

    Empty lines are skipped. A .smi file may begin with a header line whose first field is "smiles"; a CSV file
    needs a header row with a column named smiles (any case), or a single column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no molecule file {path}: give a .smi file (one SMILES per line) or a .csv file "
                                "with a smiles column")
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text: a SMILES file is plain text (re-save it as UTF-8)") from None
    if path.suffix.lower() == ".csv":
        return _smiles_column(path, text)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if fields and not (not records and number == 1 and fields[0].lower() == "smiles"):
            records.append((number, fields[0]))
    return records


def _smiles_column(path, text):
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    if "smiles" in header:
        column = header.index("smiles")
    elif len(header) == 1:
        column = 0
    else:
        raise ValueError(f"{path} has no column named smiles (its columns: {', '.join(rows[0])}); name the column "
                         "of SMILES strings 'smiles'")
    start = 1 if header[column] == "smiles" else 0
    return [(number, row[column].strip()) for number, row in enumerate(rows[start:], start=start + 1)
            if len(row) > column and row[column].strip()]


def molecule_strings(source="molecules", representation="selfies", max_length=MOLECULE_MAX_LENGTH,
                     invalid="skip"):
    """The molecules of a dataset as strings of ``representation``, and the one-line report of what was left out.

    source : "molecules" (RDKit's NCI first 5K) or the path of a .smi or .csv file
    representation : "smiles" (canonical SMILES) or "selfies"
    max_length : the longest molecule in tokens, <bos> and <eos> included, in both representations
    invalid : "skip" (count, report and leave out SMILES RDKit cannot parse) or "refuse" (a ValueError instead)

    Returns (strings, name, report): the strings in the order of the file.
    """
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
    if invalid not in ("skip", "refuse"):
        raise ValueError(f"invalid must be 'skip' or 'refuse', got {invalid!r}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ValueError(f"max_length counts <bos> and <eos> and must be an integer >= 3, got {max_length!r}")
    require("molecules", "molecules")
    path = nci_path() if source in MOLECULE_CORPORA else Path(source)
    name = "molecules" if source in MOLECULE_CORPORA else str(source)
    if not path.is_file():
        raise FileNotFoundError(f"no molecule file {path}: give a .smi file (one SMILES per line) or a .csv file "
                                "with a smiles column")
    stat = path.stat()
    n_records, bad, n_twice, n_no_selfies, pairs = _parsed(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    fits = [(s, w) for s, w in pairs if max(len(smiles_tokens(s)), len(selfies_tokens(w))) + 2 <= max_length]
    n_long = len(pairs) - len(fits)
    kept = [s if representation == "smiles" else w for s, w in fits]
    if bad and invalid == "refuse":
        raise ValueError(f"{name}: {_invalid_lines(bad)}; fix them, or leave them out with --invalid skip")
    report = (f"{name}: {len(kept)} of {n_records} molecules kept as {representation}; "
              f"{_invalid_lines(bad) if bad else 'every SMILES parsed'}, {n_twice} duplicates, "
              f"{n_no_selfies} SELFIES cannot write, {n_long} longer than {max_length} tokens left out")
    if not kept:
        raise ValueError(f"no molecule left to train on: {report}")
    return kept, name, report


_PARSED = {}  # (path, mtime_ns, size) -> what _parsed found in that file; parsing thousands of molecules takes seconds
_CANONICAL = {}  # (representation, a string that _parsed wrote) -> its canonical SMILES


def canonical_of(strings, representation):
    """The canonical SMILES of strings this module wrote (a dataset's own molecules), looked up instead of parsed
    again; None for a string it did not write (``minivae.apps.molecules.canonical_smiles`` reads any string)."""
    return [_CANONICAL.get((representation, s)) for s in strings]


def _parsed(path, mtime_ns, size):
    """(number of SMILES, invalid line numbers, duplicates, molecules SELFIES cannot write, [(canonical SMILES,
    SELFIES)]) of a file; remembered for the file as it is (its path, time and size)."""
    key = (path, mtime_ns, size)
    if key not in _PARSED:
        _PARSED[key] = _parse_file(path)
        for smiles, written in _PARSED[key][4]:
            _CANONICAL["smiles", smiles] = _CANONICAL["selfies", written] = smiles
    return _PARSED[key]


def _parse_file(path):
    import selfies
    from rdkit import Chem

    records = read_smiles_file(path)
    bad, seen, pairs = [], set(), []
    n_twice = n_no_selfies = 0
    with rdkit_conventions():
        for number, smiles in records:
            mol = Chem.MolFromSmiles(smiles)
            if mol is None or mol.GetNumAtoms() == 0:
                bad.append(number)
                continue
            canonical = Chem.MolToSmiles(mol)
            if canonical in seen:
                n_twice += 1
                continue
            seen.add(canonical)
            try:
                pairs.append((canonical, selfies.encoder(canonical)))
            except selfies.EncoderError:
                n_no_selfies += 1
    return len(records), tuple(bad), n_twice, n_no_selfies, tuple(pairs)


def _invalid_lines(lines):
    """'3 SMILES RDKit cannot parse (lines 4, 9, 12)', naming the first SHOWN_LINES line numbers."""
    shown = ", ".join(map(str, lines[:SHOWN_LINES])) + (", ..." if len(lines) > SHOWN_LINES else "")
    return f"{len(lines)} SMILES RDKit cannot parse (line{'s' * (len(lines) > 1)} {shown})"
