"""Context modelling: one adaptive range-coder model per *context*.

Why contexts
------------
``range_coder.encode_adaptive`` learns one histogram for the whole message. Image residuals are
not one population, though: in a flat sky they are almost always 0 or +-1, on a textured roof
they spread over +-30. One shared histogram is a blend of the two and fits neither. If both coder
and decoder can compute, from data already coded, a small number ``C`` (the *context*) that tells
the populations apart (here: how busy the neighbourhood is), they can keep one histogram per
context and code each symbol with the histogram of its own context.

The gain is a theorem. The ideal code length per symbol with one model is the entropy ``H(X)``;
with a model per context it is the conditional entropy

.. math::

    H(X \\mid C) = \\sum_c P(c)\\, H(X \\mid C = c) = H(X) - I(X; C) \\le H(X),

smaller by the mutual information between the symbol and its context: conditioning never hurts
(on average), and it helps exactly as much as the context predicts the symbol. The price is
learning: every context starts from a flat histogram and must see symbols before its model is
good (*context dilution*), so practical coders use a handful to a few hundred contexts, not
millions. This is the modelling idea of Rissanen and Langdon's "universal modeling and coding"
(1981), of CALIC (Wu & Memon, 1997) and JPEG-LS (LOCO-I, Weinberger, Seroussi & Sapiro, 2000),
which pick contexts from quantised local gradients, and of the binary contexts of CABAC in
H.264 (Marpe, Schwarz & Wiegand, 2003).

The model
---------
Exactly ``encode_adaptive``'s model, once per context: ``counts`` (n_contexts, alphabet_size)
start at 1, the count of a coded symbol grows by ``increment``, and a row whose total exceeds
``limit`` is halved (rounding up, so no count reaches 0). ``contexts[i]`` picks the row that codes
and then learns ``symbols[i]``. With a single context the bytes equal ``encode_adaptive``'s.

The decoder must know ``contexts`` before decoding each symbol. Here the caller passes them all;
a codec whose contexts depend on decoded data calls the per-symbol helpers of
``_context_kernels`` (``encode_symbol_in_context`` / ``decode_symbol_in_context``) from its own
fused kernel. The pure-Python twins (``use_numba=False``) use ``RangeEncoder``/``RangeDecoder``
and are pinned to the kernels, byte for byte, by the tests.
"""

from __future__ import annotations

import operator

import numpy as np

from fromscratch.bitstream import as_byte_array
from fromscratch.entropy import _context_kernels as kernels
from fromscratch.entropy._context_kernels import new_context_model
from fromscratch.entropy.cdf_tables import (
    MAX_TOTAL,
    check_adaptive_model,
    check_decode_count,
    check_symbols,
    symbol_dtype,
)
from fromscratch.entropy.range_coder import _update_counts_reference
from fromscratch.entropy.range_engine import (
    RangeDecoder,
    RangeEncoder,
    raise_for_status,
    stream_bytes,
    stream_capacity,
)

__all__ = [
    "MAX_CONTEXTS",
    "check_contexts",
    "decode_adaptive_contexts",
    "encode_adaptive_contexts",
    "new_context_model",
]

#: Most contexts one call may use (the model alone takes n_contexts * alphabet_size * 8 bytes).
MAX_CONTEXTS = 1 << 16


def _check_n_contexts(n_contexts, alphabet_size: int) -> int:
    n_contexts = operator.index(n_contexts)
    if not 1 <= n_contexts <= MAX_CONTEXTS:
        raise ValueError(f"n_contexts must be in 1..{MAX_CONTEXTS}, got {n_contexts}")
    if n_contexts * alphabet_size > 1 << 26:
        raise ValueError(
            f"{n_contexts} contexts x {alphabet_size} symbols is too large a model (> 2**26 counts)"
        )
    return n_contexts


def check_contexts(contexts, n_contexts: int) -> np.ndarray:
    """Flatten ``contexts`` (C order) to int32, checking ``0 <= c < n_contexts``."""
    return check_symbols(contexts, 0, n_contexts - 1).astype(np.int32, copy=False)


def encode_adaptive_contexts(
    symbols, contexts, n_contexts: int, alphabet_size: int, *, increment: int = 32,
    limit: int = MAX_TOTAL, use_numba: bool = True,
) -> bytes:
    """Range-code ``symbols[i]`` with the adaptive model of context ``contexts[i]``.

    Parameters
    ----------
    symbols : array_like of int, any shape (flattened in C order), n values
        Values in ``0 .. alphabet_size - 1``.
    contexts : array_like of int, n values (any shape, flattened in C order)
        Model of each symbol, ``0 .. n_contexts - 1``; the decoder needs the same ones.
    n_contexts : int
        Number of models, 1 .. ``MAX_CONTEXTS``.
    alphabet_size : int
        Symbols per model; ``alphabet_size + increment <= limit``.
    increment, limit : int, optional
        Adaptation step (default 32) and halving threshold (default and maximum 2**16).
    use_numba : bool, optional
        ``False`` runs the pure-Python twin (same bytes, much slower).

    Returns
    -------
    bytes
        The stream; ``decode_adaptive_contexts`` needs the same contexts and parameters.

    Raises
    ------
    ValueError
        On a symbol or context out of range, mismatched sizes or invalid parameters.
    """
    alphabet_size, increment, limit = check_adaptive_model(alphabet_size, increment, limit)
    n_contexts = _check_n_contexts(n_contexts, alphabet_size)
    symbols = check_symbols(symbols, 0, alphabet_size - 1)
    contexts = check_contexts(contexts, n_contexts)
    if contexts.size != symbols.size:
        raise ValueError(f"{contexts.size} contexts for {symbols.size} symbols")
    if not use_numba:
        return _encode_reference(symbols, contexts, n_contexts, alphabet_size, increment, limit)
    counts, totals = new_context_model(n_contexts, alphabet_size)
    out = np.empty(stream_capacity(symbols.size), np.uint8)
    result = kernels.encode_contexts_kernel(symbols, contexts, counts, totals, increment, limit,
                                            out)
    return stream_bytes(result, out, symbols)


def decode_adaptive_contexts(
    data, contexts, n_contexts: int, alphabet_size: int, *, increment: int = 32,
    limit: int = MAX_TOTAL, use_numba: bool = True,
) -> np.ndarray:
    """Decode one symbol per entry of ``contexts`` from a stream of ``encode_adaptive_contexts``.

    Returns
    -------
    numpy.ndarray, shape (len(contexts),)
        ``uint8`` if ``alphabet_size <= 256``, else ``int32``.

    Raises
    ------
    BitstreamError
        If the stream is too short for that many symbols or provably corrupt (bytes appended
        after a valid stream are ignored).
    ValueError
        On invalid contexts or parameters (checked before decoding).
    """
    alphabet_size, increment, limit = check_adaptive_model(alphabet_size, increment, limit)
    n_contexts = _check_n_contexts(n_contexts, alphabet_size)
    contexts = check_contexts(contexts, n_contexts)
    data = as_byte_array(data)
    # as in decode_adaptive: no count exceeds total - (alphabet_size - 1)
    n = check_decode_count(contexts.size, data.size, limit - alphabet_size + 1, limit)
    dtype = symbol_dtype(alphabet_size)
    if not use_numba:
        return _decode_reference(data, contexts, n_contexts, alphabet_size, increment, limit,
                                 dtype)
    counts, totals = new_context_model(n_contexts, alphabet_size)
    out = np.empty(n, dtype)
    status, i, pos = kernels.decode_contexts_kernel(data, contexts, counts, totals, increment,
                                                    limit, out)
    raise_for_status(status, i, pos, data.size)
    return out


# --- the readable twins -----------------------------------------------------------------------


def _encode_reference(symbols, contexts, n_contexts, alphabet_size, increment, limit) -> bytes:
    encoder = RangeEncoder()
    counts = [[1] * alphabet_size for _ in range(n_contexts)]
    totals = [alphabet_size] * n_contexts
    for s, c in zip(symbols.tolist(), contexts.tolist(), strict=True):
        row = counts[c]
        encoder.encode(sum(row[:s]), row[s], totals[c])
        totals[c] = _update_counts_reference(row, totals[c], s, increment, limit)
    return encoder.finish()


def _decode_reference(data, contexts, n_contexts, alphabet_size, increment, limit, dtype):
    decoder = RangeDecoder(data)
    counts = [[1] * alphabet_size for _ in range(n_contexts)]
    totals = [alphabet_size] * n_contexts
    out = np.empty(contexts.size, dtype)
    for i, c in enumerate(contexts.tolist()):
        decoder.symbol_index = i
        row = counts[c]
        slot = decoder.decode_slot(totals[c])
        s, cum = 0, 0
        while cum + row[s] <= slot:
            cum += row[s]
            s += 1
        decoder.consume(cum, row[s])
        out[i] = s
        totals[c] = _update_counts_reference(row, totals[c], s, increment, limit)
    return out
