"""Bits in, bits out: writing and reading a stream of bits that do not line up with bytes.

What a bitstream is
-------------------
Files count in bytes, but entropy coders think in bits: a Huffman code may give ``e`` the 3-bit
word ``101`` and ``z`` the 11-bit word ``10011101100``. A *bitstream* glues such words end to end,
with no gaps, and only at the very end chops the result into bytes. ``BitWriter`` glues,
``BitReader`` un-glues, and ``pack_codes`` glues a whole array of code words in one fast call.

MSB-first order
---------------
Inside a byte we must agree which bit comes "first". Like JPEG and most textbooks (Deflate, in
zip and PNG, fills bytes from the other end) we go *most significant bit first*: the first bit
written is the ``0x80`` bit of byte 0, the ninth the ``0x80`` bit of byte 1, and every value goes
in from its top bit down, so the stream reads left to right like binary written on paper::

    write(0b101, 3); write(0b1, 1)   ->   1011 ....   ->   0b1011_0000 = 0xB0 after padding

Why byte alignment
------------------
Storage holds whole bytes, and a decoder can only seek to byte offsets, so formats pad to a byte
boundary (``BitWriter.align``) at the end and between sections, and the reader skips the same
padding (``BitReader.align``). Padding bits look like any other bits: the reader must be told how
many bits are real (``n_bits``) or know from the data when to stop. JPEG pads with ones, not
zeros, hence ``fill_bit``.

Packing many variable-length codes at once
------------------------------------------
An encoder that has turned an image into one code word (``codes[i]``, ``lengths[i]`` bits) per
symbol must glue them all. A million ``BitWriter.write`` calls take roughly 0.3 s in Python;
``pack_codes`` does the same in a compiled loop (about 30x faster) with a 64-bit *accumulator*:

1. shift the accumulator left by ``lengths[i]`` and OR the code into the freed low bits;
2. while at least 8 bits are pending, copy the top 8 pending bits out as one byte.

After step 2 at most 7 bits are pending, so a code may have up to ``64 - 7 = 57`` bits
(``MAX_PACKED_CODE_LENGTH``) before the accumulator overflows; JPEG needs at most 16 + 11.
``pack_codes_reference`` gets the same bytes the slow, obvious way; the tests pin the two together.
"""

from __future__ import annotations

import operator

import numba
import numpy as np

__all__ = [
    "MAX_PACKED_CODE_LENGTH",
    "BitReader",
    "BitWriter",
    "BitstreamError",
    "as_byte_array",
    "pack_codes",
    "pack_codes_reference",
    "unpack_bits",
]

MAX_PACKED_CODE_LENGTH = 57  # 64-bit accumulator minus the 7 bits that may still be pending


class BitstreamError(ValueError):
    """Malformed, truncated or hostile compressed data.

    Every decoder in the package raises this (and nothing else) for bad input, with a message that
    says what was wrong and, when known, at which byte offset. It is a ``ValueError``, so callers
    that already catch ``ValueError`` keep working.
    """


def as_byte_array(data) -> np.ndarray:
    """Any bytes-like ``data`` (bytes, bytearray, memoryview, uint8 array) as a flat uint8 array.

    No copy: the array is a read-only view when ``data`` is ``bytes``. What Numba decoders read.
    """
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


def _check_bit(bit: int, name: str) -> int:
    bit = operator.index(bit)
    if bit not in (0, 1):
        raise ValueError(f"{name} must be 0 or 1, got {bit}")
    return bit


class BitWriter:
    """Append values of any bit width to a growing stream, most significant bit first.

    Whole bytes go straight into a ``bytearray``; the 0 to 7 bits that do not yet fill a byte wait
    in a small Python int (``_pending``), so each ``write`` costs a handful of integer operations.

    Examples
    --------
    >>> writer = BitWriter()
    >>> writer.write(0b101, 3); writer.write_bit(1)
    >>> writer.bit_length, writer.getvalue()
    (4, b'\\xb0')
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending = 0  # the low `_n_pending` bits are real, never more than 7 of them
        self._n_pending = 0

    def write(self, value: int, nbits: int) -> None:
        """Append the ``nbits`` low bits of ``value``, most significant first.

        Parameters
        ----------
        value : int
            Non-negative integer below ``2**nbits`` (NumPy integers are fine).
        nbits : int
            Number of bits, 0 to 64. Writing 0 bits (of the value 0) does nothing.

        Raises
        ------
        ValueError
            If ``nbits`` is out of range or ``value`` is negative or does not fit in ``nbits``.
        """
        value = operator.index(value)
        nbits = operator.index(nbits)
        if not 0 <= nbits <= 64:
            raise ValueError(f"nbits must be in 0..64, got {nbits}")
        if value < 0 or value >> nbits:
            # silently dropping high bits would corrupt the stream far from the real bug
            raise ValueError(f"value {value} does not fit in {nbits} unsigned bits")
        accumulator = (self._pending << nbits) | value
        n_pending = self._n_pending + nbits
        if n_pending >= 8:
            n_whole_bytes, n_pending = divmod(n_pending, 8)
            self._buffer += (accumulator >> n_pending).to_bytes(n_whole_bytes, "big")
            accumulator &= (1 << n_pending) - 1
        self._pending = accumulator
        self._n_pending = n_pending

    def write_bit(self, bit: int) -> None:
        """Append one bit (0 or 1)."""
        self.write(_check_bit(bit, "bit"), 1)

    def align(self, fill_bit: int = 0) -> None:
        """Pad with ``fill_bit`` up to the next byte boundary (nothing if already aligned)."""
        fill_bit = _check_bit(fill_bit, "fill_bit")
        n_padding = -self._n_pending % 8
        self.write(((1 << n_padding) - 1) * fill_bit, n_padding)

    @property
    def bit_length(self) -> int:
        """Number of bits written so far, padding from ``align`` included."""
        return 8 * len(self._buffer) + self._n_pending

    def getvalue(self) -> bytes:
        """The stream as bytes, a last partial byte padded with zero bits.

        The padding goes into the returned copy only: the writer keeps its pending bits, so later
        writes continue exactly where the stream left off and ``bit_length`` is unchanged.
        """
        if self._n_pending == 0:
            return bytes(self._buffer)
        last_byte = self._pending << (8 - self._n_pending)
        return bytes(self._buffer) + bytes((last_byte,))


class BitReader:
    """Read values of any bit width from bytes, most significant bit first.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The stream. It is copied once (unless it already is ``bytes``), so later changes to a
        ``bytearray`` do not leak into the reader.
    offset_bytes : int, optional
        Byte at which reading starts. ``position`` and ``byte_position`` count from the start of
        ``data``, not from this offset, so error messages point at the real place in a file.

    Examples
    --------
    >>> reader = BitReader(b'\\xb0')
    >>> reader.read(3), reader.read_bit(), reader.bits_left
    (5, 1, 4)
    """

    def __init__(self, data: bytes | bytearray | memoryview, offset_bytes: int = 0) -> None:
        self._data = data if type(data) is bytes else memoryview(data).tobytes()
        offset_bytes = operator.index(offset_bytes)
        if not 0 <= offset_bytes <= len(self._data):
            raise ValueError(f"offset_bytes must be in 0..{len(self._data)}, got {offset_bytes}")
        self._position = 8 * offset_bytes
        self._end = 8 * len(self._data)

    @property
    def position(self) -> int:
        """Index of the next bit to read, counted in bits from the start of ``data``."""
        return self._position

    @property
    def byte_position(self) -> int:
        """Index of the byte holding the next bit: ``position // 8``, counted from ``data[0]``."""
        return self._position >> 3

    @property
    def bits_left(self) -> int:
        """Number of bits between ``position`` and the end of ``data``."""
        return self._end - self._position

    def _fail_past_end(self, nbits: int) -> BitstreamError:
        return BitstreamError(
            f"truncated bitstream: asked for {nbits} bits at bit position {self._position} "
            f"(byte {self._position >> 3}, bit {self._position & 7}) but only {self.bits_left} "
            f"bits are left in {len(self._data)} bytes"
        )

    def peek(self, nbits: int) -> int:
        """Return the next ``nbits`` bits as an unsigned int without consuming them.

        Raises ``ValueError`` if ``nbits < 0`` and ``BitstreamError`` if fewer bits are left.
        """
        nbits = operator.index(nbits)
        if nbits < 0:
            raise ValueError(f"nbits must be >= 0, got {nbits}")
        if nbits > self._end - self._position:
            raise self._fail_past_end(nbits)
        # decode only the bytes the bits touch, so a read costs O(nbits), not O(len(data))
        first_byte = self._position >> 3
        stop_bit = self._position + nbits
        stop_byte = (stop_bit + 7) >> 3
        chunk = int.from_bytes(self._data[first_byte:stop_byte], "big")
        return (chunk >> (8 * stop_byte - stop_bit)) & ((1 << nbits) - 1)

    def read(self, nbits: int) -> int:
        """Consume the next ``nbits`` bits and return them as an unsigned int (``read(0) == 0``).

        Raises the same errors as ``peek``; on error the position does not move.
        """
        value = self.peek(nbits)
        self._position += nbits
        return value

    def read_bit(self) -> int:
        """Consume and return the next bit (0 or 1)."""
        position = self._position
        if position >= self._end:
            raise self._fail_past_end(1)
        self._position = position + 1
        return (self._data[position >> 3] >> (7 - (position & 7))) & 1

    def align(self) -> None:
        """Skip the padding bits up to the next byte boundary (nothing if already aligned)."""
        self._position = (self._position + 7) & ~7


def _validated_codes(codes, lengths) -> tuple[np.ndarray, np.ndarray, int]:
    """Check ``codes``/``lengths`` for everything the kernel cannot (it has no bounds checks).

    Returns contiguous ``uint64`` codes, ``uint8`` lengths and the exact total bit count.
    """
    codes = np.asarray(codes)
    lengths = np.asarray(lengths)
    if codes.ndim != 1 or lengths.ndim != 1 or codes.shape != lengths.shape:
        raise ValueError(
            f"codes and lengths must be 1-D arrays of equal length, got shapes {codes.shape} "
            f"and {lengths.shape}"
        )
    if codes.size == 0:  # np.asarray([]) is float64; an empty list is still a valid input
        return np.zeros(0, np.uint64), np.zeros(0, np.uint8), 0
    for name, array in (("codes", codes), ("lengths", lengths)):
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} must have an integer dtype, got {array.dtype}")
    if lengths.min() < 0 or lengths.max() > MAX_PACKED_CODE_LENGTH:
        raise ValueError(
            f"lengths must be in 0..{MAX_PACKED_CODE_LENGTH}, got values in "
            f"{lengths.min()}..{lengths.max()}"
        )
    if codes.min() < 0:
        raise ValueError(f"codes must be non-negative, got {codes.min()}")
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    lengths = np.ascontiguousarray(lengths, dtype=np.uint8)
    too_wide = np.flatnonzero(codes >> lengths.astype(np.uint64))
    if too_wide.size:
        i = too_wide[0]
        raise ValueError(
            f"codes[{i}] = {codes[i]} does not fit in lengths[{i}] = {lengths[i]} bits"
        )
    # int64 sum: a uint8 sum would wrap after 255 bits
    return codes, lengths, int(lengths.sum(dtype=np.int64))


@numba.njit(cache=True)
def _pack_codes_kernel(codes, lengths, out):
    """Glue ``codes[i]`` (``lengths[i]`` bits each) MSB-first into the zeroed ``out``.

    ``codes`` uint64 (n,), ``lengths`` uint8 (n,) in 0..57, ``out`` uint8 (ceil(sum/8),).
    Everything is validated by the caller: Numba would write out of bounds without a word.
    Returns the number of bytes written, a cheap self-check for the caller.
    """
    accumulator = np.uint64(0)
    n_pending = 0  # real bits at the bottom of the accumulator, at most 7 between codes
    n_written = 0
    for i in range(codes.shape[0]):
        # uint64 on both sides: mixing uint64 with int64 would make Numba compute in float64
        accumulator = (accumulator << np.uint64(lengths[i])) | codes[i]
        n_pending += lengths[i]
        while n_pending >= 8:
            n_pending -= 8
            out[n_written] = np.uint8((accumulator >> np.uint64(n_pending)) & np.uint64(0xFF))
            n_written += 1
        # drop the bits already flushed so the accumulator holds exactly the pending ones
        accumulator &= (np.uint64(1) << np.uint64(n_pending)) - np.uint64(1)
    if n_pending > 0:  # the last partial byte, zero-padded on the right
        out[n_written] = np.uint8((accumulator << np.uint64(8 - n_pending)) & np.uint64(0xFF))
        n_written += 1
    return n_written


def pack_codes(codes, lengths, use_numba: bool = True) -> tuple[bytes, int]:
    """Concatenate variable-length codes into a MSB-first bitstream.

    Parameters
    ----------
    codes : array_like of int, shape (n,)
        Code words; ``codes[i] < 2**lengths[i]``. Stored as ``uint64``.
    lengths : array_like of int, shape (n,)
        Bit length of each code word, 0 to ``MAX_PACKED_CODE_LENGTH`` (57).
    use_numba : bool, optional
        ``True`` (default) runs the compiled kernel; ``False`` runs ``pack_codes_reference``.

    Returns
    -------
    data : bytes, length ``ceil(n_bits / 8)``
        The packed stream, last byte padded with zero bits.
    n_bits : int
        Exact number of meaningful bits, ``sum(lengths)``.

    Raises
    ------
    ValueError
        On mismatched or non-1-D shapes, non-integer dtypes, lengths out of range, or codes that
        are negative or do not fit their length. Checked before the kernel runs.

    Examples
    --------
    >>> pack_codes([0b101, 0b1], [3, 1])
    (b'\\xb0', 4)
    """
    if not use_numba:
        return pack_codes_reference(codes, lengths)
    codes, lengths, n_bits = _validated_codes(codes, lengths)
    out = np.zeros((n_bits + 7) // 8, dtype=np.uint8)
    n_written = _pack_codes_kernel(codes, lengths, out)
    assert n_written == out.size, "pack kernel wrote a different number of bytes than planned"
    return out.tobytes(), n_bits


def pack_codes_reference(codes, lengths) -> tuple[bytes, int]:
    """Readable NumPy twin of ``pack_codes``: same arguments, same result, no compiler.

    Lays the codes out as a table with one row per code and one ``uint8`` column per bit (memory:
    ``n * max(lengths)`` bytes), keeps each row's first ``lengths[i]`` entries, and lets
    ``np.packbits`` glue the surviving bits into bytes.
    """
    codes, lengths, n_bits = _validated_codes(codes, lengths)
    if n_bits == 0:
        return b"", 0
    lengths = lengths.astype(np.int64)
    max_length = int(lengths.max())
    # bit_table[i, k] = bit k of code i counted from its MSB; columns k >= lengths[i] are junk
    bit_table = np.zeros((codes.size, max_length), dtype=np.uint8)
    for k in range(max_length):
        shift = np.maximum(lengths - 1 - k, 0).astype(np.uint64)
        bit_table[:, k] = (codes >> shift) & np.uint64(1)
    # boolean indexing walks the table row by row, so this concatenates every code's real bits
    bits = bit_table[np.arange(max_length) < lengths[:, None]]
    return np.packbits(bits, bitorder="big").tobytes(), n_bits


def unpack_bits(data: bytes | bytearray | memoryview, n_bits: int) -> np.ndarray:
    """The first ``n_bits`` bits of ``data`` as an array of 0/1, MSB-first (for inspection).

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        Packed bits, e.g. the first result of ``pack_codes``.
    n_bits : int
        How many bits to unpack, 0 to ``8 * len(data)`` (else ``ValueError``).

    Returns
    -------
    bits : numpy.ndarray of uint8, shape (n_bits,)
    """
    as_bytes = as_byte_array(data)
    n_bits = operator.index(n_bits)
    if not 0 <= n_bits <= 8 * as_bytes.size:
        raise ValueError(
            f"n_bits must be in 0..{8 * as_bytes.size} for {as_bytes.size} bytes, got {n_bits}"
        )
    return np.unpackbits(as_bytes, count=n_bits, bitorder="big")
