"""The exercise table: which functions of the exercise file are graded, for how many points, and by which check.

The grader (``minivae.teaching.grader``) runs the exercises in this order, each on its own inputs. The checks are in
``minivae.teaching.checks_layers`` (the building blocks) and ``minivae.teaching.checks_vae`` (the whole VAE). To add
an exercise: write its reference solution in ``minivae/teaching/exercises.py`` between the solution markers, its
check beside the others, and a row here.
"""
from dataclasses import dataclass

from minivae.teaching import checks_layers as layers
from minivae.teaching import checks_vae as vae


@dataclass(frozen=True)
class Exercise:
    """One graded function.

    name : its name in the exercise file;  points : what a pass earns (all or nothing)
    check : check(module, rng) -> list of Check, one per output (see ``minivae.teaching.compare``)
    checked_against : what the outputs are compared with, as the report shows it
    on_error : advice added to the message when the student's function raises ("" for none)
    note : note(module, rng, failed_before) -> str, a remark added after a pass (None for none)
    """

    name: str
    points: int
    check: object
    checked_against: str
    on_error: str = ""
    note: object = None


EXERCISES = (
    Exercise("linear_forward", 1, layers.check_linear_forward, "minivae.nn.layers.Linear",
             "Check the shapes: x is (N, D), W is (D, M), b is (M,), out must be (N, M)."),
    Exercise("linear_backward", 2, layers.check_linear_backward, "minivae.nn.layers.Linear, finite differences",
             "Check the shapes: x is (N, D), W is (D, M), dout is (N, M); dx must be (N, D) like x, dW (D, M) like "
             "W, db (M,) like b. dout times W only fits with the transpose, W.T (M, D)."),
    Exercise("relu_backward", 1, layers.check_relu_backward,
             "minivae.nn.kernels.relu_backward_reference, finite differences"),
    Exercise("sigmoid_backward", 1, layers.check_sigmoid_backward,
             "minivae.nn.kernels.sigmoid_backward_reference, finite differences"),
    Exercise("bernoulli_nll_from_logits", 2, layers.check_bernoulli,
             "minivae.nn.losses.bernoulli_nll, finite differences"),
    Exercise("kl_standard_normal", 2, layers.check_kl, "minivae.nn.kl.kl_standard_normal, finite differences"),
    Exercise("reparameterize", 1, layers.check_reparameterize, "minivae.nn.reparam.reparameterize"),
    Exercise("reparameterize_backward", 2, layers.check_reparameterize_backward,
             "minivae.nn.reparam.reparameterize_backward, finite differences"),
    Exercise("adam_step", 2, layers.check_adam, "minivae.nn.kernels.adam_update_reference"),
    Exercise("vae_negative_elbo", 4, vae.check_vae, "minivae.models.vae.VAE (hidden=(H,), Bernoulli likelihood)",
             "Compare the shape of each intermediate array with the table in the docstring.",
             note=vae.vae_end_to_end_note),
)
