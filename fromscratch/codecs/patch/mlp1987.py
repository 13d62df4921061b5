"""``mlp1987``: image compression by backpropagation, a 64 -> k -> 64 bottleneck network.

History
-------
In 1987 Garrison Cottrell, Paul Munro and David Zipser (UCSD, ICS report 8702, "Image compression
by back propagation: an example of extensional programming") trained a multilayer perceptron to
*reproduce its input*: 8 x 8 patches of a gray image went into 64 input units, through a layer of
only 16 hidden units, and out of 64 output units, with backpropagation (Rumelhart, Hinton &
Williams, 1986) minimising the squared difference between output and input. Nobody programmed a
transform; the network was only shown examples of what to do ("extensional programming"). Once
trained, the first half is an encoder and the second a decoder, and the 16 hidden activations
stand for the patch's 64 pixels.

How good can it be? Bourlard & Kamp (1988) showed that for such auto-association nonlinear hidden
units bring no advantage over the best linear map, given by the singular value decomposition, and
Baldi & Hornik (1989) proved that the squared error of a *linear* bottleneck has no local minima
but the global one, whose hidden units span the principal subspace of the data (every other
critical point is a saddle): the 1987 network is, at best, a way of learning the KLT (see
``linear.py``, where the KLT is computed directly, and the ``subspace_alignment`` check).
A paper often cited beside it, Chua & Lin (1988), is a different idea: they wrote transform coding
as an optimisation problem solved by an analogue "decomposition" neural network, not a trained
multilayer perceptron.

The network here
----------------
::

    x = patch / 255 - 1/2                      (n, 64), pixel values centred on 0
    h = sigmoid(x W1^T + b1)                   (n, k), every code in (0, 1)     <- the code
    y = h W2^T + b2                            (n, 64), a linear output layer
    patch_hat = 255 (y + 1/2)

with ``W1`` (k, 64), ``W2`` (64, k) as in ``nn.Linear``. The bounded sigmoid makes quantisation
simple: the range of every code is (0, 1), cut into ``2**bits`` cells (``pipeline``). The
weights, a few kilobytes per k, are trained by ``python -m fromscratch train mlp1987 --k K`` on
random crops of the training photographs (luma and 4:2:0 chroma patches, as the codec sees them),
with Adam and the nn core of this chapter; inference here is four plain matrix operations.

What it learns, and why it still loses to the KLT
-------------------------------------------------
Unquantised, the trained networks reconstruct held-out patches within 0.03 to 0.25 dB of the KLT
with the same k, and their weights span the KLT's subspace (cosines of the principal angles
above 0.999 for k <= 16, ``subspace_alignment``): the sigmoids work in their nearly linear middle
range, and the result is what Bourlard & Kamp and Baldi & Hornik predict. Yet at equal *rate*
they need a third to a half more bits than the KLT (BD-rate, ``benchmarks/mlp1987_bench.py``).
The reason is the basis, not the subspace: the loss does not care how the k hidden units share
the work (any invertible mixing of them reconstructs equally well), and training leaves every
unit with about the same spread (standard deviations within a factor 1.5), while the KLT piles
the variance into its first components (standard deviation 406 for the first, 9.6 for the 32nd)
and leaves the rest near zero, where the adaptive entropy coder makes them cheap. In the
high-rate theory of transform coding (one quantiser step for every code) the rate grows with
``sum_j log sigma_j``, which, for a fixed subspace, the decorrelating KLT basis minimises
(Hadamard's inequality): this is the *coding gain* of transform coding, and the 1987 network,
trained only to reconstruct, has no reason to find it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...backend import array_module
from ..base import Parameter, register
from .linear import BITS, load_weight_file
from .pipeline import SETTINGS, PatchCoder

__all__ = ["MLP_K_CHOICES", "Mlp1987", "mlp_weights", "weight_file_name"]

#: Bottleneck widths with a shipped weight file.
MLP_K_CHOICES = (4, 8, 16, 32)
#: Code range of each hidden activation.
ACTIVATION_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def weight_file_name(k: int) -> str:
    """The weight file of the k-unit network, in ``data/weights/``."""
    return f"mlp1987_k{k}.npz"


def mlp_weights(k: int) -> tuple[dict[str, np.ndarray], str]:
    """``({"W1", "b1", "W2", "b2"}, activation)`` of the shipped k-unit network, checked.

    Raises ``nn.WeightsError`` naming the file when it is missing, malformed or of the wrong shape.
    """
    from ... import nn

    weights = load_weight_file(weight_file_name(k))
    expected = {"0.weight": (k, 64), "0.bias": (k,), "2.weight": (64, k), "2.bias": (64,)}
    for name, shape in expected.items():
        array = weights.state.get(name)
        if array is None or array.shape != shape:
            got = "missing" if array is None else f"shape {array.shape}"
            raise nn.WeightsError(f"{weights.path}: param/{name} should have shape {shape}, {got}")
    activation = weights.hyperparams.get("activation", "sigmoid")
    if activation not in ACTIVATION_RANGES:
        raise nn.WeightsError(f"{weights.path}: unknown activation {activation!r}")
    arrays = {"W1": weights.state["0.weight"], "b1": weights.state["0.bias"],
              "W2": weights.state["2.weight"], "b2": weights.state["2.bias"]}
    return arrays, activation


@register
class Mlp1987(PatchCoder):
    """Cottrell, Munro & Zipser's bottleneck network: 64 -> k sigmoid units -> 64, b bits a unit."""

    name = "mlp1987"
    description = "64 -> k -> 64 bottleneck MLP on 8x8 patches (Cottrell et al. 1987, chapter 3)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "k": Parameter(8, int, choices=MLP_K_CHOICES, help="hidden (code) units per patch"),
        "bits": BITS,
    }
    settings = SETTINGS

    def _weights(self, xp):
        arrays, activation = mlp_weights(self.n_codes)
        return {name: xp.asarray(a, dtype=xp.float32) for name, a in arrays.items()}, activation

    def analysis(self, patches):
        xp = array_module(patches)
        w, activation = self._weights(xp)
        pre = (patches / 255.0 - 0.5) @ w["W1"].T + w["b1"]
        if activation == "tanh":
            return xp.tanh(pre)
        return 1.0 / (1.0 + xp.exp(-pre))

    def synthesis(self, codes):
        xp = array_module(codes)
        w, _ = self._weights(xp)
        return (codes @ w["W2"].T + w["b2"] + 0.5) * 255.0

    def code_range(self, kind: int):
        _, activation = mlp_weights(self.n_codes)
        low, high = ACTIVATION_RANGES[activation]
        return np.full(self.n_codes, low), np.full(self.n_codes, high)
