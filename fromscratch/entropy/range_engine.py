"""The range coder's engine in plain Python: the readable reference of chapter 1's coder.

``RangeEncoder`` narrows an integer interval ``[low, low + range)`` symbol by symbol and ships
its settled top bytes; ``RangeDecoder`` follows the same narrowing from the bytes. They work on
Python integers, slowly, and they are the specification: ``_range_kernels`` repeats each step as
a Numba helper and the tests pin the two to the same bytes.

* encoder state: ``low`` (33 bits: 32 plus the carry), ``range`` (the interval's width), and LZMA's
  carry handling: ``cache`` (the last settled byte, held back in case a carry arrives) and a count
  of 0xFF bytes queued behind it;
* decoder state: ``code`` (the stream's value minus ``low``, always below ``range``).

Out-of-support values in the CDF-table form are *escaped*: an escape symbol, then a sign bit and
an Exp-Golomb (order 0) magnitude as equiprobable raw bits (``encode_escape_reference``).

Decoders never read past ``data``: a byte beyond its end reads as 0, at most ``TAIL_ALLOWANCE``
of them (a valid stream never needs more); the kernels report problems as ``STATUS_*`` codes and
:func:`raise_for_status` turns them into :class:`~fromscratch.bitstream.BitstreamError`. Every
encoder kernel writes into a buffer of ``stream_capacity`` bytes, and ``stream_bytes`` turns its
status into the stream or an error; all the coders (``range_coder``, ``indexed_coder``,
``context_coder``, the MLP codec) share these two.
"""

from __future__ import annotations

from fromscratch.bitstream import BitstreamError

RANGE_BITS = 32
FULL_RANGE = 1 << RANGE_BITS  # the initial interval [0, 2**32)
RANGE_BOTTOM = 1 << 24  # renormalise (emit a byte) whenever the range falls below this
CARRY_ZONE = 0xFF000000  # a top byte 0xFF may still change if a carry arrives
LOW_MASK = FULL_RANGE - 1
TAIL_ALLOWANCE = 4  # bytes past the end a decoder may read (as zeros): the encoder trims them
CDF_SHIFT = 16  # CDF tables total exactly 2**16
MAX_BYPASS_CHUNK = 16  # raw bits coded per step; range >= 2**24 keeps 8 bits of slack
MAX_ESCAPE_ZEROS = 31  # Exp-Golomb prefix: escape magnitudes stay below 2**32

STATUS_OK = 0
STATUS_TRUNCATED = 1  # needed more than TAIL_ALLOWANCE bytes past the end
STATUS_OUTSIDE = 2  # the code value points into the unused top of the interval
STATUS_BAD_ESCAPE = 3  # escape prefix longer than any int32 value needs, or value beyond int32
STATUS_ZERO_FREQUENCY = 4  # encoder: a symbol of frequency 0 (its slice is empty)
STATUS_OUT_FULL = 5  # encoder: the output buffer was too small (a bug in the size bound)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# --- the coder in plain Python: the readable twin of the kernels' helpers ---------------------


class RangeEncoder:
    """The range encoder of the ``range_coder`` lecture, in plain Python integers.

    Examples
    --------
    >>> encoder = RangeEncoder()
    >>> encoder.encode(cum=0, freq=3, total=4)   # 'a' of p = 3/4
    >>> encoder.encode(cum=3, freq=1, total=4)   # 'b' of p = 1/4
    >>> encoder.finish()
    b'\\x90'
    """

    def __init__(self) -> None:
        self.low = 0  # 32 bits, plus bit 32 while a carry waits to be applied
        self.range = FULL_RANGE
        self._cache = 0  # LZMA's leading byte: always 0, dropped by finish()
        self._n_ff = 0
        self._out = bytearray()

    def encode(self, cum: int, freq: int, total: int) -> None:
        """Narrow to the slice ``cum .. cum + freq`` of ``total`` (freq >= 1, total <= 2**16)."""
        r = self.range // total
        self._narrow(r * cum, r * freq)

    def encode_bits(self, value: int, n_bits: int) -> None:
        """Code ``n_bits`` (1..16) raw bits: ``value`` out of ``2**n_bits`` equal slices."""
        self.encode(value, 1, 1 << n_bits)

    def _narrow(self, start: int, width: int) -> None:
        self.low += start
        self.range = width
        while self.range < RANGE_BOTTOM:  # the top byte of low is settled (but for a carry)
            self.range <<= 8
            self._shift_low()

    def _shift_low(self) -> None:
        if self.low < CARRY_ZONE or self.low >= FULL_RANGE:
            carry = self.low >> 32  # 0 or 1: ripples through the held-back byte and 0xFF run
            self._out.append((self._cache + carry) & 0xFF)
            self._out += bytes(((0xFF + carry) & 0xFF,)) * self._n_ff
            self._n_ff = 0
            self._cache = (self.low >> 24) & 0xFF
        else:
            self._n_ff += 1  # top byte 0xFF: a carry could still turn it into 0x00
        self.low = (self.low << 8) & LOW_MASK

    def finish(self) -> bytes:
        """Flush and return the stream: the fewest bytes that fix a value in the interval."""
        step, n_bytes = FULL_RANGE, 0
        while True:  # find V = k * step with [V, V + step) inside [low, low + range)
            value = -(-self.low // step) * step
            if value + step <= self.low + self.range:
                break
            step, n_bytes = step >> 8, n_bytes + 1
        self.low = value
        for _ in range(n_bytes + 1):  # the extra shift pushes out the held-back byte
            self._shift_low()
        assert self._out[0] == 0, "the leading byte cannot carry: V < 1 always"
        return bytes(self._out[1:])


class RangeDecoder:
    """Twin of ``RangeEncoder``: ``decode_slot`` then ``consume`` undoes one ``encode``.

    ``code`` holds the stream's value minus ``low`` (below ``range`` at all times). Bytes past the
    end read as 0, at most ``TAIL_ALLOWANCE`` of them; one more raises ``BitstreamError``.
    """

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)
        self._pos = 0
        self.symbol_index = 0  # maintained by the caller, for error messages
        self.code = 0
        for _ in range(4):
            self.code = (self.code << 8) | self._next_byte()
        self.range = FULL_RANGE
        self._r = 1

    def _next_byte(self) -> int:
        pos = self._pos
        if pos >= len(self._data) + TAIL_ALLOWANCE:
            raise BitstreamError(_truncated_message(self.symbol_index, pos, len(self._data)))
        self._pos = pos + 1
        return self._data[pos] if pos < len(self._data) else 0

    def decode_slot(self, total: int) -> int:
        """Which of ``total`` equal slots holds the value; some symbol's slice contains it."""
        self._r = self.range // total
        slot = self.code // self._r
        if slot >= total:  # the sliver range - r * total belongs to no symbol
            raise BitstreamError(_outside_message(self.symbol_index, self._pos))
        return slot

    def consume(self, cum: int, freq: int) -> None:
        """Undo ``encode(cum, freq, total)`` (after ``decode_slot(total)``)."""
        self.code -= self._r * cum
        self.range = self._r * freq
        while self.range < RANGE_BOTTOM:
            self.code = (self.code << 8) | self._next_byte()
            self.range <<= 8

    def decode_bits(self, n_bits: int) -> int:
        value = self.decode_slot(1 << n_bits)
        self.consume(value, 1)
        return value


def _truncated_message(symbol_index: int, pos: int, n_bytes: int) -> str:
    return (
        f"truncated range-coded stream: symbol {symbol_index} needs byte {pos} but the stream "
        f"has {n_bytes} bytes (+{TAIL_ALLOWANCE} implied zero bytes)"
    )


def _outside_message(symbol_index: int, pos: int) -> str:
    return (
        f"corrupt range-coded stream: at symbol {symbol_index} (near byte {pos}) the code value "
        "lies in no symbol's slice"
    )


# --- around the kernels: the output size, and their statuses as bytes or errors --------------


def stream_capacity(n_symbols: int, n_escapes: int = 0) -> int:
    """Bytes enough for any stream: <= 16.006 bits per symbol (totals <= 2**16, freq >= 1),
    <= 65 bits per escape tail, LZMA's leading byte and at most 4 flushed bytes."""
    return 2 * n_symbols + n_symbols // 512 + 9 * n_escapes + 16


def stream_bytes(result: tuple[int, int], out, symbols) -> bytes:
    """The stream an encoder kernel wrote into ``out`` (uint8, ``stream_capacity`` long).

    ``result`` is the kernel's ``(status, end)``: on ``STATUS_ZERO_FREQUENCY`` ``end`` is the
    index of the symbol that could not be coded (``ValueError``), on success the end of ``out``'s
    stream, which begins with LZMA's always-zero byte (dropped here).
    """
    status, value = result
    if status == STATUS_ZERO_FREQUENCY:
        raise ValueError(f"symbols[{value}] = {symbols[value]} has frequency 0: cannot be coded")
    if status != STATUS_OK:
        raise RuntimeError(f"range encoder kernel failed with status {status} (a bug)")
    assert out[0] == 0, "LZMA's leading byte cannot carry"
    return out[1:value].tobytes()


def raise_for_status(status: int, symbol_index: int, pos: int, n_bytes: int) -> None:
    if status == STATUS_TRUNCATED:
        raise BitstreamError(_truncated_message(symbol_index, pos - 1, n_bytes))
    if status == STATUS_OUTSIDE:
        raise BitstreamError(_outside_message(symbol_index, pos))
    if status == STATUS_BAD_ESCAPE:
        raise BitstreamError(
            f"corrupt range-coded stream: the escape at symbol {symbol_index} (near byte {pos}) "
            "codes a value beyond int32"
        )
    assert status == STATUS_OK, f"unknown decoder status {status}"


# --- escapes: sign + Exp-Golomb order 0, as raw bits ------------------------------------------


def encode_escape_reference(encoder: RangeEncoder, is_below: int, magnitude: int) -> None:
    encoder.encode_bits(is_below, 1)
    x = magnitude + 1  # Exp-Golomb: bit_length(x) - 1 zeros, then x itself from its top 1
    n_zeros = x.bit_length() - 1
    for _ in range(n_zeros):
        encoder.encode_bits(0, 1)
    encoder.encode_bits(1, 1)
    remaining = n_zeros
    while remaining > 0:
        chunk = min(remaining, MAX_BYPASS_CHUNK)
        remaining -= chunk
        encoder.encode_bits((x >> remaining) & ((1 << chunk) - 1), chunk)


def decode_escape_reference(decoder: RangeDecoder, first: int, last: int) -> int:
    """Value coded after an escape by a table covering ``first .. last``."""
    is_below = decoder.decode_bits(1)
    n_zeros = 0
    while decoder.decode_bits(1) == 0:
        n_zeros += 1
        if n_zeros > MAX_ESCAPE_ZEROS:
            raise BitstreamError(f"corrupt escape at symbol {decoder.symbol_index}: too long")
    x, remaining = 1, n_zeros
    while remaining > 0:
        chunk = min(remaining, MAX_BYPASS_CHUNK)
        remaining -= chunk
        x = (x << chunk) | decoder.decode_bits(chunk)
    value = first - x if is_below else last + x
    if not INT32_MIN <= value <= INT32_MAX:
        raise BitstreamError(f"corrupt escape at symbol {decoder.symbol_index}: beyond int32")
    return value
