"""The gradient-check table: finite-difference checks of every layer and of whole models, one row per gradient.

``python -m minivae gradcheck`` prints it; a student runs it to see what a correct backward pass looks like in
numbers before writing one. Each row compares a hand-written gradient with central differences
(``minivae.nn.gradcheck``, h = 1e-6, float64) through the relative error

    rel_error(a, b) = max|a - b| / max(max|a|, max|b|)

What is checked, on tiny random inputs with a fixed seed:

* each layer w.r.t. its input x and each parameter (a random upstream gradient dout, the vector-Jacobian product
  dx = J^T dout): Linear(6, 5), ReLU, LeakyReLU(0.1), Tanh, Sigmoid, Softplus, MLP 6-5-3 with tanh; x (4, 6);
* a VAE 8-6-3 w.r.t. every parameter, once per likelihood (Bernoulli, Gaussian, Gaussian with learned variance), on
  x (5, 8) in [0, 1] with the noise eps (5, 3) frozen, so that the loss is a deterministic function of the weights;
* an Autoencoder 8-6-3 w.r.t. every parameter;
* a SequenceVAE and a SequenceLM (vocabulary 8, embedding 3, GRU 4, latent 2) w.r.t. every parameter (embedding,
  both GRUs' gates, the output layer), on three texts of lengths 4, 3 and 2 ids (padding masked; the last one is
  <bos> <eos> alone), the noise frozen and no token dropout.

A correct gradient agrees to about 1e-8 or better; a wrong one (a sign, a factor 2, a missing 1/N) is off by 1e-1
or more, so any bound in between, such as the command's default 1e-6, tells them apart. The complete coverage of
every layer, loss and likelihood is held by tests/test_gradients.py; this table is the quick look.

It lives here, not in minivae.nn, because it builds models, and the engine (minivae.nn) does not import them.

Example
-------
>>> rows = gradcheck_table(seed=0)
>>> rows[0][:2]
('Linear(6, 5)', 'x')
>>> max(err for _, _, err in rows) < 1e-6
True
"""
import numpy as np

from minivae.models import VAE, Autoencoder, SequenceLM, SequenceVAE
from minivae.nn import gradcheck, layers

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_learned")


def gradcheck_table(seed=0):
    """Rows (what, w.r.t., relative error) of finite-difference checks of every layer and of whole models.

    Parameters
    ----------
    seed : the seed of the inputs, the upstream gradients, the noise and the models' initial weights

    Returns
    -------
    list of (str, str, float): what was checked (e.g. "VAE 8-6-3 (bernoulli)"), the array the gradient is taken
    with respect to ("x" for a layer's input, else a parameter name such as "W" or "encoder.0.W"), and the
    relative error of the analytic gradient against central differences (see the module docstring).
    """
    rng = np.random.default_rng(seed)
    rows = []
    x = rng.standard_normal((4, 6))  # (N, D) layer input
    layer_cases = [("Linear(6, 5)", layers.Linear(6, 5, rng=rng, dtype=np.float64)), ("ReLU", layers.ReLU()),
                   ("LeakyReLU", layers.LeakyReLU(0.1)), ("Tanh", layers.Tanh()), ("Sigmoid", layers.Sigmoid()),
                   ("Softplus", layers.Softplus()),
                   ("MLP(6-5-3, tanh)", layers.MLP([6, 5, 3], "tanh", rng, np.float64))]
    for name, layer in layer_cases:
        for param, err in gradcheck.check_layer(layer, x, rng).items():
            rows.append((name, param, err))
    xd = rng.random((5, 8))  # (N, D) data in [0, 1] for the models
    for likelihood in LIKELIHOODS:
        vae = VAE(8, 3, (6,), likelihood=likelihood, seed=seed, dtype=np.float64)
        eps = rng.standard_normal((5, 3))  # (N, L), frozen noise: the loss depends on the weights only
        errs = gradcheck.check_model(vae, lambda: vae.loss_and_gradients(xd, eps=eps).loss)
        rows += [(f"VAE 8-6-3 ({likelihood})", k, e) for k, e in errs.items()]
    ae = Autoencoder(8, 3, (6,), seed=seed, dtype=np.float64)
    errs = gradcheck.check_model(ae, lambda: ae.loss_and_gradients(xd).loss)
    rows += [("Autoencoder 8-6-3", k, e) for k, e in errs.items()]
    ids = np.array([[1, 5, 6, 2], [1, 7, 2, 0], [1, 2, 0, 0]])  # (N, T) token ids, <pad> = 0 at the ends
    seq = SequenceVAE(8, latent_dim=2, embed_dim=3, hidden_dim=4, seed=seed, dtype=np.float64)
    eps = rng.standard_normal((3, 2))  # (N, L), frozen noise
    errs = gradcheck.check_model(seq, lambda: seq.loss_and_gradients(ids, eps=eps).loss)
    rows += [("SequenceVAE (GRU 4)", k, e) for k, e in errs.items()]
    lm = SequenceLM(8, embed_dim=3, hidden_dim=4, seed=seed, dtype=np.float64)
    errs = gradcheck.check_model(lm, lambda: lm.loss_and_gradients(ids).loss)
    rows += [("SequenceLM (GRU 4)", k, e) for k, e in errs.items()]
    return rows
