"""The baseline JPEG decoder against Pillow (libjpeg-turbo), the oracle.

Pillow writes the files and decodes them too; ours must give the same pixels within rounding
(PSNR >= 45 dB; bit-exact where the inverse DCT is exact). Layouts Pillow cannot write (4:4:0,
subsampled luma, several tables per segment, 16-bit DQT, fill bytes ...) come from a small
test-side encoder or from rewriting Pillow's segments, and Pillow still decodes them for us.
"""

import io

import numpy as np
import pytest
from PIL import Image

from fromscratch.bitstream import BitstreamError
from fromscratch.codecs.jpeg import decoder, upsample
from fromscratch.codecs.jpeg.tables import (
    AC_LUMINANCE,
    DC_LUMINANCE,
    LUMINANCE_QUANT,
    ZIGZAG,
    code_table,
    quality_scaled,
)
from fromscratch.data import BUNDLED_DIR
from fromscratch.metrics import psnr
from fromscratch.transforms import colour, dct

RNG = np.random.default_rng(2024)
SAMPLE = np.asarray(Image.open(BUNDLED_DIR / "samples" / "kodim23-half.png").convert("RGB"))


def pillow_jpeg(image, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def pillow_decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def assert_matches_pillow(data: bytes, min_psnr: float = 45.0) -> np.ndarray:
    expected = pillow_decode(data)
    ours = decoder.decode(data)
    assert ours.dtype == np.uint8 and ours.shape == expected.shape
    if not np.array_equal(ours, expected):
        assert psnr(ours, expected) >= min_psnr
    return ours


def crop(height: int, width: int) -> np.ndarray:
    """A photograph crop (smooth areas and edges), tiled if the sample is too small."""
    reps = (-(-height // SAMPLE.shape[0]), -(-width // SAMPLE.shape[1]), 1)
    return np.ascontiguousarray(np.tile(SAMPLE, reps)[:height, :width])


# --------------------------------------------------------------------------------------------
# Pillow-written files
# --------------------------------------------------------------------------------------------
SIZES = [(1, 1), (7, 13), (17, 33), (100, 75), (257, 385)]
OPTIONS = {
    "q75": {},
    "q10": {"quality": 10},
    "q100": {"quality": 100},
    "optimize": {"optimize": True},
    "restart-blocks": {"restart_marker_blocks": 3},
    "restart-rows": {"restart_marker_rows": 1},
}


@pytest.mark.parametrize("subsampling", [0, 1, 2], ids=["444", "422", "420"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_colour_files_match_pillow(size, subsampling, option):
    data = pillow_jpeg(crop(*size), subsampling=subsampling, **OPTIONS[option])
    assert assert_matches_pillow(data).shape == (*size, 3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_grayscale_files_match_pillow(size, option):
    data = pillow_jpeg(crop(*size)[..., 1], **OPTIONS[option])
    assert assert_matches_pillow(data).shape == size


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6, 9])
@pytest.mark.parametrize("subsampling", [1, 2])
def test_narrow_images_box_upsample_like_libjpeg(width, subsampling):
    # libjpeg uses its fancy filters only for chroma planes wider than 2 samples
    image = RNG.integers(0, 256, (21, width, 3), dtype=np.uint8)
    assert_matches_pillow(pillow_jpeg(image, quality=95, subsampling=subsampling))


@pytest.mark.parametrize("subsampling,tile", [(0, 8), (1, 16), (2, 16)])
def test_upsampling_and_colour_are_bit_exact(subsampling, tile):
    # constant tiles at quality 100 make the inverse DCT exact in both decoders, so what
    # remains (fancy upsampling across tile edges, colour conversion) must agree exactly
    tiles = RNG.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    image = np.repeat(np.repeat(tiles, tile, 0), tile, 1)[:67, :85]
    data = pillow_jpeg(np.ascontiguousarray(image), quality=100, subsampling=subsampling)
    np.testing.assert_array_equal(decoder.decode(data), pillow_decode(data))


def test_random_noise_at_several_qualities():
    image = RNG.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    for quality in (1, 30, 60, 90, 100):
        for subsampling in (0, 2):
            assert_matches_pillow(pillow_jpeg(image, quality=quality, subsampling=subsampling))


def test_adobe_rgb_file_is_not_colour_converted():
    data = pillow_jpeg(crop(30, 41), keep_rgb=True, quality=90)
    assert b"Adobe" in data
    assert_matches_pillow(data)


# --------------------------------------------------------------------------------------------
# The kernel and its twin
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [
    {"subsampling": 2}, {"subsampling": 0, "quality": 97}, {"subsampling": 1, "optimize": True},
    {"subsampling": 2, "restart_marker_blocks": 2}, {"quality": 5},
])
def test_kernel_and_twin_give_identical_coefficients(options):
    data = pillow_jpeg(crop(33, 47), **options)
    fast = decoder.decode_scan(data)
    slow = decoder.decode_scan(data, use_numba=False)
    for a, b in zip(fast.coefficients, slow.coefficients, strict=True):
        np.testing.assert_array_equal(a, b)


def test_kernel_and_twin_agree_on_corrupt_scans():
    data = bytearray(pillow_jpeg(crop(24, 32), quality=80))
    start = decoder.parse(bytes(data)).entropy_start
    rng = np.random.default_rng(5)
    for _ in range(40):
        corrupt = bytearray(data)
        position = int(rng.integers(start, len(data) - 2))
        corrupt[position] = int(rng.integers(0, 255))  # never FF: keep the scan's extent
        outcomes = []
        for use_numba in (True, False):
            try:
                coefficients = decoder.decode_scan(bytes(corrupt), use_numba).coefficients
                outcomes.append(("ok", [c.tobytes() for c in coefficients]))
            except BitstreamError as error:
                outcomes.append(("error", str(error)))
        assert outcomes[0] == outcomes[1]


# --------------------------------------------------------------------------------------------
# A small baseline encoder for layouts Pillow cannot write
# --------------------------------------------------------------------------------------------
def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _category(value: int) -> int:
    return int(abs(value)).bit_length()


def _magnitude_bits(value: int, size: int) -> int:
    return value if value >= 0 else value + (1 << size) - 1


def encode_planes(planes, factors, height, width, quality=90, dqt16=False) -> bytes:
    """Baseline JPEG of given component planes (already at their sampling) with Annex K tables.

    Planes are (ceil(H v / v_max), ceil(W h / h_max)) uint8 each; one scan, interleaved for 3.
    """
    h_max, v_max = max(h for h, _ in factors), max(v for _, v in factors)
    quant = quality_scaled(LUMINANCE_QUANT, quality).ravel()[ZIGZAG]
    mcu_cols, mcu_rows = -(-width // (8 * h_max)), -(-height // (8 * v_max))
    blocks = []
    for plane, (h, v) in zip(planes, factors, strict=True):
        rows, cols = (mcu_rows * v, mcu_cols * h) if len(planes) > 1 else (
            -(-plane.shape[0] // 8), -(-plane.shape[1] // 8))
        padded = np.pad(plane.astype(np.float64) - 128,
                        ((0, 8 * rows - plane.shape[0]), (0, 8 * cols - plane.shape[1])), "edge")
        coefficients = dct.dct_blocks(dct.blockify(padded)).reshape(rows, cols, 64)[..., ZIGZAG]
        blocks.append(np.rint(coefficients / quant).astype(np.int64))
    dc_codes, dc_lengths = code_table(*DC_LUMINANCE)
    ac_codes, ac_lengths = code_table(*AC_LUMINANCE)
    fields = []  # (value, n_bits)

    def emit_block(block, previous):
        difference = int(block[0]) - previous
        size = _category(difference)
        fields.extend([(int(dc_codes[size]), int(dc_lengths[size])),
                       (_magnitude_bits(difference, size), size)])
        run = 0
        for value in block[1:].tolist():
            if value == 0:
                run += 1
                continue
            while run > 15:
                fields.append((int(ac_codes[0xF0]), int(ac_lengths[0xF0])))
                run -= 16
            size = _category(value)
            symbol = (run << 4) | size
            fields.extend([(int(ac_codes[symbol]), int(ac_lengths[symbol])),
                           (_magnitude_bits(value, size), size)])
            run = 0
        if run:
            fields.append((int(ac_codes[0]), int(ac_lengths[0])))
        return int(block[0])

    predictions = [0] * len(planes)
    unit = [(1, 1)] * len(planes) if len(planes) == 1 else factors
    grid_rows, grid_cols = (blocks[0].shape[0], blocks[0].shape[1]) if len(planes) == 1 else (
        mcu_rows, mcu_cols)
    for mcu_row in range(grid_rows):
        for mcu_col in range(grid_cols):
            for c, (h, v) in enumerate(unit):
                for by in range(v):
                    for bx in range(h):
                        block = blocks[c][mcu_row * v + by, mcu_col * h + bx]
                        predictions[c] = emit_block(block, predictions[c])
    n_bits = sum(n for _, n in fields)
    padding = -n_bits % 8
    number = 0
    for value, n in [*fields, ((1 << padding) - 1, padding)]:
        number = (number << n) | value
    scan = number.to_bytes((n_bits + padding) // 8, "big").replace(b"\xff", b"\xff\x00")
    if dqt16:
        dqt = b"\x10" + quant.astype(">u2").tobytes()
    else:
        dqt = b"\x00" + quant.astype(np.uint8).tobytes()
    sof = bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([len(planes)])
    sos = bytes([len(planes)])
    for c, (h, v) in enumerate(factors):
        sof += bytes([c + 1, (h << 4) | v, 0])
        sos += bytes([c + 1, 0x00])
    sos += bytes([0, 63, 0])
    dht = (b"\x00" + bytes(DC_LUMINANCE[0].tolist()) + bytes(DC_LUMINANCE[1].tolist())
           + b"\x10" + bytes(AC_LUMINANCE[0].tolist()) + bytes(AC_LUMINANCE[1].tolist()))
    return (b"\xff\xd8" + _segment(0xDB, dqt) + _segment(0xC0, sof) + _segment(0xC4, dht)
            + _segment(0xDA, sos) + scan + b"\xff\xd9")


def planes_for(height: int, width: int, factors) -> list[np.ndarray]:
    image = colour.rgb_to_ycbcr(crop(height, width))
    h_max, v_max = max(h for h, _ in factors), max(v for _, v in factors)
    planes = []
    for c, (h, v) in enumerate(factors):
        sub = image[:: v_max // v, :: h_max // h, c]  # a crude downsampler is fine here
        planes.append(np.clip(np.rint(sub), 0, 255).astype(np.uint8))
    return planes


@pytest.mark.parametrize("factors", [
    [(1, 2), (1, 1), (1, 1)],  # 4:4:0, h1v2 chroma
    [(2, 2), (2, 1), (2, 1)],  # chroma halved vertically only, MCU of 2x2 luma blocks
    [(2, 2), (1, 2), (1, 2)],  # 4:2:2 with a 2x2 MCU
    [(1, 1), (2, 2), (2, 2)],  # luma is the subsampled one
    [(2, 1), (1, 2), (1, 1)],  # every component different
    [(2, 2), (1, 1), (2, 1)],
], ids=["440", "h2v2-h2v1", "h2v2-h1v2", "luma-sub", "mixed", "mixed2"])
@pytest.mark.parametrize("size", [(1, 1), (5, 3), (19, 30), (40, 33)], ids=str)
def test_other_sampling_layouts_match_pillow(factors, size):
    h_max, v_max = max(h for h, _ in factors), max(v for _, v in factors)
    full = planes_for(*size, factors)
    planes = [p[: -(-size[0] * v // v_max), : -(-size[1] * h // h_max)]
              for p, (h, v) in zip(full, factors, strict=True)]
    data = encode_planes(planes, factors, *size)
    assert decoder.decode(data).shape == (*size, 3)
    assert_matches_pillow(data)


def test_grayscale_with_sampling_factors_is_one_block_per_mcu():
    plane = crop(21, 19)[..., 0]
    assert_matches_pillow(encode_planes([plane], [(2, 2)], 21, 19))


def test_sixteen_bit_quantization_tables():
    planes = planes_for(24, 24, [(1, 1)] * 3)
    eight, sixteen = (encode_planes(planes, [(1, 1)] * 3, 24, 24, 50, dqt16) for dqt16 in (0, 1))
    assert b"\xff\xdb\x00\x83\x10" in sixteen  # DQT of 2 + 1 + 128 bytes, precision 1
    np.testing.assert_array_equal(decoder.decode(sixteen), decoder.decode(eight))
    assert_matches_pillow(sixteen)


def test_our_encoder_output_matches_pillow_for_the_baseline_case():
    factors = [(2, 2), (1, 1), (1, 1)]
    assert_matches_pillow(encode_planes(planes_for(32, 48, factors), factors, 32, 48))


# --------------------------------------------------------------------------------------------
# Valid variations of the marker syntax (Pillow's files, rewritten)
# --------------------------------------------------------------------------------------------
def split_segments(data: bytes):
    """[(marker, payload)] from SOI's successor up to and including SOS, then the rest."""
    segments, position = [], 2
    while True:
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segments.append((marker, data[position + 4 : position + 2 + length]))
        position += 2 + length
        if marker == 0xDA:
            return segments, data[position:]


def join_segments(segments, rest: bytes, fill: bytes = b"") -> bytes:
    return b"\xff\xd8" + b"".join(fill + _segment(m, p) for m, p in segments) + rest


BASE = pillow_jpeg(crop(29, 37), quality=85, restart_marker_blocks=2)


def test_several_tables_per_segment():
    segments, rest = split_segments(BASE)
    merged = []
    for marker in (0xDB, 0xC4):
        merged.append((marker, b"".join(p for m, p in segments if m == marker)))
    others = [(m, p) for m, p in segments if m not in (0xDB, 0xC4)]
    data = join_segments(others[:-1] + merged + others[-1:], rest)  # tables after the SOF
    assert sum(1 for m, _ in split_segments(data)[0] if m == 0xC4) == 1
    np.testing.assert_array_equal(decoder.decode(data), decoder.decode(BASE))
    assert_matches_pillow(data)


def test_a_later_table_replaces_an_earlier_one():
    segments, rest = split_segments(BASE)
    bogus_dht = b"".join(bytes([tc_th]) + bytes([0, 2] + [0] * 14) + b"\x00\x01"
                         for tc_th in (0x00, 0x10, 0x01, 0x11))
    bogus_dqt = b"\x00" + bytes(range(1, 65)) + b"\x01" + bytes([7] * 64)
    data = join_segments([(0xC4, bogus_dht), (0xDB, bogus_dqt), *segments], rest)
    np.testing.assert_array_equal(decoder.decode(data), decoder.decode(BASE))


def test_tables_and_comments_after_the_scan_are_skipped():
    segments, rest = split_segments(BASE)
    assert rest.endswith(b"\xff\xd9")
    dht = next(p for m, p in segments if m == 0xC4)
    trailer = _segment(0xC4, dht) + _segment(0xFE, b"after") + b"\xff\xff\xd9"
    data = join_segments(segments, rest[:-2] + trailer)
    np.testing.assert_array_equal(decoder.decode(data + b"junk after EOI"), decoder.decode(BASE))


def test_fill_bytes_app_and_com_segments_and_sof1():
    segments, rest = split_segments(BASE)
    extra = [(0xE1, b"Exif\0\0" + bytes(50)), (0xFE, b"a comment"), (0xE2, bytes(300))]
    segments = [(0xC1 if m == 0xC0 else m, p) for m, p in segments]
    rest = rest.replace(b"\xff\xd0", b"\xff\xff\xff\xd0")  # fill bytes before RST markers
    data = join_segments(extra + segments, rest, fill=b"\xff\xff")
    np.testing.assert_array_equal(decoder.decode(data), decoder.decode(BASE))


def test_restart_intervals_of_every_length():
    image = crop(40, 56)
    for blocks in (1, 2, 5, 13):
        data = pillow_jpeg(image, restart_marker_blocks=blocks, subsampling=2)
        assert data.count(b"\xff\xdd") == 1
        assert_matches_pillow(data)
    segments, rest = split_segments(pillow_jpeg(image))
    with_dri = join_segments([(0xDD, b"\x00\x00"), *segments], rest)  # DRI 0: no restarts
    assert_matches_pillow(with_dri)


# --------------------------------------------------------------------------------------------
# The pieces
# --------------------------------------------------------------------------------------------
def _loops_h2v1(c):
    """jdsample.c's h2v1_fancy_upsample, transcribed loop for loop (width > 2)."""
    out = np.zeros((c.shape[0], 2 * c.shape[1]), np.int64)
    c = c.astype(np.int64)
    for r in range(c.shape[0]):
        w = c.shape[1]
        out[r, 0], out[r, 1] = c[r, 0], (c[r, 0] * 3 + c[r, 1] + 2) >> 2
        for i in range(1, w - 1):
            out[r, 2 * i] = (3 * c[r, i] + c[r, i - 1] + 1) >> 2
            out[r, 2 * i + 1] = (3 * c[r, i] + c[r, i + 1] + 2) >> 2
        out[r, 2 * w - 2], out[r, 2 * w - 1] = (c[r, -1] * 3 + c[r, -2] + 1) >> 2, c[r, -1]
    return out


def _loops_h2v2(c):
    """jdsample.c's h2v2_fancy_upsample with replicated context rows above and below."""
    height, width = c.shape
    c = c.astype(np.int64)
    out = np.zeros((2 * height, 2 * width), np.int64)
    for r in range(height):
        for v, far in ((0, max(r - 1, 0)), (1, min(r + 1, height - 1))):
            s = 3 * c[r] + c[far]
            row = out[2 * r + v]
            row[0], row[1] = (s[0] * 4 + 8) >> 4, (s[0] * 3 + s[1] + 7) >> 4
            for j in range(1, width - 1):
                row[2 * j] = (3 * s[j] + s[j - 1] + 8) >> 4
                row[2 * j + 1] = (3 * s[j] + s[j + 1] + 7) >> 4
            row[-2], row[-1] = (3 * s[-1] + s[-2] + 8) >> 4, (s[-1] * 4 + 7) >> 4
    return out


def _loops_h1v2(c):
    """jdsample.c's h1v2_fancy_upsample: 3/4 nearer row + 1/4 farther, biases 1 and 2."""
    c = c.astype(np.int64)
    out = np.zeros((2 * c.shape[0], c.shape[1]), np.int64)
    for r in range(c.shape[0]):
        above, below = c[max(r - 1, 0)], c[min(r + 1, c.shape[0] - 1)]
        out[2 * r] = (3 * c[r] + above + 1) >> 2
        out[2 * r + 1] = (3 * c[r] + below + 2) >> 2
    return out


@pytest.mark.parametrize("shape", [(1, 3), (2, 3), (5, 4), (9, 17)])
def test_fancy_filters_match_libjpeg_loops(shape):
    plane = RNG.integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(upsample.fancy_h2v1(plane), _loops_h2v1(plane))
    np.testing.assert_array_equal(upsample.fancy_h2v2(plane), _loops_h2v2(plane))
    np.testing.assert_array_equal(upsample.fancy_h1v2(plane), _loops_h1v2(plane))


@pytest.mark.parametrize("factors", [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_upsampling_in_bands_equals_the_whole_plane(factors):
    plane = RNG.integers(0, 256, (23, 14), dtype=np.uint8)
    whole = upsample.upsample(plane, *factors)
    for start, stop in [(0, 23), (0, 1), (0, 5), (5, 11), (22, 23), (11, 23)]:
        band = upsample.upsample_rows(plane, *factors, start, stop)
        np.testing.assert_array_equal(band, whole[start * factors[1] : stop * factors[1]])
    np.testing.assert_array_equal(upsample.upsample(plane, 2, 2, fancy=False),
                                  np.kron(plane, np.ones((2, 2), np.uint8)))


def test_fixed_point_colour_is_within_one_of_the_float_matrix():
    y, cb, cr = (a.ravel().astype(np.uint8) for a in np.meshgrid(
        np.arange(0, 256, 5), np.arange(256), np.arange(256), indexing="ij"))
    ours = decoder.ycbcr_to_rgb(y, cb, cr)
    reference = colour.ycbcr_to_rgb(np.stack([y, cb, cr], axis=-1))
    assert np.abs(ours.astype(int) - reference).max() <= 1


def test_reconstruction_matrix_is_dequantize_unzigzag_idct():
    quant = quality_scaled(LUMINANCE_QUANT, 50).ravel()[ZIGZAG]
    coefficients = RNG.integers(-20, 21, (6, 64))
    natural = np.zeros((6, 64))
    natural[:, ZIGZAG] = coefficients * quant
    expected = dct.idct_blocks(natural.reshape(6, 8, 8)).reshape(6, 64)
    matrix = decoder.reconstruction_matrix(quant, dtype=np.float64)
    np.testing.assert_allclose(coefficients @ matrix, expected, atol=1e-9)


def test_split_entropy_data_unstuffs_and_cuts_at_restart_markers():
    scan = bytes.fromhex("12 ff00 34 ffd0 56 ffffd1 78 ff00 ffd9")
    data = b"\x00" * 5 + scan + b"\x00"
    entropy = decoder.split_entropy_data(data, 5, 3)
    assert entropy.data.tobytes() == bytes.fromhex("12 ff 34 56 78 ff")
    assert entropy.interval_starts.tolist() == [0, 3, 4, 6]
    assert entropy.end == 5 + len(scan) - 2
    assert [entropy.file_offset(i) for i in range(6)] == [5, 6, 8, 11, 15, 16]
    with pytest.raises(BitstreamError, match="2 restart markers, expected 3"):
        decoder.split_entropy_data(data, 5, 4)
