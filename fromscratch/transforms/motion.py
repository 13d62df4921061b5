"""Motion estimation and compensation: predict a frame by moving blocks of the previous one.

Successive video frames are nearly the same picture, shifted a little where the camera or the
objects moved. Coding the *frame difference* ``cur - prev`` (the conditional-replenishment idea of
the 1970s, H.120) works only where nothing moves: a shift of one pixel turns every edge into a
large difference. *Block motion compensation* (Jain & Jain 1981; H.261 1988; MPEG-1 1993) fixes
this. The current frame is cut into 16 x 16 *macroblocks*; for each, the encoder searches the
previous (decoded) frame for the 16 x 16 area that looks most like it, and sends the offset, the
*motion vector* ``(vy, vx)``, plus the remaining difference (the *residual*)::

    prediction[y, x] = ref[y + vy, x + vx]            (every pixel of the macroblock)
    residual         = cur - prediction                (small where the match is good)

"Looks most like" is the sum of absolute differences (SAD) over the block's 256 luma pixels,

.. math::

    \\mathrm{SAD}(v) = \\sum_{i,j} |\\mathrm{cur}[y+i, x+j] - \\mathrm{ref}[y+i+v_y, x+j+v_x]|,

minimised over the search window ``|vy|, |vx| <= search``.

Searches
--------
* **full** (exhaustive): every one of the ``(2 search + 1)**2`` offsets. Always finds the best
  integer vector; costs ~1000 SADs per macroblock at ``search=16``.
* **diamond** (Zhu & Ma, 2000): start at the better of (0, 0) and the left neighbour's vector,
  step the *large diamond* (8 points at distance 2) until its centre is the best, then check the
  *small diamond* (4 points at distance 1). Motion fields are smooth, so this finds the best
  vector, or a close one, with ~20-30 SADs instead of ~1000.

Both are then refined to **half-pel** precision: the 8 half-pixel positions around the integer
vector are tried, the reference being interpolated bilinearly with MPEG's rounding::

    a b      half-pel right   (a + b + 1) >> 1
    c d      half-pel down    (a + c + 1) >> 1
             diagonal         (a + b + c + d + 2) >> 2

Vectors are therefore stored in **half-pel units** ``(vy2, vx2) = (2 vy, 2 vx) + fraction``.
Chroma planes at half resolution (4:2:0) use the luma vector halved, truncated toward zero (as
MPEG-1 does), still in half-pel units of the chroma plane: :func:`chroma_vectors`.

Borders: the reference is padded by edge replication (:func:`pad_reference`), so a vector may
point partly outside the frame (H.263's "unrestricted motion vectors"): a camera pan brings in
picture content at the edge that no inside block matches.

Ties are broken by the order in which candidates are visited (strictly smaller SAD wins), the
same order in the readable NumPy functions here and in the Numba kernels of
``_motion_kernels``; the tests pin the two to the same vectors.
"""

from __future__ import annotations

import numpy as np

from . import _motion_kernels as kernels

__all__ = [
    "MACROBLOCK",
    "SEARCH_METHODS",
    "chroma_vectors",
    "compensate",
    "diamond_search",
    "full_search",
    "motion_search",
    "pad_reference",
    "predict_block",
    "refine_half_pel",
    "search_offsets",
]

MACROBLOCK = 16
SEARCH_METHODS = ("full", "diamond")
#: The large and small diamond patterns, in the order they are tried.
LARGE_DIAMOND = kernels.LARGE_DIAMOND
SMALL_DIAMOND = kernels.SMALL_DIAMOND
HALF_PEL_STEPS = kernels.HALF_PEL_STEPS


def pad_reference(ref: np.ndarray, margin: int) -> np.ndarray:
    """Edge-replicate a plane by ``margin`` pixels on every side (uint8, (H + 2m, W + 2m))."""
    return np.pad(np.asarray(ref, dtype=np.uint8), margin, mode="edge")


def search_offsets(search: int) -> np.ndarray:
    """All integer offsets ``|dy|, |dx| <= search`` as (n, 2) int32, nearest (L1) first.

    The full search visits them in this order and keeps a strictly smaller SAD, so among equally
    good vectors the shortest wins (cheapest to code, and (0, 0) first of all).
    """
    span = np.arange(-search, search + 1)
    dy, dx = np.meshgrid(span, span, indexing="ij")
    offsets = np.stack([dy.ravel(), dx.ravel()], axis=1)
    order = np.lexsort((offsets[:, 1], offsets[:, 0], np.abs(offsets).sum(axis=1)))
    return np.ascontiguousarray(offsets[order], dtype=np.int32)


def _check_planes(cur, ref, block):
    cur = np.asarray(cur)
    ref = np.asarray(ref)
    if cur.shape != ref.shape or cur.ndim != 2:
        raise ValueError(f"need two planes of the same shape, got {cur.shape} and {ref.shape}")
    if cur.shape[0] % block or cur.shape[1] % block:
        raise ValueError(f"plane {cur.shape} is not a multiple of the {block}-pixel block")
    return cur.astype(np.uint8, copy=False), ref.astype(np.uint8, copy=False)


def full_search(cur, ref, search: int, block: int = MACROBLOCK):
    """Exhaustive integer search, vectorised over all blocks at once (the NumPy twin).

    Parameters
    ----------
    cur, ref : uint8 arrays (H, W)
        Current plane and reference (previously decoded) plane; H, W multiples of ``block``.
    search : int
        Window half-width in pixels.

    Returns
    -------
    vectors : int32 (H/block, W/block, 2)
        Best integer ``(vy, vx)`` per block.
    sad : int64 (H/block, W/block)
        Its SAD.
    """
    cur, ref = _check_planes(cur, ref, block)
    rows, cols = cur.shape[0] // block, cur.shape[1] // block
    padded = pad_reference(ref, search).astype(np.int32)
    cur32 = cur.astype(np.int32)
    best = np.full((rows, cols), np.iinfo(np.int64).max, dtype=np.int64)
    vectors = np.zeros((rows, cols, 2), dtype=np.int32)
    height, width = cur.shape
    for dy, dx in search_offsets(search):
        shifted = padded[search + dy : search + dy + height, search + dx : search + dx + width]
        sad = np.abs(cur32 - shifted).reshape(rows, block, cols, block).sum(axis=(1, 3))
        better = sad < best
        best[better] = sad[better]
        vectors[better] = (dy, dx)
    return vectors, best


def _sad_at(cur, padded, margin, top, left, dy, dx, block):
    window = padded[margin + top + dy : margin + top + dy + block,
                    margin + left + dx : margin + left + dx + block]
    return int(np.abs(cur[top : top + block, left : left + block].astype(np.int32) - window).sum())


def diamond_search(cur, ref, search: int, block: int = MACROBLOCK):
    """Diamond search (large diamond until centred, then the small one), block by block.

    Readable twin of ``_motion_kernels.diamond_search_kernel``. Returns ``(vectors, sad)`` like
    :func:`full_search`; the vectors stay inside ``|vy|, |vx| <= search``.
    """
    cur, ref = _check_planes(cur, ref, block)
    rows, cols = cur.shape[0] // block, cur.shape[1] // block
    padded = pad_reference(ref, search).astype(np.int32)
    vectors = np.zeros((rows, cols, 2), dtype=np.int32)
    sads = np.zeros((rows, cols), dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            top, left = r * block, c * block
            by, bx = 0, 0
            best = _sad_at(cur, padded, search, top, left, 0, 0, block)
            if c > 0:  # the left neighbour's vector: motion fields are smooth
                py, px = vectors[r, c - 1]
                cost = _sad_at(cur, padded, search, top, left, py, px, block)
                if cost < best:
                    best, by, bx = cost, int(py), int(px)
            for pattern in (LARGE_DIAMOND, SMALL_DIAMOND):
                for _ in range(4 * search + 4):  # each move lowers the SAD, so this is a cap
                    cy, cx = by, bx
                    for dy, dx in pattern:
                        y, x = cy + dy, cx + dx
                        if abs(y) > search or abs(x) > search:
                            continue
                        cost = _sad_at(cur, padded, search, top, left, y, x, block)
                        if cost < best:
                            best, by, bx = cost, y, x
                    if (by, bx) == (cy, cx) or pattern is SMALL_DIAMOND:
                        break
            vectors[r, c] = (by, bx)
            sads[r, c] = best
    return vectors, sads


def predict_block(ref_padded, margin: int, top: int, left: int, vy2: int, vx2: int,
                  height: int, width: int) -> np.ndarray:
    """The (height, width) prediction at ``(top, left)`` moved by a half-pel vector, uint8.

    ``ref_padded`` is the reference padded by ``margin`` pixels (:func:`pad_reference`).
    """
    iy, fy = vy2 >> 1, vy2 & 1  # floor division and fraction (works for negative vectors too)
    ix, fx = vx2 >> 1, vx2 & 1
    y0, x0 = margin + top + iy, margin + left + ix
    ref = ref_padded.astype(np.int32)
    a = ref[y0 : y0 + height, x0 : x0 + width]
    b = ref[y0 : y0 + height, x0 + fx : x0 + fx + width]
    c = ref[y0 + fy : y0 + fy + height, x0 : x0 + width]
    d = ref[y0 + fy : y0 + fy + height, x0 + fx : x0 + fx + width]
    if fy and fx:
        return ((a + b + c + d + 2) >> 2).astype(np.uint8)
    if fy or fx:
        return ((a + d + 1) >> 1).astype(np.uint8)  # d is b or c: the one neighbour that moved
    return a.astype(np.uint8)


def refine_half_pel(cur, ref, vectors, search: int, block: int = MACROBLOCK):
    """Half-pel refinement: try the 8 half-pixel neighbours of each integer vector.

    Returns ``(vectors2, sad)``: int32 (rows, cols, 2) in half-pel units and their SADs.
    """
    cur, ref = _check_planes(cur, ref, block)
    margin = search + 2
    padded = pad_reference(ref, margin)
    rows, cols = vectors.shape[:2]
    out = np.zeros((rows, cols, 2), dtype=np.int32)
    sads = np.zeros((rows, cols), dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            top, left = r * block, c * block
            target = cur[top : top + block, left : left + block].astype(np.int32)
            by, bx = 2 * int(vectors[r, c, 0]), 2 * int(vectors[r, c, 1])
            cy, cx = by, bx
            best = np.abs(target - predict_block(padded, margin, top, left, by, bx, block, block)
                          ).sum()
            for dy, dx in HALF_PEL_STEPS:
                y, x = cy + dy, cx + dx
                pred = predict_block(padded, margin, top, left, y, x, block, block)
                cost = np.abs(target - pred).sum()
                if cost < best:
                    best, by, bx = cost, y, x
            out[r, c] = (by, bx)
            sads[r, c] = best
    return out, sads


def motion_search(cur, ref, search: int = 16, method: str = "diamond", half_pel: bool = True,
                  block: int = MACROBLOCK, use_numba: bool = True):
    """Motion vectors of every block of ``cur`` against ``ref``, in half-pel units.

    Parameters
    ----------
    cur, ref : uint8 (H, W)
        Luma planes, H and W multiples of ``block``.
    search : int
        Integer window half-width (1..64).
    method : {"full", "diamond"}
    half_pel : bool
        Refine to half-pel precision (else the vectors are even: integer positions).
    use_numba : bool
        ``False`` runs the readable NumPy functions (same vectors, much slower).

    Returns
    -------
    vectors : int32 (H/block, W/block, 2), half-pel units ``(vy2, vx2)``
    sad : int64 (H/block, W/block)
    """
    if method not in SEARCH_METHODS:
        raise ValueError(f"method must be one of {SEARCH_METHODS}, got {method!r}")
    if not 1 <= search <= 64:
        raise ValueError(f"search must be 1..64, got {search}")
    cur, ref = _check_planes(cur, ref, block)
    if not use_numba:
        search_fn = full_search if method == "full" else diamond_search
        vectors, sad = search_fn(cur, ref, search, block)
        if half_pel:
            return refine_half_pel(cur, ref, vectors, search, block)
        return 2 * vectors, sad
    margin = search + 2
    padded = pad_reference(ref, margin)
    rows, cols = cur.shape[0] // block, cur.shape[1] // block
    vectors = np.zeros((rows, cols, 2), dtype=np.int32)
    sad = np.zeros((rows, cols), dtype=np.int64)
    if method == "full":
        kernels.full_search_kernel(cur, padded, margin, search_offsets(search), block, vectors,
                                   sad)
    else:
        kernels.diamond_search_kernel(cur, padded, margin, search, block, vectors, sad)
    vectors *= 2
    if half_pel:
        kernels.refine_half_pel_kernel(cur, padded, margin, block, vectors, sad)
    return vectors, sad


def chroma_vectors(vectors2: np.ndarray) -> np.ndarray:
    """Chroma (4:2:0) vectors from luma half-pel vectors: halved, truncated toward zero."""
    vectors2 = np.asarray(vectors2, dtype=np.int32)
    return (np.sign(vectors2) * (np.abs(vectors2) // 2)).astype(np.int32)


def compensate(ref, vectors2, block: int = MACROBLOCK, use_numba: bool = True) -> np.ndarray:
    """The motion-compensated prediction of a whole plane: every block moved by its vector.

    Parameters
    ----------
    ref : uint8 (H, W)
        Reference plane, H and W multiples of ``block``.
    vectors2 : int (H/block, W/block, 2)
        Half-pel vectors (for chroma pass :func:`chroma_vectors` and ``block // 2``).
    """
    ref = np.asarray(ref, dtype=np.uint8)
    vectors2 = np.ascontiguousarray(vectors2, dtype=np.int32)
    rows, cols = ref.shape[0] // block, ref.shape[1] // block
    if vectors2.shape != (rows, cols, 2):
        raise ValueError(f"need ({rows}, {cols}, 2) vectors for this plane, got {vectors2.shape}")
    margin = int(np.abs(vectors2).max(initial=0)) // 2 + 2
    padded = pad_reference(ref, margin)
    out = np.empty_like(ref)
    if use_numba:
        kernels.compensate_kernel(padded, margin, vectors2, block, out)
        return out
    for r in range(rows):
        for c in range(cols):
            out[r * block : (r + 1) * block, c * block : (c + 1) * block] = predict_block(
                padded, margin, r * block, c * block, int(vectors2[r, c, 0]),
                int(vectors2[r, c, 1]), block, block)
    return out
