"""Tests for fromscratch.entropy.context_coder: one adaptive range-coder model per context."""

from __future__ import annotations

import numpy as np
import pytest

from fromscratch.bitstream import BitstreamError
from fromscratch.entropy import _context_kernels as kernels
from fromscratch.entropy.context_coder import (
    decode_adaptive_contexts,
    encode_adaptive_contexts,
    new_context_model,
)
from fromscratch.entropy.range_coder import encode_adaptive
from fromscratch.entropy.range_engine import FULL_RANGE, STATUS_OK


def two_sources(n=6000, seed=0):
    """Interleaved: context 0 is nearly always symbol 0..2, context 1 spreads over 0..199."""
    rng = np.random.default_rng(seed)
    contexts = rng.integers(0, 2, n)
    narrow = rng.integers(0, 3, n)
    wide = rng.integers(0, 200, n)
    symbols = np.where(contexts == 0, narrow, wide).astype(np.int32)
    return symbols, contexts


def assert_round_trip(symbols, contexts, n_contexts, alphabet_size, **kwargs) -> bytes:
    data = encode_adaptive_contexts(symbols, contexts, n_contexts, alphabet_size, **kwargs)
    twin = encode_adaptive_contexts(symbols, contexts, n_contexts, alphabet_size,
                                    use_numba=False, **kwargs)
    assert twin == data
    for stream in (data, data + b"\x00\xff\x13" * 5):
        for use_numba in (True, False):
            out = decode_adaptive_contexts(stream, contexts, n_contexts, alphabet_size,
                                           use_numba=use_numba, **kwargs)
            np.testing.assert_array_equal(out, np.asarray(symbols).ravel())
    return data


def test_round_trip_and_twin():
    symbols, contexts = two_sources(3000)
    assert_round_trip(symbols, contexts, 2, 256)


@pytest.mark.parametrize("n", [0, 1, 2, 17])
def test_short_messages(n):
    rng = np.random.default_rng(n)
    assert_round_trip(rng.integers(0, 5, n), rng.integers(0, 3, n), 3, 5)


def test_many_contexts_small_increment_and_rescaling():
    rng = np.random.default_rng(1)
    contexts = rng.integers(0, 37, 20000)
    symbols = (contexts * 7 + rng.integers(0, 3, contexts.size)) % 300
    # small limit: rows are halved often
    assert_round_trip(symbols, contexts, 37, 300, increment=24, limit=1024)


def test_uint8_symbols_2d_shapes():
    rng = np.random.default_rng(2)
    symbols = rng.integers(0, 256, (40, 30)).astype(np.uint8)
    contexts = (symbols // 64).astype(np.int64)
    data = assert_round_trip(symbols, contexts, 4, 256)
    out = decode_adaptive_contexts(data, contexts, 4, 256)
    assert out.dtype == np.uint8 and out.shape == (1200,)


def test_one_context_equals_encode_adaptive():
    rng = np.random.default_rng(3)
    symbols = np.clip(np.round(rng.laplace(10, 4, 5000)), 0, 63).astype(np.int32)
    for kwargs in ({}, {"increment": 16, "limit": 4096}):
        data = encode_adaptive_contexts(symbols, np.zeros(symbols.size, int), 1, 64, **kwargs)
        assert data == encode_adaptive(symbols, 64, **kwargs)


def test_contexts_help():
    symbols, contexts = two_sources()
    with_contexts = encode_adaptive_contexts(symbols, contexts, 2, 256)
    without = encode_adaptive_contexts(symbols, np.zeros_like(contexts), 1, 256)
    assert len(with_contexts) < 0.85 * len(without)
    # and the gain is what conditional entropy promises: close to H(X|C)
    ideal_bits = 0.5 * np.log2(3) + 0.5 * np.log2(200)
    assert 8 * len(with_contexts) < 1.05 * ideal_bits * symbols.size


def test_truncated_streams_raise():
    symbols, contexts = two_sources(4000)
    data = encode_adaptive_contexts(symbols, contexts, 2, 256)
    for cut in (0, 1, len(data) // 3, len(data) - 8):
        for use_numba in (True, False):
            with pytest.raises(BitstreamError):
                decode_adaptive_contexts(data[:cut], contexts, 2, 256, use_numba=use_numba)


def test_junk_only_raises_or_decodes_valid_symbols():
    rng = np.random.default_rng(4)
    contexts = rng.integers(0, 4, 500)
    for seed in range(20):
        junk = np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes()
        results = []
        for use_numba in (True, False):
            try:
                results.append(decode_adaptive_contexts(junk, contexts, 4, 10,
                                                        use_numba=use_numba))
            except BitstreamError:
                results.append(None)
        if results[0] is None:
            assert results[1] is None
        else:
            np.testing.assert_array_equal(results[0], results[1])
            assert results[0].max() < 10


@pytest.mark.parametrize(
    ("symbols", "contexts", "n_contexts", "alphabet_size", "message"),
    [
        ([0, 1, 5], [0, 0, 0], 1, 5, "outside 0..4"),
        ([0, 1, 2], [0, 2, 0], 2, 5, "outside 0..1"),
        ([0, 1, 2], [0, 0], 1, 5, "2 contexts for 3 symbols"),
        ([0], [0], 0, 5, "n_contexts"),
        ([0.5], [0], 1, 5, "integer dtype"),
        ([0], [0], 1, 70000, "alphabet_size"),
    ],
)
def test_bad_arguments(symbols, contexts, n_contexts, alphabet_size, message):
    with pytest.raises(ValueError, match=message):
        encode_adaptive_contexts(symbols, contexts, n_contexts, alphabet_size)


def test_decode_checks_contexts_before_decoding():
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        decode_adaptive_contexts(b"\x00" * 10, [0, 3], 3, 8)
    # a lying symbol count is refused before allocating the output
    with pytest.raises(BitstreamError, match="cannot hold"):
        decode_adaptive_contexts(b"\x12" * 4, np.zeros(10**6, np.int32), 1, 256)


def test_per_symbol_helpers_match_stream_kernels():
    """A hand-written loop over the helpers (what a fused codec kernel does) gives equal bytes."""
    symbols, contexts = two_sources(2000, seed=5)
    counts, totals = new_context_model(2, 256)
    out = np.empty(8000, np.uint8)
    low, rng, cache, n_ff, pos = 0, FULL_RANGE, 0, 0, 0
    for s, c in zip(symbols.tolist(), contexts.tolist(), strict=True):
        low, rng, cache, n_ff, pos = kernels.encode_symbol_in_context(
            low, rng, cache, n_ff, out, pos, counts, totals, c, s, 32, 1 << 16)
    status, n_bytes = kernels._finish(low, rng, cache, n_ff, out, pos)
    assert status == STATUS_OK
    data = out[1:n_bytes].tobytes()
    assert data == encode_adaptive_contexts(symbols, contexts, 2, 256)

    stream = np.frombuffer(data, np.uint8)
    counts, totals = new_context_model(2, 256)
    code, rng, pos = kernels._start_decoder(stream)
    decoded = []
    for c in contexts.tolist():
        status, s, code, rng, pos = kernels.decode_symbol_in_context(
            code, rng, stream, pos, counts, totals, c, 32, 1 << 16)
        assert status == STATUS_OK
        decoded.append(s)
    np.testing.assert_array_equal(decoded, symbols)
