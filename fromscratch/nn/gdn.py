"""Generalized divisive normalization (GDN) and its inverse: the non-linearity of Ballé's codecs.

Where it comes from
-------------------
Neurons in the visual cortex do not respond linearly: each response is divided by the pooled
activity of its neighbours (*divisive normalization*, Heeger 1992; Schwartz & Simoncelli 2001
showed it removes the statistical dependencies between filter responses of natural images).
Ballé, Laparra & Simoncelli (2016) turned it into a learnable layer, GDN, and used it in place of
ReLUs in their end-to-end codecs (2017, 2018): with it, a few convolutions "Gaussianise" image
statistics so well that a factorized entropy model of the latents works. Its inverse (IGDN, an
approximation of the exact inverse that multiplies instead of dividing) sits in the decoder.

The formula
-----------
For channel ``i`` at every pixel and every image of an (N, C, H, W) batch::

    norm_i = beta_i + sum_j gamma_ij * x_j^2        beta > 0, gamma >= 0    (C,) and (C, C)
    GDN:   y_i = x_i / sqrt(norm_i)                  IGDN:  y_i = x_i * sqrt(norm_i)

The sum over ``j`` is a 1x1 convolution of ``x**2`` with the weight ``gamma``: at each pixel a
matrix-vector product over the channel axis. With the channel axis moved first, (N, C, H, W) ->
(C, N*H*W), it is one GEMM for the whole batch, ``gamma (C, C) @ x**2 (C, N*H*W)``, and the
rest of the layer is element-wise.

The derivative
--------------
Write ``y_i = x_i f(norm_i)`` with ``f(u) = u^(-1/2)`` (GDN) or ``u^(1/2)`` (IGDN), an upstream
gradient ``g = dL/dy`` and ``q_i = dL/dnorm_i = g_i x_i f'(norm_i)``::

    GDN:   q_i = -1/2 g_i x_i norm_i^(-3/2) = -1/2 g_i y_i / norm_i
    IGDN:  q_i = +1/2 g_i x_i norm_i^(-1/2) = +1/2 g_i x_i / sqrt(norm_i)

``x_k`` enters ``y_k`` directly and every ``norm_i`` through ``gamma_ik x_k^2``, so::

    dL/dx_k       = g_k f(norm_k) + 2 x_k sum_i gamma_ik q_i     (gamma.T @ q: another 1x1 GEMM)
    dL/dbeta_i    = sum over n, h, w of q_i
    dL/dgamma_ik  = sum over n, h, w of q_i x_k^2                 (q @ (x**2).T, a third GEMM)

Keeping the parameters in range: the non-negative reparameterisation
--------------------------------------------------------------------
``beta`` must stay positive (it is under a square root and a division) and ``gamma``
non-negative. Ballé's code (and CompressAI's ``NonNegativeParametrizer``) trains
``beta_param = sqrt(beta + pedestal)`` and ``gamma_param = sqrt(gamma + pedestal)`` instead, with
a tiny ``pedestal = reparam_offset**2``, and maps them back with a lower bound::

    beta  = max(beta_param,  sqrt(beta_min + pedestal))**2 - pedestal     >= beta_min
    gamma = max(gamma_param, sqrt(pedestal))**2            - pedestal     >= 0

The square makes the effective step of small values small (gradient descent on ``sqrt(beta)``
behaves like a relative step on ``beta``), the bound keeps the value legal whatever the optimizer
does, and the pedestal keeps the gradient ``2 * param`` from vanishing at 0.

The gradient of the lower bound: the exact derivative of ``max(p, bound)`` is 0 below the bound,
so a parameter pushed below it would never receive a gradient again and would stay stuck forever.
We follow Ballé's ``lower_bound`` op (and CompressAI's ``LowerBound``) instead: the gradient
passes through where ``p >= bound`` (the exact derivative there, including *at* the bound, which is
where every off-diagonal ``gamma`` starts: ``gamma_init * I`` puts them at exactly
``sqrt(pedestal)``), and also below the bound when it points so that gradient descent moves ``p``
*up*, back towards the legal region (``dL/d max < 0``); it is zero only for a parameter below the
bound that the loss would push further down. Away from the bound this is the exact gradient, so
the gradient checks run with parameters away from it; a separate test pins the rule below it.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import array_module, get_xp
from ._conv_kernels import batch_first, channels_first
from .conv_banded import BAND_BYTES, band_rows
from .module import Module, Parameter, is_grad_enabled

__all__ = [
    "GDN",
    "IGDN",
    "gdn_backward",
    "gdn_forward",
    "gdn_inference",
    "lower_bound_backward",
    "nonnegative_backward",
    "nonnegative_forward",
]


# --- the reparameterisation ---------------------------------------------------------------------


def nonnegative_forward(param, bound: float, pedestal: float):
    """Effective value ``max(param, bound)**2 - pedestal`` of a reparameterised parameter."""
    xp = array_module(param)
    return xp.maximum(param, bound) ** 2 - pedestal


def lower_bound_backward(grad, param, bound: float):
    """Gradient of ``max(param, bound)`` under Ballé's rule: ``grad`` passes where
    ``param >= bound`` or where ``grad < 0`` (descent would raise ``param``), else 0."""
    xp = array_module(grad)
    return xp.where((param >= bound) | (grad < 0), grad, 0).astype(grad.dtype, copy=False)


def nonnegative_backward(grad_value, param, bound: float):
    """``dL/dparam`` from ``dL/dvalue`` for :func:`nonnegative_forward` (chain rule through the
    square, ``2 max(param, bound)``, then :func:`lower_bound_backward`)."""
    xp = array_module(param)
    return lower_bound_backward(grad_value * (2 * xp.maximum(param, bound)), param, bound)


def nonnegative_init(value, pedestal: float):
    """The stored parameter ``sqrt(value + pedestal)`` that represents the effective ``value``."""
    xp = array_module(value)
    return xp.sqrt(value + pedestal)


# --- GDN as a forward/backward pair --------------------------------------------------------------


def gdn_forward(x, beta, gamma, inverse: bool = False):
    """GDN (``x / sqrt(norm)``) or IGDN (``x * sqrt(norm)``), ``norm = beta + gamma @ x**2``.

    Parameters
    ----------
    x : array (N, C, H, W)
        Cast to ``gamma``'s dtype.
    beta : array (C,), positive
        Effective values (after the reparameterisation).
    gamma : array (C, C), non-negative
        ``gamma[i, j]`` weighs channel ``j``'s energy in channel ``i``'s normaliser.
    inverse : bool
        IGDN instead of GDN.

    Returns
    -------
    out : array (N, C, H, W)
    cache : tuple for :func:`gdn_backward`
    """
    if x.ndim != 4 or x.shape[1] != gamma.shape[0] or gamma.shape != (beta.shape[0],) * 2:
        raise ValueError(f"GDN: input {tuple(x.shape)} does not match beta {tuple(beta.shape)} "
                         f"and gamma {tuple(gamma.shape)} (need (N, C, H, W), (C,), (C, C))")
    xp = array_module(x)
    n, _, h, w = x.shape
    # channels first, (C, N*H*W): the 1x1 convolution over channels is then one GEMM for the
    # whole batch, and every other step is element-wise
    xc = channels_first(x.astype(gamma.dtype, copy=False))
    norm = xp.matmul(gamma, xc * xc)
    norm += beta.reshape(-1, 1)
    root = xp.sqrt(norm, out=norm)             # sqrt(norm), in place: no second temporary
    out = xc * root if inverse else xc / root
    return batch_first(out, n, h, w), (xc, root, gamma, inverse, x.shape)


def gdn_band_rows(shape, itemsize: int, band_bytes: int = BAND_BYTES) -> int:
    """Rows per band of :func:`gdn_inference` on ``shape`` (N, C, H, W); its work memory is
    three arrays of ``C*N*rows*W`` elements."""
    n, c, h, w = shape
    return band_rows(3 * c * n * w * itemsize, band_bytes, h)


def gdn_inference(x, beta, gamma, inverse: bool = False, *, out=None,
                  band_bytes: int = BAND_BYTES):
    """:func:`gdn_forward`'s output without a cache, a band of rows at a time.

    The same arithmetic in the same order, on bands of rows whose temporaries (the channels-first
    copy, its square, the normaliser) stay within ``band_bytes``: inference on a large image
    allocates no full-size temporary, and none at all with ``out=x`` (in place).

    Parameters
    ----------
    x : array (N, C, H, W)
    beta, gamma, inverse
        As for :func:`gdn_forward`.
    out : array (N, C, H, W) of ``gamma``'s dtype, optional
        Receives the result (may be ``x`` itself); a new array otherwise.
    band_bytes : int
        Budget of one band's temporaries.

    Returns
    -------
    out : array (N, C, H, W)
    """
    if x.ndim != 4 or x.shape[1] != gamma.shape[0] or gamma.shape != (beta.shape[0],) * 2:
        raise ValueError(f"GDN: input {tuple(x.shape)} does not match beta {tuple(beta.shape)} "
                         f"and gamma {tuple(gamma.shape)} (need (N, C, H, W), (C,), (C, C))")
    xp = array_module(x)
    n, c, h, w = x.shape
    if out is None:
        out = xp.empty(x.shape, dtype=gamma.dtype)
    elif tuple(out.shape) != tuple(x.shape) or out.dtype != gamma.dtype:
        raise ValueError(f"out must be a {gamma.dtype} array of shape {tuple(x.shape)}")
    rows = gdn_band_rows(x.shape, gamma.dtype.itemsize, band_bytes)
    beta = beta.reshape(-1, 1)
    # three work arrays reused by every band (fresh memory costs a page fault per 4 KiB)
    buffers = xp.empty((3, c * n * rows * w), dtype=gamma.dtype)
    for top in range(0, h, rows):
        bottom = min(top + rows, h)
        xc, square, norm = (b[:c * n * (bottom - top) * w].reshape(c, -1) for b in buffers)
        channels_first(x[:, :, top:bottom], out=xc)                   # (C, N*rows*W), a copy
        xp.matmul(gamma, xp.multiply(xc, xc, out=square), out=norm)
        norm += beta
        root = xp.sqrt(norm, out=norm)
        if inverse:
            xc *= root
        else:
            xc /= root
        batch_first(xc, n, bottom - top, w, out=out[:, :, top:bottom])
    return out


def gdn_backward(dout, cache):
    """Gradients of :func:`gdn_forward`: ``(dx, dbeta, dgamma)`` (see the module docstring).

    ``dbeta`` and ``dgamma`` are gradients of the *effective* ``beta`` and ``gamma``; the module
    carries them through the reparameterisation.
    """
    xc, root, gamma, inverse, shape = cache
    xp = array_module(dout)
    if tuple(dout.shape) != tuple(shape):
        raise ValueError(f"GDN backward: gradient shape {tuple(dout.shape)}, expected "
                         f"{tuple(shape)}")
    g = channels_first(dout.astype(xc.dtype, copy=False))          # (C, N*H*W)
    # p = 2q up to its sign, so that 2 x_k sum_i gamma_ik q_i needs no extra pass to double it
    # (the factors are powers of two: the results equal the plain formulas bit for bit)
    if inverse:
        dx = g * root                           # the direct term g * f(norm)
        p = g * xc
        p /= root                               # p = 2q = g x / sqrt(norm)
    else:
        dx = g / root
        p = dx * xc
        p /= root
        p /= root                               # p = -2q = g x / norm^(3/2)
    back = xp.matmul(gamma.T, p)                # +-2 sum_i gamma_ik q_i
    back *= xc
    if inverse:
        dx += back
    else:
        dx -= back
    q = xp.multiply(p, 0.5 if inverse else -0.5, out=p)
    dbeta = q.sum(axis=1)
    # x**2 again, into ``back``'s memory: no new array, and none kept from the forward pass
    dgamma = xp.matmul(q, xp.multiply(xc, xc, out=back).T)
    n, _, h, w = shape
    return batch_first(dx, n, h, w), dbeta, dgamma


# --- the module ----------------------------------------------------------------------------------


class GDN(Module):
    """Generalized divisive normalization layer (Ballé et al. 2016), or its inverse.

    Parameters
    ----------
    channels : int
    inverse : bool
        IGDN (``x * sqrt(norm)``) instead of GDN (``x / sqrt(norm)``).
    beta_min : float
        Lower bound of the effective ``beta``.
    gamma_init : float
        Initial ``gamma = gamma_init * I`` (each channel normalised by its own energy only);
        initial ``beta = 1``. Both as in Ballé's code and CompressAI.
    reparam_offset : float
        ``pedestal = reparam_offset**2`` of the non-negative reparameterisation.
    dtype : str
    xp : module, optional

    Attributes
    ----------
    beta_param : Parameter (C,)
        Stored ``sqrt(beta + pedestal)``.
    gamma_param : Parameter (C, C)
        Stored ``sqrt(gamma + pedestal)``.
    beta, gamma : arrays (properties)
        The effective values, ``max(param, bound)**2 - pedestal``.
    """

    def __init__(self, channels: int, *, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1, reparam_offset: float = 2.0**-18, dtype="float32",
                 xp=None):
        xp = get_xp() if xp is None else xp
        if channels < 1 or beta_min <= 0 or gamma_init < 0 or reparam_offset <= 0:
            raise ValueError("GDN needs channels >= 1, beta_min > 0, gamma_init >= 0 and "
                             "reparam_offset > 0")
        self.channels, self.inverse = int(channels), bool(inverse)
        self.pedestal = float(reparam_offset) ** 2
        self.beta_bound = math.sqrt(beta_min + self.pedestal)
        self.gamma_bound = math.sqrt(self.pedestal)
        # the initial values are computed in float64 on the host, then cast once
        beta = np.ones(self.channels)
        gamma = gamma_init * np.eye(self.channels)
        self.beta_param = Parameter(
            xp.asarray(nonnegative_init(beta, self.pedestal).astype(dtype)), "beta_param")
        self.gamma_param = Parameter(
            xp.asarray(nonnegative_init(gamma, self.pedestal).astype(dtype)), "gamma_param")
        self._cache = None

    @property
    def beta(self):
        return nonnegative_forward(self.beta_param.data, self.beta_bound, self.pedestal)

    @property
    def gamma(self):
        return nonnegative_forward(self.gamma_param.data, self.gamma_bound, self.pedestal)

    def forward(self, x):
        if not is_grad_enabled():  # inference: no cache, no full-size temporaries
            self._cache = self._keep(None)
            return gdn_inference(x, self.beta, self.gamma, self.inverse)
        out, self._cache = gdn_forward(x, self.beta, self.gamma, self.inverse)
        return out

    def forward_in_place(self, x):
        """Under :func:`~fromscratch.nn.no_grad`, overwrite ``x`` with the result and return it
        (a :class:`~fromscratch.nn.Sequential` calls this on activations it owns); otherwise,
        or when ``x`` cannot hold the result, the same as :meth:`forward`."""
        gamma = self.gamma
        if (is_grad_enabled() or x.dtype != gamma.dtype or not x.flags.c_contiguous
                or not getattr(x.flags, "writeable", True)):
            return self.forward(x)
        self._cache = self._keep(None)
        return gdn_inference(x, self.beta, gamma, self.inverse, out=x)

    def backward(self, grad_out):
        dx, dbeta, dgamma = gdn_backward(grad_out, self._require_cache())
        self.beta_param.grad += nonnegative_backward(dbeta, self.beta_param.data,
                                                     self.beta_bound)
        self.gamma_param.grad += nonnegative_backward(dgamma, self.gamma_param.data,
                                                      self.gamma_bound)
        return dx

    def extra_repr(self) -> str:
        return f"{self.channels}, inverse={self.inverse}"


class IGDN(GDN):
    """Inverse GDN, ``x * sqrt(beta + gamma @ x**2)``: :class:`GDN` with ``inverse=True``."""

    def __init__(self, channels: int, **kwargs):
        kwargs.setdefault("inverse", True)
        super().__init__(channels, **kwargs)
