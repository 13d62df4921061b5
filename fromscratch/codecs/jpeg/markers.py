"""Writing a JPEG file's marker segments: the headers around the entropy-coded data.

A JPEG file is a sequence of *markers*: the byte ``0xFF`` followed by a code byte. Most markers
start a *segment*: after the code come a 2-byte big-endian length (which counts itself but not the
marker) and that many bytes of parameters. A baseline file written by this package reads::

    SOI                  FF D8   start of image (no segment)
    APP0 "JFIF"          FF E0   JFIF 1.01: these are YCbCr (or gray) samples, square pixels
    DQT  (per table)     FF DB   the 64 quantization steps of one table, in zigzag order
    SOF0                 FF C0   baseline frame: precision, height, width, and per component
                                 its id, sampling factors H x V and quantization table
    DHT  (per table)     FF C4   one Huffman table as (bits, values): counts per length 1..16,
                                 then the symbols in code order (Annex C builds the codes)
    DRI  (optional)      FF DD   restart interval in MCUs
    SOS                  FF DA   start of scan: which components, which Huffman tables, then
      entropy-coded data         ... the bits of every block, RSTn markers FF D0..D7 between
                                 restart intervals
    EOI                  FF D9   end of image

Inside the entropy-coded data a ``0xFF`` byte must be followed by ``0x00`` ("byte stuffing"),
so that a decoder scanning for markers never mistakes data for one; that is the entropy coder's job
(``entropy_coding``). This module only writes the segments, in the order libjpeg writes them
(one DQT and one DHT segment per table), and knows nothing about pixels.

It also holds what the headers describe: the frame's components with their sampling factors
(:func:`frame_components`), and the Huffman tables that ``optimize`` fits to an image
(:func:`optimal_huffman_table`). Those are chapter 1's length-limited Huffman codes with one
twist of the format: no code word may consist of 1-bits only, because the 1-bits that pad the data
to a whole byte before a marker must never read as a symbol. So a *pseudo-symbol* 256 joins the
real ones with a weight below every real count: it takes one of the longest codes, canonical
numbering (by length, then value) gives it the all-ones word, and that word is left unused.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...entropy import huffman
from .tables import ZIGZAG

__all__ = [
    "APP0",
    "DHT",
    "DQT",
    "DRI",
    "EOI",
    "RST0",
    "SOF0",
    "SOI",
    "SOS",
    "SUBSAMPLINGS",
    "Component",
    "app0_jfif",
    "define_huffman_table",
    "define_quantization_table",
    "define_restart_interval",
    "frame_components",
    "headers",
    "marker",
    "optimal_huffman_table",
    "restart_marker",
    "segment",
    "start_of_frame",
    "start_of_scan",
]

# marker codes (the byte after 0xFF), T.81 Table B.1
SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
SOF0, DHT, DQT, DRI = 0xC0, 0xC4, 0xDB, 0xDD
APP0 = 0xE0
RST0 = 0xD0  # RST0..RST7 are 0xD0..0xD7, used in turn

MAX_SEGMENT_PAYLOAD = 0xFFFF - 2  # the length field counts its own two bytes
#: Luma sampling factors (h, v) per subsampling mode; chroma is always (1, 1).
SUBSAMPLINGS = {"4:4:4": (1, 1), "4:2:2": (2, 1), "4:2:0": (2, 2)}
MAX_HUFFMAN_CODE_LENGTH = 16
#: Real symbol counts are multiplied by this before the pseudo-symbol (weight 1) joins them: the
#: pseudo-symbol then costs less than one bit of real data (its code is at most 16 bits long), so
#: the real symbols' total length is minimised first. libjpeg gives it count 1 unscaled, which can
#: occasionally cost a real bit.
_RESERVE_SCALE = 2 * MAX_HUFFMAN_CODE_LENGTH


@dataclass(frozen=True)
class Component:
    """One colour component of the frame, as SOF0 and SOS describe it.

    Attributes
    ----------
    identifier : int
        Component id written in SOF0/SOS (1 = Y or gray, 2 = Cb, 3 = Cr, as libjpeg numbers them).
    h, v : int
        Sampling factors: blocks per MCU horizontally and vertically.
    table_id : int
        Quantization and Huffman table slot: 0 for luma, 1 for chroma.
    """

    identifier: int
    h: int
    v: int
    table_id: int


def frame_components(n_channels: int, subsampling: str = "4:2:0") -> list[Component]:
    """The components of a gray (1 channel) or colour (3 channels) frame."""
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling must be one of {list(SUBSAMPLINGS)}, got {subsampling!r}")
    if n_channels == 1:
        return [Component(1, 1, 1, 0)]
    h, v = SUBSAMPLINGS[subsampling]
    return [Component(1, h, v, 0), Component(2, 1, 1, 1), Component(3, 1, 1, 1)]


def optimal_huffman_table(counts) -> tuple[np.ndarray, np.ndarray]:
    """The best JPEG Huffman table for symbol ``counts``, as (bits[16], values).

    Code lengths come from ``huffman.code_lengths`` (package-merge when 16 bits do not suffice)
    over the counts plus the reserved pseudo-symbol 256 (see the module docstring); ``values``
    lists the used symbols by code length, then by value, the canonical order in which Annex C
    numbers the codes.

    Parameters
    ----------
    counts : array_like of int, shape (256,)
        How often each symbol occurs; at least one must be positive.
    """
    counts = np.asarray(counts, dtype=np.int64)
    weights = np.append(counts * _RESERVE_SCALE, 1)
    lengths = huffman.code_lengths(weights, max_length=MAX_HUFFMAN_CODE_LENGTH).astype(np.int64)
    # the lightest symbol is never shorter than another; as the largest value it is numbered last
    assert lengths[256] == lengths.max(), "the reserved code is not a longest one"
    used = np.flatnonzero(lengths[:256])
    values = used[np.lexsort((used, lengths[used]))]
    bits = np.bincount(lengths[values], minlength=MAX_HUFFMAN_CODE_LENGTH + 1)[1:]
    return bits, values


def marker(code: int) -> bytes:
    """A bare marker (no segment): ``0xFF`` then ``code``."""
    return bytes((0xFF, code))


def segment(code: int, payload: bytes) -> bytes:
    """Marker ``code`` followed by its segment: 2-byte length (payload + 2), then ``payload``."""
    if len(payload) > MAX_SEGMENT_PAYLOAD:
        raise ValueError(f"segment payload of {len(payload)} bytes exceeds {MAX_SEGMENT_PAYLOAD}")
    return marker(code) + struct.pack(">H", len(payload) + 2) + payload


def restart_marker(index: int) -> bytes:
    """RSTn for the ``index``-th restart (0-based): n = index mod 8, cycling D0..D7."""
    return marker(RST0 + index % 8)


def app0_jfif() -> bytes:
    """APP0 JFIF 1.01 segment: density 1:1 with no unit (square pixels), no thumbnail.

    JFIF (1992) is what tells a decoder that three components are YCbCr in the full-range
    BT.601 form of ``transforms.colour``; the JPEG standard itself leaves colour unspecified.
    """
    version, density_unit, x_density, y_density, thumb_width, thumb_height = (
        (1, 1), 0, 1, 1, 0, 0)
    return segment(APP0, b"JFIF\0" + struct.pack(
        ">BBBHHBB", *version, density_unit, x_density, y_density, thumb_width, thumb_height))


def define_quantization_table(table_id: int, table: np.ndarray) -> bytes:
    """DQT segment for one 8-bit table.

    Parameters
    ----------
    table_id : int
        Destination slot 0..3 (Tq); precision 0 = 8-bit entries (Pq), as baseline requires.
    table : array_like of int, shape (8, 8) or (64,)
        Quantization steps in *raster* order, each in 1..255; they are written in zigzag order.
    """
    steps = np.asarray(table).reshape(64)
    if not 0 <= table_id <= 3:
        raise ValueError(f"quantization table id must be in 0..3, got {table_id}")
    if steps.min() < 1 or steps.max() > 255:
        raise ValueError("baseline quantization steps must be in 1..255")
    return segment(DQT, bytes((table_id,)) + steps[ZIGZAG].astype(np.uint8).tobytes())


def start_of_frame(height: int, width: int,
                   components: Sequence[tuple[int, int, int, int]]) -> bytes:
    """SOF0 (baseline DCT) segment.

    Parameters
    ----------
    height, width : int
        Image size in pixels, 1..65535 each.
    components : sequence of (id, h, v, quant_table_id)
        One entry per component, in the order their blocks appear in an MCU; ``h`` and ``v``
        are the sampling factors 1..4 (the luma of 4:2:0 is (2, 2), its chroma (1, 1)).
    """
    if not (1 <= height <= 0xFFFF and 1 <= width <= 0xFFFF):
        raise ValueError(f"JPEG sizes are 1..65535, got {height} x {width}")
    precision = 8
    payload = struct.pack(">BHHB", precision, height, width, len(components))
    for identifier, h, v, quant_table_id in components:
        payload += bytes((identifier, (h << 4) | v, quant_table_id))
    return segment(SOF0, payload)


def define_huffman_table(table_class: int, table_id: int, bits, values) -> bytes:
    """DHT segment for one table.

    Parameters
    ----------
    table_class : int
        0 for a DC table (symbols are sizes 0..11), 1 for AC (symbols are run << 4 | size).
    table_id : int
        Destination slot 0..1 in baseline.
    bits : array_like of int, shape (16,)
        ``bits[L - 1]`` = number of codes of length L.
    values : array_like of int, shape (sum(bits),)
        The symbols in code order.
    """
    bits = np.asarray(bits)
    values = np.asarray(values)
    if bits.shape != (16,) or int(bits.sum()) != values.size or values.size > 256:
        raise ValueError(f"bad Huffman table: bits {bits.shape} summing to {bits.sum()}, "
                         f"{values.size} values")
    header = bytes(((table_class << 4) | table_id,))
    return segment(DHT, header + bits.astype(np.uint8).tobytes()
                   + values.astype(np.uint8).tobytes())


def define_restart_interval(restart_interval: int) -> bytes:
    """DRI segment: an RSTn marker follows every ``restart_interval`` MCUs (1..65535)."""
    return segment(DRI, struct.pack(">H", restart_interval))


def start_of_scan(components: Sequence[tuple[int, int, int]]) -> bytes:
    """SOS segment of a sequential scan.

    Parameters
    ----------
    components : sequence of (id, dc_table_id, ac_table_id)
        The scan's components in MCU order.

    Notes
    -----
    The last three bytes are fixed for baseline: spectral selection 0..63 (every coefficient
    of the zigzag) and successive approximation 0 (all bits at once); progressive JPEG varies
    them.
    """
    payload = bytes((len(components),))
    for identifier, dc_table_id, ac_table_id in components:
        payload += bytes((identifier, (dc_table_id << 4) | ac_table_id))
    return segment(SOS, payload + bytes((0, 63, 0)))


def headers(height: int, width: int, components: Sequence[Component],
            quant_tables: Sequence[np.ndarray], huffman_tables: Sequence[tuple],
            restart_interval: int = 0) -> bytes:
    """Everything before the entropy-coded data: SOI, APP0, DQT..., SOF0, DHT..., [DRI], SOS.

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    components : sequence of Component
        In MCU order; each ``table_id`` picks the component's quantization table and both its
        Huffman tables.
    quant_tables : sequence of ndarray (8, 8)
        Quantization tables by id, raster order.
    huffman_tables : sequence of ((dc_bits, dc_values), (ac_bits, ac_values))
        DC and AC Huffman tables by id.
    restart_interval : int
        MCUs per restart interval; 0 writes no DRI segment.
    """
    parts = [marker(SOI), app0_jfif()]
    parts += [define_quantization_table(i, table) for i, table in enumerate(quant_tables)]
    parts.append(start_of_frame(height, width, [(c.identifier, c.h, c.v, c.table_id)
                                                for c in components]))
    for table_id, (dc_table, ac_table) in enumerate(huffman_tables):
        parts += [define_huffman_table(0, table_id, *dc_table),
                  define_huffman_table(1, table_id, *ac_table)]
    if restart_interval:
        parts.append(define_restart_interval(restart_interval))
    parts.append(start_of_scan([(c.identifier, c.table_id, c.table_id) for c in components]))
    return b"".join(parts)
