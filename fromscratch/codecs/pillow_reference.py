"""Reference codecs through Pillow: the real-world yardsticks, **not** built from scratch.

Every result in the book is measured beside the codecs people actually use, in the same run, on the
same images. These classes call Pillow (libjpeg-turbo, libwebp, OpenJPEG, libavif, zlib) to produce
genuine JPEG, WebP, JPEG 2000, AVIF and PNG files; the bytes returned are the complete files,
headers included, so their bits per pixel are exactly what a file on disk would cost. They carry
``from_scratch = False`` and appear as "(reference)" in tables and plots.

Decoding goes through Pillow too, with the pixel-count limit checked from the file's header before
any pixels are decoded, and every Pillow error turned into a
:class:`~fromscratch.bitstream.BitstreamError`.

``pillow-heif`` (HEVC intra in a HEIF file, through libheif and x265: the still-image cousin of BPG,
which the 2018 hyperprior paper measured itself against) is registered only when the optional
``pillow-heif`` package is installed (the ``bench`` extra); the package never depends on it.
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

try:  # optional: HEVC through libheif, for the benchmarks only
    import pillow_heif
except ImportError:  # pragma: no cover - depends on the environment
    pillow_heif = None

__all__ = ["PillowAvif", "PillowHeif", "PillowJpeg", "PillowJpeg2000", "PillowPng", "PillowWebp"]


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
class PillowAvif(_PillowCodec):
    """AVIF (AV1 intra) through Pillow / libavif (reference); Pillow writes it itself since 11.2.

    Pillow's defaults: 4:2:0 chroma, encoder speed 6. A gray image decodes to (H, W) or, when the
    encoder stored colour, (H, W, 3).
    """

    name = "pillow-avif"
    pillow_format = "AVIF"
    file_format = "AVIF"
    description = "AVIF (AV1 intra) via Pillow/libavif (reference, not from scratch)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(75, int, 0, 100, help="libavif quality 0-100"),
        "speed": Parameter(6, int, 0, 10, help="effort: 0 slowest, best .. 10 fastest"),
        "subsampling": Parameter("4:2:0", str, choices=("4:4:4", "4:2:2", "4:2:0")),
    }
    settings = tuple({"quality": q} for q in (10, 20, 30, 40, 50, 60, 70, 80))

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        return bytes(data[4:12]) in (b"ftypavif", b"ftypavis")


class PillowHeif(_PillowCodec):
    """HEVC intra in a HEIF file through ``pillow-heif`` / libheif / x265 (reference).

    Registered only when ``pillow-heif`` is installed. The chroma default, 4:2:0, is what a phone
    writes; ``chroma="444"`` is closer to the BPG settings of the learned-compression papers.
    """

    name = "pillow-heif"
    pillow_format = "HEIF"
    file_format = "HEIF (HEVC intra)"
    description = "HEVC intra (HEIF) via pillow-heif/libheif/x265 (reference, not from scratch)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(50, int, 0, 100, help="libheif quality 0-100"),
        "chroma": Parameter("420", str, choices=("444", "422", "420")),
    }
    settings = tuple({"quality": q} for q in (10, 20, 30, 40, 50, 60, 70, 80))

    def encode(self, image) -> bytes:
        image = as_image(image)
        buffer = io.BytesIO()
        heif = pillow_heif.from_pillow(Image.fromarray(image))
        heif.save(buffer, quality=self.params["quality"], chroma=self.params["chroma"])
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        if not self.sniff(data):
            raise BitstreamError(f"not a HEIF file (first bytes: {bytes(data[:8]).hex(' ')})")
        try:
            heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
            width, height = heif.size
            if width * height > container.MAX_IMAGE_PIXELS:
                raise BitstreamError(f"HEIF header claims {width} x {height} pixels, over the "
                                     f"limit of {container.MAX_IMAGE_PIXELS}")
            pixels = np.asarray(heif).copy()
        except BitstreamError:
            raise
        except (OSError, ValueError, RuntimeError, MemoryError) as exc:
            raise BitstreamError(f"libheif could not decode the data: {exc}") from None
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            pixels = pixels[:, :, :3]
        return pixels

    @classmethod
    def sniff(cls, data: bytes) -> bool:
        return bytes(data[4:12]) in (b"ftypheic", b"ftypheix", b"ftypmif1")


if pillow_heif is not None:  # pragma: no branch
    register(PillowHeif)


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
