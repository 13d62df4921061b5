"""The network of Ballé, Laparra & Simoncelli (2017): analysis, synthesis, entropy model, loss.

"End-to-end optimized image compression" (ICLR 2017) replaced the fixed transform of JPEG by two
learned ones and trained them, together with a density for the latents, for one objective::

    x  --g_a-->  y  --quantize-->  y_hat  --g_s-->  x_hat
                                     |
                          p(y_hat): entropy model  ->  rate R = -log2 p(y_hat)

    loss = R / pixels  +  lambda * 255^2 * MSE(x, x_hat)         (x in [0, 1])

The transforms are four strided 5x5 convolutions, with divisive normalization (GDN) between them
in the analysis and its inverse (IGDN) in the synthesis - the layout CompressAI calls
``bmshj2018-factorized`` (the ICLR paper used three stages; four with N/M channels became the
standard baseline)::

    g_a: conv 3->N /2, GDN, conv N->N /2, GDN, conv N->N /2, GDN, conv N->M /2     (16x smaller)
    g_s: deconv M->N x2, IGDN, deconv N->N x2, IGDN, deconv N->N x2, IGDN, deconv N->3 x2

During training the quantizer is replaced by additive uniform noise (see ``nn.entropy_bottleneck``);
``lambda`` trades rate for distortion, one trained model per point of the RD curve.

Everything here is an ``nn.Module`` with a hand-written backward: :class:`Balle2017` runs the three
parts forward and backward, and :class:`RateDistortionLoss` gives the gradients of the loss with
respect to the reconstruction and to the likelihoods.
"""

from __future__ import annotations

import math

from ...backend import array_module, get_xp, make_rng
from ...nn.conv import Conv2d, ConvTranspose2d
from ...nn.entropy_bottleneck import EntropyBottleneck
from ...nn.gdn import GDN
from ...nn.module import Module, Sequential

__all__ = ["STRIDE", "Balle2017", "RateDistortionLoss"]

STRIDE = 16  # four stride-2 stages: images are padded to a multiple of this


def analysis_transform(n: int, m: int, rng, dtype, xp) -> Sequential:
    """g_a: (B, 3, H, W) -> (B, M, H/16, W/16)."""
    layers = []
    for i, (c_in, c_out) in enumerate(((3, n), (n, n), (n, n), (n, m))):
        layers.append(Conv2d(c_in, c_out, 5, stride=2, padding=2, rng=rng.integers(2**31),
                             dtype=dtype, xp=xp))
        if i < 3:
            layers.append(GDN(c_out, dtype=dtype, xp=xp))
    return Sequential(*layers)


def synthesis_transform(n: int, m: int, rng, dtype, xp) -> Sequential:
    """g_s: (B, M, h, w) -> (B, 3, 16 h, 16 w)."""
    layers = []
    for i, (c_in, c_out) in enumerate(((m, n), (n, n), (n, n), (n, 3))):
        layers.append(ConvTranspose2d(c_in, c_out, 5, stride=2, padding=2, output_padding=1,
                                      rng=rng.integers(2**31), dtype=dtype, xp=xp))
        if i < 3:
            layers.append(GDN(c_out, inverse=True, dtype=dtype, xp=xp))
    return Sequential(*layers)


class Balle2017(Module):
    """Analysis, entropy bottleneck and synthesis, trained end to end.

    Parameters
    ----------
    n, m : int
        Channels of the hidden layers (N) and of the latent (M).
    rng : int or numpy.random.Generator, optional
        Seed of the initial weights and of the training noise.
    dtype, xp : optional
        float32 and the current backend by default.

    Notes
    -----
    ``forward(x)`` takes images ``x`` of shape (B, 3, H, W) in [0, 1] with H, W multiples of 16
    and returns ``(x_hat, likelihoods)``: the reconstruction (B, 3, H, W) and the likelihood of
    every latent element (B, M, H/16, W/16). ``backward(grad_x_hat, grad_likelihoods)`` propagates
    both gradients down to the analysis (and returns the gradient for ``x``).
    """

    def __init__(self, n: int = 64, m: int = 96, *, rng=0, dtype="float32", xp=None):
        xp = xp or get_xp()
        rng = make_rng(rng)
        self.n, self.m = int(n), int(m)
        self.g_a = analysis_transform(self.n, self.m, rng, dtype, xp)
        self.entropy_bottleneck = EntropyBottleneck(self.m, rng=rng.integers(2**31),
                                                    dtype=dtype, xp=xp)
        self.g_s = synthesis_transform(self.n, self.m, rng, dtype, xp)

    def extra_repr(self) -> str:
        return f"N={self.n}, M={self.m}"

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % STRIDE or x.shape[3] % STRIDE:
            raise ValueError(f"expected (B, 3, H, W) with H, W multiples of {STRIDE}, "
                             f"got {x.shape}")
        y = self.g_a.forward(x)
        y_hat, likelihoods = self.entropy_bottleneck.forward(y)
        x_hat = self.g_s.forward(y_hat)
        return x_hat, likelihoods

    def backward(self, grad_x_hat, grad_likelihoods=None):
        grad_y_hat = self.g_s.backward(grad_x_hat)
        grad_y = self.entropy_bottleneck.backward(grad_y_hat, grad_likelihoods)
        return self.g_a.backward(grad_y)


class RateDistortionLoss:
    """``bpp + lambda * 255^2 * MSE`` and its gradients (the CompressAI convention).

    ``forward(x_hat, likelihoods, x)`` returns a dict with ``loss``, ``bpp`` (estimated bits per
    pixel, ``-sum(log2 p) / (B H W)``) and ``mse`` (on the [0, 1] scale), as Python floats.
    ``likelihoods`` is one array or a tuple of arrays whose bits add up (chapter 6 codes two
    latents, ``y`` and the side information ``z``). ``backward()`` returns ``(grad_x_hat,
    grad_likelihoods)``, the latter an array or a tuple matching ``likelihoods``.
    """

    def __init__(self, lmbda: float):
        if not lmbda > 0:
            raise ValueError(f"lambda must be positive, got {lmbda}")
        self.lmbda = float(lmbda)

    def forward(self, x_hat, likelihoods, x) -> dict:
        xp = array_module(x_hat)
        batch, _, height, width = x.shape
        pixels = batch * height * width
        diff = x_hat - x
        several = isinstance(likelihoods, (tuple, list))
        parts = tuple(likelihoods) if several else (likelihoods,)
        bits = [float(-xp.log(p).sum()) / math.log(2.0) for p in parts]
        mse = float((diff * diff).mean())
        self._cache = (diff, parts, several, pixels)
        bpp = sum(bits) / pixels
        stats = {"loss": bpp + self.lmbda * 255.0**2 * mse, "bpp": bpp, "mse": mse}
        if several:
            stats["bpp_parts"] = [b / pixels for b in bits]
        return stats

    def backward(self):
        diff, parts, several, pixels = self._cache
        grad_x_hat = diff * (2.0 * self.lmbda * 255.0**2 / diff.size)
        grads = tuple((-1.0 / (p * (math.log(2.0) * pixels))).astype(p.dtype) for p in parts)
        return grad_x_hat.astype(diff.dtype), grads if several else grads[0]
