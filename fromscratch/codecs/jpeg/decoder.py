"""The baseline JPEG decoder: bytes -> Huffman symbols -> DCT coefficients -> pixels.

Decoding runs the encoder's chain backwards, one box at a time:

1. **Markers** (``parser``): the frame (size, components, sampling factors), the quantization
   and Huffman tables, the restart interval, and where the entropy-coded data starts.
2. **Entropy decoding**: unstuff the scan and cut it at the restart markers
   (:func:`split_entropy_data`), then Huffman-decode every block's DC difference and AC
   run/size pairs into quantized coefficients, MCU by MCU (``_decode_kernels``: a Numba
   kernel, and a bit-at-a-time twin for reading).
3. **Dequantize, unzigzag, inverse DCT**: three *linear* maps of a block's 64 numbers, so they
   compose into one 64 x 64 matrix per quantization table (:func:`reconstruction_matrix`), and
   all blocks of a component are reconstructed by **one matrix product**, (n_blocks, 64) @
   (64, 64), which BLAS runs near the machine's peak. Then ``+ 128``, round and clip to 0..255,
   and the blocks are laid back into a plane (through a ``dct.blockify`` view of it).
4. **Crop** the padding: planes are stored in whole MCUs (8 x 8 blocks times the sampling
   factors), and the image is cut out of their top-left corner.
5. **Upsample** subsampled chroma (``upsample``: libjpeg's "fancy" triangle filter).
6. **Colour**: YCbCr -> RGB with libjpeg's own fixed-point arithmetic (:func:`ycbcr_to_rgb`).

The result is what libjpeg-turbo (and so Pillow) returns, within rounding: libjpeg's inverse
DCT (``jidctint.c``, "islow") is integer arithmetic with 13-bit constants, ours is a float
product, and the two round differently for a small fraction of pixels by 1.

Which colour space? A 3-component file is YCbCr unless it says otherwise; we follow libjpeg's
rules (jdapimin.c): a JFIF APP0 marker means YCbCr; else an Adobe APP14 marker's transform flag
decides (0 = RGB stored as is, 1 = YCbCr); else component ids 'R', 'G', 'B' mean RGB.

Limits: baseline and extended sequential Huffman (SOF0, SOF1), 8-bit, 1 or 3 components, one
scan, sampling factors 1 or 2. The pixel count is checked against ``MAX_IMAGE_PIXELS`` and the
number of blocks against the scan's size (every block costs at least two bits) before anything
large is allocated. A truncated or corrupt file raises ``BitstreamError``: unlike libjpeg, which
pads a truncated scan with zeros and warns, this decoder refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...backend import array_module
from ...bitstream import BitstreamError
from ...transforms.dct import basis_images, blockify
from . import _decode_kernels as kernels
from .parser import RST0, JpegFile, check_after_scan, parse
from .tables import ZIGZAG
from .upsample import upsample_rows

__all__ = ["DecodedScan", "EntropyData", "decode", "decode_scan", "reconstruct_plane",
           "reconstruction_matrix", "split_entropy_data", "ycbcr_to_rgb"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class EntropyData:
    """The scan's entropy-coded bytes with stuffing and markers removed.

    Attributes
    ----------
    data : ndarray of uint8, shape (n,)
        All restart intervals' bytes, concatenated.
    interval_starts : ndarray of int64, shape (n_intervals + 1,)
        Interval ``k`` is ``data[interval_starts[k] : interval_starts[k + 1]]``.
    start, end : int
        File offsets of the scan's first byte and of the marker that ended it.
    removed : ndarray of int64
        File offsets of the bytes taken out (stuffed zeros, fill bytes, RST markers), sorted.
    """

    data: np.ndarray
    interval_starts: np.ndarray
    start: int
    end: int
    removed: np.ndarray

    def file_offset(self, index: int) -> int:
        """Where byte ``index`` of ``data`` sat in the file (for error messages)."""
        offset = self.start + index
        for removed in self.removed.tolist():  # each byte removed before it shifts it by one
            if removed > offset:
                break
            offset += 1
        return offset


def split_entropy_data(data: bytes, start: int, n_intervals: int) -> EntropyData:
    """Find the end of the scan starting at ``start``; unstuff it and cut it at RST markers.

    Every ``FF`` in the scan is followed by ``00`` (a stuffed data byte), by more ``FF`` (fill
    bytes before a marker), by ``D0..D7`` (a restart marker) or by another marker, which ends
    the scan. Restart markers must count RST0, RST1, ..., RST7, RST0, ... and there must be
    exactly ``n_intervals - 1`` of them. Only the few ``FF`` positions are handled one array
    at a time; the bulk of the bytes is copied once.
    """
    file = np.frombuffer(data, dtype=np.uint8)
    ff = np.flatnonzero(file[start:-1] == 0xFF) + start
    following = file[ff + 1]
    is_marker = (following != 0x00) & (following != 0xFF)
    is_restart = is_marker & (following >= RST0) & (following <= RST0 + 7)
    ending = np.flatnonzero(is_marker & ~is_restart)
    if ending.size == 0:
        raise BitstreamError(f"the entropy-coded data starting at byte {start} runs to the end "
                             "of the file without a marker (truncated file?)")
    end = int(ff[ending[0]])
    ff, following, is_restart = (a[: ending[0]] for a in (ff, following, is_restart))
    restarts = ff[is_restart]
    if restarts.size != n_intervals - 1:
        raise BitstreamError(
            f"the scan at byte {start} has {restarts.size} restart markers, expected "
            f"{n_intervals - 1}")
    numbers = following[is_restart] - RST0
    wrong = np.flatnonzero(numbers != np.arange(restarts.size) % 8)
    if wrong.size:
        k = int(wrong[0])
        raise BitstreamError(f"restart marker RST{numbers[k]} at byte {restarts[k]}, "
                             f"expected RST{k % 8}")
    removed = np.sort(np.concatenate([
        ff[following == 0x00] + 1,  # stuffed zeros
        ff[following == 0xFF],  # fill bytes
        restarts, restarts + 1,  # the RST markers
    ]))
    # an interval starts after its RST marker, shifted left by every byte removed before it
    removed_before = np.searchsorted(removed, restarts + 2)
    interval_starts = np.concatenate([[0], restarts + 2 - start - removed_before,
                                      [end - start - removed.size]]).astype(np.int64)
    unstuffed = np.delete(file[start:end], removed - start)
    return EntropyData(unstuffed, interval_starts, start, end, removed)


@dataclass(frozen=True)
class DecodedScan:
    """A parsed file and its quantized coefficients, one array per component.

    ``coefficients[c]`` has shape (block rows, block columns, 64), zigzag order, int16;
    ``sizes[c]`` is the component's own (height, width) in samples, before MCU padding.
    """

    jpeg: JpegFile
    coefficients: list[np.ndarray]
    sizes: list[tuple[int, int]]


def _layout(jpeg: JpegFile):
    """Block grids of every component and the kernel's view of them (T.81 A.1.1, A.2)."""
    frame = jpeg.frame
    h_max, v_max = frame.h_max, frame.v_max
    sizes = [(_ceil_div(frame.height * c.v, v_max), _ceil_div(frame.width * c.h, h_max))
             for c in frame.components]
    if len(frame.components) == 1:  # a non-interleaved scan: the MCU is one block
        grid_rows, grid_cols = _ceil_div(sizes[0][0], 8), _ceil_div(sizes[0][1], 8)
        grids, factors, mcus_per_row = [(grid_rows, grid_cols)], [(1, 1)], grid_cols
        n_mcus = grid_rows * grid_cols
    else:  # interleaved: MCUs of h x v blocks per component tile the padded image
        mcus_per_row = _ceil_div(frame.width, 8 * h_max)
        mcu_rows = _ceil_div(frame.height, 8 * v_max)
        grids = [(mcu_rows * c.v, mcus_per_row * c.h) for c in frame.components]
        factors = [(c.h, c.v) for c in frame.components]
        n_mcus = mcu_rows * mcus_per_row
    blocks = [rows * cols for rows, cols in grids]
    tables = []
    for scan_component in jpeg.scan:  # one kernel table per distinct DHT table object
        for table in (scan_component.dc_table, scan_component.ac_table):
            if not any(table is known for known in tables):
                tables.append(table)
    index = [next(i for i, t in enumerate(tables) if t is table) for table in
             [s.dc_table for s in jpeg.scan] + [s.ac_table for s in jpeg.scan]]
    n = len(jpeg.scan)
    layout = kernels.ScanLayout(
        n_mcus=n_mcus,
        mcus_per_row=mcus_per_row,
        h=np.array([f[0] for f in factors], np.int64),
        v=np.array([f[1] for f in factors], np.int64),
        blocks_per_row=np.array([g[1] for g in grids], np.int64),
        first_block=np.concatenate([[0], np.cumsum(blocks)[:-1]]).astype(np.int64),
        dc_table=np.array(index[:n], np.int64),
        ac_table=np.array(index[n:], np.int64),
        n_blocks=int(sum(blocks)),
    )
    return layout, sizes, grids, tables


def decode_scan(data: bytes, use_numba: bool = True) -> DecodedScan:
    """Parse ``data`` and Huffman-decode its scan into quantized coefficients.

    Parameters
    ----------
    data : bytes
        A whole JPEG file.
    use_numba : bool, optional
        ``False`` runs the readable bit-at-a-time twin (slow; same result).

    Raises
    ------
    BitstreamError
        Malformed, truncated or unsupported input, with the byte offset where it went wrong.
    """
    data = bytes(data)
    jpeg = parse(data)
    layout, sizes, grids, tables = _layout(jpeg)
    interval = jpeg.restart_interval
    n_intervals = _ceil_div(layout.n_mcus, interval) if interval else 1
    entropy = split_entropy_data(data, jpeg.entropy_start, n_intervals)
    check_after_scan(data, entropy.end)
    if 2 * layout.n_blocks > 8 * entropy.data.size:  # every block costs >= 2 bits
        raise BitstreamError(
            f"the scan at byte {jpeg.entropy_start} has {entropy.data.size} bytes, too few for "
            f"the {layout.n_blocks} blocks of a {jpeg.frame.width} x {jpeg.frame.height} image")
    huffman = kernels.HuffmanDecodeTables.from_tables(tables)
    coefficients = np.zeros((layout.n_blocks, 64), dtype=np.int16)
    if use_numba:
        status, interval_index, mcu, byte = kernels.decode_scan_kernel(
            entropy.data, entropy.interval_starts, interval, layout.n_mcus, layout.mcus_per_row,
            layout.h, layout.v, layout.blocks_per_row, layout.first_block, layout.dc_table,
            layout.ac_table, huffman.lut_values, huffman.lut_lengths, huffman.lookup_bits,
            huffman.max_length, huffman.n_codes, huffman.first_code, huffman.first_index,
            huffman.values, coefficients)
    else:
        status, interval_index, mcu, byte = kernels.decode_scan_reference(
            entropy.data, entropy.interval_starts, interval, layout, huffman, coefficients)
    if status != kernels.OK:
        byte = min(max(int(byte), 0), entropy.data.size)
        raise BitstreamError(
            f"{kernels.STATUS_MESSAGES[status]}: MCU {mcu} (restart interval {interval_index}) "
            f"near byte {entropy.file_offset(byte)}")
    per_component = [
        coefficients[start : start + rows * cols].reshape(rows, cols, 64)
        for start, (rows, cols) in zip(layout.first_block.tolist(), grids, strict=True)
    ]
    return DecodedScan(jpeg, per_component, sizes)


def reconstruction_matrix(quant_table, xp=np, dtype=np.float32):
    """Dequantize + unzigzag + inverse DCT of one block as a single (64, 64) matrix.

    Row ``k`` is what the k-th coefficient in zigzag order adds to the 64 pixels (raster
    order): ``quant_table[k]`` times the DCT basis image of the frequency ``ZIGZAG[k]``. The
    JPEG DCT (T.81 A.3.3) is the orthonormal 2-D DCT-II of ``transforms.dct``, so its inverse
    is a sum of basis images.

    Parameters
    ----------
    quant_table : array (64,), zigzag order
    """
    basis = basis_images().reshape(64, 64)[ZIGZAG]  # (zigzag frequency, pixel)
    matrix = np.asarray(quant_table, dtype=np.float64)[:, None] * basis
    return xp.asarray(matrix, dtype=dtype)


def reconstruct_plane(coefficients, quant_table, blocks_per_strip: int = 1024):
    """Quantized blocks (rows, cols, 64) int16, zigzag -> (rows * 8, cols * 8) uint8 samples.

    One matrix product per strip of about ``blocks_per_strip`` blocks: a strip's float32
    temporaries (256 KiB) stay in cache, where one product over a whole 768 x 512 image would
    write megabytes of fresh memory, and fresh pages cost more than the arithmetic (2.5x slower
    measured here). The level shift ``+ 128`` and the ``+ 0.5`` of rounding go into the DC
    coefficient (a DC of ``d`` adds ``d / 8`` to every pixel of the orthonormal DCT); clipping
    and truncation to uint8 finish the rounding.
    """
    xp = array_module(coefficients)
    rows, cols, _ = coefficients.shape
    matrix = reconstruction_matrix(quant_table, xp)
    dc_shift = np.float32(128.5 * 8 / float(quant_table[0]))
    plane = xp.empty((8 * rows, 8 * cols), dtype=xp.uint8)
    step = max(1, blocks_per_strip // cols)
    for top in range(0, rows, step):
        bottom = min(top + step, rows)
        blocks = coefficients[top:bottom].reshape(-1, 64).astype(xp.float32)
        blocks[:, 0] += dc_shift
        pixels = (blocks @ matrix).reshape(bottom - top, cols, 8, 8)
        xp.clip(pixels, 0, 255, out=pixels)
        # blockify gives a (rows, cols, 8, 8) *view* of the plane: assigning to it truncates
        # to uint8 and lays the blocks out in one pass (unblockify, written in place)
        blockify(plane[8 * top : 8 * bottom])[...] = pixels
    return plane


# libjpeg's fixed-point constants (jdcolor.c): FIX(x) = round(x * 2**16)
_SCALE_BITS = 16
_HALF = 1 << (_SCALE_BITS - 1)
_CR_TO_R = 91881  # FIX(1.40200)
_CB_TO_B = 116130  # FIX(1.77200)
_CB_TO_G = -22554  # -FIX(0.34414)
_CR_TO_G = -46802  # -FIX(0.71414)


def ycbcr_to_rgb(y, cb, cr, out=None):
    """JFIF YCbCr planes (H, W) -> (H, W, 3) uint8 RGB, libjpeg's integer arithmetic exactly.

    ``transforms.colour.ycbcr_to_rgb`` is the same matrix in floating point (within 1 of this
    everywhere); here each chroma term is rounded *before* it is added to Y, as libjpeg's
    tables do (jdcolor.c), so the result matches libjpeg bit for bit, and int32 arithmetic on
    planes is several times faster than a float64 (H, W, 3) matrix product. ``out``, if given,
    receives the result.
    """
    xp = array_module(y)
    if out is None:
        out = xp.empty((*y.shape, 3), dtype=xp.uint8)
    cb = xp.subtract(cb, 128, dtype=xp.int32)
    cr = xp.subtract(cr, 128, dtype=xp.int32)
    terms = (_CR_TO_R * cr, _CB_TO_G * cb + _CR_TO_G * cr, _CB_TO_B * cb)
    for channel, term in enumerate(terms):
        term += _HALF
        term >>= _SCALE_BITS
        term += y
        out[..., channel] = xp.clip(term, 0, 255, out=term)
    return out


def _stores_rgb(jpeg: JpegFile) -> bool:
    """libjpeg's guess of a 3-component file's colour space (jdapimin.c): True for RGB."""
    if jpeg.saw_jfif:
        return False
    if jpeg.adobe_transform is not None:
        return jpeg.adobe_transform == 0
    return tuple(c.identifier for c in jpeg.frame.components) == (ord("R"), ord("G"), ord("B"))


def decode(data: bytes) -> np.ndarray:
    """Decode a baseline JPEG file to pixels.

    Parameters
    ----------
    data : bytes
        A whole JPEG file (SOI to EOI).

    Returns
    -------
    ndarray of uint8
        (H, W, 3) RGB for three components, (H, W) for one.

    Raises
    ------
    BitstreamError
        Malformed, truncated or unsupported input (progressive, lossless, hierarchical,
        arithmetic-coded, 12-bit, 2 or 4 components, DNL, several scans), with a message
        saying what and where.
    """
    scan = decode_scan(data)
    frame = scan.jpeg.frame
    planes = [
        reconstruct_plane(coefficients, scan_component.quant_table)[:rows, :cols]
        for coefficients, (rows, cols), scan_component
        in zip(scan.coefficients, scan.sizes, scan.jpeg.scan, strict=True)
    ]
    if len(planes) == 1:
        return np.ascontiguousarray(planes[0])
    factors = [(frame.h_max // c.h, frame.v_max // c.v) for c in frame.components]
    return _to_rgb(planes, factors, frame.height, frame.width, _stores_rgb(scan.jpeg))


BAND_PIXELS = 32768  # pixels per band of upsampling and colour conversion: int32 temps of 128 KiB


def _to_rgb(planes, factors, height: int, width: int, stores_rgb: bool):
    """Upsample and convert three component planes band by band into (H, W, 3) uint8.

    Components with the same factors (Cb and Cr, usually) are stacked and upsampled by one
    call per band. Bands are a multiple of the largest vertical factor high, so each starts on
    a whole row of every component, and small enough that their temporaries stay in cache.
    """
    xp = array_module(planes[0])
    groups: dict[tuple[int, int], list[int]] = {}
    for index, pair in enumerate(factors):
        groups.setdefault(pair, []).append(index)
    stacks = {pair: xp.stack([planes[i] for i in indices]) if len(indices) > 1
              else planes[indices[0]][None] for pair, indices in groups.items()}
    v_max = max(v for _, v in factors)
    band = v_max * max(1, BAND_PIXELS // (width * v_max))
    out = xp.empty((height, width, 3), dtype=xp.uint8)
    rows = [None] * len(planes)
    for top in range(0, height, band):
        bottom = min(top + band, height)
        for (h, v), indices in groups.items():
            samples = upsample_rows(stacks[h, v], h, v, top // v, _ceil_div(bottom, v))
            for k, index in enumerate(indices):
                rows[index] = samples[k, : bottom - top, :width]
        if stores_rgb:
            for channel, samples in enumerate(rows):
                out[top:bottom, :, channel] = samples
        else:
            ycbcr_to_rgb(*rows, out=out[top:bottom])
    return out
