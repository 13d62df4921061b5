"""Latent refinement (``refine=`` of balle2017 and balle2018): gradients against finite
differences, a lower loss in real bytes on shipped models, the plain decoder, bad requests."""

import math

import numpy as np
import pytest

import fromscratch
from fromscratch import container, data, metrics, nn
from fromscratch.codecs import get_codec
from fromscratch.codecs.balle2017 import codec as balle2017
from fromscratch.codecs.balle2017 import refine
from fromscratch.codecs.balle2017.refine import (
    factorized_rate,
    gaussian_rate,
    refine_latents,
    relaxed_loss,
)
from fromscratch.codecs.balle2018 import codec as balle2018
from fromscratch.codecs.balle2018.model import Balle2018
from fromscratch.nn import gaussian_conditional
from fromscratch.nn.entropy_bottleneck import EntropyBottleneck


@pytest.fixture
def exact_erfc(monkeypatch):
    # the backward pass differentiates the exact Gaussian; compare with the exact erfc (the
    # fitted one's slope is off by ~1e-5, see test_nn_gaussian_conditional)
    monkeypatch.setattr(gaussian_conditional, "erfc",
                        np.vectorize(math.erfc, otypes=[np.float64]))


def test_gaussian_rate_gradient_matches_finite_differences(exact_erfc):
    rng = np.random.default_rng(0)
    scales = rng.uniform(0.2, 3.0, (3, 4, 5))
    values = rng.normal(0, 1, scales.shape) * scales  # off the likelihood's floor
    rate = gaussian_rate(scales)
    bits, grad = rate(values)
    assert np.isclose(bits, -np.log2(gaussian_conditional.gaussian_likelihood_forward(
        values, scales)[0]).sum())
    numeric = nn.numerical_gradient(lambda v: rate(v)[0], values)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_factorized_rate_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    eb = EntropyBottleneck(3, rng=0, dtype="float64", xp=np)
    for p in eb.parameters():  # a density away from its initial symmetric shape
        p.data += rng.normal(0, 0.3, p.shape)
    values = rng.normal(0, 4, (3, 2, 5))
    rate = factorized_rate(eb)
    bits, grad = rate(values)
    likelihood = eb._likelihood_forward(values.reshape(3, 1, -1))[0]
    assert np.isclose(bits, -np.log2(likelihood).sum())
    numeric = nn.numerical_gradient(lambda v: rate(v)[0], values)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    assert all(np.abs(p.grad).max() == 0 for p in eb.parameters())  # read, never trained


def test_relaxed_loss_gradient_matches_finite_differences(exact_erfc):
    rng = np.random.default_rng(2)
    g_s = Balle2018(3, 4, rng=0, dtype="float64", xp=np).g_s.train()
    values = rng.normal(0, 1, (4, 4, 4))
    target = rng.uniform(0, 1, (1, 3, 64, 64))
    rate = gaussian_rate(rng.uniform(0.3, 2.0, values.shape))
    valid = (50, 61)  # the padding must not count

    def loss(v):
        return relaxed_loss(g_s, v, target, valid, 0.01, rate)[0]

    _, grad = relaxed_loss(g_s, values, target, valid, 0.01, rate)
    numeric = nn.numerical_gradient(loss, values)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    moved = target.copy()
    moved[..., 55:, :] += 0.5  # rows of the padding: the loss does not see them
    assert relaxed_loss(g_s, values, moved, valid, 0.01, rate)[0] == loss(values)


def test_a_search_that_does_not_help_keeps_the_analysis_latents():
    rng = np.random.default_rng(3)
    g_s = Balle2018(3, 4, rng=0, xp=np).g_s.eval()
    y = rng.normal(0, 2, (4, 2, 2)).astype(np.float32)
    target = rng.uniform(0, 1, (1, 3, 32, 32)).astype(np.float32)
    rate = gaussian_rate(np.ones(y.shape))
    # a step size that throws the latents far away: the rounded check refuses the result
    y_hat, (start, final) = refine_latents(g_s, y, target, 0.01, rate, iterations=3,
                                           learning_rate=30.0)
    np.testing.assert_array_equal(y_hat, np.rint(y))
    assert start == final and not g_s.training
    for layer in g_s.modules():  # nothing of the search is kept by the (cached) model
        assert getattr(layer, "_cache", None) is None
        assert not getattr(layer, "_workspace", {})
    # on the medians' grid
    offsets = np.full((4, 1, 1), 0.25, np.float32)
    y_hat, _ = refine_latents(g_s, y, target, 0.01, rate, offsets=offsets, iterations=0)
    np.testing.assert_array_equal(y_hat, np.rint(y - 0.25) + 0.25)


def shipped(kind):
    module = {"balle2017": balle2017, "balle2018": balle2018}[kind]
    qualities = module.available_qualities()
    if not qualities:
        pytest.skip(f"no {kind} weights shipped")
    return qualities[0]


@pytest.mark.parametrize("kind", ["balle2017", "balle2018"])
def test_refinement_lowers_the_codecs_loss_in_real_bytes(kind):
    quality = shipped(kind)
    image = data.sample_image()[1][:96, :160]
    pixels = image.shape[0] * image.shape[1]
    plain = get_codec(kind, quality=quality)
    lmbda = plain.model().hyperparams["lmbda"]
    assert plain.encode(image) == get_codec(kind, quality=quality, refine=0).encode(image)
    losses = []
    for iterations in (0, 8):
        stream = get_codec(kind, quality=quality, refine=iterations).encode(image)
        decoded = plain.decode(stream + b"junk")  # the plain decoder reads it
        mse = np.mean((decoded.astype(np.float64) - image) ** 2) / 255.0**2
        losses.append(8 * len(stream) / pixels + lmbda * 255.0**2 * mse)
    assert losses[1] < losses[0], losses
    assert fromscratch.decompress(stream).shape == image.shape
    # an encoder setting: not in the header, which is the plain encoder's byte for byte
    header = container.read_header(stream)
    assert header.params == {"quality": quality}


def test_refined_balle2018_estimate_still_matches_the_payload():
    quality = shipped("balle2018")
    image = data.sample_image()[1][:256, :384]  # test_balle2018_shipped's crop
    codec = get_codec("balle2018", quality=quality, refine=5)
    estimate = sum(codec.estimated_bits(image))
    payload_bits = 8 * len(codec.encode_payload(image))
    assert abs(payload_bits / estimate - 1) < 0.01, (payload_bits, estimate)
    assert estimate != sum(get_codec("balle2018", quality=quality).estimated_bits(image))


@pytest.mark.parametrize("kind", ["balle2017", "balle2018"])
def test_gray_images_and_the_size_limit(kind, monkeypatch):
    quality = shipped(kind)
    gray = data.sample_image()[1][:40, :30].mean(axis=2).astype(np.uint8)
    codec = get_codec(kind, quality=quality, refine=2)
    decoded = fromscratch.decompress(codec.encode(gray))
    assert decoded.shape == gray.shape and metrics.psnr(gray, decoded) > 20
    monkeypatch.setattr(refine, "SEARCH_BYTES_PER_PIXEL_CHANNEL", 10**6)
    with pytest.raises(ValueError, match="refine=0"):
        codec.encode(gray)
    get_codec(kind, quality=quality).encode(gray)  # refine=0 has no such limit


def test_refine_is_validated_and_gan2017_has_none():
    with pytest.raises(ValueError, match="refine"):
        get_codec("balle2018", refine=-1)
    with pytest.raises(ValueError, match="refine"):
        get_codec("gan2017", refine=4)
