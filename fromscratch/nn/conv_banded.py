"""Convolutions at inference in bounded memory: the image in row bands, one small im2col at a time.

Why training's way does not scale
---------------------------------
:mod:`~fromscratch.nn.conv` turns a convolution into one GEMM by copying every input patch into a
column: ``kh*kw / s^2`` times the input (6.25 times at 5 x 5, stride 2). On training crops that
is tens of megabytes and buys BLAS speed. On a 12-megapixel photo the second layer of Ballé's
analysis sees 64 channels at 1504 x 2000 and its column matrix alone takes
``64*25 * 752*1000 * 4`` bytes = 4.8 GB; the transposed convolution of the synthesis has the same
problem in reverse. Training needs the whole matrix (the weight gradient is one product with all
of it); a forward pass never does.

Output rows depend on a few input rows only
-------------------------------------------
Output row ``oh`` of a convolution reads padded input rows ``oh*s .. oh*s + kh - 1``, so a band
of output rows ``[top, bottom)`` is the convolution, *without row padding*, of the input slab
``[top*s - p, (bottom - 1)*s + kh - p)`` (zero rows where the slab leaves the image)::

    for each band:   slab = input rows the band reads                (N, C, rows_in, W)
                     cols = im2col(slab, padding=(0, pw))            (K, N*rows*Wo)
                     out[:, :, top:bottom] = W @ cols + b

A transposed convolution is the same thought read backwards: input rows ``[top, bottom)`` spread
onto output rows ``top*s - p .. (bottom - 1)*s + kh - 1 - p``. Each band's ``col2im`` fills a
slab of that height, which is *added* onto the output: neighbouring bands overlap by
``kh - s`` rows, and a pixel there receives the sum of both, as in the whole-image ``col2im``.

The band height comes from a byte budget (:data:`BAND_BYTES`, 64 MiB): the work arrays of one
band never exceed it, whatever the image size, and bands of a few dozen rows still give BLAS
products large enough to run at full speed. Only the output is full size. The results equal the
whole-image path to float rounding (the sums are the same, grouped differently);
``tests/test_nn_conv_banded.py`` pins that on odd sizes, strides and paddings.
"""

from __future__ import annotations

from ..backend import array_module
from ._conv_kernels import batch_first, channels_first, col2im, im2col, prefix_view

__all__ = [
    "BAND_BYTES",
    "band_rows",
    "conv2d_band_plan",
    "conv2d_forward_banded",
    "conv_transpose2d_band_plan",
    "conv_transpose2d_forward_banded",
]

#: Work memory of one band (bytes): the band's column matrix and the small arrays around it.
BAND_BYTES = 64 * 2**20


def band_rows(bytes_per_row: int, band_bytes: int, total_rows: int) -> int:
    """Rows per band: as many as ``band_bytes`` allows, at least 1, at most ``total_rows``."""
    return max(1, min(total_rows, band_bytes // max(1, bytes_per_row)))


def input_rows(x, start: int, stop: int, out=None):
    """Rows ``[start, stop)`` of ``x`` (N, C, H, W), zeros where they fall outside the image.

    A view of ``x`` when the rows are inside it and no ``out`` (N, C, stop - start, W) is given
    to copy them into.
    """
    h = x.shape[2]
    if out is None and start >= 0 and stop <= h:
        return x[:, :, start:stop]
    if out is None:
        out = array_module(x).empty((*x.shape[:2], stop - start, x.shape[3]), dtype=x.dtype)
    first, last = max(start, 0), min(stop, h)
    out[:, :, :max(0, first - start)] = 0
    out[:, :, max(0, last - start):] = 0
    if first < last:
        out[:, :, first - start:last - start] = x[:, :, first:last]
    return out


def conv2d_band_plan(x_shape, w_shape, stride, out_size, itemsize: int,
                     band_bytes: int = BAND_BYTES) -> tuple[int, tuple[int, int, int]]:
    """Rows per band of :func:`conv2d_forward_banded` and the elements of its three work arrays
    (columns, GEMM result, input slab), from the shapes alone."""
    n, c, _, width = x_shape
    f, _, kh, kw = w_shape
    sh, (out_h, out_w) = stride[0], out_size
    k, positions_per_row = c * kh * kw, n * out_w
    # per output row: its columns, its GEMM result and the sh input rows it adds to the slab
    bytes_per_row = ((k + f) * positions_per_row + n * c * sh * width) * itemsize
    rows = band_rows(bytes_per_row, band_bytes, out_h)
    return rows, (k * rows * positions_per_row, f * rows * positions_per_row,
                  n * c * ((rows - 1) * sh + kh) * width)


def conv_transpose2d_band_plan(x_shape, w_shape, stride, out_shape, itemsize: int,
                               band_bytes: int = BAND_BYTES) -> tuple[int, tuple[int, int, int]]:
    """Rows per band of :func:`conv_transpose2d_forward_banded` and the elements of its work
    arrays (columns, output slab, the channels-first input rows: a copy only when N > 1)."""
    n, c_in, h, width = x_shape
    _, c_out, kh, kw = w_shape
    sh, out_w = stride[0], out_shape[3]
    k = c_out * kh * kw
    # per input row: its columns, its channels-first copy and the sh output rows it adds to
    bytes_per_row = (k * width + c_in * width + c_out * sh * out_w) * n * itemsize
    rows = band_rows(bytes_per_row, band_bytes, h)
    return rows, (k * rows * n * width, n * c_out * ((rows - 1) * sh + kh) * out_w,
                  c_in * rows * n * width if n > 1 else 0)


def conv2d_forward_banded(x, w, b, stride, padding, out_size, band_bytes: int = BAND_BYTES):
    """:func:`~fromscratch.nn.conv.conv2d_forward`'s output, computed a band of rows at a time.

    Parameters
    ----------
    x : array (N, C, H, W), already in ``w``'s dtype
    w : array (F, C, kh, kw)
    b : array (F,) or None
    stride, padding, out_size : (int, int) pairs, already checked (``out_size`` = (Ho, Wo))
    band_bytes : int
        Budget of one band's column matrix and GEMM result.

    Returns
    -------
    out : array (N, F, Ho, Wo)
    """
    xp = array_module(x)
    n, c, _, width = x.shape
    f, _, kh, kw = w.shape
    (sh, _), (ph, pw) = stride, padding
    out_h, out_w = out_size
    k = c * kh * kw
    positions_per_row = n * out_w
    rows, sizes = conv2d_band_plan(x.shape, w.shape, stride, out_size, x.dtype.itemsize,
                                   band_bytes)
    cols_buffer, out_buffer, slab_buffer = (xp.empty(size, dtype=x.dtype) for size in sizes)
    weights = w.reshape(f, k)
    out = xp.empty((n, f, out_h, out_w), dtype=x.dtype)
    for top in range(0, out_h, rows):
        bottom = min(top + rows, out_h)
        positions = (bottom - top) * positions_per_row
        slab_h = (bottom - top - 1) * sh + kh
        slab = input_rows(x, top * sh - ph, top * sh - ph + slab_h,
                          out=prefix_view(slab_buffer, (n, c, slab_h, width)))
        cols = im2col(slab, (kh, kw), stride, (0, pw), (bottom - top, out_w),
                      out=prefix_view(cols_buffer, (k, positions)))
        band = xp.matmul(weights, cols, out=prefix_view(out_buffer, (f, positions)))
        batch_first(band, n, bottom - top, out_w, bias=b, out=out[:, :, top:bottom])
    return out


def conv_transpose2d_forward_banded(x, w, b, stride, padding, out_shape,
                                    band_bytes: int = BAND_BYTES):
    """:func:`~fromscratch.nn.conv.conv_transpose2d_forward`'s output, a band of input rows at
    a time (each band's slab of output rows added onto the output).

    Parameters
    ----------
    x : array (N, C_in, H, W), already in ``w``'s dtype
    w : array (C_in, C_out, kh, kw)
    b : array (C_out,) or None
    stride, padding : (int, int) pairs, already checked
    out_shape : (N, C_out, Ho, Wo)
        The output shape, ``output_padding`` included.
    band_bytes : int
        Budget of one band's work arrays (columns, input rows, output slab).

    Returns
    -------
    out : array (N, C_out, Ho, Wo)
    """
    xp = array_module(x)
    n, c_in, h, width = x.shape
    _, c_out, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    out_h, out_w = out_shape[2:]
    k = c_out * kh * kw
    rows, sizes = conv_transpose2d_band_plan(x.shape, w.shape, stride, out_shape,
                                             x.dtype.itemsize, band_bytes)
    cols_buffer, slab_buffer = (xp.empty(size, dtype=x.dtype) for size in sizes[:2])
    weights_t = w.reshape(c_in, k).T
    out = xp.zeros(tuple(out_shape), dtype=x.dtype)
    for top in range(0, h, rows):
        bottom = min(top + rows, h)
        x_band = channels_first(x[:, :, top:bottom])               # (C_in, N*rows*W)
        cols = xp.matmul(weights_t, x_band,
                         out=prefix_view(cols_buffer, (k, x_band.shape[1])))
        slab_h = (bottom - top - 1) * sh + kh                      # output rows the band adds to
        slab = col2im(cols, (n, c_out, slab_h, out_w), (kh, kw), (sh, sw), (0, pw),
                      (bottom - top, width),
                      out=prefix_view(slab_buffer, (n, c_out, slab_h, out_w)))
        first = top * sh - ph                                      # output row of slab row 0
        lo, hi = max(first, 0), min(first + slab_h, out_h)
        if lo < hi:
            out[:, :, lo:hi] += slab[:, :, lo - first:hi - first]
    if b is not None:
        out += b.reshape(1, c_out, 1, 1)
    return out
