"""Weight initialisation: choose the scale so signals neither die nor explode with depth.

The variance argument
---------------------
A unit computes ``y = sum_i w_i x_i`` over ``fan_in`` inputs. With independent, zero-mean
weights and inputs, ``Var(y) = fan_in * Var(w) * Var(x)``. Stack layers and the variance is
multiplied by ``fan_in * Var(w)`` at each one: above 1 the activations blow up, below 1 they
shrink to nothing, and the gradients (which flow back through the transposed weights, scaled by
``fan_out * Var(w)``) do the same. So pick ``Var(w)`` to make that factor 1.

Xavier / Glorot (Glorot & Bengio 2010)
    For tanh or sigmoid, near-linear around 0, one wants both ``fan_in Var(w) = 1`` (forward) and
    ``fan_out Var(w) = 1`` (backward); the compromise is ``Var(w) = 2 / (fan_in + fan_out)``.
    As a uniform ``U(-a, a)`` has variance ``a^2 / 3``: ``a = sqrt(6 / (fan_in + fan_out))``.
He / Kaiming (He et al. 2015)
    A ReLU zeroes half of its inputs, halving the second moment, so the forward factor needs an
    extra 2: ``Var(w) = 2 / fan_in``; for a leaky ReLU of slope ``a``, ``2 / ((1 + a^2) fan_in)``.
    This is what let very deep ReLU networks train from scratch.

``gain`` multiplies the standard deviation (e.g. 5/3 for tanh, as in PyTorch).

Fans and shapes
---------------
Weights use PyTorch's layout: ``(out, in)`` for a linear layer and ``(out, in, kh, kw)`` for a
convolution, where every output sees ``in * kh * kw`` inputs: ``fan_in = in * kh * kw`` and
``fan_out = out * kh * kw``.

Reproducibility: the numbers are drawn on the host by a seeded NumPy generator and only then
moved to ``xp``, so one seed gives the same weights on NumPy and CuPy.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import get_xp, make_rng

__all__ = ["fans", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "zeros"]


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in)`` or ``(out, in, *kernel)``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"fans need a weight of shape (out, in[, kernel...]), got {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _finish(values: np.ndarray, dtype, xp):
    xp = get_xp() if xp is None else xp
    return xp.asarray(values.astype(dtype))


def xavier_uniform(shape, rng=None, dtype="float32", xp=None, gain: float = 1.0):
    """``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``, so ``Var = 2 / (in + out)``.

    Parameters
    ----------
    shape : tuple of int
        ``(out, in)`` or ``(out, in, kh, kw)``.
    rng : int, numpy.random.Generator or None
        Seed or generator (see :func:`fromscratch.backend.make_rng`).
    dtype : str or dtype
    xp : module, optional
        Target array module (default: the current backend).
    gain : float
        Multiplies the standard deviation.
    """
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _finish(make_rng(rng).uniform(-bound, bound, size=shape), dtype, xp)


def xavier_normal(shape, rng=None, dtype="float32", xp=None, gain: float = 1.0):
    """``N(0, std^2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _finish(make_rng(rng).normal(0.0, std, size=shape), dtype, xp)


def _he_std(shape, negative_slope: float) -> float:
    fan_in, _ = fans(shape)
    return math.sqrt(2.0 / ((1.0 + negative_slope**2) * fan_in))


def he_uniform(shape, rng=None, dtype="float32", xp=None, negative_slope: float = 0.0):
    """``U(-a, a)`` with ``a = sqrt(3) * std`` and ``std = sqrt(2 / ((1 + slope^2) fan_in))``."""
    bound = math.sqrt(3.0) * _he_std(shape, negative_slope)
    return _finish(make_rng(rng).uniform(-bound, bound, size=shape), dtype, xp)


def he_normal(shape, rng=None, dtype="float32", xp=None, negative_slope: float = 0.0):
    """``N(0, std^2)`` with ``std = sqrt(2 / ((1 + slope^2) fan_in))`` (He et al. 2015)."""
    std = _he_std(shape, negative_slope)
    return _finish(make_rng(rng).normal(0.0, std, size=shape), dtype, xp)


def zeros(shape, dtype="float32", xp=None):
    """An array of zeros (biases start at zero: the random weights already break symmetry)."""
    xp = get_xp() if xp is None else xp
    return xp.zeros(tuple(shape), dtype=dtype)
