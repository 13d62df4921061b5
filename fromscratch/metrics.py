r"""How good is a compressed image, and how much did it cost?

A codec trades *rate* (bits) for *distortion* (error). This module measures both, and then
compares whole codecs, as the learned-compression papers (and CompressAI's Kodak tables) do.

**Rate.** ``bpp`` = bits per pixel = :math:`8\,\mathrm{len(data)} / (H W)`. A pixel counts once
whatever its channels, so an RGB image stored raw costs 24 bpp.

**Error energy.** With :math:`N` samples (pixels × channels),

.. math:: \mathrm{MSE} = \frac1N \sum_i (a_i - b_i)^2, \qquad
          \mathrm{PSNR} = 10 \log_{10} \frac{\mathrm{peak}^2}{\mathrm{MSE}}\ \mathrm{dB}.

PSNR is MSE on a log scale relative to the largest possible signal; +1 dB ≈ 21 % less MSE.
It is cheap and additive, but blind to *where* the error is: blur, noise and blocking at the
same MSE look very different to us.

**Structure (SSIM, Wang et al. 2004).** Around each pixel, weigh an 11×11 neighbourhood with a
Gaussian (σ = 1.5) and take local means :math:`\mu`, variances :math:`\sigma^2` and covariance
:math:`\sigma_{ab}`. Then compare luminance (means) and contrast-structure (correlation):

.. math:: \mathrm{SSIM} = \underbrace{\frac{2\mu_a\mu_b + C_1}{\mu_a^2+\mu_b^2+C_1}}_{l}\;
          \underbrace{\frac{2\sigma_{ab} + C_2}{\sigma_a^2+\sigma_b^2+C_2}}_{cs},
          \quad C_1 = (0.01 L)^2,\ C_2 = (0.03 L)^2,

with :math:`L` the data range; the constants keep flat regions from dividing by zero. The
score is the mean of this map over the positions where the window fits (1 = identical).

**Multi-scale SSIM (Wang, Simoncelli & Bovik 2003).** Viewing distance changes which details
matter, so MS-SSIM measures cs at 5 scales (halving the image between them) and l only at the
coarsest: :math:`\prod_{j<5} cs_j^{w_j} \cdot \mathrm{SSIM}_5^{w_5}`, with weights fitted to
human ratings, :math:`w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)`.

**Fine texture (the detail ratio).** A low-rate codec trained on MSE blurs: the mean of all
plausible textures is a smooth one. A GAN codec puts texture back (not the original texture, a
plausible one), which PSNR punishes and MS-SSIM barely sees. The detail ratio measures how much
is there at all: the power of the luma above 0.25 cycles/pixel (the top half of the band),
reconstruction over original, each Hann-windowed so the image's borders do not leak into the
high frequencies. 1.0 = as much fine texture as the original; a blurred image scores well below
1, added noise (or JPEG's block edges) above. It says nothing about whether the texture is the
right one: read it beside PSNR and MS-SSIM.

**Comparing codecs (Bjøntegaard, VCEG-M33, 2001).** Each codec gives an RD curve: a few
(rate, PSNR) points. BD-rate interpolates :math:`\log(\mathrm{rate})` as a function of PSNR for
both curves, averages their gap over the PSNR range they share, and reports
:math:`(e^{\Delta}-1)\cdot 100\,\%`: the average bit saving at equal quality (negative = the test
codec is better). BD-PSNR swaps the roles: average PSNR gain (dB) at equal rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .backend import to_numpy

__all__ = ["bd_psnr", "bd_rate", "bpp", "detail_ratio", "ms_ssim", "mse", "psnr", "ssim"]

SSIM_WINDOW_SIZE = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
DETAIL_CUTOFF = 0.25  # cycles per pixel; Nyquist is 0.5
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as JPEG's Y


def _as_float_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 NumPy arrays of one shape (H, W) or (H, W, C)."""
    a, b = (to_numpy(image).astype(np.float64, copy=False) for image in (a, b))
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"images must be (H, W) or (H, W, C), got shape {a.shape}")
    return a, b


def mse(a, b) -> float:
    r"""Mean squared error :math:`\frac1N\sum_i (a_i-b_i)^2` over all pixels and channels.

    Parameters
    ----------
    a, b : array_like, shape (H, W) or (H, W, C)
        Images of any numeric dtype (NumPy or CuPy), compared in float64.
    """
    a, b = _as_float_pair(a, b)
    return float(np.mean((a - b) ** 2))


def psnr(a, b, peak: float = 255.0) -> float:
    r"""Peak signal-to-noise ratio :math:`10\log_{10}(\mathrm{peak}^2/\mathrm{MSE})` in dB.

    For RGB this is the PSNR of the MSE over all three channels (not the mean of per-channel
    PSNRs), as CompressAI reports it on Kodak. ``inf`` when the images are identical.

    Parameters
    ----------
    a, b : array_like, shape (H, W) or (H, W, C)
    peak : float
        Largest possible sample value (255 for 8-bit images).
    """
    error = mse(a, b)
    if error == 0.0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / error))


def _gaussian_window() -> np.ndarray:
    """The normalised 1-D Gaussian, shape (11,); its outer product is the 2-D SSIM window."""
    offsets = np.arange(SSIM_WINDOW_SIZE) - SSIM_WINDOW_SIZE // 2
    window = np.exp(-(offsets**2) / (2.0 * SSIM_SIGMA**2))
    return window / window.sum()


def _ssim_and_cs(a: np.ndarray, b: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-channel mean SSIM and mean contrast-structure term of two float64 images.

    ``a``, ``b``: float64, shape (C, H, W), H, W ≥ 11. Returns two arrays of shape (C,): the means
    of the SSIM map and of the cs map over the (H − 10) × (W − 10) positions where the window fits.
    """
    window = _gaussian_window()
    # One stack so that all five local moments share a single pair of vectorised filter passes.
    moments = np.stack([a, b, a * a, b * b, a * b])  # (5, C, H, W)
    # The 2-D Gaussian is separable: filter the rows, then the columns ('valid', no padding).
    moments = sliding_window_view(moments, SSIM_WINDOW_SIZE, axis=2) @ window
    moments = sliding_window_view(moments, SSIM_WINDOW_SIZE, axis=3) @ window
    mu_a, mu_b, mean_aa, mean_bb, mean_ab = moments
    # Population moments, E[x²] − E[x]², as in the paper (no N/(N − 1) sample correction).
    var_a = mean_aa - mu_a**2
    var_b = mean_bb - mu_b**2
    cov_ab = mean_ab - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    cs_map = (2.0 * cov_ab + c2) / (var_a + var_b + c2)
    luminance_map = (2.0 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    ssim_map = luminance_map * cs_map
    return ssim_map.mean(axis=(1, 2)), cs_map.mean(axis=(1, 2))


def _channels_first(a: np.ndarray) -> np.ndarray:
    return a[np.newaxis] if a.ndim == 2 else np.moveaxis(a, -1, 0)  # (C, H, W)


def ssim(a, b, data_range: float = 255.0) -> float:
    r"""Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004).

    11×11 Gaussian window with σ = 1.5, :math:`K_1 = 0.01`, :math:`K_2 = 0.03`, population
    variances, SSIM map evaluated only where the window fits, then averaged. Equals
    ``skimage.metrics.structural_similarity(a, b, data_range=255, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, channel_axis=-1)``.

    Parameters
    ----------
    a, b : array_like, shape (H, W) or (H, W, C), with H, W ≥ 11
    data_range : float
        Range of the sample values, :math:`L` in :math:`C_1 = (K_1 L)^2`.

    Returns
    -------
    float
        Mean SSIM, averaged over channels for colour images; 1.0 for identical images.
    """
    a, b = _as_float_pair(a, b)
    if min(a.shape[:2]) < SSIM_WINDOW_SIZE:
        raise ValueError(
            f"SSIM needs images at least {SSIM_WINDOW_SIZE} px on each side, got {a.shape}"
        )
    ssim_per_channel, _ = _ssim_and_cs(_channels_first(a), _channels_first(b), data_range)
    return float(ssim_per_channel.mean())


def _halve(images: np.ndarray) -> np.ndarray:
    """2×2 average pooling of (C, H, W) → (C, H // 2, W // 2); an odd last row/column is dropped."""
    channels, height, width = images.shape
    even = images[:, : height - height % 2, : width - width % 2]
    return even.reshape(channels, height // 2, 2, width // 2, 2).mean(axis=(2, 4))


def ms_ssim(a, b, data_range: float = 255.0, weights: Sequence[float] = MS_SSIM_WEIGHTS) -> float:
    r"""Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), computed as pytorch-msssim does.

    For each channel: at scales :math:`j = 1..M` (:math:`M` = ``len(weights)``) take the mean
    contrast-structure term :math:`cs_j`, and at the last scale the full mean SSIM; clamp each
    at 0 (a ReLU, as pytorch-msssim does: a negative base to a fractional power would be NaN);
    between scales halve the image by 2×2 average pooling. Then

    .. math:: \mathrm{MS\text{-}SSIM} = \Big(\prod_{j<M} cs_j^{w_j}\Big)\,
              \mathrm{SSIM}_M^{w_M},

    averaged over channels. This matches the implementation CompressAI uses for its Kodak
    figures. The only difference: when a side is odd, we drop its last row/column before
    pooling, while pytorch-msssim zero-pads; Kodak's 768×512 is even at every scale. (Its
    Gaussian window is built in float32, which alone moves results by ~1e-6.)

    Parameters
    ----------
    a, b : array_like, shape (H, W) or (H, W, C)
        Smaller side ≥ 11·2^(M−1) (176 for 5 scales), so the window fits at the coarsest scale.
    data_range : float
    weights : sequence of float, length M
        Exponents per scale, finest first.
    """
    a, b = _as_float_pair(a, b)
    weights = np.asarray(weights, dtype=np.float64)
    n_scales, smaller_side = len(weights), min(a.shape[:2])
    # pytorch-msssim asserts smaller side > (11 − 1)·2^4 = 160; dropping odd rows instead of
    # padding them shrinks faster, so the 11-px window needs 11·2^4 = 176 px to fit at scale 5.
    min_side = SSIM_WINDOW_SIZE * 2 ** (n_scales - 1)
    if smaller_side < min_side:
        raise ValueError(
            f"MS-SSIM needs a smaller side ≥ {min_side} px (> 160 in pytorch-msssim) so that the "
            f"11×11 window fits after {n_scales - 1} halvings; got shape {a.shape}"
        )
    a, b = _channels_first(a), _channels_first(b)
    terms = []  # per scale, shape (C,)
    for scale in range(n_scales):
        ssim_per_channel, cs_per_channel = _ssim_and_cs(a, b, data_range)
        if scale < n_scales - 1:
            terms.append(np.maximum(cs_per_channel, 0.0))
            a, b = _halve(a), _halve(b)
    terms.append(np.maximum(ssim_per_channel, 0.0))
    per_channel = np.prod(np.stack(terms) ** weights[:, np.newaxis], axis=0)
    return float(per_channel.mean())


def _high_frequency_power(luma: np.ndarray, cutoff: float) -> float:
    """Power of the Hann-windowed, mean-removed ``luma`` (H, W) at radial frequency > cutoff."""
    height, width = luma.shape
    window = np.outer(np.hanning(height), np.hanning(width))
    spectrum = np.fft.fft2((luma - luma.mean()) * window)
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    return float(np.sum(np.abs(spectrum[radius > cutoff]) ** 2))


def detail_ratio(reconstruction, original, cutoff: float = DETAIL_CUTOFF) -> float:
    r"""Fine-texture power of ``reconstruction`` relative to ``original`` (1.0 = as much).

    Both images go to luma :math:`Y = 0.299R + 0.587G + 0.114B` (gray images are their own
    luma), lose their mean, are multiplied by a 2-D Hann window
    :math:`w(y, x) = \mathrm{hann}_H(y)\,\mathrm{hann}_W(x)` (without it, the jump between
    opposite borders of the periodic FFT would count as texture), and are Fourier-transformed.
    The ratio is

    .. math:: \frac{\sum_{|f| > f_c} |\hat Y_{rec}(f)|^2}{\sum_{|f| > f_c} |\hat Y_{orig}(f)|^2},
              \qquad |f| = \sqrt{f_y^2 + f_x^2}\ \text{cycles/pixel},\ f_c = 0.25.

    Parameters
    ----------
    reconstruction, original : array_like, shape (H, W) or (H, W, 3), H, W ≥ 8
        Same shape; any numeric dtype (compared in float64).
    cutoff : float
        :math:`f_c` in cycles per pixel, in (0, 0.5).

    Returns
    -------
    float
        Below 1 when detail was lost (blur), above 1 when high-frequency power was added
        (noise, ringing, block edges).
    """
    a, b = _as_float_pair(reconstruction, original)
    if a.ndim == 3 and a.shape[2] != 3:
        raise ValueError(f"colour images must have 3 channels, got shape {a.shape}")
    if min(a.shape[:2]) < 8:
        raise ValueError(f"detail_ratio needs images at least 8 px on each side, got {a.shape}")
    if not 0 < cutoff < 0.5:
        raise ValueError(f"cutoff must be in (0, 0.5) cycles/pixel, got {cutoff}")
    if a.ndim == 3:
        a, b = a @ np.asarray(LUMA_WEIGHTS), b @ np.asarray(LUMA_WEIGHTS)
    reference = _high_frequency_power(b, cutoff)
    if reference == 0.0:
        raise ValueError("the original has no power above the cutoff (a flat image): no ratio")
    return _high_frequency_power(a, cutoff) / reference


def bpp(data, shape: Sequence[int]) -> float:
    """Bits per pixel, :math:`8\\,\\mathrm{len(data)} / (H W)`.

    Parameters
    ----------
    data : bytes-like
        The compressed bitstream.
    shape : (H, W) or (H, W, C)
        Shape of the decoded image; channels do not count (bits per *pixel*, not per sample).
    """
    if len(shape) not in (2, 3) or min(shape[:2]) <= 0:
        raise ValueError(f"shape must be (H, W) or (H, W, C) with H, W > 0, got {tuple(shape)}")
    return 8.0 * len(data) / (shape[0] * shape[1])


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shape-preserving node slopes of the piecewise cubic Hermite interpolant, shape (n,).

    Fritsch–Carlson: where the secants on both sides of a node agree in sign, take their
    weighted harmonic mean (Fritsch & Butland's weights), else 0, so no piece overshoots its
    data; ends use the 3-point formula with the same limiters. This is MATLAB's ``pchip`` and
    SciPy's ``PchipInterpolator``.
    """
    h = np.diff(x)
    secant = np.diff(y) / h
    if len(x) == 2:
        return np.array([secant[0], secant[0]])
    slopes = np.zeros_like(y)
    w_left, w_right = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    same_sign = secant[:-1] * secant[1:] > 0
    s_left, s_right = secant[:-1][same_sign], secant[1:][same_sign]
    wl, wr = w_left[same_sign], w_right[same_sign]
    slopes[1:-1][same_sign] = (wl + wr) / (wl / s_left + wr / s_right)
    slopes[0] = _pchip_end_slope(h[0], h[1], secant[0], secant[1])
    slopes[-1] = _pchip_end_slope(h[-1], h[-2], secant[-1], secant[-2])
    return slopes


def _pchip_end_slope(h_end: float, h_next: float, s_end: float, s_next: float) -> float:
    """One-sided 3-point slope at an end node, limited so the end piece stays shape-preserving."""
    slope = ((2 * h_end + h_next) * s_end - h_end * s_next) / (h_end + h_next)
    if np.sign(slope) != np.sign(s_end):
        return 0.0
    if np.sign(s_end) != np.sign(s_next) and abs(slope) > 3 * abs(s_end):
        return 3 * s_end
    return slope


def _integral(x: np.ndarray, y: np.ndarray, method: str, lo: float, hi: float) -> float:
    """Exact integral over [lo, hi] ⊆ [x₀, xₙ] of the curve through (x, y), x increasing."""
    if method == "cubic":
        antiderivative = np.polyint(np.polyfit(x, y, 3))
        return float(np.polyval(antiderivative, hi) - np.polyval(antiderivative, lo))
    # PCHIP piece k in s = x − x_k: y_k + d_k s + c2 s² + c3 s³, from the Hermite conditions.
    h = np.diff(x)
    secant = np.diff(y) / h
    slopes = _pchip_slopes(x, y)
    d0, d1 = slopes[:-1], slopes[1:]
    c2 = (3 * secant - 2 * d0 - d1) / h
    c3 = (d0 + d1 - 2 * secant) / h**2

    def piece_antiderivative(s):
        return s * (y[:-1] + s * (d0 / 2 + s * (c2 / 3 + s * c3 / 4)))

    # Clipping s to [0, h] makes pieces outside [lo, hi] contribute exactly zero.
    s_lo = np.clip(lo - x[:-1], 0.0, h)
    s_hi = np.clip(hi - x[:-1], 0.0, h)
    return float(np.sum(piece_antiderivative(s_hi) - piece_antiderivative(s_lo)))


def _bd_average_gap(x_anchor, y_anchor, x_test, y_test, method: str) -> float:
    """Mean of y_test(x) − y_anchor(x) over the x interval both curves cover."""
    min_points = {"cubic": 4, "pchip": 2}
    if method not in min_points:
        raise ValueError(f"method must be 'pchip' or 'cubic', got {method!r}")
    curves = []
    for name, x, y in (("anchor", x_anchor, y_anchor), ("test", x_test, y_test)):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) < min_points[method]:
            raise ValueError(
                f"{name} curve needs two 1-D sequences of equal length ≥ {min_points[method]} "
                f"for method {method!r}, got shapes {x.shape} and {y.shape}"
            )
        order = np.argsort(x)
        x, y = x[order], y[order]
        if not np.all(np.isfinite(x) & np.isfinite(y)) or np.any(np.diff(x) <= 0):
            raise ValueError(f"{name} curve must be finite with distinct values, got x={x}")
        curves.append((x, y))
    (xa, ya), (xt, yt) = curves
    lo, hi = max(xa[0], xt[0]), min(xa[-1], xt[-1])
    if hi <= lo:
        raise ValueError(f"the curves do not overlap: [{xa[0]}, {xa[-1]}] vs [{xt[0]}, {xt[-1]}]")
    return (_integral(xt, yt, method, lo, hi) - _integral(xa, ya, method, lo, hi)) / (hi - lo)


def _log_rates(*rate_lists) -> list[np.ndarray]:
    rate_arrays = [np.asarray(rates, dtype=np.float64) for rates in rate_lists]
    if not all(np.all(rates > 0) for rates in rate_arrays):
        raise ValueError(f"rates must be > 0, got {rate_arrays}")
    return [np.log(rates) for rates in rate_arrays]


def bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test, method: str = "pchip") -> float:
    r"""Bjøntegaard delta rate: average bit-rate change at equal PSNR, in percent.

    Fit :math:`\log r = f(\mathrm{PSNR})` through each curve's points, then

    .. math:: \Delta = \frac{1}{P_{hi}-P_{lo}} \int_{P_{lo}}^{P_{hi}} f_{test} - f_{anchor}
              \,dP, \qquad \mathrm{BD\text{-}rate} = (e^{\Delta} - 1)\cdot 100,

    over the PSNR range :math:`[P_{lo}, P_{hi}]` both curves cover.

    ``method="cubic"`` is Bjøntegaard's original (VCEG-M33): one cubic polynomial
    (least squares, exact for 4 points) per curve. It can wiggle between points and even turn
    back, so the JVET common-test-condition spreadsheets (and the ``bjontegaard`` package)
    moved to ``method="pchip"``: a piecewise cubic Hermite interpolant whose node slopes are
    Fritsch–Carlson limited, so it is monotone wherever the data are. Both are integrated
    exactly.

    Parameters
    ----------
    rate_anchor, psnr_anchor, rate_test, psnr_test : sequence of float, shape (n,)
        RD points in any order; rates > 0 in any unit (bpp, kbit/s). n ≥ 4 for ``"cubic"``,
        ≥ 2 for ``"pchip"``.
    method : {"pchip", "cubic"}

    Returns
    -------
    float
        Negative when the test codec needs fewer bits for the same quality.
    """
    log_anchor, log_test = _log_rates(rate_anchor, rate_test)
    gap = _bd_average_gap(psnr_anchor, log_anchor, psnr_test, log_test, method)
    return float(np.expm1(gap) * 100.0)


def bd_psnr(rate_anchor, psnr_anchor, rate_test, psnr_test, method: str = "pchip") -> float:
    r"""Bjøntegaard delta PSNR: average PSNR gain at equal rate, in dB.

    Fit :math:`\mathrm{PSNR} = g(\log r)` per curve (``"cubic"`` or ``"pchip"``, as in
    :func:`bd_rate`) and average :math:`g_{test} - g_{anchor}` over the shared
    :math:`\log r` range. Positive when the test codec is better.

    Parameters
    ----------
    rate_anchor, psnr_anchor, rate_test, psnr_test : sequence of float, shape (n,)
    method : {"pchip", "cubic"}
    """
    log_anchor, log_test = _log_rates(rate_anchor, rate_test)
    return float(_bd_average_gap(log_anchor, psnr_anchor, log_test, psnr_test, method))
