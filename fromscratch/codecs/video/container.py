"""The video container: a header, a frame index, the frames' payloads and a CRC-32.

An image container (``fromscratch.container``) wraps one payload; a video needs one payload per
frame and a way to find each without decoding the ones before it: a *frame index*, as MP4's
sample tables or AVI's ``idx1`` chunk. A player seeking to second 3 looks up the I-frame at or
before it and starts decoding there; P-frames before that I-frame are never read.

Layout (big-endian)::

    offset  size    field
    0       4       magic              b"\\x89FSV"
    4       1       format version     1
    5       1       n                  codec name length, 1..32
    6       n       codec name         ASCII, e.g. b"mc-dct"
    .       4+4+1   height, width, channels (1 or 3)
    .       4       frame count T      1 .. MAX_FRAMES
    .       4+4     frame rate         numerator, denominator (e.g. 30000/1001)
    .       2       p                  parameter block length, 0..4096
    .       p       parameters         UTF-8 JSON object of scalars
    .       9 T     frame index        per frame: type (1 byte, b"I" or b"P"), offset, length
                                       (offsets from the first payload byte, in order, no gaps)
    .       sum     payloads
    .       4       CRC-32             of every byte before it

Sizes are checked as the header is read, before anything is allocated: a frame over
``container.MAX_IMAGE_PIXELS``, more than :data:`MAX_FRAMES` frames, or a decoded video of more than
:data:`MAX_VIDEO_BYTES` bytes is refused, and the index must fit in the bytes that follow.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from fractions import Fraction

from ...bitstream import BitstreamError
from ...container import MAX_IMAGE_PIXELS, crc32

__all__ = [
    "MAGIC",
    "MAX_FRAMES",
    "MAX_VIDEO_BYTES",
    "VideoHeader",
    "is_video",
    "pack_video",
    "read_video_header",
    "unpack_video",
]

MAGIC = b"\x89FSV"
FORMAT_VERSION = 1
#: Most frames a stream may hold (about an hour at 30 frames/s).
MAX_FRAMES = 1 << 17
#: Largest decoded video (T * H * W * C bytes) a decoder will allocate: 4 GiB.
MAX_VIDEO_BYTES = 1 << 32
MAX_PARAMS_BYTES = 4096
_FIXED = struct.Struct(">IIBIIIH")
_ENTRY = struct.Struct(">cII")


@dataclass(frozen=True)
class VideoHeader:
    """What the container says about the frames (see the module docstring)."""

    codec: str
    height: int
    width: int
    channels: int
    n_frames: int
    fps: Fraction
    params: dict
    frame_types: tuple[str, ...]
    offsets: tuple[int, ...]
    lengths: tuple[int, ...]
    payload_offset: int

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the decoded frames array: (T, H, W) or (T, H, W, 3)."""
        frame = (self.height, self.width) if self.channels == 1 else (self.height, self.width, 3)
        return (self.n_frames, *frame)

    def key_frame_before(self, index: int) -> int:
        """The last I-frame at or before frame ``index`` (where decoding must start)."""
        for k in range(index, -1, -1):
            if self.frame_types[k] == "I":
                return k
        raise BitstreamError(f"no I-frame before frame {index}: the stream cannot be decoded")


def check_video_shape(n_frames: int, height: int, width: int, channels: int) -> None:
    """ValueError unless the sizes are within the limits above."""
    if channels not in (1, 3):
        raise ValueError(f"frames have 1 or 3 channels, got {channels}")
    if not 1 <= n_frames <= MAX_FRAMES:
        raise ValueError(f"frame count must be 1..{MAX_FRAMES}, got {n_frames}")
    if not (height >= 1 and width >= 1 and height * width <= MAX_IMAGE_PIXELS):
        raise ValueError(f"frame size {height} x {width} is outside 1..{MAX_IMAGE_PIXELS} pixels")
    if n_frames * height * width * channels > MAX_VIDEO_BYTES:
        raise ValueError(
            f"{n_frames} frames of {height} x {width} x {channels} exceed {MAX_VIDEO_BYTES} bytes"
        )


def pack_video(codec: str, shape: tuple[int, ...], fps: Fraction, params: dict,
               frames: list[tuple[str, bytes]]) -> bytes:
    """Write the container for ``frames``: a list of (type ``"I"``/``"P"``, payload) pairs."""
    name = codec.encode("ascii")
    n_frames, height, width = shape[:3]
    channels = 1 if len(shape) == 3 else shape[3]
    check_video_shape(n_frames, height, width, channels)
    if len(frames) != n_frames:
        raise ValueError(f"{len(frames)} payloads for {n_frames} frames")
    fps = Fraction(fps).limit_denominator(1 << 16)
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    raw_params = json.dumps(params, sort_keys=True, separators=(",", ":")).encode()
    if len(raw_params) > MAX_PARAMS_BYTES:
        raise ValueError("codec parameters too long")
    parts = [MAGIC, struct.pack(">BB", FORMAT_VERSION, len(name)), name,
             _FIXED.pack(height, width, channels, n_frames, fps.numerator, fps.denominator,
                         len(raw_params)), raw_params]
    offset = 0
    for kind, payload in frames:
        parts.append(_ENTRY.pack(kind.encode("ascii"), offset, len(payload)))
        offset += len(payload)
    if offset >= 1 << 32:
        raise ValueError("video payload larger than 4 GiB")
    parts += [payload for _, payload in frames]
    body = b"".join(parts)
    return body + struct.pack(">I", crc32(body))


def is_video(data: bytes) -> bool:
    """True when ``data`` starts with the video container's magic bytes."""
    return bytes(data[: len(MAGIC)]) == MAGIC


def read_video_header(data: bytes) -> VideoHeader:
    """Parse and validate the header and frame index (no CRC check, no payload read)."""
    data = bytes(data)
    if data[:4] != MAGIC:
        raise BitstreamError("not a fromscratch video (bad magic bytes at byte 0)")
    if len(data) < 6:
        raise BitstreamError("truncated video header at byte 4")
    version, name_length = data[4], data[5]
    if version != FORMAT_VERSION:
        raise BitstreamError(f"unsupported video container version {version}")
    if not 1 <= name_length <= 32:
        raise BitstreamError(f"codec name length {name_length} at byte 5 is out of range")
    pos = 6 + name_length
    if pos + _FIXED.size > len(data):
        raise BitstreamError(f"truncated video header at byte {len(data)}")
    raw_name = data[6:pos]
    if not all(0x21 <= b < 0x7F for b in raw_name):
        raise BitstreamError("codec name at byte 6 is not printable ASCII")
    height, width, channels, n_frames, num, den, p = _FIXED.unpack_from(data, pos)
    try:
        check_video_shape(n_frames, height, width, channels)
    except ValueError as exc:
        raise BitstreamError(f"refusing header at byte {pos}: {exc}") from None
    if num == 0 or den == 0:
        raise BitstreamError(f"invalid frame rate {num}/{den} at byte {pos + 13}")
    pos += _FIXED.size
    if p > MAX_PARAMS_BYTES or pos + p + _ENTRY.size * n_frames + 4 > len(data):
        raise BitstreamError(
            f"truncated video: parameters and a {n_frames}-frame index do not fit at byte {pos}")
    try:
        params = json.loads(data[pos : pos + p].decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BitstreamError(f"unreadable parameters at byte {pos}: {exc}") from None
    if not isinstance(params, dict) or not all(
            isinstance(v, (bool, int, float, str)) for v in params.values()):
        raise BitstreamError(f"parameters at byte {pos} are not an object of scalars")
    pos += p
    types, offsets, lengths = [], [], []
    expected = 0
    for k in range(n_frames):
        kind, offset, length = _ENTRY.unpack_from(data, pos + k * _ENTRY.size)
        if kind not in (b"I", b"P") or offset != expected:
            raise BitstreamError(f"frame index entry {k} (byte {pos + k * _ENTRY.size}) is corrupt")
        types.append(kind.decode())
        offsets.append(offset)
        lengths.append(length)
        expected += length
    payload_offset = pos + _ENTRY.size * n_frames
    if payload_offset + expected + 4 > len(data):
        raise BitstreamError(
            f"truncated video: the index announces {expected} payload bytes at byte "
            f"{payload_offset}, {len(data) - payload_offset - 4} are there")
    if types[0] != "I":
        raise BitstreamError("the first frame of a stream must be an I-frame")
    return VideoHeader(raw_name.decode(), height, width, channels, n_frames, Fraction(num, den),
                       params, tuple(types), tuple(offsets), tuple(lengths), payload_offset)


def unpack_video(data: bytes) -> tuple[VideoHeader, list[bytes]]:
    """Header and the list of frame payloads, after checking the CRC-32."""
    data = bytes(data)
    header = read_video_header(data)
    end = header.payload_offset + sum(header.lengths)
    (stored,) = struct.unpack(">I", data[end : end + 4])
    if crc32(memoryview(data)[:end]) != stored:
        raise BitstreamError(f"CRC-32 mismatch at byte {end}: the video data was damaged")
    base = header.payload_offset
    payloads = [data[base + o : base + o + n] for o, n in
                zip(header.offsets, header.lengths, strict=True)]
    return header, payloads
