"""Tests for minivae.cli.options (the type= of the numeric options) and the memory estimate of
minivae.validation: the bounds are exact, argparse turns a refusal into exit status 2 and one error line, and the
estimate counts the parameters a VAE really has."""
import argparse

import pytest

from minivae import VAE
from minivae.cli import options
from minivae.validation import (MEMORY_LIMIT_BYTES, check_training_memory, format_bytes,
                                training_memory_bytes)


@pytest.mark.parametrize("parse, good, bad", [
    (options.nonnegative_int, ["0", "7", "10_000"], ["-1", "1.5", "1e3", "", "many"]),
    (options.positive_int, ["1", "128"], ["0", "-5"]),
    (options.integer(2, 100), ["2", "100"], ["1", "101"]),
    (options.positive_float, ["1e-3", "3"], ["0", "-1e-3", "nan", "inf", "x"]),
    (options.nonnegative_float, ["0", "0.5", "1e9"], ["-0.1", "nan", "-inf"]),
    (options.fraction, ["0", "0.999"], ["1", "-0.01"]),
    (options.probability, ["0", "1"], ["1.01", "-1"]),
    (options.real(above=0, maximum=1), ["1", "1e-9"], ["0", "1.5"]),
])
def test_each_helper_takes_its_range_and_refuses_the_rest(parse, good, bad):
    for text in good:
        parse(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=f"expected .*, got {text!r}"):
            parse(text)


@pytest.mark.parametrize("parse, bad, valid", [
    (options.nonnegative_int, "-1", "an integer >= 0"), (options.integer(1, 9), "10", "an integer from 1 to 9"),
    (options.integer(maximum=3), "4", "an integer <= 3"), (options.positive_float, "0", "a number > 0"),
    (options.fraction, "1", "a number in [0, 1)"), (options.probability, "2", "a number in [0, 1]"),
    (options.real(below=5), "5", "a number < 5"), (options.real(), "nan", "a finite number"),
])
def test_the_message_names_the_range_and_the_value(parse, bad, valid):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        parse(bad)
    assert str(err.value) == f"expected {valid}, got {bad!r}"


def test_argparse_exits_with_2_and_names_the_option(capsys):
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--epochs", type=options.nonnegative_int)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--epochs", "-1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "p: error: argument --epochs: expected an integer >= 0, got '-1'"


def test_sizes_shapes_and_labels():
    assert options.hidden_sizes("512") == (512,) and options.hidden_sizes("400, 200") == (400, 200)
    assert options.hidden_sizes("") == ()  # no hidden layer: a linear encoder and decoder
    assert options.image_shape("8,8") == (8, 8) and options.image_shape("28x28") == (28, 28)
    assert options.class_labels("2,3") == [2, 3] and options.latent_size("20") == 20
    for parse, text in ((options.image_shape, "8,8,1"), (options.image_shape, "8,-8"), (options.hidden_sizes, "a")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_model_sizes_too_large_for_memory_are_refused_with_the_estimate():
    with pytest.raises(argparse.ArgumentTypeError, match=r"hidden sizes 1000000000 would need at least 127 GiB .* "
                                                         r"more than the limit of 8 GiB"):
        options.hidden_sizes("1000000000")
    assert options.hidden_sizes("100000") == (100_000,)  # fine for small data; the full check knows D
    with pytest.raises(ValueError, match=r"784 inputs, hidden sizes 100000 and 2 latent .* about 2.6 GiB"):
        check_training_memory(784, (100_000,), 2, limit=2**30)


@pytest.mark.parametrize("d, hidden, latent, likelihood, out", [
    (784, (512,), 2, "bernoulli", 784), (784, (400, 200), 20, "bernoulli", 784), (10, (), 3, "gaussian", 10),
    (64, (32, 16), 4, "gaussian_learned", 128),
])
def test_the_estimate_counts_the_parameters_a_vae_has(d, hidden, latent, likelihood, out):
    vae = VAE(d, latent_dim=latent, hidden=hidden, likelihood=likelihood)
    parameters = sum(p.size for p in vae.params.values())
    activations = sum(hidden) * 2 + 2 * latent + out
    assert training_memory_bytes(d, hidden, latent, batch_size=1, output_dim=out) == 16 * parameters + 12 * activations
    check_training_memory(d, hidden, latent, output_dim=out)  # every default-sized model fits


def test_format_bytes_and_the_documented_limit():
    assert MEMORY_LIMIT_BYTES == 8 * 2**30 and format_bytes(MEMORY_LIMIT_BYTES) == "8 GiB"
    assert format_bytes(512 * 2**20) == "512 MiB" and format_bytes(9.7 * 2**30) == "9.7 GiB"
    assert format_bytes(26345 * 2**30) == "26,345 GiB"
