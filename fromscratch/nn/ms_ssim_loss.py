r"""MS-SSIM as a training loss, with its backward pass written out.

Rippel & Bourdev (2017) trained their codec on MS-SSIM rather than MSE: it rewards keeping
*structure* (local correlation) at several scales and forgives small changes of brightness, so
the network spends its bits where we look. To train on it by hand we need its gradient with
respect to every pixel of the reconstruction - the subject of this module.

The forward pass (Wang, Simoncelli & Bovik 2003)
-------------------------------------------------
Images ``a`` (the reconstruction) and ``b`` (the target), shape ``(N, C, H, W)``. At each scale,
filter with the normalized 11-tap Gaussian (σ = 1.5), separably, keeping only the positions
where the window fits ('valid'). Five filtered maps give local moments::

    mu_a = g*a,  mu_b = g*b,  var_a = g*(a²) - mu_a²,  var_b = g*(b²) - mu_b²,
    cov  = g*(ab) - mu_a mu_b

and two maps: contrast-structure ``cs = (2 cov + C2) / (var_a + var_b + C2)`` and luminance
``l = (2 mu_a mu_b + C1) / (mu_a² + mu_b² + C1)``, with ``C1 = (0.01 L)²``, ``C2 = (0.03 L)²``
for data range ``L``. Scale ``j`` contributes ``x_j = mean(cs)`` (``mean(l·cs)`` at the last
one); between scales the images are halved by 2×2 average pooling (an odd last row or column
is dropped, as :func:`fromscratch.metrics.ms_ssim` does). Then, per image and channel,

.. math:: \mathrm{MS\text{-}SSIM} = \prod_j \max(x_j, 0)^{w_j}, \qquad
          w = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),

and the loss is :math:`1 - ` its mean over images and channels. This is exactly
:func:`fromscratch.metrics.ms_ssim` (and pytorch-msssim, the implementation CompressAI reports
with), only batched and differentiable.

The backward pass, box by box
-----------------------------
*Product.* :math:`\partial P/\partial x_j = w_j P / x_j` where :math:`x_j > 0` (0 where the clamp
is active). *Means.* A mean over ``h·w`` positions spreads ``g/(h w)`` onto every position of the
map; at the last scale ``l·cs`` splits it into ``g·cs`` for ``l`` and ``g·l`` for ``cs``.
*The two maps.* With :math:`D = \mathrm{var}_a + \mathrm{var}_b + C_2` and
:math:`B = \mu_a^2 + \mu_b^2 + C_1`:

.. math:: \frac{\partial cs}{\partial\,\mathrm{cov}} = \frac{2}{D}, \quad
          \frac{\partial cs}{\partial\,\mathrm{var}_a} = -\frac{cs}{D}, \quad
          \frac{\partial l}{\partial \mu_a} = \frac{2(\mu_b - l\,\mu_a)}{B}.

*Moments.* ``var_a = g*(a²) - mu_a²`` and ``cov = g*(ab) - mu_a mu_b`` route these to the three
filtered maps that depend on ``a``: :math:`\bar g_{\mu_a} = \partial_{\mu_a} - 2\mu_a
\partial_{\mathrm{var}_a} - \mu_b \partial_{\mathrm{cov}}`, :math:`\bar g_{aa} =
\partial_{\mathrm{var}_a}`, :math:`\bar g_{ab} = \partial_{\mathrm{cov}}`.
*Filters.* A 'valid' correlation's transpose is a 'full' convolution: every output position
hands ``w_k · g`` back to the ``k``-th input it read. So

.. math:: \frac{\partial L}{\partial a} = g^T\!*\bar g_{\mu_a} + 2a\,(g^T\!*\bar g_{aa})
          + b\,(g^T\!*\bar g_{ab}).

*Pooling.* Each pooled pixel hands a quarter of its gradient to each of its 2×2 parents (the
dropped odd row or column gets zero), and the gradients of all scales are summed, coarsest
first. Float64 finite differences and torch's autograd on pytorch-msssim check all of it
(``tests/test_nn_gan.py``).

The constants are those of :mod:`fromscratch.metrics` (kept here too: ``nn`` and ``metrics``
are independent boxes of the same layer; a test pins the two to the same value).
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module
from .module import Module

__all__ = ["MS_SSIM_WEIGHTS", "MSSSIMLoss", "ms_ssim_backward", "ms_ssim_forward"]

WINDOW_SIZE, WINDOW_SIGMA = 11, 1.5
K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window(dtype="float64", xp=np):
    """The normalized 11-tap Gaussian (σ = 1.5), shape (11,)."""
    offsets = np.arange(WINDOW_SIZE) - WINDOW_SIZE // 2
    window = np.exp(-(offsets**2) / (2.0 * WINDOW_SIGMA**2))
    return xp.asarray(window / window.sum(), dtype=dtype)


def _axis_slice(ndim: int, axis: int, start: int, stop: int) -> tuple:
    index = [slice(None)] * ndim
    index[axis] = slice(start, stop)
    return tuple(index)


def _filter_valid(x, window, axis: int):
    """'Valid' correlation along ``axis``: ``out[i] = sum_k window[k] x[i + k]``."""
    size = x.shape[axis] - len(window) + 1
    out = window[0] * x[_axis_slice(x.ndim, axis, 0, size)]
    for k in range(1, len(window)):
        out = out + window[k] * x[_axis_slice(x.ndim, axis, k, k + size)]
    return out


def _filter_valid_transpose(grad, window, axis: int, length: int):
    """The transpose of :func:`_filter_valid`: ``dx[i + k] += window[k] grad[i]``."""
    xp = array_module(grad)
    shape = list(grad.shape)
    shape[axis] = length
    dx = xp.zeros(shape, dtype=grad.dtype)
    size = grad.shape[axis]
    for k in range(len(window)):
        dx[_axis_slice(grad.ndim, axis, k, k + size)] += window[k] * grad
    return dx


def _blur(x, window):
    """Separable Gaussian, rows then columns, 'valid': (..., H, W) -> (..., H-10, W-10)."""
    return _filter_valid(_filter_valid(x, window, -1), window, -2)


def _blur_transpose(grad, window, shape):
    return _filter_valid_transpose(
        _filter_valid_transpose(grad, window, -2, shape[-2]), window, -1, shape[-1]
    )


def _halve(x):
    """2×2 average pooling of (..., H, W); an odd last row/column is dropped."""
    height, width = x.shape[-2] // 2, x.shape[-1] // 2
    even = x[..., : 2 * height, : 2 * width]
    return even.reshape(*x.shape[:-2], height, 2, width, 2).mean(axis=(-3, -1))


def _halve_transpose(grad, shape):
    """Each pooled pixel's gradient, a quarter to each of its four parents; dropped ones get 0."""
    xp = array_module(grad)
    dx = xp.zeros(shape, dtype=grad.dtype)
    quarter = grad / 4
    up = xp.repeat(xp.repeat(quarter, 2, axis=-2), 2, axis=-1)
    dx[..., : up.shape[-2], : up.shape[-1]] = up
    return dx


def _scale_forward(a, b, window, c1, c2):
    """One scale: the cs and l maps (N, C, h, w) and what their backward needs."""
    xp = array_module(a, b)
    mu_a, mu_b, mean_aa, mean_bb, mean_ab = _blur(xp.stack([a, b, a * a, b * b, a * b]), window)
    var_a, var_b = mean_aa - mu_a**2, mean_bb - mu_b**2
    cov = mean_ab - mu_a * mu_b
    denominator_cs = var_a + var_b + c2
    denominator_l = mu_a**2 + mu_b**2 + c1
    cs_map = (2 * cov + c2) / denominator_cs
    l_map = (2 * mu_a * mu_b + c1) / denominator_l
    cache = (a, b, mu_a, mu_b, denominator_cs, denominator_l, cs_map, l_map)
    return cs_map, l_map, cache


def _scale_backward(grad_cs_map, grad_l_map, cache, window):
    """dL/da of one scale, given dL/d cs_map and dL/d l_map (either may be None)."""
    a, b, mu_a, mu_b, denominator_cs, denominator_l, cs_map, l_map = cache
    grad_cov = grad_cs_map * 2 / denominator_cs
    grad_var_a = -grad_cs_map * cs_map / denominator_cs
    grad_mu_a = -2 * mu_a * grad_var_a - mu_b * grad_cov
    if grad_l_map is not None:
        grad_mu_a = grad_mu_a + grad_l_map * 2 * (mu_b - l_map * mu_a) / denominator_l
    shape = a.shape
    return (_blur_transpose(grad_mu_a, window, shape)
            + 2 * a * _blur_transpose(grad_var_a, window, shape)
            + b * _blur_transpose(grad_cov, window, shape))


def minimum_side(n_scales: int) -> int:
    """Smallest image side for which the 11-px window fits after ``n_scales - 1`` halvings."""
    return WINDOW_SIZE * 2 ** (n_scales - 1)


def ms_ssim_forward(a, b, data_range: float = 1.0, weights=MS_SSIM_WEIGHTS):
    """Per-image, per-channel MS-SSIM of ``a`` against ``b``, shape (N, C), and the cache.

    Parameters
    ----------
    a, b : arrays (N, C, H, W), same shape, float
        ``a`` is differentiated (the reconstruction); ``b`` is a constant (the target).
    data_range : float
        ``L`` in ``C1 = (0.01 L)²``: 1.0 for images in [0, 1], 255 for 8-bit values.
    weights : sequence of float
        Exponent per scale, finest first (fewer scales need smaller images).
    """
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"need two (N, C, H, W) arrays of one shape, got {a.shape} and {b.shape}")
    n_scales = len(weights)
    if min(a.shape[-2:]) < minimum_side(n_scales):
        raise ValueError(f"MS-SSIM with {n_scales} scales needs H, W ≥ {minimum_side(n_scales)}, "
                         f"got {a.shape[-2:]}")
    xp = array_module(a, b)
    window = gaussian_window(a.dtype, xp)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    scales, terms = [], []
    for scale in range(n_scales):
        cs_map, l_map, cache = _scale_forward(a, b, window, c1, c2)
        last = scale == n_scales - 1
        terms.append((l_map * cs_map if last else cs_map).mean(axis=(-2, -1)))
        scales.append(cache)
        if not last:
            a, b = _halve(a), _halve(b)
    stacked = xp.stack(terms)  # (scales, N, C)
    clamped = xp.maximum(stacked, 0)
    exponents = xp.asarray(weights, dtype=a.dtype)[:, None, None]
    value = xp.prod(clamped**exponents, axis=0)
    return value, (scales, clamped, exponents, value, window)


def ms_ssim_backward(grad_value, cache):
    """dL/da from dL/d value (N, C): the chain of the module docstring, coarsest scale first."""
    scales, clamped, exponents, value, window = cache
    xp = array_module(grad_value)
    positive = clamped > 0
    safe = xp.where(positive, clamped, 1)
    grad_terms = xp.where(positive, grad_value * exponents * value / safe, 0)  # (scales, N, C)
    grad_a = None
    for scale in reversed(range(len(scales))):
        scale_cache = scales[scale]
        cs_map, l_map = scale_cache[6], scale_cache[7]
        spread = grad_terms[scale][..., None, None] / (cs_map.shape[-2] * cs_map.shape[-1])
        if scale == len(scales) - 1:
            direct = _scale_backward(spread * l_map, spread * cs_map, scale_cache, window)
        else:
            direct = _scale_backward(spread * xp.ones_like(cs_map), None, scale_cache, window)
        if grad_a is not None:
            direct = direct + _halve_transpose(grad_a, scale_cache[0].shape)
        grad_a = direct
    return grad_a


class MSSSIMLoss(Module):
    """``1 - mean MS-SSIM(pred, target)`` over images and channels, with its backward.

    Parameters
    ----------
    data_range : float
        1.0 for images in [0, 1] (the training scripts' scale), 255 for 8-bit values.
    weights : sequence of float
        Per-scale exponents; the default five are Wang et al.'s. Training on 128-px crops uses
        three (e.g. the first three renormalized), since five need sides ≥ 176.

    ``forward(pred, target)`` returns a 0-d array (``pred``'s dtype and backend) and keeps the
    MS-SSIM per image and channel in ``self.value`` (N, C); ``backward(grad=1.0)`` returns
    ``dL/dpred``. The target is a constant.
    """

    def __init__(self, data_range: float = 1.0, weights=MS_SSIM_WEIGHTS):
        self.data_range = float(data_range)
        self.weights = tuple(float(w) for w in weights)
        self.value = None
        self._cache = None

    def forward(self, pred, target):
        xp = array_module(pred, target)
        self.value, self._cache = ms_ssim_forward(pred, target, self.data_range, self.weights)
        return xp.asarray(1 - self.value.mean(), dtype=pred.dtype)

    def backward(self, grad=1.0):
        if self._cache is None:
            raise RuntimeError("MSSSIMLoss.backward called before forward")
        xp = array_module(self.value)
        grad_value = xp.full(self.value.shape, -grad / self.value.size, dtype=self.value.dtype)
        return ms_ssim_backward(grad_value, self._cache)

    def extra_repr(self) -> str:
        return f"data_range={self.data_range}, scales={len(self.weights)}"
