"""The container: layout, CRC-32, limits, and every way a header can be wrong."""

import binascii
import struct

import numpy as np
import pytest

from fromscratch import container
from fromscratch.bitstream import BitstreamError


def test_crc32_matches_binascii_for_kernel_and_reference():
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 255, 4096):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        expected = binascii.crc32(data)
        assert container.crc32(data) == expected
        assert container.crc32_reference(data) == expected
    # The check value every CRC-32 implementation publishes.
    assert container.crc32(b"123456789") == 0xCBF43926


def test_pack_layout_is_as_documented():
    data = container.pack("raw", (2, 3), {"quality": 5}, b"\x01\x02")
    assert data[:4] == container.MAGIC
    assert data[4] == container.FORMAT_VERSION
    assert data[5] == 3 and data[6:9] == b"raw"
    height, width, channels, plen = struct.unpack(">IIBH", data[9:20])
    assert (height, width, channels) == (2, 3, 1)
    assert data[20 : 20 + plen] == b'{"quality":5}'
    (length,) = struct.unpack(">I", data[20 + plen : 24 + plen])
    assert length == 2 and data[24 + plen : 26 + plen] == b"\x01\x02"
    assert struct.unpack(">I", data[-4:])[0] == binascii.crc32(data[:-4])


@pytest.mark.parametrize("shape", [(1, 1), (5, 7, 3), (480, 640)])
def test_round_trip_and_trailing_junk_is_ignored(shape):
    payload = bytes(range(200))
    params = {"a": 1, "b": 2.5, "c": True, "d": "4:2:0"}
    data = container.pack("mycodec", shape, params, payload)
    header, out = container.unpack(data + b"junk after the stream")
    assert out == payload
    assert header.shape == shape and header.codec == "mycodec" and header.params == params
    assert header.total_length == len(data)


def test_every_truncation_raises():
    data = container.pack("raw", (4, 4, 3), {"q": 1}, bytes(48))
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            container.unpack(data[:cut])


def test_every_single_bit_flip_is_caught():
    data = bytearray(container.pack("raw", (3, 2), {}, bytes(range(6))))
    for byte in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[byte] ^= 1 << bit
            with pytest.raises(BitstreamError):
                container.unpack(bytes(damaged))


def _header(height, width, channels=3, params=b"{}", payload_length=0):
    return (container.MAGIC + bytes([1, 3]) + b"raw"
            + struct.pack(">IIBH", height, width, channels, len(params)) + params
            + struct.pack(">I", payload_length))


def test_huge_dimensions_are_refused_before_allocation():
    with pytest.raises(BitstreamError, match="exceeds the limit"):
        container.read_header(_header(100_000, 100_000))
    with pytest.raises(BitstreamError):
        container.read_header(_header(0, 10))


def test_payload_length_beyond_the_data_is_refused():
    with pytest.raises(BitstreamError, match="truncated"):
        container.read_header(_header(10, 10, payload_length=2**32 - 1) + bytes(100))


@pytest.mark.parametrize(
    "params",
    [b"[1, 2]", b'{"a": [1]}', b"{", b"\xff\xfe", b'{"a": NaN}', b"[" * 3000 + b"]" * 3000],
)
def test_bad_parameter_blocks_are_refused(params):
    with pytest.raises(BitstreamError):
        container.read_header(_header(2, 2, params=params[:4096]) + bytes(64))


def test_bad_magic_version_channels_and_name():
    good = _header(2, 2, payload_length=0) + b"\0\0\0\0"
    with pytest.raises(BitstreamError, match="magic"):
        container.read_header(b"XXXX" + good[4:])
    with pytest.raises(BitstreamError, match="version"):
        container.read_header(good[:4] + b"\x02" + good[5:])
    with pytest.raises(BitstreamError):
        container.read_header(_header(2, 2, channels=4))
    with pytest.raises(BitstreamError, match="name"):
        container.read_header(good[:5] + b"\x00" + good[6:])


def test_encoder_side_refuses_what_the_decoder_would_refuse():
    with pytest.raises(ValueError):
        container.pack("raw", (100_000, 100_000, 3), {}, b"")
    with pytest.raises(ValueError):
        container.pack("", (2, 2), {}, b"")
    with pytest.raises(ValueError):
        container.pack("raw", (2, 2, 4), {}, b"")
    with pytest.raises(ValueError):
        container.pack("raw", (2, 2), {"x": [1]}, b"")
    with pytest.raises(ValueError):
        container.pack("raw", (2, 2), {"x": float("nan")}, b"")
