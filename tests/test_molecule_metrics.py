"""The metrics of generated molecules against hand-counted fractions and RDKit's own similarity, the exact
Wasserstein distance against hand cases and an independent formula, and the two molecule figures."""
import doctest
import json
import math
import sys

import numpy as np
import pytest

pytest.importorskip("rdkit")
selfies = pytest.importorskip("selfies")

from rdkit import DataStructs, rdBase  # noqa: E402
from rdkit.Chem import rdFingerprintGenerator  # noqa: E402

import minivae.apps.molecules as molecules  # noqa: E402
from minivae.apps.molecules import (MOSES_VAE, PROPERTIES, REPRESENTATIONS, canonical_smiles,  # noqa: E402
                                    internal_diversity, metrics_table, molecule_metrics, novelty, property_values,
                                    to_molecule, uniqueness, validity, wasserstein_1d)
from minivae.extras import MissingExtraError  # noqa: E402
from minivae.plots.molecules import molecule_grid, property_histograms  # noqa: E402

BENZENE_SELFIES = "[C][=C][C][=C][C][=C][Ring1][=Branch1]"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _fingerprint(smiles, radius=2, n_bits=2048):
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    return generator.GetFingerprint(to_molecule(smiles, "smiles"))


# ------------------------------------------------------------------------------------------------ reading strings
@pytest.mark.parametrize("text, valid", [("c1ccccc1", True), ("CCO", True), ("C1CC", False), ("", False),
                                         ("c1cccc1", False), ("C(C)(C)(C)(C)C", False), ("CC(", False),
                                         ("CCO CCN", False), (" CCO", False), ("CCO\n", False)])
def test_smiles_validity_one_string_at_a_time(text, valid):
    # c1cccc1 cannot be kekulized, C(C)(C)(C)(C)C has a carbon with five bonds: they parse but fail sanitization;
    # RDKit alone would read "CCO CCN" as ethanol (named "CCN") and strip the spaces of " CCO"
    assert (to_molecule(text, "smiles") is not None) is valid


def test_validity_is_the_fraction_of_valid_strings():
    assert validity(["c1ccccc1", "C1CC", ""], "smiles") == pytest.approx(1 / 3)
    assert validity(["CCO", "CCN", "CCC", "C1CC"], "smiles") == 0.75


def test_selfies_decode_to_the_same_molecules_and_bad_selfies_are_none():
    assert canonical_smiles(BENZENE_SELFIES, "selfies") == canonical_smiles("c1ccccc1", "smiles") == "c1ccccc1"
    assert canonical_smiles(selfies.encoder("CC(=O)O"), "selfies") == "CC(=O)O"
    for bad in ["[C][Xyz]", "[C", "", "abc", "[C] [O]"]:  # unknown symbol, hanging bracket, nothing, no symbol
        assert to_molecule(bad, "selfies") is None
    assert validity([BENZENE_SELFIES, "[C][Xyz]"], "selfies") == 0.5


def test_a_string_means_what_its_representation_says():
    assert canonical_smiles("[C]", "smiles") == "[C]"  # a bare carbon atom, no hydrogens
    assert canonical_smiles("[C]", "selfies") == "C"  # methane


def test_never_raises_on_garbage_and_rdkit_stays_quiet(capfd):
    rng = np.random.default_rng(0)
    alphabet = list("CNOcn()[]=#123%@+-/\\.* ") + ["Cl", "[Ring1]", "[Branch1]", "[=C]", "[C", "\x00", "é"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet, size=rng.integers(0, 15)))
        for representation in REPRESENTATIONS:
            mol = to_molecule(text, representation)
            assert mol is None or mol.GetNumAtoms() > 0
    assert "Parse Error" not in capfd.readouterr().err  # RDKit's parse warnings are silenced


@pytest.mark.parametrize("enabled", [("rdApp.warning", "rdApp.error"), ("rdApp.error",), ()])
def test_rdkits_logging_is_back_as_it_was_after_each_call(enabled):
    """One call at a time: a restore that inverted the levels would come back to the start after an even number."""
    start = [line.split(":") for line in rdBase.LogStatus().splitlines()]
    rdBase.DisableLog("rdApp.*")
    for level in enabled:
        rdBase.EnableLog(level)
    try:
        before = rdBase.LogStatus()
        assert to_molecule("C1CC", "smiles") is None
        assert rdBase.LogStatus() == before
    finally:
        for level, state in start:
            (rdBase.EnableLog if state == "enabled" else rdBase.DisableLog)(level)


def test_canonical_forms_make_spellings_of_one_molecule_equal():
    assert canonical_smiles("OCC", "smiles") == canonical_smiles("CCO", "smiles") == "CCO"
    assert canonical_smiles("C1CC", "smiles") is None


# ------------------------------------------------------------------------------------------------ fractions
def test_uniqueness_and_novelty_on_hand_counted_lists():
    samples = ["CCO", "OCC", "c1ccccc1", "C1CC", "CCN"]  # valid: ethanol twice, benzene, ethylamine
    assert uniqueness(samples, "smiles") == pytest.approx(3 / 4)
    # the training set is canonicalized too (OCC is ethanol) and its invalid entries are ignored
    assert novelty(samples, "smiles", train_smiles=["OCC", "C1CC"]) == pytest.approx(2 / 3)
    assert novelty(samples, "smiles", train_smiles=["CCO", "CCN", "c1ccccc1"]) == 0.0
    assert uniqueness(["C1CC", ""], "smiles") is None and novelty(["C1CC"], "smiles", ["CCO"]) is None


# ------------------------------------------------------------------------------------------------ diversity
def test_identical_molecules_have_no_diversity():
    assert internal_diversity(["CCO", "OCC", "CCO"]) == 0.0


def test_diversity_of_a_pair_is_one_minus_rdkits_tanimoto():
    expected = 1 - DataStructs.TanimotoSimilarity(_fingerprint("c1ccccc1O"), _fingerprint("c1ccccc1N"))
    assert 0 < expected < 1
    assert internal_diversity(["c1ccccc1O", "c1ccccc1N"]) == pytest.approx(expected, abs=1e-12)


def test_diversity_averages_distinct_pairs_and_relates_to_moses_intdiv():
    smiles = ["c1ccccc1O", "c1ccccc1N", "CCCCO", "CC(=O)Oc1ccccc1C(=O)O"]
    fps = [_fingerprint(s) for s in smiles]
    n = len(fps)
    similarity = np.array([[DataStructs.TanimotoSimilarity(a, b) for b in fps] for a in fps])  # (n, n), 1 on diag
    ours = internal_diversity(smiles)
    pairs = similarity[np.triu_indices(n, k=1)]
    assert ours == pytest.approx(1 - pairs.mean(), abs=1e-12)
    moses_intdiv1 = 1 - similarity.mean()  # all n^2 ordered pairs, self-pairs included
    assert moses_intdiv1 == pytest.approx((n - 1) / n * ours, abs=1e-12)


def test_diversity_options_and_its_refusals():
    smiles = ["c1ccccc1O", "c1ccccc1N", "CCCCO", "CCCCN", "CC(=O)O"]
    short = internal_diversity(smiles, radius=1, n_bits=64)
    assert short != internal_diversity(smiles) and 0 <= short <= 1
    rng = np.random.default_rng(3)
    chosen = np.sort(np.random.default_rng(3).choice(len(smiles), size=3, replace=False))
    assert internal_diversity(smiles, max_molecules=3, rng=rng) == internal_diversity([smiles[i] for i in chosen])
    assert internal_diversity(["CCO"]) is None  # no pair
    with pytest.raises(ValueError, match=r"smiles\[1\] = 'C1CC' is not a valid molecule"):
        internal_diversity(["CCO", "C1CC"])
    with pytest.raises(ValueError, match="radius must be a positive integer"):
        internal_diversity(smiles, radius=0)


# ------------------------------------------------------------------------------------------------ Wasserstein
def _w1_by_cdfs(a, b):
    """An independent formula: integral |F_a(x) - F_b(x)| dx over the merged sorted values (the CDFs' steps)."""
    a, b = np.sort(a), np.sort(b)
    x = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(a, x[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, x[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(x)))


def test_wasserstein_on_hand_computed_cases():
    assert wasserstein_1d([0.0], [1.0]) == 1.0
    assert wasserstein_1d([0.0, 1.0], [0.0]) == 0.5  # half the mass moves by 1
    assert wasserstein_1d([0.0, 1.0, 2.0], [0.0, 2.0]) == pytest.approx(1 / 3)  # 1/6 + 1/6, worked in the docstring
    assert wasserstein_1d([3.0, 1.0, 2.0], [1.0, 2.0, 3.0]) == 0.0  # the order of a sample does not matter
    a = np.random.default_rng(0).normal(size=7)
    assert wasserstein_1d(a, a + 2.5) == pytest.approx(2.5)  # a shift moves every unit of mass by 2.5


def test_wasserstein_equals_the_cdf_formula_for_unequal_sizes():
    rng = np.random.default_rng(1)
    for n, m in [(1, 5), (3, 7), (10, 4), (12, 18), (50, 33)]:
        a, b = rng.normal(size=n), rng.exponential(size=m)
        assert wasserstein_1d(a, b) == pytest.approx(_w1_by_cdfs(a, b), abs=1e-12)
        assert wasserstein_1d(a, b) == pytest.approx(wasserstein_1d(b, a), abs=1e-12)
    ties = np.array([1.0, 1.0, 2.0, 2.0, 2.0])
    assert wasserstein_1d(ties, [1.0, 2.0]) == pytest.approx(_w1_by_cdfs(ties, np.array([1.0, 2.0])))


def test_wasserstein_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=37), rng.normal(1.0, 2.0, size=23)
    assert wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), abs=1e-12)


@pytest.mark.parametrize("a", [[], [np.nan, 1.0], [[1.0, 2.0]]])
def test_wasserstein_refuses_empty_nan_and_2d_samples(a):
    with pytest.raises(ValueError, match="non-empty 1-D array of finite numbers"):
        wasserstein_1d(a, [1.0])


# ------------------------------------------------------------------------------------------------ properties
def test_the_properties_of_ethanol():
    values = property_values(["CCO", "C1CC"])  # the invalid one is skipped
    assert {k: v.shape for k, v in values.items()} == {"qed": (1,), "logp": (1,), "mw": (1,)}
    assert values["mw"][0] == pytest.approx(46.07, abs=0.005)  # 2 C + 6 H + 1 O, g/mol
    assert values["logp"][0] == pytest.approx(-0.0014, abs=1e-4)  # Crippen's atom contributions
    assert 0 < values["qed"][0] < 1
    assert "g/mol" in PROPERTIES["mw"][0]


# ------------------------------------------------------------------------------------------------ the summary
SAMPLES = ["CCO", "OCC", "C1CC", "c1ccccc1"]
TRAIN = ["OCC", "NCC", "C1CC"]  # ethanol and ethylamine spelled other ways, and no molecule


def test_molecule_metrics_counts_and_compares():
    m = molecule_metrics(SAMPLES, "smiles", TRAIN)
    assert json.loads(json.dumps(m)) == m  # plain JSON types only
    assert (m["n_samples"], m["n_valid"], m["n_unique"], m["n_novel"], m["n_train"], m["n_data"]) == (4, 3, 2, 1, 2, 2)
    assert (m["validity"], m["uniqueness"], m["novelty"]) == (0.75, pytest.approx(2 / 3), 0.5)
    assert m["valid_smiles"] == ["CCO", "CCO", "c1ccccc1"]  # canonical, in sample order, duplicates kept
    assert m["internal_diversity"] == internal_diversity(["CCO", "c1ccccc1"])  # of the distinct ones
    weights, data_weights = property_values(m["valid_smiles"])["mw"], property_values(TRAIN)["mw"]
    mw = m["properties"]["mw"]
    assert mw["sample_mean"] == pytest.approx(weights.mean()) and mw["data_mean"] == pytest.approx(data_weights.mean())
    assert mw["sample_std"] == pytest.approx(weights.std()) and mw["data_std"] == pytest.approx(data_weights.std())
    assert mw["wasserstein"] == pytest.approx(wasserstein_1d(weights, data_weights))
    other = molecule_metrics(SAMPLES, "smiles", TRAIN, data_smiles=["c1ccccc1"])  # the data: benzene alone
    assert other["n_data"] == 1 and other["properties"]["mw"]["data_mean"] == pytest.approx(78.11, abs=0.01)


def test_selfies_samples_are_read_as_selfies():
    m = molecule_metrics([BENZENE_SELFIES, "[C][C][O]", "[C][Xyz]"], "selfies", TRAIN)
    assert (m["n_valid"], m["n_novel"], m["valid_smiles"]) == (2, 1, ["c1ccccc1", "CCO"])


def test_no_valid_sample_gives_none_not_nan_and_the_table_says_na():
    m = molecule_metrics(["C1CC", ""], "smiles", TRAIN)
    assert m["validity"] == 0.0 and m["valid_smiles"] == []
    assert m["uniqueness"] is None and m["novelty"] is None and m["internal_diversity"] is None
    for p in m["properties"].values():
        assert p["sample_mean"] is None and p["wasserstein"] is None and math.isfinite(p["data_mean"])
    json.dumps(m, allow_nan=False)
    table = metrics_table(m)
    assert "| uniqueness | n/a (0 of 0) |" in table and "| novelty | n/a (0 of 0) |" in table
    assert "nan" not in table.lower()


def test_the_tables_hold_the_numbers():
    m = molecule_metrics(SAMPLES, "smiles", TRAIN)
    table = metrics_table(m)
    for row in ["| validity | 0.75 (3 of 4) |", "| uniqueness | 0.6667 (2 of 3) |", "| novelty | 0.5 (1 of 2) |"]:
        assert row in table
    mw = m["properties"]["mw"]
    assert f"| molecular weight (g/mol) | {mw['data_mean']:.4g} ± {mw['data_std']:.4g} |" in table
    assert f"{mw['wasserstein']:.4g} |" in table and "data mean ± std (n = 2)" in table
    with_anchors = metrics_table(m, anchors=MOSES_VAE)
    assert "| metric | value | published | what it means |" in with_anchors
    assert "| validity | 0.75 (3 of 4) | 0.9767 |" in with_anchors
    assert "| internal diversity |" in with_anchors and "| n/a |" in with_anchors  # no published figure given
    with pytest.raises(ValueError, match="unknown metrics \\['unique@10k'\\]"):
        metrics_table(m, anchors={"unique@10k": 0.998})


# ------------------------------------------------------------------------------------------------ bad inputs
def test_bad_inputs_say_what_was_wrong():
    with pytest.raises(TypeError, match=r"samples\[1\] is a int"):
        molecule_metrics(["CCO", 7], "smiles", TRAIN)
    with pytest.raises(TypeError, match=r"strings\[0\] is a NoneType"):
        validity([None], "smiles")
    with pytest.raises(TypeError, match="got one str; wrap it in a list"):
        validity("CCO", "smiles")
    with pytest.raises(ValueError, match=r"representation must be one of \('smiles', 'selfies'\), got 'inchi'"):
        validity(["CCO"], "inchi")
    with pytest.raises(ValueError, match=r"representation must be one of"):
        to_molecule("CCO", "SMILES")
    with pytest.raises(ValueError, match="samples is empty"):
        molecule_metrics([], "smiles", TRAIN)
    with pytest.raises(ValueError, match="train_smiles is empty"):
        molecule_metrics(["CCO"], "smiles", [])
    with pytest.raises(ValueError, match="data_smiles holds no valid molecule"):
        molecule_metrics(["CCO"], "smiles", TRAIN, data_smiles=["C1CC"])
    with pytest.raises(TypeError, match="text must be a str"):
        to_molecule(b"CCO", "smiles")


@pytest.mark.parametrize("missing", ["rdkit", "selfies"])
def test_without_the_extra_the_message_says_what_to_install(monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # "import rdkit" now fails as if it were not installed
    with pytest.raises(MissingExtraError, match=rf"needs {missing}, which is not installed here: pip install "
                                                r"'minivae\[molecules\]'"):
        to_molecule("CCO", "smiles")


def test_the_docstring_examples_run():
    result = doctest.testmod(molecules, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0


# ------------------------------------------------------------------------------------------------ figures
def test_property_histograms_draw_three_panels_and_save_a_png(tmp_path):
    data = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCCO", "c1ccccc1O"]
    fig = property_histograms(["CCO", "c1ccccc1", "C1CC"], data, tmp_path / "properties.png")
    assert len(fig.axes) == 3 and "g/mol" in fig.axes[2].get_title()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["data (n = 6)", "samples (n = 2)"]  # the invalid sample is not drawn
    assert (tmp_path / "properties.png").read_bytes()[:8] == PNG_MAGIC
    none_valid = property_histograms([], data)
    assert "samples: none valid" in [t.get_text() for t in none_valid.axes[1].get_legend().get_texts()]


def test_molecule_grid_writes_a_png_of_the_valid_molecules(tmp_path):
    from PIL import Image

    path = tmp_path / "grid.png"
    skipped = molecule_grid(["CCO", "C1CC", None, "c1ccccc1", "CC(=O)O"], path, per_row=2, size=(120, 100))
    assert skipped == 2
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (2 * 120, 2 * 100)  # 3 molecules: 2 rows of 2 cells
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # no temporary file left behind
    with pytest.raises(ValueError, match="none of the 2 entries is a valid molecule"):
        molecule_grid(["C1CC", None], tmp_path / "empty.png")
    with pytest.raises(ValueError, match="one caption per molecule"):
        molecule_grid(["CCO"], path, legends=["a", "b"])
    with pytest.raises(ValueError, match=r"name the file \*\.png"):
        molecule_grid(["CCO"], tmp_path / "grid.jpg")
    with pytest.raises(TypeError, match=r"smiles\[1\] is a int"):
        molecule_grid(["CCO", 3], path)
