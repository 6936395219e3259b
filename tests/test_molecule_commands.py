"""The molecule commands end to end on a small file of real molecules: train writes samples.smi, metrics.md and the
figures; sample writes .smi; evaluate prints RDKit's metrics; optimize climbs a property; bad input gets one line."""
import numpy as np
import pytest

from minivae.cli import main

chem = pytest.importorskip("rdkit.Chem")
pytest.importorskip("selfies")

TINY = ["--model", "seq-vae", "--epochs", "2", "--hidden", "32", "--latent", "4", "--embed", "8", "--batch-size",
        "16", "--warmup", "0", "--quiet"]


@pytest.fixture(scope="module")
def smi_file(tmp_path_factory):
    """The first 120 NCI molecules of RDKit's file, as a .smi file with names, and one line RDKit cannot parse."""
    from minivae.datasets.molecules import nci_path

    lines = nci_path().read_text().splitlines()[:120]
    path = tmp_path_factory.mktemp("molecules") / "tiny.smi"
    path.write_text("\n".join(lines[:50] + ["C1CC(broken"] + lines[50:]) + "\n")
    return path


@pytest.fixture(scope="module")
def run(smi_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "mol"
    assert main(["train", *TINY, "--smiles", str(smi_file), "--out", str(out)]) is None
    return out


def test_a_molecule_run_writes_its_molecules_and_their_metrics(run, smi_file):
    figures = run / "figures"
    for name in ("samples.smi", "metrics.md", "properties.png", "molecules.png", "history.png"):
        assert (figures / name).is_file(), name
    metrics = (figures / "metrics.md").read_text()
    assert "| validity |" in metrics and "| novelty |" in metrics and "QED" in metrics
    for line in (figures / "samples.smi").read_text().splitlines():  # every line a canonical SMILES and a name
        smiles, name = line.split("\t")
        assert chem.MolToSmiles(chem.MolFromSmiles(smiles)) == smiles and name.startswith("sample_")


def test_the_invalid_line_is_reported_by_number(smi_file, tmp_path, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--smiles", str(smi_file), "--out", str(tmp_path / "a"),
                 "--no-figures"]) is None
    assert "1 SMILES RDKit cannot parse (line 51)" in capsys.readouterr().out
    assert main(["train", *TINY, "--smiles", str(smi_file), "--invalid", "refuse", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "1 SMILES RDKit cannot parse (line 51)" in err and "--invalid skip" in err and len(err.splitlines()) == 1


def test_sample_writes_valid_selfies_molecules_to_a_smi_file(run, tmp_path, capsys):
    out = tmp_path / "mine.smi"
    assert main(["sample", str(run / "checkpoint.npz"), "-n", "40", "--out", str(out)]) is None
    said = capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert f"{len(lines)} of 40 sampled strings are valid molecules" in said and len(lines) > 0
    assert out.with_suffix(".png").is_file()


def test_evaluate_prints_the_metrics_table(run, capsys):
    assert main(["evaluate", str(run / "checkpoint.npz"), "--n-samples", "30", "-k", "5"]) is None
    said = capsys.readouterr().out
    assert "NLL per token" in said and "30 molecules sampled" in said
    assert "| validity |" in said and "of 30) | 0.9767 |" in said  # the published figure beside it


def test_optimize_climbs_qed_and_writes_its_table_and_drawing(run, tmp_path, capsys):
    out = tmp_path / "design.md"
    assert main(["optimize", str(run / "checkpoint.npz"), "--property", "qed", "--from", "CCO", "--steps", "8",
                 "--predictor-epochs", "3", "--out", str(out)]) is None
    said = capsys.readouterr().out
    assert "validation R^2" in said
    table = out.read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 9  # the seed's code and 8 steps
    assert out.with_suffix(".png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--from", "C1CC(nope"], "RDKit cannot read this SMILES"),
    (["--from", "CC[Pt]CC"], "the model never saw the token(s) [CH2], [Pt]"),  # SELFIES: [CH2] beside [Pt]
])
def test_optimize_refuses_a_seed_it_cannot_start_from(run, capsys, argv, message):
    assert main(["optimize", str(run / "checkpoint.npz"), *argv, "--steps", "2"]) == 2
    assert message in capsys.readouterr().err


def test_molecule_options_that_do_not_fit_are_refused(smi_file, tmp_path, capsys):
    cases = [
        (["--model", "seq-vae", "--data", "names", "--representation", "smiles"], "apply to molecule runs only"),
        (["--model", "seq-vae", "--data", "molecules", "--level", "char"], "takes --representation"),
        (["--model", "seq-vae", "--smiles", str(smi_file), "--text", str(smi_file)], "not --text and --smiles"),
        (["--representation", "selfies"], "apply to text runs only"),
        (["--model", "seq-vae", "--smiles", str(tmp_path / "absent.smi")], "no molecule file"),
    ]
    for argv, message in cases:
        code = main(["train", *argv, "--epochs", "1", "--quiet", "--out", str(tmp_path / "x")])
        assert code in (1, 2) and message in capsys.readouterr().err, argv


def test_sample_out_must_be_smi_and_optimize_needs_a_molecule_vae(run, tmp_path, capsys):
    assert main(["sample", str(run / "checkpoint.npz"), "--out", str(tmp_path / "s.png")]) == 2
    assert "give a .smi file" in capsys.readouterr().err
    names = tmp_path / "names"
    assert main(["train", "--model", "seq-vae", "--data", "names", "--epochs", "1", "--hidden", "8", "--latent", "2",
                 "--embed", "4", "--quiet", "--no-figures", "--out", str(names)]) is None
    capsys.readouterr()
    assert main(["optimize", str(names / "checkpoint.npz"), "--from", "CCO"]) == 2
    assert "latent space of a molecule VAE" in capsys.readouterr().err


def test_without_the_extra_the_command_says_which_to_install(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "selfies", None)
    code = main(["train", "--model", "seq-vae", "--data", "molecules", "--epochs", "1", "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 1 and "pip install 'minivae[molecules]'" in err and len(err.strip().splitlines()) == 1


def test_a_seeded_molecule_sample_is_repeatable(run, tmp_path):
    a, b = tmp_path / "a.smi", tmp_path / "b.smi"
    for out in (a, b):
        assert main(["sample", str(run / "checkpoint.npz"), "-n", "20", "--seed", "3", "--out", str(out)]) is None
    assert a.read_bytes() == b.read_bytes() and np.any([line for line in a.read_text().splitlines()])
