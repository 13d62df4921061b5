"""Forward/backward pairs: each layer's math as two plain functions and a cache.

This is the cs231n way of writing a network by hand. Every operation is a pair::

    out, cache = op_forward(x, ...)      # compute, and keep what the derivative needs
    dx = op_backward(dout, cache)        # dout = dL/d out  ->  dx = dL/dx

The modules in :mod:`~fromscratch.nn.layers` only store parameters and the cache; all the math is
here, one page, with the derivative next to the function it differentiates. Shapes: ``dout`` has
the shape of ``out`` and every returned gradient the shape of its input. The functions take the
array module from their inputs, so they run unchanged on NumPy or CuPy.

The derivatives
---------------
=================  ==============================  =========================================
operation          forward                         backward (given g = dL/d out)
=================  ==============================  =========================================
linear             y = x W^T + b                   dx = g W,  dW = g^T x,  db = sum_rows g
sigmoid            s = 1 / (1 + e^-x)              dx = g s (1 - s)         (cache s)
tanh               t = tanh x                      dx = g (1 - t^2)         (cache t)
ReLU               max(x, 0)                       dx = g [x > 0]           (cache the mask)
leaky ReLU         x if x > 0 else a x             dx = g (1 if x > 0 else a)
mean squared error L = mean((p - t)^2)  over N     dp = g 2 (p - t) / N
=================  ==============================  =========================================

For ``linear``, ``x`` may have any leading dimensions ``(..., in)``: they are flattened into one
batch axis for the weight gradient, which sums over every position that used the weights.
"""

from __future__ import annotations

from ..backend import array_module

__all__ = [
    "l1_backward",
    "l1_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "mse_backward",
    "mse_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_forward",
    "tanh_backward",
    "tanh_forward",
]


# ---- affine ----------------------------------------------------------------------------------
def linear_forward(x, w, b=None):
    """Affine map ``y = x W^T + b`` (PyTorch's weight layout).

    Parameters
    ----------
    x : array, shape (..., in)
    w : array, shape (out, in)
    b : array, shape (out,), or None

    Returns
    -------
    out : array, shape (..., out)
    cache : tuple ``(x, w, has_bias)``
    """
    out = x @ w.T
    if b is not None:
        out = out + b
    return out, (x, w, b is not None)


def linear_backward(dout, cache):
    """Gradients of :func:`linear_forward`.

    ``dx = dout W`` (..., in); ``dW = dout^T x`` (out, in) and ``db = sum dout`` (out,), both
    summed over every leading position. ``db`` is None when there was no bias.
    """
    x, w, has_bias = cache
    dx = dout @ w
    d2 = dout.reshape(-1, dout.shape[-1])  # (positions, out)
    x2 = x.reshape(-1, x.shape[-1])  # (positions, in)
    dw = d2.T @ x2
    db = d2.sum(axis=0) if has_bias else None
    return dx, dw, db


# ---- activations -----------------------------------------------------------------------------
def sigmoid(x):
    """The logistic function ``1 / (1 + e^-x)``, written so that no ``exp`` overflows.

    With ``e = exp(-|x|)`` (always in (0, 1]): ``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)``
    for ``x < 0`` - the same function, but a float32 ``exp(100)`` is never formed.
    """
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_forward(x):
    """``s = sigmoid(x)``; the cache is ``s`` itself, since ``ds/dx = s (1 - s)``."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """``dx = dout * s * (1 - s)`` with ``s`` the cached output."""
    s = cache
    return dout * s * (1 - s)


def tanh_forward(x):
    """``t = tanh(x)``; the cache is ``t``, since ``dt/dx = 1 - t^2``."""
    out = array_module(x).tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """``dx = dout * (1 - t^2)`` with ``t`` the cached output."""
    t = cache
    return dout * (1 - t * t)


def relu_forward(x):
    """``max(x, 0)``; the cache is the boolean mask ``x > 0`` (the derivative, 0 or 1)."""
    mask = x > 0
    return x * mask, mask


def relu_backward(dout, cache):
    """``dx = dout * [x > 0]``: the gradient passes where the unit was active, else stops."""
    return dout * cache


def leaky_relu_forward(x, slope=0.01):
    """``x`` where ``x > 0``, else ``slope * x`` (Maas et al. 2013): a small gradient survives
    for negative inputs, so a unit cannot die. The cache is ``(mask, slope)``."""
    xp = array_module(x)
    mask = x > 0
    return xp.where(mask, x, slope * x), (mask, slope)


def leaky_relu_backward(dout, cache):
    """``dx = dout`` where ``x > 0``, else ``slope * dout``."""
    xp = array_module(dout)
    mask, slope = cache
    return xp.where(mask, dout, slope * dout)


# ---- loss ------------------------------------------------------------------------------------
def _difference(pred, target):
    """``(xp, pred - target)`` after checking the shapes agree (a loss never broadcasts)."""
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {pred.shape} differs from target shape {target.shape}")
    return array_module(pred, target), pred - target


def mse_forward(pred, target):
    """Mean squared error over all ``N`` elements, ``L = mean((pred - target)^2)``.

    Returns
    -------
    loss : 0-d array (same backend and dtype as ``pred``)
    cache : tuple ``(diff, N)`` with ``diff = pred - target``
    """
    xp, diff = _difference(pred, target)
    loss = xp.asarray(xp.mean(diff * diff), dtype=diff.dtype)
    return loss, (diff, diff.size)


def mse_backward(cache, grad=1.0):
    """``dL/dpred = grad * 2 (pred - target) / N``; ``grad`` is ``dL_total / dL`` (a scalar)."""
    diff, n = cache
    return diff * (2.0 / n) * grad


def l1_forward(pred, target):
    """Mean absolute error over all ``N`` elements, ``L = mean(|pred - target|)``.

    The loss of a Laplacian noise model: prediction residuals of images are close to Laplacian,
    whose entropy grows with ``log E|e|``, so lossless predictors train on it (``mlp-predictive``).

    Returns
    -------
    loss : 0-d array (same backend and dtype as ``pred``)
    cache : tuple ``(diff, N)`` with ``diff = pred - target``
    """
    xp, diff = _difference(pred, target)
    return xp.asarray(xp.mean(xp.abs(diff)), dtype=diff.dtype), (diff, diff.size)


def l1_backward(cache, grad=1.0):
    """``dL/dpred = grad * sign(pred - target) / N`` (the subgradient 0 where they are equal)."""
    diff, n = cache
    xp = array_module(diff)
    return xp.sign(diff) * (grad / n)
