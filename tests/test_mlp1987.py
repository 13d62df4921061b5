"""Chapter 3's patch codecs: mlp1987 (bottleneck MLP), klt (PCA), dct-zonal, and their pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fromscratch import metrics, nn
from fromscratch.bitstream import BitstreamError
from fromscratch.codecs import get_codec
from fromscratch.codecs.jpeg.tables import ZIGZAG
from fromscratch.codecs.patch import linear as patch_linear
from fromscratch.codecs.patch.linear import klt_tables, subspace_alignment
from fromscratch.codecs.patch.mlp1987 import MLP_K_CHOICES, weight_file_name
from fromscratch.codecs.patch.pipeline import (
    centre_on_zero,
    dequantise,
    image_patches,
    patches_to_plane,
    plane_to_patches,
    quantise,
    subsample_2x2,
    upsample_2x2,
)
from fromscratch.data import load_image, sample_image, train_paths
from fromscratch.training import mlp1987 as training

CODECS = ("mlp1987", "klt", "dct-zonal")


def _smooth_image(height, width, channels=3, seed=0):
    """A photograph-like test image: smooth gradients plus a little noise, uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 128 + 60 * np.sin(x / 7.0) * np.cos(y / 11.0)
    planes = [base + 20 * c + rng.normal(0, 4, base.shape) for c in range(channels)]
    image = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    return image[..., 0] if channels == 1 else image


@pytest.fixture(scope="module")
def crop():
    return sample_image()[1][200:328, 300:460]  # 128 x 160 of kodim23: some texture


# --- the pipeline's pieces -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (7, 9), (16, 24), (17, 33)])
def test_patches_roundtrip_and_padding(shape):
    plane = np.random.default_rng(1).uniform(0, 255, shape)
    patches = plane_to_patches(plane)
    assert patches.shape == (-(-shape[0] // 8) * -(-shape[1] // 8), 64)
    np.testing.assert_array_equal(patches_to_plane(patches, *shape), plane)
    np.testing.assert_array_equal(patches[0].reshape(8, 8)[: min(8, shape[0]), : min(8, shape[1])],
                                  plane[:8, :8])


def test_chroma_resampling():
    flat = np.full((5, 7), 42.0)
    assert subsample_2x2(flat).shape == (3, 4)
    np.testing.assert_allclose(upsample_2x2(subsample_2x2(flat), 5, 7), flat)
    plane = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(subsample_2x2(plane), [[2.5, 4.5], [10.5, 12.5]])
    # bilinear: a ramp stays a ramp inside, quarter steps between the samples
    ramp = np.tile(np.arange(4.0), (2, 1))
    np.testing.assert_allclose(upsample_2x2(ramp, 4, 8)[0], [0, .25, .75, 1.25, 1.75, 2.25, 2.75,
                                                             3])


def test_quantiser():
    rng = np.random.default_rng(2)
    low, high = np.array([-3.0, 0.0]), np.array([5.0, 1.0])
    codes = rng.uniform(low, high, (1000, 2))
    for bits in (2, 5, 8):
        cells = quantise(codes, low, high, bits)
        assert cells.min() >= 0 and cells.max() <= 2**bits - 1
        step = (high - low) / 2**bits
        assert np.all(np.abs(dequantise(cells, low, high, bits) - codes) <= step / 2 + 1e-12)
    outside = quantise(np.array([[-100.0, 100.0]]), low, high, 4)
    np.testing.assert_array_equal(outside, [[0, 15]])  # clipped into the end cells
    new_low, new_high = centre_on_zero(low, high, 3)
    np.testing.assert_allclose(new_high - new_low, high - low)
    zero_cell = quantise(np.zeros((1, 2)), new_low, new_high, 3)
    assert dequantise(zero_cell, new_low, new_high, 3)[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert new_low[1] == low[1]  # (0, 1) does not straddle 0: left alone


# --- the codecs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize("shape", [(1, 1), (7, 9), (1, 1, 3), (7, 9, 3), (41, 27, 3), (33, 19)])
def test_roundtrip_shapes(name, shape):
    image = _smooth_image(shape[0], shape[1], 1 if len(shape) == 2 else 3)
    codec = get_codec(name, k=8, bits=5)
    decoded = codec.decode(codec.encode(image))
    assert decoded.shape == image.shape and decoded.dtype == np.uint8


@pytest.mark.parametrize("name", CODECS)
def test_deterministic_and_reasonable(name, crop):
    codec = get_codec(name, k=16, bits=6)
    data = codec.encode(crop)
    assert data == codec.encode(crop)
    first = codec.decode(data)
    np.testing.assert_array_equal(first, get_codec(name).decode(data))  # params from the header
    assert metrics.psnr(crop, first) > 24


@pytest.mark.parametrize("name", CODECS)
def test_quality_rises_with_rate(name, crop):
    settings = get_codec(name).settings
    assert len(settings) >= 4
    points = []
    for params in settings:
        codec = get_codec(name, **params)
        data = codec.encode(crop)
        points.append((metrics.bpp(data, crop.shape), metrics.psnr(crop, codec.decode(data))))
    rates, psnrs = zip(*points, strict=True)
    assert np.all(np.diff(rates) > 0), points
    assert np.all(np.diff(psnrs) > 0), points


def test_klt_full_basis_is_near_lossless(crop):
    gray = crop[..., 1]
    codec = get_codec("klt", k=64, bits=8)
    assert metrics.psnr(gray, codec.decode(codec.encode(gray))) > 40
    # in colour the 4:2:0 chroma costs a few dB, but it stays high
    assert metrics.psnr(crop, codec.decode(codec.encode(crop))) > 36


def test_dct_zonal_matches_explicit_computation():
    fft = pytest.importorskip("scipy.fft")
    image = _smooth_image(16, 24, channels=1, seed=5)
    k, bits = 10, 6
    codec = get_codec("dct-zonal", k=k, bits=bits)
    blocks = (image.astype(np.float64) - 128).reshape(2, 8, 3, 8).swapaxes(1, 2).reshape(-1, 8, 8)
    coefficients = fft.dctn(blocks, axes=(1, 2), norm="ortho").reshape(-1, 64)[:, ZIGZAG[:k]]
    np.testing.assert_allclose(codec.analysis(image.reshape(2, 8, 3, 8).swapaxes(1, 2)
                                              .reshape(-1, 64).astype(np.float32)),
                               coefficients, atol=1e-3)
    # quantise by hand: (1 << bits) cells over the luma ranges, slid so that 0 is a level
    ranges = klt_tables()["dct_range"][0][:, ZIGZAG[:k]]
    step = (ranges[1] - ranges[0]) / 2**bits
    low = np.where((ranges[0] < 0) & (ranges[1] > 0),
                   -step * (np.round(-ranges[0] / step - 0.5) + 0.5), ranges[0])
    cells = np.clip(np.floor((coefficients - low) / step), 0, 2**bits - 1)
    kept = np.zeros((len(blocks), 64))
    kept[:, ZIGZAG[:k]] = low + (cells + 0.5) * step
    pixels = fft.idctn(kept.reshape(-1, 8, 8), axes=(1, 2), norm="ortho") + 128
    expected = np.clip(np.rint(pixels.reshape(2, 3, 8, 8).swapaxes(1, 2).reshape(16, 24)), 0, 255)
    decoded = codec.decode(codec.encode(image))
    assert np.abs(decoded.astype(int) - expected).max() <= 1
    assert np.mean(decoded == expected) > 0.99


# --- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CODECS)
def test_bad_payloads_raise_bitstream_error(name, crop):
    codec = get_codec(name, k=8, bits=5)
    image = crop[:40, :48]
    data = codec.encode(image)
    payload = codec.encode_payload(image)
    with pytest.raises(BitstreamError):
        codec.decode(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0x55
    with pytest.raises(BitstreamError):
        codec.decode(bytes(corrupt))
    for bad in (b"", payload[:3], payload[:-1], payload + b"\0", payload[:4] + payload[4:10]):
        with pytest.raises(BitstreamError):
            codec.decode_payload(bad, image.shape)
    # a tiny stream claiming a huge image is refused before anything large is allocated
    with pytest.raises(BitstreamError):
        codec.decode_payload(b"\0\0\0\2\0\0", (20000, 20000, 3))
    with pytest.raises(BitstreamError):
        codec.decode(b"\x89FSC" + bytes(range(40)))


# --- weights --------------------------------------------------------------------------------


@pytest.mark.parametrize("k", MLP_K_CHOICES)
def test_shipped_weights_record_their_command(k):
    weights = nn.load_weights(patch_linear.WEIGHTS_DIR / weight_file_name(k))
    assert weights.hyperparams["command"].startswith("python -m fromscratch train mlp1987")
    assert weights.hyperparams["k"] == k
    klt = nn.load_weights(patch_linear.WEIGHTS_DIR / patch_linear.KLT_FILE)
    assert "--klt" in klt.hyperparams["command"]


@pytest.mark.parametrize("name", CODECS)
def test_missing_weights_name_the_file(name, tmp_path, monkeypatch):
    monkeypatch.setattr(patch_linear, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(nn.WeightsError, match=str(tmp_path)):
        get_codec(name, k=8, bits=4).encode(_smooth_image(8, 8))


def test_wrong_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(patch_linear, "WEIGHTS_DIR", tmp_path)
    net = training.build_autoencoder(4, rng=0)  # a k=4 network saved as the k=8 one
    nn.save_weights(tmp_path / weight_file_name(8), net, {"k": 4})
    with pytest.raises(nn.WeightsError, match=r"mlp1987_k8\.npz.*0\.weight"):
        get_codec("mlp1987", k=8, bits=4).encode(_smooth_image(8, 8))
    (tmp_path / patch_linear.KLT_FILE).write_bytes(b"not a zip file")
    with pytest.raises(nn.WeightsError, match=r"klt_8x8\.npz"):
        get_codec("klt", k=8, bits=4).encode(_smooth_image(8, 8))
    nn.save_weights(tmp_path / patch_linear.KLT_FILE, {}, {}, extra={"mean": np.zeros(64)})
    with pytest.raises(nn.WeightsError, match=r"klt_8x8\.npz.*eigenvectors"):
        get_codec("dct-zonal", k=8, bits=4).encode(_smooth_image(8, 8))


def test_training_script_writes_loadable_files(tmp_path, monkeypatch):
    monkeypatch.setattr(patch_linear, "WEIGHTS_DIR", tmp_path)
    argv = ["--k", "4", "--steps", "30", "--qat-steps", "10", "--crops", "12", "--no-progress",
            "--out", str(tmp_path / "mlp1987_k4.npz")]
    assert training.main(argv) == 0
    assert training.main(["--klt", "--crops", "12", "--out", str(tmp_path / "klt_8x8.npz")]) == 0
    hyper = nn.load_weights(tmp_path / "mlp1987_k4.npz").hyperparams
    assert hyper["command"] == "python -m fromscratch train mlp1987 " + " ".join(argv)
    json.dumps(hyper)
    codec = get_codec("mlp1987", k=4, bits=4)
    image = _smooth_image(16, 16)
    assert codec.decode(codec.encode(image)).shape == image.shape


# --- Baldi & Hornik -------------------------------------------------------------------------


def test_subspace_alignment():
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(64, 5)))[0]
    mixing = rng.normal(size=(5, 5))  # any invertible mixing spans the same subspace
    np.testing.assert_allclose(subspace_alignment((basis @ mixing).T, basis), 1.0, atol=1e-9)
    other = np.linalg.qr(np.concatenate([basis, rng.normal(size=(64, 3))], axis=1))[0][:, 5:]
    np.testing.assert_allclose(subspace_alignment(other.T, basis[:, :3]), 0.0, atol=1e-9)


def test_linear_autoencoder_finds_the_principal_subspace():
    luma, chroma = image_patches(load_image(train_paths()[0]))
    patches = (np.concatenate([luma, chroma])[::2] / 255.0 - 0.5).astype(np.float32)
    k = 4
    eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))[1][:, ::-1][:, :k]
    net = training.build_autoencoder(k, "linear", rng=0)
    training.train_autoencoder(net, patches, steps=3000, lr=3e-2, rng=0, progress=False)
    state = net.state_dict()
    decoder = subspace_alignment(state["2.weight"].T, eigenvectors)  # columns of W2 (64, k)
    encoder = subspace_alignment(state["0.weight"], eigenvectors)  # rows of W1 (k, 64)
    assert decoder.mean() > 0.95, decoder
    assert encoder.mean() > 0.9, encoder
