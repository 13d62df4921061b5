"""Hostile and unsupported input: the JPEG decoder answers with BitstreamError, never a crash.

First the kinds of JPEG the decoder refuses on purpose (progressive, 12-bit, CMYK ...), each with a
message naming what is unsupported; then specific malformations; then a seeded loop over 24,000
mutated small files (bit flips, truncations, corrupted segment lengths, bogus Huffman and
quantization tables, absurd frame headers, random scans, random bytes) in which every outcome must
be a BitstreamError or an image of the shape the file declares. Any other exception fails the test.
"""

import io
import tracemalloc
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from fromscratch.bitstream import BitstreamError
from fromscratch.codecs.jpeg.decoder import decode
from fromscratch.codecs.jpeg.parser import parse

_rng = np.random.default_rng(11)
_smooth = np.cumsum(np.cumsum(_rng.integers(-3, 4, (48, 48, 3)), axis=0), axis=1)
IMAGE = np.clip(_smooth + 128, 0, 255).astype(np.uint8)


def pillow_jpeg(image, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def segments(data: bytes):
    """[(marker, offset of its FF)] from SOI up to and including the SOS."""
    found, position = [], 2
    while True:
        marker = data[position + 1]
        found.append((marker, position))
        if marker == 0xDA:
            return found
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")


def offset_of(data: bytes, marker: int) -> int:
    return next(position for m, position in segments(data) if m == marker)


def patched(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


def refused(data: bytes, match: str) -> None:
    with pytest.raises(BitstreamError, match=match):
        decode(data)


BASE = pillow_jpeg(IMAGE[:24, :32], quality=75)
SOF = offset_of(BASE, 0xC0)


# --------------------------------------------------------------------------------------------
# Unsupported kinds of JPEG
# --------------------------------------------------------------------------------------------
def test_progressive_is_refused():
    refused(pillow_jpeg(IMAGE, progressive=True), "progressive JPEG")


def test_cmyk_is_refused():
    buffer = io.BytesIO()
    Image.fromarray(IMAGE).convert("CMYK").save(buffer, "JPEG")
    refused(buffer.getvalue(), "4-component.*CMYK")


@pytest.mark.parametrize("marker", [0xC0, 0xC1])
def test_twelve_bit_samples_are_refused(marker):
    data = patched(BASE, SOF + 1, bytes([marker]))
    refused(patched(data, SOF + 4, b"\x0c"), "12-bit samples are not supported")


@pytest.mark.parametrize("marker,name", [
    (0xC2, "progressive"), (0xC3, "lossless"), (0xC5, "hierarchical"), (0xC7, "hierarchical"),
    (0xC9, "arithmetic"), (0xCA, "arithmetic"), (0xCB, "arithmetic"), (0xCD, "arithmetic"),
    (0xDE, "hierarchical"), (0xCC, "arithmetic"),
])
def test_other_processes_are_refused(marker, name):
    refused(patched(BASE, SOF + 1, bytes([marker])), name)


def test_dnl_is_refused():
    refused(patched(BASE, SOF + 5, b"\x00\x00"), "DNL")
    trailer = b"\xff\xdc\x00\x04\x00\x18\xff\xd9"
    refused(patched(BASE, SOF + 5, b"\x00\x00")[:-2] + trailer, "DNL")


def test_several_scans_are_refused():
    sos = offset_of(BASE, 0xDA)
    refused(BASE[:-2] + BASE[sos:], "several scans")
    one_component = BASE[:sos + 4] + b"\x01\x01\x00\x00\x3f\x00" + BASE[sos + 14 :]
    one_component = patched(one_component, sos + 2, b"\x00\x08")
    refused(one_component, "several scans")


def test_two_components_and_large_sampling_factors_are_refused():
    refused(patched(BASE, SOF + 9, b"\x02"), "2-component")
    refused(patched(BASE, SOF + 11, b"\x32"), "sampling factors 3x2 are not supported")
    refused(patched(BASE, SOF + 11, b"\x14"), "sampling factors 1x4 are not supported")


# --------------------------------------------------------------------------------------------
# Specific malformations
# --------------------------------------------------------------------------------------------
def test_bad_tables_are_refused():
    dht = offset_of(BASE, 0xC4)
    refused(patched(BASE, dht + 5, bytes([3] + [0] * 15)), "Kraft")  # three 1-bit codes
    refused(patched(BASE, dht + 5, bytes([0] * 15 + [255])), "truncated")
    refused(patched(BASE, dht + 5, bytes([0, 4, 255, 255] + [0] * 12)), "at most 256")
    dqt = offset_of(BASE, 0xDB)
    refused(patched(BASE, dqt + 10, b"\x00"), "contains a zero")
    refused(patched(BASE, dqt + 4, b"\x20"), "invalid DQT")


def test_bad_frames_are_refused():
    refused(patched(BASE, SOF + 5, b"\xff\xff\xff\xff"), "exceeds the limit")
    refused(patched(BASE, SOF + 7, b"\x00\x00"), "width 0")
    refused(patched(BASE, SOF + 9, b"\x00"), "invalid number of components")
    refused(patched(BASE, SOF + 11, b"\x00"), "invalid sampling factors")
    refused(patched(BASE, SOF + 12, b"\x07"), "quantization table 7")
    refused(patched(BASE, SOF + 10, b"\x02"), "appears twice")
    blocks_12 = patched(patched(BASE, SOF + 14, b"\x22"), SOF + 17, b"\x22")
    refused(blocks_12, "12 blocks exceeds the limit of 10")


def test_bad_scans_are_refused():
    sos = offset_of(BASE, 0xDA)
    refused(patched(BASE, sos + 6, b"\x33"), "undefined DC Huffman table 3")
    refused(patched(BASE, sos + 5, b"\x09"), "not in the frame")
    refused(patched(BASE, sos + 11, b"\x01"), "spectral selection")
    refused(BASE[:-2], "without a marker")
    refused(BASE[:sos] + BASE[sos:].replace(b"\xff\xd9", b"\xff\xd0\xff\xd9"), "restart")
    restarts = pillow_jpeg(IMAGE, restart_marker_blocks=1)
    refused(restarts.replace(b"\xff\xd3", b"\xff\xd5", 1), "RST5 .* expected RST3")


def test_truncation_at_every_position_is_refused():
    for cut in range(len(BASE) - 1):
        with pytest.raises(BitstreamError):
            decode(BASE[:cut])


def test_huge_claims_allocate_little():
    # 9000 x 9000 is under MAX_IMAGE_PIXELS, but the scan is far too short for its blocks
    data = patched(BASE, SOF + 5, (9000).to_bytes(2, "big") + (9000).to_bytes(2, "big"))
    tracemalloc.start()
    try:
        refused(data, "too few")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20


# --------------------------------------------------------------------------------------------
# The seeded fuzz loop
# --------------------------------------------------------------------------------------------
BASES = [
    pillow_jpeg(IMAGE[:16, :16], quality=50),
    pillow_jpeg(IMAGE[:24, :40], quality=90, subsampling=1, restart_marker_blocks=1),
    pillow_jpeg(IMAGE[:17, :23], quality=30, subsampling=0, optimize=True),
    pillow_jpeg(IMAGE[:40, :48, 0], quality=75, restart_marker_rows=1),
    pillow_jpeg(IMAGE[:33, :9], quality=100, subsampling=2),
]


def _flip_bits(data, rng):
    array = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        bit = int(rng.integers(0, 8 * len(array)))
        array[bit // 8] ^= 1 << (bit % 8)
    return bytes(array)


def _truncate(data, rng):
    return data[: int(rng.integers(0, len(data)))]


def _segment_length(data, rng):
    _, position = segments(data)[int(rng.integers(len(segments(data))))]
    length = int.from_bytes(data[position + 2 : position + 4], "big")
    new = int(rng.choice([0, 1, 2, 3, length - 1, length + 1, 0xFFFF, rng.integers(0, 65536)]))
    return patched(data, position + 2, (new % 65536).to_bytes(2, "big"))


def _huffman_table(data, rng):
    position = offset_of(data, 0xC4) + 5
    kind = int(rng.integers(3))
    if kind == 0:  # random counts: mostly Kraft violations or more than 256 values
        bits = rng.integers(0, 256 if rng.random() < 0.5 else 8, 16)
    elif kind == 1:  # a valid-looking shape with one count changed
        bits = np.frombuffer(data, np.uint8, 16, position).copy()
        bits[int(rng.integers(16))] = int(rng.integers(256))
    else:  # an incomplete but legal table: many codes turn into invalid bit patterns
        bits = np.zeros(16, np.int64)
        bits[int(rng.integers(16))] = 1
    return patched(data, position, bytes(np.asarray(bits, np.uint8).tolist()))


def _quant_table(data, rng):
    position = offset_of(data, 0xDB) + 4
    if rng.random() < 0.3:
        return patched(data, position, bytes([int(rng.integers(256))]))
    return patched(data, position + 1 + int(rng.integers(64)), b"\x00")


def _frame(data, rng):
    position = offset_of(data, 0xC0) + 5
    field = int(rng.integers(4))
    if field < 2:  # height or width
        value = int(rng.choice([0, 1, 7, 65535, rng.integers(0, 65536)]))
        return patched(data, position + 2 * field, value.to_bytes(2, "big"))
    if field == 2:  # component count
        return patched(data, position + 4, bytes([int(rng.choice([0, 1, 2, 3, 4, 255]))]))
    return patched(data, position + 5 + int(rng.integers(3 * data[position + 4])),
                   bytes([int(rng.integers(256))]))


def _scan_header(data, rng):
    position = offset_of(data, 0xDA) + 4 + int(rng.integers(data[offset_of(data, 0xDA) + 3] - 2))
    return patched(data, position, bytes([int(rng.integers(256))]))


def _scan_bytes(data, rng):
    start = offset_of(data, 0xDA) + 2 + int.from_bytes(data[offset_of(data, 0xDA) + 2:][:2], "big")
    array = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        position = int(rng.integers(start, len(array)))
        array[position : position + 2] = bytes(rng.choice(
            [[0xFF, int(rng.integers(256))], [int(rng.integers(256))] * 2]).tolist())
    return bytes(array)


def _random_scan(data, rng):
    """Valid headers, then random entropy-coded bytes (0xFF stuffed) and EOI."""
    sos = offset_of(data, 0xDA)
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    noise = rng.integers(0, 256, int(rng.integers(1, 400)), np.uint8).tobytes()
    return data[:start] + noise.replace(b"\xff", b"\xff\x00") + b"\xff\xd9"


def _random_after_soi(data, rng):
    return b"\xff\xd8" + rng.integers(0, 256, int(rng.integers(0, 300)), np.uint8).tobytes()


def _insert_or_delete(data, rng):
    position = int(rng.integers(len(data)))
    if rng.random() < 0.5:
        return data[:position] + data[position + int(rng.integers(1, 8)) :]
    return data[:position] + rng.integers(0, 256, int(rng.integers(1, 8)), np.uint8).tobytes() \
        + data[position:]


def _restart_interval(data, rng):
    sos = offset_of(data, 0xDA)
    interval = int(rng.choice([0, 1, 2, 3, 65535, rng.integers(0, 65536)]))
    return data[:sos] + b"\xff\xdd\x00\x04" + interval.to_bytes(2, "big") + data[sos:]


MUTATIONS = [_flip_bits, _truncate, _segment_length, _huffman_table, _quant_table, _frame,
             _scan_header, _scan_bytes, _random_scan, _random_after_soi, _insert_or_delete,
             _restart_interval]
N_CASES = 24_000  # about 7 s here


def run_fuzz(n_cases: int = N_CASES, seed: int = 2024) -> Counter:
    """Decode ``n_cases`` mutated files; return outcome counts (decoded / error kinds)."""
    rng = np.random.default_rng(seed)
    outcomes: Counter = Counter()
    for case in range(n_cases):
        mutate = MUTATIONS[case % len(MUTATIONS)]
        data = mutate(BASES[int(rng.integers(len(BASES)))], rng)
        try:
            image = decode(data)
        except BitstreamError as error:
            outcomes[f"{mutate.__name__}: BitstreamError"] += 1
            outcomes["error: " + " ".join(str(error).split()[:3])] += 1
            continue
        frame = parse(data).frame
        expected = (frame.height, frame.width) + ((3,) if len(frame.components) == 3 else ())
        assert image.shape == expected and image.dtype == np.uint8, mutate.__name__
        outcomes[f"{mutate.__name__}: decoded"] += 1
    return outcomes


def test_fuzz_only_bitstream_errors_or_declared_shapes():
    outcomes = run_fuzz()
    decoded = sum(n for key, n in outcomes.items() if key.endswith(": decoded"))
    errors = sum(n for key, n in outcomes.items() if key.endswith(": BitstreamError"))
    assert decoded + errors == N_CASES >= 10_000
    assert decoded > 1000 and errors > 10_000  # both outcomes are exercised
