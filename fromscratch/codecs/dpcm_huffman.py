"""``huffman``: lossless image coding with a DPCM predictor and one Huffman code per channel.

The first from-scratch codec of the book, built from chapter 1's pieces::

    image -> DPCM residuals (transforms/dpcm.py) -> Huffman code per channel (entropy/huffman.py)

Coding raw pixels with Huffman gains little: a photograph's histogram is broad, so its entropy is
close to 8 bits. Coding the *prediction errors* instead gains a lot, because they pile up around 0
(left-neighbour or MED prediction, see ``dpcm``). Each channel gets its own code, fitted to its
own residual histogram and stored in its stream.

Payload: for each channel in order (R, G, B, or the single gray plane), a 4-byte big-endian length
followed by that many bytes of a ``huffman.encode`` stream of the channel's H·W residuals. The
predictor is a codec parameter, so it is recorded in the container header.
"""

from __future__ import annotations

import math
import struct
from typing import ClassVar

import numpy as np

from ..bitstream import BitstreamError
from ..entropy import huffman
from ..transforms import dpcm
from .base import ContainerCodec, Parameter, register


@register
class DpcmHuffman(ContainerCodec):
    """Lossless: DPCM residuals (none / left / MED predictor) coded with Huffman per channel."""

    name = "huffman"
    description = "lossless DPCM + Huffman (chapter 1)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "predictor": Parameter("med", str, choices=dpcm.PREDICTORS,
                               help="none (raw pixels), left, or med (LOCO-I)"),
    }
    settings = ({"predictor": "none"}, {"predictor": "left"}, {"predictor": "med"})

    def encode_payload(self, image: np.ndarray) -> bytes:
        res = dpcm.residuals(image, self.params["predictor"])
        planes = [res] if res.ndim == 2 else [res[:, :, k] for k in range(res.shape[2])]
        chunks = []
        for plane in planes:
            stream = huffman.encode(plane.ravel(), alphabet_size=256)
            chunks += [struct.pack(">I", len(stream)), stream]
        return b"".join(chunks)

    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        height, width = shape[:2]
        channels = 1 if len(shape) == 2 else shape[2]
        planes, position = [], 0
        for channel in range(channels):
            if position + 4 > len(payload):
                raise BitstreamError(f"huffman payload truncated before channel {channel}")
            (length,) = struct.unpack(">I", payload[position : position + 4])
            position += 4
            if position + length > len(payload):
                raise BitstreamError(
                    f"channel {channel} announces {length} bytes at payload byte {position}, "
                    f"only {len(payload) - position} left"
                )
            # The decoder never allocates more symbols than the stream's bits could hold.
            symbols = huffman.decode(payload[position : position + length])
            position += length
            if symbols.size != height * width or symbols.dtype != np.uint8:
                raise BitstreamError(
                    f"channel {channel} decoded to {symbols.size} {symbols.dtype} symbols, "
                    f"expected {math.prod((height, width))} bytes"
                )
            planes.append(symbols.reshape(height, width))
        res = planes[0] if channels == 1 else np.stack(planes, axis=-1)
        return dpcm.reconstruct(res, self.params["predictor"])
