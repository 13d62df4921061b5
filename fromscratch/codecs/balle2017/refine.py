"""Latent refinement: an encoder that searches, for each image, for better latents to send.

The amortization gap
--------------------
A learned codec's decoder is fixed once it is trained: the synthesis ``g_s`` and the entropy
model turn any latents ``y`` into an image and a number of bits. Its encoder, the analysis
``g_a``, is one network that must guess good latents for *every* image at once, in one forward
pass; for a given image it is close to the best ``y``, not at it. Campos, Meierhans, Djelouah &
Schroers ("Content adaptive optimization for neural image compression", CVPR workshops 2019)
and Yang, Bamler & Mandt ("Improving inference for neural image compression", NeurIPS 2020)
called the difference the *amortization gap*, and closed part of it at encoding time: start from
``y0 = g_a(x)`` and run gradient descent on the codec's own loss, for this one image::

    L(y) = R(y) / pixels  +  lambda * 255^2 * MSE(x, g_s(y))       (the training loss, per image)

    dL/dy = dR/dy / pixels  +  g_s.backward(lambda * 255^2 * 2 (g_s(y) - x) / count)

Only the encoder changes. The stream has the same format and any decoder reads it; the
refinement costs one forward and backward pass of ``g_s`` per iteration (about twice an
encoding). The fewer steps the models were trained for, the larger the gap they leave: it is a
cheap way to buy back some of what a 2-core CPU could not train.

The relaxation, then rounding
-----------------------------
The coder sends ``round(y)``, whose loss is piecewise constant in ``y``: it has no useful
gradient. As in training, the search runs on the continuous relaxation: ``g_s`` sees ``y``
itself and the rate is the density's ``-log2 p(y)`` of the box-convolved density at ``y``
(no noise: one image, a deterministic search). Adam (:class:`~fromscratch.nn.optim.Adam`'s
update, written out below for an array that is not a parameter) moves ``y`` for ``iterations``
steps. The relaxation is not the discrete loss: near zero, where most latents of a low-rate
model sit, a small move of the relaxed ``y`` can flip many roundings at once. So every
``check_every`` iterations the search's latents are rounded and their loss *as coded* is measured
(the estimated bits and the decoded image's MSE), and the best rounded latents seen, ``round(y0)``
included, are what the encoder sends. The refined encoder is therefore never worse than the plain
one by the codec's own measure. The step size (0.02 per iteration, Adam's normalized step) is
small for the same reason: at 0.05-0.1 the low-rate models' searches were often refused.

What the rate is depends on the codec (a callable ``rate(values) -> (bits, dbits/dvalues)``):
chapter 4's factorized density per channel (:func:`factorized_rate`), or chapter 6's Gaussians
whose scales the side information fixed (:func:`gaussian_rate`; ``z`` stays as the analysis
chose it, and ``y`` is refined for those scales).

Memory: the search keeps ``g_s``'s forward caches for the backward pass, about 11 bytes per
pixel and hidden channel (:func:`search_peak_bytes`: 0.7 GB per megapixel at N = 64), so the
codecs refuse to refine an image for which that would pass their memory limit (2 GB: about 2.4
megapixels at N = 64); such an image still codes with ``refine=0``.
"""

from __future__ import annotations

import math

from ...backend import array_module
from ...nn.entropy_bottleneck import likelihood_forward, logits_backward
from ...nn.gaussian_conditional import (
    LIKELIHOOD_BOUND,
    gaussian_likelihood_backward,
    gaussian_likelihood_forward,
)
from ...nn.module import no_grad

__all__ = [
    "SEARCH_BYTES_PER_PIXEL_CHANNEL",
    "factorized_rate",
    "gaussian_rate",
    "refine_latents",
    "relaxed_loss",
    "search_peak_bytes",
]

#: Bytes per (padded) pixel and hidden channel of ``g_s`` that the search holds for its backward
#: pass: 10.3 measured (peak resident memory of encoding kodim01, 768 x 512, with balle2018 q3,
#: N = 64: 301 MB with refine=0, 562 MB with refine=2), rounded up.
SEARCH_BYTES_PER_PIXEL_CHANNEL = 11


def search_peak_bytes(hidden_channels: int, pixels: int) -> int:
    """Memory the search adds to an encoding (bytes): about 0.7 GB per megapixel at N = 64."""
    return SEARCH_BYTES_PER_PIXEL_CHANNEL * hidden_channels * pixels


_LN2 = math.log(2.0)


def _bits_and_gradient(likelihood, dlikelihood_dvalue, bound):
    """``sum -log2 max(p, bound)`` and its gradient ``-dp/dv / (ln 2 max(p, bound))``.

    The floor passes the gradient, as in training (it always points to a larger ``p``)."""
    xp = array_module(likelihood)
    bounded = xp.maximum(likelihood, bound)
    return float(-xp.log2(bounded).sum()), -dlikelihood_dvalue / (_LN2 * bounded)


def gaussian_rate(scales, bound: float = LIKELIHOOD_BOUND):
    """The rate of latents under zero-mean Gaussians of fixed ``scales`` (chapter 6).

    Returns ``rate(values) -> (bits, dbits/dvalues)``, in float64, for values of the shape of
    ``scales``.
    """
    scales = scales.astype("float64")

    def rate(values):
        values = values.astype("float64")
        likelihood, cache = gaussian_likelihood_forward(values, scales)
        dlikelihood, _ = gaussian_likelihood_backward(1.0, cache)
        return _bits_and_gradient(likelihood, dlikelihood, bound)

    return rate


def factorized_rate(entropy_bottleneck):
    """The rate of latents (C, h, w) under a trained :class:`EntropyBottleneck` (chapter 4).

    Returns ``rate(values) -> (bits, dbits/dvalues)``, in float64; the density's parameters
    are read, never changed (no parameter gradient is accumulated).
    """
    eb = entropy_bottleneck
    arrays = [[p.data.astype("float64") for p in group]
              for group in (eb.matrices, eb.biases, eb.factors)]

    def rate(values):
        channels = values.shape[0]
        flat = values.astype("float64").reshape(channels, 1, -1)
        likelihood, (sig_u, sig_l, cache_u, cache_l) = likelihood_forward(flat, *arrays)
        # p = sigmoid(u) - sigmoid(l), u and l the logits at v + 1/2 and v - 1/2; sigmoid' is
        # the same at s u for either sign s, so the cached sigmoids give it (entropy_bottleneck)
        d_upper, *_ = logits_backward(sig_u * (1 - sig_u), cache_u)
        d_lower, *_ = logits_backward(-sig_l * (1 - sig_l), cache_l)
        bits, grad = _bits_and_gradient(likelihood, d_upper + d_lower, eb.likelihood_bound)
        return bits, grad.reshape(values.shape)

    return rate


def _loss(synthesis, y_hat, target, valid, lmbda, rate):
    """The loss of latents as coded: ``bits / pixels + lambda 255^2 MSE``, the image decoded as
    the decoder decodes it (evaluation mode, no caches) and clipped to [0, 1]."""
    xp = array_module(y_hat)
    height, width = valid
    was_training = synthesis.training
    try:
        with no_grad():
            x_hat = synthesis.eval().forward(y_hat[None])
    finally:
        synthesis.train(was_training)
    x_hat = xp.clip(x_hat[..., :height, :width], 0.0, 1.0)
    mse = float(xp.mean((x_hat.astype("float64") - target[..., :height, :width]) ** 2))
    bits, _ = rate(y_hat)
    return bits / (height * width) + lmbda * 255.0**2 * mse


def relaxed_loss(synthesis, values, target, valid, lmbda: float, rate):
    """The relaxed loss of continuous latents and its gradient: ``(loss, dloss/dvalues)``.

    ``loss = rate(values) / pixels + lambda 255^2 mean((g_s(values) - x)^2)`` over the ``valid``
    (height, width) corner of the image; ``synthesis`` must be in training mode (its backward
    pass gives the distortion's gradient; its parameters' gradients are accumulated too).
    """
    xp = array_module(values)
    height, width = valid
    pixels = height * width
    x_hat = synthesis.forward(values[None])
    diff = x_hat[..., :height, :width] - target[..., :height, :width]
    mse = float(xp.mean(diff.astype("float64") ** 2))
    grad_x_hat = xp.zeros_like(x_hat)
    grad_x_hat[..., :height, :width] = diff * (lmbda * 255.0**2 * 2.0 / diff.size)
    grad = synthesis.backward(grad_x_hat)[0]
    bits, dbits = rate(values)
    loss = bits / pixels + lmbda * 255.0**2 * mse
    return loss, grad + (dbits / pixels).astype(grad.dtype)


def _rounded(values, offsets):
    """The latents the coder sends: ``round(values - offsets) + offsets``."""
    xp = array_module(values)
    if offsets is None:
        return xp.rint(values)
    return xp.rint(values - offsets) + offsets


def refine_latents(synthesis, y, target, lmbda: float, rate, *, valid=None, offsets=None,
                   iterations: int = 10, learning_rate: float = 0.02, check_every: int = 5,
                   betas=(0.9, 0.999), eps: float = 1e-8):
    """Refine the latents ``y`` of one image by gradient descent on the codec's loss.

    Parameters
    ----------
    synthesis : Module
        ``g_s``: (1, M, h, w) -> (1, 3, H', W'). Run in training mode for its backward pass
        (its parameters receive gradients, which the caller ignores); put back in eval mode.
    y : array (M, h, w)
        The analysis transform's latents, the starting point.
    target : array (1, 3, H', W'), float32 in [0, 1]
        The image, padded as the codec pads it.
    lmbda : float
        The model's rate-distortion trade-off (its weight file's ``lmbda``).
    rate : callable
        ``rate(values) -> (bits, dbits/dvalues)`` (:func:`gaussian_rate`, :func:`factorized_rate`).
    valid : (int, int), optional
        The image's own height and width; the padding does not count in the distortion.
    offsets : array (M, 1, 1), optional
        The quantization grid: the coder sends ``round(y - offsets)`` (chapter 4's medians);
        integers by default.
    iterations, learning_rate, betas, eps :
        Adam on ``y``.
    check_every : int
        Round the search's latents and measure their loss every this many iterations (and
        after the last): the best rounded latents seen are returned.

    Returns
    -------
    y_hat : array (M, h, w), float32
        The rounded latents (on the grid of ``offsets``) with the lowest loss among ``y0``
        and the checked points of the search.
    losses : (float, float)
        The losses (as coded) of ``y0`` rounded and of the latents returned.
    """
    xp = array_module(y)
    valid = tuple(valid) if valid is not None else tuple(target.shape[2:])
    best = _rounded(y, offsets).astype(y.dtype)
    start_loss = best_loss = _loss(synthesis, best, target, valid, lmbda, rate)
    values = y.astype(y.dtype, copy=True)
    first, second = xp.zeros_like(values), xp.zeros_like(values)
    b1, b2 = betas
    was_training = synthesis.training
    synthesis.train()  # the search needs g_s's backward pass
    try:
        for step in range(1, iterations + 1):
            _, grad = relaxed_loss(synthesis, values, target, valid, lmbda, rate)
            first *= b1
            first += (1 - b1) * grad
            second *= b2
            second += (1 - b2) * grad * grad
            values -= (learning_rate * (first / (1 - b1**step))
                       / (xp.sqrt(second / (1 - b2**step)) + eps))
            if not bool(xp.isfinite(values).all()):  # a diverged search: stop it
                break
            if step % check_every == 0 or step == iterations:
                candidate = _rounded(values, offsets).astype(y.dtype)
                loss = _loss(synthesis, candidate, target, valid, lmbda, rate)
                if loss < best_loss:
                    best, best_loss = candidate, loss
    finally:
        synthesis.train(was_training)
        synthesis.zero_grad()  # the parameters' gradients were a by-product
        synthesis.release_buffers()  # the codec's model stays loaded: give the caches back
    return best, (start_loss, best_loss)
