"""``jpeg``: the book's own baseline JPEG, registered beside the other codecs.

Unlike the other from-scratch codecs, this one writes no ``fromscratch`` container: its output is
a complete JFIF file that any image viewer, browser or library opens, and its input (for
``decode``) is any baseline JPEG file, ours or not. The file records everything a decoder needs
(sizes, sampling factors, quantization and Huffman tables, restart interval), but not the
parameters that chose them: ``quality`` is gone once the tables are scaled, and ``optimize`` only
changed the Huffman tables. So ``decode`` ignores the instance's parameters.

``fromscratch.decompress`` finds this codec for JPEG bytes through :meth:`JpegCodec.sniff`, ahead
of the ``pillow-jpeg`` reference codec that reads the same format.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..base import Parameter, _CodecBase, as_image, register
from . import encoder

__all__ = ["JpegCodec"]


@register
class JpegCodec(_CodecBase):
    """Baseline JPEG written and read from scratch (chapter 2); files are plain JFIF."""

    name = "jpeg"
    from_scratch = True
    file_format = "JPEG (JFIF)"
    description = "baseline JPEG from scratch: YCbCr, 8x8 DCT, quantization, Huffman (chapter 2)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(75, int, 1, 100, help="IJG quality 1-100 (scales Annex K tables)"),
        "subsampling": Parameter("4:2:0", str, choices=("4:2:0", "4:2:2", "4:4:4"),
                                 help="chroma subsampling; ignored for gray images"),
        "optimize": Parameter(False, bool, help="Huffman tables fitted to the image (2 passes)"),
        "restart_interval": Parameter(0, int, 0, encoder.MAX_RESTART_INTERVAL,
                                      help="MCUs between RST markers, 0 = none"),
    }
    settings = tuple({"quality": q} for q in (10, 20, 30, 40, 50, 60, 70, 80, 90, 95))

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        """JPEG files start with the SOI marker, FF D8."""
        return bytes(data[:2]) == b"\xff\xd8"

    def encode(self, image) -> bytes:
        """The complete JFIF file for a uint8 (H, W) or (H, W, 3) image."""
        return encoder.encode(as_image(image), **self.params)

    def decode(self, data: bytes) -> np.ndarray:
        """Decode any baseline JPEG file to uint8 (H, W) or (H, W, 3); ``BitstreamError`` if bad."""
        from .decoder import decode  # imported on use: the decoder is a module of its own

        return decode(data)
