"""Every command that reads a checkpoint serves every model kind it makes sense for, and refuses the others in one
line (exit code 2, no traceback): a table of (model kind, command) -> works, or the fragment of its refusal."""
import numpy as np
import pytest

from minivae.cli import main

KINDS = {  # model kind -> train options
    "vae": ["--model", "vae"],
    "ae": ["--model", "ae"],
    "conv": ["--model", "conv"],
    "cvae": ["--model", "cvae"],
    "table": ["--table", "{table}"],
    "seq-vae": ["--model", "seq-vae", "--embed", "4", "--batch-size", "512"],
    "seq-lm": ["--model", "seq-lm", "--embed", "4", "--batch-size", "512"],
}

NOT_IMAGES = "model is of a table, not of images"
REFUSED = {  # (kind, command) -> what the one-line refusal says; every pair not listed must work
    ("ae", "sample"): "Autoencoder has no prior to sample from",
    ("ae", "synthesize"): "Autoencoder has no prior to draw new examples from",
    ("cvae", "manifold"): "ConditionalVAE is conditional",
    ("cvae", "interpolate"): "ConditionalVAE is conditional",
    ("cvae", "traverse"): "ConditionalVAE is conditional",
    ("cvae", "impute"): "ConditionalVAE is conditional: imputation does not take labels",
    **{("table", c): NOT_IMAGES for c in ("sample", "reconstruct", "manifold", "interpolate", "traverse")},
    **{(kind, c): "model is of text" for kind in ("seq-vae", "seq-lm")
       for c in ("manifold", "traverse", "anomaly", "impute", "synthesize")},
    **{(kind, "report"): "report needs a model trained on a table" for kind in KINDS if kind != "table"},
    ("seq-lm", "reconstruct"): "a language model (SequenceLM) has none",
    ("seq-lm", "interpolate"): "a language model (SequenceLM) has none",
}
TEXT_COMMANDS = ("sample", "reconstruct", "interpolate")  # they write markdown for a text model
COMMANDS = ["evaluate", "sample", "reconstruct", "manifold", "interpolate", "traverse", "anomaly", "impute",
            "synthesize", "report"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny trained run of each kind (one epoch, 4 hidden units)."""
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    table = root / "table.csv"
    table.write_text("colour,size,count\n" + "".join(
        f"{['red', 'green', 'blue'][i % 3]},{rng.normal(5, 1):.3f},{rng.integers(0, 9)}\n" for i in range(200)))
    out = {}
    for kind, options in KINDS.items():
        folder = root / kind
        size = [] if kind == "seq-lm" else ["--latent", "2"]  # the language model has no latent variable
        argv = ["train", *[o.replace("{table}", str(table)) for o in options], "--epochs", "1", "--hidden", "4",
                *size, "--out", str(folder), "--quiet", "--no-figures"]
        assert main(argv) in (0, None), kind
        out[kind] = folder / "checkpoint.npz"
    return out


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_command_works_or_is_refused_in_one_line(runs, tmp_path, capsys, kind, command):
    suffix = {"synthesize": ".csv" if kind == "table" else ".npz", "report": ""}.get(command, ".png")
    if kind.startswith("seq-") and command in TEXT_COMMANDS:
        suffix = ".md"
    argv = [command, str(runs[kind]), "--out", str(tmp_path / f"out{suffix}")]
    if command == "evaluate":
        argv = argv[:2] + ["-k", "5"]
    if command in ("impute", "anomaly", "report"):
        argv += {"impute": ["-n", "20"], "anomaly": ["-k", "5"], "report": ["--rows", "50"]}[command]
    code = main(argv)
    captured = capsys.readouterr()
    if (kind, command) in REFUSED:
        assert code == 2, captured
        assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
        assert REFUSED[kind, command] in captured.err and "Traceback" not in captured.err
    else:
        assert code in (0, None), captured.err
        assert "error" not in captured.err and "Traceback" not in captured.err
        assert captured.out.strip(), f"{command} printed nothing"
        written = list(tmp_path.iterdir())
        if command not in ("evaluate", "anomaly") and (kind, command) != ("table", "impute"):  # these only print
            assert written, f"{command} wrote nothing"


def test_evaluate_says_what_its_numbers_are(runs, capsys):
    assert main(["evaluate", str(runs["vae"]), "-k", "5"]) in (0, None)
    out = capsys.readouterr().out
    assert "one sample of z per example" in out and "--seed 0" in out and "lower is better" in out
    assert "importance-weighted bound with K = 5" in out


def test_anomaly_warns_when_the_anomalous_class_was_trained_on(runs, tmp_path, capsys):
    assert main(["anomaly", str(runs["vae"]), "--anomalous-class", "1", "--out", str(tmp_path / "roc.png")]) in (0, None)
    out = capsys.readouterr().out
    assert "class 1 was in this model's training data" in out and "--exclude-classes 1" in out
