"""Chroma upsampling: bringing subsampled colour planes back to full size, as libjpeg does.

A 4:2:0 file stores Cb and Cr at half the width and half the height (sampling factors 1x1 against
luma's 2x2), 4:2:2 at half the width only (h2v1), 4:4:0 at half the height only (h1v2). Each
chroma sample stood for the *average* of the 2 or 4 pixels it covers, so its value belongs at the
centre of those pixels, half a pixel from each of them.

Replicating every sample into its 2 x 2 square ("box" upsampling) is the cheapest answer, and
what libjpeg does with ``do_fancy_upsampling = FALSE``. Its default, the one Pillow gets, is
**fancy upsampling**: a triangle (linear) filter that weighs the nearer chroma sample 3/4 and the
farther neighbour 1/4 along each halved axis, in integers with a fixed rounding (jdsample.c)::

    h2v1:  out[2i]   = (3 c[i] + c[i-1] + 1) >> 2      out[2i+1] = (3 c[i] + c[i+1] + 2) >> 2
    h1v2:  the same down the columns, biases 1 (row above) and 2 (row below)
    h2v2:  first down the columns, keeping the sums   s = 3 c[nearer row] + c[farther row],
           then across:  out[2j]   = (3 s[j] + s[j-1] + 8) >> 4
                         out[2j+1] = (3 s[j] + s[j+1] + 7) >> 4

so ``(3 * 3 + 3 * 1 + 1 * 3 + 1 * 1) / 16`` are the bilinear weights 9/16, 3/16, 3/16, 1/16. The
alternating biases (1 and 2, 8 and 7) round half the outputs up and half down, so the filter has
no drift. At the image's edges the missing neighbour is the edge sample itself (replication:
``3 c + c = 4 c`` reproduces ``c``), which is what libjpeg's special first/last columns compute
and what its context rows hold above the first and below the last row. Like libjpeg, a plane
only one or two samples wide is box-upsampled when it is halved horizontally (jdsample.c uses
the fancy h2v1/h2v2 filters only for ``downsampled_width > 2``).

All functions here are ``xp`` code (NumPy or CuPy): whole-plane shifts and adds in int16, since
``4 * (3 * 255 + 255) + 8 < 2**15``.
"""

from __future__ import annotations

from ...backend import array_module

__all__ = ["fancy_h1v2", "fancy_h2v1", "fancy_h2v2", "replicate", "upsample", "upsample_rows"]


def replicate(plane, h_factor: int, v_factor: int):
    """Box upsampling: every sample copied into a ``v_factor x h_factor`` square.

    ``plane`` (..., h, w) integers -> (..., h * v_factor, w * h_factor), same dtype.
    """
    xp = array_module(plane)
    return xp.repeat(xp.repeat(plane, v_factor, axis=-2), h_factor, axis=-1)


def _interleaved(xp, shape, axis: int):
    """An empty int16 array twice ``shape`` along ``axis`` (-2: rows, -1: columns), and the
    views of its even and odd rows/columns, for filters to write their two phases into."""
    if axis == -1:
        out = xp.empty((*shape, 2), dtype=xp.int16)
        return out.reshape(*shape[:-1], 2 * shape[-1]), out[..., 0], out[..., 1]
    out = xp.empty((*shape[:-1], 2, shape[-1]), dtype=xp.int16)
    return out.reshape(*shape[:-2], 2 * shape[-2], shape[-1]), out[..., 0, :], out[..., 1, :]


def _edge_padded(plane, rows: bool, cols: bool):
    """``plane`` (..., h, w) as int16 with its first/last row and/or column repeated outside.

    What ``xp.pad(plane, ..., mode="edge")`` does, written out because NumPy's ``pad`` costs
    ~15 us of Python per call, more than the arithmetic on a band of a few dozen rows.
    """
    xp = array_module(plane)
    *batch, height, width = plane.shape
    top, left = int(rows), int(cols)
    padded = xp.empty((*batch, height + 2 * top, width + 2 * left), dtype=xp.int16)
    padded[..., top : top + height, left : left + width] = plane
    if rows:
        padded[..., 0, left : left + width] = plane[..., 0, :]
        padded[..., -1, left : left + width] = plane[..., -1, :]
    if cols:
        padded[..., 0] = padded[..., 1]
        padded[..., -1] = padded[..., -2]
    return padded


def _weighted(xp, three_centre, neighbour, bias: int, shift: int, out) -> None:
    """``out = (three_centre + neighbour + bias) >> shift``: one phase of a triangle filter."""
    total = three_centre + neighbour
    total += bias
    xp.right_shift(total, shift, out=out)


def fancy_h2v1(plane):
    """libjpeg's h2v1 triangle filter: (..., h, w) samples -> (..., h, 2w) int16."""
    xp = array_module(plane)
    padded = _edge_padded(plane, rows=False, cols=True)
    three_centre = 3 * padded[..., 1:-1]
    out, left, right = _interleaved(xp, three_centre.shape, axis=-1)
    _weighted(xp, three_centre, padded[..., :-2], 1, 2, out=left)
    _weighted(xp, three_centre, padded[..., 2:], 2, 2, out=right)
    return out


def fancy_h1v2(plane):
    """libjpeg's h1v2 triangle filter: (..., h, w) samples -> (..., 2h, w) int16."""
    xp = array_module(plane)
    padded = _edge_padded(plane, rows=True, cols=False)
    three_centre = 3 * padded[..., 1:-1, :]
    out, upper, lower = _interleaved(xp, three_centre.shape, axis=-2)
    _weighted(xp, three_centre, padded[..., :-2, :], 1, 2, out=upper)
    _weighted(xp, three_centre, padded[..., 2:, :], 2, 2, out=lower)
    return out


def fancy_h2v2(plane):
    """libjpeg's h2v2 triangle filter: (..., h, w) samples -> (..., 2h, 2w) int16.

    Vertical first, keeping the unrounded column sums ``3 * nearer + farther`` (in 1/4 units),
    then horizontal on those sums with one rounding at the end (1/16 units).
    """
    xp = array_module(plane)
    padded = _edge_padded(plane, rows=True, cols=True)
    three_nearer = 3 * padded[..., 1:-1, :]  # (..., h, w + 2): still padded left and right
    sums, above, below = _interleaved(xp, three_nearer.shape, axis=-2)
    xp.add(three_nearer, padded[..., :-2, :], out=above)
    xp.add(three_nearer, padded[..., 2:, :], out=below)
    three_centre = 3 * sums[..., 1:-1]
    out, left, right = _interleaved(xp, three_centre.shape, axis=-1)
    _weighted(xp, three_centre, sums[..., :-2], 8, 4, out=left)
    _weighted(xp, three_centre, sums[..., 2:], 7, 4, out=right)
    return out


def upsample(plane, h_factor: int, v_factor: int, fancy: bool = True):
    """Bring a component plane to full resolution the way libjpeg-turbo does by default.

    Parameters
    ----------
    plane : array (..., h, w) of integers 0..255
        The component's samples, already cropped to its own size (``ceil(W * h / h_max)`` ...);
        leading axes (several components with the same factors) are processed alike.
    h_factor, v_factor : int, 1 or 2
        How much to enlarge: ``h_max / h`` and ``v_max / v``.
    fancy : bool, optional
        ``False`` replicates samples (libjpeg's ``do_fancy_upsampling = FALSE``).

    Returns
    -------
    array (..., h * v_factor, w * h_factor)
        int16 for the fancy filters, the input dtype when nothing or replication is done. The
        caller crops it to the image size.
    """
    if (h_factor, v_factor) == (1, 1):
        return plane
    if not fancy:
        return replicate(plane, h_factor, v_factor)
    if (h_factor, v_factor) == (1, 2):
        return fancy_h1v2(plane)
    if plane.shape[-1] <= 2:  # libjpeg: horizontal fancy filters need a sample on both sides
        return replicate(plane, h_factor, v_factor)
    if (h_factor, v_factor) == (2, 1):
        return fancy_h2v1(plane)
    if (h_factor, v_factor) == (2, 2):
        return fancy_h2v2(plane)
    raise ValueError(f"upsampling factors must be 1 or 2, got {h_factor} x {v_factor}")


def upsample_rows(plane, h_factor: int, v_factor: int, start: int, stop: int, fancy: bool = True):
    """Rows ``start * v_factor`` up to ``stop * v_factor`` of ``upsample(plane, ...)``.

    A band of the output needs only the band's input rows and one context row on each side
    (fewer at the plane's edges, where the filters replicate), so a decoder can upsample strip
    by strip, as libjpeg does with its "row groups", and keep its temporaries in cache.
    """
    low, high = max(start - 1, 0), min(stop + 1, plane.shape[-2])
    band = upsample(plane[..., low:high, :], h_factor, v_factor, fancy)
    skip = (start - low) * v_factor
    return band[..., skip : skip + (stop - start) * v_factor, :]
