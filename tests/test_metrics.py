"""Tests for fromscratch.metrics against hand-computed values and the reference implementations.

scikit-image (SSIM), pytorch-msssim (MS-SSIM, what CompressAI uses) and the ``bjontegaard``
package (BD-rate) are test-only gold standards; the hard-coded constants below keep the checks
meaningful on machines without them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fromscratch import metrics
from fromscratch.metrics import bd_psnr, bd_rate, bpp, ms_ssim, mse, psnr, ssim


def pattern(height: int, width: int, channels: int | None = None) -> np.ndarray:
    """A deterministic uint8 test image (gradient + checkerboard + texture) from integer math only,
    so it is bit-identical on every platform and independent of NumPy's random streams."""
    y, x = np.mgrid[0:height, 0:width]
    planes = []
    for k in range(channels or 1):
        gradient = (x * (k + 1) + 2 * y) * 160 // ((k + 1) * width + 2 * height)
        checker = ((x // 12 + y // 20 + k) % 2) * 50
        texture = (x * 37 + y * 91 + k * 53) * (x + 3) % 47
        planes.append(gradient + checker + texture)
    image = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    return image if channels else image[..., 0]


def hashed_noise(image: np.ndarray, amplitude: int) -> np.ndarray:
    """Add deterministic integer pseudo-noise in [-amplitude, amplitude] (a different shift per
    channel), then clip to uint8."""
    y, x = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    noise = (x * 7919 + y * 104729) % (2 * amplitude + 1) - amplitude
    if image.ndim == 3:
        noise = np.stack([np.roll(noise, 5 * k, axis=1) for k in range(image.shape[2])], axis=-1)
    return np.clip(image.astype(np.int64) + noise, 0, 255).astype(np.uint8)


def posterize(image: np.ndarray) -> np.ndarray:
    return (image // 32 * 32 + 16).astype(np.uint8)


def invert_red(image: np.ndarray) -> np.ndarray:
    """Mild noise, but the first channel turned into its negative: anti-correlated structure,
    so its cs terms are < 0 and MS-SSIM's clamp at 0 decides that channel's score."""
    distorted = hashed_noise(image, 12)
    distorted[..., 0] = 255 - image[..., 0]
    return distorted


def gaussian_noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noisy = image + np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def box_blur(image: np.ndarray) -> np.ndarray:
    """3×3 mean filter with edge replication."""
    spatial_padding = [(1, 1), (1, 1)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image.astype(np.float64), spatial_padding, "edge")
    h, w = image.shape[:2]
    total = sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3))
    return np.rint(total / 9).astype(np.uint8)


# ---------------------------------------------------------------------------- MSE, PSNR, bpp


def test_mse_and_psnr_of_a_constant_offset_of_one():
    a = pattern(20, 30, 3).astype(np.int64) // 2  # ≤ 127 so that +1 cannot clip
    b = a + 1
    assert mse(a, b) == 1.0
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2), abs=1e-12)
    assert psnr(a, b) == pytest.approx(48.130803608679, abs=1e-9)
    assert psnr(a, b, peak=1.0) == 0.0


def test_mse_counts_every_sample_and_psnr_follows():
    a = np.zeros((2, 2), dtype=np.uint8)
    b = np.array([[0, 2], [4, 0]], dtype=np.uint8)  # squared errors 0, 4, 16, 0
    assert mse(a, b) == 5.0
    assert mse(b, a) == 5.0  # uint8 would wrap if not cast to float first
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 5))
    rgb_a, rgb_b = np.zeros((1, 1, 3)), np.array([[[3.0, 0.0, 0.0]]])
    assert mse(rgb_a, rgb_b) == 3.0  # averaged over channels too


def test_identical_images_have_infinite_psnr_and_zero_mse():
    image = pattern(16, 16, 3)
    assert mse(image, image.copy()) == 0.0
    assert psnr(image, image.copy()) == float("inf")


@pytest.mark.parametrize("metric", [mse, psnr, ssim, ms_ssim])
def test_shape_mismatch_raises_with_both_shapes(metric):
    with pytest.raises(ValueError, match=r"\(200, 200\).*\(200, 201\)"):
        metric(np.zeros((200, 200)), np.zeros((200, 201)))


def test_cupy_like_arrays_go_through_to_numpy():
    class FakeCupyArray:  # the backend recognises CuPy arrays by their type's module
        def __init__(self, array):
            self.array = array

        def get(self):
            return self.array

    FakeCupyArray.__module__ = "cupy.fake"
    a = pattern(32, 32)
    b = hashed_noise(a, 3)
    assert mse(FakeCupyArray(a), b) == mse(a, b)
    assert ssim(FakeCupyArray(a), FakeCupyArray(b)) == ssim(a, b)


def test_bpp_counts_pixels_not_samples():
    assert bpp(b"\x00" * 96, (16, 8)) == 6.0
    assert bpp(bytes(96), (16, 8, 3)) == 6.0
    assert bpp(bytearray(768 * 512 * 3), (512, 768, 3)) == 24.0
    with pytest.raises(ValueError):
        bpp(b"abc", (10,))


# ---------------------------------------------------------------------------- SSIM


def _skimage_cases():
    data = pytest.importorskip("skimage.data")
    astronaut, camera = data.astronaut(), data.camera()
    return [
        (astronaut[:256, :320], gaussian_noise(astronaut[:256, :320], 10)),
        (astronaut[:131, :77], box_blur(astronaut[:131, :77])),  # odd sizes
        (camera[:301, :199], gaussian_noise(camera[:301, :199], 40, seed=1)),
        (camera[100:111, 50:73], posterize(camera[100:111, 50:73])),  # the window just fits
        (pattern(64, 45, 3), hashed_noise(pattern(64, 45, 3), 20)),
        (pattern(97, 120), np.clip(pattern(97, 120).astype(int) + 30, 0, 255)),  # brightness
    ]


def test_ssim_matches_scikit_image():
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    for reference, distorted in _skimage_cases():
        expected = structural_similarity(
            reference,
            distorted,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=-1 if reference.ndim == 3 else None,
        )
        assert ssim(reference, distorted) == pytest.approx(expected, abs=1e-9)


def test_ssim_of_an_image_with_itself_is_one_and_drops_with_distortion():
    image = pattern(40, 50, 3)
    assert ssim(image, image.copy()) == pytest.approx(1.0, abs=1e-12)
    scores = [ssim(image, hashed_noise(image, amplitude)) for amplitude in (2, 10, 40)]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_ssim_of_colour_is_the_mean_of_channel_ssims():
    image, distorted = pattern(30, 40, 3), posterize(pattern(30, 40, 3))
    per_channel = [ssim(image[..., c], distorted[..., c]) for c in range(3)]
    assert ssim(image, distorted) == pytest.approx(np.mean(per_channel), abs=1e-14)


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="11"):
        ssim(np.zeros((10, 40)), np.zeros((10, 40)))


# ---------------------------------------------------------------------------- MS-SSIM

# Computed once with pytorch_msssim 1.0.0 (torch 2.13.0) on float64 tensors, data_range=255,
# size_average=True and win= the float64 Gaussian of metrics._gaussian_window(), because its
# default window is built in float32, which moves MS-SSIM by up to ~5e-6.
MS_SSIM_REFERENCE = {
    ("rgb", "noise8"): 0.9977926496714634,
    ("rgb", "noise40"): 0.9170240748236923,
    ("rgb", "posterize"): 0.9856852034977216,
    ("rgb", "invert_red"): 0.6612746520129952,
    ("gray", "noise8"): 0.9977980856871154,
    ("gray", "noise40"): 0.917250144910736,
    ("gray", "posterize"): 0.9857773057520286,
}
IMAGES = {"rgb": lambda: pattern(192, 256, 3), "gray": lambda: pattern(208, 240)}
DISTORTIONS = {
    "noise8": lambda image: hashed_noise(image, 8),
    "noise40": lambda image: hashed_noise(image, 40),
    "posterize": posterize,
    "invert_red": invert_red,
}


@pytest.mark.parametrize(("image_name", "distortion_name"), sorted(MS_SSIM_REFERENCE))
def test_ms_ssim_matches_stored_pytorch_msssim_values(image_name, distortion_name):
    image = IMAGES[image_name]()
    distorted = DISTORTIONS[distortion_name](image)
    expected = MS_SSIM_REFERENCE[(image_name, distortion_name)]
    assert ms_ssim(image, distorted) == pytest.approx(expected, abs=1e-10)


def _pytorch_ms_ssim(a, b, float64_window: bool):
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")

    def to_tensor(image):  # (H, W[, C]) → (1, C, H, W), float64
        image = np.asarray(image, dtype=np.float64)
        image = image[..., None] if image.ndim == 2 else image
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(image, -1, 0)))[None]

    x, y = to_tensor(a), to_tensor(b)
    window = None
    if float64_window:
        window = torch.from_numpy(metrics._gaussian_window()).reshape(1, 1, 1, -1)
        window = window.repeat(x.shape[1], 1, 1, 1)
    return pytorch_msssim.ms_ssim(x, y, data_range=255, size_average=True, win=window).item()


def test_ms_ssim_matches_pytorch_msssim_live():
    pytest.importorskip("torch")
    pytest.importorskip("pytorch_msssim")
    data = pytest.importorskip("skimage.data")
    astronaut = data.astronaut()[:256, :384]
    camera = data.camera()[:192, :320]
    cases = [
        (astronaut, gaussian_noise(astronaut, 5)),
        (astronaut, gaussian_noise(astronaut, 60)),
        (astronaut, box_blur(astronaut)),
        (camera, posterize(camera)),
        (pattern(192, 256, 3), hashed_noise(pattern(192, 256, 3), 25)),
        (astronaut, invert_red(astronaut)),
    ]
    for reference, distorted in cases:
        ours = ms_ssim(reference, distorted)
        # Same window, same arithmetic: agreement to rounding error.
        assert ours == pytest.approx(_pytorch_ms_ssim(reference, distorted, True), abs=1e-10)
        # pytorch-msssim exactly as CompressAI calls it (float32-built window): ~1e-6.
        assert ours == pytest.approx(_pytorch_ms_ssim(reference, distorted, False), abs=1e-5)


def test_ms_ssim_of_an_image_with_itself_is_one_and_drops_as_noise_grows():
    image = pattern(192, 192, 3)
    assert ms_ssim(image, image.copy()) == pytest.approx(1.0, abs=1e-12)
    scores = [ms_ssim(image, gaussian_noise(image, sigma)) for sigma in (2, 8, 30, 90)]
    assert 1.0 > scores[0] > scores[1] > scores[2] > scores[3] > 0.0


def test_ms_ssim_handles_odd_sizes_and_grey_equals_replicated_colour():
    grey = pattern(181, 203)
    distorted = posterize(grey)
    score = ms_ssim(grey, distorted)
    assert 0.0 < score < 1.0
    as_rgb = np.repeat(grey[..., None], 3, axis=-1), np.repeat(distorted[..., None], 3, axis=-1)
    assert ms_ssim(*as_rgb) == pytest.approx(score, abs=1e-14)


def test_ms_ssim_clamps_negative_structure_to_zero():
    image = pattern(192, 256, 3)
    inverted = 255 - image
    assert ms_ssim(image, inverted) == 0.0  # not NaN from a negative base to a fractional power
    per_channel = [ms_ssim(image[..., c], invert_red(image)[..., c]) for c in range(3)]
    assert per_channel[0] == 0.0
    assert ms_ssim(image, invert_red(image)) == pytest.approx(np.mean(per_channel), abs=1e-14)


def test_halving_averages_2x2_blocks_and_drops_an_odd_last_row_and_column():
    images = np.arange(2 * 5 * 7, dtype=np.float64).reshape(2, 5, 7) ** 1.5  # (C, H, W)
    halved = metrics._halve(images)
    assert halved.shape == (2, 2, 3)
    blocks = images[:, :4, :6].reshape(2, 2, 2, 3, 2)
    expected = (
        blocks[:, :, 0, :, 0]
        + blocks[:, :, 0, :, 1]
        + blocks[:, :, 1, :, 0]
        + blocks[:, :, 1, :, 1]
    ) / 4
    np.testing.assert_allclose(halved, expected, rtol=1e-15)


@pytest.mark.parametrize("shape", [(160, 300), (300, 160, 3), (175, 175), (64, 64)])
def test_ms_ssim_rejects_images_too_small_for_five_scales(shape):
    with pytest.raises(ValueError, match="160"):
        ms_ssim(np.zeros(shape), np.zeros(shape))


# ---------------------------------------------------------------------------- BD-rate, BD-PSNR

RATE_ANCHOR = [9487.76, 4593.6, 2486.44, 1358.24]
PSNR_ANCHOR = [40.037, 38.615, 37.234, 35.760]
RATE_TEST = [9787.8, 4469.0, 2451.52, 1356.24]
PSNR_TEST = [40.121, 38.651, 37.197, 35.752]
EXAMPLE = (RATE_ANCHOR, PSNR_ANCHOR, RATE_TEST, PSNR_TEST)
# Computed once with the `bjontegaard` package 1.3.0: bd_rate / bd_psnr(*EXAMPLE, method).
BJONTEGAARD_REFERENCE = {
    "pchip": (-1.7809654260097507, 0.04184880044988651),
    "cubic": (-1.7965696484839255, 0.04635369182531247),
}
METHODS = ["pchip", "cubic"]


@pytest.mark.parametrize("method", METHODS)
def test_bd_of_identical_curves_is_zero(method):
    assert bd_rate(RATE_ANCHOR, PSNR_ANCHOR, RATE_ANCHOR, PSNR_ANCHOR, method) == 0.0
    assert bd_psnr(RATE_ANCHOR, PSNR_ANCHOR, RATE_ANCHOR, PSNR_ANCHOR, method) == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_ten_percent_fewer_bits_at_equal_psnr_is_bd_rate_minus_ten(method):
    cheaper = [0.9 * rate for rate in RATE_ANCHOR]
    assert bd_rate(RATE_ANCHOR, PSNR_ANCHOR, cheaper, PSNR_ANCHOR, method) == pytest.approx(
        -10.0, abs=1e-9
    )
    assert bd_rate(cheaper, PSNR_ANCHOR, RATE_ANCHOR, PSNR_ANCHOR, method) == pytest.approx(
        100 / 9, abs=1e-9
    )


@pytest.mark.parametrize("method", METHODS)
def test_half_a_db_better_at_equal_rate_is_bd_psnr_half(method):
    better = [p + 0.5 for p in PSNR_ANCHOR]
    assert bd_psnr(RATE_ANCHOR, PSNR_ANCHOR, RATE_ANCHOR, better, method) == pytest.approx(
        0.5, abs=1e-9
    )


@pytest.mark.parametrize("method", METHODS)
def test_bd_matches_stored_bjontegaard_values(method):
    expected_rate, expected_psnr = BJONTEGAARD_REFERENCE[method]
    assert bd_rate(*EXAMPLE, method=method) == pytest.approx(expected_rate, abs=1e-8)
    assert bd_psnr(*EXAMPLE, method=method) == pytest.approx(expected_psnr, abs=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_bd_matches_bjontegaard_package_live(method):
    bjontegaard = pytest.importorskip("bjontegaard")
    rng = np.random.default_rng(7)
    curves = [EXAMPLE]
    for _ in range(5):  # random monotone RD curves, the test one a perturbed anchor
        psnr_anchor = np.sort(rng.uniform(30, 42, size=5))
        rate_anchor = np.exp(np.sort(rng.uniform(5, 9, size=5)))
        psnr_test = np.sort(psnr_anchor + rng.normal(0, 0.4, size=5))
        rate_test = np.sort(rate_anchor * rng.uniform(0.7, 1.3, size=5))
        curves.append((rate_anchor, psnr_anchor, rate_test, psnr_test))
    # The package works in log10, we in ln; for the cubic fit on uncentred PSNRs (~35 dB, badly
    # conditioned) that changes the rounding by up to ~1e-8; PCHIP agrees to ~1e-13.
    tolerance = 1e-10 if method == "pchip" else 1e-6
    for curve in curves:
        expected_rate = bjontegaard.bd_rate(*curve, method=method, min_overlap=0)
        expected_psnr = bjontegaard.bd_psnr(*curve, method=method, min_overlap=0)
        assert bd_rate(*curve, method=method) == pytest.approx(expected_rate, abs=tolerance)
        assert bd_psnr(*curve, method=method) == pytest.approx(expected_psnr, abs=tolerance)


def test_pchip_integrals_match_scipy():
    pchip_interpolator = pytest.importorskip("scipy.interpolate").PchipInterpolator
    rng = np.random.default_rng(3)
    for n_points in (2, 3, 4, 5, 8):
        for _ in range(4):
            # Non-monotone data with uneven spacing exercise every slope limiter branch.
            x_anchor = np.sort(rng.uniform(0, 10, n_points))
            x_test = np.sort(rng.uniform(0, 10, n_points))
            y_anchor, y_test = rng.normal(size=n_points), rng.normal(size=n_points)
            lo = max(x_anchor[0], x_test[0])
            hi = min(x_anchor[-1], x_test[-1])
            if hi - lo < 0.5:
                continue
            expected = (
                pchip_interpolator(x_test, y_test).integrate(lo, hi)
                - pchip_interpolator(x_anchor, y_anchor).integrate(lo, hi)
            ) / (hi - lo)
            # bd_psnr interpolates PSNR against log(rate), so feed it rate = e^x, PSNR = y.
            ours = bd_psnr(np.exp(x_anchor), y_anchor, np.exp(x_test), y_test, "pchip")
            assert ours == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_bd_sorts_its_points(method):
    shuffled = [values[::-1] for values in EXAMPLE]
    assert bd_rate(*shuffled, method=method) == pytest.approx(bd_rate(*EXAMPLE, method=method))
    assert bd_psnr(*shuffled, method=method) == pytest.approx(bd_psnr(*EXAMPLE, method=method))


def test_bd_rejects_bad_input():
    with pytest.raises(ValueError, match="> 0"):
        bd_rate([1.0, 0.0], [30.0, 35.0], [1.0, 2.0], [30.0, 35.0])
    with pytest.raises(ValueError, match="≥ 4"):
        bd_rate([1, 2, 3], [30, 32, 34], [1, 2, 3], [30, 32, 34], method="cubic")
    assert bd_rate([1, 2], [30, 34], [1, 2], [31, 35]) < 0  # 2 points suffice for pchip
    with pytest.raises(ValueError, match="overlap"):
        bd_psnr([1, 2], [30, 34], [3, 4], [30, 34])
    with pytest.raises(ValueError, match="overlap"):
        bd_rate([1, 2], [30, 34], [1, 2], [35, 38])
    with pytest.raises(ValueError, match="method"):
        bd_rate(*EXAMPLE, method="akima")
