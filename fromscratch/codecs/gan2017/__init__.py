"""Chapter 5's adversarial codec ``gan2017`` (Rippel & Bourdev 2017; HiFiC 2020).

The codec is chapter 4's ``balle2017`` network whose synthesis is fine-tuned against an
adversary: the same bytes, other pixels. What ships: the models
``data/weights/gan2017_q<quality>.npz`` (qualities numbered by rate, lowest first; each names
the ``balle2017`` model whose encoder, tables and bytes it keeps, and the commands that trained
it) and the ablations ``gan2017_ablation_q<quality>.npz`` (the same fine-tuning without the
adversary, ``--beta 0``), which code through ``Gan2017Codec.from_weights(path)``. The
discriminator is needed only to train (``python -m fromscratch train gan2017``) and is not
shipped. Notebook ``05_gan_2017`` builds and measures it; ``benchmarks/gan2017_bench.py``
measures it on Kodak beside its ablation, ``balle2017``, JPEG, JPEG 2000, WebP and HEVC.

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
