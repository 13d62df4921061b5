"""The scale hyperprior of Ballé, Minnen, Singh, Hwang & Johnston (ICLR 2018).

Chapter 4's codec gives every latent of a channel one density. Its bit map shows the cost: edges
and textures pay far more than flat regions, yet the model cannot know in advance which is which.
The 2018 paper sends a little *side information* to tell it::

    x --g_a--> y --|.|--h_a--> z --Q--> z_hat --h_s--> sigma        (z coded with chapter 4's
                                  |                     |             factorized density)
                          p(z_hat): factorized   p(y_hat | sigma) = N(0, sigma^2) * box
    y --Q--> y_hat --g_s--> x_hat

    loss = (R_y + R_z) / pixels + lambda * 255^2 * MSE(x, x_hat)

``g_a`` and ``g_s`` are chapter 4's transforms (N hidden channels, M latent channels). The
hyper-analysis sees ``|y|`` (the scale of a latent does not depend on its sign) and the
hyper-synthesis predicts one positive scale per latent; the layout is CompressAI's
``bmshj2018-hyperprior``::

    h_a: conv3x3 M->N /1, ReLU, conv5x5 N->N /2, ReLU, conv5x5 N->N /2            (4x smaller)
    h_s: deconv5x5 N->N x2, ReLU, deconv5x5 N->N x2, ReLU, conv3x3 N->M /1, ReLU  (>= 0)

The latent grid is 16 times smaller than the image and ``z``'s 64 times, so images are padded
to a multiple of 64. In training both quantizers are additive uniform noise; the Gaussian
conditional (``nn.gaussian_conditional``) and the factorized bottleneck each give likelihoods, and
the rate is the sum of both.

:class:`Balle2018` runs all of it forward and backward by hand; the loss is chapter 4's
:class:`~fromscratch.codecs.balle2017.RateDistortionLoss`, given both likelihoods.
"""

from __future__ import annotations

from ...backend import array_module, get_xp, make_rng
from ...nn.conv import Conv2d, ConvTranspose2d
from ...nn.entropy_bottleneck import EntropyBottleneck
from ...nn.gaussian_conditional import GaussianConditional
from ...nn.layers import ReLU
from ...nn.module import Module, Sequential
from ..balle2017.model import analysis_transform, synthesis_transform

__all__ = ["STRIDE", "Balle2018", "hyper_analysis", "hyper_synthesis"]

STRIDE = 64  # g_a halves four times, h_a twice more: images are padded to a multiple of this


def hyper_analysis(n: int, m: int, rng, dtype, xp) -> Sequential:
    """h_a: |y| (B, M, h, w) -> z (B, N, h/4, w/4)."""
    rng = make_rng(rng)
    return Sequential(
        Conv2d(m, n, 3, stride=1, padding=1, rng=rng.integers(2**31), dtype=dtype, xp=xp),
        ReLU(),
        Conv2d(n, n, 5, stride=2, padding=2, rng=rng.integers(2**31), dtype=dtype, xp=xp),
        ReLU(),
        Conv2d(n, n, 5, stride=2, padding=2, rng=rng.integers(2**31), dtype=dtype, xp=xp),
    )


def hyper_synthesis(n: int, m: int, rng, dtype, xp) -> Sequential:
    """h_s: z_hat (B, N, h/4, w/4) -> scales (B, M, h, w), non-negative (a final ReLU)."""
    rng = make_rng(rng)
    return Sequential(
        ConvTranspose2d(n, n, 5, stride=2, padding=2, output_padding=1,
                        rng=rng.integers(2**31), dtype=dtype, xp=xp),
        ReLU(),
        ConvTranspose2d(n, n, 5, stride=2, padding=2, output_padding=1,
                        rng=rng.integers(2**31), dtype=dtype, xp=xp),
        ReLU(),
        Conv2d(n, m, 3, stride=1, padding=1, rng=rng.integers(2**31), dtype=dtype, xp=xp),
        ReLU(),
    )


class Balle2018(Module):
    """Analysis, hyper-analysis, two entropy models, hyper-synthesis and synthesis.

    Parameters
    ----------
    n, m : int
        Hidden channels (N, also the channels of ``z``) and latent channels (M).
    rng : int or numpy.random.Generator, optional
        Seed of the initial weights and of the training noise.
    dtype, xp : optional
        float32 and the current backend by default.

    Notes
    -----
    ``forward(x)``: images (B, 3, H, W) in [0, 1], H and W multiples of 64; returns ``(x_hat,
    (y_likelihoods, z_likelihoods))`` with shapes (B, 3, H, W), (B, M, H/16, W/16) and
    (B, N, H/64, W/64). ``backward(grad_x_hat, (grad_y_lik, grad_z_lik))`` returns the gradient
    with respect to ``x``. ``y`` reaches the loss along three paths - the synthesis, its own
    likelihood, and ``h_a`` (through ``|y|``) - and the backward pass adds all three.

    With ``freeze_transforms = True`` the backward pass stops at the hyperprior: ``g_a`` and
    ``g_s`` get no gradient (and ``backward`` returns None). With the transforms of a trained
    chapter 4 model that is a cheap first stage: the distortion is then fixed and the loss is the
    rate of a fixed ``y``, which only the hyperprior can lower - at a third of the cost of a step.
    """

    freeze_transforms = False

    def __init__(self, n: int = 64, m: int = 96, *, rng=0, dtype="float32", xp=None):
        xp = xp or get_xp()
        rng = make_rng(rng)
        self.n, self.m = int(n), int(m)
        self.g_a = analysis_transform(self.n, self.m, rng, dtype, xp)
        self.g_s = synthesis_transform(self.n, self.m, rng, dtype, xp)
        self.h_a = hyper_analysis(self.n, self.m, rng.integers(2**31), dtype, xp)
        self.h_s = hyper_synthesis(self.n, self.m, rng.integers(2**31), dtype, xp)
        self.entropy_bottleneck = EntropyBottleneck(self.n, rng=rng.integers(2**31),
                                                    dtype=dtype, xp=xp)
        self.gaussian_conditional = GaussianConditional(rng=rng.integers(2**31))

    def extra_repr(self) -> str:
        return f"N={self.n}, M={self.m}"

    @property
    def decoder_rounding(self) -> bool:
        """Train the synthesis on rounded latents (straight-through), the rates on noisy ones."""
        return self.gaussian_conditional.decoder_rounding

    @decoder_rounding.setter
    def decoder_rounding(self, value: bool) -> None:
        self.gaussian_conditional.decoder_rounding = bool(value)
        self.entropy_bottleneck.decoder_rounding = bool(value)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % STRIDE or x.shape[3] % STRIDE:
            raise ValueError(f"expected (B, 3, H, W) with H, W multiples of {STRIDE}, "
                             f"got {x.shape}")
        xp = array_module(x)
        y = self.g_a.forward(x)
        z = self.h_a.forward(xp.abs(y))
        z_hat, z_likelihoods = self.entropy_bottleneck.forward(z)
        scales = self.h_s.forward(z_hat)
        y_hat, y_likelihoods = self.gaussian_conditional.forward(y, scales)
        x_hat = self.g_s.forward(y_hat)
        self._sign = xp.sign(y)
        return x_hat, (y_likelihoods, z_likelihoods)

    def backward(self, grad_x_hat, grad_likelihoods=(None, None)):
        grad_y_lik, grad_z_lik = grad_likelihoods
        if self.freeze_transforms:
            _, grad_scales = self.gaussian_conditional.backward(0.0, grad_y_lik)
            grad_z = self.entropy_bottleneck.backward(self.h_s.backward(grad_scales), grad_z_lik)
            self.h_a.backward(grad_z)
            return None
        grad_y_hat = self.g_s.backward(grad_x_hat)
        grad_y, grad_scales = self.gaussian_conditional.backward(grad_y_hat, grad_y_lik)
        grad_z_hat = self.h_s.backward(grad_scales)
        grad_z = self.entropy_bottleneck.backward(grad_z_hat, grad_z_lik)
        grad_abs_y = self.h_a.backward(grad_z)
        return self.g_a.backward(grad_y + self._sign * grad_abs_y)
