"""Tests for fromscratch.bitstream: BitWriter/BitReader round trips and pack_codes twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fromscratch import bitstream
from fromscratch.bitstream import (
    MAX_PACKED_CODE_LENGTH,
    BitReader,
    BitstreamError,
    BitWriter,
    pack_codes,
    pack_codes_reference,
    unpack_bits,
)

# database=None: keep hypothesis from leaving a .hypothesis/ folder in the repo
FAST_PROPERTY = settings(max_examples=300, deadline=None, database=None)


def random_fields(rng: np.random.Generator, n: int, max_bits: int = 64) -> list[tuple[int, int]]:
    """n (value, nbits) pairs, nbits uniform in 0..max_bits and the edge widths always present."""
    widths = [0, 1, 63, 64, *rng.integers(0, max_bits + 1, size=n).tolist()]
    widths = [w for w in widths if w <= max_bits]
    rng.shuffle(widths)
    return [(int.from_bytes(rng.bytes(8), "big") >> (64 - w), w) for w in widths]


def write_all(fields, align_every: int = 0) -> BitWriter:
    writer = BitWriter()
    for i, (value, nbits) in enumerate(fields):
        writer.write(value, nbits)
        if align_every and i % align_every == align_every - 1:
            writer.align()
    return writer


def random_codes(rng: np.random.Generator, n: int, max_length: int) -> tuple[np.ndarray, ...]:
    lengths = rng.integers(1, max_length + 1, size=n).astype(np.uint8)
    random_words = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    codes = random_words >> (64 - lengths.astype(np.uint64))  # keep the top `length` bits
    return codes, lengths


# --- BitWriter / BitReader -------------------------------------------------------------------


def test_hand_checked_bytes():
    writer = BitWriter()
    writer.write(0b101, 3)
    writer.write(1, 1)
    writer.align()
    assert writer.getvalue() == b"\xb0"
    assert writer.bit_length == 8

    writer = BitWriter()
    writer.write(0xABC, 12)
    writer.write_bit(1)
    assert writer.getvalue() == b"\xab\xc8"
    writer.align(fill_bit=1)  # JPEG-style padding with ones
    assert writer.getvalue() == b"\xab\xcf"

    writer = BitWriter()
    writer.write(2**64 - 1, 64)
    writer.write(0, 0)
    assert writer.getvalue() == b"\xff" * 8


def test_getvalue_does_not_change_writer_state():
    writer = BitWriter()
    writer.write(0b1, 1)
    assert writer.getvalue() == b"\x80"
    assert writer.bit_length == 1
    writer.write(0b1, 1)  # continues right after the first bit, not after the padding
    assert writer.getvalue() == b"\xc0"
    assert writer.bit_length == 2


@pytest.mark.parametrize("align_every", [0, 1, 3])
def test_round_trip_random_fields(align_every):
    rng = np.random.default_rng(align_every)
    fields = random_fields(rng, 2000)
    writer = write_all(fields, align_every)
    data = writer.getvalue()
    assert len(data) == (writer.bit_length + 7) // 8

    reader = BitReader(data)
    for i, (value, nbits) in enumerate(fields):
        assert reader.peek(nbits) == value
        assert reader.read(nbits) == value
        if align_every and i % align_every == align_every - 1:
            reader.align()
            assert reader.position % 8 == 0
    assert reader.position == writer.bit_length
    assert reader.bits_left < 8


def test_round_trip_single_bits_and_positions():
    bits = np.random.default_rng(1).integers(0, 2, size=101).tolist()
    writer = BitWriter()
    for bit in bits:
        writer.write_bit(bit)
    reader = BitReader(writer.getvalue())
    assert [reader.read_bit() for _ in bits] == bits
    assert reader.position == 101
    assert reader.byte_position == 12
    assert reader.bits_left == 3
    reader.align()
    assert (reader.position, reader.byte_position, reader.bits_left) == (104, 13, 0)
    assert reader.read(0) == 0


def test_reader_offset_and_input_types():
    data = b"junk" + b"\xb0"
    for source in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        reader = BitReader(source, offset_bytes=4)
        assert reader.position == 32 and reader.byte_position == 4
        assert (reader.read(3), reader.read_bit(), reader.bits_left) == (0b101, 1, 4)
    with pytest.raises(ValueError):
        BitReader(data, offset_bytes=6)
    with pytest.raises(TypeError):
        BitReader(5)


def test_junk_after_stream_does_not_change_what_is_read():
    fields = random_fields(np.random.default_rng(2), 300)
    data = write_all(fields).getvalue()
    junk = np.random.default_rng(3).bytes(17)
    for stream in (data, data + junk, data + b"\xff" * 9):
        reader = BitReader(stream)
        assert [reader.read(nbits) for _, nbits in fields] == [value for value, _ in fields]


def test_reading_past_the_end_raises_bitstream_error():
    assert issubclass(BitstreamError, ValueError)
    reader = BitReader(b"\xb0\x01")
    reader.read(13)
    with pytest.raises(BitstreamError, match=r"4 bits at bit position 13 \(byte 1") as info:
        reader.read(4)
    assert "3 bits are left" in str(info.value)
    assert reader.position == 13  # a failed read does not move
    with pytest.raises(BitstreamError):
        reader.peek(4)
    assert reader.read(3) == 1
    with pytest.raises(BitstreamError, match="bit position 16"):
        reader.read_bit()
    with pytest.raises(BitstreamError):
        BitReader(b"").read(1)


@pytest.mark.parametrize(
    ("value", "nbits"), [(-1, 3), (8, 3), (1, 0), (0, -1), (0, 65), (2**64, 64), (1.0, 3)]
)
def test_invalid_writes_raise(value, nbits):
    writer = BitWriter()
    with pytest.raises((ValueError, TypeError)):  # TypeError only for the float
        writer.write(value, nbits)
    assert writer.bit_length == 0


def test_invalid_bits_and_reads_raise_value_error():
    with pytest.raises(ValueError):
        BitWriter().write_bit(2)
    with pytest.raises(ValueError):
        BitWriter().align(fill_bit=-1)
    with pytest.raises(ValueError):
        BitReader(b"\x00").read(-1)


# --- pack_codes ------------------------------------------------------------------------------


code_with_length = st.integers(0, MAX_PACKED_CODE_LENGTH).flatmap(
    lambda length: st.tuples(st.integers(0, 2**length - 1), st.just(length))
)


@FAST_PROPERTY
@given(st.lists(code_with_length, max_size=60))
def test_pack_codes_numba_matches_reference_and_bitwriter(pairs):
    codes = np.array([code for code, _ in pairs], dtype=np.uint64)
    lengths = np.array([length for _, length in pairs], dtype=np.uint8)
    packed = pack_codes(codes, lengths)
    assert packed == pack_codes_reference(codes, lengths)
    assert packed == pack_codes(codes, lengths, use_numba=False)
    assert packed == (write_all(pairs).getvalue(), sum(lengths.tolist()))


def test_pack_codes_hand_checked_and_empty():
    assert pack_codes([0b101, 0b1], [3, 1]) == (b"\xb0", 4)
    assert pack_codes([0xAB, 0, 0xC], [8, 0, 4]) == (b"\xab\xc0", 12)
    assert pack_codes([2**57 - 1], [57]) == (b"\xff" * 7 + b"\x80", 57)
    for use_numba in (True, False):
        assert pack_codes([], [], use_numba=use_numba) == (b"", 0)
        assert pack_codes(np.zeros(0, np.uint64), np.zeros(0, np.uint8), use_numba) == (b"", 0)
        assert pack_codes([0, 0], [0, 0], use_numba=use_numba) == (b"", 0)


def test_pack_codes_million_codes():
    codes, lengths = random_codes(np.random.default_rng(4), 10**6, MAX_PACKED_CODE_LENGTH)
    data, n_bits = pack_codes(codes, lengths)
    assert n_bits == int(lengths.sum(dtype=np.int64)) > 255  # a uint8 sum would have wrapped
    assert (data, n_bits) == pack_codes_reference(codes, lengths)
    writer = write_all(zip(codes[:5000].tolist(), lengths[:5000].tolist(), strict=True))
    assert data.startswith(writer.getvalue()[: writer.bit_length // 8])


def test_pack_codes_accepts_other_integer_dtypes():
    expected = pack_codes(np.array([5, 1], np.uint64), np.array([3, 1], np.uint8))
    for dtype in (np.int8, np.int32, np.int64, np.uint16):
        assert pack_codes(np.array([5, 1], dtype), np.array([3, 1], dtype)) == expected


def test_kernel_pure_python_twin_matches():
    # .py_func runs the kernel's source as plain Python: the way to debug it with print()
    codes, lengths = random_codes(np.random.default_rng(5), 200, 20)
    out = np.zeros((int(lengths.sum(dtype=np.int64)) + 7) // 8, np.uint8)
    assert bitstream._pack_codes_kernel.py_func(codes, lengths, out) == out.size
    assert out.tobytes() == pack_codes(codes, lengths)[0]


INVALID_CODE_INPUTS = [
    ([1, 2], [3]),  # unequal shapes
    (np.zeros((2, 2), np.uint64), np.ones((2, 2), np.uint8)),  # not 1-D
    ([1], [MAX_PACKED_CODE_LENGTH + 1]),  # length too long for the accumulator
    ([1], [-1]),  # negative length
    ([8], [3]),  # code wider than its length
    ([1], [0]),  # a 0-bit code must be 0
    ([-1], [3]),  # negative code
    ([1.0], [3]),  # float codes
    ([1], [3.0]),  # float lengths
    ([2**64], [8]),  # does not even fit uint64 (object dtype)
]


@pytest.mark.parametrize(("codes", "lengths"), INVALID_CODE_INPUTS)
def test_invalid_pack_inputs_raise_before_the_kernel(monkeypatch, codes, lengths):
    def kernel_must_not_run(*args):
        raise AssertionError("validation let bad input reach the Numba kernel")

    monkeypatch.setattr(bitstream, "_pack_codes_kernel", kernel_must_not_run)
    for use_numba in (True, False):
        with pytest.raises(ValueError):
            pack_codes(codes, lengths, use_numba=use_numba)


def test_unpack_bits_inverts_pack_codes():
    codes, lengths = random_codes(np.random.default_rng(6), 500, 16)
    data, n_bits = pack_codes(codes, lengths)
    bits = unpack_bits(data, n_bits)
    assert bits.dtype == np.uint8 and bits.shape == (n_bits,)
    assert set(np.unique(bits).tolist()) <= {0, 1}
    np.testing.assert_array_equal(unpack_bits(b"\xb0", 4), [1, 0, 1, 1])
    assert unpack_bits(bytearray(b"\xff"), 0).shape == (0,)
    reader = BitReader(data)
    assert bits[:64].tolist() == [reader.read_bit() for _ in range(64)]
    for bad_n_bits in (-1, 8 * len(data) + 1):
        with pytest.raises(ValueError):
            unpack_bits(data, bad_n_bits)
