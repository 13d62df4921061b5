"""Numba kernels of the context coder: one adaptive frequency model per context, compiled.

The per-symbol helpers :func:`encode_symbol_in_context` and :func:`decode_symbol_in_context` are
the building blocks: they code one symbol with the counts row ``counts[ctx]`` and then update that
row, exactly like ``_range_kernels.encode_adaptive_kernel`` does for its single row. The two
whole-stream kernels below just loop over them; a fused decoder whose contexts depend on what it
already decoded (the ``mlp-predictive`` codec) calls the helpers itself, pixel by pixel.

State travels as plain int64 values, as in ``_range_kernels`` (whose helpers ``_narrow``,
``_finish``, ``_start_decoder``, ``_consume`` and ``_update_counts`` are reused here):

* encoder: ``low, rng, cache, n_ff, pos`` (``pos = -1`` once ``out`` was too small);
* decoder: ``code, rng, pos``;
* model: ``counts`` int64 (n_contexts, alphabet_size), every entry >= 1, and ``totals`` int64
  (n_contexts,), the row sums (each <= ``limit``). :func:`new_context_model` makes the start.

No bounds checks exist in compiled code: the Python wrappers (``context_coder``) validate every
symbol and context before calling.
"""

from __future__ import annotations

import numba
import numpy as np

from fromscratch.entropy._range_kernels import (
    _consume,
    _finish,
    _narrow,
    _start_decoder,
    _update_counts,
)
from fromscratch.entropy.range_engine import (
    FULL_RANGE,
    STATUS_OK,
    STATUS_OUTSIDE,
    STATUS_TRUNCATED,
    TAIL_ALLOWANCE,
)


def new_context_model(n_contexts: int, alphabet_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The starting model: every count 1, so every total is ``alphabet_size``."""
    counts = np.ones((n_contexts, alphabet_size), np.int64)
    totals = np.full(n_contexts, alphabet_size, np.int64)
    return counts, totals


@numba.njit(cache=True)
def encode_symbol_in_context(
    low, rng, cache, n_ff, out, pos, counts, totals, ctx, s, increment, limit
):
    """Code symbol ``s`` with the model of context ``ctx``, then adapt that model.

    Returns the new encoder state ``(low, rng, cache, n_ff, pos)``.
    """
    row = counts[ctx]
    cum = 0
    for k in range(s):  # O(s): residual symbols are mostly small, so the scan is short
        cum += row[k]
    r = rng // totals[ctx]
    low, rng, cache, n_ff, pos = _narrow(low, rng, cache, n_ff, out, pos, r * cum, r * row[s])
    totals[ctx] = _update_counts(row, totals[ctx], s, increment, limit)
    return low, rng, cache, n_ff, pos


@numba.njit(cache=True)
def decode_symbol_in_context(code, rng, data, pos, counts, totals, ctx, increment, limit):
    """Mirror of :func:`encode_symbol_in_context`: decode one symbol of context ``ctx``.

    Returns ``(status, s, code, rng, pos)``; ``status`` is ``STATUS_OUTSIDE`` for a code value in
    no symbol's slice, ``STATUS_TRUNCATED`` once more than ``TAIL_ALLOWANCE`` bytes past the end
    of ``data`` were needed (they read as 0; nothing past ``data`` is ever touched).
    """
    row = counts[ctx]
    total = totals[ctx]
    r = rng // total
    slot = code // r
    if slot >= total:
        return STATUS_OUTSIDE, 0, code, rng, pos
    s = 0
    cum = 0
    while cum + row[s] <= slot:  # stops at the last symbol at the latest, since slot < total
        cum += row[s]
        s += 1
    code, rng, pos = _consume(code, rng, data, pos, r * cum, r * row[s])
    if pos > data.shape[0] + TAIL_ALLOWANCE:
        return STATUS_TRUNCATED, 0, code, rng, pos
    totals[ctx] = _update_counts(row, total, s, increment, limit)
    return STATUS_OK, s, code, rng, pos


@numba.njit(cache=True)
def encode_contexts_kernel(symbols, contexts, counts, totals, increment, limit, out):
    """Code ``symbols[i]`` in context ``contexts[i]``; returns ``(status, n_bytes)``."""
    low, rng, cache, n_ff, pos = 0, FULL_RANGE, 0, 0, 0
    for i in range(symbols.shape[0]):
        low, rng, cache, n_ff, pos = encode_symbol_in_context(
            low, rng, cache, n_ff, out, pos, counts, totals, contexts[i], symbols[i],
            increment, limit,
        )
    return _finish(low, rng, cache, n_ff, out, pos)


@numba.njit(cache=True)
def decode_contexts_kernel(data, contexts, counts, totals, increment, limit, out):
    """Decode one symbol per context; returns ``(status, symbol_index, byte_position)``."""
    code, rng, pos = _start_decoder(data)
    for i in range(out.shape[0]):
        status, s, code, rng, pos = decode_symbol_in_context(
            code, rng, data, pos, counts, totals, contexts[i], increment, limit
        )
        if status != STATUS_OK:
            return status, i, pos
        out[i] = s
    return STATUS_OK, out.shape[0], pos
