"""JPEG's entropy coding (T.81 F.1.2): quantized blocks -> symbols -> Huffman codes -> scan bytes.

Input is what the encoder's pixel stages leave: ``blocks`` int32 (n_blocks, 64), each block's
quantized coefficients in zigzag order, blocks in the order they are sent (MCU by MCU), with the
DC coefficient (position 0) already replaced by its *difference* from the previous block of the
same component. Each block says which DC and which AC Huffman table codes it.

Symbols
-------
A value ``v`` is sent as its **size category** ``s`` = number of bits of ``|v|`` (0 for 0, 1 for
±1, 2 for ±2..3, 3 for ±4..7, ...), Huffman coded, followed by ``s`` raw **magnitude bits**: ``v``
itself when positive, ``v - 1`` in ``s``-bit two's complement (``v + 2**s - 1``) when negative, so
a leading 1 means positive and a leading 0 negative (F.1.2.1, :func:`magnitude_category`)::

    v = -3  ->  s = 2, bits 00        v = 3  ->  s = 2, bits 11        v = 1 -> s = 1, bit 1

* **DC**: the symbol is ``s`` alone (0..11).
* **AC**: zeros are counted, not sent. The symbol of a nonzero value is ``run << 4 | s``, with
  ``run`` (0..15) the zeros before it in zigzag order. Sixteen zeros followed by more zeros and a
  value need ``ZRL`` (0xF0, "16 zeros"); and when only zeros remain, one ``EOB`` (0x00) ends the
  block. With quantization killing most high frequencies, ``EOB`` typically replaces ~50 zeros.

:func:`block_symbols` lists a block's symbols, one ``(symbol, n_extra_bits, extra_bits)`` each.

Huffman tables
--------------
The codes are Annex K's "typical" tables (``tables``), or, with ``optimize``, tables built for the
image (:func:`huffman_tables`): a first pass counts the symbols (:func:`count_symbols`), chapter
1's length-limited Huffman construction gives code lengths of at most 16 bits, and the table is
sent in the DHT segment (``markers.optimal_huffman_table``, which also keeps the all-ones code
word free, as JPEG requires).

Bits and bytes
--------------
Codes are written MSB-first; inside entropy-coded data every ``0xFF`` byte is followed by a
stuffed ``0x00`` so that decoders never mistake data for a marker. Every *restart interval*
(if any) ends by padding with 1-bits to a byte boundary, and an ``RSTn`` marker (0xFF, 0xD0 + n,
n cycling 0..7) follows, except after the last one; the last byte of the scan is padded with
1-bits too. Restarts let a decoder resynchronise after corruption, or decode in parallel.

Readable code and compiled kernels
----------------------------------
The ``*_reference`` functions here are the readable versions: :func:`encode_blocks_reference`
writes the scan with a ``BitWriter``, one Python call per code word, and stuffs with
``bytes.replace``. :func:`encode_blocks` and :func:`count_symbols` check their arguments, then
run the compiled twins in ``_encode_kernels`` (or, with ``use_numba=False``, the readable ones);
tests pin each kernel to its twin, byte for byte.
"""

from __future__ import annotations

import functools

import numpy as np

from ...bitstream import BitWriter
from . import _encode_kernels as kernels
from . import markers
from .tables import (
    AC_CHROMINANCE,
    AC_LUMINANCE,
    DC_CHROMINANCE,
    DC_LUMINANCE,
    EOB,
    ZRL,
    code_table,
)

__all__ = [
    "EOB",
    "ZRL",
    "block_symbols",
    "code_tables",
    "count_symbols",
    "count_symbols_reference",
    "encode_blocks",
    "encode_blocks_reference",
    "huffman_tables",
    "magnitude_category",
]


# --------------------------------------------------------------------------------------------
# Symbols
# --------------------------------------------------------------------------------------------
def magnitude_category(value: int) -> tuple[int, int]:
    """(size, magnitude bits) of a coefficient or DC difference: T.81 F.1.2.1.

    >>> magnitude_category(3), magnitude_category(-3), magnitude_category(0)
    ((2, 3), (2, 0), (0, 0))
    """
    size = abs(value).bit_length()
    return size, value if value >= 0 else value + (1 << size) - 1


def block_symbols(block) -> list[tuple[int, int, int]]:
    """The symbols of one block, in order: ``(symbol, n_extra_bits, extra_bits)`` triples.

    The first triple is the DC size category; the others are AC run/size symbols, ZRLs and an
    EOB (ZRL and EOB carry no extra bits).

    Parameters
    ----------
    block : sequence of int, length 64
        Zigzag-ordered quantized coefficients, ``block[0]`` the DC *difference*.
    """
    size, bits = magnitude_category(int(block[0]))
    symbols = [(size, size, bits)]
    run = 0
    for value in block[1:]:
        value = int(value)
        if value == 0:
            run += 1
            continue
        while run >= 16:  # a run/size symbol holds a run of at most 15 zeros
            symbols.append((ZRL, 0, 0))
            run -= 16
        size, bits = magnitude_category(value)
        symbols.append(((run << 4) | size, size, bits))
        run = 0
    if run:  # trailing zeros, however many, cost one EOB (never needed after position 63)
        symbols.append((EOB, 0, 0))
    return symbols


def _checked_blocks(blocks, dc_table_ids, ac_table_ids, n_dc_tables: int, n_ac_tables: int):
    """Contiguous int32 blocks and int64 table ids, after the checks the kernels cannot make."""
    blocks = np.ascontiguousarray(blocks, dtype=np.int32)
    dc_table_ids = np.ascontiguousarray(dc_table_ids, dtype=np.int64)
    ac_table_ids = np.ascontiguousarray(ac_table_ids, dtype=np.int64)
    n_blocks = blocks.shape[0]
    if blocks.ndim != 2 or blocks.shape[1] != 64:
        raise ValueError(f"blocks must have shape (n_blocks, 64), got {blocks.shape}")
    if dc_table_ids.shape != (n_blocks,) or ac_table_ids.shape != (n_blocks,):
        raise ValueError(f"need one DC and one AC table id per block ({n_blocks})")
    for ids, n_tables in ((dc_table_ids, n_dc_tables), (ac_table_ids, n_ac_tables)):
        if n_blocks and not (ids.min() >= 0 and ids.max() < n_tables):
            raise ValueError(f"table ids must be in 0..{n_tables - 1}")
    return blocks, dc_table_ids, ac_table_ids


# --------------------------------------------------------------------------------------------
# Huffman tables: Annex K's, or fitted to the symbol counts
# --------------------------------------------------------------------------------------------
def count_symbols_reference(blocks, dc_table_ids, ac_table_ids, n_tables: int):
    """How often each DC and AC symbol occurs, per table: two int64 arrays (n_tables, 256).

    Arguments as in :func:`encode_blocks` (checked, contiguous).
    """
    dc_counts = np.zeros((n_tables, 256), dtype=np.int64)
    ac_counts = np.zeros((n_tables, 256), dtype=np.int64)
    for i, (block, dc_table, ac_table) in enumerate(zip(
            blocks.tolist(), dc_table_ids.tolist(), ac_table_ids.tolist(), strict=True)):
        (dc_symbol, dc_bits, _), *ac_symbols = block_symbols(block)
        if dc_bits > 11 or any(n_bits > 10 for _, n_bits, _ in ac_symbols):
            raise ValueError(f"block {i} holds a value out of baseline range")
        dc_counts[dc_table, dc_symbol] += 1
        for symbol, _, _ in ac_symbols:
            ac_counts[ac_table, symbol] += 1
    return dc_counts, ac_counts


def count_symbols(blocks, dc_table_ids, ac_table_ids, n_tables: int, use_numba: bool = True):
    """Symbol counts per table, (dc_counts, ac_counts), each int64 (n_tables, 256).

    Arguments as in :func:`encode_blocks`; the compiled kernel or, with ``use_numba=False``,
    its readable twin.
    """
    blocks, dc_table_ids, ac_table_ids = _checked_blocks(
        blocks, dc_table_ids, ac_table_ids, n_tables, n_tables)
    if not use_numba:
        return count_symbols_reference(blocks, dc_table_ids, ac_table_ids, n_tables)
    dc_counts = np.zeros((n_tables, 256), dtype=np.int64)
    ac_counts = np.zeros((n_tables, 256), dtype=np.int64)
    status = kernels.count_symbols_kernel(blocks, dc_table_ids, ac_table_ids, dc_counts,
                                          ac_counts)
    if status < 0:
        raise ValueError(f"block {-1 - status} holds a value out of baseline range")
    return dc_counts, ac_counts


def huffman_tables(blocks, table_ids, n_tables: int, optimize: bool = False,
                   use_numba: bool = True):
    """(DC tables, AC tables), each a list of ``n_tables`` (bits, values): standard or fitted.

    Parameters
    ----------
    blocks : ndarray of int32, shape (n_blocks, 64)
        As for :func:`encode_blocks`.
    table_ids : ndarray of int, shape (n_blocks,)
        The table (0 luma, 1 chroma) that codes each block, DC and AC alike.
    n_tables : int
        1 (gray) or 2.
    optimize : bool
        Fit the tables to the symbol counts of ``blocks`` (``markers.optimal_huffman_table``)
        instead of taking Annex K's.
    """
    if not optimize:
        return [DC_LUMINANCE, DC_CHROMINANCE][:n_tables], [AC_LUMINANCE, AC_CHROMINANCE][:n_tables]
    dc_counts, ac_counts = count_symbols(blocks, table_ids, table_ids, n_tables, use_numba)
    return ([markers.optimal_huffman_table(counts) for counts in dc_counts],
            [markers.optimal_huffman_table(counts) for counts in ac_counts])


def code_tables(tables) -> list[tuple[np.ndarray, np.ndarray]]:
    """``tables.code_table`` of each (bits, values) table, remembered (Annex K's serve every
    image): a list of (codes[256], lengths[256]), as :func:`encode_blocks` takes them."""
    return [_cached_code_table(bytes(np.asarray(bits, dtype=np.uint8)),
                               bytes(np.asarray(values, dtype=np.uint8)))
            for bits, values in tables]


@functools.lru_cache(maxsize=16)
def _cached_code_table(bits: bytes, values: bytes) -> tuple[np.ndarray, np.ndarray]:
    return code_table(np.frombuffer(bits, dtype=np.uint8), np.frombuffer(values, dtype=np.uint8))


# --------------------------------------------------------------------------------------------
# The scan writer
# --------------------------------------------------------------------------------------------
def encode_blocks_reference(blocks, dc_table_ids, ac_table_ids, dc_tables, ac_tables,
                            blocks_per_restart: int) -> bytes:
    """Readable twin of ``_encode_kernels.encode_blocks_kernel``: a scan's entropy-coded bytes.

    ``dc_tables[t]`` and ``ac_tables[t]`` are ``(codes[256], lengths[256])`` pairs
    (``tables.code_table``). The data of each restart interval is packed with a ``BitWriter``,
    padded with 1-bits, then byte-stuffed; RSTn markers go between the intervals.
    """
    intervals = []
    writer = BitWriter()
    for i, (block, dc_table, ac_table) in enumerate(zip(
            blocks.tolist(), dc_table_ids.tolist(), ac_table_ids.tolist(), strict=True)):
        if blocks_per_restart and i and i % blocks_per_restart == 0:
            writer.align(fill_bit=1)
            intervals.append(writer.getvalue())
            writer = BitWriter()
        for position, (symbol, n_extra, extra) in enumerate(block_symbols(block)):
            codes, lengths = dc_tables[dc_table] if position == 0 else ac_tables[ac_table]
            if n_extra > (11 if position == 0 else 10) or lengths[symbol] == 0:
                raise ValueError(f"block {i} cannot be coded: a symbol without a Huffman "
                                 "code, or a value out of baseline range")
            writer.write(int(codes[symbol]), int(lengths[symbol]))
            writer.write(extra, n_extra)
    writer.align(fill_bit=1)
    intervals.append(writer.getvalue())
    stuffed = [data.replace(b"\xff", b"\xff\x00") for data in intervals]
    out = stuffed[0]
    for index, data in enumerate(stuffed[1:]):
        out += markers.restart_marker(index) + data
    return out


def _stacked(code_tables) -> tuple[np.ndarray, np.ndarray]:
    """A list of (codes[256], lengths[256]) pairs as (uint64 (n, 256), uint8 (n, 256))."""
    codes = np.stack([np.asarray(codes, dtype=np.uint64) for codes, _ in code_tables])
    lengths = np.stack([np.asarray(lengths, dtype=np.uint8) for _, lengths in code_tables])
    if codes.shape[1:] != (256,) or lengths.shape != codes.shape or lengths.max() > 16:
        raise ValueError("code tables must be (codes[256], lengths[256]) with lengths <= 16")
    return codes, lengths


def encode_blocks(blocks, dc_table_ids, ac_table_ids, dc_tables, ac_tables,
                  blocks_per_restart: int = 0, use_numba: bool = True) -> bytes:
    """The entropy-coded data of one scan: Huffman codes, stuffing, padding, RST markers.

    Parameters
    ----------
    blocks : ndarray of int32, shape (n_blocks, 64)
        Quantized coefficients in zigzag order, DC replaced by its difference, in scan order.
        DC differences must lie in -2047..2047 and AC values in -1023..1023 (8-bit baseline).
    dc_table_ids, ac_table_ids : ndarray of int, shape (n_blocks,)
        Which DC and AC Huffman table codes each block.
    dc_tables, ac_tables : list of (codes[256], lengths[256])
        Code tables by id (``tables.code_table``); every symbol used needs a code.
    blocks_per_restart : int
        Restart interval in blocks (MCUs times blocks per MCU); 0 for no restarts.
    use_numba : bool
        Run the compiled kernel (default) or its readable twin; the bytes are identical.

    Returns
    -------
    bytes
        What goes between the SOS segment and EOI.
    """
    blocks, dc_table_ids, ac_table_ids = _checked_blocks(
        blocks, dc_table_ids, ac_table_ids, len(dc_tables), len(ac_tables))
    if blocks_per_restart < 0:
        raise ValueError(f"blocks_per_restart must be >= 0, got {blocks_per_restart}")
    if not use_numba:
        return encode_blocks_reference(blocks, dc_table_ids, ac_table_ids, dc_tables,
                                       ac_tables, blocks_per_restart)
    dc_codes, dc_lengths = _stacked(dc_tables)
    ac_codes, ac_lengths = _stacked(ac_tables)
    n_restarts = (blocks.shape[0] - 1) // blocks_per_restart if blocks_per_restart else 0
    out = np.empty(blocks.shape[0] * kernels.MAX_BYTES_PER_BLOCK
                   + n_restarts * kernels.MAX_BYTES_PER_RESTART + 2, dtype=np.uint8)
    n_written = kernels.encode_blocks_kernel(blocks, dc_table_ids, ac_table_ids, dc_codes,
                                             dc_lengths, ac_codes, ac_lengths,
                                             blocks_per_restart, out)
    if n_written < 0:
        raise ValueError(f"block {-1 - n_written} cannot be coded: a symbol without a Huffman "
                         "code, or a value out of baseline range")
    return out[:n_written].tobytes()
