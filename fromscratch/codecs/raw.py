"""``raw``: the uncompressed baseline, 8 bits per sample.

The payload is the pixels themselves in row-major order (for RGB: R, G, B of the first pixel, then
the next pixel). It compresses nothing, 24 bits per pixel for colour, and that is its use: it is
the yardstick every other codec's bits per pixel are read against, and the simplest client of the
container, so it exercises the header, the CRC and the decoder's checks on its own.
"""

from __future__ import annotations

import math

import numpy as np

from ..bitstream import BitstreamError
from .base import ContainerCodec, register


@register
class RawCodec(ContainerCodec):
    """Uncompressed pixels in a container (lossless, 8 bits per sample)."""

    name = "raw"
    description = "uncompressed pixels (8 bits per sample)"

    def encode_payload(self, image: np.ndarray) -> bytes:
        return image.tobytes()

    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        expected = math.prod(shape)
        if len(payload) != expected:
            raise BitstreamError(
                f"raw payload holds {len(payload)} bytes, the image needs {expected}"
            )
        return np.frombuffer(payload, dtype=np.uint8).reshape(shape).copy()
