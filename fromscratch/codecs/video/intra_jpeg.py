"""``intra-jpeg``: every frame through chapter 2's JPEG, independently (motion JPEG).

The baseline every video codec is measured against: no frame refers to another, so every frame
is an I-frame, any frame can be decoded alone, and the redundancy between frames is left on the
table. Digital camcorders and early video editing used exactly this (Motion JPEG), because
cutting anywhere is free. The payload of each frame is a complete JFIF file.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...bitstream import BitstreamError
from ..base import Parameter, get_codec
from .base import VideoCodec, register_video

__all__ = ["IntraJpegCodec"]


@register_video
class IntraJpegCodec(VideoCodec):
    """Motion JPEG with the book's own JPEG (chapter 2)."""

    name = "intra-jpeg"
    description = "every frame through chapter 2's JPEG (motion JPEG)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(75, int, 1, 100, help="JPEG quality 1-100"),
        "optimize": Parameter(True, bool, help="Huffman tables fitted to each frame"),
    }
    settings = tuple({"quality": q} for q in (10, 20, 30, 50, 70, 85, 95))

    def encode_frames(self, frames: np.ndarray) -> list[tuple[str, bytes]]:
        jpeg = get_codec("jpeg", quality=self.params["quality"], optimize=self.params["optimize"],
                         subsampling="4:2:0")
        return [("I", jpeg.encode(frame)) for frame in frames]

    def decode_frames(self, payloads, types, shape) -> np.ndarray:
        jpeg = get_codec("jpeg")
        out = np.empty(shape, dtype=np.uint8)
        for k, payload in enumerate(payloads):
            frame = jpeg.decode(payload)
            if frame.shape != shape[1:]:
                raise BitstreamError(f"frame {k} decoded to {frame.shape}, expected {shape[1:]}")
            out[k] = frame
        return out
