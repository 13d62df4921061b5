"""``gan2017``: ``balle2017``'s bitstream decoded by an adversarially fine-tuned synthesis.

The first ``gan2017`` models are the shipped ``balle2017`` networks whose synthesis transform
``g_s`` was retrained against the conditional patch discriminator
(``python -m fromscratch train gan2017``); the analysis transform, the medians and the integer
CDF tables are copied unchanged from the source file (named in the weight file's ``source``), so
the encoder writes exactly the bytes its source model writes, and only the pixels the decoder
paints differ. Qualities are numbered by rate, lowest first, like every codec's: ``gan2017`` q2
decodes ``balle2017`` q1's bytes, and q1 comes from a lower-rate source trained for it. The
payload layout, padding, gray handling, size cap and bitstream checks are ``balle2017``'s (the
class derives from it); the weight files are ``data/weights/gan2017_q<quality>.npz`` and hold
everything decoding needs (the discriminator is not shipped: it is needed only to train).
"""

from __future__ import annotations

from typing import ClassVar

from ..balle2017.codec import Balle2017Codec, available_qualities
from ..base import Parameter, register

__all__ = ["Gan2017Codec"]


@register
class Gan2017Codec(Balle2017Codec):
    """balle2017's encoder and bytes; a synthesis fine-tuned with an adversary (chapter 5)."""

    name = "gan2017"
    description = "balle2017 bytes, GAN-fine-tuned decoder (Rippel & Bourdev 2017, HiFiC 2020)"
    # no ``refine``: it would search for latents by the MSE of the adversarial synthesis, and the
    # encoder writes its source model's bytes (module docstring)
    parameters: ClassVar[dict[str, Parameter]] = {"quality": Balle2017Codec.parameters["quality"]}
    settings = tuple({"quality": q} for q in available_qualities("gan2017"))
