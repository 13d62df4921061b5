"""GDN / IGDN: gradients against finite differences and against the same formula in torch
(written here, test-only: no compressai), and the non-negative reparameterisation."""

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.backend import available_backends
from fromscratch.nn.gdn import (
    GDN,
    IGDN,
    gdn_backward,
    gdn_forward,
    lower_bound_backward,
    nonnegative_forward,
)


def away_from_bounds(layer, rng):
    """Random parameters well above their lower bounds, where the gradient is the exact one."""
    c = layer.channels
    layer.beta_param.data[...] = rng.uniform(0.7, 1.5, c)
    layer.gamma_param.data[...] = rng.uniform(0.05, 0.5, (c, c))
    return layer


def torch_gdn(torch, x, beta, gamma, inverse):
    """The formula, written with torch ops: norm = conv1x1(x^2, gamma) + beta."""
    norm = torch.nn.functional.conv2d(x * x, gamma[:, :, None, None], beta)
    return x * torch.sqrt(norm) if inverse else x / torch.sqrt(norm)


def torch_lower_bound(torch):
    """Ballé's / CompressAI's lower bound: max in forward; the gradient passes where x >= bound
    or where it would push x up."""

    class LowerBound(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, bound):
            ctx.save_for_backward(x)
            ctx.bound = bound
            return torch.clamp(x, min=bound)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return torch.where((x >= ctx.bound) | (grad < 0), grad, torch.zeros_like(grad)), None

    return LowerBound.apply


# --- the functional pair ------------------------------------------------------------------------


@pytest.mark.parametrize("inverse", [False, True])
def test_functional_gradcheck(inverse):
    rng = np.random.default_rng(0)
    c = 4
    inputs = [rng.standard_normal((2, c, 3, 5)), rng.uniform(0.5, 2, c),
              rng.uniform(0, 0.5, (c, c))]

    def forward(x, beta, gamma):
        return gdn_forward(x, beta, gamma, inverse)[0]

    def backward(dout, xs):
        return gdn_backward(dout, gdn_forward(*xs, inverse)[1])

    # eps 1e-5: some entries of dx are small (~3e-3, a difference of two terms), and at 1e-6 the
    # rounding error of the difference quotient alone is ~1e-6 of them
    result = nn.gradcheck((forward, backward), inputs, eps=1e-5)
    assert result.ok, str(result)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("inverse", [False, True])
def test_functional_against_torch(dtype, rtol, inverse):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for n, c, h, w in [(2, 5, 4, 3), (3, 16, 8, 8), (1, 1, 2, 2)]:
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        beta = rng.uniform(0.1, 2, c).astype(dtype)
        gamma = rng.uniform(0, 0.5, (c, c)).astype(dtype)
        g = rng.standard_normal(x.shape).astype(dtype)
        out, cache = gdn_forward(x, beta, gamma, inverse)
        grads = gdn_backward(g, cache)
        tx, tb, tg = (torch.tensor(a, requires_grad=True) for a in (x, beta, gamma))
        t_out = torch_gdn(torch, tx, tb, tg, inverse)
        t_out.backward(torch.tensor(g))
        for ours, theirs in zip((out, *grads), (t_out.detach(), tx.grad, tb.grad, tg.grad),
                                strict=True):
            theirs = theirs.numpy()
            assert ours.dtype == dtype and ours.shape == theirs.shape
            assert np.abs(ours - theirs).max() <= rtol * np.abs(theirs).max()


# --- the module -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [GDN, IGDN])
def test_module_gradcheck_away_from_the_bound(cls):
    rng = np.random.default_rng(2)
    layer = away_from_bounds(cls(3, dtype="float64"), rng)
    result = nn.gradcheck(layer, [rng.standard_normal((2, 3, 4, 3))], eps=1e-5)
    assert result.ok, str(result)
    assert set(result.errors) == {"input0", "beta_param", "gamma_param"}


@pytest.mark.parametrize("at_init", [True, False])
@pytest.mark.parametrize("inverse", [False, True])
def test_module_against_torch_with_reparameterisation(at_init, inverse):
    """Forward and every gradient, through the reparameterisation and the lower bound. At
    initialisation the off-diagonal gammas sit exactly on their bound: the rule must let their
    gradient through, as CompressAI's LowerBound does."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    layer = GDN(6, inverse=inverse, dtype="float64")
    if not at_init:
        away_from_bounds(layer, rng)
        layer.gamma_param.data[0, 1] = 1e-7  # one entry below its bound
    x = rng.standard_normal((2, 6, 5, 4))
    g = rng.standard_normal(x.shape)
    out = layer(x)
    dx = layer.backward(g)

    lower_bound = torch_lower_bound(torch)
    tx = torch.tensor(x, requires_grad=True)
    tbeta = torch.tensor(layer.beta_param.data, requires_grad=True)
    tgamma = torch.tensor(layer.gamma_param.data, requires_grad=True)
    beta = lower_bound(tbeta, layer.beta_bound) ** 2 - layer.pedestal
    gamma = lower_bound(tgamma, layer.gamma_bound) ** 2 - layer.pedestal
    t_out = torch_gdn(torch, tx, beta, gamma, inverse)
    t_out.backward(torch.tensor(g))
    pairs = [(out, t_out.detach()), (dx, tx.grad), (layer.beta_param.grad, tbeta.grad),
             (layer.gamma_param.grad, tgamma.grad)]
    for ours, theirs in pairs:
        theirs = theirs.numpy()
        assert np.abs(ours - theirs).max() <= 1e-12 * np.abs(theirs).max()
    if at_init:  # off-diagonal gammas start on the bound and still learn
        assert np.count_nonzero(layer.gamma_param.grad) == 36


def test_reparameterisation_round_trips_initial_values():
    for dtype, tol in (("float64", 1e-15), ("float32", 1e-7)):
        layer = GDN(5, gamma_init=0.1, dtype=dtype)
        assert layer.beta_param.dtype == np.dtype(dtype)
        np.testing.assert_allclose(layer.beta, np.ones(5), rtol=tol, atol=tol)
        np.testing.assert_allclose(layer.gamma, 0.1 * np.eye(5), rtol=tol, atol=tol)
    layer = GDN(3, reparam_offset=2**-18)
    pedestal = 2.0**-36
    assert layer.pedestal == pedestal
    assert layer.beta_bound == np.sqrt(1e-6 + pedestal)
    assert layer.gamma_bound == 2.0**-18
    # off-diagonal parameters are stored exactly at the bound: effective gamma is exactly 0
    assert np.all(layer.gamma[~np.eye(3, dtype=bool)] == 0)


def test_effective_values_never_leave_their_range():
    layer = GDN(4, beta_min=1e-3, dtype="float64")
    layer.beta_param.data[...] = [-3.0, 0.0, 1e-9, 2.0]
    layer.gamma_param.data[...] = -1.0
    assert np.all(layer.beta >= 1e-3 - 1e-15)
    assert np.all(layer.gamma >= 0)
    np.testing.assert_allclose(nonnegative_forward(np.array([2.0]), 0.5, 0.25), [3.75])


def test_lower_bound_gradient_rule():
    param = np.array([-1.0, -1.0, 0.5, 0.5, 2.0, 2.0])
    grad = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    # below the bound (0.5): only a gradient that raises the parameter (grad < 0) passes;
    # at and above the bound: the exact gradient of max(p, bound), 1
    expected = np.array([0.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal(lower_bound_backward(grad, param, 0.5), expected)


def test_gdn_and_igdn_are_inverse_without_cross_terms():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4, 4))
    gdn, igdn = GDN(3, gamma_init=0.0, dtype="float64"), IGDN(3, gamma_init=0.0, dtype="float64")
    beta = rng.uniform(0.5, 2, 3)
    for layer in (gdn, igdn):
        layer.beta_param.data[...] = np.sqrt(beta + layer.pedestal)
    np.testing.assert_allclose(igdn(gdn(x)), x, rtol=1e-12)
    np.testing.assert_allclose(gdn(x), x / np.sqrt(beta)[None, :, None, None], rtol=1e-12)
    assert igdn.inverse and not gdn.inverse


def test_module_bookkeeping_and_dtype():
    layer = GDN(8)
    assert [name for name, _ in layer.named_parameters()] == ["beta_param", "gamma_param"]
    x = np.random.default_rng(5).standard_normal((2, 8, 4, 4))  # float64 into a float32 layer
    out = layer(x)
    assert out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert layer.gamma_param.grad.dtype == np.float32
    state = layer.state_dict()
    assert set(state) == {"beta_param", "gamma_param"}
    assert "inverse=False" in repr(layer) and "inverse=True" in repr(IGDN(2))
    with pytest.raises(ValueError, match="does not match"):
        layer(np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        GDN(2).backward(np.zeros((1, 2, 1, 1), np.float32))
    with pytest.raises(ValueError, match="beta_min"):
        GDN(2, beta_min=0.0)


@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a GPU")
def test_cupy_matches_numpy():
    import cupy

    rng = np.random.default_rng(6)
    layer = away_from_bounds(GDN(6), rng)
    x = rng.standard_normal((2, 6, 8, 8)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    out, dx = layer(x), layer.backward(g)
    grads = [p.grad.copy() for p in layer.parameters()]
    layer.zero_grad()
    layer.to("cupy")
    np.testing.assert_allclose(layer(cupy.asarray(x)).get(), out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.backward(cupy.asarray(g)).get(), dx, rtol=1e-4, atol=1e-5)
    for p, expected in zip(layer.parameters(), grads, strict=True):
        np.testing.assert_allclose(p.grad.get(), expected, rtol=1e-4, atol=1e-4)
