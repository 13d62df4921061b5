"""Patch transform coding: describe every 8 x 8 patch by a few numbers, quantise, entropy-code.

Chapter 3 asks an old question with a new tool: *which* few numbers should describe a patch? JPEG
answers with a fixed transform (the DCT); the Karhunen-Loeve transform (KLT, PCA) with the one
fitted to the data's covariance; Cottrell, Munro & Zipser's 1987 network with whatever a
64 -> 16 -> 64 multilayer perceptron learns by backpropagation. To compare the three fairly,
everything *except* the transform is shared, and lives here::

    image (H, W, 3) uint8
      -> Y, Cb, Cr                    JFIF full range (transforms/colour.py); gray: Y only
      -> Cb, Cr averaged over 2 x 2   4:2:0, as JPEG does: the eye hardly sees colour detail
      -> every plane edge-padded      to a multiple of 8 (edge copies cost few bits)
      -> 8 x 8 patches (n, 64)        raster order inside a patch (transforms/dct.blockify)
      -> analysis                     codes (n, k): THE TRANSFORM, supplied by a subclass
      -> uniform quantiser            b bits: 2**b levels over a per-code range [low, high]
      -> adaptive range coder         one model per (code index, luma or chroma)

and decoding runs it backwards: symbols -> codes (the centre of each quantiser cell) ->
``synthesis`` -> patches -> planes (padding cropped) -> chroma upsampled -> RGB uint8.

The quantiser
-------------
Code ``j`` is known to lie (mostly) in ``[low_j, high_j]``: the sigmoid's (0, 1) for the network,
percentiles of training data for the linear transforms. The range is cut into ``L = 2**b`` equal
cells of width ``step_j = (high_j - low_j) / L``::

    q = clip(floor((c - low_j) / step_j), 0, L - 1)        c_hat = low_j + (q + 1/2) step_j

Values outside the range are clipped into the outer cells. Every code gets the same number of
levels but its own step, so a code that varies little is described finely: a crude form of bit
allocation, with nothing like JPEG's perceptual quantisation tables.

Signed codes (KLT projections, DCT coefficients) are most often close to 0, and with an even
number of cells over a symmetric range 0 would fall on a cell *boundary*: every small code would
come back as +-step/2 and cost a full symbol of its own. Such codecs set ``zero_level``: the range
is slid by less than half a step so that 0 is the centre of a cell (a "mid-tread" quantiser, as
JPEG's rounding is). On Kodak this lowers the rate and raises PSNR at 4-5 bits (0.5 dB at k=4,
b=4); the sigmoid codes of ``mlp1987`` have no special value and keep their range (0, 1).

Entropy coding
--------------
The quantised codes are far from uniform: a DCT coefficient of high frequency sits in its middle
cells almost always, the KLT's first component spreads out. The adaptive range coder of chapter 1
(``entropy/context_coder.py``) keeps one histogram per *context* and learns it as it goes; the
context of a symbol is its code index, plus ``k`` for chroma patches (colour planes are much
smoother than luma and deserve their own statistics). Nothing is transmitted but the coded bits.

Payload::

    offset  size  field
    0       4     L, length of the range-coded stream (big-endian)
    4       L     symbols of the Y patches, then Cb, then Cr; patch after patch, k codes each

The payload must be exactly ``4 + L`` bytes, so truncation is caught here even where the range
decoder could not notice it; the container's CRC-32 catches most other damage.

Chroma upsampling
-----------------
A chroma sample is the mean of a 2 x 2 square of pixels, so it belongs at that square's *centre*.
Replicating it into the square (box upsampling) is cheap but leaves 2-pixel colour staircases along
every edge. We use the bilinear (triangle) filter instead, libjpeg's "fancy upsampling" in floating
point: each output pixel mixes its nearest chroma sample with weight 3/4 and the next one out with
1/4, along each axis (9/16, 3/16, 3/16, 1/16 in 2-D), edges replicated. Measured on 6 Kodak
images it beats replication by 0.03 to 0.08 dB at k=8, b=5 and by 0.1 to 0.25 dB at k=32, b=6
(where luma errors no longer hide the chroma's): small, but free, since it costs no bits.
"""

from __future__ import annotations

import struct
from abc import abstractmethod

import numpy as np

from ...backend import array_module, get_xp, to_numpy
from ...bitstream import BitstreamError
from ...entropy.cdf_tables import MAX_TOTAL, check_decode_count
from ...entropy.context_coder import decode_adaptive_contexts, encode_adaptive_contexts
from ...transforms.colour import rgb_to_ycbcr, ycbcr_to_rgb
from ...transforms.dct import blockify, unblockify
from ..base import ContainerCodec

__all__ = [
    "CHROMA",
    "LUMA",
    "PATCH",
    "SETTINGS",
    "PatchCoder",
    "centre_on_zero",
    "dequantise",
    "image_patches",
    "image_planes",
    "patch_grid",
    "patches_to_plane",
    "plane_shapes",
    "plane_to_patches",
    "quantise",
    "subsample_2x2",
    "upsample_2x2",
]

PATCH = 8
#: The (k, bits) settings every patch codec sweeps, lowest rate first (all three share them so
#: that their curves compare point for point). Measured on Kodak: at a fixed k, more than 5-6
#: bits buys almost nothing (the k-code truncation dominates), so the curve climbs by k instead.
SETTINGS = ({"k": 4, "bits": 5}, {"k": 8, "bits": 5}, {"k": 16, "bits": 5}, {"k": 32, "bits": 5},
            {"k": 32, "bits": 6})
LUMA, CHROMA = 0, 1  # plane kinds: they select the quantiser ranges and the coder's contexts
_INCREMENT = 32  # adaptive model: count step per coded symbol (range_coder's default)


# --- planes ---------------------------------------------------------------------------------


def subsample_2x2(plane: np.ndarray) -> np.ndarray:
    """Average every 2 x 2 square: (H, W) float -> (ceil(H/2), ceil(W/2)); odd sides edge-padded."""
    height, width = plane.shape
    padded = np.pad(plane, ((0, height % 2), (0, width % 2)), mode="edge")
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).mean(axis=(1, 3))


def _upsample_axis(plane: np.ndarray, axis: int) -> np.ndarray:
    """Double ``plane`` along ``axis`` with the (3/4, 1/4) triangle filter, edges replicated."""
    plane = np.moveaxis(plane, axis, 0)
    before = np.concatenate([plane[:1], plane[:-1]])  # the neighbour above (itself at the edge)
    after = np.concatenate([plane[1:], plane[-1:]])
    out = np.empty((2 * plane.shape[0], *plane.shape[1:]), dtype=plane.dtype)
    out[0::2] = 0.75 * plane + 0.25 * before  # output pixel 2i sits a quarter-step before i
    out[1::2] = 0.75 * plane + 0.25 * after
    return np.moveaxis(out, 0, axis)


def upsample_2x2(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear 2x upsampling of a chroma plane, cropped to (height, width) (module docstring)."""
    return _upsample_axis(_upsample_axis(plane, 0), 1)[:height, :width]


def image_planes(image: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """The planes that get coded: ``[(Y, LUMA), (Cb, CHROMA), (Cr, CHROMA)]``, float64.

    Gray (H, W) images give ``[(Y, LUMA)]`` with Y the pixels themselves; Cb and Cr are 4:2:0,
    of shape (ceil(H/2), ceil(W/2)).
    """
    if image.ndim == 2:
        return [(image.astype(np.float64), LUMA)]
    ycbcr = rgb_to_ycbcr(image)
    return [(ycbcr[..., 0], LUMA), (subsample_2x2(ycbcr[..., 1]), CHROMA),
            (subsample_2x2(ycbcr[..., 2]), CHROMA)]


def plane_shapes(shape: tuple[int, ...]) -> list[tuple[tuple[int, int], int]]:
    """``[((h, w), kind), ...]`` of the planes :func:`image_planes` makes for an image shape."""
    height, width = shape[:2]
    if len(shape) == 2:
        return [((height, width), LUMA)]
    half = ((height + 1) // 2, (width + 1) // 2)
    return [((height, width), LUMA), (half, CHROMA), (half, CHROMA)]


def patch_grid(height: int, width: int) -> tuple[int, int]:
    """Rows and columns of 8 x 8 patches covering an (height, width) plane once padded."""
    return -(-height // PATCH), -(-width // PATCH)


def plane_to_patches(plane: np.ndarray) -> np.ndarray:
    """Edge-pad an (H, W) plane to multiples of 8 and cut it into (n, 64) raster-order patches."""
    rows, cols = patch_grid(*plane.shape)
    padded = np.pad(plane, ((0, rows * PATCH - plane.shape[0]), (0, cols * PATCH - plane.shape[1])),
                    mode="edge")
    return blockify(padded, PATCH).reshape(rows * cols, PATCH * PATCH)


def patches_to_plane(patches, height: int, width: int) -> np.ndarray:
    """Inverse of :func:`plane_to_patches`: (n, 64) patches -> (height, width), padding cropped."""
    rows, cols = patch_grid(height, width)
    return unblockify(patches.reshape(rows, cols, PATCH, PATCH))[:height, :width]


def image_patches(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All luma and all chroma patches of an image, ((n_y, 64), (n_c, 64)) float64.

    What a codec codes, and what the training scripts learn from (so both see the same data).
    """
    luma, chroma = [], [np.empty((0, PATCH * PATCH))]
    for plane, kind in image_planes(image):
        (luma if kind == LUMA else chroma).append(plane_to_patches(plane))
    return np.concatenate(luma), np.concatenate(chroma)


# --- the quantiser --------------------------------------------------------------------------


def quantise(codes, low, high, bits: int):
    """Uniform quantiser: codes (n, k) -> int32 cells 0 .. 2**bits - 1 (module docstring).

    ``low``, ``high`` (k,) bound each code; values outside are clipped into the end cells.
    """
    xp = array_module(codes)
    levels = 1 << bits
    step = (high - low) / levels
    cells = xp.floor((codes - low) / step)
    return xp.clip(cells, 0, levels - 1).astype(xp.int32)


def centre_on_zero(low, high, bits: int):
    """Slide each range ``[low, high]`` that contains 0 so that 0 is the centre of a cell.

    The width and so the step stay the same; a range not containing 0 is left alone.
    """
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    step = (high - low) / (1 << bits)
    cells_below = np.round(-low / step - 0.5)  # whole cells between low and the one around 0
    shifted = -step * (cells_below + 0.5)
    straddles = (low < 0) & (high > 0)
    new_low = np.where(straddles, shifted, low)
    return new_low, new_low + (high - low)


def dequantise(cells, low, high, bits: int):
    """The centre of each quantiser cell: ``low + (q + 1/2) (high - low) / 2**bits``."""
    step = (high - low) / (1 << bits)
    return low + (cells + 0.5) * step


# --- the codec ------------------------------------------------------------------------------


class PatchCoder(ContainerCodec):
    """Base of the patch transform codecs: subclasses supply the transform, this class the rest.

    A subclass declares the parameters ``k`` (codes per patch) and ``bits`` (per code) and
    implements :meth:`analysis`, :meth:`synthesis` and :meth:`code_range`.
    """

    @abstractmethod
    def analysis(self, patches):
        """Patches (n, 64) float32 xp array, pixel values 0..255 -> codes (n, k)."""

    @abstractmethod
    def synthesis(self, codes):
        """Codes (n, k) float32 xp array -> patches (n, 64), pixel values (not yet clipped)."""

    @abstractmethod
    def code_range(self, kind: int) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)``, each (k,) float: the quantiser range of every code for LUMA/CHROMA."""

    #: Slide the quantiser ranges so that 0 is a reconstruction level (signed codes).
    zero_level: bool = False

    # --- shared machinery ---
    @property
    def n_codes(self) -> int:
        return int(self.params["k"])

    @property
    def bits(self) -> int:
        return int(self.params["bits"])

    def _ranges(self, kind: int, xp):
        low, high = self.code_range(kind)
        if self.zero_level:
            low, high = centre_on_zero(low, high, self.bits)
        return (xp.asarray(low, dtype=xp.float32), xp.asarray(high, dtype=xp.float32))

    def _contexts(self, shape: tuple[int, ...]) -> np.ndarray:
        """The context of every symbol: code index, plus k for chroma planes."""
        k = self.n_codes
        parts = []
        for (height, width), kind in plane_shapes(shape):
            rows, cols = patch_grid(height, width)
            parts.append(np.tile(np.arange(k, dtype=np.int32) + kind * k, rows * cols))
        return np.concatenate(parts)

    def encode_payload(self, image: np.ndarray) -> bytes:
        xp = get_xp()
        symbols = []
        for plane, kind in image_planes(image):
            patches = xp.asarray(plane_to_patches(plane), dtype=xp.float32)
            low, high = self._ranges(kind, xp)
            cells = quantise(self.analysis(patches), low, high, self.bits)
            symbols.append(to_numpy(cells).ravel())
        stream = encode_adaptive_contexts(
            np.concatenate(symbols), self._contexts(image.shape), 2 * self.n_codes,
            1 << self.bits, increment=_INCREMENT,
        )
        return struct.pack(">I", len(stream)) + stream

    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        if len(payload) < 4:
            raise BitstreamError(f"{self.name} payload of {len(payload)} bytes has no length field")
        (length,) = struct.unpack(">I", payload[:4])
        if len(payload) != 4 + length:
            raise BitstreamError(
                f"{self.name} payload announces a {length}-byte stream but holds "
                f"{len(payload) - 4} bytes"
            )
        stream = payload[4:]
        alphabet = 1 << self.bits
        # Refuse a stream too short for the symbols the shape implies *before* allocating them.
        k = self.n_codes
        n_symbols = sum(k * np.prod(patch_grid(*hw)) for hw, _ in plane_shapes(shape))
        check_decode_count(int(n_symbols), len(stream), MAX_TOTAL - alphabet + 1, MAX_TOTAL)
        symbols = decode_adaptive_contexts(stream, self._contexts(shape), 2 * k, alphabet,
                                           increment=_INCREMENT)
        xp = get_xp()
        planes, start = [], 0
        for (height, width), kind in plane_shapes(shape):
            rows, cols = patch_grid(height, width)
            cells = xp.asarray(symbols[start : start + rows * cols * k].reshape(rows * cols, k))
            start += rows * cols * k
            low, high = self._ranges(kind, xp)
            codes = dequantise(cells.astype(xp.float32), low, high, self.bits)
            patches = to_numpy(self.synthesis(codes)).astype(np.float64)
            planes.append(patches_to_plane(patches, height, width))
        if len(shape) == 2:
            return np.clip(np.rint(planes[0]), 0, 255).astype(np.uint8)
        height, width = shape[:2]
        ycbcr = np.stack([planes[0]] + [upsample_2x2(p, height, width) for p in planes[1:]],
                         axis=-1)
        return ycbcr_to_rgb(ycbcr)
