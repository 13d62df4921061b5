"""Numba kernels of ``mc_dct``: one call codes (or decodes) a whole frame, macroblock by macroblock.

The encoder and decoder share every step that touches pixels: :func:`predict_macroblock` (motion
compensation, from ``transforms._motion_kernels``) and :func:`reconstruct_block` (dequantize,
inverse DCT, add the prediction, round, clip). The encoder therefore holds exactly the frame the
decoder will rebuild, and predicts the next frame from it: the closed loop that keeps encoder
and decoder from drifting apart.

Plane layout: ``Y`` is (16 R, 16 C) for R x C macroblocks; ``Cb``, ``Cr`` are (8 R, 8 C) (4:2:0).
Gray video passes 1 x 1 dummies for the chroma planes and ``n_blocks = 4``. References are padded
by ``margin`` pixels (edge replication) and vectors are bounded so that every read stays inside.

Macroblock types: 0 skip (predicted vector, no residual), 1 inter, 2 intra.
"""

from __future__ import annotations

import numba
import numpy as np

from fromscratch.codecs.video.symbols import (
    BAND_OF_POSITION,
    CTX_AC,
    CTX_CBP,
    CTX_DC,
    CTX_MB_TYPE,
    CTX_MVD,
    N_ACTIVITY,
    N_BANDS,
    get_magnitude,
    get_symbol,
    put_magnitude,
    put_symbol,
    size_category,
)
from fromscratch.transforms._motion_kernels import predict_block_into, sad_half_pel

SKIP, INTER, INTRA = 0, 1, 2
STATUS_BAD_SYNTAX = 10  # a decoded value the syntax does not allow (run past 63, vector too long)


@numba.njit(cache=True)
def _sandwich(left, block, right, out):
    """out = left @ block @ right for 8 x 8 float64 matrices: the 2-D DCT is ``C B C^T``, its
    inverse ``C^T Y C``."""
    tmp = np.empty((8, 8))
    for i in range(8):
        for j in range(8):
            s = 0.0
            for k in range(8):
                s += left[i, k] * block[k, j]
            tmp[i, j] = s
    for i in range(8):
        for j in range(8):
            s = 0.0
            for k in range(8):
                s += tmp[i, k] * right[k, j]
            out[i, j] = s


@numba.njit(cache=True)
def block_origin(k, r, c):
    """(plane index 0/1/2, top, left) of block ``k`` (0-3 luma, 4 Cb, 5 Cr) of macroblock (r, c)."""
    if k < 4:
        return 0, r * 16 + (k // 2) * 8, c * 16 + (k % 2) * 8
    return k - 3, r * 8, c * 8


@numba.njit(cache=True)
def load_block(y, cb, cr, k, r, c, offset, pred, out):
    """Block ``k`` of macroblock (r, c) as float, minus ``pred`` (inter) or minus ``offset``."""
    plane, top, left = block_origin(k, r, c)
    src = y if plane == 0 else (cb if plane == 1 else cr)
    for i in range(8):
        for j in range(8):
            out[i, j] = float(src[top + i, left + j]) - (offset if offset else float(pred[i, j]))


@numba.njit(cache=True)
def block_activity(nnz, k, r, c):
    """Context of block ``k`` of macroblock (r, c) from the non-zero counts of its left and
    above neighbours (coded earlier in this frame), in buckets of doubling width."""
    plane = 0 if k < 4 else k - 3
    by = 2 * r + k // 2 if k < 4 else r
    bx = 2 * c + k % 2 if k < 4 else c
    if by > 0 and bx > 0:
        n = (nnz[plane, by - 1, bx] + nnz[plane, by, bx - 1] + 1) >> 1
    elif by > 0:
        n = nnz[plane, by - 1, bx]
    elif bx > 0:
        n = nnz[plane, by, bx - 1]
    else:
        return 0
    return min(size_category(n), N_ACTIVITY - 1)  # 0; 1; 2-3; 4+ (for 4 levels)


@numba.njit(cache=True)
def record_activity(nnz, k, r, c, levels, coded):
    """Store the non-zero count of block ``k`` (0 if it was not coded) for later contexts."""
    n = 0
    if coded:
        for i in range(64):
            n += levels[i] != 0
    if k < 4:
        nnz[0, 2 * r + k // 2, 2 * c + k % 2] = n
    else:
        nnz[k - 3, r, c] = n


@numba.njit(cache=True)
def macroblock_contexts(modes, mb_cbp, r, c, intra_frame):
    """(mb_type context, cbp context) from the left and above macroblocks of this frame."""
    left_type = modes[r, c - 1] if c > 0 else (INTRA if intra_frame else SKIP)
    above_type = modes[r - 1, c] if r > 0 else (INTRA if intra_frame else SKIP)
    coded = 0
    if c > 0 and mb_cbp[r, c - 1] != 0:
        coded += 1
    if r > 0 and mb_cbp[r - 1, c] != 0:
        coded += 1
    return CTX_MB_TYPE + 3 * left_type + above_type, CTX_CBP + coded


@numba.njit(cache=True)
def dc_context(k, previous_size):
    """Context of a DC size: luma or chroma, and the previous difference's size (3 buckets)."""
    bucket = 0 if previous_size <= 1 else (1 if previous_size <= 3 else 2)
    return CTX_DC + 3 * (0 if k < 4 else 1) + bucket


@numba.njit(cache=True)
def predict_macroblock(ref_y, ref_cb, ref_cr, margin, r, c, vy2, vx2, n_blocks, pred):
    """Motion-compensated prediction of all blocks of a macroblock into ``pred`` (6, 8, 8)."""
    for k in range(4):
        predict_block_into(ref_y, margin, r * 16 + (k // 2) * 8, c * 16 + (k % 2) * 8, vy2, vx2,
                           8, 8, pred[k], 0, 0)
    if n_blocks == 6:
        # chroma vector: the luma one halved, truncated toward zero (MPEG-1)
        cy = vy2 // 2 if vy2 >= 0 else -((-vy2) // 2)
        cx = vx2 // 2 if vx2 >= 0 else -((-vx2) // 2)
        predict_block_into(ref_cb, margin, r * 8, c * 8, cy, cx, 8, 8, pred[4], 0, 0)
        predict_block_into(ref_cr, margin, r * 8, c * 8, cy, cx, 8, 8, pred[5], 0, 0)


@numba.njit(cache=True)
def reconstruct_block(levels, qtable, zigzag, c, pred, intra, plane, top, left):
    """Dequantize zig-zag ``levels``, inverse DCT, add the prediction (or 128), round and clip.

    The one function both encoder and decoder use to rebuild a block.
    """
    coef = np.zeros((8, 8))
    for k in range(64):
        if levels[k] != 0:
            pos = zigzag[k]
            coef[pos // 8, pos % 8] = levels[k] * qtable[pos]
    pixels = np.empty((8, 8))
    _sandwich(c.T, coef, c, pixels)
    for i in range(8):
        for j in range(8):
            base = 128.0 if intra else float(pred[i, j])
            v = np.floor(base + pixels[i, j] + 0.5)
            plane[top + i, left + j] = 0 if v < 0 else (255 if v > 255 else np.uint8(v))


@numba.njit(cache=True)
def _quantize(block, qtable, zigzag, c, rounding, levels):
    """DCT of ``block`` (8 x 8 float), divide by the table, round toward zero with an offset."""
    coef = np.empty((8, 8))
    _sandwich(c, block, c.T, coef)
    nonzero = 0
    for k in range(64):
        pos = zigzag[k]
        v = coef[pos // 8, pos % 8] / qtable[pos]
        q = int(np.floor(abs(v) + rounding))
        if q > 32767:
            q = 32767
        levels[k] = -q if v < 0 else q
        nonzero += q != 0
    return nonzero


@numba.njit(cache=True)
def _mv_bits(d):
    """Rough bits of one vector-difference component (for the mode decision only)."""
    d = d if d >= 0 else -d
    bits = 1
    while d:
        bits += 2
        d >>= 1
    return bits


@numba.njit(cache=True)
def _put_block(state, out, counts, totals, levels, start, cls, activity, log):
    """Run/size coding of zig-zag ``levels[start:]`` with the models of block class ``cls``."""
    base = CTX_AC + N_BANDS * (N_ACTIVITY * cls + activity)
    pos = start
    for k in range(start, 64):
        v = levels[k]
        if v == 0:
            continue
        run = k - pos
        while run >= 16:
            put_symbol(state, out, counts, totals, base + BAND_OF_POSITION[pos],
                       0xF0, log)
            pos += 16
            run -= 16
        size = size_category(v)
        put_symbol(state, out, counts, totals, base + BAND_OF_POSITION[pos],
                   run * 16 + size, log)
        put_magnitude(state, out, counts, totals, v, size, log)
        pos = k + 1
    if pos < 64:
        put_symbol(state, out, counts, totals, base + BAND_OF_POSITION[pos], 0,
                   log)


@numba.njit(cache=True)
def _get_block(state, data, counts, totals, levels, start, cls, activity):
    """Mirror of :func:`_put_block`; False on a syntax error (status in ``state[3]``)."""
    base = CTX_AC + N_BANDS * (N_ACTIVITY * cls + activity)
    for k in range(start, 64):
        levels[k] = 0
    pos = start
    while pos < 64:
        context = base + BAND_OF_POSITION[pos]
        sym = get_symbol(state, data, counts, totals, context)
        if sym <= 0:
            return sym == 0  # end of block, or a decoding error
        run = sym >> 4
        size = sym & 15
        if size == 0:
            if run != 15 or pos + 16 > 63:
                state[3] = STATUS_BAD_SYNTAX
                return False
            pos += 16
            continue
        pos += run
        if pos > 63:
            state[3] = STATUS_BAD_SYNTAX
            return False
        levels[pos] = get_magnitude(state, data, counts, totals, size)
        if state[3] != 0:
            return False
        pos += 1
    return True


@numba.njit(cache=True)
def encode_frame(y, cb, cr, ref_y, ref_cb, ref_cr, margin, vectors, sads, intra_frame,
                 n_blocks, q_intra, q_inter, zigzag, c, lam, inter_rounding, max_mvd,
                 counts, totals, state, out, log, rec_y, rec_cb, rec_cr, modes, mvs):
    """Code one frame into ``out`` (range coder ``state``); rebuild it into ``rec_*``.

    ``vectors``/``sads`` come from the motion search (ignored for an I-frame); ``modes`` and
    ``mvs`` receive each macroblock's type and half-pel vector. ``q_intra`` is (2, 64) (luma,
    chroma) and ``q_inter`` (64,), raster order.
    """
    rows = y.shape[0] // 16
    cols = y.shape[1] // 16
    pred = np.zeros((6, 8, 8), dtype=np.int32)
    levels = np.zeros((6, 64), dtype=np.int64)
    block = np.empty((8, 8))
    nnz = np.zeros((3, 2 * rows, 2 * cols), dtype=np.int64)
    mb_cbp = np.zeros((rows, cols), dtype=np.int64)
    for r in range(rows):
        pvy = 0
        pvx = 0
        dc_pred = np.zeros(3, dtype=np.int64)
        dc_size = np.zeros(3, dtype=np.int64)
        for col in range(cols):
            top = r * 16
            left = col * 16
            mb_type = INTRA
            vy = 0
            vx = 0
            cbp = 0
            if not intra_frame:
                # inter: the searched vector, or the predicted one if it is as good for its bits
                cost_search = sads[r, col] + lam * (_mv_bits(vectors[r, col, 0] - pvy)
                                                    + _mv_bits(vectors[r, col, 1] - pvx))
                cost_pred = sad_half_pel(y, ref_y, margin, top, left, pvy, pvx, 16, 16) + 2 * lam
                if cost_pred <= cost_search:
                    vy, vx, cost_inter = pvy, pvx, cost_pred
                else:
                    vy, vx, cost_inter = vectors[r, col, 0], vectors[r, col, 1], cost_search
                # intra: how far the pixels stray from their mean (what intra coding must pay)
                mean = 0
                for i in range(16):
                    for j in range(16):
                        mean += y[top + i, left + j]
                mean = (mean + 128) // 256
                deviation = 0
                for i in range(16):
                    for j in range(16):
                        d = int(y[top + i, left + j]) - mean
                        deviation += d if d >= 0 else -d
                if deviation + 8 * lam < cost_inter:
                    mb_type = INTRA
                    vy = 0
                    vx = 0
                else:
                    mb_type = INTER
            if mb_type == INTER:
                predict_macroblock(ref_y, ref_cb, ref_cr, margin, r, col, vy, vx, n_blocks, pred)
                for k in range(n_blocks):
                    load_block(y, cb, cr, k, r, col, 0.0, pred[k], block)
                    if _quantize(block, q_inter, zigzag, c, inter_rounding, levels[k]):
                        cbp |= 1 << k
                if cbp == 0 and vy == pvy and vx == pvx:
                    mb_type = SKIP
            else:
                for k in range(n_blocks):
                    load_block(y, cb, cr, k, r, col, 128.0, pred[k], block)
                    _quantize(block, q_intra[0 if k < 4 else 1], zigzag, c, 0.5, levels[k])
            # --- symbols
            type_ctx, cbp_ctx = macroblock_contexts(modes, mb_cbp, r, col, intra_frame)
            if not intra_frame:
                put_symbol(state, out, counts, totals, type_ctx, mb_type, log)
            if mb_type == INTER:
                put_symbol(state, out, counts, totals, CTX_MVD, vy - pvy + max_mvd, log)
                put_symbol(state, out, counts, totals, CTX_MVD + 1, vx - pvx + max_mvd, log)
                put_symbol(state, out, counts, totals, cbp_ctx, cbp, log)
                for k in range(n_blocks):
                    coded = cbp & (1 << k) != 0
                    if coded:
                        _put_block(state, out, counts, totals, levels[k], 0,
                                   2 + (0 if k < 4 else 1), block_activity(nnz, k, r, col), log)
                    record_activity(nnz, k, r, col, levels[k], coded)
            elif mb_type == INTRA:
                for k in range(n_blocks):
                    comp = 0 if k < 4 else k - 3
                    diff = levels[k, 0] - dc_pred[comp]
                    dc_pred[comp] = levels[k, 0]
                    size = size_category(diff)
                    put_symbol(state, out, counts, totals, dc_context(k, dc_size[comp]), size, log)
                    dc_size[comp] = size
                    if size:
                        put_magnitude(state, out, counts, totals, diff, size, log)
                    _put_block(state, out, counts, totals, levels[k], 1, 0 if k < 4 else 1,
                               block_activity(nnz, k, r, col), log)
                    record_activity(nnz, k, r, col, levels[k], True)
            else:
                for k in range(n_blocks):
                    record_activity(nnz, k, r, col, levels[k], False)
            # --- reconstruction, exactly as the decoder does it
            _rebuild_macroblock(r, col, mb_type, vy, vx, cbp, levels, n_blocks, ref_y, ref_cb,
                                ref_cr, margin, q_intra, q_inter, zigzag, c, pred, rec_y,
                                rec_cb, rec_cr)
            _store_macroblock(r, col, mb_type, cbp, vy, vx, modes, mb_cbp, mvs, dc_pred, dc_size)
            pvy = vy
            pvx = vx
    return state[4]


@numba.njit(cache=True)
def _store_macroblock(r, col, mb_type, cbp, vy, vx, modes, mb_cbp, mvs, dc_pred, dc_size):
    """Remember what the next macroblocks' contexts and predictions need."""
    if mb_type != INTRA:  # DC prediction restarts after a non-intra macroblock (as in MPEG-1)
        dc_pred[:] = 0
        dc_size[:] = 0
    modes[r, col] = mb_type
    mb_cbp[r, col] = 63 if mb_type == INTRA else cbp
    mvs[r, col, 0] = vy
    mvs[r, col, 1] = vx


@numba.njit(cache=True)
def _rebuild_macroblock(r, col, mb_type, vy, vx, cbp, levels, n_blocks, ref_y, ref_cb, ref_cr,
                        margin, q_intra, q_inter, zigzag, c, pred, rec_y, rec_cb, rec_cr):
    if mb_type != INTRA:
        predict_macroblock(ref_y, ref_cb, ref_cr, margin, r, col, vy, vx, n_blocks, pred)
    for k in range(n_blocks):
        plane, bt, bl = block_origin(k, r, col)
        target = rec_y if plane == 0 else (rec_cb if plane == 1 else rec_cr)
        if mb_type == INTRA:
            reconstruct_block(levels[k], q_intra[0 if k < 4 else 1], zigzag, c, pred[k], True,
                              target, bt, bl)
        elif cbp & (1 << k):
            reconstruct_block(levels[k], q_inter, zigzag, c, pred[k], False, target, bt, bl)
        else:
            for i in range(8):
                for j in range(8):
                    target[bt + i, bl + j] = pred[k, i, j]


@numba.njit(cache=True)
def decode_frame(data, ref_y, ref_cb, ref_cr, margin, intra_frame, n_blocks, q_intra, q_inter,
                 zigzag, c, max_mvd, max_vector, counts, totals, rec_y, rec_cb, rec_cr, modes,
                 mvs, state):
    """Mirror of :func:`encode_frame`: decode one frame's stream into ``rec_*``.

    Returns a status (0 = fine) and leaves the symbol count and byte position in ``state``.
    """
    rows = rec_y.shape[0] // 16
    cols = rec_y.shape[1] // 16
    pred = np.zeros((6, 8, 8), dtype=np.int32)
    levels = np.zeros((6, 64), dtype=np.int64)
    nnz = np.zeros((3, 2 * rows, 2 * cols), dtype=np.int64)
    mb_cbp = np.zeros((rows, cols), dtype=np.int64)
    for r in range(rows):
        pvy = 0
        pvx = 0
        dc_pred = np.zeros(3, dtype=np.int64)
        dc_size = np.zeros(3, dtype=np.int64)
        for col in range(cols):
            mb_type = INTRA
            vy = pvy
            vx = pvx
            cbp = 0
            type_ctx, cbp_ctx = macroblock_contexts(modes, mb_cbp, r, col, intra_frame)
            if not intra_frame:
                mb_type = get_symbol(state, data, counts, totals, type_ctx)
            if mb_type == INTER:
                dy = get_symbol(state, data, counts, totals, CTX_MVD)
                dx = get_symbol(state, data, counts, totals, CTX_MVD + 1)
                cbp = get_symbol(state, data, counts, totals, cbp_ctx)
                if state[3] != 0:
                    return state[3]
                vy = pvy + dy - max_mvd
                vx = pvx + dx - max_mvd
                if abs(vy) > max_vector or abs(vx) > max_vector:
                    return STATUS_BAD_SYNTAX
                for k in range(n_blocks):
                    coded = cbp & (1 << k) != 0
                    if coded and not _get_block(state, data, counts, totals, levels[k], 0,
                                                2 + (0 if k < 4 else 1),
                                                block_activity(nnz, k, r, col)):
                        return state[3]
                    record_activity(nnz, k, r, col, levels[k], coded)
            elif mb_type == INTRA:
                vy = 0
                vx = 0
                for k in range(n_blocks):
                    comp = 0 if k < 4 else k - 3
                    size = get_symbol(state, data, counts, totals, dc_context(k, dc_size[comp]))
                    dc_size[comp] = size
                    diff = 0
                    if size > 0:
                        diff = get_magnitude(state, data, counts, totals, size)
                    if state[3] != 0:
                        return state[3]
                    dc_pred[comp] += diff
                    levels[k, 0] = dc_pred[comp]
                    if not _get_block(state, data, counts, totals, levels[k], 1,
                                      0 if k < 4 else 1, block_activity(nnz, k, r, col)):
                        return state[3]
                    record_activity(nnz, k, r, col, levels[k], True)
            elif mb_type == SKIP:
                for k in range(n_blocks):
                    record_activity(nnz, k, r, col, levels[k], False)
            else:
                return state[3]
            _rebuild_macroblock(r, col, mb_type, vy, vx, cbp, levels, n_blocks, ref_y, ref_cb,
                                ref_cr, margin, q_intra, q_inter, zigzag, c, pred, rec_y,
                                rec_cb, rec_cr)
            _store_macroblock(r, col, mb_type, cbp, vy, vx, modes, mb_cbp, mvs, dc_pred, dc_size)
            pvy = vy
            pvx = vx
    return 0
