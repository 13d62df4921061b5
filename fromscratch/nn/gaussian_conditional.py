"""The Gaussian conditional: a latent's density is N(0, sigma^2), with sigma predicted per element.

Why a conditional density
-------------------------
Chapter 4's factorized model (:mod:`.entropy_bottleneck`) gives every latent of a channel the same
density, wherever it sits in the image: a flat sky and a textured bush pay the same price per
symbol. Ballé, Minnen, Singh, Hwang & Johnston ("Variational image compression with a scale
hyperprior", ICLR 2018) let a second network predict, for every latent ``y[c, i, j]``, the scale
``sigma[c, i, j]`` of a zero-mean Gaussian, and coded each latent with the density of its own
scale. This module is that density; the network predicting ``sigma`` is the *hyperprior*.

The likelihood of a quantized value
-----------------------------------
As in chapter 4 the latent is rounded at test time and perturbed by ``u ~ U(-1/2, 1/2)`` in
training, so what is coded is the Gaussian convolved with a unit box::

    p(v | sigma) = Phi((v + 1/2) / sigma) - Phi((v - 1/2) / sigma),
    Phi(t) = (1/2) erfc(-t / sqrt 2)                              (standard normal CDF)

The density is symmetric, so ``p(v) = p(|v|)``; CompressAI's trick is to evaluate it at ``-|v|``::

    p(v | sigma) = Phi(a) - Phi(b),   a = (1/2 - |v|) / sigma,   b = (-1/2 - |v|) / sigma

For a latent far in the tail both ``a`` and ``b`` are very negative and ``Phi`` is computed from
``erfc`` of a large positive argument: tiny numbers with full relative precision, instead of the
difference of two numbers close to 1 that float32 would round to 0.

Derivatives (``phi`` the standard normal density, ``s = sign(v)``)::

    dp/dv     = s * (phi(b) - phi(a)) / sigma
    dp/dsigma = (b * phi(b) - a * phi(a)) / sigma

Two floors keep the logarithm of the rate finite: ``sigma >= 0.11`` (:data:`SCALE_BOUND`, the
value CompressAI and TensorFlow Compression use) and ``p >= 1e-9``. As in chapter 4, a floor lets
its gradient through whenever that gradient would *raise* the value (:func:`lower_bound_backward`),
so nothing stays stuck on a floor.

erfc without SciPy
------------------
NumPy has no ``erf``. :func:`erfc` is the Chebyshev fit of *Numerical Recipes* (``erfcc``,
Press et al. 1992, section 6.2): for ``x >= 0``, ``erfc(x) = t exp(-x^2 + P(t))`` with ``t = 1 / (1
+ x/2)`` and ``P`` a polynomial of degree 9; fractional error below 1.2e-7 everywhere, and
``erfc(-x) = 2 - erfc(x)``. It works on NumPy and CuPy arrays alike.

From scales to code tables
--------------------------
The coder cannot have one table per real-valued sigma. A fixed table of 64 scales, log-spaced from
0.11 to 256 (:func:`scale_table`, as in CompressAI and TFC), is turned once into integer CDF
tables (:func:`gaussian_pmfs` gives the float64 pmfs, evaluated with ``math.erfc``); each latent
is coded with the table of the smallest tabulated scale at least its own (:func:`scale_indexes`).
*Which* table is chosen must be the same on the encoder and the decoder, bit for bit: the codec
(``codecs/balle2018``) explains how it makes sure of that.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import array_module, make_rng
from .module import Module

__all__ = [
    "LIKELIHOOD_BOUND",
    "SCALE_BOUND",
    "GaussianConditional",
    "erfc",
    "gaussian_likelihood_backward",
    "gaussian_likelihood_forward",
    "gaussian_pmfs",
    "lower_bound_backward",
    "scale_indexes",
    "scale_table",
    "standard_normal_cdf",
]

SCALE_BOUND = 0.11
LIKELIHOOD_BOUND = 1e-9
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# Numerical Recipes' erfcc coefficients, lowest degree first.
_ERFC_COEFFICIENTS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
                      0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def erfc(x):
    """Complementary error function ``erfc(x) = 1 - erf(x)``, fractional error < 1.2e-7.

    Parameters
    ----------
    x : array (any shape), float32 or float64, NumPy or CuPy

    Returns
    -------
    array of ``x``'s shape and dtype
    """
    xp = array_module(x)
    z = xp.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = xp.zeros_like(t) + _ERFC_COEFFICIENTS[-1]
    for c in _ERFC_COEFFICIENTS[-2::-1]:  # Horner
        poly = poly * t + c
    tail = t * xp.exp(-z * z + poly)
    return xp.where(x >= 0, tail, 2.0 - tail).astype(x.dtype, copy=False)


def standard_normal_cdf(t):
    """``Phi(t) = erfc(-t / sqrt 2) / 2``: accurate in the lower tail (t very negative)."""
    return 0.5 * erfc(-_SQRT_HALF * t)


def _standard_normal_pdf(xp, t):
    return _INV_SQRT_2PI * xp.exp(-0.5 * t * t)


def gaussian_likelihood_forward(values, scales):
    """``p(v | sigma) = Phi((1/2 - |v|)/sigma) - Phi((-1/2 - |v|)/sigma)``, elementwise.

    Parameters
    ----------
    values, scales : arrays of one shape (scales > 0; no floor applied here)

    Returns
    -------
    likelihood : array of that shape
    cache : tuple for :func:`gaussian_likelihood_backward`
    """
    xp = array_module(values)
    magnitude = xp.abs(values)
    upper = (0.5 - magnitude) / scales
    lower = (-0.5 - magnitude) / scales
    likelihood = standard_normal_cdf(upper) - standard_normal_cdf(lower)
    return likelihood, (values, scales, upper, lower)


def gaussian_likelihood_backward(dlikelihood, cache):
    """Gradients ``(dvalues, dscales)`` of :func:`gaussian_likelihood_forward` (see above)."""
    values, scales, upper, lower = cache
    xp = array_module(values)
    pdf_upper, pdf_lower = _standard_normal_pdf(xp, upper), _standard_normal_pdf(xp, lower)
    dvalues = dlikelihood * xp.sign(values) * (pdf_lower - pdf_upper) / scales
    dscales = dlikelihood * (lower * pdf_lower - upper * pdf_upper) / scales
    return dvalues.astype(values.dtype, copy=False), dscales.astype(scales.dtype, copy=False)


def lower_bound_backward(grad, value, bound):
    """Gradient through ``max(value, bound)``: passed where ``value >= bound`` or ``grad < 0``.

    ``grad < 0`` means gradient descent would raise the value, so it is let through even on the
    floor (CompressAI's ``LowerBound``): a value pushed under the bound can come back.
    """
    xp = array_module(grad)
    return xp.where((value >= bound) | (grad < 0), grad, 0.0).astype(grad.dtype, copy=False)


class GaussianConditional(Module):
    """Noisy (training) or rounded (test) latents and their likelihoods under N(0, sigma^2).

    Parameters
    ----------
    scale_bound : float, optional
        Floor of the scales (default 0.11).
    likelihood_bound : float, optional
        Floor of the likelihoods (default 1e-9).
    rng : int or numpy.random.Generator, optional
        Seed of the training noise.

    Notes
    -----
    ``forward(y, scales)``: ``y`` and ``scales`` of one shape (N, C, H, W); returns ``(y_hat,
    likelihoods)``. In training ``y_hat = y + u``, ``u ~ U(-1/2, 1/2)``; in evaluation (and for
    the decoder in training when ``decoder_rounding`` is set, gradient straight through)
    ``y_hat = round(y)``. ``backward(grad_y_hat, grad_likelihoods)`` returns ``(grad_y,
    grad_scales)``. No parameters: the scales come from the hyper-synthesis.
    """

    decoder_rounding = False

    def __init__(self, *, scale_bound: float = SCALE_BOUND,
                 likelihood_bound: float = LIKELIHOOD_BOUND, rng=None):
        self.scale_bound = float(scale_bound)
        self.likelihood_bound = float(likelihood_bound)
        self.rng = make_rng(rng)
        self._cache = None

    def extra_repr(self) -> str:
        return f"scale_bound={self.scale_bound}, likelihood_bound={self.likelihood_bound}"

    def forward(self, y, scales):
        xp = array_module(y)
        if tuple(y.shape) != tuple(scales.shape):
            raise ValueError(f"latents {tuple(y.shape)} and scales {tuple(scales.shape)} differ")
        if self.training:
            noise = xp.asarray(self.rng.uniform(-0.5, 0.5, y.shape).astype(y.dtype))
            rate_values = y + noise
            y_hat = xp.rint(y) if self.decoder_rounding else rate_values
        else:
            rate_values = y_hat = xp.rint(y)
        bounded_scales = xp.maximum(scales, self.scale_bound)
        likelihood, cache = gaussian_likelihood_forward(rate_values, bounded_scales)
        self._cache = (cache, scales, likelihood)
        return y_hat, xp.maximum(likelihood, self.likelihood_bound)

    def backward(self, grad_y_hat, grad_likelihoods=None):
        if self._cache is None:
            raise RuntimeError("GaussianConditional.backward called before forward")
        cache, scales, likelihood = self._cache
        grad_y = grad_y_hat
        if grad_likelihoods is None:
            return grad_y, array_module(scales).zeros_like(scales)
        dlikelihood = lower_bound_backward(grad_likelihoods, likelihood, self.likelihood_bound)
        dvalues, dbounded = gaussian_likelihood_backward(dlikelihood, cache)
        grad_scales = lower_bound_backward(dbounded, scales, self.scale_bound)
        return grad_y + dvalues, grad_scales


# --- what the coder needs ---------------------------------------------------------------------


def scale_table(low: float = SCALE_BOUND, high: float = 256.0, levels: int = 64) -> np.ndarray:
    """``levels`` scales log-spaced from ``low`` to ``high`` (float64), CompressAI's default."""
    return np.exp(np.linspace(math.log(low), math.log(high), levels))


def scale_indexes(scales, table) -> np.ndarray:
    """Index of the smallest tabulated scale ``>= sigma`` for every scale (the last if none).

    Rounding the scale *up* costs a little rate when the table is coarse but never codes a latent
    with too narrow a density. Floating point: see ``codecs/balle2018`` for why the codec does not
    use this on the decoder and what it does instead.
    """
    scales = np.asarray(scales)
    table = np.asarray(table, dtype=scales.dtype)
    return np.minimum(np.searchsorted(table, scales, side="left"), len(table) - 1).astype(np.int32)


def gaussian_pmfs(table, tail_mass: float = 1e-9):
    """The bin probabilities of N(0, s^2) for each scale ``s`` of ``table``, for integer tables.

    Table ``t`` covers the integers ``-c_t .. c_t`` with ``c_t = ceil(s_t * Phi^-1(1 - tail/2))``
    (the values whose bins hold all but ``tail_mass`` of the density); the rest is left to the
    coder's escape symbol. Evaluated on the host in float64 with ``math.erfc``.

    Returns
    -------
    pmfs : list of numpy.ndarray (float64), ``pmfs[t]`` of length ``2 c_t + 1``
    offsets : numpy.ndarray of int64, ``-c_t``
    """
    # Phi^-1(1 - tail/2) by bisection on math.erfc (no SciPy): about 6.1 for 1e-9
    low, high = 0.0, 40.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if 0.5 * math.erfc(mid * _SQRT_HALF) > tail_mass / 2 else (low,
                                                                                            mid)
    multiplier = high
    pmfs, offsets = [], []
    for s in np.asarray(table, dtype=np.float64).tolist():
        centre = math.ceil(s * multiplier)
        pmf = []
        for v in range(-centre, centre + 1):
            a, b = (0.5 - abs(v)) / s, (-0.5 - abs(v)) / s
            pmf.append(0.5 * math.erfc(-a * _SQRT_HALF) - 0.5 * math.erfc(-b * _SQRT_HALF))
        pmfs.append(np.array(pmf))
        offsets.append(-centre)
    return pmfs, np.array(offsets, np.int64)
