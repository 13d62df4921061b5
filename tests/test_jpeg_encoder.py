"""The baseline JPEG encoder: files every decoder opens, libjpeg's sizes and quality, exact tables,
restart markers, byte stuffing, optimized Huffman tables, and kernels pinned to their twins."""

import hashlib
import io
import struct

import numpy as np
import pytest
from PIL import Image

import fromscratch
from fromscratch import backend
from fromscratch.codecs import codec_for_data, get_codec
from fromscratch.codecs.jpeg import encoder, entropy_coding, markers, tables
from fromscratch.codecs.jpeg.tables import (
    AC_CHROMINANCE,
    AC_LUMINANCE,
    CHROMINANCE_QUANT,
    DC_CHROMINANCE,
    DC_LUMINANCE,
    LUMINANCE_QUANT,
    ZIGZAG,
    code_table,
    quality_scaled,
)
from fromscratch.data import BUNDLED_DIR, kodak_paths, load_image
from fromscratch.metrics import psnr
from fromscratch.transforms.dct import blockify, dct_blocks

PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
SAMPLES = sorted((BUNDLED_DIR / "samples").glob("*.png"))


@pytest.fixture(scope="module")
def photo():
    return load_image(kodak_paths()[0])


def pillow_jpeg(image, quality=75, subsampling="4:2:0", optimize=False,
                restart_interval=0) -> bytes:
    buffer = io.BytesIO()
    restarts = {"restart_marker_blocks": restart_interval} if restart_interval else {}
    Image.fromarray(image).save(buffer, "JPEG", quality=quality, optimize=optimize,
                                subsampling=PILLOW_SUBSAMPLING[subsampling], **restarts)
    return buffer.getvalue()


def pillow_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        return np.asarray(im)


def segments(data: bytes):
    """(marker code, payload) of every segment up to SOS, and where the scan data starts."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    found, position = [], 2
    while True:
        assert data[position] == 0xFF
        code = data[position + 1]
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        found.append((code, data[position + 4 : position + 2 + length]))
        position += 2 + length
        if code == markers.SOS:
            return found, position


def scan_data(data: bytes) -> bytes:
    return data[segments(data)[1] : -2]


# --------------------------------------------------------------------------------------------
# Files that other software opens, with libjpeg's quality
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (17, 33), (100, 75), (33, 17)])
@pytest.mark.parametrize("gray", [False, True])
def test_pillow_opens_every_file_with_libjpegs_quality(photo, shape, gray):
    image = photo[40 : 40 + shape[0], 90 : 90 + shape[1]]
    if gray:
        image = np.ascontiguousarray(image[:, :, 1])
    for subsampling in ("4:2:0", "4:2:2", "4:4:4"):
        for optimize, restart_interval in ((False, 0), (True, 0), (False, 1), (True, 3)):
            data = encoder.encode(image, 60, subsampling, optimize, restart_interval)
            decoded = pillow_decode(data)
            assert decoded.shape == image.shape
            reference = pillow_jpeg(image, 60, subsampling, optimize, restart_interval)
            ours, theirs = psnr(image, decoded), psnr(image, pillow_decode(reference))
            assert ours >= theirs - 0.1 or ours == theirs  # both may be inf on tiny images
            assert abs(ours - theirs) <= 0.1 or ours > theirs
            assert len(data) <= 1.01 * len(reference) + 2


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sizes_and_psnr_match_libjpeg_on_the_samples(path):
    image = load_image(path)
    for quality in (25, 50, 75, 90):
        for subsampling in ("4:2:0", "4:4:4"):
            ours = encoder.encode(image, quality, subsampling)
            theirs = pillow_jpeg(image, quality, subsampling)
            assert abs(len(ours) / len(theirs) - 1) < 0.01, (quality, subsampling)
            assert abs(psnr(image, pillow_decode(ours))
                       - psnr(image, pillow_decode(theirs))) < 0.1
            # per-image Huffman tables: never larger than libjpeg's optimized ones
            assert (len(encoder.encode(image, quality, subsampling, optimize=True))
                    <= len(pillow_jpeg(image, quality, subsampling, optimize=True)))


# --------------------------------------------------------------------------------------------
# The headers
# --------------------------------------------------------------------------------------------
def test_headers_carry_the_scaled_tables_and_annex_k_huffman_tables(photo):
    image = photo[:40, :56]
    for quality in (1, 10, 50, 75, 97, 100):
        found, _ = segments(encoder.encode(image, quality))
        codes = [code for code, _ in found]
        assert codes == [markers.APP0, markers.DQT, markers.DQT, markers.SOF0] + [
            markers.DHT] * 4 + [markers.SOS]
        assert found[0][1] == b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        for table_id, base in enumerate((LUMINANCE_QUANT, CHROMINANCE_QUANT)):
            payload = found[1 + table_id][1]
            assert payload[0] == table_id  # 8-bit precision, slot table_id
            raster = np.zeros(64, np.int64)
            raster[ZIGZAG] = np.frombuffer(payload[1:], np.uint8)
            np.testing.assert_array_equal(raster.reshape(8, 8), quality_scaled(base, quality))
        expected = [(0x00, DC_LUMINANCE), (0x10, AC_LUMINANCE), (0x01, DC_CHROMINANCE),
                    (0x11, AC_CHROMINANCE)]
        for (_, payload), (class_and_id, (bits, values)) in zip(found[4:8], expected,
                                                                 strict=True):
            assert payload == bytes([class_and_id, *bits.tolist(), *values.tolist()])
        assert found[3][1] == bytes([8, 0, 40, 0, 56, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1])
        assert found[8][1] == bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0])


def test_gray_images_have_one_component_and_only_the_luminance_tables(photo):
    gray = np.ascontiguousarray(photo[:20, :30, 0])
    found, _ = segments(encoder.encode(gray, subsampling="4:4:4", restart_interval=2))
    assert [code for code, _ in found] == [markers.APP0, markers.DQT, markers.SOF0, markers.DHT,
                                           markers.DHT, markers.DRI, markers.SOS]
    assert found[2][1] == bytes([8, 0, 20, 0, 30, 1, 1, 0x11, 0])
    assert found[5][1] == b"\x00\x02"
    assert found[6][1] == bytes([1, 1, 0x00, 0, 63, 0])
    # subsampling means nothing without chroma
    assert encoder.encode(gray, subsampling="4:2:0") == encoder.encode(gray, subsampling="4:4:4")


# --------------------------------------------------------------------------------------------
# The scan: restarts and stuffing
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("subsampling, mcu", [("4:2:0", 16), ("4:2:2", (8, 16)), ("4:4:4", 8)])
def test_restart_markers_every_n_mcus_cycle_through_rst0_to_rst7(photo, subsampling, mcu):
    image = photo[:75, :130]
    mcu_height, mcu_width = (mcu, mcu) if isinstance(mcu, int) else mcu
    n_mcus = -(-75 // mcu_height) * -(-130 // mcu_width)
    without = pillow_decode(encoder.encode(image, 80, subsampling))
    for interval in (1, 3, 7, n_mcus - 1, n_mcus, 1000):
        data = encoder.encode(image, 80, subsampling, restart_interval=interval)
        scan = scan_data(data)
        found = [scan[i + 1] for i in range(len(scan) - 1)
                 if scan[i] == 0xFF and 0xD0 <= scan[i + 1] <= 0xD7]
        n_restarts = -(-n_mcus // interval) - 1
        assert found == [0xD0 + i % 8 for i in range(n_restarts)]
        # a decoder that resynchronises at every marker sees the same pixels as without them:
        # a marker after any other number of MCUs would derail it
        np.testing.assert_array_equal(pillow_decode(data), without)


def test_byte_stuffing_leaves_no_lone_ff_in_the_scan():
    noise = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for restart_interval in (0, 1, 5):
        scan = scan_data(encoder.encode(noise, 100, "4:4:4", restart_interval=restart_interval))
        after_ff = [scan[i + 1] for i in range(len(scan)) if scan[i] == 0xFF]
        assert scan.count(b"\xff\x00") > 20  # random data produces plenty of 0xFF bytes
        assert all(byte == 0x00 or 0xD0 <= byte <= 0xD7 for byte in after_ff)
        assert scan[-1] != 0xFF


# --------------------------------------------------------------------------------------------
# The stages
# --------------------------------------------------------------------------------------------
def test_fused_dct_matrix_equals_the_dct_box(photo):
    plane = photo[:64, :96, 0]
    table = quality_scaled(LUMINANCE_QUANT, 50)
    ours = encoder.divided_coefficients(encoder.plane_blocks(plane), table)
    coefficients = dct_blocks(blockify(plane.astype(np.float64) - 128)) / table
    expected = coefficients.reshape(8, 12, 64)[..., ZIGZAG]
    assert ours.dtype == np.float32 and ours.shape == (8, 12, 64)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    quantized = encoder.quantized_blocks(encoder.plane_blocks(plane), table)
    assert quantized.dtype == np.int32
    np.testing.assert_array_equal(quantized, np.rint(ours))


def test_rounding_puts_every_block_in_its_place_in_the_mcus():
    components = markers.frame_components(3, "4:2:0")
    # tag every block with (component, block row, block column) to follow it
    grids = [np.zeros((4, 6, 64)), np.zeros((2, 3, 64)), np.zeros((2, 3, 64))]
    for index, grid in enumerate(grids):
        rows, cols = np.indices(grid.shape[:2])
        grid[..., 0], grid[..., 1], grid[..., 2] = index, rows, cols
        grid[..., 3] = 0.5 + 2 * index  # halves round to even
    mcus = encoder.round_into_mcus(grids, components)
    assert mcus.dtype == np.int32 and mcus.shape == (6, 6, 64)
    for mcu, (r, c) in zip(mcus, np.ndindex(2, 3), strict=True):  # MCUs in raster order
        luma = [(0, 2 * r + i, 2 * c + j) for i in (0, 1) for j in (0, 1)]  # 2 x 2, row by row
        assert [tuple(block[:3].tolist()) for block in mcu] == [*luma, (1, r, c), (2, r, c)]
    assert set(mcus[:, :4, 3].ravel().tolist()) == {0}
    assert set(mcus[:, 4:, 3].ravel().tolist()) == {2, 4}


def test_downsampling_is_libjpegs_box_filter_with_alternating_bias():
    plane = np.array([[0, 1, 0, 1, 10, 20], [0, 1, 1, 1, 30, 40]], dtype=np.uint8)
    # 2 x 2 sums 2, 3, 100; bias 1, 2, 1 -> (3 // 4, 5 // 4, 101 // 4)
    np.testing.assert_array_equal(encoder.downsample(plane, 2, 2), [[0, 1, 25]])
    # pairs: sums 1, 1, 30 / 1, 2, 70; bias 0, 1, 0
    np.testing.assert_array_equal(encoder.downsample(plane, 2, 1), [[0, 1, 15], [0, 1, 35]])
    assert encoder.downsample(plane, 1, 1) is plane


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:2:2", "4:4:4"])
def test_bands_of_mcu_rows_change_nothing(photo, subsampling, monkeypatch):
    image = photo[:75, :101]  # a ragged last band, dummy blocks at the bottom and the right
    components = markers.frame_components(3, subsampling)
    tables = [quality_scaled(LUMINANCE_QUANT, 50), quality_scaled(CHROMINANCE_QUANT, 50)]
    monkeypatch.setattr(encoder, "BAND_PIXELS", 10**9)
    whole = encoder.quantized_mcus(image, components, tables)
    monkeypatch.setattr(encoder, "BAND_PIXELS", 1)  # one MCU row per band
    banded = encoder.quantized_mcus(image, components, tables)
    assert banded.shape == whole.shape
    # float32 sums may come out in another order (BLAS blocks by matrix size): a value that
    # lands on a half can round the other way, nothing else
    assert np.abs(banded - whole).max() <= 1 and np.mean(banded != whole) < 1e-3


def test_dc_differences_restart_at_every_interval():
    components = markers.frame_components(3, "4:2:2")  # 2 Y blocks, Cb, Cr per MCU
    mcus = np.zeros((5, 4, 64), np.int32)
    mcus[:, :, 0] = np.arange(20).reshape(5, 4) ** 2
    dc = mcus[:, :, 0].copy()
    encoder.dc_differences(mcus, components, restart_interval=2)
    luma = dc[:, :2].ravel()
    np.testing.assert_array_equal(mcus[:, :2, 0].ravel(),
                                  [luma[0], *np.diff(luma[:4]), luma[4], *np.diff(luma[4:8]),
                                   luma[8], luma[9] - luma[8]])
    np.testing.assert_array_equal(mcus[:, 2, 0], [dc[0, 2], dc[1, 2] - dc[0, 2], dc[2, 2],
                                                  dc[3, 2] - dc[2, 2], dc[4, 2]])


def test_dummy_blocks_are_flat_copies_of_their_neighbours_dc():
    grid = np.arange(3 * 4 * 64, dtype=np.int32).reshape(3, 4, 64)
    encoder.fill_dummy_blocks(grid, n_rows=2, n_cols=3, h=2)
    assert not grid[:, 3, 1:].any() and not grid[2, :, 1:].any()
    np.testing.assert_array_equal(grid[:2, 3, 0], grid[:2, 2, 0])
    # bottom row: the last block of the row above in the same MCU (columns 0-1 and 2-3)
    np.testing.assert_array_equal(grid[2, :, 0], grid[1, [1, 1, 3, 3], 0])


def test_optimal_tables_are_valid_never_all_ones_and_beat_annex_k():
    rng = np.random.default_rng(5)
    fibonacci = np.zeros(256, np.int64)
    fibonacci[:2] = 1
    for i in range(2, 40):
        fibonacci[i] = fibonacci[i - 1] + fibonacci[i - 2]  # unlimited lengths would reach 39
    cases = [np.eye(256, dtype=np.int64)[7] * 5, fibonacci,
             rng.integers(0, 1000, 256) * (rng.random(256) < 0.6)]
    for counts in cases:
        bits, values = markers.optimal_huffman_table(counts)
        assert bits.shape == (16,) and bits.sum() == values.size == np.count_nonzero(counts)
        codes, lengths = code_table(bits, values)
        used = lengths > 0
        assert np.array_equal(used, counts > 0)
        all_ones = (np.uint64(1) << lengths[used].astype(np.uint64)) - np.uint64(1)
        assert not np.any(codes[used] == all_ones)
        assert np.sum(2.0 ** -lengths[used].astype(float)) < 1  # the all-ones word stays free
    # fitted tables cost fewer bits than the typical ones on the statistics they were fitted to
    counts = fibonacci[:162]
    standard = code_table(*AC_LUMINANCE)[1][AC_LUMINANCE[1]]
    fitted_lengths = code_table(*markers.optimal_huffman_table(
        np.bincount(AC_LUMINANCE[1], weights=counts, minlength=256).astype(np.int64)))[1]
    assert (fitted_lengths[AC_LUMINANCE[1]] * counts).sum() < (standard * counts).sum()


# --------------------------------------------------------------------------------------------
# Kernels and twins
# --------------------------------------------------------------------------------------------
def _random_blocks(rng, n_blocks):
    """Blocks with everything the coder must handle: long zero runs, extremes, dense blocks."""
    blocks = np.zeros((n_blocks, 64), np.int32)
    for block, density in zip(blocks, rng.random(n_blocks) ** 3, strict=True):
        nonzero = rng.random(63) < density
        block[1:][nonzero] = rng.integers(-1023, 1024, nonzero.sum()) >> rng.integers(0, 10)
        block[0] = rng.integers(-2047, 2048) >> rng.integers(0, 11)
    blocks[0, 1:] = 0
    blocks[1, 1:] = 0
    blocks[1, 63] = -1023  # three ZRLs, then a value in the last position: no EOB
    blocks[2, :] = [2047, *([1023, -1023] * 31), 1]
    return blocks


def test_kernels_and_twins_write_identical_bytes(photo):
    rng = np.random.default_rng(7)
    blocks = _random_blocks(rng, 300)
    table_ids = rng.integers(0, 2, 300)
    dc_counts, ac_counts = entropy_coding.count_symbols(blocks, table_ids, table_ids, 2)
    twin_counts = entropy_coding.count_symbols(blocks, table_ids, table_ids, 2, use_numba=False)
    np.testing.assert_array_equal(dc_counts, twin_counts[0])
    np.testing.assert_array_equal(ac_counts, twin_counts[1])
    standard = ([code_table(*DC_LUMINANCE), code_table(*DC_CHROMINANCE)],
                [code_table(*AC_LUMINANCE), code_table(*AC_CHROMINANCE)])
    fitted = ([code_table(*markers.optimal_huffman_table(c)) for c in dc_counts],
              [code_table(*markers.optimal_huffman_table(c)) for c in ac_counts])
    for dc_tables, ac_tables in (standard, fitted):
        for blocks_per_restart in (0, 1, 6, 299, 300):
            args = (blocks, table_ids, table_ids, dc_tables, ac_tables, blocks_per_restart)
            assert (entropy_coding.encode_blocks(*args)
                    == entropy_coding.encode_blocks(*args, use_numba=False))
    image = photo[:50, :70]
    for optimize, restart_interval in ((False, 0), (True, 2)):
        assert (encoder.encode(image, 90, "4:2:0", optimize, restart_interval)
                == encoder.encode(image, 90, "4:2:0", optimize, restart_interval,
                                  use_numba=False))


def test_kernels_refuse_what_baseline_cannot_code():
    blocks = np.zeros((3, 64), np.int32)
    ids = np.zeros(3, np.int64)
    tables = ([code_table(*DC_LUMINANCE)], [code_table(*AC_LUMINANCE)])
    for position, value in ((0, 2048), (5, -1024)):
        bad = blocks.copy()
        bad[1, position] = value
        for use_numba in (True, False):
            with pytest.raises(ValueError, match="block 1"):
                entropy_coding.encode_blocks(bad, ids, ids, *tables, use_numba=use_numba)
            with pytest.raises(ValueError, match="block 1"):
                entropy_coding.count_symbols(bad, ids, ids, 1, use_numba=use_numba)
    only_eob = ([code_table(*DC_LUMINANCE)],
                [code_table(np.eye(16, dtype=np.int64)[1], np.array([0x00, 0x01]))])
    bad = blocks.copy()
    bad[2, 1] = 2  # symbol 0x02 has no code in this table
    for use_numba in (True, False):
        with pytest.raises(ValueError, match="block 2"):
            entropy_coding.encode_blocks(bad, ids, ids, *only_eob, use_numba=use_numba)
    with pytest.raises(ValueError, match="table ids"):
        entropy_coding.encode_blocks(blocks, ids + 1, ids, *tables)


#: sha256 of files our encoder wrote for data/samples/kodim23-half.png, recorded before the
#: package's files were rearranged (issue #14): a refactor must not change a single byte.
PINNED_STREAMS = [
    ({"quality": 75}, 13815,
     "1c64ca1857f0315df8949d2de079e6e895e7fc78f4bfe6d2e92925c76e9d16e5"),
    ({"quality": 75, "optimize": True}, 13392,
     "84c0287a4c9da5156f515801ba26f3de02462738469e6b4ec4a0973d3b120411"),
    ({"quality": 40, "subsampling": "4:4:4", "restart_interval": 5}, 11667,
     "5ce4bcbb65825862c383eac8aa225d7648eb8b772cfabe2afd979c80466e1276"),
    ({"quality": 90, "subsampling": "4:2:2", "optimize": True, "restart_interval": 7}, 25859,
     "be7907fb1e452dac3aff36c652a876ef71824f035fe129b83c1eb533046b615a"),
]


@pytest.mark.parametrize("params, size, digest", PINNED_STREAMS)
def test_encoded_bytes_stay_pinned(params, size, digest):
    # The pixel stages round float32 products: a BLAS that sums in another order could move a
    # coefficient lying within ~1e-6 of a rounding boundary. The scan-only pin below has no floats.
    image = np.asarray(Image.open(BUNDLED_DIR / "samples" / "kodim23-half.png").convert("RGB"))
    data = encoder.encode(image, **params)
    assert (len(data), hashlib.sha256(data).hexdigest()) == (size, digest)


def test_entropy_coded_bytes_stay_pinned():
    rng = np.random.default_rng(7)
    blocks = _random_blocks(rng, 300)
    table_ids = rng.integers(0, 2, 300)
    dc_counts, ac_counts = entropy_coding.count_symbols(blocks, table_ids, table_ids, 2)
    fitted = ([code_table(*markers.optimal_huffman_table(c)) for c in dc_counts],
              [code_table(*markers.optimal_huffman_table(c)) for c in ac_counts])
    data = entropy_coding.encode_blocks(blocks, table_ids, table_ids, *fitted, 6)
    assert (len(data), hashlib.sha256(data).hexdigest()) == (
        6661, "5d9e51f69bf6fb336c63f912ce3ecea1cc41cdeba5987e04d473b2dadf955171")


# --------------------------------------------------------------------------------------------
# The registered codec
# --------------------------------------------------------------------------------------------
def test_codec_writes_plain_jfif_and_validates_its_parameters(photo):
    image = photo[:48, :64]
    codec = get_codec("jpeg", quality=40, subsampling="4:4:4", optimize=True,
                      restart_interval=3)
    assert codec.from_scratch and codec.name == "jpeg"
    assert [s["quality"] for s in codec.settings] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    data = codec.encode(image)
    assert data == encoder.encode(image, 40, "4:4:4", True, 3)
    assert codec.sniff(data) and not codec.sniff(b"\x89PNG")
    assert isinstance(codec_for_data(data), type(codec))
    assert get_codec("jpeg", quality="75").params["quality"] == 75
    bad_params = [{"quality": 0}, {"quality": 101}, {"quality": 7.5}, {"subsampling": "4:1:1"},
                  {"optimize": "maybe"}, {"restart_interval": -1},
                  {"restart_interval": 65536}, {"colour": "yes"}]
    for params in bad_params:
        with pytest.raises(ValueError):
            get_codec("jpeg", **params)
    for params in ({"quality": 0}, {"quality": True}, {"subsampling": "4:4:0"},
                   {"restart_interval": 70000}):
        with pytest.raises(ValueError):
            encoder.encode(image, **params)
    with pytest.raises(ValueError):
        codec.encode(image.astype(np.float32))
    with pytest.raises(ValueError):
        encoder.encode(np.zeros((1, 65536), np.uint8))


def test_codec_decodes_its_files_with_the_books_decoder(photo):
    pytest.importorskip("fromscratch.codecs.jpeg.decoder")
    for image in (photo[:37, :53], np.ascontiguousarray(photo[:37, :53, 2])):
        data = fromscratch.compress(image, codec="jpeg", quality=85, restart_interval=2)
        decoded = fromscratch.decompress(data)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        assert abs(psnr(image, decoded) - psnr(image, pillow_decode(data))) < 0.1


@pytest.mark.skipif("cupy" not in backend.available_backends(), reason="needs CuPy and a GPU")
def test_pixel_stages_run_on_the_gpu():
    import cupy

    def close(gpu, cpu):
        # float32 sums run in another order on the GPU: a value at a rounding boundary may land
        # one level away, never more, and rarely.
        difference = np.abs(backend.to_numpy(gpu).astype(np.int64) - cpu.astype(np.int64))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.005

    image = np.random.default_rng(9).integers(0, 256, (37, 50, 3), dtype=np.uint8)
    table = tables.quality_scaled(tables.LUMINANCE_QUANT, 75)
    cpu_planes = encoder.to_planes(image, 16, 16)
    gpu_planes = encoder.to_planes(cupy.asarray(image), 16, 16)
    for cpu, gpu in zip(cpu_planes, gpu_planes, strict=True):
        assert isinstance(gpu, cupy.ndarray)
        close(gpu, cpu)
        same_input = cupy.asarray(cpu)
        np.testing.assert_array_equal(backend.to_numpy(encoder.downsample(same_input, 2, 2)),
                                      encoder.downsample(cpu, 2, 2))  # integer arithmetic
        close(encoder.quantized_blocks(encoder.plane_blocks(same_input), table),
              encoder.quantized_blocks(encoder.plane_blocks(cpu), table))
