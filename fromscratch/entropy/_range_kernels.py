"""The range coder's engine, twice: readable Python classes and the Numba kernels they specify.

``RangeEncoder``/``RangeDecoder`` are the coder of the ``range_coder`` lecture in plain Python
integers: short, slow, and the reference. Below them the same steps are Numba helpers
(``_shift_low``, ``_narrow``, ``_finish``, ``_consume``), which the three model kernels call in
their loops; the tests pin every kernel to its twin (``range_coder``'s ``*_reference``
functions, built on the classes), byte for byte. A kernel cannot keep its state in an object, so
the state travels through the helpers as plain integers and comes back as tuples, which LLVM
inlines into the loops:

* encoder: ``low`` (33 bits: 32 plus the carry), ``rng`` (the range width), ``cache`` and
  ``n_ff`` (the byte held back for a possible carry and the 0xFF bytes queued behind it), ``pos``
  (bytes written to ``out``; -1 once ``out`` was too small, which the wrapper reports as a bug);
* decoder: ``code`` (the stream's value minus ``low``, always below ``rng``), ``rng``, ``pos``.

Everything is int64, so no product or shift can overflow (the widest is ``range // total * cum <
2**32``) and Numba never mixes signed and unsigned (which would make it compute in float64).

No bounds checks exist in compiled code, so the Python wrappers validate every symbol, index and
table before calling. The decoders never index past ``data``: a byte beyond its end reads as 0,
at most ``TAIL_ALLOWANCE`` of them (a valid stream never needs more), and one more returns
``STATUS_TRUNCATED``. Decoders return ``(status, symbol_index, byte_position)``, encoders
``(status, n_bytes or symbol_index)``.
"""

from __future__ import annotations

import numba
import numpy as np

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

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


# --- the coder in plain Python: the readable twin of the helpers below ------------------------


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
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise BitstreamError(f"corrupt escape at symbol {decoder.symbol_index}: beyond int32")
    return value


# --- encoder state helpers -------------------------------------------------------------------


@numba.njit(cache=True)
def _shift_low(low, cache, n_ff, out, pos):
    """Move the top byte of ``low`` into the output queue (LZMA's ``ShiftLow``)."""
    if low < CARRY_ZONE or low >= FULL_RANGE:
        # the held-back byte and the 0xFF run behind it are final now: a carry (bit 32 of low)
        # adds 1 to the held byte and turns every 0xFF into 0x00
        carry = low >> RANGE_BITS
        if pos < 0 or pos + n_ff + 1 > out.shape[0]:
            pos = -1
        else:
            out[pos] = (cache + carry) & 0xFF
            pos += 1
            for _ in range(n_ff):
                out[pos] = (0xFF + carry) & 0xFF
                pos += 1
        n_ff = 0
        cache = (low >> 24) & 0xFF
    else:
        n_ff += 1  # a 0xFF top byte: queue it, a later carry could still ripple through it
    return (low << 8) & LOW_MASK, cache, n_ff, pos


@numba.njit(cache=True)
def _narrow(low, rng, cache, n_ff, out, pos, start, width):
    """Replace [low, low + rng) by [low + start, low + start + width) and renormalise."""
    low += start
    rng = width
    while rng < RANGE_BOTTOM:
        rng <<= 8
        low, cache, n_ff, pos = _shift_low(low, cache, n_ff, out, pos)
    return low, rng, cache, n_ff, pos


@numba.njit(cache=True)
def _encode_bits(low, rng, cache, n_ff, out, pos, value, n_bits):
    """Code ``n_bits`` (<= 16) raw bits: the symbol ``value`` out of ``2**n_bits`` equal ones."""
    r = rng >> n_bits
    return _narrow(low, rng, cache, n_ff, out, pos, r * value, r)


@numba.njit(cache=True)
def _encode_escape_value(low, rng, cache, n_ff, out, pos, is_below, magnitude):
    """Sign bit, then Exp-Golomb order 0 of ``magnitude``: zeros, a 1, the bits below it."""
    low, rng, cache, n_ff, pos = _encode_bits(low, rng, cache, n_ff, out, pos, is_below, 1)
    x = magnitude + 1
    n_bits = 0
    while (x >> n_bits) > 1:
        n_bits += 1  # n_bits = bit_length(x) - 1 = number of prefix zeros
    for _ in range(n_bits):
        low, rng, cache, n_ff, pos = _encode_bits(low, rng, cache, n_ff, out, pos, 0, 1)
    low, rng, cache, n_ff, pos = _encode_bits(low, rng, cache, n_ff, out, pos, 1, 1)
    remaining = n_bits
    while remaining > 0:
        chunk = min(remaining, MAX_BYPASS_CHUNK)
        remaining -= chunk
        chunk_value = (x >> remaining) & ((1 << chunk) - 1)
        low, rng, cache, n_ff, pos = _encode_bits(
            low, rng, cache, n_ff, out, pos, chunk_value, chunk
        )
    return low, rng, cache, n_ff, pos


@numba.njit(cache=True)
def _finish(low, rng, cache, n_ff, out, pos):
    """Flush the fewest bytes that pin a value inside the final interval.

    Returns ``(status, n_bytes)``: bytes written to ``out``, LZMA's leading zero byte included.
    """
    step = FULL_RANGE
    n_bytes = 0
    while True:  # ends at n_bytes = 4 (step 1) at the latest
        value = (low + step - 1) // step * step
        if value + step <= low + rng:
            break
        step >>= 8
        n_bytes += 1
    low = value
    for _ in range(n_bytes + 1):  # one extra shift pushes out the held-back byte
        low, cache, n_ff, pos = _shift_low(low, cache, n_ff, out, pos)
    if pos < 0:
        return STATUS_OUT_FULL, 0
    return STATUS_OK, pos


# --- decoder state helpers -------------------------------------------------------------------


@numba.njit(cache=True)
def _start_decoder(data):
    code = 0
    for pos in range(RANGE_BITS // 8):
        code = (code << 8) | (data[pos] if pos < data.shape[0] else 0)
    return code, FULL_RANGE, RANGE_BITS // 8


@numba.njit(cache=True)
def _consume(code, rng, data, pos, start, width):
    """Mirror of ``_narrow``: step into the decoded slice and read bytes as the encoder wrote."""
    code -= start
    rng = width
    while rng < RANGE_BOTTOM:
        code = (code << 8) | (data[pos] if pos < data.shape[0] else 0)
        pos += 1
        rng <<= 8
    return code, rng, pos


@numba.njit(cache=True)
def _decode_bits(code, rng, data, pos, n_bits):
    """Mirror of ``_encode_bits``; value -1 flags a code value in the unused top slice."""
    r = rng >> n_bits
    value = code // r
    if value >> n_bits:
        return -1, code, rng, pos
    code, rng, pos = _consume(code, rng, data, pos, r * value, r)
    return value, code, rng, pos


@numba.njit(cache=True)
def _decode_escape_value(code, rng, data, pos, first, last):
    """Mirror of ``_encode_escape_value`` for a table covering ``first .. last``.

    Returns ``(status, value, code, rng, pos)``.
    """
    is_below, code, rng, pos = _decode_bits(code, rng, data, pos, 1)
    if is_below < 0:
        return STATUS_OUTSIDE, 0, code, rng, pos
    n_zeros = 0
    while True:
        bit, code, rng, pos = _decode_bits(code, rng, data, pos, 1)
        if bit < 0:
            return STATUS_OUTSIDE, 0, code, rng, pos
        if bit == 1:
            break
        n_zeros += 1
        if n_zeros > MAX_ESCAPE_ZEROS:  # no int32 value needs so many: stop a hostile run
            return STATUS_BAD_ESCAPE, 0, code, rng, pos
    x = 1
    remaining = n_zeros
    while remaining > 0:
        chunk = min(remaining, MAX_BYPASS_CHUNK)
        remaining -= chunk
        bits, code, rng, pos = _decode_bits(code, rng, data, pos, chunk)
        if bits < 0:
            return STATUS_OUTSIDE, 0, code, rng, pos
        x = (x << chunk) | bits
    value = first - x if is_below else last + x  # x = magnitude + 1 steps beyond the support
    if value < _INT32_MIN or value > _INT32_MAX:
        return STATUS_BAD_ESCAPE, 0, code, rng, pos
    return STATUS_OK, value, code, rng, pos


# --- static model ----------------------------------------------------------------------------


@numba.njit(cache=True)
def _slot_width(rng, total, total_shift):
    """``rng // total``; a shift when ``total == 2**total_shift`` (same value, ~15% faster)."""
    return rng >> total_shift if total_shift >= 0 else rng // total


@numba.njit(cache=True)
def encode_static_kernel(symbols, cum_freqs, total, total_shift, out):
    """``symbols`` (n,) in range; ``cum_freqs`` int64 (n_symbols + 1,); ``out`` big enough.

    ``total_shift`` is ``log2(total)`` for a power-of-two total (what ``quantize_frequencies``
    makes), else -1.

    Returns ``(status, n_bytes)``, or ``(STATUS_ZERO_FREQUENCY, i)`` for a symbol of frequency 0
    (checked here, where it is free: an empty slice would make renormalisation loop forever).
    """
    low, rng, cache, n_ff, pos = 0, FULL_RANGE, 0, 0, 0
    for i in range(symbols.shape[0]):
        s = symbols[i]
        r = _slot_width(rng, total, total_shift)
        start = r * cum_freqs[s]
        width = r * (cum_freqs[s + 1] - cum_freqs[s])
        if width == 0:
            return STATUS_ZERO_FREQUENCY, i
        low, rng, cache, n_ff, pos = _narrow(low, rng, cache, n_ff, out, pos, start, width)
    return _finish(low, rng, cache, n_ff, out, pos)


@numba.njit(cache=True)
def decode_static_kernel(data, cum_freqs, total, total_shift, symbol_of_slot, out):
    """``symbol_of_slot`` (total,): the symbol whose slice holds each value of ``code // r``."""
    code, rng, pos = _start_decoder(data)
    limit = data.shape[0] + TAIL_ALLOWANCE
    for i in range(out.shape[0]):
        r = _slot_width(rng, total, total_shift)
        slot = code // r
        if slot >= total:
            return STATUS_OUTSIDE, i, pos
        s = symbol_of_slot[slot]
        start = r * cum_freqs[s]
        width = r * (cum_freqs[s + 1] - cum_freqs[s])
        code, rng, pos = _consume(code, rng, data, pos, start, width)
        if pos > limit:
            return STATUS_TRUNCATED, i, pos
        out[i] = s
    return STATUS_OK, out.shape[0], pos


# --- adaptive model --------------------------------------------------------------------------


@numba.njit(cache=True)
def _update_counts(counts, total, s, increment, limit):
    counts[s] += increment
    total += increment
    if total > limit:
        total = 0
        for k in range(counts.shape[0]):
            counts[k] = (counts[k] + 1) >> 1  # halve, but never to 0
            total += counts[k]
    return total


@numba.njit(cache=True)
def encode_adaptive_kernel(symbols, alphabet_size, increment, limit, out):
    counts = np.ones(alphabet_size, np.int64)
    total = alphabet_size
    low, rng, cache, n_ff, pos = 0, FULL_RANGE, 0, 0, 0
    for i in range(symbols.shape[0]):
        s = symbols[i]
        cum = 0
        for k in range(s):  # O(alphabet_size) per symbol: fine for a few hundred symbols
            cum += counts[k]
        r = rng // total
        low, rng, cache, n_ff, pos = _narrow(
            low, rng, cache, n_ff, out, pos, r * cum, r * counts[s]
        )
        total = _update_counts(counts, total, s, increment, limit)
    return _finish(low, rng, cache, n_ff, out, pos)


@numba.njit(cache=True)
def decode_adaptive_kernel(data, alphabet_size, increment, limit, out):
    counts = np.ones(alphabet_size, np.int64)
    total = alphabet_size
    code, rng, pos = _start_decoder(data)
    limit_pos = data.shape[0] + TAIL_ALLOWANCE
    for i in range(out.shape[0]):
        r = rng // total
        slot = code // r
        if slot >= total:
            return STATUS_OUTSIDE, i, pos
        s = 0
        cum = 0
        while cum + counts[s] <= slot:  # stops at the latest at the last symbol: slot < total
            cum += counts[s]
            s += 1
        code, rng, pos = _consume(code, rng, data, pos, r * cum, r * counts[s])
        if pos > limit_pos:
            return STATUS_TRUNCATED, i, pos
        out[i] = s
        total = _update_counts(counts, total, s, increment, limit)
    return STATUS_OK, out.shape[0], pos


# --- per-symbol CDF tables -------------------------------------------------------------------


@numba.njit(cache=True)
def encode_with_indexes_kernel(symbols, indexes, cdfs, cdf_lengths, offsets, out):
    low, rng, cache, n_ff, pos = 0, FULL_RANGE, 0, 0, 0
    for i in range(symbols.shape[0]):
        t = indexes[i]
        escape = cdf_lengths[t] - 2
        value = np.int64(symbols[i]) - offsets[t]
        s = value if 0 <= value < escape else escape
        r = rng >> CDF_SHIFT
        start = r * cdfs[t, s]
        width = r * (cdfs[t, s + 1] - cdfs[t, s])
        low, rng, cache, n_ff, pos = _narrow(low, rng, cache, n_ff, out, pos, start, width)
        if s == escape:
            is_below = 1 if value < 0 else 0
            magnitude = -value - 1 if value < 0 else value - escape
            low, rng, cache, n_ff, pos = _encode_escape_value(
                low, rng, cache, n_ff, out, pos, is_below, magnitude
            )
    return _finish(low, rng, cache, n_ff, out, pos)


@numba.njit(cache=True)
def decode_with_indexes_kernel(data, indexes, cdfs, cdf_lengths, offsets, out):
    code, rng, pos = _start_decoder(data)
    limit = data.shape[0] + TAIL_ALLOWANCE
    for i in range(out.shape[0]):
        t = indexes[i]
        r = rng >> CDF_SHIFT
        slot = code // r
        if slot >> CDF_SHIFT:
            return STATUS_OUTSIDE, i, pos
        lo = 0  # binary search, invariant cdf[lo] <= slot < cdf[hi]
        hi = cdf_lengths[t] - 1
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if cdfs[t, mid] <= slot:
                lo = mid
            else:
                hi = mid
        start = r * cdfs[t, lo]
        width = r * (cdfs[t, lo + 1] - cdfs[t, lo])
        code, rng, pos = _consume(code, rng, data, pos, start, width)
        escape = cdf_lengths[t] - 2
        if lo < escape:
            value = np.int64(offsets[t]) + lo
        else:
            first = np.int64(offsets[t])
            status, value, code, rng, pos = _decode_escape_value(
                code, rng, data, pos, first, first + escape - 1
            )
            if status != STATUS_OK:
                return status, i, pos
        if pos > limit:
            return STATUS_TRUNCATED, i, pos
        out[i] = value
    return STATUS_OK, out.shape[0], pos
