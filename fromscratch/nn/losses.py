"""Losses: the scalar that training drives down, and where backpropagation starts.

A loss ``L(pred, target)`` ends the forward pass with one number. Backpropagation starts from
``dL/dL = 1`` and the loss's ``backward`` turns it into ``dL/dpred``, the ``grad_out`` of the
network's last layer::

    loss = loss_fn.forward(net.forward(x), target)
    net.backward(loss_fn.backward())          # grad=1.0: d loss / d loss

``backward(grad)`` takes the upstream scalar so a loss can be one term of a larger objective:
``L = D + lambda R`` backpropagates ``lambda`` into ``R``'s loss (the rate-distortion losses of
the neural codecs do exactly that).

Mean squared error is the distortion most image codecs report (PSNR is ``10 log10(255^2 / MSE)``)
and the maximum-likelihood loss for Gaussian noise; mean absolute error is the one for Laplacian
noise, the shape of prediction residuals, which is why lossless predictors train on it.
"""

from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["L1Loss", "MSELoss"]


class MSELoss(Module):
    """``mean((pred - target)^2)`` over all elements, like ``torch.nn.MSELoss()``.

    ``forward(pred, target)`` returns a 0-d array on ``pred``'s backend; ``backward(grad=1.0)``
    returns ``dL/dpred`` (the shape of ``pred``); the target is treated as a constant.
    """

    def __init__(self):
        self._cache = None

    def forward(self, pred, target):
        loss, self._cache = F.mse_forward(pred, target)
        return loss

    def backward(self, grad=1.0):
        if self._cache is None:
            raise RuntimeError("MSELoss.backward called before forward")
        return F.mse_backward(self._cache, grad)


class L1Loss(MSELoss):
    """``mean(|pred - target|)`` over all elements, like ``torch.nn.L1Loss()``.

    Same interface as :class:`MSELoss`; at ``pred == target`` the gradient is 0 (a subgradient).
    """

    def forward(self, pred, target):
        loss, self._cache = F.l1_forward(pred, target)
        return loss

    def backward(self, grad=1.0):
        if self._cache is None:
            raise RuntimeError("L1Loss.backward called before forward")
        return F.l1_backward(self._cache, grad)
