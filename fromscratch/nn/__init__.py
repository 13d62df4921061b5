"""A neural-network core written by hand: modules with explicit forward and backward passes.

Chapter 3 of the book builds it; chapters 4 and 5 extend it with convolutions, GDN and GANs.
Everything is NumPy (or CuPy, through ``xp``) and every gradient is written out::

    from fromscratch import nn

    net = nn.Sequential(nn.Linear(2, 4, rng=0), nn.Tanh(), nn.Linear(4, 1, rng=1), nn.Sigmoid())
    loss_fn = nn.MSELoss()
    opt = nn.SGD(net.parameters(), lr=0.5, momentum=0.9)
    for step in range(1000):
        opt.zero_grad()
        loss = loss_fn(net(x), y)            # forward caches what backward needs
        net.backward(loss_fn.backward())     # chain rule, last layer first
        opt.step()

Where things are: :mod:`.module` (Parameter, Module, Sequential: the chain rule),
:mod:`.functional` (forward/backward pairs), :mod:`.layers`, :mod:`.losses`, :mod:`.init`
(Xavier/He), :mod:`.optim` (SGD, Adam), :mod:`.schedules`, :mod:`.gradcheck` (finite
differences) and :mod:`.io` (pickle-free ``.npz`` weight files). Chapter 4 adds :mod:`.conv`
(Conv2d, ConvTranspose2d via im2col), :mod:`.gdn` (GDN, IGDN) and :mod:`.entropy_bottleneck`
(the learned factorized density that makes the rate differentiable). Inference on large images:
:func:`no_grad` (no backward caches), :mod:`.conv_banded` (convolutions in row bands of bounded
memory), :mod:`.memory` (the peak memory of a forward pass, estimated from the shapes) and
:mod:`.grow` (a trained model copied into a wider one that computes the same function).
Chapter 5 adds :mod:`.spectral_norm` (the discriminator's Lipschitz leash), :mod:`.gan_losses`
(non-saturating and hinge, on logits) and :mod:`.ms_ssim_loss` (MS-SSIM with its backward).
"""

from __future__ import annotations

from . import functional, init
from .conv import Conv2d, ConvTranspose2d
from .entropy_bottleneck import EntropyBottleneck
from .gan_losses import DiscriminatorLoss, GeneratorLoss
from .gdn import GDN, IGDN
from .gradcheck import GradcheckResult, gradcheck, numerical_gradient
from .grow import load_grown
from .io import Weights, WeightsError, load_weights, save_weights
from .layers import Identity, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from .losses import L1Loss, MSELoss
from .memory import inference_peak_bytes
from .module import Module, Parameter, Sequential, is_grad_enabled, no_grad
from .ms_ssim_loss import MSSSIMLoss
from .optim import SGD, Adam, Optimizer
from .schedules import CosineDecay, StepDecay
from .spectral_norm import SpectralNorm

__all__ = [
    "GDN",
    "IGDN",
    "SGD",
    "Adam",
    "Conv2d",
    "ConvTranspose2d",
    "CosineDecay",
    "DiscriminatorLoss",
    "EntropyBottleneck",
    "GeneratorLoss",
    "GradcheckResult",
    "Identity",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MSSSIMLoss",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SpectralNorm",
    "StepDecay",
    "Tanh",
    "Weights",
    "WeightsError",
    "functional",
    "gradcheck",
    "inference_peak_bytes",
    "init",
    "is_grad_enabled",
    "load_grown",
    "load_weights",
    "no_grad",
    "numerical_gradient",
    "save_weights",
]
