"""Growing a trained network wider without changing what it computes.

A model trained with few channels can hit a ceiling that more training lifts only slowly: with
M = 96 latent channels, chapter 4's codec reconstructs Kodak at 31.8 dB (q3) and 32.2 dB (q4) *even
when its latents are not quantized at all*, so its highest-rate model cannot buy much quality with
more bits. Training a wider model from scratch throws away everything the narrow one learned.
Chen, Goodfellow & Shlens ("Net2Net", ICLR 2016) showed the alternative: copy the trained weights
into a wider network so that it starts out computing exactly the same function, then keep
training.

The rule that makes the copy exact is simple. Every new channel gets

* **its own incoming weights**, random (the layer's initial values, scaled down by ``new_scale``)
  so that it carries a signal and can learn, and
* **outgoing weights of zero**, so that nothing downstream sees it yet.

For a convolution ``Conv2d`` (weights ``(out, in, k, k)``) the new *input* channels' columns are
set to zero; for a transposed convolution (weights ``(in, out, k, k)``) the new input rows. A GDN
layer normalizes channel ``i`` by ``sqrt(beta_i + sum_j gamma_ij x_j^2)``: the old channels must
not be normalized by the new ones, so ``gamma[old, new] = 0``. Per-channel parameters (biases,
``beta``) keep their initial values for the new channels. The network's output is then
bit-for-bit what the narrow one computed, and the first gradient step already moves the zero
weights, since their gradient is the new channels' activity times the error signal.

In a compression model the new *latent* channels cost bits from the start, and a freshly
initialized density is wide: about 5 bits per latent, 2 bits per pixel for 96 new channels of a
16x-subsampled latent - a jolt that gradient clipping turns into a pause for everything else. So
new channels of an :class:`~fromscratch.nn.EntropyBottleneck` start with a copy of the narrowest
trained density (the one that gives the interval around 0 the most mass), and the small incoming
weights keep their latents near 0, where that density charges less than a bit each (for 96 new
channels of chapter 4's q4: +0.27 bpp at the first step, against about +1.9 with fresh densities).
Gradient descent then decides whether they are worth their bits.

:func:`load_grown` does this for any model built from :class:`~fromscratch.nn.Conv2d`,
:class:`~fromscratch.nn.ConvTranspose2d`, :class:`~fromscratch.nn.GDN` and layers whose
parameters are indexed by channel along their leading axes.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d, ConvTranspose2d
from .entropy_bottleneck import EntropyBottleneck, likelihood_forward
from .gdn import GDN
from .io import WeightsError
from .module import Module

__all__ = ["load_grown"]


def load_grown(model: Module, state: dict, *, new_scale: float = 0.1,
                source: str = "state") -> Module:
    """Fill ``model`` from the ``state`` of a narrower model of the same layout.

    Parameters
    ----------
    model : Module
        The wider model, freshly initialized (its initial values fill the new channels).
    state : dict of str to ndarray
        Parameters of the trained model: the same names, each of a shape no larger than the
        model's along every axis (equal shapes are copied as they are).
    new_scale : float
        Factor on the initial incoming weights of the new output channels of every convolution.
    source : str
        Named in errors (e.g. the weight file).

    Returns
    -------
    Module
        ``model``, computing what the narrow model computed (see the module docstring).

    Raises
    ------
    WeightsError
        If the names differ, or a parameter of ``state`` is larger than the model's along an axis
        or has another number of axes.
    """
    grown = model.state_dict()  # copies: the initial values of every new channel
    if set(grown) != set(state):
        raise WeightsError(f"{source}: parameter names differ from {type(model).__name__}'s")
    for name, value in state.items():
        value = np.asarray(value)
        target = grown[name]
        if value.ndim != target.ndim or any(a > b for a, b in zip(value.shape, target.shape,
                                                                    strict=True)):
            raise WeightsError(f"{source}: parameter {name!r} of shape {value.shape} does not fit "
                               f"into {target.shape}")
        target[tuple(slice(0, size) for size in value.shape)] = value
    for prefix, module in model.named_modules():
        dot = f"{prefix}." if prefix else ""
        if isinstance(module, ConvTranspose2d):  # weight (in, out, k, k)
            old_inputs, old_outputs = state[f"{dot}weight"].shape[:2]
            grown[f"{dot}weight"][:, old_outputs:] *= new_scale
            grown[f"{dot}weight"][old_inputs:] = 0
        elif isinstance(module, Conv2d):  # weight (out, in, k, k)
            old_outputs, old_inputs = state[f"{dot}weight"].shape[:2]
            grown[f"{dot}weight"][old_outputs:] *= new_scale
            grown[f"{dot}weight"][:, old_inputs:] = 0
        elif isinstance(module, GDN):
            old = state[f"{dot}gamma_param"].shape[0]
            # the stored value whose effective gamma is exactly 0 (see gdn's reparameterisation)
            grown[f"{dot}gamma_param"][:old, old:] = np.sqrt(module.pedestal)
        elif isinstance(module, EntropyBottleneck):
            names = [name for name, _ in module.named_parameters()]
            old = state[f"{dot}{names[0]}"].shape[0]
            if old < module.channels:
                groups = [[np.asarray(state[f"{dot}{group}.{k}"], np.float64)
                           for k in range(len(getattr(module, group)))]
                          for group in ("matrices", "biases", "factors")]
                mass_at_zero, _ = likelihood_forward(np.zeros((old, 1, 1)), *groups)
                narrowest = int(np.argmax(mass_at_zero[:, 0, 0]))
                for name in names:
                    grown[f"{dot}{name}"][old:] = state[f"{dot}{name}"][narrowest]
    return model.load_state_dict(grown, source=source)
