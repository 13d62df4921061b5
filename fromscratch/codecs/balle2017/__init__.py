"""Chapter 4's learned codec ``balle2017`` (Ballé, Laparra & Simoncelli, ICLR 2017).

A convolutional analysis transform with GDN, a quantised latent coded with a learned factorized
density, and the mirrored synthesis transform, trained end to end for rate + lambda * distortion.

=============  ============================================================================
``model.py``   the network: g_a, g_s, the entropy bottleneck, the rate-distortion loss, each an
               ``nn.Module`` with a hand-written backward (:class:`Balle2017`)
``codec.py``   the trained network as a codec with real bytes: padding, integer CDF tables, the
               range coder, the shipped weights ``data/weights/balle2017_q<1..4>.npz``
``refine.py``  latent refinement: an encoder that searches, per image, for latents with a lower
               loss than the analysis transform's (``refine=``; chapter 6's codec uses it too)
=============  ============================================================================

The layers it is built from live in ``fromscratch.nn`` (``conv``, ``gdn``,
``entropy_bottleneck``); the training script is ``fromscratch.training.balle2017``
(``python -m fromscratch train balle2017``). Public: the names below.
"""

from .codec import Balle2017Codec, available_qualities, load_model, weights_path
from .model import STRIDE, Balle2017, RateDistortionLoss

__all__ = [
    "STRIDE",
    "Balle2017",
    "Balle2017Codec",
    "RateDistortionLoss",
    "available_qualities",
    "load_model",
    "weights_path",
]
