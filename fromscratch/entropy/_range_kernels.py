"""The range coder's Numba kernels: the steps of ``range_engine``'s classes, compiled.

The three model kernels (static, adaptive, per-symbol CDF tables) call small helpers
(``_shift_low``, ``_narrow``, ``_finish``, ``_consume``) that repeat, line for line, what
``range_engine.RangeEncoder``/``RangeDecoder`` do; the tests pin every kernel to its twin (the
``*_reference`` functions of ``range_coder`` and ``indexed_coder``, built on the classes), byte
for byte. A kernel cannot keep its state in an object, so the state travels through the helpers
as plain integers and comes back as tuples, which LLVM inlines into the loops:

* encoder: ``low``, ``rng`` (the range width), ``cache``, ``n_ff`` and ``pos`` (bytes written to
  ``out``; -1 once ``out`` was too small, which the wrapper reports as a bug);
* decoder: ``code``, ``rng``, ``pos``.

Everything is int64, so no product or shift can overflow (the widest is ``range // total * cum <
2**32``) and Numba never mixes signed and unsigned (which would make it compute in float64).

No bounds checks exist in compiled code, so the Python wrappers validate every symbol, index and
table before calling. Decoders return ``(status, symbol_index, byte_position)``, encoders
``(status, n_bytes or symbol_index)``.
"""

from __future__ import annotations

import numba
import numpy as np

from fromscratch.entropy.range_engine import (
    CARRY_ZONE,
    CDF_SHIFT,
    FULL_RANGE,
    INT32_MAX,
    INT32_MIN,
    LOW_MASK,
    MAX_BYPASS_CHUNK,
    MAX_ESCAPE_ZEROS,
    RANGE_BITS,
    RANGE_BOTTOM,
    STATUS_BAD_ESCAPE,
    STATUS_OK,
    STATUS_OUT_FULL,
    STATUS_OUTSIDE,
    STATUS_TRUNCATED,
    STATUS_ZERO_FREQUENCY,
    TAIL_ALLOWANCE,
)

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
    if value < INT32_MIN or value > INT32_MAX:
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
