"""The factorized entropy model: a learned density per channel makes the rate differentiable.

Why a codec needs a density
---------------------------
An entropy coder spends ``-log2 p(symbol)`` bits on each symbol. If the probability model ``p`` is
a function with parameters, the *expected code length* ``R = E[-log2 p(y_hat)]`` becomes a loss a
network can be trained on, side by side with the distortion: ``L = R + lambda * D``. That is the
step Ballé, Laparra & Simoncelli (2016/2017) took, and it needs two things:

1. A density that can be evaluated (and differentiated) at any real value. Ballé et al. (2018,
   "Variational image compression with a scale hyperprior", appendix 6.1) define it through its
   *cumulative* ``c(x)``: a tiny monotone network per channel, ``R -> R``, followed by a sigmoid.
   The probability of the integer bin around ``x`` is then exact and cheap::

       p(x) = c(x + 1/2) - c(x - 1/2)

2. A way round the zero gradient of rounding. During training the latent is not rounded but
   *perturbed*: ``y_tilde = y + u`` with ``u ~ U(-1/2, 1/2)``. The density of ``y_tilde`` is the
   density of ``y`` convolved with the unit box, which is exactly the bin probability above, so the
   training rate is an honest (differentiable) stand-in for the rate of the rounded latent.

   The decoder, though, is then trained on noisy latents and tested on rounded ones. Theis et al.
   (2017, "Lossy image compression with compressive autoencoders"), the same year, rounded instead
   and let the gradient pass as if rounding were the identity (the *straight-through* estimator).
   With ``decoder_rounding = True`` this module mixes the two (as Minnen & Singh 2020 did): the
   rate is still measured on ``y + u``, but the decoder receives ``round(y - m) + m``, exactly what
   it will see at test time, with the gradient passed straight through. It is a fine-tuning
   option for the end of training, off by default.

The monotone network
--------------------
For channel ``c`` and a scalar input, with layer widths ``1 -> 3 -> 3 -> 3 -> 1`` (``filters``)::

    z_k = softplus(H_k) x_{k-1} + b_k                       (matrices made positive by softplus)
    x_k = z_k + tanh(a_k) * tanh(z_k)       for k < K       (a gate whose slope stays positive:
                                                             1 + tanh(a)(1 - tanh(z)^2) > 0)
    logits(x) = z_K,        c(x) = sigmoid(logits(x))

Every step has a positive derivative, so ``c`` increases, whatever the parameters. All channels run
at once as batched matrix products: ``H_k`` has shape ``(C, d_k, d_{k-1})`` and the inputs
``(C, 1, n)``.

The likelihood, computed stably
-------------------------------
With ``u = logits(x + 1/2)`` and ``l = logits(x - 1/2)`` (so ``u > l``), ``sigmoid(u) -
sigmoid(l)`` loses every digit when both are close to 1. Reflecting through 0 helps: with ``s =
-1`` when ``u + l > 0`` (else ``+1``), ``|sigmoid(s u) - sigmoid(s l)|`` is the same number
computed near 0 instead of near 1. Its derivatives are simply ``dp/du = sigmoid'(s u)`` and
``dp/dl = -sigmoid'(s l)``. A floor of ``1e-9`` keeps ``log p`` finite; as in CompressAI its
gradient passes through whenever it pushes the likelihood *up*, so a latent stuck in an empty bin
can still be pulled back.

From density to code tables
---------------------------
At test time the latent is rounded around each channel's median (``y_hat = round(y - m) + m``), and
the coder needs integer CDF tables. The median and the tails are found by bisection on the monotone
``logits`` (no auxiliary loss to train, unlike CompressAI's quantiles), the pmf over the support is
:meth:`EntropyBottleneck.pmfs`, and the codec quantizes it to integers *once* and ships the tables
with the weights, so decoding never depends on floating-point arithmetic of the decoding machine.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import array_module, get_xp, make_rng, to_numpy
from .module import Module, Parameter

__all__ = ["EntropyBottleneck", "likelihood_forward", "logits_backward", "logits_forward"]

LIKELIHOOD_BOUND = 1e-9


def _softplus(xp, x):
    return xp.logaddexp(0.0, x)


def _sigmoid(xp, x):
    return 0.5 * (xp.tanh(0.5 * x) + 1.0)  # no overflow for large |x|


# --- the monotone network: functional forward/backward ------------------------------------------


def logits_forward(x, matrices, biases, factors):
    """``logits(x)`` of every channel's monotone network.

    Parameters
    ----------
    x : array, shape (C, 1, n)
        ``n`` inputs per channel.
    matrices : list of arrays, shapes (C, d_k, d_{k-1})
        Unconstrained; the network uses ``softplus(matrices[k])``.
    biases : list of arrays, shapes (C, d_k, 1)
    factors : list of arrays, shapes (C, d_k, 1), one fewer than ``matrices``

    Returns
    -------
    logits : array, shape (C, 1, n)
    cache : tuple for :func:`logits_backward`
    """
    xp = array_module(x)
    steps = []
    for k, (matrix, bias) in enumerate(zip(matrices, biases, strict=True)):
        positive = _softplus(xp, matrix)
        z = positive @ x + bias
        if k < len(factors):
            gate = xp.tanh(factors[k])
            tanh_z = xp.tanh(z)
            steps.append((x, positive, matrix, gate, tanh_z))
            x = z + gate * tanh_z
        else:
            steps.append((x, positive, matrix, None, None))
            x = z
    return x, (steps, len(factors))


def logits_backward(dlogits, cache):
    """Gradients of :func:`logits_forward`: ``(dx, dmatrices, dbiases, dfactors)``.

    Shapes match the forward arguments. ``d softplus(m) / dm = sigmoid(m)``;
    ``d/dz [z + tanh(a) tanh(z)] = 1 + tanh(a) (1 - tanh(z)^2)``;
    ``d/da [...] = (1 - tanh(a)^2) tanh(z)``.
    """
    steps, n_factors = cache
    xp = array_module(dlogits)
    dmatrices, dbiases, dfactors = [], [], []
    grad = dlogits
    for k in range(len(steps) - 1, -1, -1):
        x_in, positive, matrix, gate, tanh_z = steps[k]
        if k < n_factors:
            dfactors.append((1.0 - gate * gate) * (grad * tanh_z).sum(axis=2, keepdims=True))
            grad = grad * (1.0 + gate * (1.0 - tanh_z * tanh_z))
        dbiases.append(grad.sum(axis=2, keepdims=True))
        dmatrices.append((grad @ x_in.transpose(0, 2, 1)) * _sigmoid(xp, matrix))
        grad = positive.transpose(0, 2, 1) @ grad
    return grad, dmatrices[::-1], dbiases[::-1], dfactors[::-1]


def likelihood_forward(values, matrices, biases, factors):
    """``p(x) = c(x + 1/2) - c(x - 1/2)`` for values (C, 1, n), computed stably (no lower bound).

    Returns ``(likelihood, cache)``; the cache holds what the gradients need (see the module
    docstring: ``dp/du = sigmoid'(s u)``, ``dp/dl = -sigmoid'(s l)``).
    """
    xp = array_module(values)
    upper, cache_u = logits_forward(values + 0.5, matrices, biases, factors)
    lower, cache_l = logits_forward(values - 0.5, matrices, biases, factors)
    sign = xp.where(upper + lower > 0, -1.0, 1.0).astype(values.dtype)
    sig_u, sig_l = _sigmoid(xp, sign * upper), _sigmoid(xp, sign * lower)
    return xp.abs(sig_u - sig_l), (sig_u, sig_l, cache_u, cache_l)


# --- the module ----------------------------------------------------------------------------------


class EntropyBottleneck(Module):
    """Noisy (training) or rounded (test) latents, and their likelihoods under a learned density.

    Parameters
    ----------
    channels : int
        Latent channels ``C``; each gets its own density.
    filters : tuple of int, optional
        Hidden widths of the monotone network (default ``(3, 3, 3)``, as Ballé et al. 2018).
    init_scale : float, optional
        Initial scale of the density (default 10): it starts as a broad logistic-like bump.
    likelihood_bound : float, optional
        Floor of the likelihoods (default 1e-9).
    rng : int or numpy.random.Generator, optional
        Seed for the initial biases and, in training mode, for the uniform noise.

    Notes
    -----
    ``forward(y)`` takes ``y`` of shape (N, C, H, W) and returns ``(y_hat, likelihoods)`` of that
    shape. ``backward(grad_y_hat, grad_likelihoods)`` returns ``dL/dy`` (the noise is additive, so
    ``y_hat`` passes its gradient straight through, plus the path through the likelihoods).
    Setting the attribute ``decoder_rounding = True`` makes training-mode ``y_hat`` the rounded
    latent (gradient straight through) while the likelihoods stay those of the noisy one.
    """

    decoder_rounding = False

    def __init__(self, channels: int, *, filters=(3, 3, 3), init_scale: float = 10.0,
                 likelihood_bound: float = LIKELIHOOD_BOUND, rng=None, dtype="float32", xp=None):
        xp = xp or get_xp()
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        self.likelihood_bound = float(likelihood_bound)
        self.rng = make_rng(rng)
        widths = (1, *self.filters, 1)
        scale = init_scale ** (1.0 / (len(widths) - 1))
        matrices, biases, factors = [], [], []
        for k in range(len(widths) - 1):
            # softplus(init) = 1 / scale / width: the composed network starts as x / init_scale
            init = math.log(math.expm1(1.0 / scale / widths[k + 1]))
            matrix = np.full((self.channels, widths[k + 1], widths[k]), init)
            matrices.append(Parameter(xp.asarray(matrix, dtype=dtype)))
            bias = self.rng.uniform(-0.5, 0.5, (self.channels, widths[k + 1], 1))
            biases.append(Parameter(xp.asarray(bias, dtype=dtype)))
            if k < len(widths) - 2:
                factors.append(Parameter(xp.zeros((self.channels, widths[k + 1], 1), dtype)))
        self.matrices, self.biases, self.factors = matrices, biases, factors

    def extra_repr(self) -> str:
        return f"{self.channels}, filters={self.filters}"

    # ---- the density -----------------------------------------------------------------------
    def _arrays(self):
        return ([p.data for p in self.matrices], [p.data for p in self.biases],
                [p.data for p in self.factors])

    def logits(self, values):
        """``logits(x)`` for values of shape (C, n) (one row per channel); returns (C, n)."""
        out, _ = logits_forward(values[:, None, :], *self._arrays())
        return out[:, 0, :]

    def _likelihood_forward(self, values):
        """Bounded likelihood of each value (C, 1, n) and the cache for its backward."""
        xp = array_module(values)
        likelihood, cache = likelihood_forward(values, *self._arrays())
        return xp.maximum(likelihood, self.likelihood_bound), (likelihood, *cache)

    def _likelihood_backward(self, dbounded, cache):
        """Add the parameter gradients; return dL/d values."""
        likelihood, sig_u, sig_l, cache_u, cache_l = cache
        xp = array_module(dbounded)
        passes = (likelihood >= self.likelihood_bound) | (dbounded < 0)
        dlik = xp.where(passes, dbounded, 0.0)
        dx_total = 0.0
        for dlogits, cache in ((dlik * sig_u * (1 - sig_u), cache_u),
                               (-dlik * sig_l * (1 - sig_l), cache_l)):
            dx, dmatrices, dbiases, dfactors = logits_backward(dlogits, cache)
            for params, grads in ((self.matrices, dmatrices), (self.biases, dbiases),
                                  (self.factors, dfactors)):
                for p, g in zip(params, grads, strict=True):
                    p.grad += g
            dx_total = dx_total + dx
        return dx_total

    # ---- forward / backward ----------------------------------------------------------------
    def forward(self, y):
        xp = array_module(y)
        n, c, h, w = y.shape
        if c != self.channels:
            raise ValueError(f"expected {self.channels} channels, got input of shape {y.shape}")
        if self.training:
            noise = self.rng.uniform(-0.5, 0.5, y.shape).astype(y.dtype)
            y_hat = y_noisy = y + xp.asarray(noise)
        if not self.training or self.decoder_rounding:
            medians = xp.asarray(self.medians(), dtype=y.dtype).reshape(1, c, 1, 1)
            y_hat = xp.rint(y - medians) + medians
        rate_values = y_noisy if self.training else y_hat
        values = rate_values.transpose(1, 0, 2, 3).reshape(c, 1, n * h * w)
        likelihood, cache = self._likelihood_forward(values)
        self._cache = self._keep((cache, y.shape))
        likelihoods = likelihood.reshape(c, n, h, w).transpose(1, 0, 2, 3)
        return y_hat, likelihoods

    def backward(self, grad_y_hat, grad_likelihoods=None):
        cache, (n, c, h, w) = self._require_cache()
        grad_y = grad_y_hat
        if grad_likelihoods is not None:
            dvalues = grad_likelihoods.transpose(1, 0, 2, 3).reshape(c, 1, n * h * w)
            dy = self._likelihood_backward(dvalues, cache)
            grad_y = grad_y + dy.reshape(c, n, h, w).transpose(1, 0, 2, 3)
        return grad_y

    # ---- what the coder needs ----------------------------------------------------------------
    def _solve(self, target: float, iterations: int = 80) -> np.ndarray:
        """Per channel, the x with ``logits(x) = target`` (bisection, float64 on the host)."""
        matrices, biases, factors = (
            [to_numpy(p.data).astype(np.float64) for p in group]
            for group in (self.matrices, self.biases, self.factors)
        )
        low = np.full(self.channels, -1.0)
        high = np.full(self.channels, 1.0)

        def logits(v):
            return logits_forward(v[:, None, None], matrices, biases, factors)[0][:, 0, 0]

        for _ in range(60):  # widen until the root is bracketed
            below, above = logits(low) > target, logits(high) < target
            if not (below.any() or above.any()):
                break
            low = np.where(below, 2 * low, low)
            high = np.where(above, 2 * high, high)
        for _ in range(iterations):
            mid = 0.5 * (low + high)
            too_low = logits(mid) < target
            low, high = np.where(too_low, mid, low), np.where(too_low, high, mid)
        return 0.5 * (low + high)

    def medians(self) -> np.ndarray:
        """Each channel's median (``c(x) = 1/2``), float64 (C,)."""
        return self._solve(0.0)

    def pmfs(self, tail_mass: float = 1e-9, max_support: int = 4096):
        """Bin probabilities over each channel's support, for building integer CDF tables.

        The support of channel ``c`` is the integers ``k`` with ``median + k`` between the
        ``tail_mass / 2`` and ``1 - tail_mass / 2`` quantiles (widened by one bin each side).

        Returns
        -------
        pmfs : list of numpy.ndarray (float64), one per channel
            ``pmfs[c][i]`` is the probability of ``round(y - median) == offsets[c] + i``.
        offsets : numpy.ndarray of int64, shape (C,)
        medians : numpy.ndarray of float64, shape (C,)
        """
        target = math.log(2.0 / tail_mass - 1.0)
        medians = self.medians()
        lower = np.floor(self._solve(-target) - medians).astype(np.int64) - 1
        upper = np.ceil(self._solve(target) - medians).astype(np.int64) + 1
        if (upper - lower + 1 > max_support).any():
            raise ValueError(f"a channel's support exceeds {max_support} values: is the model "
                             "trained?")
        host = [[to_numpy(p.data).astype(np.float64) for p in group]
                for group in (self.matrices, self.biases, self.factors)]
        pmfs = []
        for c in range(self.channels):
            channel = [[a[c : c + 1] for a in group] for group in host]
            values = medians[c] + np.arange(lower[c], upper[c] + 1, dtype=np.float64)
            pmfs.append(likelihood_forward(values[None, None, :], *channel)[0][0, 0])
        return pmfs, lower, medians
