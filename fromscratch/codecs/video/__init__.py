"""Video codecs (chapter 2b): frames in, one container of bytes out.

The family's map:

* ``base`` — :class:`VideoCodec` (parameters, container in/out, decoding from any I-frame) and the
  video registry: :func:`get_video_codec`, :func:`video_codec_names`,
  :func:`video_codec_for_data`. Video codecs are not image codecs: they have their own registry.
* ``container`` — the video container: header, frame rate, frame index (type, offset, length per
  frame), payloads, CRC-32; absurd sizes are refused before anything is allocated.
* ``intra_jpeg`` — ``intra-jpeg``: every frame through chapter 2's JPEG (motion JPEG), the
  baseline.
* ``mc_dct`` — ``mc-dct``: I/P frames, half-pel block motion compensation
  (``fromscratch.transforms.motion``), DCT residuals with a flat inter matrix, closed loop.
* ``symbols`` — the syntax elements of ``mc-dct`` and their context-adaptive range-coder models.
* ``y4m`` — reading and writing YUV4MPEG2 (``.y4m``) files, the plain format every video tool
  speaks (used by the CLI and for interoperability tests with ffmpeg); :func:`read_frames` reads
  a ``.y4m`` file or a folder of PNG frames.

Public: the names in ``__all__`` below; ``fromscratch.compress_video`` / ``decompress_video`` are
the two calls most people need.
"""

from __future__ import annotations

from . import intra_jpeg, mc_dct  # noqa: F401  (register the codecs)
from .base import (
    DEFAULT_FPS,
    VideoCodec,
    as_video,
    get_video_codec,
    register_video,
    video_codec_for_data,
    video_codec_names,
)
from .container import VideoHeader, read_video_header
from .y4m import read_frames, read_y4m, write_y4m

__all__ = [
    "DEFAULT_FPS",
    "VideoCodec",
    "VideoHeader",
    "as_video",
    "get_video_codec",
    "read_frames",
    "read_video_header",
    "read_y4m",
    "register_video",
    "video_codec_for_data",
    "video_codec_names",
    "write_y4m",
]
