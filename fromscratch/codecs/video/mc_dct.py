"""``mc-dct``: motion-compensated DCT coding, the H.261 / MPEG-1 design, built from chapters 1-2.

The loop
--------
Frames are split into *groups of pictures* (GOPs) of ``gop`` frames. The first of each is an
**I-frame**, coded alone like a JPEG image; the others are **P-frames**, predicted from the frame
before. For a P-frame, every 16 x 16 luma macroblock:

1. **Motion search** (``transforms.motion``): the best half-pel vector in the *decoded* previous
   frame, by full or diamond search.
2. **Mode decision** by cost: *inter* (the searched vector, or the left neighbour's vector when it
   is about as good, since it costs no bits), or *intra* when the macroblock's own variation is
   smaller than what remains after prediction (a newly uncovered area, a scene cut). An inter
   macroblock whose residual quantizes to nothing and whose vector equals the prediction becomes
   a *skip*: one symbol, no vector, no coefficients.
3. **Residual coding**: prediction error per 8 x 8 block through chapter 2's DCT, quantized with
   a *flat* inter matrix (:data:`INTER_MATRIX` scaled by the JPEG quality factor, as MPEG's
   default non-intra matrix is flat) and a dead zone (rounding toward zero with offset ``1/4``:
   small residual coefficients are mostly noise); intra blocks use JPEG's tables with ordinary
   rounding, their DC coded as a difference to the previous intra block's.
4. **Reconstruction**: the encoder dequantizes and inverts its own output with the very function
   the decoder uses, and predicts the next frame from *that* (the closed loop). Predicting from
   the original frames instead would let the decoder's small errors pile up frame after frame
   (*drift*).

Colour is chapter 2's: JFIF YCbCr, chroma averaged 2 x 2 (4:2:0), chroma vectors are the luma
ones halved, and the decoder upsamples with libjpeg's triangle filter. Frames are padded to whole
macroblocks by edge replication and cropped after decoding.

Symbols are coded with chapter 1's context-adaptive range coder (``symbols``), with models that
learn over each GOP.

A note on exactness: the (I)DCT here is floating point. Encoder and decoder call the same compiled
function, so on one machine they agree bit for bit (the tests check it); two *different*
implementations may round a few pixels differently, which is why MPEG-1 and H.261 specified an
IDCT accuracy test (IEEE 1180) and H.264 moved to an exact integer transform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ...bitstream import BitstreamError
from ...entropy.range_engine import raise_for_status
from ...transforms.colour import ycbcr_to_rgb
from ...transforms.dct import dct_matrix
from ...transforms.motion import SEARCH_METHODS, motion_search, pad_reference
from ..base import Parameter
from ..jpeg.encoder import downsample, to_planes
from ..jpeg.tables import CHROMINANCE_QUANT, LUMINANCE_QUANT, ZIGZAG, quality_scaled
from ..jpeg.upsample import upsample
from . import _mc_dct_kernels as kernels
from . import symbols
from .base import VideoCodec, register_video

__all__ = ["INTER_MATRIX", "FrameInfo", "McDctCodec", "quantizer_tables"]

#: The non-intra matrix: flat like MPEG's default (every frequency of a residual is equally
#: important), at 24 = 1.5 x the DC step of JPEG's luma table: P-frames are quantized a little
#: coarser than I-frames, since their errors are corrected by the next frames' residuals
#: (16, 20 and 24 were compared on carphone; 24 saved ~5 % of the rate at equal PSNR).
INTER_MATRIX = np.full((8, 8), 24, dtype=np.int64)
MB_TYPES = ("skip", "inter", "intra")
#: Dead-zone offset of the inter quantizer (0.5 would be plain rounding).
INTER_ROUNDING = 0.25
#: Multiplier of the inter step in the mode decision's lambda (SAD per bit).
LAMBDA_PER_STEP = 1.0


def quantizer_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    """``(q_intra (2, 64), q_inter (64,))``, raster order, for JPEG-scale ``quality``."""
    q_intra = np.stack([quality_scaled(LUMINANCE_QUANT, quality).ravel(),
                        quality_scaled(CHROMINANCE_QUANT, quality).ravel()]).astype(np.float64)
    q_inter = quality_scaled(INTER_MATRIX, quality).ravel().astype(np.float64)
    return np.ascontiguousarray(q_intra), q_inter


@dataclass
class FrameInfo:
    """What the encoder (or decoder) did with one frame: for plots and tests."""

    kind: str
    n_bytes: int
    modes: np.ndarray  # (rows, cols) int8: 0 skip, 1 inter, 2 intra
    vectors: np.ndarray  # (rows, cols, 2) int32, half-pel units
    planes: list = field(repr=False, default_factory=list)  # decoded Y (, Cb, Cr), padded


def _planes_of(frame: np.ndarray) -> list[np.ndarray]:
    planes = to_planes(frame, 16, 16)
    if len(planes) == 1:
        return planes
    return [planes[0], downsample(planes[1], 2, 2), downsample(planes[2], 2, 2)]


def _frame_of(planes: list[np.ndarray], height: int, width: int) -> np.ndarray:
    if len(planes) == 1:
        return planes[0][:height, :width].copy()
    y = planes[0].astype(np.int16)
    cb = upsample(planes[1].astype(np.int16), 2, 2)
    cr = upsample(planes[2].astype(np.int16), 2, 2)
    return ycbcr_to_rgb(np.stack([y, cb, cr], axis=-1)[:height, :width])


@register_video
class McDctCodec(VideoCodec):
    """I/P frames, half-pel block motion compensation, DCT residuals, adaptive range coding."""

    name = "mc-dct"
    description = "motion-compensated DCT video: I/P frames, half-pel MC, adaptive range coder"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(50, int, 1, 100, help="JPEG-scale quality 1-100 (higher = better)"),
        "gop": Parameter(12, int, 1, 10000, help="frames per group of pictures (I-frame period)"),
        "search": Parameter("diamond", str, choices=SEARCH_METHODS,
                            help="motion search: exhaustive 'full' or fast 'diamond'"),
        "search_range": Parameter(16, int, 1, 32, help="search window half-width, pixels"),
        "half_pel": Parameter(True, bool, help="refine vectors to half a pixel"),
    }
    settings = tuple({"quality": q} for q in (10, 20, 30, 45, 60, 75, 90))

    def __init__(self, **params):
        super().__init__(**params)
        self._c = dct_matrix(8)
        self._q_intra, self._q_inter = quantizer_tables(self.params["quality"])
        self._margin = self.params["search_range"] + 3
        self._max_vector = 2 * self.params["search_range"] + 1
        self._max_mvd = 2 * self._max_vector

    # -- encoder -----------------------------------------------------------------------------
    def encode_frames(self, frames: np.ndarray) -> list[tuple[str, bytes]]:
        return [(info.kind, payload) for info, payload in self.encode_verbose(frames)]

    def encode_verbose(self, frames: np.ndarray, log_symbols: bool = False):
        """Encode, returning ``[(FrameInfo, payload), ...]`` (info holds the reconstruction).

        With ``log_symbols`` each info also gets ``symbols``: the (context, symbol) pairs coded,
        for measuring what other entropy coders would spend on the same symbols.
        """
        p = self.params
        n_blocks = 6 if frames.ndim == 4 else 4
        results = []
        ref = None
        counts = totals = None
        for t, frame in enumerate(frames):
            planes = _planes_of(frame)
            intra = t % p["gop"] == 0
            if intra:
                counts, totals = symbols.new_models(self._max_mvd, n_blocks)
                vectors = np.zeros((planes[0].shape[0] // 16, planes[0].shape[1] // 16, 2),
                                   np.int32)
                sads = np.zeros(vectors.shape[:2], np.int64)
                ref = [np.zeros((1, 1), np.uint8)] * 3
            else:
                vectors, sads = motion_search(planes[0], ref[0], p["search_range"], p["search"],
                                              p["half_pel"])
                ref = [pad_reference(plane, self._margin) for plane in ref]
            info, payload = self._code_frame(planes, ref, vectors, sads, intra, n_blocks, counts,
                                             totals, log_symbols)
            results.append((info, payload))
            ref = info.planes
        return results

    def _code_frame(self, planes, ref, vectors, sads, intra, n_blocks, counts, totals, log):
        y = planes[0]
        cb, cr = (planes[1], planes[2]) if n_blocks == 6 else (np.zeros((1, 1), np.uint8),) * 2
        ref_y, ref_cb, ref_cr = (ref + [np.zeros((1, 1), np.uint8)] * 2)[:3]
        rows, cols = y.shape[0] // 16, y.shape[1] // 16
        rec = [np.empty_like(y), np.empty_like(cb), np.empty_like(cr)]
        modes = np.zeros((rows, cols), np.int8)
        mvs = np.zeros((rows, cols, 2), np.int32)
        state = symbols.new_encoder_state()
        capacity = 2 * (rows * cols * n_blocks * 64 * 17 + rows * cols * 8) + 64
        out = np.empty(capacity, np.uint8)
        log_array = np.zeros((capacity // 2 if log else 0, 2), np.int64)
        lam = LAMBDA_PER_STEP * self._q_inter[0]
        kernels.encode_frame(y, cb, cr, ref_y, ref_cb, ref_cr, self._margin, vectors, sads,
                             intra, n_blocks, self._q_intra, self._q_inter, ZIGZAG, self._c,
                             lam, INTER_ROUNDING, self._max_mvd, counts, totals, state, out,
                             log_array, rec[0], rec[1], rec[2], modes, mvs)
        status, n_bytes = symbols.finish_stream(state, out)
        if status != 0:
            raise RuntimeError(f"range coder failed with status {status} (a bug)")
        payload = out[1:n_bytes].tobytes()
        info = FrameInfo("I" if intra else "P", len(payload), modes, mvs,
                         rec[: 3 if n_blocks == 6 else 1])
        if log:
            info.symbols = log_array[: state[5]].copy()
        return info, payload

    def encode_with_reconstruction(self, frames) -> tuple[list[tuple[str, bytes]], np.ndarray]:
        """Payloads and the frames the encoder itself reconstructed (what the decoder must give)."""
        from .base import as_video

        frames = as_video(frames)
        results = self.encode_verbose(frames)
        height, width = frames.shape[1:3]
        recon = np.stack([_frame_of(info.planes, height, width) for info, _ in results])
        return [(info.kind, payload) for info, payload in results], recon

    # -- decoder -----------------------------------------------------------------------------
    def decode_frames(self, payloads, types, shape) -> np.ndarray:
        return self.decode_verbose(payloads, types, shape)[0]

    def decode_verbose(self, payloads, types, shape):
        """``(frames, [FrameInfo, ...])`` from consecutive payloads starting at an I-frame."""
        height, width = shape[1:3]
        n_blocks = 6 if len(shape) == 4 else 4
        rows, cols = -(-height // 16), -(-width // 16)
        out = np.empty(shape, np.uint8)
        infos = []
        ref = None
        counts = totals = None
        for t, (kind, payload) in enumerate(zip(types, payloads, strict=True)):
            intra = kind == "I"
            if intra:
                counts, totals = symbols.new_models(self._max_mvd, n_blocks)
                padded_ref = [np.zeros((1, 1), np.uint8)] * 3
            elif ref is None:
                raise BitstreamError(f"frame {t} is a P-frame with no frame before it")
            else:
                padded_ref = [pad_reference(plane, self._margin) for plane in ref]
                padded_ref += [np.zeros((1, 1), np.uint8)] * (3 - len(padded_ref))
            rec = [np.empty((rows * 16, cols * 16), np.uint8)]
            if n_blocks == 6:
                rec += [np.empty((rows * 8, cols * 8), np.uint8) for _ in range(2)]
            dummies = rec + [np.zeros((1, 1), np.uint8)] * (3 - len(rec))
            modes = np.zeros((rows, cols), np.int8)
            mvs = np.zeros((rows, cols, 2), np.int32)
            data = np.frombuffer(payload, dtype=np.uint8)
            state = symbols.new_decoder_state(data)
            status = kernels.decode_frame(
                data, padded_ref[0], padded_ref[1], padded_ref[2], self._margin, intra, n_blocks,
                self._q_intra, self._q_inter, ZIGZAG, self._c, self._max_mvd, self._max_vector,
                counts, totals, dummies[0], dummies[1], dummies[2], modes, mvs, state)
            if status == kernels.STATUS_BAD_SYNTAX:
                raise BitstreamError(f"frame {t}: corrupt macroblock data near byte {state[2]}")
            if status != 0:
                try:
                    raise_for_status(int(status), int(state[4]), int(state[2]), data.size)
                except BitstreamError as exc:
                    raise BitstreamError(f"frame {t}: {exc}") from None
                raise BitstreamError(f"frame {t}: corrupt stream (status {status})")
            out[t] = _frame_of(rec, height, width)
            infos.append(FrameInfo(kind, len(payload), modes, mvs, rec))
            ref = rec
        return out, infos
