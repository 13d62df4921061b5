"""fromscratch: image compression built by hand, in the order history invented it.

The two calls most people need::

    import fromscratch
    data = fromscratch.compress(image, codec="jpeg")    # uint8 (H, W[, 3]) -> bytes
    image = fromscratch.decompress(data)                # bytes -> uint8 array

Video (chapter 2b) has its own pair, frames a uint8 array (T, H, W[, 3])::

    data = fromscratch.compress_video(frames, codec="mc-dct", quality=50, fps=25)
    frames = fromscratch.decompress_video(data)

``fromscratch.codec_names()`` lists the codecs (``video_codec_names()`` the video codecs);
the chapters' notebooks (``notebooks/``) build each
one step by step. Every decoder raises :class:`BitstreamError` (a ``ValueError``) for bad data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bitstream import BitstreamError
from .codecs import codec_for_data, codec_names, get_codec
from .codecs.video import (
    DEFAULT_FPS,
    get_video_codec,
    read_video_header,
    video_codec_for_data,
    video_codec_names,
)

__version__ = "0.1.0"

#: The codec ``compress`` uses when none is named: the book's own baseline JPEG (chapter 2).
DEFAULT_CODEC = "jpeg"

__all__ = [
    "DEFAULT_CODEC",
    "DEFAULT_VIDEO_CODEC",
    "BitstreamError",
    "codec_names",
    "compress",
    "compress_video",
    "decompress",
    "decompress_video",
    "get_codec",
    "get_video_codec",
    "read_video_header",
    "video_codec_names",
]

#: The video codec ``compress_video`` uses when none is named (chapter 2b).
DEFAULT_VIDEO_CODEC = "mc-dct"


def compress(image: np.ndarray, codec: str = DEFAULT_CODEC, **params: Any) -> bytes:
    """Compress a uint8 image of shape (H, W) or (H, W, 3) with the named codec.

    ``params`` are the codec's keyword parameters (e.g. ``quality=50``); they are recorded in the
    output, so :func:`decompress` needs nothing but the bytes.
    """
    return get_codec(codec, **params).encode(image)


def decompress(data: bytes) -> np.ndarray:
    """Decode bytes written by :func:`compress` (or a file format a registered codec reads).

    Raises :class:`BitstreamError` when the data is malformed, truncated or of an unknown format.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decompress takes bytes, got {type(data).__name__}")
    data = bytes(data)
    return codec_for_data(data).decode(data)


def compress_video(frames: np.ndarray, codec: str = DEFAULT_VIDEO_CODEC, fps: float = DEFAULT_FPS,
                   **params: Any) -> bytes:
    """Compress uint8 frames (T, H, W) or (T, H, W, 3) with the named video codec.

    ``fps`` (a number or ``fractions.Fraction``, e.g. ``Fraction(30000, 1001)``) is recorded in
    the stream; ``params`` are the codec's (``quality``, and for ``mc-dct`` ``gop``, ``search``).
    """
    return get_video_codec(codec, **params).encode(frames, fps=fps)


def decompress_video(data: bytes, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Decode frames ``start`` .. ``stop - 1`` of a stream from :func:`compress_video`.

    Decoding begins at the I-frame at or before ``start`` (found in the frame index). The frame
    rate is in ``read_video_header(data).fps``. Raises :class:`BitstreamError` for bad data.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decompress_video takes bytes, got {type(data).__name__}")
    data = bytes(data)
    return video_codec_for_data(data).decode(data, start=start, stop=stop)
