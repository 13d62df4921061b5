"""Reference codecs through Pillow: the real-world yardsticks, **not** built from scratch.

Every result in the book is measured beside the codecs people actually use, in the same run, on the
same images. These classes call Pillow (libjpeg-turbo, libwebp, OpenJPEG, zlib) to produce genuine
JPEG, WebP, JPEG 2000 and PNG files; the bytes returned are the complete files, headers included,
so their bits per pixel are exactly what a file on disk would cost. They carry
``from_scratch = False`` and appear as "(reference)" in tables and plots.

Decoding goes through Pillow too, with the pixel-count limit checked from the file's header before
any pixels are decoded, and every Pillow error turned into a
:class:`~fromscratch.bitstream.BitstreamError`.
"""

from __future__ import annotations

import io
import warnings
from typing import ClassVar

import numpy as np
from PIL import Image

from .. import container
from ..bitstream import BitstreamError
from .base import Parameter, _CodecBase, as_image, register

__all__ = ["PillowJpeg", "PillowJpeg2000", "PillowPng", "PillowWebp"]


class _PillowCodec(_CodecBase):
    from_scratch = False
    pillow_format: ClassVar[str] = ""

    def save_options(self, image: np.ndarray) -> dict:
        """Keyword arguments for ``PIL.Image.save`` when saving ``image``."""
        return dict(self.params)

    def encode(self, image) -> bytes:
        image = as_image(image)
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=self.pillow_format, **self.save_options(image))
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        if not self.sniff(data):
            raise BitstreamError(f"not a {self.pillow_format} file (first bytes: "
                                 f"{bytes(data[:8]).hex(' ') or 'none'})")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=[self.pillow_format]) as im:
                    width, height = im.size
                    if width * height > container.MAX_IMAGE_PIXELS:
                        raise BitstreamError(
                            f"{self.pillow_format} header claims {width} x {height} pixels, over "
                            f"the limit of {container.MAX_IMAGE_PIXELS}"
                        )
                    im.load()
                    if im.mode not in ("L", "RGB"):
                        im = im.convert("RGB")
                    return np.asarray(im).copy()
        except BitstreamError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                Image.DecompressionBombWarning, MemoryError) as exc:
            raise BitstreamError(f"Pillow could not decode the {self.pillow_format} data: "
                                 f"{exc}") from None


@register
class PillowJpeg(_PillowCodec):
    """JPEG through Pillow / libjpeg-turbo (reference)."""

    name = "pillow-jpeg"
    pillow_format = "JPEG"
    file_format = "JPEG (JFIF)"
    description = "JPEG via Pillow/libjpeg-turbo (reference, not from scratch)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(75, int, 1, 100, help="IJG quality 1-100"),
        "subsampling": Parameter("4:2:0", str, choices=("4:4:4", "4:2:2", "4:2:0")),
        "optimize": Parameter(False, bool, help="optimized Huffman tables"),
    }
    settings = tuple({"quality": q} for q in (10, 20, 30, 40, 50, 60, 70, 80, 90, 95))

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        return bytes(data[:3]) == b"\xff\xd8\xff"


@register
class PillowWebp(_PillowCodec):
    """WebP through Pillow / libwebp (reference).

    WebP has no grayscale mode: a gray image is stored as colour and decodes to (H, W, 3).
    """

    name = "pillow-webp"
    pillow_format = "WEBP"
    file_format = "WebP"
    description = "WebP via Pillow/libwebp (reference, not from scratch)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(75, int, 0, 100, help="libwebp quality 0-100"),
        "method": Parameter(4, int, 0, 6, help="effort: 0 fast .. 6 slowest, best"),
        "lossless": Parameter(False, bool),
    }
    settings = tuple({"quality": q} for q in (5, 10, 20, 30, 40, 50, 60, 70, 80, 90))

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        return bytes(data[:4]) == b"RIFF" and bytes(data[8:12]) == b"WEBP"


@register
class PillowJpeg2000(_PillowCodec):
    """JPEG 2000 (a raw J2K codestream) through Pillow / OpenJPEG (reference)."""

    name = "pillow-jpeg2000"
    pillow_format = "JPEG2000"
    file_format = "JPEG 2000 codestream"
    description = "JPEG 2000 via Pillow/OpenJPEG, 9/7 wavelet (reference, not from scratch)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "ratio": Parameter(20.0, float, 1.0, 10000.0, help="target compression ratio"),
    }
    settings = tuple({"ratio": r} for r in (200, 120, 80, 50, 32, 20, 12, 8))

    def save_options(self, image: np.ndarray) -> dict:
        # A bare codestream (no JP2 boxes) with the irreversible 9/7 wavelet and, for colour, the
        # YCbCr transform: the configuration lossy JPEG 2000 results are usually reported with.
        return {
            "no_jp2": True,
            "irreversible": True,
            "mct": 1 if image.ndim == 3 else 0,
            "quality_mode": "rates",
            "quality_layers": [self.params["ratio"]],
        }

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        return bytes(data[:4]) == b"\xff\x4f\xff\x51"


@register
class PillowPng(_PillowCodec):
    """PNG through Pillow / zlib (lossless reference)."""

    name = "pillow-png"
    pillow_format = "PNG"
    file_format = "PNG"
    description = "PNG via Pillow/zlib, lossless (reference, not from scratch)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "compress_level": Parameter(9, int, 0, 9),
    }
    settings = ({},)

    def save_options(self, image: np.ndarray) -> dict:
        return {"compress_level": self.params["compress_level"], "optimize": False}

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        return bytes(data[:8]) == b"\x89PNG\r\n\x1a\n"
