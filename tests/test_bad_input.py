"""Hostile input: ``decompress`` answers every malformed stream with BitstreamError, quickly.

Property-based (hypothesis): thousands of random byte strings, truncations, bit flips, insertions
and deletions of valid streams. Any other exception, a crash or a slow case fails the test.
"""

import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fromscratch
from fromscratch import container

FUZZ = settings(
    max_examples=1500,
    deadline=2000,  # milliseconds per case: generous for a loaded 2-core CI machine
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)

_rng = np.random.default_rng(7)
IMAGE = _rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
VALID = {
    "raw": fromscratch.compress(IMAGE, codec="raw"),
    "pillow-jpeg": fromscratch.compress(IMAGE, codec="pillow-jpeg", quality=60),
    "pillow-png": fromscratch.compress(IMAGE, codec="pillow-png"),
}
# Decode each once before the timed cases: Numba compiles the decoders' kernels on first use
# (seconds on a fresh clone), which is not what the per-case deadline is about.
for _stream in VALID.values():
    fromscratch.decompress(_stream)


def decodes_or_raises_bitstream_error(data: bytes) -> None:
    try:
        out = fromscratch.decompress(data)
    except fromscratch.BitstreamError:
        return
    assert out.dtype == np.uint8 and out.ndim in (2, 3)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    decodes_or_raises_bitstream_error(data)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_after_the_magic(tail):
    decodes_or_raises_bitstream_error(container.MAGIC + tail)


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.data())
def test_truncation(name, data):
    stream = VALID[name]
    cut = data.draw(st.integers(0, len(stream) - 1))
    if name == "raw":
        with pytest.raises(fromscratch.BitstreamError):
            fromscratch.decompress(stream[:cut])
    else:
        decodes_or_raises_bitstream_error(stream[:cut])


@FUZZ
@given(st.sampled_from(sorted(VALID)), st.data())
def test_bit_flips(name, data):
    stream = bytearray(VALID[name])
    flips = data.draw(st.lists(st.integers(0, 8 * len(stream) - 1), min_size=1, max_size=8))
    for bit in flips:
        stream[bit // 8] ^= 1 << (bit % 8)
    decodes_or_raises_bitstream_error(bytes(stream))


@FUZZ
@given(st.data())
def test_insertions_and_deletions(data):
    stream = bytearray(VALID["raw"])
    position = data.draw(st.integers(0, len(stream) - 1))
    if data.draw(st.booleans()):
        del stream[position : position + data.draw(st.integers(1, 16))]
    else:
        stream[position:position] = data.draw(st.binary(min_size=1, max_size=16))
    decodes_or_raises_bitstream_error(bytes(stream))


def test_flipped_container_streams_never_decode_silently():
    # The CRC covers the header and the payload: every flip of a raw stream must be detected.
    stream = VALID["raw"]
    for bit in range(0, 8 * len(stream), 37):
        damaged = bytearray(stream)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(fromscratch.BitstreamError):
            fromscratch.decompress(bytes(damaged))


def test_huge_header_is_refused_quickly():
    header = (container.MAGIC + bytes([1, 3]) + b"raw"
              + struct.pack(">IIBH", 100_000, 100_000, 3, 2)
              + b"{}" + struct.pack(">I", 30_000_000_000 % 2**32))
    start = time.perf_counter()
    with pytest.raises(fromscratch.BitstreamError, match="limit"):
        fromscratch.decompress(header + bytes(16))
    assert time.perf_counter() - start < 0.5


def test_huge_jpeg_dimensions_are_refused_before_decoding():
    # A JPEG whose SOF0 claims 65500 x 65500 pixels (4.3 gigapixels).
    jpeg = bytearray(VALID["pillow-jpeg"])
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 65500, 65500)
    with pytest.raises(fromscratch.BitstreamError, match=r"limit|decode"):
        fromscratch.decompress(bytes(jpeg))


# The container's CRC stops damaged streams before any payload decoder sees them, so the payload
# decoders of the learned codecs are fuzzed directly: they must turn any payload into an image of
# the announced shape or a BitstreamError.
PAYLOAD_CODECS = [
    ("mlp-predictive", {"predictor": "mlp"}),
    ("mlp-predictive", {"predictor": "mlp", "adapt": False}),
    ("mlp-predictive", {"predictor": "ls"}),
    ("mlp-predictive", {"predictor": "med"}),
    ("mlp1987", {"k": 8, "bits": 5}),
    ("klt", {"k": 8, "bits": 5}),
    ("dct-zonal", {"k": 4, "bits": 4}),
]
SMALL = IMAGE[:12, :20]
PAYLOADS = {
    (name, tuple(sorted(params.items()))): fromscratch.codecs.get_codec(name, **params)
    .encode_payload(SMALL)
    for name, params in PAYLOAD_CODECS
}
for (_name, _params), _payload in PAYLOADS.items():  # compile the kernels before the deadlines
    fromscratch.codecs.get_codec(_name, **dict(_params)).decode_payload(_payload, SMALL.shape)

PAYLOAD_FUZZ = settings(FUZZ, max_examples=400)


def _payload_decodes_or_raises(key, payload: bytes) -> None:
    name, params = key
    codec = fromscratch.codecs.get_codec(name, **dict(params))
    try:
        out = codec.decode_payload(payload, SMALL.shape)
    except fromscratch.BitstreamError:
        return
    assert out.shape == SMALL.shape and out.dtype == np.uint8


@PAYLOAD_FUZZ
@given(st.sampled_from(sorted(PAYLOADS)), st.data())
def test_damaged_payloads_of_the_chapter3_codecs(key, data):
    payload = bytearray(PAYLOADS[key])
    if data.draw(st.booleans()):
        payload = payload[: data.draw(st.integers(0, len(payload)))]
    else:
        for bit in data.draw(st.lists(st.integers(0, 8 * len(payload) - 1), min_size=1,
                                      max_size=8)):
            payload[bit // 8] ^= 1 << (bit % 8)
    _payload_decodes_or_raises(key, bytes(payload))


@PAYLOAD_FUZZ
@given(st.sampled_from(sorted(PAYLOADS)), st.binary(max_size=200))
def test_random_payloads_of_the_chapter3_codecs(key, junk):
    _payload_decodes_or_raises(key, junk)
