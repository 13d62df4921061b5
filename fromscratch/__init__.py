"""fromscratch: image compression built by hand, in the order history invented it.

The two calls most people need::

    import fromscratch
    data = fromscratch.compress(image, codec="jpeg")    # uint8 (H, W[, 3]) -> bytes
    image = fromscratch.decompress(data)                # bytes -> uint8 array

``fromscratch.codec_names()`` lists the codecs; the chapters' notebooks (``notebooks/``) build each
one step by step. Every decoder raises :class:`BitstreamError` (a ``ValueError``) for bad data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bitstream import BitstreamError
from .codecs import codec_for_data, codec_names, get_codec

__version__ = "0.1.0"

#: The codec ``compress`` uses when none is named: the book's own baseline JPEG (chapter 2).
DEFAULT_CODEC = "jpeg"

__all__ = [
    "DEFAULT_CODEC",
    "BitstreamError",
    "codec_names",
    "compress",
    "decompress",
    "get_codec",
]


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
