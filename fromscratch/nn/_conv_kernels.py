"""im2col and col2im: the two data movements behind every convolution, compiled and in NumPy.

A convolution is a matrix product once every input patch is laid out as a column
(:mod:`fromscratch.nn.conv` explains why). This module does the laying out, in both directions:

``im2col``  (N, C, H, W) images  ->  (C*kh*kw, N*Ho*Wo) columns
    Row ``(c*kh + i)*kw + j`` of the result holds, for every image ``n`` and output position
    ``(oh, ow)``, the input pixel the kernel tap ``(c, i, j)`` sees there:
    ``x[n, c, oh*sh + i - ph, ow*sw + j - pw]`` (zero where that falls in the padding).
    Columns run over ``n`` first, then ``oh``, ``ow``: column ``n*Ho*Wo + oh*Wo + ow``.

``col2im``  (C*kh*kw, N*Ho*Wo) columns  ->  (N, C, H, W) images, *adding* overlaps
    The adjoint (transpose) of ``im2col``: every column entry is added back onto the pixel it
    was copied from. Pixels seen by several taps receive the sum of their contributions, which is
    exactly the chain rule for a copied value. Padding positions are dropped.

Both also work on a *band* of output rows ``rows = (top, bottom)``: the columns of those rows
only, (C*kh*kw, N*(bottom - top)*Wo) in the same order, and their adjoint (``add=True`` adds
onto the images instead of overwriting them). Training cuts a large batch into such chunks so
that each one's columns are still in the cache when the GEMM reads them
(:mod:`fromscratch.nn.conv`), and inference on large images computes band by band
(:mod:`fromscratch.nn.conv_banded`).

Output sizes always satisfy ``Ho = (H + 2*ph - kh) // sh + 1`` (and the same for ``W``); the
callers check it, because compiled code has no bounds checks.

Two implementations of each, pinned to equal results by ``tests/test_nn_conv.py``:

* the *twins* :func:`im2col_reference` / :func:`col2im_reference`: one strided slice per kernel
  offset ``(i, j)``, ``kh*kw`` slice copies (or additions) of the whole batch. Readable, and they
  run on NumPy or CuPy alike (the GPU path uses them);
* the Numba kernels :func:`im2col_kernel` / :func:`col2im_kernel` for NumPy. A strided gather
  (``x[..., ow*2 + j]``) does not vectorise, so the kernels first split each padded input row into
  its ``sw`` *phases* (columns ``r, r + sw, r + 2*sw, ...``): in a phase, the pixels a tap reads
  for consecutive ``ow`` are consecutive, and each row of columns becomes a contiguous copy (or
  addition) that LLVM turns into SIMD code. This doubles the speed at stride 2. ``im2col_kernel``
  goes one step further and splits each padded (image, channel) plane once into its ``sh*sw``
  2-D phases (:func:`_split_phases`, about the size of the plane, so it stays in L1): every
  input row is then split once instead of once per kernel row that reads it, and each tap
  ``(i, j)`` writes its ``Ho x Wo`` block of a column row front to back, from phase
  ``(i % sh, j % sw)`` shifted by ``(i // sh, j // sw)`` (1.2-2x faster than splitting row by
  row). ``col2im_kernel`` works one image row at a time: it sums into a row's ``sw`` phases
  every tap of every (kernel row, output row) pair that lands on it (2-3 pairs at 5 x 5, stride
  2), then adds the phases onto the row once (11-21 % faster than a pass per kernel row, which
  zeroed and scattered each row 2-3 times; summing the taps into whole-plane phases measured no
  faster). Its loops carry no bounds test, the range of each phase's columns that land inside
  the image being worked out first (20 % faster than testing every column).

Four small helpers at the end serve the GEMMs around these copies: :func:`channels_first`
(N, C, H, W) -> (C, N*H*W) and :func:`batch_first` back, so that a map over channels is one GEMM
for the whole batch, :func:`scratch` (work arrays a layer reuses from call to call) and
:func:`prefix_view` (a smaller array in the front of such a work array).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..backend import array_module

__all__ = [
    "batch_first",
    "channels_first",
    "col2im",
    "col2im_kernel",
    "col2im_reference",
    "conv_output_size",
    "im2col",
    "im2col_kernel",
    "im2col_reference",
    "scratch",
]


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Positions of a ``kernel``-wide window along ``size`` pixels: ``(size + 2p - k) // s + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


# --- the readable twins (NumPy or CuPy) ---------------------------------------------------------


def _rows(rows, out_h: int) -> tuple[int, int]:
    """``rows`` as (top, bottom), all ``out_h`` output rows when None."""
    return (0, out_h) if rows is None else (int(rows[0]), int(rows[1]))


def im2col_reference(x, kernel, stride, padding, out_size, rows=None):
    """Twin of :func:`im2col_kernel`: one strided slice of the padded batch per kernel offset.

    Parameters
    ----------
    x : array (N, C, H, W)
    kernel, stride, padding, out_size : (int, int) pairs
        ``(kh, kw)``, ``(sh, sw)``, ``(ph, pw)`` and ``(Ho, Wo)``.
    rows : (int, int), optional
        Only output rows ``[top, bottom)``: the columns of those rows, in the same order.

    Returns
    -------
    cols : array (C*kh*kw, N*R*Wo), dtype of ``x`` (``R = bottom - top``, default ``Ho``)
    """
    xp = array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (out_h, out_w) = kernel, stride, padding, out_size
    padded = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    cols = xp.empty((c, kh, kw, n, out_h, out_w), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # tap (i, j) sees padded rows i, i + sh, ..., and columns j, j + sw, ...
            window = padded[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    top, bottom = _rows(rows, out_h)
    return cols[:, :, :, :, top:bottom].reshape(c * kh * kw, n * (bottom - top) * out_w)


def col2im_reference(cols, image_shape, kernel, stride, padding, out_size, rows=None):
    """Twin of :func:`col2im_kernel`: add each kernel offset's slice back, then crop the padding.

    Parameters
    ----------
    cols : array (C*kh*kw, N*R*Wo)
        The columns of output rows ``rows = (top, bottom)`` (``R = bottom - top``; all
        ``Ho`` rows by default).
    image_shape : (N, C, H, W)
        The shape of the images the columns were (or would be) taken from.

    Returns
    -------
    images : array (N, C, H, W), dtype of ``cols``
    """
    xp = array_module(cols)
    n, c, h, w = image_shape
    (kh, kw), (sh, sw), (ph, pw), (out_h, out_w) = kernel, stride, padding, out_size
    top, bottom = _rows(rows, out_h)
    # the columns of the other rows are zero: they add nothing
    taps = xp.zeros((c, kh, kw, n, out_h, out_w), dtype=cols.dtype)
    taps[:, :, :, :, top:bottom] = cols.reshape(c, kh, kw, n, bottom - top, out_w)
    # big enough for every slice even when the last rows of the image are never read
    padded_h = max(h + 2 * ph, (out_h - 1) * sh + kh)
    padded_w = max(w + 2 * pw, (out_w - 1) * sw + kw)
    padded = xp.zeros((n, c, padded_h, padded_w), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += taps[:, i, j].transpose(
                1, 0, 2, 3
            )
    return padded[:, :, ph:ph + h, pw:pw + w].copy()


# --- the compiled kernels (NumPy only) -----------------------------------------------------------


@njit(cache=True)
def _split_phases(plane, sh, sw, ph, pw, phases):  # pragma: no cover - compiled
    """``phases[rh, rw, a, b] = padded plane[a*sh + rh, b*sw + rw]`` (zero in the padding)."""
    height, width = plane.shape
    for rh in range(sh):
        for a in range(phases.shape[2]):
            y = a * sh + rh - ph
            for rw in range(sw):
                target = phases[rh, rw, a]
                if y < 0 or y >= height:
                    target[:] = 0
                    continue
                source = plane[y]
                for b in range(phases.shape[3]):
                    col = b * sw + rw - pw
                    target[b] = source[col] if 0 <= col < width else 0


@njit(cache=True)
def im2col_kernel(x, kh, kw, sh, sw, ph, pw, top, bottom, out_w,
                  cols):  # pragma: no cover - compiled
    """Fill ``cols`` (C*kh*kw, N*R*Wo) with the columns of output rows ``[top, bottom)`` of
    every image of ``x`` (N, C, H, W), ``R = bottom - top``; see the module docstring."""
    n_images, channels = x.shape[:2]
    rows = bottom - top
    n_positions = rows * out_w
    # the phases of the padded rows the band reads: tap (i, j) at output (oh, ow) reads padded
    # pixel (oh*sh + i, ow*sw + j) = phase (i % sh, j % sw), position (oh - top + i//sh,
    # ow + j//sw) (phase row 0 starts at padded row top*sh)
    phases = np.empty((sh, sw, rows + (kh - 1) // sh, out_w + (kw - 1) // sw), dtype=x.dtype)
    for n in range(n_images):
        start = n * n_positions
        for c in range(channels):
            _split_phases(x[n, c], sh, sw, ph - top * sh, pw, phases)
            for i in range(kh):
                for j in range(kw):
                    source = phases[i % sh, j % sw]
                    di, dj = i // sh, j // sw
                    # one (R, Wo) block of a row of ``cols``, written front to back
                    target = cols[(c * kh + i) * kw + j, start:start + n_positions]
                    for oh in range(rows):
                        row = source[oh + di]
                        for ow in range(out_w):
                            target[oh * out_w + ow] = row[dj + ow]


@njit(cache=True)
def col2im_kernel(cols, kh, kw, sh, sw, ph, pw, top, bottom, out_w,
                  x):  # pragma: no cover - compiled
    """Add ``cols`` (C*kh*kw, N*R*Wo), the columns of output rows ``[top, bottom)``, back onto
    ``x`` (N, C, H, W) (``+=``); see the module docstring."""
    n_images, channels, height, width = x.shape
    n_positions = (bottom - top) * out_w
    phase_len = out_w + (kw - 1) // sw + 1
    phases = np.zeros((sw, phase_len), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for y in range(height):
                # the output rows oh of the band whose kernel row i = y + ph - oh*sh reads row y
                first = max(top, -((kh - 1 - y - ph) // sh))
                last = min(bottom - 1, (y + ph) // sh)
                if first > last:  # (a row only the padding sees, or outside the band)
                    continue
                phases[:] = 0
                for oh in range(first, last + 1):
                    i = y + ph - oh * sh
                    start = n * n_positions + (oh - top) * out_w
                    # gather the kw taps of this kernel row in phase order: contiguous additions
                    for j in range(kw):
                        phase = phases[j % sw]
                        shift = j // sw
                        source = cols[(c * kh + i) * kw + j, start:start + out_w]
                        for ow in range(out_w):
                            phase[shift + ow] += source[ow]
                # add phase r back onto columns k*sw + r - pw, for the k inside the image
                # (bounds worked out once per phase: no test in the loop)
                target = x[n, c, y]
                for r in range(sw):
                    lo = max(0, (pw - r + sw - 1) // sw)
                    hi = min(phase_len, (width - 1 + pw - r) // sw + 1)
                    phase = phases[r]
                    for k in range(lo, hi):
                        target[k * sw + r - pw] += phase[k]


# --- validated dispatch --------------------------------------------------------------------------


def _check_geometry(image_shape, kernel, stride, padding, out_size, rows=None) -> None:
    h, w = image_shape[2:]
    for name, pair, low in (("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0)):
        if len(pair) != 2 or min(pair) < low:
            raise ValueError(f"{name} must be two integers >= {low}, got {pair}")
    expected = (conv_output_size(h, kernel[0], stride[0], padding[0]),
                conv_output_size(w, kernel[1], stride[1], padding[1]))
    if tuple(out_size) != expected or min(expected) < 1:
        raise ValueError(f"output size {tuple(out_size)} does not fit images {h}x{w} with kernel "
                         f"{kernel}, stride {stride}, padding {padding} (expected {expected})")
    if rows is not None and not 0 <= rows[0] < rows[1] <= expected[0]:
        raise ValueError(f"rows {tuple(rows)} are not a band of the {expected[0]} output rows")


def im2col(x, kernel, stride, padding, out_size, use_numba: bool = True, out=None, rows=None):
    """Columns (C*kh*kw, N*Ho*Wo) of the batch ``x`` (N, C, H, W): the kernel on NumPy arrays
    (``use_numba``), the twin otherwise (and always on CuPy).

    ``out``, a C-contiguous array of that shape and ``x``'s dtype and backend, receives the
    columns instead of a new array (layers reuse one buffer from call to call: a fresh buffer of
    tens of megabytes costs a page fault per 4 KiB the first time it is written, more than the
    copy itself). ``rows = (top, bottom)`` gives only the columns of those output rows,
    (C*kh*kw, N*(bottom - top)*Wo), in the same order.
    """
    _check_geometry(x.shape, kernel, stride, padding, out_size, rows)
    n, c = x.shape[:2]
    top, bottom = _rows(rows, out_size[0])
    shape = (c * kernel[0] * kernel[1], n * (bottom - top) * out_size[1])
    if out is not None and (tuple(out.shape) != shape or out.dtype != x.dtype
                            or array_module(out) is not array_module(x)
                            or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous {x.dtype} array of shape {shape}")
    if not use_numba or array_module(x) is not np:
        cols = im2col_reference(x, kernel, stride, padding, out_size, rows)
        if out is None:
            return cols
        out[...] = cols
        return out
    cols = np.empty(shape, dtype=x.dtype) if out is None else out
    im2col_kernel(np.ascontiguousarray(x), *kernel, *stride, *padding, top, bottom,
                  out_size[1], cols)
    return cols


def col2im(cols, image_shape, kernel, stride, padding, out_size, use_numba: bool = True,
           out=None, rows=None, add: bool = False):
    """Images (N, C, H, W) with the columns ``cols`` (C*kh*kw, N*Ho*Wo) added back: the adjoint
    of :func:`im2col`. Kernel on NumPy arrays (``use_numba``), the twin otherwise.

    ``out``, a C-contiguous array of ``image_shape`` and ``cols``' dtype and backend, receives
    the images (overwritten, or added to with ``add``) instead of a new array. ``rows = (top,
    bottom)``: the columns are those of output rows ``[top, bottom)`` only, (C*kh*kw,
    N*(bottom - top)*Wo), as :func:`im2col` gives them.
    """
    image_shape = tuple(int(s) for s in image_shape)
    _check_geometry(image_shape, kernel, stride, padding, out_size, rows)
    n, c = image_shape[:2]
    top, bottom = _rows(rows, out_size[0])
    expected = (c * kernel[0] * kernel[1], n * (bottom - top) * out_size[1])
    if tuple(cols.shape) != expected:
        raise ValueError(f"columns have shape {tuple(cols.shape)}, expected {expected}")
    if out is not None and (tuple(out.shape) != image_shape or out.dtype != cols.dtype
                            or array_module(out) is not array_module(cols)
                            or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous {cols.dtype} array of shape {image_shape}")
    if add and out is None:
        raise ValueError("add=True adds onto out: give out")
    if not use_numba or array_module(cols) is not np:
        images = col2im_reference(cols, image_shape, kernel, stride, padding, out_size, rows)
        if out is None:
            return images
        if add:
            out += images
        else:
            out[...] = images
        return out
    if out is None:
        images = np.zeros(image_shape, dtype=cols.dtype)
    else:
        images = out
        if not add:
            images[...] = 0
    col2im_kernel(np.ascontiguousarray(cols), *kernel, *stride, *padding, top, bottom,
                  out_size[1], images)
    return images


# --- layouts and work arrays for the GEMMs -------------------------------------------------------


def channels_first(a, out=None):
    """(N, C, H, W) -> (C, N*H*W), the layout in which a map over channels is one GEMM."""
    n, c, h, w = a.shape
    view = a.transpose(1, 0, 2, 3)
    if out is None:
        return view.reshape(c, n * h * w)
    out.reshape(c, n, h, w)[...] = view
    return out


def batch_first(a, n: int, h: int, w: int, bias=None, out=None):
    """(C, N*H*W) -> (N, C, H, W), contiguous (a new array unless ``out``), with ``bias`` (C,)
    added in the same pass: the way back from :func:`channels_first`."""
    xp = array_module(a)
    c = a.shape[0]
    view = a.reshape(c, n, h, w).transpose(1, 0, 2, 3)
    out = xp.empty((n, c, h, w), dtype=a.dtype) if out is None else out
    if bias is None:
        out[...] = view
    else:
        xp.add(view, bias.reshape(1, c, 1, 1), out=out)
    return out


def scratch(workspace, name: str, shape, dtype, xp):
    """A work array ``workspace[name]``, reused while its shape, dtype and backend still fit.

    Layers pass their own dict, so a large im2col matrix is allocated once, not at every call
    (first writes to fresh memory page-fault every 4 KiB, which costs more than the copy itself).
    Without a workspace (``None``) every call allocates.
    """
    shape = tuple(shape)
    buffer = None if workspace is None else workspace.get(name)
    if (buffer is None or tuple(buffer.shape) != shape or buffer.dtype != dtype
            or array_module(buffer) is not xp):
        buffer = xp.empty(shape, dtype=dtype)
        if workspace is not None:
            workspace[name] = buffer
    return buffer


def prefix_view(buffer, shape):
    """A C-contiguous ``shape`` view of the first elements of a flat ``buffer``: every band or
    chunk reuses one work array (fresh memory costs a page fault per 4 KiB), the last, shorter
    one a prefix of it."""
    return buffer[:math.prod(shape)].reshape(shape)
