r"""The adversarial losses: a discriminator's and a generator's, on logits.

The game (Goodfellow et al. 2014)
---------------------------------
A discriminator :math:`D` outputs a *logit* :math:`d = D(x)`; :math:`\sigma(d)` is its belief
that :math:`x` is real. It is trained as a logistic-regression classifier, real = 1, fake = 0:

.. math:: L_D = \mathbb{E}_{x}\big[-\log\sigma(D(x))\big]
               + \mathbb{E}_{z}\big[-\log(1-\sigma(D(G(z))))\big]
             = \mathbb{E}\,\mathrm{softplus}(-d_{real}) + \mathbb{E}\,\mathrm{softplus}(d_{fake}),

using :math:`-\log\sigma(d) = \mathrm{softplus}(-d)` and :math:`-\log(1-\sigma(d)) =
\mathrm{softplus}(d)`. The generator plays the other side. The minimax game says
:math:`G` minimizes :math:`\mathbb{E}\log(1-\sigma(d_{fake})) = -\mathbb{E}\,
\mathrm{softplus}(d_{fake})` (``"saturating"``): but early on, when :math:`D` rejects every fake
(:math:`d_{fake} \ll 0`), its gradient :math:`-\sigma(d_{fake})` vanishes. Goodfellow's fix, the
**non-saturating** loss, maximizes :math:`\log\sigma(d_{fake})` instead:

.. math:: L_G = \mathbb{E}\,\mathrm{softplus}(-d_{fake}), \qquad
          \partial L_G/\partial d_{fake} = -\sigma(-d_{fake})/N,

whose gradient is largest exactly when the fakes are worst. HiFiC (Mentzer et al. 2020) uses
this pair.

The **hinge** loss (Lim & Ye 2017; Miyato et al. 2018 with spectral normalization) stops
pushing a logit once it is on the right side of a margin:

.. math:: L_D = \mathbb{E}\max(0, 1-d_{real}) + \mathbb{E}\max(0, 1+d_{fake}), \qquad
          L_G = -\mathbb{E}\, d_{fake}.

Numerics: never ``log(sigmoid(d))``
-----------------------------------
For :math:`d = -40` in float32, :math:`\sigma(d)` underflows towards 0 and its log to
:math:`-\infty`. The identity :math:`\mathrm{softplus}(x) = \max(x, 0) + \log(1 + e^{-|x|})`
never exponentiates a positive number, and its derivative is :math:`\sigma(x)`, computed the
stable way (:func:`fromscratch.nn.functional.sigmoid`). That is why the losses take logits.

Each loss is a mean over its batch (any shape: a patch discriminator's map of logits counts
every patch as one sample).
"""

from __future__ import annotations

from ..backend import array_module
from .functional import sigmoid
from .module import Module

__all__ = [
    "DiscriminatorLoss",
    "GeneratorLoss",
    "discriminator_loss_backward",
    "discriminator_loss_forward",
    "generator_loss_backward",
    "generator_loss_forward",
    "softplus",
]

DISCRIMINATOR_KINDS = ("nonsaturating", "hinge")
GENERATOR_KINDS = ("nonsaturating", "saturating", "hinge")


def softplus(x):
    r""":math:`\log(1 + e^x)` without overflow: :math:`\max(x, 0) + \log(1 + e^{-|x|})`."""
    xp = array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _check_kind(kind: str, allowed: tuple[str, ...], who: str) -> str:
    if kind not in allowed:
        raise ValueError(f"{who} loss kind must be one of {', '.join(allowed)}; got {kind!r}")
    return kind


def _scalar(xp, value, like):
    return xp.asarray(value, dtype=like.dtype)


def discriminator_loss_forward(real_logits, fake_logits, kind: str = "nonsaturating"):
    """The discriminator's loss on a batch of real and a batch of fake logits (any shapes).

    Returns
    -------
    loss : 0-d array
        ``mean softplus(-real) + mean softplus(fake)`` or the hinge
        ``mean relu(1 - real) + mean relu(1 + fake)``.
    cache : tuple ``(real_logits, fake_logits, kind)``
    """
    _check_kind(kind, DISCRIMINATOR_KINDS, "discriminator")
    xp = array_module(real_logits, fake_logits)
    if kind == "nonsaturating":
        loss = xp.mean(softplus(-real_logits)) + xp.mean(softplus(fake_logits))
    else:
        loss = xp.mean(xp.maximum(1 - real_logits, 0)) + xp.mean(xp.maximum(1 + fake_logits, 0))
    return _scalar(xp, loss, real_logits), (real_logits, fake_logits, kind)


def discriminator_loss_backward(cache, grad=1.0):
    """``(dL/d real_logits, dL/d fake_logits)``, each scaled by ``grad``.

    Non-saturating: ``-sigmoid(-real) / N_real`` and ``sigmoid(fake) / N_fake``. Hinge:
    ``-[real < 1] / N_real`` and ``[fake > -1] / N_fake`` (0 at the kinks).
    """
    real, fake, kind = cache
    if kind == "nonsaturating":
        d_real, d_fake = -sigmoid(-real), sigmoid(fake)
    else:
        d_real, d_fake = -(real < 1).astype(real.dtype), (fake > -1).astype(fake.dtype)
    return d_real * (grad / real.size), d_fake * (grad / fake.size)


def generator_loss_forward(fake_logits, kind: str = "nonsaturating"):
    """The generator's loss on the discriminator's logits for its fakes.

    ``"nonsaturating"``: ``mean softplus(-fake)``; ``"saturating"`` (the minimax original):
    ``-mean softplus(fake)``; ``"hinge"``: ``-mean fake``. Returns ``(loss, cache)``.
    """
    _check_kind(kind, GENERATOR_KINDS, "generator")
    xp = array_module(fake_logits)
    if kind == "nonsaturating":
        loss = xp.mean(softplus(-fake_logits))
    elif kind == "saturating":
        loss = -xp.mean(softplus(fake_logits))
    else:
        loss = -xp.mean(fake_logits)
    return _scalar(xp, loss, fake_logits), (fake_logits, kind)


def generator_loss_backward(cache, grad=1.0):
    """``dL/d fake_logits``: ``-sigmoid(-fake)/N``, ``-sigmoid(fake)/N`` or ``-1/N``."""
    fake, kind = cache
    xp = array_module(fake)
    if kind == "nonsaturating":
        d_fake = -sigmoid(-fake)
    elif kind == "saturating":
        d_fake = -sigmoid(fake)
    else:
        d_fake = -xp.ones_like(fake)
    return d_fake * (grad / fake.size)


class DiscriminatorLoss(Module):
    """``forward(real_logits, fake_logits) -> loss``; ``backward(grad=1.0) -> (d_real, d_fake)``.

    Parameters
    ----------
    kind : {"nonsaturating", "hinge"}
    """

    def __init__(self, kind: str = "nonsaturating"):
        self.kind = _check_kind(kind, DISCRIMINATOR_KINDS, "discriminator")
        self._cache = None

    def forward(self, real_logits, fake_logits):
        loss, self._cache = discriminator_loss_forward(real_logits, fake_logits, self.kind)
        return loss

    def backward(self, grad=1.0):
        if self._cache is None:
            raise RuntimeError("DiscriminatorLoss.backward called before forward")
        return discriminator_loss_backward(self._cache, grad)

    def extra_repr(self) -> str:
        return repr(self.kind)


class GeneratorLoss(Module):
    """``forward(fake_logits) -> loss``; ``backward(grad=1.0) -> d_fake``.

    Parameters
    ----------
    kind : {"nonsaturating", "saturating", "hinge"}
    """

    def __init__(self, kind: str = "nonsaturating"):
        self.kind = _check_kind(kind, GENERATOR_KINDS, "generator")
        self._cache = None

    def forward(self, fake_logits):
        loss, self._cache = generator_loss_forward(fake_logits, self.kind)
        return loss

    def backward(self, grad=1.0):
        if self._cache is None:
            raise RuntimeError("GeneratorLoss.backward called before forward")
        return generator_loss_backward(self._cache, grad)

    def extra_repr(self) -> str:
        return repr(self.kind)
