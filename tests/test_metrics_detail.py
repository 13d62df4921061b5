"""The detail ratio: fine-texture power of a reconstruction over the original's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from fromscratch import data, metrics


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """The bundled training photograph (never Kodak), 256×256 from its top left."""
    return data.load_image(data.BUNDLED_DIR / "train" / "endeavour.png")[:256, :256]


def _blur(image: np.ndarray, radius: float) -> np.ndarray:
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def _noisy(image: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0, sigma, image.shape)
    return np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)


def test_an_image_keeps_all_its_detail(photo):
    assert metrics.detail_ratio(photo, photo) == pytest.approx(1.0, rel=1e-12)


def test_blur_removes_detail_and_more_blur_removes_more(photo):
    light, heavy = (metrics.detail_ratio(_blur(photo, r), photo) for r in (0.7, 2.0))
    assert heavy < light < 0.6
    assert heavy < 0.05


def test_added_noise_adds_detail(photo):
    assert metrics.detail_ratio(_noisy(photo, 6), photo) > 1.2


def test_gray_equals_the_luma_of_colour(photo):
    blurred = _blur(photo, 1.0)
    luma = np.asarray(metrics.LUMA_WEIGHTS)
    assert metrics.detail_ratio(blurred @ luma, photo @ luma) == pytest.approx(
        metrics.detail_ratio(blurred, photo), rel=1e-12)


def test_the_hann_window_keeps_border_jumps_out():
    """A smooth ramp has no texture, but its left and right borders differ by 255: unwindowed,
    that periodic jump would be a sharp edge full of high frequencies."""
    ramp = np.tile(np.linspace(0, 255, 64), (64, 1))
    texture = ramp + np.random.default_rng(1).normal(0, 2, ramp.shape)
    assert metrics.detail_ratio(ramp, texture) < 0.01


def test_pure_tones_fall_on_their_side_of_the_cutoff():
    y, x = np.mgrid[0:64, 0:64]
    fine = 128 + 100 * np.cos(2 * np.pi * 0.375 * x)  # 0.375 cycles/pixel > 0.25
    coarse = 128 + 100 * np.cos(2 * np.pi * 0.125 * y)  # 0.125 < 0.25
    assert metrics.detail_ratio(fine + coarse, fine) == pytest.approx(1.0, abs=0.02)
    assert metrics.detail_ratio(coarse + 0.5 * (fine - 128), fine) == pytest.approx(0.25, abs=0.02)


def test_bad_inputs_are_refused(photo):
    with pytest.raises(ValueError, match="flat"):
        metrics.detail_ratio(photo, np.full_like(photo, 7))
    with pytest.raises(ValueError, match="shape"):
        metrics.detail_ratio(photo[:100], photo)
    with pytest.raises(ValueError, match="8 px"):
        metrics.detail_ratio(photo[:4], photo[:4])
    with pytest.raises(ValueError, match="cutoff"):
        metrics.detail_ratio(photo, photo, cutoff=0.6)
