"""Inference in bounded memory: no_grad keeps no caches, banded convolutions equal whole-image
ones, GDN in place, and the memory estimate bounds what a forward pass really allocates."""

import tracemalloc

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.nn.conv import conv2d_forward, conv_transpose2d_forward
from fromscratch.nn.conv_banded import BAND_BYTES, band_rows, input_rows
from fromscratch.nn.gdn import gdn_forward, gdn_inference

# (H, W, kernel, stride, padding, output_padding of the transposed layer): odd sizes, strides
# 1-3, padding 0 to beyond half the kernel, non-square kernels and strides
GEOMETRIES = [
    (13, 17, 5, 2, 2, 1),
    (9, 11, 3, 1, 0, 0),
    (10, 7, (4, 3), (3, 2), (1, 2), (2, 1)),
    (5, 6, 5, 2, 3, 0),
    (31, 8, 3, 2, 1, 1),
    (1, 9, 1, 1, 0, 0),
]
# many one-row bands, a few bands, one band
BUDGETS = [1, 3000, 10**9]


def _arrays(rng, shape, w_shape, bias):
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32) if bias else None
    return x, w, b


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("band_bytes", BUDGETS)
def test_banded_conv2d_equals_the_whole_image(geometry, band_bytes):
    h, w, kernel, stride, padding, _ = geometry
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    rng = np.random.default_rng(h * w)
    for bias in (True, False):
        x, weight, b = _arrays(rng, (2, 3, h, w), (4, 3, *k), bias)
        whole, _ = conv2d_forward(x, weight, b, stride, padding)
        banded, cache = conv2d_forward(x, weight, b, stride, padding, band_bytes=band_bytes)
        assert banded.shape == whole.shape and "cols" not in cache
        np.testing.assert_allclose(banded, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("band_bytes", BUDGETS)
def test_banded_conv_transpose2d_equals_the_whole_image(geometry, band_bytes):
    h, w, kernel, stride, padding, output_padding = geometry
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    rng = np.random.default_rng(h + w)
    for bias in (True, False):
        x, weight, _ = _arrays(rng, (2, 3, h, w), (3, 4, *k), False)
        b = rng.standard_normal(4).astype(np.float32) if bias else None
        whole, _ = conv_transpose2d_forward(x, weight, b, stride, padding, output_padding)
        banded, _ = conv_transpose2d_forward(x, weight, b, stride, padding, output_padding,
                                             band_bytes=band_bytes)
        assert banded.shape == whole.shape
        np.testing.assert_allclose(banded, whole, rtol=1e-5, atol=1e-5)


def test_banded_forward_still_has_a_backward_pass():
    """Eval mode runs banded; a gradient asked for anyway equals the training path's."""
    rng = np.random.default_rng(1)
    for layer, shape in ((nn.Conv2d(3, 4, 5, stride=2, padding=2, rng=0), (2, 3, 11, 9)),
                         (nn.ConvTranspose2d(3, 4, 5, stride=2, padding=2, output_padding=1,
                                             rng=0), (2, 3, 5, 7))):
        x = rng.standard_normal(shape).astype(np.float32)
        out = layer.train()(x)
        g = rng.standard_normal(out.shape).astype(np.float32)
        layer.zero_grad()
        dx = layer.backward(g)
        dw = layer.weight.grad.copy()
        layer.eval().zero_grad()
        np.testing.assert_allclose(layer(x), out, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.backward(g), dx, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(layer.weight.grad, dw, rtol=1e-5, atol=1e-4)


def test_band_rows_and_input_rows():
    assert band_rows(10, 35, 100) == 3 and band_rows(10, 5, 100) == 1
    assert band_rows(10, 10**6, 7) == 7 and band_rows(0, 5, 4) == 4
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    slab = input_rows(x, -2, 6)
    assert slab.shape == (2, 3, 8, 5)
    assert not slab[:, :, :2].any() and not slab[:, :, 6:].any()
    np.testing.assert_array_equal(slab[:, :, 2:6], x)
    assert np.shares_memory(input_rows(x, 1, 3), x)  # inside the image: a view, no copy
    assert not input_rows(x, 5, 7).any()             # wholly outside: zeros


# --- no_grad ------------------------------------------------------------------------------------


def _layers():
    return [nn.Linear(4, 3, rng=0), nn.Tanh(), nn.ReLU(), nn.Conv2d(2, 3, 3, padding=1, rng=0),
            nn.ConvTranspose2d(2, 3, 3, stride=2, rng=0), nn.GDN(2), nn.IGDN(2),
            nn.EntropyBottleneck(2, rng=0).eval()]


def _input(layer):
    rng = np.random.default_rng(0)
    if isinstance(layer, (nn.Linear, nn.Tanh, nn.ReLU)):
        return rng.standard_normal((5, 4)).astype(np.float32)
    return rng.standard_normal((2, 2, 6, 5)).astype(np.float32)


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_no_grad_keeps_no_cache_and_backward_says_why(layer):
    x = _input(layer)
    expected = layer(x)
    with nn.no_grad():
        assert not nn.is_grad_enabled()
        out = layer(x)
    assert nn.is_grad_enabled()
    for got, want in zip(out if isinstance(out, tuple) else (out,),
                         expected if isinstance(expected, tuple) else (expected,), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert layer._cache is nn.module.NO_CACHE
    grad = np.ones_like(out[0] if isinstance(out, tuple) else out)
    with pytest.raises(RuntimeError, match="no_grad"):
        layer.backward(grad)
    layer(x)  # a forward pass outside no_grad makes backward legal again
    layer.backward(grad)


def test_backward_before_any_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.GDN(2).backward(np.zeros((1, 2, 1, 1), np.float32))


def test_no_grad_nests_and_is_restored_after_an_exception():
    with nn.no_grad():
        with nn.no_grad():
            pass
        assert not nn.is_grad_enabled()
    assert nn.is_grad_enabled()
    with pytest.raises(KeyError), nn.no_grad():
        raise KeyError
    assert nn.is_grad_enabled()


def _analysis(channels=4):
    return nn.Sequential(nn.Conv2d(3, channels, 5, stride=2, padding=2, rng=0), nn.GDN(channels),
                         nn.Conv2d(channels, channels, 5, stride=2, padding=2, rng=1),
                         nn.GDN(channels), nn.Identity(), nn.GDN(channels, inverse=True))


def test_sequential_overwrites_only_what_it_owns():
    net = _analysis()
    x = np.random.default_rng(2).random((2, 3, 21, 18), dtype=np.float32)
    expected = net(x)
    x_before = x.copy()
    with nn.no_grad():
        out = net(x)
        # GDN first in line gets the caller's array: it must allocate, never overwrite it
        first = nn.Sequential(nn.GDN(3))
        y = first(x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, nn.GDN(3)(x), rtol=1e-6)


def test_gdn_inference_matches_gdn_forward_in_place_and_banded():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 5)).astype(np.float32)
    beta = rng.uniform(0.5, 1.5, 3).astype(np.float32)
    gamma = rng.uniform(0, 0.3, (3, 3)).astype(np.float32)
    for inverse in (False, True):
        expected, _ = gdn_forward(x, beta, gamma, inverse)
        for band_bytes in (1, 200, BAND_BYTES):
            np.testing.assert_allclose(gdn_inference(x, beta, gamma, inverse,
                                                     band_bytes=band_bytes), expected, rtol=1e-6)
        y = x.copy()
        assert gdn_inference(y, beta, gamma, inverse, out=y, band_bytes=100) is y
        np.testing.assert_allclose(y, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="out must be"):
        gdn_inference(x, beta, gamma, out=np.empty((2, 3, 7, 5), np.float64))


# --- the memory estimate ------------------------------------------------------------------------


def test_output_shapes_follow_the_layers():
    from fromscratch.nn.memory import output_shape

    assert output_shape(_analysis(), (1, 3, 33, 17)) == (1, 4, 9, 5)
    up = nn.ConvTranspose2d(4, 3, 5, stride=2, padding=2, output_padding=1)
    assert output_shape(up, (1, 4, 9, 5)) == (1, 3, 18, 10)
    with pytest.raises(TypeError, match="no memory model"):
        nn.inference_peak_bytes(nn.Sequential(nn.MSELoss()), (1, 3, 8, 8))


def test_the_estimate_bounds_the_memory_a_forward_pass_allocates():
    """tracemalloc sees NumPy's allocations: the peak stays under the estimate, and the estimate
    is not a blanket figure (at this size the band buffers fill their budget: within 25 %)."""
    net = _analysis(channels=16)
    shape = (1, 3, 600, 800)
    x = np.random.default_rng(4).random(shape, dtype=np.float32)
    with nn.no_grad():
        net(x[:, :, :40, :40])  # compile and warm up outside the measurement
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        net(x)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    held = x.nbytes  # the caller's input, allocated before the measurement
    estimate = nn.inference_peak_bytes(net, shape)
    assert peak + held <= estimate
    assert estimate <= 1.25 * (peak + held)
    assert nn.inference_peak_bytes(net, shape, input_held=False) < estimate
