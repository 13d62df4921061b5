"""Gradient checking: test a hand-written backward pass against finite differences.

A backward pass is easy to get subtly wrong (a missing transpose, a sum over the wrong axis), and
training with a wrong gradient often still *sort of* works, which hides the bug. The remedy is
as old as numerical analysis: compare with a difference quotient.

Centred differences
-------------------
Taylor-expand ``f`` around ``x`` in one coordinate::

    f(x + eps) = f(x) + eps f'(x) + eps^2/2 f''(x) + eps^3/6 f'''(x) + ...
    f(x - eps) = f(x) - eps f'(x) + eps^2/2 f''(x) - eps^3/6 f'''(x) + ...

Subtracting cancels the even terms::

    (f(x + eps) - f(x - eps)) / (2 eps) = f'(x) + O(eps^2)

while the one-sided quotient ``(f(x + eps) - f(x)) / eps`` is only ``O(eps)`` accurate. The other
error is rounding: ``f`` is known to about ``u |f|`` (unit roundoff ``u``), and dividing by
``2 eps`` amplifies that to ``u |f| / eps``. In float32 (``u ~ 6e-8``) no ``eps`` makes both small,
so checks run in **float64** (``u ~ 1.1e-16``): with ``eps = 1e-6`` the truncation error is about
``1e-12`` and the rounding error about ``1e-10 |f|``, far below the ``1e-6`` tolerance.

What is compared
----------------
A layer's output is an array, so it is reduced to a scalar with a fixed random weighting ``g``:
``L = sum(out * g)``. Then ``dL/d out = g`` is exactly the upstream gradient handed to
``backward``, and every input and parameter gradient is checked element by element with the
relative error ``|a - n| / max(|a| + |n|, 1e-12)`` (``a`` analytic, ``n`` numerical). One
perturbed element costs two forward passes, so this is for small shapes.

The module is checked on a deep copy converted to float64 (``astype``): the caller's module,
its dtype and its gradients are left untouched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ..backend import array_module, make_rng, to_numpy
from .module import Module

__all__ = ["GradcheckResult", "gradcheck", "numerical_gradient"]


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes
    ----------
    ok : bool
        ``max_error < tol``.
    errors : dict[str, float]
        Maximum relative error per checked array: ``"input0"``, ``"input1"``, ... and, for a
        module, each parameter's dotted name.
    max_error : float
        The largest of ``errors``.
    tol : float
    """

    ok: bool
    errors: dict[str, float] = field(default_factory=dict)
    max_error: float = 0.0
    tol: float = 0.0

    def __str__(self) -> str:
        rows = ", ".join(f"{k}: {v:.2e}" for k, v in self.errors.items())
        return f"gradcheck {'passed' if self.ok else 'FAILED'} (tol {self.tol:.0e}): {rows}"


def numerical_gradient(f, x, eps: float = 1e-6):
    """Centred-difference gradient of the scalar function ``f`` at ``x``.

    ``x`` is perturbed *in place*, one element at a time, and restored, so ``f`` may read ``x``
    through a closure (that is how parameters are checked) or take it as its argument.

    Parameters
    ----------
    f : callable
        ``f(x) -> scalar`` (a float or a 0-d array).
    x : array (float64 for meaningful results)
    eps : float

    Returns
    -------
    array, shape and backend of ``x``: ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``.
    """
    xp = array_module(x)
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        original = x[idx].item()
        x[idx] = original + eps
        f_plus = float(f(x))
        x[idx] = original - eps
        f_minus = float(f(x))
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return xp.asarray(grad)


def _relative_error(analytic, numerical) -> float:
    a = to_numpy(analytic).astype(np.float64)
    n = to_numpy(numerical).astype(np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic gradient has shape {a.shape}, expected {n.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12)))


def gradcheck(module_or_fn, inputs, *, eps: float = 1e-6, tol: float = 1e-6, seed=0):
    """Compare analytic gradients with centred finite differences, in float64.

    Parameters
    ----------
    module_or_fn : Module or (forward_fn, backward_fn)
        A Module: ``forward(*inputs)`` then ``backward(g)``, which returns the gradient of the
        first input (the others, like a loss's target, are then constants) or a tuple with one
        gradient per input. Its parameters are checked too.
        A pair: ``forward_fn(*inputs) -> out`` and ``backward_fn(dout, inputs) -> tuple`` with
        one gradient per input.
    inputs : list of arrays
        Copied and converted to float64.
    eps : float
        Finite-difference step.
    tol : float
        Largest acceptable relative error.
    seed : int or Generator
        For the random upstream gradient ``g``.

    Returns
    -------
    GradcheckResult
    """
    inputs = [array_module(x).asarray(x, dtype=np.float64).copy() for x in inputs]
    if not inputs:
        raise ValueError("gradcheck needs at least one input")
    rng = make_rng(seed)

    if isinstance(module_or_fn, Module):
        module = copy.deepcopy(module_or_fn).astype(np.float64)

        def forward(*xs):
            return module.forward(*xs)

        def backward(dout, xs):
            grads = module.backward(dout)  # one input's gradient, or a tuple of several
            return grads if isinstance(grads, tuple) else (grads,)

        params = module.named_parameters()
    else:
        forward, backward = module_or_fn
        params = []

    out = forward(*inputs)
    xp = array_module(out)
    g = xp.asarray(rng.standard_normal(np.shape(out)))
    for _, p in params:
        p.zero_grad()
    analytic = backward(g, inputs)
    analytic_params = {name: p.grad.copy() for name, p in params}

    def loss(_=None):
        return float(xp.sum(forward(*inputs) * g))

    errors: dict[str, float] = {}
    for i, grad in enumerate(analytic):
        if grad is not None:
            errors[f"input{i}"] = _relative_error(grad, numerical_gradient(loss, inputs[i], eps))
    for name, p in params:
        errors[name] = _relative_error(analytic_params[name], numerical_gradient(loss, p.data, eps))
    max_error = max(errors.values(), default=0.0)
    return GradcheckResult(ok=max_error < tol, errors=errors, max_error=max_error, tol=tol)
