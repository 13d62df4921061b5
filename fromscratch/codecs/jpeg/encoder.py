"""Baseline JPEG encoding (ITU-T T.81, 1992), stage by stage, as libjpeg does it.

::

    RGB --colour--> Y Cb Cr --subsample chroma--> planes --pad to whole MCUs-->
        --8x8 DCT, / table, round, zigzag--> quantized blocks --DC differences-->
        --run/size symbols, Huffman, stuffing (entropy_coding)--> entropy-coded data
        --markers--> SOI APP0 DQT SOF0 DHT [DRI] SOS data EOI

1. **Colour.** RGB becomes luma Y and chroma Cb, Cr (JFIF, ``transforms.colour``). The eye sees
   detail in brightness far better than in colour, so the two chroma planes can be coarser.
2. **Chroma subsampling.** 4:2:0 averages each 2 x 2 square of Cb and Cr into one sample (half the
   rows and columns), 4:2:2 each horizontal pair, 4:4:4 keeps everything. Like libjpeg we average
   8-bit samples with integer arithmetic and a bias that alternates between columns (1, 2 for a
   2 x 2 sum, 0, 1 for a pair), so that the rounding does not always go the same way.
3. **MCUs.** Blocks are sent in *minimum coded units*: in 4:2:0 one MCU is a 16 x 16 pixel square,
   four Y blocks (2 x 2, row by row) then one Cb and one Cr block; in 4:4:4 (and grayscale, which
   has one component and is sent in one non-interleaved scan) an 8 x 8 square. The image is padded
   to whole MCUs by repeating its last row and column (no new edges, so cheap to code); blocks
   that hold no sample of their component at all become libjpeg's flat "dummy" blocks
   (:func:`fill_dummy_blocks`), cheaper still.
4. **DCT and quantization.** Each 8 x 8 block, shifted from 0..255 to -128..127, goes through the
   2-D DCT; each coefficient is divided by its step in the quantization table (``quality``
   scales Annex K's tables) and rounded to the nearest integer. This rounding is where JPEG loses
   almost all the information it loses (the rest: subsampling, and colours rounded to 8 bits).
   Coefficients are then read in zigzag order, low frequencies first.
5. **DC prediction.** Neighbouring blocks have similar averages, so each DC coefficient is sent
   as the difference from the previous block of the same component (0 at the start of the scan
   and after every restart marker).
6. **Entropy coding.** Run/size symbols with Huffman codes, byte stuffing and restart markers,
   see ``entropy_coding``. The tables are Annex K's "typical" ones, or (``optimize``) built for
   this image from a first pass that counts the symbols.

This module holds stages 1-5, the *pixel stages*, and :func:`encode`, which chains them to the
entropy coder and wraps the result in the marker segments (``markers``).

The DCT, the division by the table and the zigzag reordering are all linear maps of the 64
pixels of a block, so :func:`divided_coefficients` folds them into one 64 x 64 matrix and runs a
single matrix product over all blocks; a test pins it to ``transforms.dct.dct_blocks``. The
rounding then writes every block straight into its place in the MCU order
(:func:`round_into_mcus`).

Rounding to the nearest integer is exact here; libjpeg's integer DCT first rounds each
coefficient to 1/8, so exact halves are common there, and it rounds them away from zero. Its files
come out 0.2-1% larger than ours (and 0.00-0.01 dB better) on Kodak.

**Bands.** Stages 1-4 run on bands of whole MCU rows, about ``BAND_PIXELS`` (128 Ki) pixels at a
time, much as libjpeg works through its image a row group at a time: the float temporaries stay
near 1.5 MB, in cache, whatever the image size, and only the quantized blocks are image-sized.
Whole-image temporaries (some 16 bytes per pixel) cost little in a tight loop, but once other
work frees memory in between, the allocator hands pages back to the system and every encode
faults them in again: beside our decoder on Kodak, that made encoding 1.4x slower.

The stage functions are array code written against ``xp`` (NumPy or CuPy arrays alike);
:func:`encode` itself runs on NumPy, since the entropy coder is a compiled CPU loop.
"""

from __future__ import annotations

import functools

import numpy as np

from ...backend import array_module
from ...transforms.colour import RGB_TO_YCBCR
from ...transforms.dct import dct_matrix
from ..base import as_image
from . import entropy_coding, markers
from .markers import SUBSAMPLINGS, Component, frame_components
from .tables import CHROMINANCE_QUANT, LUMINANCE_QUANT, ZIGZAG, quality_scaled

__all__ = [
    "dc_differences",
    "divided_coefficients",
    "downsample",
    "encode",
    "fill_dummy_blocks",
    "plane_blocks",
    "quantized_blocks",
    "quantized_mcus",
    "round_into_mcus",
    "to_planes",
]

MAX_RESTART_INTERVAL = 0xFFFF
MAX_SIZE = 0xFFFF  # SOF0 stores height and width in 16 bits
#: Pixels per band of the pixel stages (rounded to whole MCU rows, at least one).
BAND_PIXELS = 1 << 17

# --------------------------------------------------------------------------------------------
# Pixels -> component planes
# --------------------------------------------------------------------------------------------
def to_planes(image: np.ndarray, mcu_height: int, mcu_width: int) -> list[np.ndarray]:
    """Pad to whole MCUs (repeating the last row and column), then convert to 8-bit samples.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
    mcu_height, mcu_width : int
        MCU size in pixels (8 or 16).

    Returns
    -------
    list of ndarray of uint8, each (H', W') with H', W' the padded size
        ``[gray]`` or ``[Y, Cb, Cr]`` (JFIF, rounded and clipped to 0..255 like libjpeg's
        fixed-point conversion; the samples of a JPEG file are 8-bit integers).
    """
    xp = array_module(image)
    height, width = image.shape[:2]
    pad_rows, pad_cols = -height % mcu_height, -width % mcu_width
    if pad_rows or pad_cols:
        padding = ((0, pad_rows), (0, pad_cols)) + ((0, 0),) * (image.ndim - 2)
        image = xp.pad(image, padding, mode="edge")
    if image.ndim == 2:
        return [image]
    # transforms.colour.rgb_to_ycbcr in float32: the same matrix, half the memory traffic
    rgb = image.astype(xp.float32)
    planes = []
    for row, offset in zip(RGB_TO_YCBCR, (0.0, 128.0, 128.0), strict=True):
        plane = rgb @ xp.asarray(row, dtype=xp.float32)
        plane += xp.float32(offset + 0.5)  # + 0.5 then truncate: round half up
        # in place: fewer fresh arrays, fewer passes over memory
        planes.append(xp.clip(plane, 0, 255, out=plane).astype(xp.uint8))
    return planes


def downsample(plane: np.ndarray, h_factor: int, v_factor: int) -> np.ndarray:
    """Average ``v_factor`` x ``h_factor`` squares of an 8-bit plane (factors 1 or 2).

    libjpeg's integer box filter: ``(sum + bias) // n`` with the bias alternating between output
    columns (1, 2 for 2 x 2 squares, 0, 1 for pairs), so that halves round up and down in turn.

    Parameters
    ----------
    plane : ndarray of uint8, shape (H, W), H a multiple of ``v_factor``, W of ``h_factor``

    Returns
    -------
    ndarray of uint8, shape (H / v_factor, W / h_factor)
    """
    n = h_factor * v_factor
    if n == 1:
        return plane
    xp = array_module(plane)
    total = plane.astype(xp.uint16)
    if v_factor == 2:
        total = total[0::2] + total[1::2]  # slices, not .sum(axis=...): ~20x faster here
    if h_factor == 2:
        total = total[:, 0::2] + total[:, 1::2]
    bias = xp.arange(total.shape[1], dtype=xp.uint16) % 2 + (n // 2 - 1)  # 1,2,.. or 0,1,..
    return ((total + bias) // n).astype(xp.uint8)


# --------------------------------------------------------------------------------------------
# Blocks: DCT, quantization, zigzag, MCU order
# --------------------------------------------------------------------------------------------
def plane_blocks(plane: np.ndarray) -> np.ndarray:
    """Level-shifted blocks of a plane: (H, W) uint8 -> (H/8, W/8, 64) float32, raster order.

    ``transforms.dct.blockify`` of ``plane - 128`` with each block flattened. The shift centres
    the samples on 0 (-128..127, T.81 A.3.1), so the DC coefficient is signed and symmetric
    around 0 like the others. One pass: the subtraction writes the float blocks, contiguous for
    the matrix product of :func:`divided_coefficients`.
    """
    xp = array_module(plane)
    height, width = plane.shape
    blocks = xp.empty((height // 8, width // 8, 8, 8), dtype=xp.float32)
    xp.subtract(plane.reshape(height // 8, 8, width // 8, 8).transpose(0, 2, 1, 3),
                xp.float32(128), out=blocks)
    return blocks.reshape(height // 8, width // 8, 64)


@functools.lru_cache(maxsize=64)
def _forward_matrix(steps: tuple[int, ...]) -> np.ndarray:
    """The 64 x 64 matrix taking a raster-flattened block to its zigzag coefficients / steps.

    For a flattened block ``x`` (raster order), the 2-D DCT ``C B C.T`` is ``kron(C, C) @ x``;
    picking the rows in zigzag order and dividing each by its step keeps it one matrix. We
    multiply row vectors from the right, hence the transpose.
    """
    c = dct_matrix()
    steps = np.asarray(steps, dtype=np.float64)
    return (np.kron(c, c)[ZIGZAG] / steps[ZIGZAG, None]).T.astype(np.float32)


def divided_coefficients(blocks: np.ndarray, quant_table: np.ndarray) -> np.ndarray:
    """2-D DCT of flattened, level-shifted blocks, divided by the steps, in zigzag order.

    Everything quantization does but the rounding, which :func:`round_into_mcus` does while it
    puts the blocks in sending order: ``rint(divided_coefficients(b, t))`` are the quantized
    coefficients of the blocks ``b``.

    Parameters
    ----------
    blocks : ndarray of float32, shape (..., 64)
        Blocks flattened in raster order, samples -128..127 (:func:`plane_blocks`).
    quant_table : ndarray of int, shape (8, 8)
        Quantization steps in raster order.

    Returns
    -------
    ndarray of float32, shape (..., 64)
        ``DCT(block) / steps``, zigzag order.
    """
    xp = array_module(blocks)
    matrix = xp.asarray(_forward_matrix(tuple(np.asarray(quant_table).ravel().tolist())))
    blocks = xp.asarray(blocks, dtype=xp.float32)
    # as one 2-D product: a stack of (cols, 64) products would call BLAS once per block row
    return (blocks.reshape(-1, 64) @ matrix).reshape(blocks.shape)


def quantized_blocks(blocks: np.ndarray, quant_table: np.ndarray) -> np.ndarray:
    """Quantized coefficients of flattened, level-shifted blocks: stage 4 in one call.

    ``rint(divided_coefficients(blocks, quant_table))`` as int32, shape (..., 64), zigzag order
    (the encoder itself rounds inside :func:`round_into_mcus`).
    """
    xp = array_module(blocks)
    coefficients = divided_coefficients(blocks, quant_table)
    quantized = xp.empty(coefficients.shape, dtype=xp.int32)
    return xp.rint(coefficients, out=quantized, casting="unsafe")


def fill_dummy_blocks(grid: np.ndarray, n_rows: int, n_cols: int, h: int) -> None:
    """Turn the blocks outside a component's ``n_rows`` x ``n_cols`` blocks into libjpeg's dummies.

    When a component has 2 blocks per MCU side (luma in 4:2:0 and 4:2:2), whole MCUs may need one
    more block row or column than the image covers. libjpeg codes such blocks as a flat block:
    AC all zero, DC copied from the block to the left, or, in a missing bottom row, from the
    last block of the row above in the same MCU. Their DC difference is then 0, and each costs
    two short codes (DC size 0, EOB) instead of the coefficients of repeated edge pixels.

    Parameters
    ----------
    grid : ndarray, shape (rows, cols, 64)
        The component's zigzag coefficients, blocks in raster order; changed in place.
    n_rows, n_cols : int
        Blocks the component's own samples cover: ``ceil(component height / 8)`` etc.
    h : int
        The component's horizontal sampling factor (blocks per MCU row).
    """
    if n_rows == grid.shape[0] and n_cols == grid.shape[1]:
        return  # the usual case: the samples cover every block
    xp = array_module(grid)
    grid[:, n_cols:, 1:] = 0
    grid[:, n_cols:, 0] = grid[:, n_cols - 1 : n_cols, 0]  # a chain of copies from the left
    last_of_mcu_row = (xp.arange(grid.shape[1]) // h) * h + h - 1
    grid[n_rows:, :, 1:] = 0
    grid[n_rows:, :, 0] = grid[n_rows - 1, last_of_mcu_row, 0]


def round_into_mcus(grids: list[np.ndarray], components: list[Component],
                    out: np.ndarray | None = None) -> np.ndarray:
    """Round the components' coefficient grids to integers, gathered into MCUs.

    MCU by MCU, row-major over the image; inside an MCU each component's ``v`` x ``h`` blocks row
    by row, component after component (T.81 A.2.3). A single component (gray) is one block per
    MCU, which is exactly the raster order of a non-interleaved scan.

    Rounding writes each component straight into its place in the result, through a view of it
    shaped like the component's grid: one pass over memory where rounding, converting and
    concatenating would take three (this doubled the speed of 4:4:4 encoding).

    Parameters
    ----------
    grids : list of ndarray of float, each (mcu_rows * v, mcu_cols * h, 64)
        :func:`divided_coefficients` of each component's blocks.
    components : list of Component
    out : ndarray of int32, shape (mcu_rows, mcu_cols, blocks_per_mcu, 64), optional
        Where to write (e.g. one band of a larger array); a new array by default.

    Returns
    -------
    ndarray of int32, shape (mcu_rows * mcu_cols, blocks_per_mcu, 64)
        ``out`` (or the new array) with its MCU rows and columns merged.
    """
    xp = array_module(*grids)
    mcu_rows = grids[0].shape[0] // components[0].v
    mcu_cols = grids[0].shape[1] // components[0].h
    blocks_per_mcu = sum(c.h * c.v for c in components)
    mcus = out if out is not None else xp.empty((mcu_rows, mcu_cols, blocks_per_mcu, 64),
                                                dtype=xp.int32)
    first = 0
    for grid, component in zip(grids, components, strict=True):
        v, h = component.v, component.h
        # this component's blocks of every MCU, as (MCU row, MCU column, v, h, 64): a view
        target = mcus[:, :, first:first + v * h].reshape(mcu_rows, mcu_cols, v, h, 64)
        source = grid.reshape(mcu_rows, v, mcu_cols, h, 64).transpose(0, 2, 1, 3, 4)
        xp.rint(source, out=target, casting="unsafe")  # round half to even, then to int32
        first += v * h
    return mcus.reshape(mcu_rows * mcu_cols, blocks_per_mcu, 64)


def quantized_mcus(image: np.ndarray, components: list[Component],
                   quant_tables: list[np.ndarray]) -> np.ndarray:
    """Stages 1-4 for a whole image: pixels to quantized blocks in sending order.

    The image goes through in bands of whole MCU rows, about ``BAND_PIXELS`` pixels each, and
    only the result is the size of the image (see the module docstring).

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
    components : list of Component
        From :func:`frame_components`.
    quant_tables : list of ndarray (8, 8)
        Quantization tables by ``table_id``.

    Returns
    -------
    ndarray of int32, shape (n_mcus, blocks_per_mcu, 64)
    """
    xp = array_module(image)
    height, width = image.shape[:2]
    h_max = max(c.h for c in components)
    v_max = max(c.v for c in components)
    mcu_height, mcu_width = 8 * v_max, 8 * h_max
    mcu_rows, mcu_cols = _ceil_div(height, mcu_height), _ceil_div(width, mcu_width)
    blocks_per_mcu = sum(c.h * c.v for c in components)
    mcus = xp.empty((mcu_rows, mcu_cols, blocks_per_mcu, 64), dtype=xp.int32)
    band_mcu_rows = max(1, BAND_PIXELS // (mcu_height * mcu_cols * mcu_width))
    for first in range(0, mcu_rows, band_mcu_rows):
        band = image[first * mcu_height : (first + band_mcu_rows) * mcu_height]
        grids = []
        for component, plane in zip(components, to_planes(band, mcu_height, mcu_width),
                                    strict=True):
            sampled = downsample(plane, h_max // component.h, v_max // component.v)
            grid = divided_coefficients(plane_blocks(sampled), quant_tables[component.table_id])
            # the blocks this component's own samples cover (its size rounded up, T.81 A.1.1),
            # counted from the top of the band
            n_rows = _ceil_div(_ceil_div(height * component.v, v_max), 8) - first * component.v
            n_cols = _ceil_div(_ceil_div(width * component.h, h_max), 8)
            fill_dummy_blocks(grid, min(n_rows, grid.shape[0]), n_cols, component.h)
            grids.append(grid)
        round_into_mcus(grids, components, out=mcus[first : first + band_mcu_rows])
    return mcus.reshape(mcu_rows * mcu_cols, blocks_per_mcu, 64)


def dc_differences(mcus: np.ndarray, components: list[Component],
                   restart_interval: int = 0) -> None:
    """Replace, in place, each DC by its difference from the previous one of its component.

    Parameters
    ----------
    mcus : ndarray of int32, shape (n_mcus, blocks_per_mcu, 64)
        Quantized zigzag blocks in scan order, each MCU's blocks component after component.
    components : list of Component
    restart_interval : int
        MCUs per restart interval (0 = none); the prediction restarts from 0 in each.
    """
    xp = array_module(mcus)
    n_mcus = mcus.shape[0]
    first = 0
    for component in components:
        n_blocks = component.h * component.v
        dc = mcus[:, first:first + n_blocks, 0].reshape(-1)  # this component, in scan order
        differences = xp.diff(dc, prepend=0)
        if restart_interval:
            starts = xp.arange(0, n_mcus, restart_interval) * n_blocks
            differences[starts] = dc[starts]
        mcus[:, first:first + n_blocks, 0] = differences.reshape(n_mcus, n_blocks)
        first += n_blocks


# --------------------------------------------------------------------------------------------
# The whole encoder
# --------------------------------------------------------------------------------------------
def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _check_params(image, quality, subsampling, restart_interval) -> None:
    def is_int(value):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if not (is_int(quality) and 1 <= quality <= 100):
        raise ValueError(f"quality must be an integer in 1..100, got {quality!r}")
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling must be one of {list(SUBSAMPLINGS)}, got {subsampling!r}")
    if not (is_int(restart_interval) and 0 <= restart_interval <= MAX_RESTART_INTERVAL):
        raise ValueError(f"restart_interval must be an integer in 0..{MAX_RESTART_INTERVAL}, "
                         f"got {restart_interval!r}")
    if max(image.shape[:2]) > MAX_SIZE:
        raise ValueError(f"JPEG images are at most {MAX_SIZE} pixels each way, got "
                         f"{image.shape[0]} x {image.shape[1]}")


def encode(image, quality: int = 75, subsampling: str = "4:2:0", optimize: bool = False,
           restart_interval: int = 0, use_numba: bool = True) -> bytes:
    """Compress an image to a baseline JFIF file.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W) or (H, W, 3)
        Gray or RGB, 1..65535 pixels each way.
    quality : int
        IJG quality 1..100 scaling Annex K's quantization tables (``tables.quality_scaled``).
    subsampling : {"4:2:0", "4:2:2", "4:4:4"}
        Chroma resolution; ignored for gray images.
    optimize : bool
        Huffman tables fitted to this image (two passes) instead of Annex K's.
    restart_interval : int
        Put an RSTn marker every this many MCUs (0 = none, at most 65535).
    use_numba : bool
        Entropy-code with the compiled kernels (default) or their readable twins (same bytes).

    Returns
    -------
    bytes
        The complete file, readable by any JPEG decoder.
    """
    image = as_image(image)
    _check_params(image, quality, subsampling, restart_interval)
    height, width = image.shape[:2]
    components = frame_components(1 if image.ndim == 2 else 3, subsampling)
    quant_tables = [quality_scaled(LUMINANCE_QUANT, quality),
                    quality_scaled(CHROMINANCE_QUANT, quality)][:1 + (len(components) > 1)]
    mcus = quantized_mcus(image, components, quant_tables)
    dc_differences(mcus, components, restart_interval)
    n_mcus, blocks_per_mcu, _ = mcus.shape
    mcus = mcus.reshape(n_mcus * blocks_per_mcu, 64)
    table_of_mcu_block = np.concatenate([np.full(c.h * c.v, c.table_id) for c in components])
    block_table_ids = np.tile(table_of_mcu_block, n_mcus)

    dc_tables, ac_tables = entropy_coding.huffman_tables(mcus, block_table_ids, len(quant_tables),
                                                         optimize, use_numba)
    data = entropy_coding.encode_blocks(
        mcus, block_table_ids, block_table_ids,
        entropy_coding.code_tables(dc_tables), entropy_coding.code_tables(ac_tables),
        restart_interval * blocks_per_mcu, use_numba)

    header = markers.headers(height, width, components, quant_tables,
                             list(zip(dc_tables, ac_tables, strict=True)), restart_interval)
    return header + data + markers.marker(markers.EOI)
