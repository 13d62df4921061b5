"""Tests for fromscratch.entropy.huffman: optimal (and length-limited) codes, canonical codes, the
stream format, compiled kernels against their readable twins, and hostile input."""

from __future__ import annotations

import heapq
import itertools
import struct
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fromscratch.bitstream import BitstreamError, BitWriter, pack_codes
from fromscratch.entropy import _huffman_kernels as kernels
from fromscratch.entropy import huffman, huffman_plots

# database=None: keep hypothesis from leaving a .hypothesis/ folder in the repo
PROPERTY = settings(max_examples=150, deadline=None, database=None)

counts_lists = st.lists(st.integers(0, 10_000), min_size=1, max_size=80).filter(any)


def independent_huffman_cost(counts) -> int:
    """Optimal total bits, by a separate heap: the cost is the sum of all merged weights."""
    heap = [int(c) for c in counts if c > 0]
    if len(heap) == 1:
        return heap[0]  # one symbol: one bit each
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged
        heapq.heappush(heap, merged)
    return cost


def brute_force_limited_cost(counts, max_length: int) -> int:
    """Cheapest lengths in 1..max_length obeying Kraft, tried exhaustively.

    Only non-decreasing lengths for decreasing counts are tried: swapping the lengths of a more
    frequent and a less frequent symbol never helps, so an optimum of that shape exists.
    """
    weights = sorted((int(c) for c in counts if c > 0), reverse=True)
    best = None
    for lengths in itertools.combinations_with_replacement(range(1, max_length + 1), len(weights)):
        if sum(Fraction(1, 2**l) for l in lengths) <= 1:
            cost = sum(w * l for w, l in zip(weights, lengths, strict=True))
            best = cost if best is None else min(best, cost)
    return best


def cost(counts, lengths) -> int:
    return int(np.dot(np.asarray(counts, dtype=np.int64), lengths.astype(np.int64)))


def fibonacci(n: int) -> list[int]:
    numbers = [1, 1]
    while len(numbers) < n:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers[:n]


def is_prefix_free(codes, lengths) -> bool:
    words = [format(int(codes[s]), f"0{lengths[s]}b") for s in np.flatnonzero(lengths)]
    return not any(a != b and b.startswith(a) for a in words for b in words)


# --- statistics --------------------------------------------------------------------------------


def test_counts_and_entropy_hand_checked():
    counts = huffman.symbol_counts(b"abracadabra")
    assert counts.dtype == np.int64 and counts.size == ord("r") + 1
    assert {chr(s): int(counts[s]) for s in np.flatnonzero(counts)} == {
        "a": 5, "b": 2, "c": 1, "d": 1, "r": 2}
    assert huffman.symbol_counts([], alphabet_size=4).tolist() == [0, 0, 0, 0]
    assert huffman.symbol_counts(np.array([[3, 3], [0, 3]])).tolist() == [1, 0, 0, 3]
    assert huffman.entropy([1, 1, 1, 1]) == pytest.approx(2.0)
    assert huffman.entropy([0, 7, 0]) == 0.0
    assert huffman.entropy([3, 1]) == pytest.approx(-(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25)))
    with pytest.raises(ValueError):
        huffman.symbol_counts([5], alphabet_size=5)
    with pytest.raises(ValueError):
        huffman.symbol_counts([-1])
    with pytest.raises(ValueError):
        huffman.symbol_counts([0.5])


def test_count_kernel_matches_bincount():
    rng = np.random.default_rng(0)
    for symbols, size in [(rng.integers(0, 256, 5000, dtype=np.uint8), 256),
                          (rng.integers(0, 70, 999).astype(np.uint16), 65536)]:
        assert np.array_equal(kernels.count_symbols(symbols, size),
                              kernels.count_symbols(symbols, size, use_numba=False))


# --- code lengths --------------------------------------------------------------------------------


@PROPERTY
@given(counts_lists)
def test_huffman_lengths_are_optimal_and_complete(counts):
    lengths = huffman.code_lengths(counts)
    assert lengths.dtype == np.uint8 and lengths.shape == (len(counts),)
    assert cost(counts, lengths) == independent_huffman_cost(counts)
    assert np.array_equal(lengths == 0, np.asarray(counts) == 0)
    n_used = np.count_nonzero(counts)
    assert huffman.kraft_sum(lengths) == (1 if n_used >= 2 else Fraction(1, 2))
    # the compiled two-queue merge and the readable heap build the same tree depths
    assert np.array_equal(lengths, huffman.tree_code_lengths(huffman.build_tree(counts),
                                                             len(counts)))


@PROPERTY
@given(st.lists(st.integers(0, 1000), min_size=2, max_size=8).filter(lambda c: sum(
    x > 0 for x in c) >= 2), st.integers(1, 7))
def test_package_merge_is_optimal_under_the_limit(counts, max_length):
    n_used = sum(c > 0 for c in counts)
    if 2**max_length < n_used:
        with pytest.raises(ValueError):
            huffman.package_merge(counts, max_length)
        with pytest.raises(ValueError):
            huffman.code_lengths(counts, max_length)
        return
    best = brute_force_limited_cost(counts, max_length)
    for lengths in (huffman.package_merge(counts, max_length),
                    huffman.code_lengths(counts, max_length)):
        assert lengths.max() <= max_length
        assert cost(counts, lengths) == best
        assert np.array_equal(lengths == 0, np.asarray(counts) == 0)
        assert huffman.kraft_sum(lengths) == 1


@PROPERTY
@given(counts_lists, st.integers(0, 10))
def test_package_merge_equals_huffman_when_the_limit_does_not_bind(counts, slack):
    max_length = int(huffman.tree_code_lengths(huffman.build_tree(counts)).max()) + slack
    lengths = huffman.package_merge(counts, max_length)
    assert cost(counts, lengths) == independent_huffman_cost(counts)
    assert lengths.max() <= max_length


def test_fibonacci_counts_need_and_get_the_limit():
    counts = fibonacci(40)
    unlimited = huffman.code_lengths(counts)
    assert unlimited.max() == 39  # the tree is a vine: one leaf per level
    for limit in (32, 16, 6):
        limited = huffman.code_lengths(counts, max_length=limit)
        assert limited.max() == limit
        assert huffman.kraft_sum(limited) == 1
        assert cost(counts, limited) > cost(counts, unlimited)
    assert cost(counts, huffman.code_lengths(counts, 32)) == cost(
        counts, huffman.package_merge(counts, 32))
    with pytest.raises(ValueError, match="at most 5 bits"):
        huffman.code_lengths(counts, max_length=5)  # 40 symbols need 2**L >= 40


def test_edge_cases_of_lengths():
    assert huffman.code_lengths([0, 0, 9]).tolist() == [0, 0, 1]
    assert huffman.code_lengths([0, 0]).tolist() == [0, 0]
    assert huffman.code_lengths([5, 5], max_length=1).tolist() == [1, 1]
    assert huffman.package_merge([0, 3], 1).tolist() == [0, 1]
    assert huffman.code_lengths([1] * 65536, max_length=16).tolist() == [16] * 65536
    tree = huffman.build_tree([0, 4])
    assert tree.is_leaf and tree.symbol == 1 and huffman.tree_code_lengths(tree).tolist() == [0, 1]
    with pytest.raises(ValueError):
        huffman.build_tree([0, 0])
    with pytest.raises(ValueError):
        huffman.code_lengths([1, -1])
    with pytest.raises(ValueError):
        huffman.code_lengths([1, 1], max_length=0)


def test_tree_is_deterministic_and_hand_checked():
    # abracadabra: merge c+d (2), then b+r (4, the older b and r win over the new node 2),
    # then 2+4 (6), then a+6: a gets 1 bit, the others 3
    counts = huffman.symbol_counts(b"abracadabra")
    tree = huffman.build_tree(counts)
    assert tree.count == 11 and tree.zero.symbol == ord("a")
    assert (tree.one.zero.zero.symbol, tree.one.zero.one.symbol) == (ord("c"), ord("d"))
    assert (tree.one.one.zero.symbol, tree.one.one.one.symbol) == (ord("b"), ord("r"))
    lengths = huffman.code_lengths(counts)
    assert {chr(s): int(lengths[s]) for s in np.flatnonzero(lengths)} == {
        "a": 1, "b": 3, "c": 3, "d": 3, "r": 3}


# --- canonical codes and Kraft -----------------------------------------------------------------


def test_canonical_codes_textbook_examples():
    # RFC 1951 section 3.2.2: A..H with lengths (3, 3, 3, 3, 3, 2, 4, 4)
    lengths = [3, 3, 3, 3, 3, 2, 4, 4]
    codes = huffman.canonical_codes(lengths)
    assert [format(int(c), f"0{l}b") for c, l in zip(codes, lengths, strict=True)] == [
        "010", "011", "100", "101", "110", "00", "1110", "1111"]
    assert codes.dtype == np.uint64
    assert huffman.canonical_codes([2, 1, 3, 3, 0]).tolist() == [0b10, 0b0, 0b110, 0b111, 0]
    assert huffman.canonical_codes([0, 1]).tolist() == [0, 0]


@PROPERTY
@given(counts_lists, st.sampled_from([None, 4, 9]))
def test_canonical_codes_are_prefix_free_and_ordered(counts, max_length):
    if max_length and 2**max_length < np.count_nonzero(counts):
        return
    lengths = huffman.code_lengths(counts, max_length)
    codes = huffman.canonical_codes(lengths)
    assert is_prefix_free(codes, lengths)
    # canonical: as binary fractions the codes increase in (length, symbol) order
    used = np.flatnonzero(lengths)
    order = used[np.lexsort((used, lengths[used]))]
    fractions = [Fraction(int(codes[s]), 2 ** int(lengths[s])) for s in order]
    assert fractions == sorted(fractions) and fractions[0] == 0


def test_kraft_sum_and_length_table_policy():
    assert huffman.kraft_sum([1, 2, 3, 3, 0]) == 1
    assert huffman.kraft_sum([1, 1, 1]) == Fraction(3, 2)
    assert huffman.kraft_sum([0, 0]) == 0
    check = huffman.check_code_lengths
    assert check([2, 2, 1]).dtype == np.uint8
    for complete in ([1, 1], [0, 1, 0], [0, 0], [32] * 2 + [31] * 1 + list(range(30, 0, -1))):
        check(complete)
    with pytest.raises(ValueError, match="Kraft"):
        check([1, 1, 1], require_complete=False)
    for incomplete in ([1, 2], [2], [0, 3, 3]):
        with pytest.raises(ValueError, match="incomplete"):
            check(incomplete)
        check(incomplete, require_complete=False)  # JPEG-style tables are fine without it
    for bad in ([33, 1], [-1, 1], [], [[1, 1]], [1.0, 1.0], [1] * 65537):
        with pytest.raises(ValueError):
            check(bad, require_complete=False)


def test_lookup_table_entries_start_with_their_code():
    lengths = huffman.code_lengths(fibonacci(16), max_length=14)
    tables = kernels.DecodeTables.from_lengths(lengths)
    codes = huffman.canonical_codes(lengths)
    k = tables.lookup_bits
    assert k == 11
    for index in range(1 << k):
        length = int(tables.lut_lengths[index])
        symbol = int(tables.lut_symbols[index])
        if length:
            assert lengths[symbol] == length and codes[symbol] == index >> (k - length)
        else:  # the code is complete: some code longer than k bits starts here
            assert any(int(codes[s]) >> (int(lengths[s]) - k) == index
                       for s in np.flatnonzero(lengths > k))
    assert np.count_nonzero(tables.lut_lengths == 0) > 0


# --- round trips ---------------------------------------------------------------------------------


def round_trip(symbols, **kwargs) -> bytes:
    """Encode and decode with both kernels and both twins; check everything agrees."""
    expected = np.asarray(symbols).ravel() if not isinstance(symbols, (bytes, bytearray)) else (
        np.frombuffer(symbols, dtype=np.uint8))
    stream = huffman.encode(symbols, **kwargs)
    assert huffman.encode(symbols, use_numba=False, **kwargs) == stream
    decoded = huffman.decode(stream)
    assert np.array_equal(decoded, expected.astype(decoded.dtype)) and decoded.size == expected.size
    alphabet = struct.unpack(">H", stream[9:11])[0] + 1
    assert decoded.dtype == (np.uint8 if alphabet <= 256 else np.uint16)
    if decoded.size <= 5000:
        assert np.array_equal(huffman.decode(stream, use_numba=False), decoded)
    return stream


symbol_lists = st.integers(1, 65536).flatmap(
    lambda alphabet: st.lists(st.integers(0, alphabet - 1), max_size=400))
run_lists = st.lists(st.tuples(st.integers(0, 300), st.integers(1, 500)), max_size=12)


@PROPERTY
@given(symbol_lists)
def test_round_trip_random(symbols):
    round_trip(symbols)


@PROPERTY
@given(run_lists)
def test_round_trip_long_runs(runs):
    symbols = np.repeat([s for s, _ in runs], [n for _, n in runs]).astype(np.int64)
    round_trip(symbols)


@PROPERTY
@given(st.integers(0, 65535), st.integers(1, 3000), st.sampled_from([1, 2, 32]))
def test_round_trip_one_distinct_symbol(symbol, n, max_length):
    stream = round_trip([symbol] * n, max_length=max_length)
    assert len(stream) <= 11 + 6 + (n + 7) // 8  # header, two runs, one bit per symbol


@PROPERTY
@given(st.floats(1.05, 30), st.integers(1, 4000), st.integers(0, 2**32 - 1))
def test_round_trip_skewed(scale, n, seed):
    rng = np.random.default_rng(seed)
    round_trip(np.minimum(rng.geometric(1 / scale, n) - 1, 255).astype(np.uint8))


@pytest.mark.parametrize("empty", [[], b"", np.zeros(0, np.uint16), np.zeros((0, 3), np.int32)])
def test_round_trip_empty(empty):
    stream = round_trip(empty)
    assert huffman.decode(stream).size == 0
    assert huffman.decode(huffman.encode(empty, alphabet_size=300)).dtype == np.uint16


def test_round_trip_all_65536_symbols_and_input_types():
    rng = np.random.default_rng(5)
    symbols = np.concatenate([np.arange(65536), rng.integers(0, 65536, 30000)]).astype(np.uint16)
    rng.shuffle(symbols)
    stream = round_trip(symbols)
    assert round_trip(symbols, max_length=16) != stream  # 65536 symbols fit in 16 bits, just
    with pytest.raises(ValueError):
        huffman.encode(symbols, max_length=15)
    image = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    assert huffman.encode(image) == huffman.encode(image.ravel().tolist()) == huffman.encode(
        bytearray(image.tobytes())) == huffman.encode(image.astype(np.int64))
    for bad, kwargs in [([-1], {}), ([65536], {}), ([1.5], {}), ([3], {"alphabet_size": 3}),
                        ([3], {"alphabet_size": 65537}), ([3], {"max_length": 0})]:
        with pytest.raises(ValueError):
            huffman.encode(bad, **kwargs)


def test_round_trip_fibonacci_counts_that_need_32_bit_codes():
    counts = fibonacci(35)  # 24 million symbols; unlimited Huffman would need 34 bits
    assert huffman.code_lengths(counts).max() == 34
    symbols = np.repeat(np.arange(35, dtype=np.uint8), counts)
    stream = huffman.encode(symbols)
    assert np.array_equal(huffman.decode(stream), symbols)
    # the longest (32-bit) codes take the decoder's slow path; check the twins on them too
    lengths = huffman.code_lengths(counts, 32)
    assert lengths.max() == 32
    rare = np.random.default_rng(0).integers(0, 35, 3000).astype(np.uint8)
    data, n_bits = huffman.encode_with_table(rare, lengths)
    assert (data, n_bits) == huffman.encode_with_table(rare, lengths, use_numba=False)
    assert n_bits == int(lengths[rare].astype(np.int64).sum())
    for use_numba in (True, False):
        assert np.array_equal(huffman.decode_with_table(data, lengths, 3000, use_numba=use_numba),
                              rare)


def test_junk_after_a_stream_is_ignored():
    rng = np.random.default_rng(3)
    for symbols in (b"abracadabra", b"", b"zzzz", rng.integers(0, 999, 700)):
        stream = huffman.encode(symbols)
        for junk in (b"\x00", b"\xff" * 9, rng.bytes(100), stream):
            for use_numba in (True, False):
                assert np.array_equal(huffman.decode(stream + junk, use_numba=use_numba),
                                      huffman.decode(stream))


def test_table_pair_without_header():
    # an incomplete, JPEG-like table: 0, 10, 110; 111 is left unused
    lengths = [1, 2, 3, 0]
    data, n_bits = huffman.encode_with_table([0, 1, 2, 2, 0], lengths)
    assert (data, n_bits) == (bytes([0b01011011, 0b00000000]), 10)  # 0 10 110 110 0
    writer = BitWriter()
    for bits, width in ((0, 1), (0b10, 2), (0b110, 3), (0b110, 3), (0, 1)):
        writer.write(bits, width)
    assert writer.getvalue() == data
    for use_numba in (True, False):
        assert huffman.decode_with_table(data, lengths, 5, use_numba=use_numba).tolist() == [
            0, 1, 2, 2, 0]
        with pytest.raises(BitstreamError, match="invalid code"):
            huffman.decode_with_table(b"\xff", lengths, 2, use_numba=use_numba)
        with pytest.raises(BitstreamError):
            huffman.decode_with_table(data, lengths, 17, use_numba=use_numba)  # > 16 bits
        with pytest.raises(BitstreamError):
            huffman.decode_with_table(data[:1], lengths, 5, use_numba=use_numba)  # truncated
        with pytest.raises(BitstreamError, match="Kraft"):
            huffman.decode_with_table(data, [1, 1, 1], 5, use_numba=use_numba)
    with pytest.raises(ValueError, match="no code"):
        huffman.encode_with_table([3], lengths)
    with pytest.raises(ValueError, match="Kraft"):
        huffman.encode_with_table([0], [1, 1, 1])
    assert huffman.decode_with_table(b"", lengths, 0).size == 0


# --- golden streams -----------------------------------------------------------------------------


def test_golden_abracadabra():
    stream = huffman.encode(b"abracadabra")
    # header: format 1, n = 11, alphabet = ord("r") + 1 = 115
    # table: (0 x97) (1 x1) (3 x3: b c d) (0 x13) (3 x1: r), 6-bit length + Elias gamma run
    table_bits = ("000000" "0000001100001" "000001" "1" "000011" "011" "000000" "0001101"
                  "000011" "1")
    # payload: a=0 b=100 c=101 d=110 r=111, for a b r a c a d a b r a
    payload_bits = "0" "100" "111" "0" "101" "0" "110" "0" "100" "111" "0"

    def to_bytes(bits: str) -> bytes:
        bits += "0" * (-len(bits) % 8)
        return int(bits, 2).to_bytes(len(bits) // 8, "big")

    expected = bytes.fromhex("01" "000000000000000b" "0072") + to_bytes(table_bits) + to_bytes(
        payload_bits)
    assert stream == expected
    assert stream.hex() == "01000000000000000b0072000c20c3600d0e4eac9c"


def test_golden_uint16():
    symbols = np.array([1000, 7, 7, 65535, 7, 1000], dtype=np.uint16)
    stream = huffman.encode(symbols)
    assert stream.hex() == "010000000000000006ffff00e0c0007c01400001f82c148d00"
    decoded = huffman.decode(stream)
    assert decoded.dtype == np.uint16 and decoded.tolist() == symbols.tolist()


# --- hostile input ------------------------------------------------------------------------------


def table_stream(lengths, n_symbols: int, payload: bytes = b"\x00" * 4) -> bytes:
    """A hand-made stream with any (even invalid) length table."""
    lengths = np.asarray(lengths, dtype=np.uint8)
    table, _ = pack_codes(*kernels.length_runs_fields(lengths))
    return struct.pack(">BQH", 1, n_symbols, lengths.size - 1) + table + payload


def test_decoder_refuses_bad_tables_and_counts():
    assert huffman.decode(table_stream([1, 1], 3, b"\x40")).tolist() == [0, 1, 0]  # 010
    for use_numba in (True, False):
        for lengths, match in [([1, 1, 1], "Kraft"), ([2, 2, 1, 1], "Kraft"),
                               ([1, 2, 0], "incomplete"), ([0, 0, 2], "incomplete"),
                               ([0, 0], "no symbol")]:
            with pytest.raises(BitstreamError, match=match):
                huffman.decode(table_stream(lengths, 3), use_numba=use_numba)
        with pytest.raises(BitstreamError, match="cannot fit"):
            huffman.decode(table_stream([1, 1], 2**64 - 1), use_numba=use_numba)
        with pytest.raises(BitstreamError, match="cannot fit"):
            huffman.decode(table_stream([1, 1], 33), use_numba=use_numba)
        # 65536 declared lengths, a few bytes to read them from
        with pytest.raises(BitstreamError, match="truncated"):
            huffman.decode(struct.pack(">BQH", 1, 5, 65535) + b"\x04\x00", use_numba=use_numba)
        with pytest.raises(BitstreamError, match="length above 32"):
            huffman.decode(struct.pack(">BQH", 1, 5, 3) + b"\xff\xff", use_numba=use_numba)
        with pytest.raises(BitstreamError, match="run"):  # a run of 16 lengths for 4 symbols
            huffman.decode(struct.pack(">BQH", 1, 5, 3) + b"\x04\x20", use_numba=use_numba)
        # four symbols of length 2 as one run: 000010 + gamma(4) = 00100, then the payload
        head = struct.pack(">BQH", 1, 2, 3)
        assert huffman.decode(head + b"\x08\x80" + b"\x70", use_numba=use_numba).tolist() == [
            1, 3]
        with pytest.raises(BitstreamError, match="run"):  # gamma(5) = 00101: one too many
            huffman.decode(head + b"\x08\xa0" + b"\x70", use_numba=use_numba)
        with pytest.raises(BitstreamError, match="format byte"):
            huffman.decode(b"\x02" + huffman.encode(b"ab")[1:], use_numba=use_numba)
        with pytest.raises(BitstreamError, match="header"):
            huffman.decode(b"\x01\x00", use_numba=use_numba)


def decode_outcome(stream: bytes, use_numba: bool = True):
    try:
        return huffman.decode(stream, use_numba=use_numba)
    except BitstreamError:
        return None  # any other exception fails the test


def mutated_stream(rng: np.random.Generator, valid: list[bytes], kind: int) -> bytes:
    """One hostile stream: random, truncated, flipped, re-headed, spliced or badly tabled."""
    if kind == 0:  # random bytes, with a valid format byte half of the time
        stream = rng.bytes(int(rng.integers(0, 60)))
        return b"\x01" + stream[1:] if stream and rng.integers(2) else stream
    if kind == 1:  # a length table of random lengths: mostly violating Kraft or incomplete
        lengths = rng.integers(0, 33, int(rng.integers(1, 20))) * (rng.random(1) < 0.5)
        lengths = np.where(rng.random(lengths.size) < 0.3, rng.integers(1, 6, lengths.size),
                           lengths)
        return table_stream(lengths, int(rng.integers(0, 40)), rng.bytes(8))
    base = bytearray(valid[int(rng.integers(len(valid)))])
    if kind == 2:  # truncation
        return bytes(base[: int(rng.integers(0, len(base)))])
    if kind in (3, 4):  # bit flips anywhere, or in the second half (mostly payload)
        low = 0 if kind == 3 else 4 * len(base)
        for bit in rng.integers(low, 8 * len(base), int(rng.integers(1, 9))):
            base[bit // 8] ^= 1 << int(bit % 8)
        return bytes(base)
    if kind == 5:  # huge or shifted symbol counts and alphabets in the header
        if rng.integers(2):
            options = [2**64 - 1, 2**40, 1 + int.from_bytes(base[1:9], "big"), 8 * len(base)]
            base[1:9] = options[int(rng.integers(4))].to_bytes(8, "big")
        else:
            base[9:11] = int(rng.integers(0, 65536)).to_bytes(2, "big")
        return bytes(base)
    if kind == 6:  # random bytes after some point
        cut = int(rng.integers(11, max(12, len(base))))
        return bytes(base[:cut]) + rng.bytes(int(rng.integers(0, 40)))
    at = int(rng.integers(0, len(base)))  # insert or delete a byte
    if rng.integers(2):
        base.insert(at, int(rng.integers(256)))
    else:
        del base[at]
    return bytes(base)


def test_fuzzed_streams_raise_only_bitstream_error():
    rng = np.random.default_rng(2024)
    valid = [huffman.encode(s) for s in (
        b"abracadabra", b"a", b"", np.minimum(rng.geometric(0.2, 300), 40),
        rng.integers(0, 65536, 12), rng.integers(0, 4, 100), np.repeat([5, 300], [70, 2]),
        np.repeat(np.arange(16), fibonacci(16)))]  # the last has 14-bit codes: the slow path
    start = time.perf_counter()
    n_decoded = n_refused = n_compared = 0
    for i in range(16_000):
        stream = mutated_stream(rng, valid, i % 8)
        outcome = decode_outcome(stream)
        n_decoded += outcome is not None
        n_refused += outcome is None
        if i % 10 == 0:  # the readable twins give the same answers on hostile input
            twin = decode_outcome(stream, use_numba=False)
            assert (outcome is None) == (twin is None)
            assert twin is None or np.array_equal(outcome, twin)
            n_compared += 1
    assert n_decoded > 1000 and n_refused > 10_000 and n_compared == 1600
    assert time.perf_counter() - start < 20  # generous bound for a loaded 2-core machine


# --- pictures ----------------------------------------------------------------------------------


def test_plots_and_summary():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = huffman.symbol_counts(b"abracadabra")
    labels = {s: chr(s) for s in range(256)}
    ax = huffman_plots.plot_tree(counts, labels=labels)
    texts = [t.get_text() for t in ax.texts]
    assert {"a\n5", "b\n2", "c\n1", "d\n1", "r\n2", "11"} <= set(texts)
    assert texts.count("0") == texts.count("1") == 4  # 4 inner nodes, one 0 and one 1 edge each
    ax = huffman_plots.plot_code_table(counts, labels=labels)
    cells = {cell.get_text().get_text() for cell in ax.tables[0].get_celld().values()}
    assert {"0", "100", "101", "110", "111", "0.4545"} <= cells
    summary = huffman_plots.code_summary(counts)
    assert summary["kraft_sum"] == 1 and summary["max_length"] == 3
    assert summary["average_length"] == pytest.approx(23 / 11)
    assert 0 <= summary["redundancy"] < 1
    plt.close("all")


def test_the_algorithm_does_not_know_its_plots():
    # plots depend on the algorithm, never the reverse (issue #14): no lazy attribute either
    assert not any(hasattr(huffman, name) for name in huffman_plots.__all__)
