"""Huffman coding (1952): the shortest prefix code for known symbol counts, built greedily.

This module writes and reads *streams*: symbols in, self-contained bytes out (``encode``,
``decode``), or bare code words for formats that store their tables elsewhere, as JPEG does
(``encode_with_table``, ``decode_with_table``). The code itself is built in ``huffman_codes``:
prefix codes and Kraft's inequality, Huffman's greedy merge, canonical codes and package-merge
length limiting; read that lecture first. Its functions are re-exported here, so
``from fromscratch.entropy import huffman`` is the one import chapter 1 needs
(``huffman.code_lengths``, ``huffman.canonical_codes``, ...). The inner loops are in
``_huffman_kernels``; the drawings of a code in ``huffman_plots``.

Stream format (version 1) — all integers big-endian
---------------------------------------------------
::

    offset  size  field
    0       1     format byte, 0x01 (a reader refuses any other value)
    1       8     n_symbols: how many symbols follow
    9       2     alphabet_size - 1: symbols are 0 .. alphabet_size - 1 <= 65535
    11      t     code-length table, bit-packed MSB-first, zero-padded to a byte boundary:
                  runs of (6-bit code length 0..32, Elias-gamma run count >= 1) until
                  alphabet_size lengths are known; length 0 = symbol unused
    11+t    p     payload: each symbol's canonical code, MSB-first, zero-padded to a byte

Anything after the payload is ignored. Why runs: unused symbols come in long stretches of zeros,
and smooth distributions in long stretches of equal lengths. Measured on 256-symbol alphabets
the table costs 3 bytes for a flat distribution (one run), 38 for a geometric and 52 for a
Laplacian one, and at worst 256 * 7 bits = 224 bytes when every length differs from its
neighbour; a flat table of 6-bit lengths would always cost 192. A lone used symbol gets the 1-bit
code ``0``, so *every* symbol costs at least one payload bit: a decoder refuses an ``n_symbols``
larger than the payload's bit count before allocating anything, and a 20-byte stream can never
ask for gigabytes (the price: a constant input still costs n/8 bytes). The stored table must be
a complete code (Kraft sum 1), or a single length-1 code, or empty; this encoder writes nothing
else, so anything else is corruption and refused.
"""

from __future__ import annotations

import operator
import struct

import numpy as np

from ..bitstream import BitstreamError, as_byte_array, pack_codes
from . import _huffman_kernels as kernels
from ._huffman_kernels import LOOKUP_BITS
from .huffman_codes import (  # re-exported: chapter 1's public names (see __all__)
    MAX_ALPHABET_SIZE,
    MAX_CODE_LENGTH,
    HuffmanNode,
    _as_symbol_array,
    build_tree,
    canonical_codes,
    check_code_lengths,
    code_lengths,
    entropy,
    kraft_sum,
    package_merge,
    symbol_counts,
    tree_code_lengths,
)

__all__ = [
    "FORMAT_VERSION", "LOOKUP_BITS", "MAX_ALPHABET_SIZE", "MAX_CODE_LENGTH", "HuffmanNode",
    "build_tree", "canonical_codes", "check_code_lengths", "code_lengths",
    "decode", "decode_with_table", "encode", "encode_with_table", "entropy", "kraft_sum",
    "package_merge", "symbol_counts", "tree_code_lengths",
]

FORMAT_VERSION = 1
_HEADER = struct.Struct(">BQH")  # format byte, n_symbols, alphabet_size - 1


# --------------------------------------------------------------------------------------------
# Streams: encode/decode with a header, and the header-less pair for other formats
# --------------------------------------------------------------------------------------------
def encode_with_table(symbols, lengths, *, use_numba: bool = True) -> tuple[bytes, int]:
    """Code ``symbols`` with the canonical code of ``lengths``; no header (for JPEG and co.).

    Parameters
    ----------
    symbols : array_like of int, bytes or bytearray
        Flattened; each must have a non-zero length.
    lengths : array_like of int, shape (alphabet_size,)
        Valid table, see ``check_code_lengths(require_complete=False)``.
    use_numba : bool, optional
        ``False`` runs the readable twin (same bytes).

    Returns
    -------
    data : bytes
        The codes MSB-first, last byte zero-padded.
    n_bits : int
        Number of meaningful bits.
    """
    lengths = check_code_lengths(lengths, require_complete=False)
    array = _as_symbol_array(symbols)
    counts = symbol_counts(array, lengths.size)
    uncoded = np.flatnonzero((counts > 0) & (lengths == 0))
    if uncoded.size:
        raise ValueError(f"symbol {int(uncoded[0])} occurs but has no code (length 0)")
    return kernels.encode_symbols(array, lengths, counts, use_numba)


def decode_with_table(data, lengths, n_symbols: int, *, use_numba: bool = True) -> np.ndarray:
    """Read ``n_symbols`` canonical codes of ``lengths`` from the start of ``data``.

    Returns a uint8 array (alphabet <= 256) or uint16 array, shape (n_symbols,). Raises
    ``BitstreamError`` for a table violating Kraft's inequality (it usually comes from a file),
    invalid code words, or too little data; bytes after the last code are ignored.
    """
    try:
        lengths = check_code_lengths(lengths, require_complete=False)
    except ValueError as exc:
        raise BitstreamError(f"unusable code-length table: {exc}") from None
    n_symbols = operator.index(n_symbols)
    if n_symbols < 0:
        raise ValueError(f"n_symbols must be >= 0, got {n_symbols}")
    return kernels.decode_symbols(as_byte_array(data), 0, lengths, n_symbols, use_numba)


def encode(symbols, alphabet_size: int | None = None, max_length: int = MAX_CODE_LENGTH,
           *, use_numba: bool = True) -> bytes:
    """Compress integer symbols into a self-contained Huffman stream (format in module doc).

    Parameters
    ----------
    symbols : array_like of int, bytes or bytearray
        Symbols in 0..65535, any shape (flattened in C order; the shape is not stored).
    alphabet_size : int, optional
        1..65536; default: largest symbol + 1 (1 for no symbols). Decides the decoded dtype.
    max_length : int, optional
        Longest allowed code word; values above 32 are treated as 32 (the format's limit).
    use_numba : bool, optional
        ``False`` packs with the readable twin (same bytes).

    Returns
    -------
    bytes
    """
    array = _as_symbol_array(symbols)
    if alphabet_size is None:
        alphabet_size = int(array.max()) + 1 if array.size else 1
    counts = symbol_counts(array, alphabet_size)
    max_length = min(operator.index(max_length), MAX_CODE_LENGTH)
    lengths = code_lengths(counts, max_length)
    payload, _ = kernels.encode_symbols(array, lengths, counts, use_numba)
    table, _ = pack_codes(*kernels.length_runs_fields(lengths))
    return _HEADER.pack(FORMAT_VERSION, array.size, alphabet_size - 1) + table + payload


def decode(data, *, use_numba: bool = True) -> np.ndarray:
    """Decompress a stream written by ``encode``.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The stream; anything after its end is ignored.
    use_numba : bool, optional
        ``False`` decodes with the readable bit-by-bit twins (same result, same errors).

    Returns
    -------
    ndarray, shape (n_symbols,)
        uint8 when the alphabet has at most 256 symbols, else uint16.

    Raises
    ------
    BitstreamError
        For any malformed, truncated or hostile stream, before allocating more than it justifies.
    """
    buffer = as_byte_array(data)
    if buffer.size < _HEADER.size:
        raise BitstreamError(f"truncated Huffman stream: {buffer.size} bytes, the header has 11")
    version, n_symbols, alphabet_size = _HEADER.unpack_from(buffer)
    alphabet_size += 1
    if version != FORMAT_VERSION:
        raise BitstreamError(f"unknown Huffman format byte {version} at byte 0 (expected 1)")
    lengths, table_end = kernels.read_length_table(buffer, 8 * _HEADER.size, alphabet_size,
                                                   use_numba)
    try:
        check_code_lengths(lengths, require_complete=True)
    except ValueError as exc:
        raise BitstreamError(f"code-length table at byte {_HEADER.size}: {exc}") from None
    return kernels.decode_symbols(buffer, (table_end + 7) // 8, lengths, n_symbols, use_numba)
