"""Huffman-decoding a baseline JPEG scan into quantized DCT coefficients: kernel and twin.

What one block costs (T.81 F.2.2)
---------------------------------
Every 8 x 8 block is coded as its DC coefficient, then its 63 AC coefficients in zigzag order:

* **DC.** A Huffman symbol ``s`` (0..11) says how many bits the *difference* from the previous
  block's DC of the same component (the *prediction*) needs; ``s`` raw bits follow.
* **AC.** A Huffman symbol ``RRRRSSSS``: skip ``R`` zeros, then a coefficient of ``S`` bits,
  whose ``S`` raw bits follow. ``0x00`` (EOB) ends the block early: the rest is zero. ``0xF0``
  (ZRL) skips 16 zeros.
* **Magnitude bits.** ``S`` bits ``b`` encode a value of magnitude ``2**(S-1) .. 2**S - 1``:
  ``b`` itself if its top bit is 1, else the negative ``b - (2**S - 1)`` (F.2.2.1, EXTEND).

Blocks arrive MCU by MCU: an interleaved MCU holds ``h x v`` blocks of each component, in raster
order inside the MCU. A *restart interval* of ``DRI`` MCUs starts on a byte boundary with all
predictions reset to 0; :func:`decoder.split_entropy_data` has already cut the unstuffed data at
the RST markers, so each interval is decoded from its own byte range.

Kernel and twin
---------------
``decode_scan_kernel`` (Numba) keeps the next bits left-aligned in a 64-bit buffer and refills
it to at least 32 bits before each symbol, so a symbol (<= 16 bits) and its magnitude bits
(<= 11) never need a refill in between; symbols come from chapter 1's 11-bit lookup tables
(``huffman.DecodeTables``) with the canonical MAXCODE loop for longer codes.
``decode_scan_reference`` is the readable twin: a bit at a time, JPEG's Annex F.2.2.3 DECODE
procedure. Both return the same status and fill the same coefficients (a test pins them).

Numba checks no bounds, so: every byte read is below the interval's end (past it the kernel
feeds zeros *without reading memory*, then reports ``PAST_END`` after the block); every table
index is below the table size by construction (``peek < 2**lookup_bits``; canonical offsets
stay inside the table's values) and every block index is checked against the allocation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ...entropy._huffman_kernels import LOOKUP_BITS, DecodeTables, refill_bit_buffer
from .tables import position_lengths

__all__ = ["STATUS_MESSAGES", "HuffmanDecodeTables", "ScanLayout", "decode_scan_kernel",
           "decode_scan_reference"]

MAX_JPEG_CODE_LENGTH = 16

# status codes of the kernel and the twin
OK = 0
BAD_CODE = 1
PAST_END = 2
BAD_DC_SIZE = 3
BAD_AC_SIZE = 4
BAD_RUN = 5
BAD_BLOCK = 6
STATUS_MESSAGES = {
    BAD_CODE: "bits that are no code of the Huffman table",
    PAST_END: "entropy-coded data ended in the middle of a block (truncated or corrupt)",
    BAD_DC_SIZE: "a DC difference of more than 11 bits (impossible for 8-bit samples)",
    BAD_AC_SIZE: "an AC coefficient of more than 10 bits (impossible for 8-bit samples)",
    BAD_RUN: "a run of zeros past the 64th coefficient of a block",
    BAD_BLOCK: "a block outside the coefficient array",
}


@dataclass(frozen=True)
class HuffmanDecodeTables:
    """The scan's DHT tables stacked for the kernel; row ``t`` is table ``t``.

    JPEG numbers codes canonically in the order values are *listed*, so the tables decode code
    *positions* (chapter 1's canonical machinery on ``position_lengths``) and ``values`` maps a
    position to its symbol. Shapes: ``lut_*`` (n, 2**11), ``lookup_bits`` and ``max_length``
    (n,), ``n_codes``/``first_code``/``first_index`` (n, 17) indexed by code length,
    ``values`` (n, 256).
    """

    lut_values: np.ndarray
    lut_lengths: np.ndarray
    lookup_bits: np.ndarray
    max_length: np.ndarray
    n_codes: np.ndarray
    first_code: np.ndarray
    first_index: np.ndarray
    values: np.ndarray

    @classmethod
    def from_tables(cls, tables) -> HuffmanDecodeTables:
        """Build from ``parser.HuffmanTable`` objects (checked: <= 256 values, Kraft <= 1)."""
        n = len(tables)
        size = 1 << LOOKUP_BITS
        arrays = {
            "lut_values": np.zeros((n, size), np.uint8),
            "lut_lengths": np.zeros((n, size), np.uint8),
            "lookup_bits": np.zeros(n, np.int64),
            "max_length": np.zeros(n, np.int64),
            "n_codes": np.zeros((n, MAX_JPEG_CODE_LENGTH + 1), np.int64),
            "first_code": np.zeros((n, MAX_JPEG_CODE_LENGTH + 1), np.int64),
            "first_index": np.zeros((n, MAX_JPEG_CODE_LENGTH + 1), np.int64),
            "values": np.zeros((n, 256), np.uint8),
        }
        for t, table in enumerate(tables):
            lengths = position_lengths(table.bits)
            decode_tables = DecodeTables.from_lengths(lengths)
            layout = decode_tables.layout  # positions are already in canonical order
            width = 1 << decode_tables.lookup_bits
            positions = decode_tables.lut_symbols.astype(np.int64)
            filled = decode_tables.lut_lengths > 0
            arrays["lut_values"][t, :width][filled] = table.values[positions[filled]]
            arrays["lut_lengths"][t, :width] = decode_tables.lut_lengths
            arrays["lookup_bits"][t] = decode_tables.lookup_bits
            arrays["max_length"][t] = layout.max_length
            for name in ("n_codes", "first_code", "first_index"):
                arrays[name][t] = getattr(layout, name)[: MAX_JPEG_CODE_LENGTH + 1]
            arrays["values"][t, : table.values.size] = table.values
        return cls(**arrays)


@dataclass(frozen=True)
class ScanLayout:
    """Where each block of the scan goes, per scan component ``c`` (arrays of shape (n_comp,)).

    MCU ``m`` sits at MCU row ``m // mcus_per_row``, column ``m % mcus_per_row``; its block
    ``(by, bx)`` of component ``c`` is row ``mcu_row * v[c] + by``, column ``mcu_col * h[c] + bx``
    of that component's block grid, stored at ``first_block[c] + row * blocks_per_row[c] + col``.
    """

    n_mcus: int
    mcus_per_row: int
    h: np.ndarray
    v: np.ndarray
    blocks_per_row: np.ndarray
    first_block: np.ndarray
    dc_table: np.ndarray  # row of HuffmanDecodeTables
    ac_table: np.ndarray
    n_blocks: int


# --------------------------------------------------------------------------------------------
# The compiled kernel
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _decode_symbol(buffer, t, lut_values, lut_lengths, lookup_bits, max_length, n_codes,
                   first_code, first_index, values):  # pragma: no cover - compiled
    """(symbol, code length) of the code at the top of ``buffer``; length 0 = no such code."""
    peek = buffer >> np.uint64(64 - lookup_bits[t])  # < 2**lookup_bits <= the LUT width
    length = lut_lengths[t, peek]
    if length != 0:
        return lut_values[t, peek], np.int64(length)
    next_16 = np.int64(buffer >> np.uint64(48))
    for long_length in range(lookup_bits[t] + 1, max_length[t] + 1):  # JPEG's MAXCODE loop
        offset = (next_16 >> (16 - long_length)) - first_code[t, long_length]
        if 0 <= offset < n_codes[t, long_length]:
            return values[t, first_index[t, long_length] + offset], np.int64(long_length)
    return np.uint8(0), np.int64(0)


@numba.njit(cache=True)
def decode_scan_kernel(
    data, interval_starts, restart_interval, n_mcus, mcus_per_row, comp_h, comp_v,
    blocks_per_row, first_block, dc_table, ac_table, lut_values, lut_lengths, lookup_bits,
    max_length, n_codes, first_code, first_index, values, coefficients,
):  # pragma: no cover - compiled
    """Decode every block of the scan into ``coefficients`` (n_blocks, 64) int16, zigzag order.

    ``coefficients`` must be zero on entry (only nonzero coefficients are written). Returns
    ``(status, interval, mcu, byte)``: where decoding stopped, ``byte`` indexing ``data``.
    """
    n_blocks = coefficients.shape[0]
    n_components = comp_h.shape[0]
    prediction = np.zeros(n_components, dtype=np.int64)
    per_interval = restart_interval if restart_interval > 0 else n_mcus
    for interval in range(interval_starts.shape[0] - 1):
        start = interval_starts[interval]
        end = interval_starts[interval + 1]
        available_bits = 8 * (end - start)
        position = start
        buffer = np.uint64(0)
        n_buffered = 0
        prediction[:] = 0
        first_mcu = interval * per_interval
        for mcu in range(first_mcu, min(first_mcu + per_interval, n_mcus)):
            mcu_row = mcu // mcus_per_row
            mcu_col = mcu - mcu_row * mcus_per_row
            for c in range(n_components):
                dc_t = dc_table[c]
                ac_t = ac_table[c]
                for by in range(comp_v[c]):
                    for bx in range(comp_h[c]):
                        block = (first_block[c] + (mcu_row * comp_v[c] + by) * blocks_per_row[c]
                                 + mcu_col * comp_h[c] + bx)
                        if block < 0 or block >= n_blocks:
                            return BAD_BLOCK, interval, mcu, position
                        k = 0
                        while k < 64:
                            if n_buffered < 32:
                                buffer, n_buffered, position = refill_bit_buffer(
                                    data, position, end, buffer, n_buffered)
                            t = dc_t if k == 0 else ac_t
                            symbol, length = _decode_symbol(
                                buffer, t, lut_values, lut_lengths, lookup_bits, max_length,
                                n_codes, first_code, first_index, values)
                            if length == 0:
                                return BAD_CODE, interval, mcu, position - n_buffered // 8
                            buffer <<= np.uint64(length)
                            n_buffered -= length
                            if k == 0:
                                size = np.int64(symbol)
                                if size > 11:
                                    return BAD_DC_SIZE, interval, mcu, position - n_buffered // 8
                            else:
                                run = np.int64(symbol >> 4)
                                size = np.int64(symbol & 15)
                                if size == 0:
                                    if run == 15:  # ZRL: sixteen zeros
                                        k += 16
                                        continue
                                    break  # EOB (libjpeg reads any run with size 0 as EOB)
                                if size > 10:
                                    return BAD_AC_SIZE, interval, mcu, position - n_buffered // 8
                                k += run
                                if k > 63:
                                    return BAD_RUN, interval, mcu, position - n_buffered // 8
                            value = np.int64(0)
                            if size > 0:
                                value = np.int64(buffer >> np.uint64(64 - size))
                                buffer <<= np.uint64(size)
                                n_buffered -= size
                                if value < (1 << (size - 1)):  # EXTEND: a negative value
                                    value -= (1 << size) - 1
                            if k == 0:
                                prediction[c] += value
                                value = min(max(prediction[c], -32768), 32767)
                            if value != 0:
                                coefficients[block, k] = value
                            k += 1
                        if 8 * (position - start) - n_buffered > available_bits:
                            return PAST_END, interval, mcu, end
    return OK, 0, 0, 0


# --------------------------------------------------------------------------------------------
# The readable twin
# --------------------------------------------------------------------------------------------
class _IntervalBits:
    """MSB-first bits of ``data[start:end]``, zeros past the end (counted, never read)."""

    def __init__(self, data: bytes, start: int, end: int):
        self.data, self.start, self.end = data, start, end
        self.bit = 8 * start

    def read_bit(self) -> int:
        byte = self.bit >> 3
        value = (self.data[byte] >> (7 - (self.bit & 7))) & 1 if byte < self.end else 0
        self.bit += 1
        return value

    def read(self, n_bits: int) -> int:
        value = 0
        for _ in range(n_bits):
            value = (value << 1) | self.read_bit()
        return value

    @property
    def past_end(self) -> bool:
        return self.bit > 8 * self.end


def _decode_symbol_bitwise(bits: _IntervalBits, tables: HuffmanDecodeTables, t: int):
    """T.81 F.2.2.3 DECODE: extend the code a bit at a time until it is a code of its length."""
    code = 0
    for length in range(1, MAX_JPEG_CODE_LENGTH + 1):
        code = (code << 1) | bits.read_bit()
        offset = code - int(tables.first_code[t, length])
        if 0 <= offset < tables.n_codes[t, length]:
            return int(tables.values[t, tables.first_index[t, length] + offset])
    return None


def decode_scan_reference(data, interval_starts, restart_interval, layout: ScanLayout,
                          tables: HuffmanDecodeTables, coefficients):
    """Readable twin of :func:`decode_scan_kernel`: same arguments (grouped), same result."""
    data = bytes(data)
    per_interval = restart_interval if restart_interval > 0 else layout.n_mcus
    for interval in range(len(interval_starts) - 1):
        bits = _IntervalBits(data, int(interval_starts[interval]),
                             int(interval_starts[interval + 1]))
        prediction = [0] * len(layout.h)
        first_mcu = interval * per_interval
        for mcu in range(first_mcu, min(first_mcu + per_interval, layout.n_mcus)):
            mcu_row, mcu_col = divmod(mcu, layout.mcus_per_row)
            for c in range(len(layout.h)):
                h, v = int(layout.h[c]), int(layout.v[c])
                for by in range(v):
                    for bx in range(h):
                        block = (int(layout.first_block[c])
                                 + (mcu_row * v + by) * int(layout.blocks_per_row[c])
                                 + mcu_col * h + bx)
                        if not 0 <= block < coefficients.shape[0]:
                            return BAD_BLOCK, interval, mcu, bits.bit // 8
                        status = _decode_block(bits, tables, int(layout.dc_table[c]),
                                               int(layout.ac_table[c]), prediction, c,
                                               coefficients[block])
                        if status != OK:
                            return status, interval, mcu, bits.bit // 8
                        if bits.past_end:
                            return PAST_END, interval, mcu, bits.end
    return OK, 0, 0, 0


def _decode_block(bits, tables, dc_t, ac_t, prediction, c, block) -> int:
    """One block's DC difference and AC run/size pairs into ``block`` (64,), zigzag order."""
    size = _decode_symbol_bitwise(bits, tables, dc_t)
    if size is None:
        return BAD_CODE
    if size > 11:
        return BAD_DC_SIZE
    prediction[c] += _extend(bits.read(size), size)
    block[0] = min(max(prediction[c], -32768), 32767)
    k = 1
    while k < 64:
        symbol = _decode_symbol_bitwise(bits, tables, ac_t)
        if symbol is None:
            return BAD_CODE
        run, size = symbol >> 4, symbol & 15
        if size == 0:
            if run != 15:
                break  # EOB
            k += 16  # ZRL
            continue
        if size > 10:
            return BAD_AC_SIZE
        k += run
        if k > 63:
            return BAD_RUN
        block[k] = _extend(bits.read(size), size)
        k += 1
    return OK


def _extend(raw: int, size: int) -> int:
    """F.2.2.1 EXTEND: ``size`` raw bits to a signed value (top bit 0 means negative)."""
    if size == 0:
        return 0
    return raw if raw >= 1 << (size - 1) else raw - (1 << size) + 1

