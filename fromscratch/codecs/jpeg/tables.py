"""The fixed tables of baseline JPEG (ITU-T T.81, 1992): zigzag order, Annex K quantization and
Huffman tables, and the IJG quality scaling that everyone's "quality 75" means.

* **Zigzag.** Coefficients are sent from low to high frequency by walking the 8 x 8 block along its
  anti-diagonals, so the zeros that quantization leaves at high frequencies come last in a run.
* **Quantization (Annex K.1, K.2).** Tables measured on the visibility of each DCT frequency:
  coarse where the eye is blind (high frequencies, colour), fine where it is not.
* **Quality (Independent JPEG Group).** ``quality`` 1..100 scales both tables by
  ``5000 / q`` percent below 50 and ``200 - 2q`` percent above, rounded, clamped to 1..255 (the
  baseline limit). This is libjpeg's ``jpeg_quality_scaling``, so our quality 75 is Pillow's.
* **Huffman (Annex K.3).** The "typical" tables in JPEG's own compact form: ``bits[L]`` = how many
  codes of length L (1..16), then the symbol values in code order (canonical codes, chapter 1).
  Two AC symbols have a fixed meaning (F.1.2.2): ``EOB`` (0x00, only zeros remain in the block)
  and ``ZRL`` (0xF0, sixteen zeros); ``entropy_coding`` says how the others are formed.
"""

from __future__ import annotations

import numpy as np

from ...entropy.huffman import canonical_codes

__all__ = [
    "AC_CHROMINANCE",
    "AC_LUMINANCE",
    "CHROMINANCE_QUANT",
    "DC_CHROMINANCE",
    "DC_LUMINANCE",
    "EOB",
    "LUMINANCE_QUANT",
    "UNZIGZAG",
    "ZIGZAG",
    "ZRL",
    "code_table",
    "position_lengths",
    "quality_scaled",
]


def _zigzag_order(n: int = 8) -> np.ndarray:
    """Raster index of the k-th coefficient in zigzag order, for k = 0 .. n*n - 1."""
    order = []
    for diagonal in range(2 * n - 1):
        cells = [(i, diagonal - i) for i in range(n) if 0 <= diagonal - i < n]
        order += cells if diagonal % 2 else cells[::-1]  # even diagonals run upwards
    return np.array([i * n + j for i, j in order], dtype=np.int64)


#: ``ZIGZAG[k]`` = raster position (row * 8 + col) of the k-th coefficient sent.
ZIGZAG = _zigzag_order()
#: ``UNZIGZAG[raster position]`` = its place in zigzag order.
UNZIGZAG = np.argsort(ZIGZAG)

#: Annex K.1: luminance quantization table, raster order.
LUMINANCE_QUANT = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64).reshape(8, 8)

#: Annex K.2: chrominance quantization table, raster order.
CHROMINANCE_QUANT = np.full((8, 8), 99, dtype=np.int64)
CHROMINANCE_QUANT[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99],
                             [47, 66, 99, 99]]


def quality_scaled(table: np.ndarray, quality: int) -> np.ndarray:
    """IJG scaling of a base table for ``quality`` in 1..100 (libjpeg, force_baseline=TRUE)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((table * scale + 50) // 100, 1, 255).astype(np.int64)


def _table(bits, values) -> tuple[np.ndarray, np.ndarray]:
    bits = np.array(bits, dtype=np.int64)
    values = np.array(values, dtype=np.int64)
    assert bits.size == 16 and bits.sum() == values.size
    return bits, values


#: Annex K.3 tables as (bits[16], values): codes per length 1..16, symbols in code order.
DC_LUMINANCE = _table([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], range(12))
DC_CHROMINANCE = _table([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], range(12))
AC_LUMINANCE = _table(
    [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D],
    [0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
     0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52,
     0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25,
     0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45,
     0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64,
     0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83,
     0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
     0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6,
     0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3,
     0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8,
     0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA],
)
AC_CHROMINANCE = _table(
    [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    [0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
     0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33,
     0x52, 0xF0, 0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18,
     0x19, 0x1A, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44,
     0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63,
     0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A,
     0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
     0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4,
     0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA,
     0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7,
     0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA],
)

EOB = 0x00  #: AC symbol "end of block": only zeros remain
ZRL = 0xF0  #: AC symbol "zero run length": sixteen zeros, more to come before a value


def position_lengths(bits: np.ndarray) -> np.ndarray:
    """Code length of each *position* in a (bits, values) table: ``[1]*bits[0] + [2]*bits[1] ...``.

    JPEG numbers its codes canonically in the order the values are listed, which need not be
    sorted by value. Chapter 1's canonical codes break ties by symbol value, so we code the
    *positions* 0, 1, 2, ... (sorted by construction) and translate: ``values[position]``.
    """
    return np.repeat(np.arange(1, 17), bits).astype(np.uint8)


def code_table(bits: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoder view of a (bits, values) table: ``(codes[256], lengths[256])`` indexed by value.

    Absent values have length 0. Codes are JPEG's canonical codes (Annex C), MSB-first integers.
    """
    lengths_by_position = position_lengths(bits)
    codes_by_position = canonical_codes(lengths_by_position)
    codes = np.zeros(256, dtype=np.uint64)
    lengths = np.zeros(256, dtype=np.uint8)
    codes[values] = codes_by_position
    lengths[values] = lengths_by_position
    return codes, lengths
