"""Numba kernels of ``motion``: block SAD search and half-pel compensation, compiled.

Each kernel does what its readable twin in ``motion`` does, visiting candidates in the same order
and keeping a strictly smaller SAD, so both return the same vectors (pinned by the tests). The
reference is always pre-padded by ``margin`` pixels, and callers guarantee every vector stays
within ``margin - 1`` pixels: no bounds checks exist in compiled code.

``predict_block_into`` and ``sad_half_pel`` are per-block helpers the video codec's own kernels
call (the decoder's compensation must be exactly the encoder's).
"""

from __future__ import annotations

import numba
import numpy as np

#: (dy, dx) of the large diamond (distance 2) and the small diamond (distance 1).
LARGE_DIAMOND = np.array([[-2, 0], [-1, -1], [-1, 1], [0, -2], [0, 2], [1, -1], [1, 1], [2, 0]],
                         dtype=np.int32)
SMALL_DIAMOND = np.array([[-1, 0], [0, -1], [0, 1], [1, 0]], dtype=np.int32)
#: A SAD no block reaches (the bound of an unbounded SAD).
NO_BOUND = 1 << 62
#: The 8 half-pel neighbours (half-pel units), in the order tried.
HALF_PEL_STEPS = np.array([[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]],
                          dtype=np.int32)


@numba.njit(cache=True, inline="always")
def sad_integer(cur, padded, margin, top, left, dy, dx, block, bound=NO_BOUND):
    """SAD of the block at (top, left) against the reference moved by an integer vector.

    Stops early once the partial sum reaches ``bound`` (the best SAD so far): such a candidate
    cannot win, so the search's result is unchanged ("partial distortion elimination").
    """
    total = 0
    y0 = margin + top + dy
    x0 = margin + left + dx
    for i in range(block):
        for j in range(block):
            diff = np.int32(cur[top + i, left + j]) - np.int32(padded[y0 + i, x0 + j])
            total += diff if diff >= 0 else -diff
        if total >= bound:
            return total
    return total


@numba.njit(cache=True, inline="always")
def half_pel_sample(padded, y, x, fy, fx):
    """One bilinear half-pel sample with MPEG's rounding; (y, x) is the integer corner."""
    a = np.int32(padded[y, x])
    if fy == 0 and fx == 0:
        return a
    if fy == 0:
        return (a + np.int32(padded[y, x + 1]) + 1) >> 1
    if fx == 0:
        return (a + np.int32(padded[y + 1, x]) + 1) >> 1
    return (a + np.int32(padded[y, x + 1]) + np.int32(padded[y + 1, x])
            + np.int32(padded[y + 1, x + 1]) + 2) >> 2


@numba.njit(cache=True)
def sad_half_pel(cur, padded, margin, top, left, vy2, vx2, height, width):
    """SAD of the (height, width) block at (top, left) against a half-pel prediction."""
    y0 = margin + top + (vy2 >> 1)
    x0 = margin + left + (vx2 >> 1)
    fy = vy2 & 1
    fx = vx2 & 1
    total = 0
    for i in range(height):
        for j in range(width):
            diff = np.int32(cur[top + i, left + j]) - half_pel_sample(padded, y0 + i, x0 + j, fy,
                                                                       fx)
            total += diff if diff >= 0 else -diff
    return total


@numba.njit(cache=True)
def best_candidate(cur, padded, margin, top, left, block, candidates, cy, cx, limit, half_pel,
                   best, by, bx):
    """Try ``(cy, cx) + candidates[k]`` in order (skipping vectors beyond ``limit``); keep a
    strictly smaller SAD. Returns the new ``(best, by, bx)``. The one loop of every search."""
    for k in range(candidates.shape[0]):
        y = cy + candidates[k, 0]
        x = cx + candidates[k, 1]
        if abs(y) > limit or abs(x) > limit:
            continue
        if half_pel:
            cost = sad_half_pel(cur, padded, margin, top, left, y, x, block, block)
        else:
            cost = sad_integer(cur, padded, margin, top, left, y, x, block, best)
        if cost < best:
            best = cost
            by = y
            bx = x
    return best, by, bx


@numba.njit(cache=True)
def full_search_kernel(cur, padded, margin, offsets, block, vectors, sads):
    """Exhaustive search over ``offsets`` (nearest first) for every block, in place."""
    for r in range(cur.shape[0] // block):
        for c in range(cur.shape[1] // block):
            best, by, bx = best_candidate(cur, padded, margin, r * block, c * block, block,
                                          offsets, 0, 0, margin, False, NO_BOUND, 0, 0)
            vectors[r, c, 0] = by
            vectors[r, c, 1] = bx
            sads[r, c] = best


@numba.njit(cache=True)
def diamond_search_kernel(cur, padded, margin, search, block, vectors, sads):
    """Diamond search for every block (twin of ``motion.diamond_search``), in place."""
    for r in range(cur.shape[0] // block):
        for c in range(cur.shape[1] // block):
            top = r * block
            left = c * block
            by = 0
            bx = 0
            best = sad_integer(cur, padded, margin, top, left, 0, 0, block)
            if c > 0:  # the left neighbour's vector
                start = vectors[r, c - 1 : c, :]
                best, by, bx = best_candidate(cur, padded, margin, top, left, block, start, 0, 0,
                                              search, False, best, by, bx)
            for _ in range(4 * search + 4):  # large diamond until its centre is the best
                cy = by
                cx = bx
                best, by, bx = best_candidate(cur, padded, margin, top, left, block,
                                              LARGE_DIAMOND, cy, cx, search, False, best, by, bx)
                if by == cy and bx == cx:
                    break
            best, by, bx = best_candidate(cur, padded, margin, top, left, block, SMALL_DIAMOND,
                                          by, bx, search, False, best, by, bx)
            vectors[r, c, 0] = by
            vectors[r, c, 1] = bx
            sads[r, c] = best


@numba.njit(cache=True)
def refine_half_pel_kernel(cur, padded, margin, block, vectors, sads):
    """Replace each even (integer) vector by the best of it and its 8 half-pel neighbours."""
    for r in range(cur.shape[0] // block):
        for c in range(cur.shape[1] // block):
            top = r * block
            left = c * block
            cy = vectors[r, c, 0]
            cx = vectors[r, c, 1]
            best = sad_half_pel(cur, padded, margin, top, left, cy, cx, block, block)
            best, by, bx = best_candidate(cur, padded, margin, top, left, block, HALF_PEL_STEPS,
                                          cy, cx, 2 * margin, True, best, cy, cx)
            vectors[r, c, 0] = by
            vectors[r, c, 1] = bx
            sads[r, c] = best


@numba.njit(cache=True)
def predict_block_into(padded, margin, top, left, vy2, vx2, height, width, out, out_top,
                       out_left):
    """Write the half-pel prediction of one block into ``out[out_top:, out_left:]``."""
    y0 = margin + top + (vy2 >> 1)
    x0 = margin + left + (vx2 >> 1)
    fy = vy2 & 1
    fx = vx2 & 1
    for i in range(height):
        for j in range(width):
            out[out_top + i, out_left + j] = half_pel_sample(padded, y0 + i, x0 + j, fy, fx)


@numba.njit(cache=True)
def compensate_kernel(padded, margin, vectors2, block, out):
    """Whole-plane prediction (twin of ``motion.compensate``)."""
    for r in range(vectors2.shape[0]):
        for c in range(vectors2.shape[1]):
            predict_block_into(padded, margin, r * block, c * block, vectors2[r, c, 0],
                               vectors2[r, c, 1], block, block, out, r * block, c * block)
