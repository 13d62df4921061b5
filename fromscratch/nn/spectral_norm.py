r"""Spectral normalization: keeping a GAN's discriminator 1-Lipschitz, one weight at a time.

Why the discriminator needs a leash
-----------------------------------
A GAN's generator learns only through the discriminator's gradient. If the discriminator is free
to become arbitrarily steep, it separates real from fake perfectly, its sigmoid saturates, and the
gradient it hands the generator is either vanishing or huge and erratic (Arjovsky & Bottou 2017).
The Wasserstein view (Arjovsky et al. 2017) asks for a *Lipschitz* discriminator,
:math:`|D(x) - D(y)| \le K \|x - y\|`: then its output changes smoothly and its gradients stay
informative even when the two distributions do not overlap.

Two ways to get there were on the table:

* the **gradient penalty** (Gulrajani et al. 2017) adds :math:`\lambda (\|\nabla_x D(\hat x)\|-1)^2`
  at random interpolates. Its gradient with respect to the weights is a *second* derivative
  (the derivative of a backward pass), so every layer would need a hand-written
  double-backward - for convolutions, GDN and the rest. That is a second network's worth of
  calculus, and it doubles the cost of each discriminator step.
* **spectral normalization** (Miyato et al. 2018) divides each weight matrix by its largest
  singular value, so every layer is 1-Lipschitz and so is the network (LeakyReLU's slopes are
  ≤ 1). It needs only first derivatives, costs one matrix-vector product per layer and step, and
  composes with any layer that has a ``weight``.

This package uses spectral normalization. (It also worked where the penalty-free discriminator
did not in the project's adversarial fine-tuning trial: PERFORMANCE_NOTES.md.)

The computation
---------------
Reshape the weight to a matrix :math:`W` of shape ``(rows, cols)`` (output channels first for
``Linear``/``Conv2d``; ``dim=1`` for ``ConvTranspose2d``, whose output channels are its second
axis, as torch does). Its spectral norm :math:`\sigma(W) = \max_{\|v\|=1}\|Wv\|` is estimated by
**power iteration** on persistent vectors :math:`u, v` (15 steps when the layer is wrapped, then
one per training forward pass: the weight moves little between steps, so one step keeps the
estimate tight)::

    u = W v / ||W v||,      v = W^T u / ||W^T u||,      sigma = u^T W v

and the layer uses :math:`W_{SN} = W / \sigma`.

The backward pass
-----------------
As in Miyato et al. and torch, :math:`u` and :math:`v` are treated as constants. Then
:math:`\partial\sigma/\partial W = u v^T` and, with :math:`G = \partial L / \partial W_{SN}`
(what the wrapped layer's backward produces),

.. math:: \frac{\partial L}{\partial W} = \frac{G}{\sigma}
          - \frac{\langle G, W\rangle}{\sigma^2}\, u v^T
          = \frac{1}{\sigma}\Big(G - \langle G, W_{SN}\rangle\, u v^T\Big).

The second term removes the component of the step that would only rescale the top singular
direction, which the normalization would undo anyway.

In evaluation mode the power iteration is skipped and the stored :math:`u, v` are used, so
repeated calls give identical outputs (that is also what a finite-difference check needs).
"""

from __future__ import annotations

import numpy as np

from ..backend import _import_cupy, array_module, make_rng, to_numpy
from .module import Module

__all__ = ["SpectralNorm", "spectral_normalize_backward", "spectral_normalize_forward"]


def _normalize(vector, eps: float):
    xp = array_module(vector)
    return vector / xp.maximum(xp.linalg.norm(vector), eps)


def power_iteration(matrix, v, n_iterations: int = 1, eps: float = 1e-12):
    """Refine the top singular pair estimate of ``matrix`` (rows, cols) from ``v`` (cols,).

    Returns ``(u, v)``: unit vectors of shapes (rows,) and (cols,), after ``n_iterations``
    rounds of ``u = W v / |W v|``, ``v = W^T u / |W^T u|`` (torch's order).
    """
    u = None
    for _ in range(n_iterations):
        u = _normalize(matrix @ v, eps)
        v = _normalize(matrix.T @ u, eps)
    return u, v


def spectral_normalize_forward(matrix, u, v):
    """``W_SN = W / sigma`` with ``sigma = u^T W v`` (u, v fixed unit vectors).

    Parameters
    ----------
    matrix : array (rows, cols)
    u : array (rows,)
    v : array (cols,)

    Returns
    -------
    normalized : array (rows, cols)
    cache : tuple ``(normalized, sigma, u, v)``
    """
    sigma = u @ matrix @ v
    normalized = matrix / sigma
    return normalized, (normalized, sigma, u, v)


def spectral_normalize_backward(dout, cache):
    """``dL/dW = (G - <G, W_SN> u v^T) / sigma`` for ``G = dout = dL/dW_SN``, shape (rows, cols)."""
    normalized, sigma, u, v = cache
    xp = array_module(dout)
    along_top = xp.sum(dout * normalized)
    return (dout - along_top * xp.outer(u, v)) / sigma


class SpectralNorm(Module):
    """Wrap a layer with a ``weight`` Parameter so that it uses ``weight / sigma(weight)``.

    ``SpectralNorm(nn.Conv2d(3, 64, 4, stride=2, padding=1))`` behaves like the convolution
    with a spectrally normalized kernel (``torch.nn.utils.parametrizations.spectral_norm``).
    The trainable array stays the wrapped layer's ``weight`` (named ``layer.weight``); its
    gradient is the one with respect to the *unnormalized* weight.

    Parameters
    ----------
    layer : Module
        Anything with a ``weight`` Parameter that its forward reads and its backward accumulates
        into (``Linear``, ``Conv2d``, ``ConvTranspose2d``).
    dim : int or None
        The weight axis that becomes the matrix's rows: 0 (default) or 1 for
        ``ConvTranspose2d`` (chosen automatically when None).
    n_power_iterations : int
        Power-iteration steps per training forward pass (1, as in Miyato et al.).
    eps : float
        Guard for normalizing a zero vector.
    rng : int, Generator or None
        Seed for the initial random ``v`` (then 15 power-iteration steps, as torch does).

    Attributes
    ----------
    u, v : arrays (rows,), (cols,)
        The running singular vector estimates (buffers, not Parameters: they are not trained,
        and a training checkpoint saves them with :meth:`buffers`).
    sigma : float
        The estimate used by the last forward pass.
    """

    def __init__(self, layer: Module, *, dim: int | None = None, n_power_iterations: int = 1,
                 eps: float = 1e-12, rng=None):
        weight = getattr(layer, "weight", None)
        if weight is None:
            raise TypeError(f"{type(layer).__name__} has no weight to normalize")
        if dim is None:
            dim = 1 if type(layer).__name__ == "ConvTranspose2d" else 0
        if dim not in (0, 1):
            raise ValueError(f"dim must be 0 or 1, got {dim}")
        if n_power_iterations < 1:
            raise ValueError(f"n_power_iterations must be >= 1, got {n_power_iterations}")
        self.layer = layer
        self.dim = int(dim)
        self.n_power_iterations = int(n_power_iterations)
        self.eps = float(eps)
        xp = array_module(weight.data)
        matrix = self._matrix(weight.data)
        start = xp.asarray(make_rng(rng).standard_normal(matrix.shape[1]), dtype=weight.dtype)
        self.u, self.v = power_iteration(matrix, _normalize(start, self.eps), 15, self.eps)
        self.sigma = float("nan")
        self._cache = None

    def _matrix(self, weight):
        """The weight as (rows, cols): the chosen axis first, everything else flattened."""
        if self.dim == 1:
            weight = array_module(weight).swapaxes(weight, 0, 1)
        return weight.reshape(weight.shape[0], -1)

    def _unmatrix(self, matrix, shape):
        """Inverse of :meth:`_matrix` for a weight of ``shape``."""
        if self.dim == 1:
            swapped = (shape[1], shape[0], *shape[2:])
            return array_module(matrix).swapaxes(matrix.reshape(swapped), 0, 1)
        return matrix.reshape(shape)

    def forward(self, *inputs):
        weight = self.layer.weight
        matrix = self._matrix(weight.data)
        if self.training:
            self.u, self.v = power_iteration(matrix, self.v, self.n_power_iterations, self.eps)
        normalized, norm_cache = spectral_normalize_forward(matrix, self.u, self.v)
        self.sigma = float(norm_cache[1])
        raw = weight.data
        weight.data = self._unmatrix(normalized, raw.shape)
        try:
            out = self.layer.forward(*inputs)
        finally:
            weight.data = raw
        self._cache = norm_cache
        return out

    def backward(self, grad_out):
        if self._cache is None:
            raise RuntimeError("SpectralNorm.backward called before forward")
        weight = self.layer.weight
        accumulated = weight.grad
        weight.grad = array_module(accumulated).zeros_like(accumulated)
        try:
            # The wrapped layer saw W_SN, so what it accumulates is G = dL/dW_SN (this call only).
            grad_in = self.layer.backward(grad_out)
            d_normalized = self._matrix(weight.grad)
        finally:
            weight.grad = accumulated  # the same array object: optimizers may hold it
        d_matrix = spectral_normalize_backward(d_normalized, self._cache)
        accumulated += self._unmatrix(d_matrix, accumulated.shape)
        return grad_in

    def buffers(self) -> dict[str, np.ndarray]:
        """``{"u": ..., "v": ...}`` host copies: the state besides the parameters that a
        checkpoint must keep."""
        return {name: np.array(to_numpy(getattr(self, name)), copy=True) for name in ("u", "v")}

    def load_buffers(self, buffers) -> SpectralNorm:
        """Restore :meth:`buffers` (shapes checked); returns ``self``."""
        for name in ("u", "v"):
            current = getattr(self, name)
            value = np.asarray(buffers[name])
            if value.shape != tuple(current.shape):
                raise ValueError(f"{name} has shape {value.shape}, expected {current.shape}")
            setattr(self, name, array_module(current).asarray(value, dtype=current.dtype))
        return self

    def astype(self, dtype) -> SpectralNorm:
        super().astype(dtype)
        self.u, self.v = self.u.astype(dtype), self.v.astype(dtype)
        return self

    def to(self, backend: str) -> SpectralNorm:
        super().to(backend)
        move = _import_cupy().asarray if backend == "cupy" else to_numpy
        self.u, self.v = move(self.u), move(self.v)
        return self

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_power_iterations={self.n_power_iterations}"

    def __repr__(self) -> str:
        return f"SpectralNorm({self.layer!r}, {self.extra_repr()})"
