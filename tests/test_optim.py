"""Tests for minivae.nn.optim: every optimizer against two steps worked out by hand, state round trips, clipping, errors.

The hand computations use one parameter vector p0 and two gradients g1, g2 (float64):

    p0 = [1.0, -2.0, 0.5]      g1 = [0.5, -1.0, 2.0]      g2 = [-0.3, 0.4, 1.0]

and write each update rule out with these numbers, independently of the code under test (no call into minivae).
"""
import io

import numpy as np
import pytest

from minivae.nn.optim import SGD, Adagrad, Adam, AdamW, RMSProp, clip_grad_norm, make_optimizer

P0 = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.5, -1.0, 2.0])
G2 = np.array([-0.3, 0.4, 1.0])


def two_steps(opt, dtype=np.float64):
    """Run opt for two steps from P0 with gradients G1 then G2; return (p after step 1, p after step 2)."""
    params = {"w": P0.astype(dtype)}
    out = []
    for g in (G1, G2):
        opt.step(params, {"w": g.astype(dtype)})
        out.append(params["w"].copy())
    return out


def assert_steps(opt, expected_1, expected_2, rtol=1e-12):
    p1, p2 = two_steps(opt)
    np.testing.assert_allclose(p1, expected_1, rtol=rtol, atol=1e-15)
    np.testing.assert_allclose(p2, expected_2, rtol=rtol, atol=1e-15)


# ----------------------------------------------------------------------------------------------------------------------
# Each optimizer, two steps by hand.
# ----------------------------------------------------------------------------------------------------------------------


def test_sgd_by_hand():
    # p <- p - lr g,  lr = 0.1
    p1 = [1.0 - 0.1 * 0.5, -2.0 - 0.1 * -1.0, 0.5 - 0.1 * 2.0]  # = [0.95, -1.9, 0.3]
    p2 = [0.95 - 0.1 * -0.3, -1.9 - 0.1 * 0.4, 0.3 - 0.1 * 1.0]  # = [0.98, -1.94, 0.2]
    assert_steps(SGD(lr=0.1), p1, p2)
    np.testing.assert_allclose(p2, [0.98, -1.94, 0.2])


def test_sgd_weight_decay_by_hand():
    # g <- g + wd p, then p <- p - lr g;  lr = 0.1, wd = 0.5
    g1 = [0.5 + 0.5 * 1.0, -1.0 + 0.5 * -2.0, 2.0 + 0.5 * 0.5]  # = [1.0, -2.0, 2.25]
    p1 = [1.0 - 0.1 * 1.0, -2.0 - 0.1 * -2.0, 0.5 - 0.1 * 2.25]  # = [0.9, -1.8, 0.275]
    g2 = [-0.3 + 0.5 * 0.9, 0.4 + 0.5 * -1.8, 1.0 + 0.5 * 0.275]  # = [0.15, -0.5, 1.1375]
    p2 = [0.9 - 0.1 * g2[0], -1.8 - 0.1 * g2[1], 0.275 - 0.1 * g2[2]]
    assert g1 == pytest.approx([1.0, -2.0, 2.25])
    assert_steps(SGD(lr=0.1, weight_decay=0.5), p1, p2)


def test_sgd_momentum_by_hand():
    # v <- mu v + g;  p <- p - lr v;  lr = 0.1, mu = 0.9, v0 = 0
    v1 = [0.5, -1.0, 2.0]  # = g1
    p1 = [1.0 - 0.1 * 0.5, -2.0 - 0.1 * -1.0, 0.5 - 0.1 * 2.0]  # = [0.95, -1.9, 0.3]
    v2 = [0.9 * 0.5 - 0.3, 0.9 * -1.0 + 0.4, 0.9 * 2.0 + 1.0]  # = [0.15, -0.5, 2.8]
    p2 = [0.95 - 0.1 * 0.15, -1.9 - 0.1 * -0.5, 0.3 - 0.1 * 2.8]  # = [0.935, -1.85, 0.02]
    assert v1 == list(G1) and v2 == pytest.approx([0.15, -0.5, 2.8])
    assert_steps(SGD(lr=0.1, momentum=0.9), p1, p2)
    np.testing.assert_allclose(p2, [0.935, -1.85, 0.02])


def test_sgd_nesterov_by_hand():
    # v <- mu v + g;  p <- p - lr (g + mu v);  lr = 0.1, mu = 0.9
    # step 1: v1 = g1, so g1 + 0.9 v1 = 1.9 g1
    p1 = [1.0 - 0.1 * 1.9 * 0.5, -2.0 - 0.1 * 1.9 * -1.0, 0.5 - 0.1 * 1.9 * 2.0]  # = [0.905, -1.81, 0.12]
    # step 2: v2 = [0.15, -0.5, 2.8];  g2 + 0.9 v2 = [-0.165, -0.05, 3.52]
    p2 = [0.905 - 0.1 * -0.165, -1.81 - 0.1 * -0.05, 0.12 - 0.1 * 3.52]  # = [0.9215, -1.805, -0.232]
    assert_steps(SGD(lr=0.1, momentum=0.9, nesterov=True), p1, p2)
    np.testing.assert_allclose(p2, [0.9215, -1.805, -0.232])


def test_adagrad_by_hand():
    # s <- s + g^2;  p <- p - lr g / (sqrt(s) + eps);  lr = 0.1, eps = 1e-10
    # step 1: s1 = g1^2 = [0.25, 1, 4], so g1 / sqrt(s1) = sign(g1): every entry moves by exactly lr
    p1 = [1.0 - 0.1, -2.0 + 0.1, 0.5 - 0.1]  # = [0.9, -1.9, 0.4]
    # step 2: s2 = s1 + g2^2 = [0.25 + 0.09, 1 + 0.16, 4 + 1] = [0.34, 1.16, 5]
    p2 = [0.9 - 0.1 * -0.3 / np.sqrt(0.34), -1.9 - 0.1 * 0.4 / np.sqrt(1.16), 0.4 - 0.1 * 1.0 / np.sqrt(5.0)]
    assert_steps(Adagrad(lr=0.1), p1, p2, rtol=1e-9)  # eps = 1e-10 shifts the result by about 1e-10


def test_rmsprop_by_hand():
    # s <- alpha s + (1 - alpha) g^2;  p <- p - lr g / (sqrt(s) + eps);  lr = 0.01, alpha = 0.9, eps = 1e-8
    # step 1: s1 = 0.1 g1^2 = [0.025, 0.1, 0.4], so g1 / sqrt(s1) = sign(g1) / sqrt(0.1)
    p1 = [1.0 - 0.01 / np.sqrt(0.1), -2.0 + 0.01 / np.sqrt(0.1), 0.5 - 0.01 / np.sqrt(0.1)]
    # step 2: s2 = 0.9 s1 + 0.1 g2^2 = [0.0225 + 0.009, 0.09 + 0.016, 0.36 + 0.1] = [0.0315, 0.106, 0.46]
    p2 = [p1[0] - 0.01 * -0.3 / np.sqrt(0.0315), p1[1] - 0.01 * 0.4 / np.sqrt(0.106),
          p1[2] - 0.01 * 1.0 / np.sqrt(0.46)]
    assert_steps(RMSProp(lr=0.01, alpha=0.9), p1, p2, rtol=1e-7)  # eps = 1e-8 next to sqrt(s) ~ 0.3


def adam_by_hand(decay):
    """Adam's two steps with lr = 0.1, betas = (0.9, 0.999), eps = 1e-8; decay = 1 - lr * weight_decay (AdamW)."""
    # step 1:
    #   m1 = 0.1 g1 = [0.05, -0.1, 0.2]            v1 = 0.001 g1^2 = [0.00025, 0.001, 0.004]
    #   bias correction: m_hat = m1 / (1 - 0.9) = g1,   v_hat = v1 / (1 - 0.999) = g1^2
    #   so the first step is lr * g1 / |g1| = 0.1 sign(g1) for every entry. (Without the correction it would be
    #   0.1 * 0.1 g1 / sqrt(0.001 g1^2) = 0.316 sign(g1): the zero-initialised moments would make it 3x too big.)
    m1, v1 = np.array([0.05, -0.1, 0.2]), np.array([0.00025, 0.001, 0.004])
    m_hat, v_hat = m1 / (1 - 0.9), v1 / (1 - 0.999)
    np.testing.assert_allclose(m_hat, G1, rtol=1e-12)
    np.testing.assert_allclose(v_hat, G1**2, rtol=1e-12)
    p1 = decay * P0 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p1, decay * P0 - 0.1 * np.sign(G1), rtol=1e-7)
    # step 2:
    #   m2 = 0.9 m1 + 0.1 g2 = [0.045 - 0.03, -0.09 + 0.04, 0.18 + 0.1] = [0.015, -0.05, 0.28]
    #   v2 = 0.999 v1 + 0.001 g2^2 = [0.00024975 + 0.00009, 0.000999 + 0.00016, 0.003996 + 0.001]
    #      = [0.00033975, 0.001159, 0.004996]
    #   m_hat = m2 / (1 - 0.9^2) = m2 / 0.19,   v_hat = v2 / (1 - 0.999^2) = v2 / 0.001999
    m2, v2 = np.array([0.015, -0.05, 0.28]), np.array([0.00033975, 0.001159, 0.004996])
    m_hat, v_hat = m2 / 0.19, v2 / 0.001999
    p2 = decay * p1 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
    return p1, p2


def test_adam_by_hand_with_bias_correction():
    p1, p2 = adam_by_hand(decay=1.0)
    np.testing.assert_allclose(p1, [0.9, -1.9, 0.4], rtol=1e-7)
    assert_steps(Adam(lr=0.1), p1, p2, rtol=1e-10)


def test_adamw_by_hand():
    # AdamW first shrinks p by 1 - lr * wd = 1 - 0.1 * 0.01 = 0.999, then takes the Adam step (same m, v as Adam)
    p1, p2 = adam_by_hand(decay=0.999)
    np.testing.assert_allclose(p1, [0.999 - 0.1, -1.998 + 0.1, 0.4995 - 0.1], rtol=1e-7)
    assert_steps(AdamW(lr=0.1, weight_decay=0.01), p1, p2, rtol=1e-10)


def test_adam_weight_decay_is_l2_by_hand():
    """Adam(weight_decay=w) adds w * p to the gradient (L2, as torch.optim.Adam), so the decay goes through m and v."""
    # step 1: g1' = G1 + 0.5 P0 = [1.0, -2.0, 2.25]; m_hat = g1', v_hat = g1'^2, so p1 = P0 - 0.1 sign(g1')
    g1 = np.array([1.0, -2.0, 2.25])
    np.testing.assert_allclose(G1 + 0.5 * P0, g1, rtol=1e-15)
    p1 = P0 - 0.1 * g1 / (np.abs(g1) + 1e-8)
    np.testing.assert_allclose(p1, [0.9, -1.9, 0.4], rtol=1e-7)
    # step 2: g2' = G2 + 0.5 p1 = [0.15, -0.55, 1.2]
    #   m2 = 0.9 (0.1 g1') + 0.1 g2' = [0.09 + 0.015, -0.18 - 0.055, 0.2025 + 0.12] = [0.105, -0.235, 0.3225]
    #   v2 = 0.999 (0.001 g1'^2) + 0.001 g2'^2 = [0.000999 + 0.0000225, 0.003996 + 0.0003025, 0.0050574375 + 0.00144]
    m2, v2 = np.array([0.105, -0.235, 0.3225]), np.array([0.0010215, 0.0042985, 0.0064974375])
    p2 = p1 - 0.1 * (m2 / 0.19) / (np.sqrt(v2 / 0.001999) + 1e-8)
    assert_steps(Adam(lr=0.1, weight_decay=0.5), p1, p2, rtol=1e-10)


def test_adam_weight_decay_and_adamw_differ():
    """L2 decay (Adam) and decoupled decay (AdamW) are different updates: the names say which is which."""
    adam_l2, adamw = two_steps(Adam(lr=0.1, weight_decay=0.5))[1], two_steps(AdamW(lr=0.1, weight_decay=0.5))[1]
    assert np.abs(adam_l2 - adamw).max() > 1e-3


OPTIMIZERS = {
    "sgd": lambda: SGD(lr=0.1),
    "sgd_momentum": lambda: SGD(lr=0.1, momentum=0.9),
    "sgd_nesterov": lambda: SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adagrad": lambda: Adagrad(lr=0.1),
    "rmsprop": lambda: RMSProp(lr=0.01, alpha=0.9),
    "adam": lambda: Adam(lr=0.1),
    "adam_l2": lambda: Adam(lr=0.1, weight_decay=0.05),
    "adamw": lambda: AdamW(lr=0.1, weight_decay=0.01),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_parameters_stay_float32_and_agree_with_float64(name):
    p1_32, p2_32 = two_steps(OPTIMIZERS[name](), np.float32)
    p1_64, p2_64 = two_steps(OPTIMIZERS[name](), np.float64)
    assert p2_32.dtype == np.float32
    np.testing.assert_allclose(p2_32, p2_64, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------------------------------
# State: save, load, continue.
# ----------------------------------------------------------------------------------------------------------------------


def gradient_stream(n_steps, seed=0):
    rng = np.random.default_rng(seed)
    return [{"layer.W": rng.standard_normal((2, 3)), "layer.b": rng.standard_normal(3)} for _ in range(n_steps)]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_round_trip_continues_identically(name):
    """Train 3 steps, save the state (through an .npz file, as a checkpoint does), load it into a fresh optimizer,
    and continue both for 3 more steps: the parameters must be bit-identical to an uninterrupted run."""
    grads = gradient_stream(6)
    rng = np.random.default_rng(1)
    params = {"layer.W": rng.standard_normal((2, 3)), "layer.b": rng.standard_normal(3)}

    original = OPTIMIZERS[name]()
    for g in grads[:3]:
        original.step(params, g)
    buffer = io.BytesIO()
    np.savez(buffer, **original.state_dict())
    buffer.seek(0)
    with np.load(buffer) as saved:
        restored = OPTIMIZERS[name]()
        restored.load_state_dict({k: saved[k] for k in saved.files})
    assert restored.t == original.t == 3
    params_restored = {k: v.copy() for k, v in params.items()}

    for g in grads[3:]:
        original.step(params, g)
        restored.step(params_restored, g)
    for k in params:
        np.testing.assert_array_equal(params_restored[k], params[k])
    assert restored.t == 6


def test_load_state_dict_copies_the_arrays():
    opt = SGD(lr=0.1, momentum=0.9)
    params = {"w": P0.copy()}
    opt.step(params, {"w": G1.copy()})
    state = {k: np.array(v) for k, v in opt.state_dict().items()}
    fresh = SGD(lr=0.1, momentum=0.9)
    fresh.load_state_dict(state)
    state["w/velocity"][:] = 1e9  # changing the dict afterwards must not reach into the optimizer
    np.testing.assert_array_equal(fresh.state["w"]["velocity"], G1)


def test_state_dict_lists_every_slot():
    opt = Adam(lr=0.1)
    opt.step({"a": P0.copy(), "b": P0[:2].copy()}, {"a": G1.copy(), "b": G1[:2].copy()})
    assert sorted(opt.state_dict()) == ["a/m", "a/v", "b/m", "b/v", "t"]
    assert int(opt.state_dict()["t"]) == 1


# ----------------------------------------------------------------------------------------------------------------------
# Gradient clipping.
# ----------------------------------------------------------------------------------------------------------------------


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = np.array([3.0, 4.0]), np.array([[12.0]])  # global norm sqrt(9 + 16 + 144) = 13
    grads = {"a": a, "b": b}
    norm = clip_grad_norm(grads, max_norm=6.5)
    assert norm == 13.0  # the norm *before* clipping is returned
    assert grads["a"] is a and grads["b"] is b  # in place: model.grads are the layers' own arrays
    np.testing.assert_allclose(a, [1.5, 2.0])  # every array scaled by the same 6.5 / 13 = 0.5
    np.testing.assert_allclose(b, [[6.0]])
    assert np.sqrt(np.sum(a**2) + np.sum(b**2)) == pytest.approx(6.5, rel=1e-12)


def test_clip_grad_norm_leaves_small_gradients_alone():
    a, b = np.array([3.0, 4.0]), np.array([[12.0]])
    norm = clip_grad_norm({"a": a, "b": b}, max_norm=20.0)
    assert norm == 13.0
    np.testing.assert_array_equal(a, [3.0, 4.0])
    np.testing.assert_array_equal(b, [[12.0]])
    assert clip_grad_norm({"a": a, "b": b}, max_norm=13.0) == 13.0  # exactly at the bound: unchanged too
    np.testing.assert_array_equal(a, [3.0, 4.0])


def test_clip_grad_norm_float32():
    g = {"w": np.full(100, 10.0, np.float32)}  # norm 100
    assert clip_grad_norm(g, 1.0) == pytest.approx(100.0)
    assert g["w"].dtype == np.float32
    assert float(np.linalg.norm(g["w"])) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("max_norm", [0.0, -1.0, float("nan")])
def test_clip_grad_norm_rejects_a_max_norm_that_is_not_positive(max_norm):
    g = {"w": np.array([3.0, 4.0])}
    with pytest.raises(ValueError, match="max_norm must be positive"):
        clip_grad_norm(g, max_norm)
    np.testing.assert_array_equal(g["w"], [3.0, 4.0])


# ----------------------------------------------------------------------------------------------------------------------
# Errors.
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSProp, Adam, AdamW])
@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan")])
def test_bad_learning_rate(cls, lr):
    with pytest.raises(ValueError, match="learning rate must be positive"):
        cls(lr=lr)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.999)])
def test_adam_bad_betas(betas):
    with pytest.raises(ValueError, match=r"betas must lie in \[0, 1\)"):
        Adam(lr=0.1, betas=betas)


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        SGD(lr=0.1, nesterov=True)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_mismatched_keys(name):
    with pytest.raises(ValueError, match=r"same keys.*\['b', 'c'\]"):
        OPTIMIZERS[name]().step({"a": P0.copy(), "b": P0.copy()}, {"a": G1.copy(), "c": G1.copy()})


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_mismatched_gradient_shape_or_dtype(name):
    with pytest.raises(ValueError, match=r"gradient of 'w' has shape \(2,\).*parameter has \(3,\)"):
        OPTIMIZERS[name]().step({"w": P0.copy()}, {"w": G1[:2].copy()})
    with pytest.raises(ValueError, match=r"gradient of 'w' has shape \(3,\) and dtype float32.*float64"):
        OPTIMIZERS[name]().step({"w": P0.copy()}, {"w": G1.astype(np.float32)})


def test_loaded_state_of_another_shape_is_refused():
    """A state saved for other parameters must fail with a message, not update with out-of-bounds reads."""
    for make in (lambda: Adam(lr=0.1), lambda: SGD(lr=0.1, momentum=0.9), lambda: RMSProp()):
        opt = make()
        opt.step({"w": np.zeros(5)}, {"w": np.ones(5)})
        other = make()
        other.load_state_dict(opt.state_dict())
        with pytest.raises(ValueError, match=r"optimizer state w/\w+ has shape \(5,\), but the parameter has \(3,\)"):
            other.step({"w": P0.copy()}, {"w": G1.copy()})


def test_load_state_dict_with_a_slot_of_another_optimizer():
    with pytest.raises(ValueError, match="has slot 'velocity', but Adam has"):
        Adam().load_state_dict({"t": np.array(3), "w/velocity": np.zeros(3)})


def test_make_optimizer():
    opt = make_optimizer("adamw", lr=3e-4, weight_decay=0.1)
    assert isinstance(opt, AdamW) and opt.lr == 3e-4 and opt.weight_decay == 0.1
    assert isinstance(make_optimizer("sgd", lr=0.1, momentum=0.9), SGD)
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'; choose one of \['adagrad', 'adam'"):
        make_optimizer("adamm")


# ----------------------------------------------------------------------------------------------------------------------
# Optional: the same steps in PyTorch (not a dependency; skipped when it is not installed).
# ----------------------------------------------------------------------------------------------------------------------

TORCH_EQUIVALENTS = {  # minivae name -> (torch class name, torch keyword arguments)
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.1, momentum=0.9)),
    "sgd_nesterov": ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adagrad": ("Adagrad", dict(lr=0.1, eps=1e-10)),
    "rmsprop": ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-8)),
    "adam": ("Adam", dict(lr=0.1)),
    "adam_l2": ("Adam", dict(lr=0.1, weight_decay=0.05)),
    "adamw": ("AdamW", dict(lr=0.1, weight_decay=0.01)),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_same_steps_as_pytorch(name):
    torch = pytest.importorskip("torch")
    cls_name, kwargs = TORCH_EQUIVALENTS[name]
    w = torch.tensor(P0.copy(), dtype=torch.float64, requires_grad=True)
    torch_opt = getattr(torch.optim, cls_name)([w], **kwargs)
    ours = OPTIMIZERS[name]()
    params = {"w": P0.copy()}
    for g in gradient_stream(5):
        grad = g["layer.b"]
        w.grad = torch.tensor(grad, dtype=torch.float64)
        torch_opt.step()
        ours.step(params, {"w": grad.copy()})
        np.testing.assert_allclose(params["w"], w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_a_bad_step_changes_nothing():
    from minivae.nn.optim import Adam

    params = {"a": np.ones(3, dtype=np.float32), "b": np.ones(2, dtype=np.float32)}
    grads = {"a": np.ones(3, dtype=np.float32), "b": np.ones(4, dtype=np.float32)}  # "b" has the wrong shape
    opt = Adam(lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        opt.step(params, grads)
    assert opt.t == 0 and opt.state == {} and np.all(params["a"] == 1)
