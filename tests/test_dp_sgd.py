"""One DP-SGD step against a plain loop over examples, the noise's scale, Poisson sampling, and the refusals."""
import numpy as np
import pytest

from minivae.models import VAE
from minivae.nn.optim import SGD, Adam
from minivae.privacy.dp_sgd import poisson_batch, private_step, steps_per_epoch

F64 = np.float64


def model_and_data(seed=0, n=12, d=7):
    rng = np.random.default_rng(seed)
    vae = VAE(d, latent_dim=2, hidden=(5,), seed=seed, dtype=F64)
    return vae, rng.random((n, d)), rng.standard_normal((n, 2))


def loop_gradient(vae, x, eps, clip_norm):
    """sum_b clip(g_b): each example's gradient from the model's own call on that example alone."""
    total = {k: np.zeros_like(v) for k, v in vae.params.items()}
    for b in range(len(x)):
        vae.loss_and_gradients(x[b:b + 1], eps=eps[b:b + 1])
        norm = np.sqrt(sum(float((g ** 2).sum()) for g in vae.grads.values()))
        for k, g in vae.grads.items():
            total[k] += g * min(1.0, clip_norm / norm)
    return total


def test_the_step_is_the_clipped_noised_loop_divided_by_the_expected_batch_size():
    vae, x, eps = model_and_data()
    clip, sigma, expected = 0.5, 1.3, 10.0
    before = {k: v.copy() for k, v in vae.params.items()}
    clipped = loop_gradient(vae, x, eps, clip)
    noise_rng = np.random.default_rng(7)  # the step draws its noise from here, parameter by parameter, in order
    noise = {k: sigma * clip * noise_rng.standard_normal(v.shape) for k, v in vae.params.items()}
    lr = 0.1
    private_step(vae, SGD(lr=lr), x, clip, sigma, expected, np.random.default_rng(7), eps=eps)
    for k in before:
        expected_step = -lr * (clipped[k] + noise[k]) / expected
        np.testing.assert_allclose(vae.params[k] - before[k], expected_step, rtol=1e-10, atol=1e-14)


def test_the_noise_has_standard_deviation_sigma_c_over_l():
    vae, _, _ = model_and_data()
    x = np.zeros((0, 7))  # an empty batch (Poisson sampling can draw one): the step is the noise alone
    sigma, clip, expected = 2.0, 3.0, 4.0
    before = np.concatenate([v.ravel() for v in vae.params.values()])
    private_step(vae, SGD(lr=1.0), x, clip, sigma, expected, np.random.default_rng(0))
    step = np.concatenate([v.ravel() for v in vae.params.values()]) - before
    std = sigma * clip / expected
    assert abs(step.std() / std - 1) < 4 / np.sqrt(2 * step.size), (step.std(), std)  # 4 standard errors
    assert abs(step.mean()) < 4 * std / np.sqrt(step.size)


def test_without_noise_the_step_is_the_clipped_mean_and_a_seed_repeats_it_bit_for_bit():
    vae, x, eps = model_and_data()
    clipped = loop_gradient(vae, x, eps, 1e9)  # no example clipped: the plain sum
    twin, _, _ = model_and_data()
    a, b = Adam(lr=1e-2), Adam(lr=1e-2)
    private_step(vae, a, x, 1e9, 0.0, len(x), np.random.default_rng(1), eps=eps)
    twin.loss_and_gradients(x, eps=eps)  # the batch mean of the contract, equal to the sum / N
    for k in clipped:
        np.testing.assert_allclose(twin.grads[k], clipped[k] / len(x), rtol=1e-10, atol=1e-15)
    runs = []
    for _ in range(2):
        m, _, _ = model_and_data()
        rng = np.random.default_rng(5)
        for _ in range(3):
            private_step(m, Adam(lr=1e-2), x[poisson_batch(len(x), 0.5, rng)], 1.0, 1.1, 6.0, rng)
        runs.append(np.concatenate([v.ravel() for v in m.params.values()]))
    assert np.array_equal(runs[0], runs[1])


def test_poisson_batches_include_each_example_independently_at_the_rate():
    rng = np.random.default_rng(0)
    n, q = 1000, 0.05
    sizes, counts = [], np.zeros(n)
    for _ in range(400):
        batch = poisson_batch(n, q, rng)
        sizes.append(len(batch))
        counts[batch] += 1
        assert np.all(np.diff(batch) > 0)
    assert abs(np.mean(sizes) - n * q) < 4 * np.sqrt(n * q * (1 - q) / 400)
    assert np.std(sizes) > 0  # the size varies: not a fixed-size batch
    assert abs(counts.mean() / 400 - q) < 0.005
    assert steps_per_epoch(60000, 256) == 234 and steps_per_epoch(10, 256) == 1


@pytest.mark.parametrize("args, message", [
    ((0.0, 1.0, 4.0), "clipping norm C must be a positive number"),
    ((1.0, -1.0, 4.0), "noise multiplier sigma must be a number >= 0"),
    ((1.0, 1.0, 0.0), "expected batch size L must be positive"),
])
def test_bad_settings_are_refused_in_one_line(args, message):
    vae, x, _ = model_and_data()
    with pytest.raises(ValueError, match=message) as info:
        private_step(vae, SGD(), x, *args, np.random.default_rng(0))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="sampling rate"):
        poisson_batch(10, 0.0, np.random.default_rng(0))


def test_free_bits_cannot_be_made_private():
    vae, x, _ = model_and_data()
    with pytest.raises(ValueError, match="free"):
        private_step(vae, SGD(), x, 1.0, 1.0, 4.0, np.random.default_rng(0), free_bits=0.5)
