"""The check of the last exercise, ``vae_negative_elbo``: the loss and every gradient of a whole VAE, against
``minivae.models.vae.VAE`` with the same parameters and noise.

The exercise's params dict is minivae's own: the keys and shapes of ``VAE(D, latent_dim=L, hidden=(H,)).params``
("encoder.0.W", ..., "decoder.2.b"; the encoder's last layer gives [mu | logvar] side by side), so the student's
inputs are copied into a float64 VAE key by key and its ``loss_and_gradients`` gives the reference.

The student's ``vae_negative_elbo`` is run with the reference building blocks put in place of the student's (the
earlier exercises and the given helpers), so that one mistake in, say, the KL gradient costs its points once. After a
pass, ``vae_end_to_end_note`` runs it again with the student's own building blocks and says whether it still works.

The hints: a loss without its KL term or with the KL subtracted, the ELBO itself instead of its negative, mu and
logvar read from the wrong halves of the encoder's output, the KL gradients missing from dmu and dlogvar, the
gradient of [mu | logvar] stacked in the wrong order; when the loss is wrong, whether the student's gradients at least
agree with finite differences of their own loss (then the mistake is in the forward pass); when only the encoder's
gradients are wrong, where in the backward pass to look.
"""
import numpy as np

from minivae.models.vae import VAE
from minivae.nn.gradcheck import numerical_gradient, rel_error
from minivae.nn import kernels, losses
from minivae.teaching import reference_blocks
from minivae.teaching.checks_layers import draw_sizes
from minivae.teaching.compare import HINTS, Check, StudentError, call_student, compare, default_rng, unpack_outputs

# The keys of VAE(D, latent_dim=L, hidden=(H,)).params: layers 0 and 2 of each MLP are Linear, layer 1 its ReLU.
VAE_KEYS = ("encoder.0.W", "encoder.0.b", "encoder.2.W", "encoder.2.b",
            "decoder.0.W", "decoder.0.b", "decoder.2.W", "decoder.2.b")
DECODER_KEYS = tuple(k for k in VAE_KEYS if k.startswith("decoder."))
HEAD_KEYS = ("encoder.2.W", "encoder.2.b")  # the encoder's last layer, whose outputs are [mu | logvar]
# What the student's vae_negative_elbo may call: the other exercises and the given helpers. While the VAE is graded,
# these names in the student's module are the library's, with the exercises' signatures (minivae.teaching.
# reference_blocks).
BUILDING_BLOCKS = reference_blocks.BUILDING_BLOCKS


def _vae_inputs(rng):
    """x (N, Dx), half binary and half grey; params with nonzero biases; eps (N, L); the sizes drawn from rng."""
    n = draw_sizes(rng)
    N, Dx, H, L = n.N, n.Dx, n.H, n.L
    params = {
        "encoder.0.W": rng.normal(0, np.sqrt(2 / Dx), (Dx, H)), "encoder.0.b": 0.1 * rng.standard_normal(H),
        "encoder.2.W": rng.normal(0, np.sqrt(1 / H), (H, 2 * L)), "encoder.2.b": 0.1 * rng.standard_normal(2 * L),
        "decoder.0.W": rng.normal(0, np.sqrt(2 / L), (L, H)), "decoder.0.b": 0.1 * rng.standard_normal(H),
        "decoder.2.W": rng.normal(0, np.sqrt(1 / H), (H, Dx)), "decoder.2.b": 0.1 * rng.standard_normal(Dx),
    }
    x = rng.random((N, Dx))
    x[: N // 2] = np.round(x[: N // 2])
    return x, params, rng.standard_normal((N, L))


def _vae_reference(x, params, eps, beta=1.0):
    """Loss, its two terms and the gradients from minivae.models.vae.VAE with these parameters (float64)."""
    L, H = eps.shape[1], params["encoder.0.b"].shape[0]
    vae = VAE(x.shape[1], latent_dim=L, hidden=(H,), likelihood="bernoulli", activation="relu", dtype=np.float64)
    for k in VAE_KEYS:
        vae.params[k][...] = params[k]
    terms = vae.loss_and_gradients(x, eps=eps, beta=beta)
    return terms, {k: vae.grads[k].copy() for k in VAE_KEYS}


def _swap_halves(a):
    """[first L | last L] -> [last L | first L] along the last axis: a head's weights or gradients with mu and
    logvar exchanged."""
    L = a.shape[-1] // 2
    return np.concatenate([a[..., L:], a[..., :L]], axis=-1)


class _ReferenceBlocks:
    """Within ``with _ReferenceBlocks(module):`` the module's building blocks are the reference ones."""

    def __init__(self, module):
        self.module = module
        self.names = BUILDING_BLOCKS
        self.reference = {name: getattr(reference_blocks, name) for name in self.names}

    def __enter__(self):
        self.saved = {name: self.module.__dict__.get(name, _MISSING) for name in self.names}
        self.module.__dict__.update(self.reference)
        return self

    def __exit__(self, *exc):
        for name, fn in self.saved.items():
            if fn is _MISSING:
                self.module.__dict__.pop(name, None)
            else:
                self.module.__dict__[name] = fn


_MISSING = object()


def _vae_outputs(module, x, params, eps):
    loss, grads = unpack_outputs(call_student(module.vae_negative_elbo, x=x, params=params, eps=eps),
                                 ("loss", "grads"))
    if not isinstance(grads, dict):
        raise StudentError(f"grads should be a dict with the keys of params, got a {type(grads).__name__}")
    if set(grads) != set(VAE_KEYS):
        raise StudentError(f"grads should have exactly the keys of params; missing: "
                           f"{sorted(set(VAE_KEYS) - set(grads))}, unexpected: {sorted(set(grads) - set(VAE_KEYS))}")
    return loss, grads


def _vae_checks(loss, grads, terms, want, want_no_kl, swapped_loss, twice_loss, N):
    """The loss and each gradient compared, with the hypotheses of the VAE's typical mistakes.

    want_no_kl : the gradients without the KL term (beta = 0);  swapped_loss : the loss with mu and logvar read
    from the wrong halves of the encoder's output;  twice_loss : the loss with sigmoid(logits) passed as logits;
    N : the batch size.
    """
    rec, kl = terms.reconstruction, terms.kl
    checks = [compare("loss", loss, terms.loss, n=N, hypotheses=[
        (twice_loss, HINTS["bernoulli_sigmoid_twice"] + " (bernoulli_nll_from_logits takes the decoder's logits, "
                     "not sigmoid(logits))"),
        (rec, "the loss has no KL term: loss = reconstruction + KL"),
        (rec - kl, "add the KL term, do not subtract it: -ELBO = reconstruction + KL"),
        (kl, "the loss has no reconstruction term: loss = reconstruction + KL"),
        (-terms.loss, "that is the ELBO; return its negative, the loss to minimise"),
        (swapped_loss, "mu and logvar are swapped: the encoder's last layer gives [mu | logvar], so mu is the first "
                       "L columns of h, mu = h[:, :L], and logvar the last L, logvar = h[:, L:]")])]
    for k in VAE_KEYS:
        hyps = [] if k in DECODER_KEYS else [(want_no_kl[k], "the KL term's gradients are missing: add dmu and "
                                                              "dlogvar from kl_standard_normal to those through z")]
        if k in HEAD_KEYS:
            hyps.append((_swap_halves(want[k]), "dmu and dlogvar are stacked in the wrong order: the gradient of h = "
                                                "[mu | logvar] is np.concatenate([dmu, dlogvar], axis=1)"))
        checks.append(compare(f"grads[{k!r}]", grads[k], want[k], n=N, hypotheses=hyps,
                              shape_help=f"it has the shape of params[{k!r}]"))
    return checks


def _sigmoid_twice_loss(x, params, eps):
    """The negative ELBO when the decoder's logits go through a sigmoid before the loss from logits (the sigmoid
    applied twice)."""
    rb = reference_blocks
    L = eps.shape[1]
    h1 = rb.relu_forward(rb.linear_forward(x, params["encoder.0.W"], params["encoder.0.b"]))
    h = rb.linear_forward(h1, params["encoder.2.W"], params["encoder.2.b"])
    mu, logvar = h[:, :L], h[:, L:]
    z = rb.reparameterize(mu, logvar, eps)
    h2 = rb.relu_forward(rb.linear_forward(z, params["decoder.0.W"], params["decoder.0.b"]))
    logits = rb.linear_forward(h2, params["decoder.2.W"], params["decoder.2.b"])
    nll, _ = losses.bernoulli_nll(kernels.sigmoid_reference(logits), x)
    return float(nll.mean()) + float(rb.kl_standard_normal(mu, logvar)[0].mean())


def check_vae(module, rng=None):
    """The loss and every gradient against minivae.models.vae.VAE, with the reference building blocks in place."""
    rng = default_rng(rng)
    x, params, eps = _vae_inputs(rng)
    N = x.shape[0]
    terms, want = _vae_reference(x, params, eps)
    _, want_no_kl = _vae_reference(x, params, eps, beta=0.0)
    swapped = {k: _swap_halves(p) if k in HEAD_KEYS else p for k, p in params.items()}
    swapped_loss = _vae_reference(x, swapped, eps)[0].loss
    with _ReferenceBlocks(module):
        loss, grads = _vae_outputs(module, x, params, eps)
        checks = _vae_checks(loss, grads, terms, want, want_no_kl, swapped_loss,
                             _sigmoid_twice_loss(x, params, eps), N)
        if not checks[0].ok:  # a wrong loss: do the student's gradients at least match their own loss?
            own = {k: np.array(p) for k, p in params.items()}
            f = lambda: float(module.vae_negative_elbo(x, own, eps)[0])  # noqa: E731
            try:
                with np.errstate(all="ignore"):
                    consistent = all(np.shape(grads[k]) == own[k].shape
                                     and rel_error(grads[k], numerical_gradient(f, own[k])) < 1e-5 for k in VAE_KEYS)
            except Exception:  # the student's loss cannot even be differentiated numerically
                consistent = False
            if consistent:
                checks[0].hint += (" (Your gradients agree with finite differences of your own loss, so the "
                                   "backward pass is consistent: the mistake is in the forward pass or the loss.)")
    bad = [c for c in checks[1:] if not c.ok]
    if bad:  # a summary first, then the hints of the first wrong arrays
        summary = f"wrong gradients: {', '.join(c.label for c in bad)}"
        if checks[0].ok and all(c.label.split("'")[1] not in DECODER_KEYS for c in bad):
            summary += (". The decoder's gradients are right, the encoder's are not: check the backward from dz on "
                        "(reparameterize_backward, the KL gradients added to dmu and dlogvar, [dmu | dlogvar] side "
                        "by side into the encoder's last layer, relu_backward)")
        errors = [c.rel_error for c in bad]
        for c in bad:
            if not c.specific:
                c.hint = ""  # the summary says it; only the arrays with a diagnosed mistake get a line of their own
        checks.insert(1, Check("grads", None if None in errors else max(errors), False, summary))
    return checks


def vae_end_to_end_note(module, rng=None, failed_before=()):
    """After the VAE passed with the reference building blocks: does it also with the student's own?"""
    rng = default_rng(rng)
    x, params, eps = _vae_inputs(rng)
    terms, want = _vae_reference(x, params, eps)
    try:
        loss, grads = _vae_outputs(module, x, params, eps)
    except NotImplementedError:
        return ("Graded with the reference building blocks. With your own it does not run yet: some of the "
                "exercises it uses are not implemented.")
    except StudentError as err:
        return f"Graded with the reference building blocks. With your own it fails: {err}"
    errors = [compare("loss", loss, terms.loss)] + [compare(k, grads[k], want[k]) for k in VAE_KEYS]
    if all(c.ok for c in errors):
        return ""
    worst = max((c.rel_error for c in errors if c.rel_error is not None), default=None)
    size = "" if worst is None else f" (rel. error {worst:.1e})"
    culprits = ", ".join(failed_before) if failed_before else "the building blocks"
    return f"Graded with the reference building blocks. With your own the result is off{size}: fix {culprits}."
