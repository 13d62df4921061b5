"""The Gaussian conditional: erfc, likelihood and its gradients (finite differences, torch),
floors, the scale table and its pmfs."""

import math

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.nn.gaussian_conditional import (
    GaussianConditional,
    erfc,
    gaussian_likelihood_backward,
    gaussian_likelihood_forward,
    gaussian_pmfs,
    scale_indexes,
    scale_table,
    standard_normal_cdf,
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erfc_matches_math_erfc(dtype):
    x = np.concatenate([np.linspace(-6, 10, 4001), [0.0, -0.0, 26.0, 27.0, -30.0]])
    ours = erfc(x.astype(dtype)).astype(np.float64)
    exact = np.array([math.erfc(v) for v in x.astype(dtype).astype(np.float64)])
    assert ours.dtype == np.float64 and erfc(x.astype(dtype)).dtype == dtype
    tiny = np.finfo(dtype).tiny
    relative = np.abs(ours - exact) / np.maximum(exact, tiny)
    # Numerical Recipes' bound, 1.2e-7; float32 arithmetic adds a few ulps (6e-8) in the
    # polynomial and about x^2 ulps in exp's argument -x^2
    bound = 1.2e-7 + (0 if dtype == np.float64 else 5e-7 * (1 + x * x))
    assert (relative < bound)[exact > 1e3 * tiny].all()  # not among the subnormals


def test_lower_tail_keeps_its_relative_precision_in_float32():
    t = np.array([-5.0, -8.0, -12.0], np.float32)
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in t.astype(np.float64)])
    assert np.allclose(standard_normal_cdf(t), exact, rtol=1e-4, atol=0)
    # the naive 1 - Phi(|t|) is 0 in float32 from t = -8 on
    assert (1 - standard_normal_cdf(-t[1:]) == 0).all()


def test_likelihood_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 3, (3, 4, 5))
    scales = rng.uniform(0.2, 4, (3, 4, 5))
    values[values == 0] = 0.3  # |v| has a kink at 0

    def forward(v, s):
        return gaussian_likelihood_forward(v, s)[0]

    def backward(dout, inputs):
        return gaussian_likelihood_backward(dout, gaussian_likelihood_forward(*inputs)[1])

    # the backward pass differentiates the exact Phi; the forward's erfc is a fit (fractional
    # error 1.2e-7) whose own slope differs from the exact one by about 1e-5
    result = nn.gradcheck((forward, backward), [values, scales], tol=1e-4)
    assert result.ok, result

    # against the exact density (math.erfc, float64) the gradients agree to 1e-6
    def exact(v, s):
        upper, lower = (0.5 - abs(v)) / s, (-0.5 - abs(v)) / s
        return 0.5 * (math.erfc(-upper / math.sqrt(2)) - math.erfc(-lower / math.sqrt(2)))

    g = np.random.default_rng(1).normal(size=values.shape)
    dv, ds = backward(g, [values, scales])
    eps = 1e-6
    for i in np.ndindex(values.shape):
        v, s = float(values[i]), float(scales[i])
        num_v = g[i] * (exact(v + eps, s) - exact(v - eps, s)) / (2 * eps)
        num_s = g[i] * (exact(v, s + eps) - exact(v, s - eps)) / (2 * eps)
        assert abs(dv[i] - num_v) <= 1e-6 * (abs(num_v) + 1e-3), i
        assert abs(ds[i] - num_s) <= 1e-6 * (abs(num_s) + 1e-3), i


def test_module_gradients_match_finite_differences_with_the_floors():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 2, (2, 3, 4, 4))
    y[0, 0, 0, 0] = 14.0                    # on the likelihood floor
    scales = rng.uniform(0.01, 3, y.shape)  # some under the scale floor
    scales[scales < 0.11] = 0.05
    gc = GaussianConditional(rng=3)
    g_y_hat, g_lik = rng.normal(size=y.shape), rng.normal(size=y.shape)

    def loss(y_, s_):
        gc.rng = np.random.default_rng(7)  # the same noise every call
        y_hat, lik = gc.forward(y_, s_)
        return float((y_hat * g_y_hat).sum() + (lik * g_lik).sum())

    loss(y, scales)
    grad_y, grad_s = gc.backward(g_y_hat, g_lik)
    num_y = nn.numerical_gradient(lambda _: loss(y, scales), y)
    num_s = nn.numerical_gradient(lambda _: loss(y, scales), scales)
    assert np.allclose(grad_y, num_y, atol=1e-6)
    # on a floor the finite difference is 0; the analytic gradient passes only when it would
    # raise the value (CompressAI's LowerBound), so compare where the floors are not active
    free = scales >= 0.11
    assert np.allclose(grad_s[free], num_s[free], atol=1e-6)
    floored = ~free
    assert np.all((grad_s[floored] == 0) | (grad_s[floored] < 0))


def test_likelihood_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    values = rng.normal(0, 4, (2, 3, 5, 5)).astype(np.float32)
    scales = rng.uniform(0.05, 8, values.shape).astype(np.float32)
    g = rng.normal(size=values.shape).astype(np.float32)
    gc = GaussianConditional().eval()
    y_hat, lik = gc.forward(values, scales)
    _, grad_s = gc.backward(np.zeros_like(values), g)

    # CompressAI's GaussianConditional._likelihood + LowerBound, written in torch
    v = torch.tensor(values, requires_grad=True)
    s = torch.tensor(scales, requires_grad=True)
    rounded = v + (torch.round(v) - v).detach()
    bounded = torch.maximum(s, torch.tensor(0.11))

    def cdf(t):
        return 0.5 * torch.erfc(-(2**-0.5) * t)

    magnitude = rounded.abs()
    likelihood = cdf((0.5 - magnitude) / bounded) - cdf((-0.5 - magnitude) / bounded)
    likelihood = torch.clamp(likelihood, min=1e-9)
    (likelihood * torch.tensor(g)).sum().backward()
    assert np.allclose(y_hat, np.rint(values))
    assert np.allclose(lik, likelihood.detach().numpy(), rtol=2e-5, atol=1e-9)
    # torch's max/clamp pass no gradient below the floors; compare where neither is active
    active = (scales > 0.11) & (likelihood.detach().numpy() > 1e-9)
    assert np.allclose(grad_s[active], s.grad.numpy()[active], rtol=1e-3, atol=1e-5)


def test_training_noise_and_decoder_rounding():
    y = np.random.default_rng(3).normal(0, 3, (1, 2, 3, 3)).astype(np.float32)
    s = np.ones_like(y)
    gc = GaussianConditional(rng=0)
    noisy, _ = gc.forward(y, s)
    assert np.abs(noisy - y).max() <= 0.5 and not np.allclose(noisy, np.rint(y))
    gc.decoder_rounding = True
    rounded, _ = gc.forward(y, s)
    assert np.array_equal(rounded, np.rint(y))
    grad_y, grad_s = gc.backward(np.ones_like(y), None)
    assert np.array_equal(grad_y, np.ones_like(y))  # straight through
    assert not grad_s.any()


def test_scale_table_indexes_and_pmfs():
    table = scale_table()
    assert table.size == 64 and math.isclose(table[0], 0.11) and math.isclose(table[-1], 256)
    indexes = scale_indexes(np.array([0.0, 0.11, 0.1100001, 1.0, 300.0]), table)
    assert indexes.tolist()[:3] == [0, 0, 1] and indexes[-1] == 63
    assert table[indexes[3]] >= 1.0 > table[indexes[3] - 1]
    pmfs, offsets = gaussian_pmfs(table[[0, 20, 63]])
    for pmf, offset in zip(pmfs, offsets, strict=True):
        assert pmf.size == 2 * -offset + 1
        assert 1 - 1e-8 < pmf.sum() <= 1 + 1e-12
        assert np.allclose(pmf, pmf[::-1])  # symmetric
    # the float32 module agrees with the float64 tables
    lik, _ = gaussian_likelihood_forward(np.arange(-3, 4, dtype=np.float32),
                                         np.full(7, table[20], np.float32))
    centre = -offsets[1]
    assert np.allclose(lik, pmfs[1][centre - 3:centre + 4], rtol=1e-5)
