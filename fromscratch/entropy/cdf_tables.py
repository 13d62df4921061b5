"""From counts and probabilities to the integer frequency tables a range coder needs.

A range coder cannot use probabilities as they come. It splits its current integer interval in
proportion to *integer frequencies* ``f[s]`` that sum to a total ``T``, and the encoder and the
decoder must agree on every one of them to the last unit, on every machine. Turning measured
counts (or a floating-point pmf predicted by a network) into such a table is a small problem of its
own, with three rules:

1. **Exact total.** ``sum(f) == T`` (``T = 2**precision``, precision at most 16 for our 32-bit
   coder: the coder splits ``range // T`` and needs at least 8 bits of it, see ``range_coder``).
2. **No zero for a symbol that can occur.** A symbol with ``f[s] == 0`` owns an empty slice of
   the interval and cannot be coded at all, so every used symbol gets at least 1.
3. **Deterministic.** Only integer arithmetic and single IEEE operations (never a library ``log``
   or a summation whose order could change), so every machine builds the very same table.

Within those rules we want ``f[s] / T`` close to the true probabilities, because a symbol of
probability ``p`` coded with frequency ``f`` costs ``-log2(f / T)`` bits instead of ``-log2 p``.
``quantize_frequencies`` does it by *largest remainders* (Hamilton's apportionment, the rule used
to share parliament seats between states): each symbol gets the whole part of its exact share, and
the few units left over go to the largest fractional parts. Symbols whose share is below one unit
are first pinned to 1 and the others share what is left.

The per-symbol CDF tables of learned codecs (CompressAI's ``encode_with_indexes`` interface) are
the same thing written cumulatively: ``cdf[0] = 0``, ``cdf[s + 1] - cdf[s] = f[s]``, last entry
``2**16``. One symbol more is appended to every pmf, the **escape**: it takes the probability mass
the pmf leaves out, and the coder uses it to signal a value outside the table's support, so that
no value can ever be impossible to code.

The last section holds the checks the coder runs on symbols, models and tables before any Numba
kernel sees them (compiled code has no bounds checks).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from fromscratch.bitstream import BitstreamError

__all__ = [
    "CDF_PRECISION",
    "MAX_TOTAL",
    "cdf_tables_from_pmfs",
    "cumulative_frequencies",
    "pmf_to_quantized_cdf",
    "quantize_frequencies",
    "validate_cdf_tables",
]

CDF_PRECISION = 16  # the CDF-table coder codes with totals of exactly 2**16
_MAX_PRECISION = 16  # 32-bit range, renormalised above 2**24: range // total keeps >= 8 bits
MAX_TOTAL = 1 << _MAX_PRECISION  # largest frequency total the coder accepts
_MAX_WEIGHT_TOTAL = 2**46  # weight * budget must fit in int64 (budget <= 2**16)
_PMF_WEIGHT_SCALE = 2.0**40  # pmf -> integer weights; mass below 2**-40 just counts as zero
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_SYMBOLS = 2**31 - 1  # most symbols one decode call may produce (the caller allocates them)


def _check_precision(precision: int) -> int:
    precision = int(precision)
    if not 1 <= precision <= _MAX_PRECISION:
        raise ValueError(f"precision must be in 1..{_MAX_PRECISION}, got {precision}")
    return precision


def _apportion(weights: np.ndarray, total: int, keep_every_symbol: bool) -> np.ndarray:
    """Share ``total`` units between symbols in proportion to int64 ``weights`` (exact integers).

    Symbols with weight 0 get 0 units, or 1 if ``keep_every_symbol``; every other symbol gets
    at least 1. Returns int64 frequencies of the same shape summing exactly to ``total``.
    """
    used = np.ones(weights.shape, bool) if keep_every_symbol else weights > 0
    n_used = int(used.sum())
    if n_used == 0:
        raise ValueError("all counts are zero: there is no symbol to give a frequency to")
    if n_used > total:
        raise ValueError(f"{n_used} symbols cannot each get a frequency >= 1 out of {total}")
    # Pin to 1 every symbol whose share of what is left would round down to 0; pinning shrinks
    # the budget of the others, which may push more of them under 1, so repeat until stable.
    # The heaviest symbol is never pinned while n_used <= total, so `free` never empties.
    pinned = used & (weights == 0)
    while True:
        free = used & ~pinned
        budget = total - int(pinned.sum())
        free_weight = int(weights[free].sum())
        below_one_unit = free & (weights * budget < free_weight)
        if not below_one_unit.any():
            break
        pinned |= below_one_unit
    frequencies = np.zeros(weights.shape, np.int64)
    frequencies[pinned] = 1
    free_symbols = np.flatnonzero(free)
    exact_share = weights[free_symbols] * budget  # / free_weight, kept as an exact fraction
    frequencies[free_symbols] = exact_share // free_weight
    remainders = exact_share % free_weight
    n_left_over = budget - int(frequencies[free_symbols].sum())  # 0 <= n_left_over < n_free
    # largest remainders first; ties go to the lower symbol (lexsort: last key is primary)
    order = np.lexsort((free_symbols, -remainders))
    frequencies[free_symbols[order[:n_left_over]]] += 1
    return frequencies


def _nonnegative_integers(values, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D integer array with no negative entry (ValueError if not)."""
    values = np.asarray(values)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must have an integer dtype, got {values.dtype}")
    if values.min() < 0:
        raise ValueError(f"{name} must be non-negative, got {values.min()}")
    return values


def quantize_frequencies(counts, precision: int = 16) -> np.ndarray:
    """Rescale non-negative integer counts to frequencies summing to exactly ``2**precision``.

    Parameters
    ----------
    counts : array_like of int, shape (n_symbols,)
        Occurrence counts (a histogram). Their total must be below ``2**46``.
    precision : int, optional
        Bits of the total, 1 to 16 (default 16, what ``range_coder.encode`` uses best).

    Returns
    -------
    frequencies : numpy.ndarray of int64, shape (n_symbols,)
        ``frequencies.sum() == 2**precision``; ``frequencies[s] >= 1`` exactly where
        ``counts[s] > 0`` (an unused symbol stays at 0 and wastes no code space).

    Raises
    ------
    ValueError
        On negative or non-integer counts, all-zero counts, or more used symbols than units.

    Examples
    --------
    >>> quantize_frequencies([5, 0, 1, 1000], precision=8).tolist()
    [1, 0, 1, 254]
    """
    precision = _check_precision(precision)
    counts = _nonnegative_integers(counts, "counts").astype(np.int64)
    # Python-int sum: an int64 sum of huge counts could wrap around before we compare it
    if sum(counts.tolist()) >= _MAX_WEIGHT_TOTAL:
        raise ValueError(f"counts must total less than 2**46, got {sum(counts.tolist())}")
    return _apportion(counts, 1 << precision, keep_every_symbol=False)


def cumulative_frequencies(freqs) -> tuple[np.ndarray, int]:
    """Cumulative table of a static model: ``cum_freqs[s] .. cum_freqs[s + 1]`` is symbol s.

    Parameters
    ----------
    freqs : array_like of int, shape (n_symbols,)
        Non-negative frequencies, not all zero. If they total at most ``MAX_TOTAL`` (2**16) they
        are used exactly as given; a larger total is first rescaled to exactly 2**16 with
        ``quantize_frequencies`` (deterministic, so encoder and decoder still agree, and a zero
        stays zero).

    Returns
    -------
    cum_freqs : numpy.ndarray of int64, shape (n_symbols + 1,)
        ``cum_freqs[0] = 0``, ``cum_freqs[-1] = total``.
    total : int
        The frequency total the coder divides its range by, at most 2**16.
    """
    freqs = _nonnegative_integers(freqs, "freqs")
    if freqs.max() > MAX_TOTAL or freqs.sum(dtype=np.int64) > MAX_TOTAL:
        freqs = quantize_frequencies(freqs, _MAX_PRECISION)
    cum_freqs = np.zeros(freqs.size + 1, np.int64)
    np.cumsum(freqs, out=cum_freqs[1:])
    if cum_freqs[-1] == 0:
        raise ValueError("freqs are all zero: no symbol can be coded")
    return cum_freqs, int(cum_freqs[-1])


def pmf_to_quantized_cdf(pmf, precision: int = 16) -> np.ndarray:
    """Quantized CDF of ``pmf`` plus an escape symbol, every symbol at least 1 unit wide.

    Parameters
    ----------
    pmf : array_like of float, shape (n_values,)
        Probabilities of the values the table covers (``offset + 0 .. offset + n_values - 1``).
        Non-negative and finite; they may sum to less than 1 (a truncated distribution): the
        missing mass ``1 - sum(pmf)`` goes to the escape. A sum above 1 is normalised.
    precision : int, optional
        Bits of the total (default 16; the CDF-table coder requires 16).

    Returns
    -------
    cdf : numpy.ndarray of int32, shape (n_values + 2,)
        ``cdf[0] = 0``, strictly increasing, ``cdf[-1] = 2**precision``; symbol ``s`` owns
        ``cdf[s] .. cdf[s + 1]`` and the last symbol (index ``n_values``) is the escape.

    Notes
    -----
    Deterministic on every machine: the probabilities become integer weights with one exactly
    rounded multiply each (``floor(p * 2**40 / mass)``, ``mass`` from the exactly rounded
    ``math.fsum``), and everything after that is integer arithmetic (``_apportion``).
    """
    precision = _check_precision(precision)
    pmf = np.asarray(pmf, dtype=np.float64)
    if pmf.ndim != 1 or pmf.size == 0:
        raise ValueError(f"pmf must be a non-empty 1-D array, got shape {pmf.shape}")
    if not np.isfinite(pmf).all() or pmf.min() < 0:
        raise ValueError("pmf must hold finite, non-negative probabilities")
    if pmf.size + 1 > 1 << precision:
        raise ValueError(f"{pmf.size} values + escape do not fit in 2**{precision} units")
    mass = math.fsum(pmf.tolist())
    escape_mass = max(0.0, 1.0 - mass)
    probabilities = np.append(pmf, escape_mass)
    weights = np.floor(probabilities * (_PMF_WEIGHT_SCALE / max(mass, 1.0))).astype(np.int64)
    frequencies = _apportion(weights, 1 << precision, keep_every_symbol=True)
    cdf = np.zeros(pmf.size + 2, np.int32)
    cdf[1:] = np.cumsum(frequencies)
    return cdf


def cdf_tables_from_pmfs(pmfs, offsets=None, precision: int = 16):
    """Stack quantized CDFs of several pmfs (of any lengths) into the coder's three arrays.

    Parameters
    ----------
    pmfs : sequence of array_like of float
        ``pmfs[t]`` has shape (n_values_t,); see ``pmf_to_quantized_cdf``.
    offsets : array_like of int, shape (n_tables,), optional
        Value of the first entry of each pmf (default 0): table ``t`` covers
        ``offsets[t] .. offsets[t] + n_values_t - 1``.
    precision : int, optional
        Bits of every table's total (default 16, which the CDF-table coder requires).

    Returns
    -------
    cdfs : numpy.ndarray of int32, shape (n_tables, max_length)
        Row ``t`` holds ``pmf_to_quantized_cdf(pmfs[t])`` followed by zero padding.
    cdf_lengths : numpy.ndarray of int32, shape (n_tables,)
        Entries used per row, ``n_values_t + 2``.
    offsets : numpy.ndarray of int32, shape (n_tables,)
    """
    cdf_rows = [pmf_to_quantized_cdf(pmf, precision) for pmf in pmfs]
    if not cdf_rows:
        raise ValueError("need at least one pmf")
    cdf_lengths = np.array([row.size for row in cdf_rows], np.int32)
    cdfs = np.zeros((len(cdf_rows), int(cdf_lengths.max())), np.int32)
    for t, row in enumerate(cdf_rows):
        cdfs[t, : row.size] = row
    offsets = np.zeros(len(cdf_rows), np.int64) if offsets is None else np.asarray(offsets)
    if offsets.shape != (len(cdf_rows),) or not np.issubdtype(offsets.dtype, np.integer):
        raise ValueError(f"offsets must be {len(cdf_rows)} integers, got {offsets!r}")
    if offsets.min() < INT32_MIN or offsets.max() > INT32_MAX:
        raise ValueError("offsets must fit in int32")
    return cdfs, cdf_lengths, offsets.astype(np.int32)


def validate_cdf_tables(cdfs, cdf_lengths, offsets):
    """Check CDF tables for everything the Numba kernels rely on; return them as int32 arrays.

    Raises ``ValueError`` unless: ``cdfs`` is a 2-D integer array; ``cdf_lengths`` and
    ``offsets`` are 1-D integer arrays with one entry per row; every length is in
    ``3 .. cdfs.shape[1]`` (one value and the escape at least); every used row starts at 0,
    rises strictly and ends at ``2**16``; and the largest value of every table fits in int32.
    Returns C-contiguous int32 ``(cdfs, cdf_lengths, offsets)``.
    """
    cdfs, cdf_lengths, offsets = np.asarray(cdfs), np.asarray(cdf_lengths), np.asarray(offsets)
    if cdfs.ndim != 2 or cdfs.shape[0] == 0:
        raise ValueError(f"cdfs must be a 2-D array with at least one row, got {cdfs.shape}")
    n_tables, max_length = cdfs.shape
    for name, array in (("cdfs", cdfs), ("cdf_lengths", cdf_lengths), ("offsets", offsets)):
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} must have an integer dtype, got {array.dtype}")
        if name != "cdfs" and array.shape != (n_tables,):
            raise ValueError(f"{name} must have shape ({n_tables},), got {array.shape}")
    lengths = cdf_lengths.astype(np.int64)
    if lengths.min() < 3 or lengths.max() > max_length:
        raise ValueError(
            f"cdf_lengths must be in 3..{max_length} (a value, the escape and the final "
            f"2**16), got values in {lengths.min()}..{lengths.max()}"
        )
    rows = np.arange(n_tables)
    if (cdfs[:, 0] != 0).any() or (cdfs[rows, lengths - 1] != 1 << CDF_PRECISION).any():
        raise ValueError("every cdf must start at 0 and end (at cdf_length - 1) at 2**16")
    used_steps = np.arange(max_length - 1) < (lengths - 1)[:, None]
    steps = np.diff(cdfs.astype(np.int64), axis=1)
    if (steps[used_steps] <= 0).any():
        t = int(np.flatnonzero(((steps <= 0) & used_steps).any(axis=1))[0])
        raise ValueError(f"cdf {t} is not strictly increasing: every symbol needs frequency >= 1")
    offsets64 = offsets.astype(np.int64)
    if offsets64.min() < INT32_MIN or (offsets64 + lengths - 3).max() > INT32_MAX:
        raise ValueError("offsets and the values each table covers must fit in int32")
    return (
        np.ascontiguousarray(cdfs, np.int32),
        np.ascontiguousarray(lengths, np.int32),
        np.ascontiguousarray(offsets64, np.int32),
    )


# --- checks on symbols and models, before any kernel runs ----------------------------------


def check_symbols(symbols, lowest: int, highest: int) -> np.ndarray:
    """Flatten ``symbols`` (C order), check ``lowest <= s <= highest``; uint8 or int32 out."""
    symbols = np.asarray(symbols)
    if symbols.size == 0:  # np.asarray([]) is float64; an empty list is still fine
        return np.zeros(0, np.int32)
    if not np.issubdtype(symbols.dtype, np.integer):
        raise ValueError(f"symbols must have an integer dtype, got {symbols.dtype}")
    symbols = symbols.ravel()
    if symbols.dtype != np.uint8 or lowest > 0 or highest < 255:  # (every uint8 fits 0..255)
        smallest, largest = int(symbols.min()), int(symbols.max())
        if smallest < lowest or largest > highest:
            bad = int(np.flatnonzero((symbols < lowest) | (symbols > highest))[0])
            raise ValueError(f"symbols[{bad}] = {symbols[bad]} is outside {lowest}..{highest}")
    # two kernel types only: image bytes stay 1 byte each, everything else becomes int32
    return np.ascontiguousarray(symbols, dtype=np.uint8 if symbols.dtype == np.uint8 else np.int32)


def symbol_dtype(alphabet_size: int) -> type:
    return np.uint8 if alphabet_size <= 256 else np.int32


def check_decode_count(n, n_bytes: int, largest_freq: int, total: int) -> int:
    """``n`` as an int in 0..MAX_SYMBOLS, and not more than ``n_bytes`` can hold.

    Every symbol shrinks the range by at least ``total / largest_freq``, and the decoder reads
    one byte per factor 256 (``range`` stays in 2**24..2**32), so a valid stream of ``n_bytes``
    holds at most ``(8 * n_bytes + 8) / log2(total / largest_freq)`` symbols. A larger ``n``
    means a truncated stream or a lying header: refuse it before allocating ``n`` outputs.
    """
    n = operator.index(n)
    if not 0 <= n <= MAX_SYMBOLS:
        raise ValueError(f"n must be in 0..{MAX_SYMBOLS}, got {n}")
    if largest_freq < total:
        most = (8 * n_bytes + 8) / (math.log2(total) - math.log2(largest_freq))
        if n > most * (1 + 1e-9) + 1:
            raise BitstreamError(
                f"truncated range-coded stream: {n_bytes} bytes cannot hold {n} symbols of this "
                f"model (at most {math.floor(most)})"
            )
    return n


def check_adaptive_model(alphabet_size, increment, limit) -> tuple[int, int, int]:
    alphabet_size, increment, limit = map(operator.index, (alphabet_size, increment, limit))
    if alphabet_size < 1 or increment < 1 or limit > MAX_TOTAL:
        raise ValueError(
            f"need alphabet_size >= 1, increment >= 1 and limit <= {MAX_TOTAL}, got "
            f"{alphabet_size}, {increment}, {limit}"
        )
    if alphabet_size + increment > limit:  # else halving could leave the total above limit
        raise ValueError(f"alphabet_size + increment must be <= limit ({limit})")
    return alphabet_size, increment, limit


def check_indexes(indexes, n_tables: int) -> np.ndarray:
    indexes = np.asarray(indexes)
    if indexes.size == 0:
        return np.zeros(0, np.int32)
    return check_symbols(indexes, 0, n_tables - 1).astype(np.int32, copy=False)


