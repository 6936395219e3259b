"""Tests for minivae.teaching.gradcheck_table: the table that ``python -m minivae gradcheck`` prints."""
import numpy as np

from minivae.models import VAE, Autoencoder
from minivae.teaching.gradcheck_table import LIKELIHOODS, gradcheck_table


def test_every_row_passes_and_every_parameter_has_a_row():
    rows = gradcheck_table(seed=0)
    assert all(isinstance(what, str) and isinstance(param, str) and np.isfinite(err) for what, param, err in rows)
    assert max(err for _, _, err in rows) < 1e-6  # correct gradients agree to about 1e-8 in float64
    checked = {}
    for what, param, _ in rows:
        checked.setdefault(what, set()).add(param)
    assert checked["Linear(6, 5)"] == {"x", "W", "b"} and checked["ReLU"] == {"x"}
    for likelihood in LIKELIHOODS:
        vae = VAE(8, 3, (6,), likelihood=likelihood, dtype=np.float64)
        assert checked[f"VAE 8-6-3 ({likelihood})"] == set(vae.params)  # every parameter of the model
    assert checked["Autoencoder 8-6-3"] == set(Autoencoder(8, 3, (6,), dtype=np.float64).params)
    assert {"LeakyReLU", "Tanh", "Sigmoid", "Softplus", "MLP(6-5-3, tanh)"} <= set(checked)


def test_the_table_is_reproducible_from_its_seed():
    assert gradcheck_table(seed=1) == gradcheck_table(seed=1)
    assert gradcheck_table(seed=1) != gradcheck_table(seed=2)
