"""The Huffman stream's inner loops, each compiled kernel beside its readable twin.

Everything here works on *validated* canonical length tables (see ``huffman.check_code_lengths``):
the Numba kernels have no bounds checks, so the Python wrappers in ``huffman`` check every size and
value before calling them, and the decode kernels check every read position themselves. The
canonical numbering these loops rely on (``CanonicalLayout``: ``first_code``, ``n_codes``,
``first_index`` per length) is built in ``_huffman_codes_kernels``, together with the other
kernels of code construction (counting, Huffman's merge).

Lookup table
------------
Bit-by-bit decoding costs a loop turn per bit. Instead the fast decoder *peeks* at the next ``K``
bits and looks them up: ``lut_symbols[bits]``, ``lut_lengths[bits]``. A code of length ``l <= K``
owns the ``2**(K - l)`` entries that start with it, and because canonical codes, read as binary
fractions, are increasing and adjacent, the table is simply every short symbol repeated
``2**(K - l)`` times in canonical order. Entries left over (length 0) mean "longer than K bits"
and send the decoder to the slow MAXCODE loop. ``LOOKUP_BITS = 11``: 2048 entries of
2 + 1 bytes = 6 KiB stay in a 32 KiB L1 cache; codes longer than 11 bits belong to rare symbols
(0.17% of them on the 4 bit/symbol benchmark data), so the slow path hardly runs; and building
the table costs only 2048 writes per stream, which matters for short ones (libjpeg looks up 8
bits, zlib 9 plus second-level tables). A wider table would also be filled with copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..bitstream import BitReader, BitstreamError, pack_codes_reference
from ._huffman_codes_kernels import (  # noqa: F401
    MAX_CODE_LENGTH,
    CanonicalLayout,
    # _count_kernel, count_symbols, huffman_depths_kernel: unused here, re-exported because
    # they lived in this file until issue #14 split off the kernels of code construction
    _count_kernel,
    canonical_codes_from_layout,
    canonical_layout,
    count_symbols,
    huffman_depths_kernel,
)

LOOKUP_BITS = 11

# status codes returned by the decode kernels (Numba cannot raise rich exceptions cheaply)
OK = 0
BAD_CODE = 1  # bits that start no code word of an incomplete code
PAST_END = 2  # the stream ended in the middle of the data
BAD_LENGTH = 3  # a code length above MAX_CODE_LENGTH in a stored table
BAD_RUN = 4  # a run of lengths that overflows the alphabet

STATUS_MESSAGES = {
    BAD_CODE: "invalid code word",
    PAST_END: "truncated stream",
    BAD_LENGTH: f"code length above {MAX_CODE_LENGTH}",
    BAD_RUN: "run of code lengths longer than the alphabet",
}


# --------------------------------------------------------------------------------------------
# Decoding tables
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeTables:
    """Everything the decoders need, derived from a validated length table."""

    layout: CanonicalLayout
    lookup_bits: int
    lut_symbols: np.ndarray  # uint16, shape (2**lookup_bits,)
    lut_lengths: np.ndarray  # uint8, shape (2**lookup_bits,); 0 = longer code or invalid bits

    @classmethod
    def from_lengths(cls, lengths: np.ndarray) -> DecodeTables:
        layout = canonical_layout(lengths)
        # a table wider than the longest code would only repeat entries
        lookup_bits = max(1, min(LOOKUP_BITS, layout.max_length))
        symbols = layout.sorted_symbols
        symbol_lengths = lengths[symbols.astype(np.int64)].astype(np.int64)
        short = symbol_lengths <= lookup_bits  # a prefix of the canonical order
        spans = np.left_shift(1, lookup_bits - symbol_lengths[short])
        n_filled = int(spans.sum())  # <= 2**lookup_bits by Kraft's inequality
        lut_symbols = np.zeros(1 << lookup_bits, dtype=np.uint16)
        lut_lengths = np.zeros(1 << lookup_bits, dtype=np.uint8)
        lut_symbols[:n_filled] = np.repeat(symbols[short], spans)
        lut_lengths[:n_filled] = np.repeat(symbol_lengths[short], spans)
        return cls(layout, lookup_bits, lut_symbols, lut_lengths)


# --------------------------------------------------------------------------------------------
# Encoding: symbols -> bits
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True)
def encode_kernel(symbols, codes, lengths, out):  # pragma: no cover - compiled
    """Look up and pack every symbol's code MSB-first into ``out`` (sized exactly by the caller).

    ``symbols`` uint8/uint16 (n,), all with ``lengths[s]`` in 1..32; ``codes`` uint64 and
    ``lengths`` uint8 (alphabet_size,). Returns the number of bytes written. Bits above the
    pending ones are never cleared: they are shifted out of the 64-bit accumulator before they
    could matter, and every store masks what it writes (at most 31 + 32 = 63 bits are pending).
    """
    accumulator = np.uint64(0)
    n_pending = 0
    n_written = 0
    for i in range(symbols.shape[0]):
        symbol = symbols[i]
        length = lengths[symbol]
        accumulator = (accumulator << np.uint64(length)) | codes[symbol]
        n_pending += length
        if n_pending >= 32:  # flush a whole 32-bit word: one branch per ~8 symbols, not per byte
            n_pending -= 32
            word = accumulator >> np.uint64(n_pending)
            out[n_written] = np.uint8((word >> np.uint64(24)) & np.uint64(0xFF))
            out[n_written + 1] = np.uint8((word >> np.uint64(16)) & np.uint64(0xFF))
            out[n_written + 2] = np.uint8((word >> np.uint64(8)) & np.uint64(0xFF))
            out[n_written + 3] = np.uint8(word & np.uint64(0xFF))
            n_written += 4
    # the last 0..31 bits, left-aligned in a 32-bit word so the padding is zeros on the right
    word = accumulator << np.uint64(32 - n_pending)
    shift = 24
    while n_pending > 0:
        out[n_written] = np.uint8((word >> np.uint64(shift)) & np.uint64(0xFF))
        n_written += 1
        n_pending -= 8
        shift -= 8
    return n_written


def encode_reference(symbols: np.ndarray, codes: np.ndarray, lengths: np.ndarray) -> bytes:
    """Readable twin of ``encode_kernel``: look every code up, then glue them with NumPy."""
    data, _ = pack_codes_reference(codes[symbols], lengths[symbols])
    return data


# --------------------------------------------------------------------------------------------
# Decoding: bits -> symbols
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def refill_bit_buffer(data, position, end, buffer, n_buffered):  # pragma: no cover - compiled
    """Top a left-aligned 64-bit bit buffer up to >= 56 bits (call it when fewer than 32 remain).

    While 8 bytes remain it reads them at once and keeps the whole bytes that fit (bits beyond
    ``n_buffered`` are the correct next bits, loaded again next time); near ``end`` it goes byte
    by byte and feeds zeros past the last byte *without reading memory*, advancing ``position``
    anyway, so a caller can tell how far past the end it went. Returns
    ``(buffer, n_buffered, position)``. Shared with the JPEG scan decoder.
    """
    if position + 8 <= end:
        word = np.uint64(0)
        for k in range(8):  # the next 8 bytes as one big-endian number
            word = (word << np.uint64(8)) | np.uint64(data[position + k])
        buffer |= word >> np.uint64(n_buffered)
        position += (63 - n_buffered) >> 3  # the whole bytes that fit
        n_buffered |= 56  # = n_buffered + 8 * those bytes, for n_buffered < 32
    else:
        while n_buffered <= 56:
            if position < end:
                buffer |= np.uint64(data[position]) << np.uint64(56 - n_buffered)
            position += 1  # past the end: a virtual zero byte, nothing is read
            n_buffered += 8
    return buffer, n_buffered, position


@numba.njit(cache=True)
def decode_kernel(
    data, start_byte, lookup_bits, lut_symbols, lut_lengths,
    n_codes, first_code, first_index, sorted_symbols, max_length, out,
):  # pragma: no cover - compiled
    """Decode ``out.shape[0]`` symbols from ``data[start_byte:]`` into ``out``.

    A 64-bit buffer holds the next ``n_buffered`` bits left-aligned (the next bit is bit 63), so
    peeking is one shift. Whenever fewer than 32 bits remain it is topped up to 56..64 bits, so a
    code of up to 32 bits never needs a refill halfway (:func:`refill_bit_buffer`, which feeds
    zeros past the last byte without reading memory); the consumed bit count is compared with
    the real one at the end. Returns ``(status, bits consumed from start_byte)``; status is
    ``OK``, ``BAD_CODE`` or ``PAST_END``.
    """
    n_bytes = data.shape[0]
    position = start_byte  # next byte to load; may run past n_bytes (virtual zero bytes)
    buffer = np.uint64(0)
    n_buffered = 0
    peek_shift = np.uint64(64 - lookup_bits)
    for i in range(out.shape[0]):
        if n_buffered < 32:
            buffer, n_buffered, position = refill_bit_buffer(data, position, n_bytes, buffer,
                                                             n_buffered)
            if position > n_bytes + 8:
                # more than 8 zero bytes fed: certainly past the end
                return PAST_END, 8 * (position - start_byte) - n_buffered
        peek = buffer >> peek_shift
        length = lut_lengths[peek]
        if length != 0:
            out[i] = lut_symbols[peek]
            buffer <<= np.uint64(length)
            n_buffered -= length
            continue
        # slow path: a code longer than lookup_bits (or invalid bits), JPEG's MAXCODE loop
        next_32 = np.int64(buffer >> np.uint64(32))
        found = False
        for long_length in range(lookup_bits + 1, max_length + 1):
            offset = (next_32 >> (32 - long_length)) - first_code[long_length]
            if 0 <= offset < n_codes[long_length]:
                out[i] = sorted_symbols[first_index[long_length] + offset]
                buffer <<= np.uint64(long_length)
                n_buffered -= long_length
                found = True
                break
        if not found:
            return BAD_CODE, 8 * (position - start_byte) - n_buffered
    consumed = 8 * (position - start_byte) - n_buffered
    if consumed > 8 * (n_bytes - start_byte):
        return PAST_END, consumed
    return OK, consumed


def decode_reference(
    data: bytes, start_byte: int, layout: CanonicalLayout, out: np.ndarray
) -> int:
    """Readable twin of ``decode_kernel``: canonical decoding one bit at a time.

    Fills ``out`` and returns the number of bits consumed; raises ``BitstreamError`` where the
    kernel returns an error status.
    """
    reader = BitReader(data, start_byte)
    for i in range(out.size):
        code = 0
        for length in range(1, layout.max_length + 1):
            code = (code << 1) | reader.read_bit()  # raises BitstreamError past the end
            offset = code - int(layout.first_code[length])
            if 0 <= offset < layout.n_codes[length]:
                out[i] = layout.sorted_symbols[layout.first_index[length] + offset]
                break
        else:
            raise BitstreamError(
                f"invalid code word for symbol {i} ending at bit {reader.position}"
            )
    return reader.position - 8 * start_byte


# --------------------------------------------------------------------------------------------
# The stored length table: runs of (6-bit length, Elias-gamma run count)
# --------------------------------------------------------------------------------------------
MAX_GAMMA_ZEROS = 16  # runs are at most 65536 = 2**16 long


@numba.njit(cache=True)
def _read_bits(data, bit_position, n_bits):  # pragma: no cover - compiled
    """``n_bits`` bits MSB-first from ``data`` (the caller checked they all exist)."""
    value = 0
    for k in range(bit_position, bit_position + n_bits):
        value = (value << 1) | ((data[k >> 3] >> (7 - (k & 7))) & 1)
    return value


@numba.njit(cache=True)
def read_length_runs_kernel(data, start_bit, lengths_out):  # pragma: no cover - compiled
    """Fill ``lengths_out`` from runs stored at ``start_bit``; return (status, end bit).

    Every read is checked against ``8 * data.shape[0]`` first: the data may be hostile.
    """
    n_bits = 8 * data.shape[0]
    position = start_bit
    filled = 0
    while filled < lengths_out.shape[0]:
        if position + 6 > n_bits:
            return PAST_END, position
        value = _read_bits(data, position, 6)
        position += 6
        if value > MAX_CODE_LENGTH:
            return BAD_LENGTH, position
        n_zeros = 0
        while True:  # Elias gamma: n zeros, then the n + 1 bits of the run, leading 1 first
            if position >= n_bits:
                return PAST_END, position
            if _read_bits(data, position, 1) == 1:
                break
            position += 1
            n_zeros += 1
            if n_zeros > MAX_GAMMA_ZEROS:
                return BAD_RUN, position
        if position + n_zeros + 1 > n_bits:
            return PAST_END, position
        run = _read_bits(data, position, n_zeros + 1)
        position += n_zeros + 1
        if run > lengths_out.shape[0] - filled:
            return BAD_RUN, position
        lengths_out[filled : filled + run] = value
        filled += run
    return OK, position


def read_length_runs_reference(data: bytes, start_bit: int, alphabet_size: int):
    """Readable twin of ``read_length_runs_kernel``: returns (lengths uint8, end bit)."""
    reader = BitReader(data, offset_bytes=start_bit // 8)  # the table starts on a byte
    lengths = np.zeros(alphabet_size, dtype=np.uint8)
    filled = 0
    while filled < alphabet_size:
        value = reader.read(6)
        if value > MAX_CODE_LENGTH:
            raise BitstreamError(f"code length above {MAX_CODE_LENGTH} ({value}) at bit "
                                 f"{reader.position - 6}")
        n_zeros = 0
        while reader.read_bit() == 0:
            n_zeros += 1
            if n_zeros > MAX_GAMMA_ZEROS:
                raise BitstreamError(f"run count too long at bit {reader.position}")
        run = (1 << n_zeros) | reader.read(n_zeros)
        if run > alphabet_size - filled:
            raise BitstreamError(f"run of {run} lengths overflows the alphabet at bit "
                                 f"{reader.position}")
        lengths[filled : filled + run] = value
        filled += run
    return lengths, reader.position


def length_runs_fields(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (codes, bit widths) of the stored table, ready for ``bitstream.pack_codes``.

    Each run of equal lengths becomes two fields: the length in 6 bits, then the run count ``r``
    in Elias gamma: ``r`` written in ``2 * floor(log2 r) + 1`` bits, i.e. its binary digits after
    as many zeros as there are digits after the leading 1.
    """
    starts = np.flatnonzero(np.r_[True, lengths[1:] != lengths[:-1]])
    runs = np.diff(np.r_[starts, lengths.size])
    values = lengths[starts]
    gamma_widths = 2 * (np.floor(np.log2(runs)).astype(np.int64)) + 1
    codes = np.column_stack([values, runs]).ravel().astype(np.uint64)
    widths = np.column_stack([np.full(runs.size, 6), gamma_widths]).ravel().astype(np.uint8)
    return codes, widths


# --------------------------------------------------------------------------------------------
# Dispatch: the compiled kernel or its twin, for validated tables
# --------------------------------------------------------------------------------------------
def encode_symbols(symbols, lengths, counts, use_numba: bool = True) -> tuple[bytes, int]:
    """Pack the codes of ``symbols`` (every used one has a length in 1..32); (bytes, n_bits)."""
    codes = canonical_codes_from_layout(lengths, canonical_layout(lengths))
    n_bits = int((counts * lengths).sum())  # known before packing: the kernel writes exactly
    if not use_numba:
        return encode_reference(symbols, codes, lengths), n_bits
    out = np.empty((n_bits + 7) // 8, dtype=np.uint8)
    n_written = encode_kernel(symbols, codes, lengths, out)
    assert n_written == out.size, "encode kernel wrote a different number of bytes than planned"
    return out.tobytes(), n_bits


def decode_symbols(data, start_byte, lengths, n_symbols, use_numba: bool = True) -> np.ndarray:
    """Decode ``n_symbols`` from uint8 ``data[start_byte:]`` with a validated ``lengths`` table.

    Returns uint8 symbols for alphabets up to 256, else uint16. Refuses, before allocating, a
    count of symbols that the available bits cannot hold (every code word has >= 1 bit).
    """
    dtype = np.uint8 if lengths.size <= 256 else np.uint16
    if n_symbols == 0:
        return np.zeros(0, dtype=dtype)
    used_lengths = lengths[lengths > 0]
    if used_lengths.size == 0:
        raise BitstreamError(f"{n_symbols} symbols announced but no symbol has a code")
    shortest = int(used_lengths.min())
    available_bits = 8 * (data.size - start_byte)
    if n_symbols * shortest > available_bits:
        raise BitstreamError(
            f"{n_symbols} symbols of at least {shortest} bits each cannot fit in the "
            f"{available_bits} payload bits starting at byte {start_byte}"
        )
    out = np.empty(n_symbols, dtype=dtype)
    if not use_numba:
        decode_reference(data.tobytes(), start_byte, canonical_layout(lengths), out)
        return out
    tables = DecodeTables.from_lengths(lengths)
    layout = tables.layout
    status, consumed = decode_kernel(
        data, start_byte, tables.lookup_bits, tables.lut_symbols, tables.lut_lengths,
        layout.n_codes, layout.first_code, layout.first_index, layout.sorted_symbols,
        layout.max_length, out,
    )
    if status != OK:
        raise BitstreamError(
            f"{STATUS_MESSAGES[status]} in the Huffman payload near byte "
            f"{start_byte + consumed // 8}"
        )
    return out


def read_length_table(data, start_bit, alphabet_size, use_numba: bool = True):
    """The stored code-length table: (lengths uint8 (alphabet_size,), bit where it ends)."""
    if not use_numba:
        return read_length_runs_reference(data.tobytes(), start_bit, alphabet_size)
    lengths = np.zeros(alphabet_size, dtype=np.uint8)
    status, end_bit = read_length_runs_kernel(data, start_bit, lengths)
    if status != OK:
        raise BitstreamError(
            f"{STATUS_MESSAGES[status]} in the code-length table near byte {end_bit // 8}"
        )
    return lengths, end_bit
