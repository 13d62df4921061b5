"""The layers of a multilayer perceptron: one affine map and the classic non-linearities.

A multilayer perceptron alternates :class:`Linear` maps with element-wise non-linearities; without
the latter the whole stack would collapse into one matrix. Each class below is a thin
:class:`~fromscratch.nn.Module` around a forward/backward pair of :mod:`~fromscratch.nn.functional`:
``forward`` keeps the pair's cache on ``self``, ``backward`` hands it back and accumulates the
parameter gradients.

Which non-linearity
-------------------
*Sigmoid* and *tanh* were the units of the 1980s (the 1987 MLP image coder of chapter 3 used
them); they saturate, so their gradients vanish in deep stacks. *ReLU* (Nair & Hinton 2010;
Glorot et al. 2011) does not saturate for positive inputs and made deep networks trainable;
*leaky ReLU* keeps a small slope for negative inputs so that no unit is stuck at zero forever.
"""

from __future__ import annotations

from ..backend import get_xp, make_rng
from . import functional as F
from .init import he_normal, xavier_uniform, zeros
from .module import Module, Parameter

__all__ = ["Identity", "LeakyReLU", "Linear", "ReLU", "Sigmoid", "Tanh"]


#: Linear's ``init=`` choices: Xavier-uniform for tanh/sigmoid nets, He-normal for ReLU nets.
_INIT = {"xavier": xavier_uniform, "he": he_normal}


class Linear(Module):
    """Affine layer ``y = x W^T + b`` (the layout and names of ``torch.nn.Linear``).

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Add a learned bias (initialised to zero).
    init : {"xavier", "he"}
        Xavier-uniform (for tanh/sigmoid nets) or He-normal (for ReLU nets); see
        :mod:`fromscratch.nn.init`.
    rng : int, numpy.random.Generator or None
        Seed or generator for the initial weights.
    dtype : str
        ``"float32"`` by default.
    xp : module, optional
        Array module holding the parameters (default: the current backend).

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter, shape (out_features,), or None

    Shapes: ``forward`` maps ``(..., in_features)`` to ``(..., out_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        init: str = "xavier",
        rng=None,
        dtype="float32",
        xp=None,
    ):
        if init not in ("xavier", "he"):
            raise ValueError(f"init must be 'xavier' or 'he', got {init!r}")
        xp = get_xp() if xp is None else xp
        shape = (int(out_features), int(in_features))
        draw = _INIT[init]
        self.in_features, self.out_features = shape[1], shape[0]
        self.weight = Parameter(draw(shape, make_rng(rng), dtype=dtype, xp=xp), "weight")
        self.bias = Parameter(zeros(shape[:1], dtype, xp), "bias") if bias else None
        self._cache = None

    def forward(self, x):
        b = None if self.bias is None else self.bias.data
        out, cache = F.linear_forward(x, self.weight.data, b)
        self._cache = self._keep(cache)
        return out

    def backward(self, grad_out):
        dx, dw, db = F.linear_backward(grad_out, self._require_cache())
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class _Activation(Module):
    """An element-wise non-linearity: a forward/backward pair and its cache, no parameters."""

    def __init__(self):
        self._cache = None

    def forward(self, x):
        out, cache = self._forward(x)
        self._cache = self._keep(cache)
        return out

    def backward(self, grad_out):
        return self._backward(grad_out, self._require_cache())


class Sigmoid(_Activation):
    """``1 / (1 + e^-x)``, squashing to (0, 1); caches its output."""

    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)


class Tanh(_Activation):
    """``tanh x``, squashing to (-1, 1) and zero-centred; caches its output."""

    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class ReLU(_Activation):
    """``max(x, 0)``; caches the mask of active units."""

    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)


class LeakyReLU(_Activation):
    """``x`` for ``x > 0``, else ``negative_slope * x``; caches the mask."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _forward(self, x):
        return F.leaky_relu_forward(x, self.negative_slope)

    _backward = staticmethod(F.leaky_relu_backward)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Identity(Module):
    """``y = x``: a placeholder where a layer is optional (its gradient passes unchanged)."""

    def forward(self, x):
        return x

    def backward(self, grad_out):
        return grad_out
