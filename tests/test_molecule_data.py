"""Molecules as token strings: the SMILES and SELFIES tokenizers, reading .smi and CSV files, the bundled NCI set,
and what is reported about SMILES RDKit cannot parse (minivae.datasets.molecules)."""
import sys

import numpy as np
import pytest

from minivae.datasets.molecules import (MOLECULE_MAX_LENGTH, molecule_strings, read_smiles_file, selfies_tokens,
                                        smiles_tokens)
from minivae.datasets.text import Vocabulary
from minivae.extras import MissingExtraError, require

chem = pytest.importorskip("rdkit.Chem")
selfies = pytest.importorskip("selfies")


@pytest.mark.parametrize("smiles, tokens", [
    ("CCO", ["C", "C", "O"]),
    ("ClC(Br)c1cc[nH]c1", ["Cl", "C", "(", "Br", ")", "c", "1", "c", "c", "[nH]", "c", "1"]),
    ("C[C@@H](N)C(=O)[O-].[Na+]", ["C", "[C@@H]", "(", "N", ")", "C", "(", "=", "O", ")", "[O-]", ".", "[Na+]"]),
    ("C%12CC%12", ["C", "%12", "C", "C", "%12"]),
    ("N#Cc1ccccc1/C=C\\C", ["N", "#", "C", "c", "1", "c", "c", "c", "c", "c", "1", "/", "C", "=", "C", "\\", "C"]),
])
def test_smiles_tokens_keep_atoms_whole(smiles, tokens):
    assert smiles_tokens(smiles) == tokens
    assert "".join(smiles_tokens(smiles)) == smiles


def test_selfies_tokens_are_the_bracketed_symbols():
    text = selfies.encoder("Oc1ccccc1.[Na+]")
    assert selfies_tokens(text) == list(selfies.split_selfies(text))
    assert selfies_tokens("[C][=O]") == ["[C]", "[=O]"]


def test_every_nci_molecule_is_its_tokens_joined():
    strings, _, _ = molecule_strings("molecules", "smiles")
    for s in strings:
        assert "".join(smiles_tokens(s)) == s
    vocab = Vocabulary.build(strings, level="smiles")
    assert "Cl" in vocab.tokens and "Br" in vocab.tokens and "[nH]" in vocab.tokens
    assert "l" not in vocab.tokens and "r" not in vocab.tokens  # no stray halves of two-letter atoms


@pytest.fixture(scope="module")
def nci():
    return {rep: molecule_strings("molecules", rep) for rep in ("smiles", "selfies")}


def test_the_bundled_molecules_are_canonical_and_both_representations_keep_the_same(nci):
    smiles, name, report = nci["smiles"]
    written, _, _ = nci["selfies"]
    assert name == "molecules" and len(smiles) == len(written) > 4800
    assert len(set(smiles)) == len(smiles)  # duplicates kept once
    for s, w in zip(smiles[::97], written[::97]):
        assert chem.MolToSmiles(chem.MolFromSmiles(s)) == s  # canonical
        assert chem.MolToSmiles(chem.MolFromSmiles(selfies.decoder(w))) == s  # the same molecule, in SELFIES
    assert "8 SMILES RDKit cannot parse (lines 2098, 2898, 3227, 3370, 4509, ...)" in report
    assert "99 duplicates" in report


def test_molecules_longer_than_max_length_are_left_out_not_cut():
    strings, _, report = molecule_strings("molecules", "smiles", max_length=20)
    assert all(len(smiles_tokens(s)) + 2 <= 20 for s in strings)
    assert all(chem.MolFromSmiles(s) is not None for s in strings)  # whole molecules, none cut in two
    assert "longer than 20 tokens left out" in report and MOLECULE_MAX_LENGTH == 120


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_smi_file_with_names_a_header_and_bad_lines(tmp_path):
    path = write(tmp_path, "mine.smi", "smiles name\nCCO ethanol\n\nC1CC broken\nc1ccccc1 benzene\nOCC again\nXyz\n")
    assert read_smiles_file(path) == [(2, "CCO"), (4, "C1CC"), (5, "c1ccccc1"), (6, "OCC"), (7, "Xyz")]
    strings, name, report = molecule_strings(path, "smiles")
    assert strings == ["CCO", "c1ccccc1"]
    assert "2 SMILES RDKit cannot parse (lines 4, 7)" in report and "1 duplicates" in report
    with pytest.raises(ValueError, match=r"2 SMILES RDKit cannot parse \(lines 4, 7\).*--invalid skip"):
        molecule_strings(path, "smiles", invalid="refuse")


def test_a_csv_file_reads_its_smiles_column(tmp_path):
    path = write(tmp_path, "mine.csv", "id,SMILES,activity\n1,CCO,0.5\n2,c1ccccc1O,0.7\n3,,0.1\n")
    assert read_smiles_file(path) == [(2, "CCO"), (3, "c1ccccc1O")]
    assert molecule_strings(path, "selfies")[0] == [selfies.encoder("CCO"), selfies.encoder("Oc1ccccc1")]
    with pytest.raises(ValueError, match="no column named smiles.*id, structure"):
        read_smiles_file(write(tmp_path, "other.csv", "id,structure\n1,CCO\n"))


@pytest.mark.parametrize("text, message", [("C1CC\nXX\n", "no molecule left"), ("", "no molecule left")])
def test_a_file_without_a_molecule_is_refused(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        molecule_strings(write(tmp_path, "none.smi", text), "smiles")


def test_missing_files_and_bad_options_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no molecule file"):
        molecule_strings(tmp_path / "absent.smi", "smiles")
    with pytest.raises(ValueError, match="representation must be one of"):
        molecule_strings("molecules", "inchi")
    with pytest.raises(ValueError, match="not UTF-8"):
        (tmp_path / "latin.smi").write_bytes(b"CCO caf\xe9\n")
        molecule_strings(tmp_path / "latin.smi", "smiles")


def test_without_the_extra_the_error_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdkit", None)  # as if not installed: importing it raises ModuleNotFoundError
    with pytest.raises(MissingExtraError, match=r"needs rdkit, which is not installed here: pip install "
                                                r"'minivae\[molecules\]'"):
        molecule_strings("molecules", "selfies")
    with pytest.raises(ValueError, match="no extra"):
        require("chemistry")


def test_text_dataset_of_molecules_is_a_split_of_token_ids():
    from minivae.datasets.corpus import text_dataset

    data = {rep: text_dataset("molecules", level=rep) for rep in ("smiles", "selfies")}
    for rep, d in data.items():
        assert d.encoder.level == rep and d.x_train.dtype == np.int64
        assert len(d.x_train) + len(d.x_test) > 4800 and len(d.x_test) == round(0.1 * (len(d.x_train) +
                                                                                        len(d.x_test)))
    # the same molecules in the same parts, whatever the representation
    smiles_test = data["smiles"].encoder.decode(data["smiles"].x_test)
    selfies_test = [chem.MolToSmiles(chem.MolFromSmiles(selfies.decoder(s)))
                    for s in data["selfies"].encoder.decode(data["selfies"].x_test)]
    assert smiles_test == selfies_test
    with pytest.raises(ValueError, match="are molecules"):
        text_dataset("molecules", level="char")


def test_selfies_decode_to_molecules_rdkit_reads_under_its_valences():
    from minivae.apps.molecules import to_molecule
    from minivae.datasets.molecules import rdkit_conventions

    arsenic = "[N][C][=C][C][=C][Branch1][=Branch2][As][=Branch1][C][=O][=Branch1][C][=O][O][C][=C][Ring1][#Branch2]"
    before = selfies.get_semantic_constraints()
    assert chem.MolFromSmiles(selfies.decoder(arsenic)) is None  # SELFIES' own table: As with 6 bonds, RDKit refuses
    with rdkit_conventions():
        assert chem.MolFromSmiles(selfies.decoder(arsenic)) is not None  # As held to RDKit's 5
        assert selfies.get_semantic_constraints()["As"] == 5 and selfies.get_semantic_constraints()["C"] == 4
    assert selfies.get_semantic_constraints() == before  # restored
    assert to_molecule(arsenic, "selfies") is not None


def test_random_selfies_strings_are_molecules_and_random_smiles_are_not():
    """Krenn et al.'s claim, checked: strings of random tokens from the vocabulary of the NCI molecules."""
    from minivae.apps.molecules import validity

    rng = np.random.default_rng(0)
    for representation, expected in (("selfies", (1.0, 1.0)), ("smiles", (0.0, 0.05))):
        strings, _, _ = molecule_strings("molecules", representation)
        vocab = Vocabulary.build(strings, level=representation)
        tokens = vocab.tokens[4:]
        texts = ["".join(rng.choice(tokens, size=rng.integers(5, 40))) for _ in range(2000)]
        low, high = expected
        assert low <= validity(texts, representation) <= high, representation
