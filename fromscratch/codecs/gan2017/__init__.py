"""Chapter 5's adversarial codec ``gan2017`` (Rippel & Bourdev 2017; HiFiC 2020): work in progress.

The codec is chapter 4's ``balle2017`` network whose synthesis is fine-tuned against an
adversary: the same bytes, other pixels.

======================  ======================================================================
``codec.py``            the codec (:class:`Gan2017Codec`): balle2017's encoder, tables and
                        payload with the fine-tuned synthesis, weights
                        ``data/weights/gan2017_q<quality>.npz``
``discriminator.py``    the conditional patch discriminator (image + quantized latent -> one
                        "looks real" logit per 8x8 block), spectrally normalized, with its
                        backward (:class:`PatchDiscriminator`)
======================  ======================================================================

The layers come from ``fromscratch.nn`` (``conv``, ``spectral_norm``, ``gan_losses``,
``ms_ssim_loss``). Public: the names below.
"""

from .codec import Gan2017Codec
from .discriminator import PatchDiscriminator

__all__ = ["Gan2017Codec", "PatchDiscriminator"]
