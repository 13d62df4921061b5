"""The container: a small self-describing wrapper around every codec's payload.

A compressed image is more than its entropy-coded bits. The decoder must also learn *which* codec
wrote them, the image's shape, and the settings the encoder used, and it should notice when the
bytes were damaged on the way. Real formats solve this with a header (PNG's IHDR chunk, JPEG's SOF
marker) and a checksum (PNG's CRC-32). Every from-scratch codec in this package shares the one below
(JPEG writes real JFIF files instead, so that other software can open them).

Layout (all integers big-endian, "network order")::

    offset   size  field
    0        4     magic            b"\\x89FSC"  (the high bit catches 7-bit channels, as in PNG)
    4        1     format version   1
    5        1     n                length of the codec name, 1..32
    6        n     codec name       ASCII, e.g. b"raw", b"mlp-predictive"
    6+n      4     height           1 .. 2**31 - 1
    10+n     4     width            1 .. 2**31 - 1
    14+n     1     channels         1 (gray) or 3 (RGB)
    15+n     2     p                length of the parameters, 0..4096
    17+n     p     parameters       UTF-8 JSON object of scalars, e.g. {"quality":75}
    17+n+p   4     L                payload length
    21+n+p   L     payload          whatever the codec wrote
    21+n+p+L 4     CRC-32           of every byte before it (header and payload)

Bytes after the CRC are ignored (a stream may be embedded in something larger). The pixel count
is checked against :data:`MAX_IMAGE_PIXELS` while the header is read, before anything is
allocated: a 30-byte file claiming 100000 x 100000 pixels is refused at once instead of asking for
30 GB.

The CRC-32 is the one of PNG, zip and Ethernet (polynomial 0xEDB88320 in its reflected form). It
is built here from scratch, twice: :func:`crc32_reference` processes one byte at a time with a
256-entry table, and :func:`crc32` runs the same loop as a Numba kernel.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np
from numba import njit

from .bitstream import BitstreamError

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_IMAGE_PIXELS",
    "ContainerHeader",
    "crc32",
    "crc32_reference",
    "is_container",
    "pack",
    "read_header",
    "unpack",
]

MAGIC = b"\x89FSC"
FORMAT_VERSION = 1
#: Largest image (in pixels) that is written or read: Pillow's default limit, ~89.5 million.
MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3
MAX_CODEC_NAME = 32
MAX_PARAMS_BYTES = 4096
_MAX_SIDE = 2**31 - 1


# --------------------------------------------------------------------------------------------
# CRC-32
# --------------------------------------------------------------------------------------------
def _crc_table() -> np.ndarray:
    """The 256 remainders of each byte value divided by the reflected CRC-32 polynomial."""
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        remainder = byte
        for _ in range(8):
            remainder = (remainder >> 1) ^ (0xEDB88320 if remainder & 1 else 0)
        table[byte] = remainder
    return table


_CRC_TABLE = _crc_table()


def crc32_reference(data: bytes) -> int:
    """CRC-32 one byte at a time in plain Python: the readable twin of :func:`crc32`."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE.tolist()
    for byte in bytes(data):
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


@njit(cache=True)
def _crc32_kernel(data, table):  # pragma: no cover - compiled
    crc = np.uint32(0xFFFFFFFF)
    for i in range(data.shape[0]):
        crc = (crc >> np.uint32(8)) ^ table[(crc ^ data[i]) & np.uint32(0xFF)]
    return crc ^ np.uint32(0xFFFFFFFF)


def crc32(data: bytes | bytearray | memoryview) -> int:
    """CRC-32 of ``data`` (same value as ``binascii.crc32``), computed by a Numba kernel."""
    array = np.frombuffer(data, dtype=np.uint8)
    return int(_crc32_kernel(array, _CRC_TABLE))


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerHeader:
    """What the container says about its payload (see the module docstring for the layout)."""

    codec: str
    version: int
    height: int
    width: int
    channels: int
    params: dict
    payload_offset: int
    payload_length: int

    @property
    def shape(self) -> tuple[int, ...]:
        """The decoded image's shape: (H, W) for gray, (H, W, 3) for RGB."""
        if self.channels == 1:
            return (self.height, self.width)
        return (self.height, self.width, self.channels)

    @property
    def total_length(self) -> int:
        """Bytes from the magic to the end of the CRC."""
        return self.payload_offset + self.payload_length + 4


def _check_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) == 2:
        height, width, channels = shape[0], shape[1], 1
    elif len(shape) == 3:
        height, width, channels = shape
    else:
        raise ValueError(f"image shape must be (H, W) or (H, W, C), got {shape}")
    if channels not in (1, 3):
        raise ValueError(f"images have 1 or 3 channels, got {channels}")
    if not (1 <= height <= _MAX_SIDE and 1 <= width <= _MAX_SIDE):
        raise ValueError(f"image sides must be 1..{_MAX_SIDE}, got {height} x {width}")
    if height * width > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"image of {height} x {width} = {height * width} pixels exceeds the limit of "
            f"{MAX_IMAGE_PIXELS} (fromscratch.container.MAX_IMAGE_PIXELS)"
        )
    return int(height), int(width), int(channels)


def _encode_params(params: dict) -> bytes:
    for key, value in params.items():
        if not isinstance(key, str) or not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"codec parameters must map names to scalars, got {key!r}: {value!r}")
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    raw = text.encode("utf-8")
    if len(raw) > MAX_PARAMS_BYTES:
        raise ValueError(f"codec parameters take {len(raw)} bytes, more than {MAX_PARAMS_BYTES}")
    return raw


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a valid parameter value")


def _decode_params(raw: bytes, offset: int) -> dict:
    try:
        params = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BitstreamError(f"unreadable codec parameters at byte {offset}: {exc}") from None
    if not isinstance(params, dict) or not all(
        isinstance(v, (bool, int, float, str)) for v in params.values()
    ):
        raise BitstreamError(f"codec parameters at byte {offset} are not an object of scalars")
    return params


def pack(codec: str, shape: tuple[int, ...], params: dict, payload: bytes) -> bytes:
    """Wrap ``payload`` in a container.

    Parameters
    ----------
    codec : str
        Registered codec name (ASCII, at most 32 characters).
    shape : tuple
        Shape of the encoded image, (H, W) or (H, W, 3).
    params : dict
        The codec's parameters (scalars only), stored so that decoding needs nothing but the bytes.
    payload : bytes
        The codec's compressed data (at most 2**32 - 1 bytes).
    """
    name = codec.encode("ascii")
    if not 1 <= len(name) <= MAX_CODEC_NAME:
        raise ValueError(f"codec name must be 1..{MAX_CODEC_NAME} ASCII characters: {codec!r}")
    height, width, channels = _check_shape(tuple(shape))
    raw_params = _encode_params(params)
    if len(payload) >= 2**32:
        raise ValueError("payload larger than 4 GiB")
    head = b"".join(
        [
            MAGIC,
            struct.pack(">BB", FORMAT_VERSION, len(name)),
            name,
            struct.pack(">IIBH", height, width, channels, len(raw_params)),
            raw_params,
            struct.pack(">I", len(payload)),
        ]
    )
    body = head + bytes(payload)
    return body + struct.pack(">I", crc32(body))


def is_container(data: bytes) -> bool:
    """True when ``data`` starts with the container's magic bytes."""
    return bytes(data[: len(MAGIC)]) == MAGIC


class _Cursor:
    """Reads big-endian fields from a byte string, refusing to run past its end."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise BitstreamError(
                f"truncated container: {what} needs {n} bytes at byte {self.pos}, "
                f"only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def read_header(data: bytes) -> ContainerHeader:
    """Parse and validate the header (without checking the CRC or reading the payload)."""
    data = bytes(data) if not isinstance(data, bytes) else data
    cursor = _Cursor(data)
    if cursor.take(len(MAGIC), "magic") != MAGIC:
        raise BitstreamError("not a fromscratch container (bad magic bytes at byte 0)")
    version, name_length = cursor.unpack(">BB", "version")
    if version != FORMAT_VERSION:
        raise BitstreamError(
            f"unsupported container version {version} (this reads {FORMAT_VERSION})"
        )
    if not 1 <= name_length <= MAX_CODEC_NAME:
        raise BitstreamError(f"codec name length {name_length} at byte 5 is out of range")
    raw_name = cursor.take(name_length, "codec name")
    if not all(0x21 <= b < 0x7F for b in raw_name):
        raise BitstreamError("codec name at byte 6 is not printable ASCII")
    height, width, channels, params_length = cursor.unpack(">IIBH", "image shape")
    shape = (height, width) if channels == 1 else (height, width, channels)
    try:
        _check_shape(shape)
    except ValueError as exc:
        raise BitstreamError(f"refusing header: {exc}") from None
    if params_length > MAX_PARAMS_BYTES:
        raise BitstreamError(f"parameter block of {params_length} bytes exceeds {MAX_PARAMS_BYTES}")
    params_offset = cursor.pos
    params = _decode_params(cursor.take(params_length, "parameters"), params_offset)
    (payload_length,) = cursor.unpack(">I", "payload length")
    if cursor.pos + payload_length + 4 > len(data):
        raise BitstreamError(
            f"truncated container: header announces {payload_length} payload bytes + 4 CRC bytes "
            f"at byte {cursor.pos}, but only {len(data) - cursor.pos} bytes follow"
        )
    return ContainerHeader(
        codec=raw_name.decode("ascii"),
        version=version,
        height=height,
        width=width,
        channels=channels,
        params=params,
        payload_offset=cursor.pos,
        payload_length=payload_length,
    )


def unpack(data: bytes) -> tuple[ContainerHeader, bytes]:
    """Parse the header, verify the CRC-32 and return ``(header, payload)``.

    Raises :class:`~fromscratch.bitstream.BitstreamError` for anything malformed: wrong magic,
    unknown version, shapes over the pixel limit, truncation, or a CRC mismatch.
    """
    data = bytes(data) if not isinstance(data, bytes) else data
    header = read_header(data)
    end = header.payload_offset + header.payload_length
    (stored,) = struct.unpack(">I", data[end : end + 4])
    computed = crc32(memoryview(data)[:end])
    if stored != computed:
        raise BitstreamError(
            f"CRC-32 mismatch at byte {end}: stored {stored:08x}, computed {computed:08x} "
            "(the data was damaged)"
        )
    return header, data[header.payload_offset : end]
