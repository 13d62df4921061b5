"""The factorized entropy model: gradients (finite differences, torch), density, medians, pmfs."""

import math

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.nn.entropy_bottleneck import EntropyBottleneck, logits_backward, logits_forward


def _model(channels=3, seed=0, dtype="float64"):
    model = EntropyBottleneck(channels, rng=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    for p in model.parameters():  # move away from the symmetric initial values
        p.data += rng.normal(0, 0.3, p.shape)
    return model


def test_logits_backward_matches_finite_differences():
    model = _model()
    arrays = model._arrays()
    x = np.random.default_rng(2).normal(0, 3, (3, 1, 5))
    g = np.random.default_rng(3).normal(size=(3, 1, 5))
    _, cache = logits_forward(x, *arrays)
    dx, dmatrices, dbiases, dfactors = logits_backward(g, cache)

    def loss():
        return float((logits_forward(x, *arrays)[0] * g).sum())

    numeric = nn.numerical_gradient(lambda _: loss(), x)
    assert np.max(np.abs(numeric - dx) / np.maximum(np.abs(numeric) + np.abs(dx), 1e-12)) < 1e-6
    for array, analytic in zip(arrays[0] + arrays[1] + arrays[2],
                               dmatrices + dbiases + dfactors, strict=True):
        numeric = nn.numerical_gradient(lambda _: loss(), array)
        err = np.abs(numeric - analytic) / np.maximum(np.abs(numeric) + np.abs(analytic), 1e-12)
        assert err.max() < 1e-6


def test_cumulative_is_monotone_and_spans_zero_to_one():
    model = _model(channels=4, seed=5)
    x = np.linspace(-200, 200, 4001)
    logits = model.logits(np.tile(x, (4, 1)))
    assert (np.diff(logits, axis=1) > 0).all()
    assert (logits[:, 0] < -5).all() and (logits[:, -1] > 5).all()


def test_likelihoods_sum_to_one_over_the_integers():
    model = _model(channels=2, seed=7).eval()
    pmfs, offsets, medians = model.pmfs(tail_mass=1e-9)
    for pmf in pmfs:
        assert math.isclose(pmf.sum(), 1.0, abs_tol=1e-6)
    # the median splits the mass in two
    assert np.allclose(1 / (1 + np.exp(-model.logits(medians[:, None])[:, 0])), 0.5, atol=1e-9)
    assert offsets.dtype == np.int64 and (offsets < 0).all()


def test_eval_rounds_around_the_medians():
    model = _model(channels=2, seed=9).eval()
    y = np.random.default_rng(0).normal(0, 4, (2, 2, 3, 3))
    y_hat, likelihoods = model.forward(y)
    medians = model.medians().reshape(1, 2, 1, 1)
    assert np.allclose(y_hat - medians, np.rint(y - medians))
    assert likelihoods.shape == y.shape and (likelihoods > 0).all() and (likelihoods <= 1).all()


def test_training_noise_is_uniform_and_seeded():
    y = np.zeros((4, 2, 8, 8))
    a, _ = _model(channels=2, seed=1).train().forward(y)
    b, _ = _model(channels=2, seed=1).train().forward(y)
    assert np.array_equal(a, b)
    assert a.min() >= -0.5 and a.max() <= 0.5 and a.std() > 0.2


def test_decoder_rounding_rounds_for_the_decoder_and_keeps_the_noisy_rate():
    y = np.random.default_rng(2).normal(0, 3, (2, 2, 4, 4))
    noisy = _model(channels=2, seed=3).train()
    mixed = _model(channels=2, seed=3).train()
    mixed.decoder_rounding = True
    y_noisy, rate_noisy = noisy.forward(y)
    y_mixed, rate_mixed = mixed.forward(y)
    medians = mixed.medians().reshape(1, 2, 1, 1)
    assert np.allclose(y_mixed - medians, np.rint(y - medians))  # what decoding will see
    assert not np.allclose(y_mixed, y_noisy)
    assert np.array_equal(rate_mixed, rate_noisy)  # same noise, same rate term
    g_hat, g_rate = np.random.default_rng(4).normal(size=(2, *y.shape))
    # straight through: the decoder's gradient reaches y unchanged, the rate's path as before
    assert np.allclose(mixed.backward(g_hat, g_rate), noisy.backward(g_hat, g_rate))
    assert np.allclose(mixed.backward(g_hat, None), g_hat)


def test_module_gradcheck_through_the_likelihoods():
    model = _model(channels=2, seed=11).eval()  # eval: no noise, so forward is deterministic
    model.medians = lambda: np.zeros(2)  # rounding is piecewise constant: check at fixed bins
    y = np.random.default_rng(4).normal(0, 2, (1, 2, 2, 2))
    g = np.random.default_rng(5).normal(size=y.shape)

    def rate():
        model.zero_grad()
        _, likelihoods = model.forward(y)
        return float((likelihoods * g).sum())

    model.forward(y)
    model.zero_grad()
    model.backward(np.zeros_like(y), g)
    analytic = [p.grad.copy() for p in model.parameters()]
    for p, a in zip(model.parameters(), analytic, strict=True):
        numeric = nn.numerical_gradient(lambda _: rate(), p.data, eps=1e-4)
        err = np.abs(numeric - a) / np.maximum(np.abs(numeric) + np.abs(a), 1e-12)
        assert err.max() < 1e-6


def test_matches_torch_reference():
    torch = pytest.importorskip("torch")
    model = _model(channels=3, seed=13).train()
    y = np.random.default_rng(6).normal(0, 3, (2, 3, 4, 4))
    y_hat, likelihoods = model.forward(y)
    g = np.random.default_rng(7).normal(size=y.shape)
    model.zero_grad()
    dy = model.backward(np.zeros_like(y), g)

    params = [torch.tensor(p.data, requires_grad=True) for p in model.parameters()]
    k = len(model.matrices)
    matrices, biases, factors = params[:k], params[k:2 * k], params[2 * k:]
    t_y = torch.tensor(y, requires_grad=True)
    values = (t_y + torch.tensor(y_hat - y)).permute(1, 0, 2, 3).reshape(3, 1, -1)

    def logits(v):
        for i in range(k):
            v = torch.matmul(torch.nn.functional.softplus(matrices[i]), v) + biases[i]
            if i < k - 1:
                v = v + torch.tanh(factors[i]) * torch.tanh(v)
        return v

    upper, lower = logits(values + 0.5), logits(values - 0.5)
    sign = -torch.sign(upper + lower).detach()
    lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
    lik = lik.reshape(3, 2, 4, 4).permute(1, 0, 2, 3)
    assert np.allclose(lik.detach().numpy(), likelihoods, rtol=1e-10, atol=1e-12)
    (lik * torch.tensor(g)).sum().backward()
    assert np.allclose(t_y.grad.numpy(), dy, rtol=1e-8, atol=1e-12)
    for p, t in zip(model.parameters(), params, strict=True):
        assert np.allclose(p.grad, t.grad.numpy(), rtol=1e-8, atol=1e-12)
