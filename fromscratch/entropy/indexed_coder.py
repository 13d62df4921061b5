"""Range coding with a table per symbol: the interface learned codecs drive (CompressAI's).

``range_coder`` codes a whole message with one model, fixed or learned on the way. A learned
image codec knows more: its network predicts a *different* distribution for every latent value
(chapter 04: one per channel; a hyperprior, chapter 06: one per predicted scale). It cannot
send a model per value, but encoder and decoder can both compute one, so the coder only needs to
be told, for symbol ``i``, which of a small set of tables to use: ``indexes[i]``. This is the
``encode_with_indexes`` / ``decode_with_indexes`` interface of CompressAI (Bégaint et al. 2020),
on the same range coder, stream format and byte-exact guarantees as ``range_coder``.

The tables
----------
Table ``t`` is a quantized CDF (``cdf_tables.pmf_to_quantized_cdf``): ``cdf[0] = 0``, strictly
increasing, ``cdf[cdf_lengths[t] - 1] = 2**16``, so symbol ``s`` owns the slots
``cdf[s] .. cdf[s + 1] - 1`` of a total of exactly ``2**16`` (``CDF_PRECISION``) and costs
``16 - log2(cdf[s + 1] - cdf[s])`` bits. Symbol ``s`` stands for the value ``offsets[t] + s``. All
tables are stacked into one ``(n_tables, max_length)`` array, padded on the right;
``cdf_tables.validate_cdf_tables`` checks every property the kernels rely on before any coding.

Escapes: no value is impossible
-------------------------------
A network's pmf covers a finite support, yet a latent may land outside it. The last symbol of
every table (index ``cdf_lengths[t] - 2``) is the *escape*: it carries the probability mass the
pmf left out. A value outside the support is coded as the escape, then a sign bit (below or
above the support) and the Exp-Golomb code (order 0) of how far outside it lies: ``x = distance +
1`` written as ``bit_length(x) - 1`` zeros followed by ``x``'s own bits. These bits go into the
same stream as equiprobable raw bits (``RangeEncoder.encode_bits``: one bit each), so a wild
value costs the escape plus about ``2 log2(distance)`` bits instead of making the message
uncodable. Any int32 value can be coded; a decoder refuses an escape that would leave int32.

As everywhere in this package, the compiled kernels (``_range_kernels``) have pure-Python twins
built on ``range_engine.RangeEncoder``/``RangeDecoder`` (``use_numba=False``), pinned to equal
bytes by the tests.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from fromscratch.bitstream import as_byte_array
from fromscratch.entropy import _range_kernels as kernels
from fromscratch.entropy.cdf_tables import (
    CDF_PRECISION,
    INT32_MAX,
    INT32_MIN,
    check_indexes,
    check_symbols,
    validate_cdf_tables,
)
from fromscratch.entropy.range_engine import (
    RangeDecoder,
    RangeEncoder,
    decode_escape_reference,
    encode_escape_reference,
    raise_for_status,
    stream_bytes,
    stream_capacity,
)

__all__ = ["decode_with_indexes", "encode_with_indexes", "escape_code_lengths"]


def encode_with_indexes(
    symbols, indexes, cdfs, cdf_lengths, offsets, *, use_numba: bool = True
) -> bytes:
    """Range-code each ``symbols[i]`` with its own table ``indexes[i]`` (CompressAI's interface).

    Parameters
    ----------
    symbols : array_like of int, shape (n,) or any shape (flattened)
        int32 values. Table ``t`` codes ``offsets[t] .. offsets[t] + cdf_lengths[t] - 3``
        directly; any other value is coded as the table's escape symbol (index
        ``cdf_lengths[t] - 2``) followed by a sign bit and the Exp-Golomb code of how far
        outside it lies, so every int32 value can be coded.
    indexes : array_like of int, same size as ``symbols``
        Table of each symbol, ``0 .. n_tables - 1``.
    cdfs : array_like of int, shape (n_tables, max_length)
        Quantized CDFs (``pmf_to_quantized_cdf``): ``cdf[0] = 0``, strictly increasing,
        ``cdf[cdf_lengths[t] - 1] = 2**16``; entries after that are ignored.
    cdf_lengths : array_like of int, shape (n_tables,)
        Entries used per row, ``3 .. max_length``.
    offsets : array_like of int, shape (n_tables,)
        Value coded by symbol 0 of each table.
    use_numba : bool, optional
        ``False`` runs the pure-Python twin.

    Raises
    ------
    ValueError
        Before any coding, on any invalid table, index or symbol (see ``validate_cdf_tables``).
    """
    cdfs, cdf_lengths, offsets = validate_cdf_tables(cdfs, cdf_lengths, offsets)
    symbols = check_symbols(symbols, INT32_MIN, INT32_MAX).astype(np.int32, copy=False)
    indexes = check_indexes(indexes, cdfs.shape[0])
    if indexes.shape != symbols.shape:
        raise ValueError(f"{indexes.size} indexes for {symbols.size} symbols")
    if not use_numba:
        return _encode_with_indexes_reference(symbols, indexes, cdfs, cdf_lengths, offsets)
    values = symbols.astype(np.int64) - offsets[indexes]
    n_escapes = int(np.count_nonzero((values < 0) | (values >= cdf_lengths[indexes] - 2)))
    out = np.empty(stream_capacity(symbols.size, n_escapes), np.uint8)
    result = kernels.encode_with_indexes_kernel(symbols, indexes, cdfs, cdf_lengths, offsets, out)
    return stream_bytes(result, out, symbols)


def escape_code_lengths(symbols, indexes, cdfs, cdf_lengths, offsets):
    """Which symbols the coder escapes, and the bits each escape costs it.

    An entropy estimate ``-log2 p`` taken from a model's continuous density charges a value far
    outside its table what that density gives it there (down to a model's likelihood bound: up to
    about 30 bits at 1e-9). The coder charges such a value its escape symbol plus raw bits (see
    the module docstring), which is usually far less; an estimate "under the densities the coder
    uses" must charge escapes the coder's way. For tables already checked by
    ``validate_cdf_tables`` (as a loaded model's are).

    Returns
    -------
    escaped : bool array, the shape of ``symbols``
        True where ``symbols[i]`` lies outside table ``indexes[i]``'s support.
    bits : float64 array, the shape of ``symbols``
        For escaped symbols, ``16 - log2(escape frequency)`` plus the sign bit and the
        ``2 * floor(log2(distance + 1)) + 1`` bits of the Exp-Golomb code; 0 elsewhere.
    """
    indexes = np.asarray(indexes, np.int64)
    values = np.asarray(symbols, np.int64) - offsets[indexes]
    escape = cdf_lengths[indexes].astype(np.int64) - 2
    escaped = (values < 0) | (values >= escape)
    bits = np.zeros(values.shape, np.float64)
    if escaped.any():
        t, e, v = indexes[escaped], escape[escaped], values[escaped]
        frequency = cdfs[t, e + 1].astype(np.float64) - cdfs[t, e]
        distance = np.where(v < 0, -v - 1, v - e)
        prefix_zeros = np.floor(np.log2(distance + 1.0))  # bit_length(distance + 1) - 1
        bits[escaped] = CDF_PRECISION - np.log2(frequency) + 1 + 2 * prefix_zeros + 1
    return escaped, bits


def decode_with_indexes(
    data, indexes, cdfs, cdf_lengths, offsets, *, use_numba: bool = True
) -> np.ndarray:
    """Decode one value per entry of ``indexes``, coded by ``encode_with_indexes``.

    Returns
    -------
    numpy.ndarray of int32, shape (len(indexes),)

    Raises
    ------
    ValueError
        On invalid tables or indexes (checked before decoding).
    BitstreamError
        If the stream is truncated or provably corrupt.
    """
    cdfs, cdf_lengths, offsets = validate_cdf_tables(cdfs, cdf_lengths, offsets)
    indexes = check_indexes(indexes, cdfs.shape[0])
    data = as_byte_array(data)
    if not use_numba:
        return _decode_with_indexes_reference(data, indexes, cdfs, cdf_lengths, offsets)
    out = np.empty(indexes.size, np.int32)
    status, i, pos = kernels.decode_with_indexes_kernel(
        data, indexes, cdfs, cdf_lengths, offsets, out
    )
    raise_for_status(status, i, pos, data.size)
    return out


def _encode_with_indexes_reference(symbols, indexes, cdfs, cdf_lengths, offsets) -> bytes:
    encoder = RangeEncoder()
    cdf_rows, lengths, firsts = cdfs.tolist(), cdf_lengths.tolist(), offsets.tolist()
    for v, t in zip(symbols.tolist(), indexes.tolist(), strict=True):
        cdf, escape, value = cdf_rows[t], lengths[t] - 2, v - firsts[t]
        s = value if 0 <= value < escape else escape
        encoder.encode(cdf[s], cdf[s + 1] - cdf[s], 1 << CDF_PRECISION)
        if s == escape:
            if value < 0:
                encode_escape_reference(encoder, 1, -value - 1)
            else:
                encode_escape_reference(encoder, 0, value - escape)
    return encoder.finish()


def _decode_with_indexes_reference(data, indexes, cdfs, cdf_lengths, offsets) -> np.ndarray:
    decoder = RangeDecoder(data)
    cdf_rows, lengths, firsts = cdfs.tolist(), cdf_lengths.tolist(), offsets.tolist()
    out = np.empty(indexes.size, np.int32)
    for i, t in enumerate(indexes.tolist()):
        decoder.symbol_index = i
        cdf, escape = cdf_rows[t], lengths[t] - 2
        slot = decoder.decode_slot(1 << CDF_PRECISION)
        s = bisect_right(cdf, slot, 0, escape + 2) - 1
        decoder.consume(cdf[s], cdf[s + 1] - cdf[s])
        if s < escape:
            out[i] = firsts[t] + s
        else:
            out[i] = decode_escape_reference(decoder, firsts[t], firsts[t] + escape - 1)
    return out
