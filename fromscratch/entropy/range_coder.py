"""Arithmetic coding as integer range coding, with a static and an adaptive model.

Coding by narrowing an interval
-------------------------------
Huffman gives every symbol a whole number of bits, so a symbol of probability 0.9 still costs a
full bit instead of ``-log2 0.9 = 0.15``. Arithmetic coding removes the rounding by coding the
whole message as *one number*. Start from the interval [0, 1); for each symbol cut the current
interval into slices proportional to the symbol probabilities and keep the symbol's slice::

    p(a) = 0.75, p(b) = 0.25          [0, 1)  --a-->  [0, 0.75)  --b-->  [0.5625, 0.75)

The final width is the product of the probabilities, ``P(message)``, and a binary fraction with
about ``-log2 P(message)`` bits lands inside it: exactly the information content, to within two
bits for the whole message. The decoder repeats the cuts and reads off which slice the number is
in. Elias had the idea around 1960 but it needed infinite precision; Rissanen and Pasco (1976)
showed how to do it with finite-precision integers, and G. N. N. Martin (1979) gave the byte-wise
*range coder* used here, the form in LZMA, CABAC-like video coders and learned image codecs.

Integers, renormalisation and the carry
---------------------------------------
The interval is ``[low, low + range)`` with 32-bit integers. A symbol with cumulative frequency
``cum`` and frequency ``f`` out of a total ``T`` narrows it with ``r = range // T``::

    low += r * cum;   range = r * f

Only integer operations, so encoder and decoder (on any machine) compute identical intervals.
When ``range`` falls below ``2**24`` the top byte of ``low`` can no longer change - except by a
carry - so it is shipped and both registers shift left by 8 (*renormalisation*); ``range`` stays
between ``2**24`` and ``2**32``. The carry is the one subtlety: ``low + r * cum`` may overflow
past ``2**32`` and must add 1 to bytes already shipped. We use LZMA's answer (Pavlov, "cache +
carry"): keep the last settled byte back in ``cache`` and count the ``0xFF`` bytes behind it
(``n_ff``); a carry turns ``cache, FF, FF`` into ``cache + 1, 00, 00``, and no carry turns them
out as they are. (Subbotin's *carryless* coder instead shrinks the range so no carry can occur,
wasting a little space; the cache costs only a counter.)

Why totals of at most 2**16
---------------------------
``r = range // T`` throws away ``range mod T``, up to ``T / range <= T / 2**24`` of the interval:
for ``T = 2**16`` at most 1/256 of a symbol's slice (0.0056 bits), about 0.0002 bits on average.
A larger ``T`` wastes more, and ``T > 2**24`` would make ``r`` zero. So every model here totals at
most ``2**16``, and every symbol that may occur needs a frequency of at least 1
(``cdf_tables.quantize_frequencies`` builds such tables from counts).

Stream format
-------------
The bytes of one number ``V``, most significant first, with no header: the caller stores the
symbol count and the model. LZMA's first byte, always 0, is dropped. The encoder ends with the
fewest bytes that pin ``V`` inside the final interval *whatever follows*, so junk appended after a
stream changes nothing; the decoder reads missing bytes as 0, at most ``TAIL_ALLOWANCE`` (4) of
them, and raises ``BitstreamError`` if it needs more. A message of certain symbols (probability
1) costs 0 bytes.

The models
----------
This module holds the two models that code a whole message with one table: *static* (``encode``,
``decode``: the caller measured the frequencies and stores them) and *adaptive*
(``encode_adaptive``, ``decode_adaptive``: counts learned on the way, nothing stored). The third
model, a table per symbol chosen by index for learned codecs, is ``indexed_coder``'s
(``encode_with_indexes``, ``decode_with_indexes``, re-exported here), and one adaptive table per
context is ``context_coder``'s. Every model comes twice: a compiled kernel and a pure-Python twin
(``use_numba=False``) built on ``RangeEncoder``/``RangeDecoder``, the coder above in a few lines of
plain integers (they live in ``range_engine``, the kernels in ``_range_kernels``); the tests pin
the two to equal bytes.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from fromscratch.bitstream import as_byte_array
from fromscratch.entropy import _range_kernels as kernels
from fromscratch.entropy.cdf_tables import (
    CDF_PRECISION,
    MAX_SYMBOLS,
    MAX_TOTAL,
    cdf_tables_from_pmfs,
    check_adaptive_model,
    check_decode_count,
    check_symbols,
    cumulative_frequencies,
    pmf_to_quantized_cdf,
    quantize_frequencies,
    symbol_dtype,
)
from fromscratch.entropy.indexed_coder import decode_with_indexes, encode_with_indexes
from fromscratch.entropy.range_engine import (
    TAIL_ALLOWANCE,
    RangeDecoder,
    RangeEncoder,
    raise_for_status,
    stream_bytes,
    stream_capacity,
)

__all__ = [
    "CDF_PRECISION",
    "MAX_SYMBOLS",
    "MAX_TOTAL",
    "TAIL_ALLOWANCE",
    "RangeDecoder",
    "RangeEncoder",
    "cdf_tables_from_pmfs",
    "decode",
    "decode_adaptive",
    "decode_with_indexes",
    "encode",
    "encode_adaptive",
    "encode_with_indexes",
    "pmf_to_quantized_cdf",
    "quantize_frequencies",
]


def _shift_of(total: int) -> int:
    """``log2(total)`` if ``total`` is a power of two (the kernels then shift), else -1."""
    return total.bit_length() - 1 if total & (total - 1) == 0 else -1


# --- static model -------------------------------------------------------------------------------


def encode(symbols, freqs, *, use_numba: bool = True) -> bytes:
    """Range-code ``symbols`` with fixed frequencies.

    Parameters
    ----------
    symbols : array_like of int, any shape (flattened in C order)
        Values in ``0 .. len(freqs) - 1``.
    freqs : array_like of int, shape (n_symbols,)
        Non-negative frequencies; a total above 2**16 is rescaled with ``quantize_frequencies``
        (see ``cdf_tables.cumulative_frequencies``). Symbol ``s`` costs ``log2(total / f[s])``.
    use_numba : bool, optional
        ``False`` runs the pure-Python twin (same bytes, about 50x slower: ~2 MB/s).

    Returns
    -------
    bytes
        The stream; store ``symbols.size`` and ``freqs`` beside it for ``decode``.

    Raises
    ------
    ValueError
        If a symbol is out of range or has frequency 0, or ``freqs`` is invalid.
    """
    cum_freqs, total = cumulative_frequencies(freqs)
    symbols = check_symbols(symbols, 0, cum_freqs.size - 2)
    if not use_numba:
        return _encode_static_reference(symbols, cum_freqs, total)
    out = np.empty(stream_capacity(symbols.size), np.uint8)
    result = kernels.encode_static_kernel(symbols, cum_freqs, total, _shift_of(total), out)
    return stream_bytes(result, out, symbols)


def decode(data, freqs, n: int, *, use_numba: bool = True) -> np.ndarray:
    """Decode ``n`` symbols coded by ``encode`` with the same ``freqs``.

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``uint8`` if ``len(freqs) <= 256``, else ``int32``.

    Raises
    ------
    BitstreamError
        If the stream is too short for ``n`` symbols or provably corrupt. (Most corruption
        cannot be detected: it decodes to other valid symbols.)
    ValueError
        On invalid ``freqs`` or ``n``.
    """
    cum_freqs, total = cumulative_frequencies(freqs)
    freqs = np.diff(cum_freqs)
    data = as_byte_array(data)
    n = check_decode_count(n, data.size, int(freqs.max()), total)
    dtype = symbol_dtype(freqs.size)
    if not use_numba:
        return _decode_static_reference(data, cum_freqs, total, n, dtype)
    # slot -> symbol table (<= 2**16 entries): decoding becomes one division and one lookup
    symbol_of_slot = np.repeat(np.arange(freqs.size, dtype=dtype), freqs)
    out = np.empty(n, dtype)
    status, i, pos = kernels.decode_static_kernel(
        data, cum_freqs, total, _shift_of(total), symbol_of_slot, out
    )
    raise_for_status(status, i, pos, data.size)
    return out


def _encode_static_reference(symbols, cum_freqs, total) -> bytes:
    encoder = RangeEncoder()
    cum = cum_freqs.tolist()
    for i, s in enumerate(symbols.tolist()):
        if cum[s + 1] == cum[s]:
            raise ValueError(f"symbols[{i}] = {s} has frequency 0: cannot be coded")
        encoder.encode(cum[s], cum[s + 1] - cum[s], total)
    return encoder.finish()


def _decode_static_reference(data, cum_freqs, total, n, dtype) -> np.ndarray:
    decoder = RangeDecoder(data)
    cum = cum_freqs.tolist()
    out = np.empty(n, dtype)
    for i in range(n):
        decoder.symbol_index = i
        slot = decoder.decode_slot(total)
        s = bisect_right(cum, slot) - 1  # the last symbol starting at or before slot
        decoder.consume(cum[s], cum[s + 1] - cum[s])
        out[i] = s
    return out


# --- adaptive model -----------------------------------------------------------------------------


def encode_adaptive(
    symbols, alphabet_size: int, *, increment: int = 32, limit: int = MAX_TOTAL,
    use_numba: bool = True,
) -> bytes:
    """Range-code ``symbols`` with counts learned on the way (no table to transmit).

    Every count starts at 1; after each symbol its count grows by ``increment``; when the total
    exceeds ``limit`` all counts are halved (rounding up, so none reaches 0), which bounds the
    total for the coder and makes the model forget old statistics. The decoder repeats the same
    updates. Finding a cumulative count is a linear scan, O(alphabet_size) per symbol: fine up to
    a few hundred symbols (a Fenwick tree would make it O(log n) for larger alphabets).

    Parameters
    ----------
    symbols : array_like of int, any shape (flattened in C order)
        Values in ``0 .. alphabet_size - 1``.
    alphabet_size : int
        Number of symbols; ``alphabet_size + increment <= limit``.
    increment, limit : int, optional
        Adaptation step (default 32) and rescaling threshold (default and maximum 2**16).
    use_numba : bool, optional
        ``False`` runs the pure-Python twin.
    """
    alphabet_size, increment, limit = check_adaptive_model(alphabet_size, increment, limit)
    symbols = check_symbols(symbols, 0, alphabet_size - 1)
    if not use_numba:
        return _encode_adaptive_reference(symbols, alphabet_size, increment, limit)
    out = np.empty(stream_capacity(symbols.size), np.uint8)
    result = kernels.encode_adaptive_kernel(symbols, alphabet_size, increment, limit, out)
    return stream_bytes(result, out, symbols)


def decode_adaptive(
    data, alphabet_size: int, n: int, *, increment: int = 32, limit: int = MAX_TOTAL,
    use_numba: bool = True,
) -> np.ndarray:
    """Decode ``n`` symbols coded by ``encode_adaptive`` with the same parameters.

    Returns a (n,) array, ``uint8`` if ``alphabet_size <= 256`` else ``int32``; raises
    ``BitstreamError`` like ``decode``.
    """
    alphabet_size, increment, limit = check_adaptive_model(alphabet_size, increment, limit)
    data = as_byte_array(data)
    # no count ever exceeds total - (alphabet_size - 1) <= limit - alphabet_size + 1
    n = check_decode_count(n, data.size, limit - alphabet_size + 1, limit)
    dtype = symbol_dtype(alphabet_size)
    if not use_numba:
        return _decode_adaptive_reference(data, alphabet_size, increment, limit, n, dtype)
    out = np.empty(n, dtype)
    status, i, pos = kernels.decode_adaptive_kernel(data, alphabet_size, increment, limit, out)
    raise_for_status(status, i, pos, data.size)
    return out


def _update_counts_reference(counts: list, total: int, s: int, increment: int, limit: int):
    counts[s] += increment
    total += increment
    if total > limit:
        counts[:] = [(count + 1) >> 1 for count in counts]
        total = sum(counts)
    return total


def _encode_adaptive_reference(symbols, alphabet_size, increment, limit) -> bytes:
    encoder = RangeEncoder()
    counts, total = [1] * alphabet_size, alphabet_size
    for s in symbols.tolist():
        encoder.encode(sum(counts[:s]), counts[s], total)
        total = _update_counts_reference(counts, total, s, increment, limit)
    return encoder.finish()


def _decode_adaptive_reference(data, alphabet_size, increment, limit, n, dtype) -> np.ndarray:
    decoder = RangeDecoder(data)
    counts, total = [1] * alphabet_size, alphabet_size
    out = np.empty(n, dtype)
    for i in range(n):
        decoder.symbol_index = i
        slot = decoder.decode_slot(total)
        s, cum = 0, 0
        while cum + counts[s] <= slot:
            cum += counts[s]
            s += 1
        decoder.consume(cum, counts[s])
        out[i] = s
        total = _update_counts_reference(counts, total, s, increment, limit)
    return out
