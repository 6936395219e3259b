"""Tests for minivae.apps.latent: interpolation, traversal, the inverse-CDF grid, latent arithmetic and active units."""
from statistics import NormalDist

import numpy as np
import pytest

from minivae import VAE, Autoencoder
from minivae.apps.latent import (
    active_units, attribute_vector, class_means, encoder_means, grid_codes, grid_values, interpolate, lerp, slerp,
    traverse,
)


class StubModel:
    """A 'model' whose encoder mean is the input itself (D = L) and whose decoder doubles the code.

    With it the answers of the functions that use encoder means are known exactly.
    """

    conditional = False  # what the model contract declares (minivae.models.base)

    def __init__(self, latent_dim):
        self.latent_dim = latent_dim
        self.input_dim = latent_dim

    def encode(self, x):
        x = np.asarray(x, dtype=np.float64)
        assert x.ndim == 2 and x.shape[1] == self.latent_dim
        return x.copy(), np.zeros_like(x)

    def decode(self, z):
        return 2 * np.asarray(z, dtype=np.float64)


@pytest.fixture(scope="module")
def vae():
    return VAE(784, latent_dim=5, hidden=(16,))


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((12, 784)).astype(np.float32)


# ------------------------------------------------------------------------------------------------- interpolation
def test_lerp_ends_equal_inputs_and_steps_are_even():
    rng = np.random.default_rng(1)
    z0, z1 = rng.normal(size=6), rng.normal(size=6)
    path = lerp(z0, z1, 7)
    assert path.shape == (7, 6)
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[-1], z1)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((z1 - z0) / 6, (6, 1)), rtol=1e-12, atol=1e-14)


def test_slerp_preserves_the_norm_of_equal_norm_endpoints():
    rng = np.random.default_rng(2)
    z0, z1 = rng.normal(size=32), rng.normal(size=32)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    path = slerp(z0, z1, 11)
    assert path.shape == (11, 32)
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[-1], z1)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-12)
    # ...whereas the lerp midpoint is shorter (the reason slerp exists)
    assert np.linalg.norm(lerp(z0, z1, 3)[1]) < 0.9 * np.linalg.norm(z0)


def test_slerp_of_orthogonal_unit_vectors_follows_the_circle():
    path = slerp([1.0, 0.0], [0.0, 1.0], 5)
    angles = np.linspace(0, np.pi / 2, 5)
    np.testing.assert_allclose(path, np.stack([np.cos(angles), np.sin(angles)], axis=1), atol=1e-15)


@pytest.mark.parametrize("z1_of_z0", [lambda z: 3 * z, lambda z: z.copy(), lambda z: -z, lambda z: 0 * z])
def test_slerp_matches_lerp_when_the_angle_is_undefined(z1_of_z0):
    z0 = np.array([0.5, -1.0, 2.0])
    z1 = z1_of_z0(z0)
    np.testing.assert_allclose(slerp(z0, z1, 6), lerp(z0, z1, 6), rtol=0, atol=1e-15)


def test_interpolate_decodes_the_path_between_encoder_means():
    model = StubModel(3)
    x0, x1 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    np.testing.assert_allclose(interpolate(model, x0, x1, n=4), 2 * lerp(x0, x1, 4))
    np.testing.assert_allclose(interpolate(model, x0, x1[None, :], n=4, method="spherical"), 2 * slerp(x0, x1, 4))


def test_interpolate_with_real_models(vae, images):
    out = interpolate(vae, images[0], images[1], n=6, method="spherical")
    assert out.shape == (6, 784) and np.isfinite(out).all()
    np.testing.assert_allclose(out[0], vae.reconstruct(images[:1])[0], rtol=1e-5, atol=1e-6)
    ae = Autoencoder(784, latent_dim=3, hidden=(16,))
    assert interpolate(ae, images[0], images[1], n=3).shape == (3, 784)


# ------------------------------------------------------------------------------------------ traversal and grids
def test_traverse_sets_one_coordinate_and_keeps_the_rest():
    model = StubModel(4)
    z = np.array([0.1, 0.2, 0.3, 0.4])
    out = traverse(model, z, dim=2, values=[-1.0, 0.0, 5.0])
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out[:, 2], [-2.0, 0.0, 10.0])
    np.testing.assert_allclose(out[:, [0, 1, 3]], np.tile(2 * z[[0, 1, 3]], (3, 1)))


def test_traverse_shapes_with_a_vae(vae):
    out = traverse(vae, np.zeros(5), dim=4, values=np.linspace(-3, 3, 9))
    assert out.shape == (9, 784) and np.isfinite(out).all()


def test_grid_values_are_the_inverse_gaussian_cdf_symmetric_and_increasing():
    v = grid_values(9, extent=0.9)
    expected = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, 9)]
    np.testing.assert_allclose(v, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(v, -v[::-1])
    assert v[4] == 0.0 and (np.diff(v) > 0).all()
    assert grid_values(2) == pytest.approx([-1.959963984540054, 1.959963984540054])


def test_grid_codes_read_like_an_image_grid():
    n = 4
    codes = grid_codes(n, dims=(0, 1), latent_dim=2)
    v = grid_values(n)
    assert codes.shape == (16, 2)
    grid = codes.reshape(n, n, 2)  # [row, column, dim]
    np.testing.assert_array_equal(grid[:, :, 0], np.tile(v, (n, 1)))  # first dim increases to the right
    np.testing.assert_array_equal(grid[:, :, 1], np.tile(v[::-1, None], (1, n)))  # second decreases downwards
    np.testing.assert_array_equal(codes[::-1], -codes)  # symmetric about the origin


def test_grid_codes_is_a_slice_through_base_in_higher_dimensions():
    base = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    codes = grid_codes(3, dims=(3, 1), latent_dim=5, base=base)
    assert codes.shape == (9, 5)
    np.testing.assert_array_equal(codes[:, [0, 2, 4]], np.tile(base[[0, 2, 4]], (9, 1)))
    np.testing.assert_array_equal(codes[:3, 3], grid_values(3))  # top row: dims[0] left to right
    np.testing.assert_array_equal(codes[::3, 1], grid_values(3)[::-1])  # first column: dims[1] top to bottom
    np.testing.assert_array_equal(grid_codes(3, latent_dim=5)[:, 2:], 0.0)


# ---------------------------------------------------------------------------------------------- latent arithmetic
def test_attribute_vector_and_class_means_on_known_codes():
    model = StubModel(2)
    x = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0], [0.0, 2.0], [0.0, 0.0]])
    y = np.array([0, 0, 1, 1, 2])
    np.testing.assert_allclose(class_means(model, x, y), [[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    np.testing.assert_allclose(attribute_vector(model, x, y == 0), [2.0, -2.0])
    assert class_means(model, x, y, n_classes=3).shape == (3, 2)


def test_encoder_means_in_batches_equal_one_batch(images):
    vae64 = VAE(784, latent_dim=3, hidden=(16,), dtype=np.float64)  # float64: BLAS sums per batch agree closely
    np.testing.assert_allclose(encoder_means(vae64, images, batch_size=5), vae64.encode(images)[0], rtol=1e-12,
                               atol=1e-14)


# -------------------------------------------------------------------------------------------------- active units
def test_active_units_counts_dimensions_with_variance_above_the_threshold():
    rng = np.random.default_rng(3)
    n = 1000
    # columns with population variance exactly 0, 0.005, 0.02 and 1 (standardized noise times the std)
    noise = rng.normal(size=(n, 3))
    noise = (noise - noise.mean(0)) / noise.std(0)
    x = np.column_stack([np.full(n, 7.0), noise * np.sqrt([0.005, 0.02, 1.0])])
    count, variances = active_units(StubModel(4), x, batch_size=128)
    np.testing.assert_allclose(variances, [0.0, 0.005, 0.02, 1.0], rtol=1e-10, atol=1e-14)
    assert count == 2
    assert active_units(StubModel(4), x, threshold=0.001)[0] == 3


def test_active_units_of_a_vae_whose_mean_head_is_silenced(images):
    vae = VAE(784, latent_dim=4, hidden=(16,))
    last = vae.encoder.params[sorted(vae.encoder.params)[-2]]  # weights of the last Linear, (16, 2L)
    bias = vae.encoder.params[sorted(vae.encoder.params)[-1]]
    last[:, 1] = 0.0  # mu_1 no longer depends on x: an inactive ("collapsed") unit
    bias[1] = 0.3
    count, variances = active_units(vae, images)
    assert variances.shape == (4,) and variances[1] == 0.0
    assert count == int((variances > 0.01).sum()) and count <= 3


# ---------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: lerp(np.zeros(3), np.zeros(3), 1), "n, the number of points"),
    (lambda: lerp(np.zeros(3), np.zeros(4), 5), "same length"),
    (lambda: slerp(np.zeros((2, 3)), np.zeros(3), 5), "one vector"),
    (lambda: slerp(np.zeros(3), [np.nan, 0, 0], 5), "NaN"),
    (lambda: grid_codes(1), "n, the number of points"),
    (lambda: grid_codes(3, dims=(0, 0), latent_dim=3), "two different"),
    (lambda: grid_codes(3, dims=(0, 2), latent_dim=2), r"dims\[1\] must be an integer in \[0, 1\]"),
    (lambda: grid_codes(3, latent_dim=1), "at least 2 dimensions"),
    (lambda: grid_codes(3, latent_dim=3, base=np.zeros(2)), "length 3"),
    (lambda: grid_values(5, extent=1.0), "extent"),
    (lambda: traverse(StubModel(3), np.zeros(3), dim=3, values=[0.0]), r"dim must be an integer in \[0, 2\]"),
    (lambda: traverse(StubModel(3), np.zeros(2), dim=0, values=[0.0]), "length 3"),
    (lambda: traverse(StubModel(3), np.zeros(3), dim=0, values=[]), "non-empty"),
    (lambda: interpolate(StubModel(3), np.zeros(3), np.zeros(3), method="cubic"), "'linear' or 'spherical'"),
    (lambda: interpolate(StubModel(3), np.zeros((2, 3)), np.zeros(3)), "one example"),
    (lambda: attribute_vector(StubModel(2), np.zeros((3, 2)), np.ones(3, dtype=bool)), "not all"),
    (lambda: attribute_vector(StubModel(2), np.zeros((3, 2)), np.ones(2, dtype=bool)), "one flag per example"),
    (lambda: class_means(StubModel(2), np.zeros((3, 2)), np.array([0, 2, 2])), r"classes \[1\] have no"),
    (lambda: class_means(StubModel(2), np.zeros((3, 2)), np.array([0.0, 1, 1])), "integer labels"),
    (lambda: active_units(StubModel(2), np.zeros((1, 2))), "at least 2 examples"),
    (lambda: encoder_means(StubModel(2), np.zeros((0, 2))), "non-empty"),
])
def test_bad_input_raises_value_error_that_says_what_is_wrong(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="encode, decode, latent_dim and conditional"):
        active_units(object(), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="booleans"):
        attribute_vector(StubModel(2), np.zeros((3, 2)), np.array([0, 1, 1]))
