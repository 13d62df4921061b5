"""The conditional patch discriminator of gan2017: shapes, gradients (float64 finite
differences, both inputs and every parameter) and its pieces against torch."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch import nn
from fromscratch.codecs.gan2017 import PatchDiscriminator
from fromscratch.codecs.gan2017.discriminator import upsample_nearest, upsample_nearest_backward


def _randn(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _small(spectral_norm=True):
    return PatchDiscriminator(3, widths=(2, 3, 4), latent_width=2, spectral_norm=spectral_norm,
                              rng=0, dtype="float64")


def test_shapes_and_one_logit_per_8x8_block():
    d = PatchDiscriminator(rng=0)
    logits = d(np.zeros((2, 3, 64, 48), np.float32), np.zeros((2, 96, 4, 3), np.float32))
    assert logits.shape == (2, 1, 8, 6) and logits.dtype == np.float32
    assert len(d.spectral_layers()) == 5
    with pytest.raises(ValueError, match="y_hat"):
        d(np.zeros((2, 3, 64, 48), np.float32), np.zeros((2, 96, 4, 4), np.float32))
    with pytest.raises(ValueError, match="multiples of 16"):
        d(np.zeros((2, 3, 60, 48), np.float32), np.zeros((2, 96, 4, 3), np.float32))


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_gradcheck_both_inputs_and_all_parameters(spectral_norm):
    d = _small(spectral_norm).eval()  # eval: spectral norm's u, v stay fixed between calls
    # tol 1e-4, not 1e-6: with three LeakyReLU layers a few input pixels reach the output only
    # through weak paths, and their gradients (~1e-6 of the largest) carry relative rounding
    # noise of a few 1e-6; a real mistake shows up as errors of order 1.
    result = nn.gradcheck(d, [_randn((1, 3, 16, 32), 1), _randn((1, 3, 1, 2), 2)], tol=1e-4)
    assert result.ok, str(result)
    assert {"input0", "input1"} <= set(result.errors)
    assert len(result.errors) == 2 + len(d.parameters())


def test_upsample_nearest_pair_gradcheck_and_torch():
    x = _randn((2, 3, 2, 3), 3)
    result = nn.gradcheck((lambda a: upsample_nearest(a, 2),
                           lambda g, _: (upsample_nearest_backward(g, 2),)), [x])
    assert result.ok, str(result)
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=2, mode="nearest")
    np.testing.assert_array_equal(upsample_nearest(x, 2), ref.numpy())


def test_discriminator_matches_torch_without_spectral_norm():
    """The same layout in torch, weights copied: output and both input gradients agree."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    d = _small(spectral_norm=False)
    x, y = _randn((2, 3, 32, 16), 4), _randn((2, 3, 2, 1), 5)
    params = {name: torch.from_numpy(p.data) for name, p in d.named_parameters()}
    xt, yt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(y).requires_grad_(True)
    h = xt
    for i in range(3):
        h = F.leaky_relu(F.conv2d(h, params[f"image_path.{2 * i}.weight"],
                                  params[f"image_path.{2 * i}.bias"], stride=2, padding=1), 0.2)
    lat = F.leaky_relu(F.conv2d(yt, params["latent_path.0.weight"],
                                params["latent_path.0.bias"]), 0.2)
    lat = F.interpolate(lat, scale_factor=2, mode="nearest")
    out_t = F.conv2d(torch.cat([h, lat], 1), params["head.weight"], params["head.bias"])
    g = _randn(tuple(out_t.shape), 6)
    out_t.backward(torch.from_numpy(g))
    out = d(x, y)
    dx, dy = d.backward(g)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dy, yt.grad.numpy(), rtol=1e-10, atol=1e-12)
