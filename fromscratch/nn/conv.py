"""Convolutions by hand: im2col, one matrix product, and its transpose for the way back.

From multiplying to sliding
---------------------------
A fully connected layer gives every output its own weight for every pixel: hopeless for images
(a 256 x 256 RGB crop has 196,608 inputs). Fukushima's neocognitron (1980) and LeCun's networks
(1989) used two facts about pictures instead: what matters is *local* (a pixel relates to its
neighbours), and the same pattern can appear *anywhere*. So one small kernel of ``C x kh x kw``
weights slides over the image and is applied at every position, with a step (*stride*) ``s``
and a border of zeros (*padding*) ``p``::

    out[n, f, oh, ow] = b[f] + sum_{c, i, j} w[f, c, i, j] * x[n, c, oh*s + i - p, ow*s + j - p]

    x: (N, C, H, W)   w: (F, C, kh, kw)   b: (F,)   out: (N, F, Ho, Wo),
    Ho = (H + 2p - kh) // s + 1   (and the same for Wo)

(Deep-learning "convolution" does not flip the kernel: it is a cross-correlation, as in torch.)
Ballé et al.'s codecs (2016, 2017) stack 5 x 5 convolutions of stride 2: each one halves the
resolution, so four of them turn a 256 x 256 crop into a 16 x 16 grid of latent vectors.

im2col: a convolution is a matrix product
-----------------------------------------
Copy, for every output position, the ``K = C*kh*kw`` input values the kernel sees into one column
(:func:`~fromscratch.nn._conv_kernels.im2col`); the sum above becomes a product of matrices::

    cols = im2col(x)            (K, N*Ho*Wo)     column n*Ho*Wo + oh*Wo + ow = one patch
    W    = w.reshape(F, K)      (F, K)           one kernel per row
    out  = W @ cols + b         (F, N*Ho*Wo)  =  (N, F, Ho, Wo) after moving the image axis first

The copy costs memory (each pixel appears up to ``kh*kw / s^2`` times) but turns the work into
one large GEMM, which BLAS runs close to the machine's peak (Chellapilla et al. 2006; Caffe).

Backward: the same matrices, transposed
---------------------------------------
With the upstream gradient ``dout`` laid out the same way as ``dO`` (F, N*Ho*Wo)::

    dW    = dO @ cols.T         (F, K)         every patch times the gradient it produced
    db    = dO.sum(axis=1)      (F,)
    dcols = W.T @ dO            (K, N*Ho*Wo)   the gradient of every copied value
    dx    = col2im(dcols)       (N, C, H, W)

``col2im`` is the *adjoint* of ``im2col``: a pixel copied into several columns receives the sum
of their gradients (the chain rule for a value used many times). Done naively, one scattered
addition per entry, adding those overlaps back costs more than the GEMMs; the compiled kernels do
it row by row in contiguous runs (see :mod:`~fromscratch.nn._conv_kernels`).

Chunks: the columns should still be in the cache when the GEMM reads them
-------------------------------------------------------------------------
``cols`` holds ``C*kh*kw*N*Ho*Wo`` numbers, ``kh*kw/s^2`` times the input (6.25 times at 5 x 5,
stride 2: 105 MB for a batch of 8 x 128 x 64 x 64 in float32). Written whole, it goes out to
main memory and every GEMM streams it back; with 64 output channels each column value takes
part in only 64 multiply-adds, so that traffic is a large part of the time. Training therefore
runs the formulas above on *chunks* of the batch whose columns fit :data:`TRAINING_CHUNK_BYTES`
(8 MiB): as many whole images as fit, or one image in bands of output rows (the sums over a
chunk's positions add up, as ``dW`` and ``db`` do over the batch). Each chunk's columns are
written into one work array and read by the GEMMs while they are still in the cache. The
backward pass starts with the last chunk, whose columns the forward pass left in that array,
and builds the other chunks' columns again (an im2col costs less than reading a whole column
matrix back from memory). With one thread, this made forward + backward 5-23 % faster for
the Ballé layers whose whole-batch column matrix is 52-105 MB, and changed the ones with 13-26
MB (which fit the cache anyway) by less than the run-to-run spread (``benchmarks/README.md``,
chapter 4). The layer modules keep their work arrays from one training step to the next:
writing into freshly allocated memory page-faults every 4 KiB, which costs more than the copy
itself. Inference needs none of this: out of training mode the layers compute their output in
row bands of bounded memory (:mod:`~fromscratch.nn.conv_banded`), which is what lets a codec
take a 12-megapixel photo.

The transposed convolution is the backward pass of a convolution
----------------------------------------------------------------
A stride-2 convolution maps ``H`` to about ``H/2``; the synthesis transform needs the way back,
``H/2 -> H``. The linear map that does it is the *transpose* (adjoint) of a strided convolution
``A``: ``A^T`` spreads every input value over a ``kh x kw`` window of the larger output, stepping
by ``s`` (Zeiler et al. 2010; Dumoulin & Visin 2016). We already compute ``A^T`` - it is how the
backward pass maps ``dout`` to ``dx``. So, with ``w`` of shape ``(C_in, C_out, kh, kw)``
(torch's layout for ``ConvTranspose2d``), ``W = w.reshape(C_in, K)`` and ``K = C_out*kh*kw``::

    forward:   cols = W.T @ X           (K, N*H*W)     X = x as (C_in, N*H*W)
               out  = col2im(cols) + b  (N, C_out, Ho, Wo),  Ho = (H-1)s - 2p + kh + output_padding
    backward:  dcols = im2col(dout)     (K, N*H*W)
               dX = W @ dcols,  dW = X @ dcols.T,  db = dout.sum((0, 2, 3))

The roles of im2col and col2im swap, and the same two kernels serve both layers (in training,
chunk by chunk of input rows, as above).
``output_padding`` (< stride) adds rows and columns at the bottom and right: a stride-2
convolution maps both 2m and 2m - 1 pixels to m, and it picks which one the transpose returns.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ..backend import array_module, get_xp, make_rng
from ._conv_kernels import (
    batch_first,
    col2im,
    conv_output_size,
    im2col,
    prefix_view,
    scratch,
)
from .conv_banded import (
    BAND_BYTES,
    band_rows,
    conv2d_forward_banded,
    conv_transpose2d_forward_banded,
)
from .init import he_normal, xavier_uniform, zeros
from .module import Module, Parameter, is_grad_enabled

__all__ = [
    "Conv2d",
    "ConvTranspose2d",
    "conv2d_backward",
    "conv2d_forward",
    "conv_transpose2d_backward",
    "conv_transpose2d_forward",
]

#: Bytes of one chunk's column matrix in training. Measured on the Ballé layers (benchmarks/
#: conv_bench.py, one thread): 8 MiB beat 4, 16 and 32 MiB overall (a 64 x 64 input of 64
#: channels has 6.5 MB of columns at 5 x 5, stride 2).
TRAINING_CHUNK_BYTES = 8 * 2**20

#: ``init=`` choices, as for ``nn.Linear``: He-normal (ReLU/GDN nets) or Xavier-uniform.
_INIT = {"he": he_normal, "xavier": xavier_uniform}


def _pair(value, name: str, low: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, Integral) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < low for v in pair):
        raise ValueError(f"{name} must be an integer >= {low} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_input(x, w, kind: str):
    if x.ndim != 4:
        raise ValueError(f"{kind} takes a batch (N, C, H, W), got shape {tuple(x.shape)}")
    if w.ndim != 4:
        raise ValueError(f"{kind} weight must be 4-D, got shape {tuple(w.shape)}")
    if x.shape[1] != w.shape[1 if kind == "conv2d" else 0]:
        raise ValueError(f"{kind}: input has {x.shape[1]} channels, weight {tuple(w.shape)} "
                         f"expects {w.shape[1 if kind == 'conv2d' else 0]}")
    # the input follows the weights' dtype (float32 unless a gradient check asks for float64)
    return x.astype(w.dtype, copy=False)


# --- convolution ------------------------------------------------------------------------------


def _training_chunks(n_images: int, total_rows: int, bytes_per_row: int, xp):
    """``([(first, stop, top, bottom), ...], most)``: the chunks, images ``[first, stop)`` and
    their rows ``[top, bottom)``, and the most (images x rows) of any chunk.

    On the CPU a chunk's column matrix stays within :data:`TRAINING_CHUNK_BYTES`: as many whole
    images as fit, or one image in bands of rows if one alone does not. A GPU takes the batch.
    """
    per_image = bytes_per_row * total_rows
    if xp is not np:
        chunks = [(0, n_images, 0, total_rows)]
    elif per_image <= TRAINING_CHUNK_BYTES:
        images = _even(n_images, TRAINING_CHUNK_BYTES // per_image)
        chunks = [(first, min(first + images, n_images), 0, total_rows)
                  for first in range(0, n_images, images)]
    else:
        rows = _even(total_rows, band_rows(bytes_per_row, TRAINING_CHUNK_BYTES, total_rows))
        chunks = [(image, image + 1, top, min(top + rows, total_rows))
                  for image in range(n_images) for top in range(0, total_rows, rows)]
    most = max((stop - first) * (bottom - top) for first, stop, top, bottom in chunks)
    return chunks, most


def _even(total: int, most: int) -> int:
    """The size of the fewest equal parts of ``total``, each at most ``most`` (>= 1)."""
    parts = -(-total // max(1, most))
    return -(-total // parts)


def _channels_first_chunk(a, first, stop, band, buffer):
    """(N, C, P) rows ``band`` of images ``[first, stop)`` -> (C, images*len(band)), copied into
    the flat ``buffer``: the layout in which one GEMM covers the whole chunk."""
    images, c, width = stop - first, a.shape[1], band.stop - band.start
    chunk = prefix_view(buffer, (c, images, width))
    chunk[...] = a[first:stop, :, band].transpose(1, 0, 2)
    return chunk.reshape(c, images * width)


def _hold(cache, workspace, chunk, array) -> None:
    """Note in ``cache`` that ``array``, the work array of the forward pass's last ``chunk``, is
    still there for the backward pass (which starts with that chunk)."""
    cache["held"] = (chunk, array)
    if workspace is not None:  # shared with later calls: the array is good until one writes
        workspace["held"] = cache["held"]


def _take_held(cache, workspace):
    """``(chunk, array)`` noted by :func:`_hold`, or None if a later call with the same
    workspace has written over it (or a backward pass has used it up)."""
    held = cache.pop("held", None)
    if workspace is not None:
        if workspace.get("held") is not held:
            held = None
        workspace["held"] = None
    return held


def conv2d_forward(x, w, b, stride=1, padding=0, *, workspace=None,
                   band_bytes: int | None = None):
    """Cross-correlate a batch with ``F`` kernels (torch's ``conv2d``): im2col, then GEMMs.

    Parameters
    ----------
    x : array (N, C, H, W)
        Cast to ``w``'s dtype.
    w : array (F, C, kh, kw)
    b : array (F,) or None
    stride, padding : int or (int, int)
    workspace : dict, optional
        Work arrays reused between calls (:func:`~fromscratch.nn._conv_kernels.scratch`): the
        column matrix of one chunk of images.
    band_bytes : int, optional
        Inference on large images (:mod:`~fromscratch.nn.conv_banded`): bands of the whole
        batch's rows whose work arrays stay within this many bytes (``workspace`` is unused).

    Returns
    -------
    out : array (N, F, Ho, Wo), ``Ho = (H + 2*ph - kh) // sh + 1``
    cache : dict for :func:`conv2d_backward`
    """
    x = _check_input(x, w, "conv2d")
    xp = array_module(x)
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    out_size = (conv_output_size(h, kh, stride[0], padding[0]),
                conv_output_size(width, kw, stride[1], padding[1]))
    if min(out_size) < 1:
        raise ValueError(f"conv2d: kernel {kh}x{kw} does not fit input {h}x{width} padded by "
                         f"{padding}")
    cache = {"x": x, "w": w, "has_bias": b is not None, "stride": stride, "padding": padding,
             "out_shape": (n, f, *out_size), "workspace": workspace}
    if band_bytes is not None:
        return conv2d_forward_banded(x, w, b, stride, padding, out_size, band_bytes), cache
    k, out_w = c * kh * kw, out_size[1]
    weights = w.reshape(f, k)
    out = xp.empty((n, f, *out_size), dtype=x.dtype)
    chunks, most = _training_chunks(n, out_size[0], k * out_w * x.dtype.itemsize, xp)
    buffer = scratch(workspace, "cols", (k * most * out_w,), x.dtype, xp)
    product = scratch(workspace, "out", (f * most * out_w,), x.dtype, xp)
    for chunk in chunks:
        first, stop, top, bottom = chunk
        positions = (stop - first) * (bottom - top) * out_w
        cols = im2col(x[first:stop], (kh, kw), stride, padding, out_size, rows=(top, bottom),
                      out=prefix_view(buffer, (k, positions)))
        chunk_out = xp.matmul(weights, cols, out=prefix_view(product, (f, positions)))
        # into the NCHW output, bias added on the way
        batch_first(chunk_out, stop - first, bottom - top, out_w, bias=b,
                    out=out[first:stop, :, top:bottom])
    _hold(cache, workspace, chunk, cols)  # the backward pass starts with these columns
    return out, cache


def conv2d_backward(dout, cache):
    """Gradients of :func:`conv2d_forward`: ``(dx, dw, db)`` (``db`` is None without a bias).

    Chunk by chunk, as in the forward pass, last chunk first (its columns are still in the work
    array; the others' are built again): ``dw += dO @ cols.T`` (computed as its transpose
    ``cols @ dO.T``, the faster GEMM for these shapes) and ``dx += col2im(W.T @ dO)``, with
    ``dO`` the chunk's upstream gradient as (F, positions); ``db = dout.sum((0, 2, 3))``. See
    the module docstring.
    """
    x, w, stride, padding = cache["x"], cache["w"], cache["stride"], cache["padding"]
    out_shape, workspace = cache["out_shape"], cache["workspace"]
    xp = array_module(dout)
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    out_size = tuple(out_shape[2:])
    k, out_w = c * kh * kw, out_size[1]
    if tuple(dout.shape) != tuple(out_shape):
        raise ValueError(f"conv2d_backward: gradient shape {tuple(dout.shape)} does not match "
                         f"the output of the forward pass")
    dout_rows = dout.astype(w.dtype, copy=False).reshape(n, f, -1)  # (N, F, Ho*Wo)
    weights_t = w.reshape(f, k).T                                   # (K, F)
    chunks, most = _training_chunks(n, out_size[0], k * out_w * w.dtype.itemsize, xp)
    buffer = scratch(workspace, "cols", (k * most * out_w,), w.dtype, xp)
    held = _take_held(cache, workspace)  # the forward pass's last columns, if still there
    grad_buffer = scratch(workspace, "dout", (f * most * out_w,), w.dtype, xp)
    dw_t = xp.zeros((k, f), dtype=w.dtype)
    dw_chunk = scratch(workspace, "dw", (k, f), w.dtype, xp)
    dx = xp.zeros(x.shape, dtype=w.dtype)
    for chunk in reversed(chunks):
        first, stop, top, bottom = chunk
        band = slice(top * out_w, bottom * out_w)
        if held is not None and chunk == held[0]:
            cols = held[1]
        else:  # build the chunk's columns again
            cols = im2col(x[first:stop], (kh, kw), stride, padding, out_size,
                          rows=(top, bottom),
                          out=prefix_view(buffer, (k, (stop - first) * (band.stop - band.start))))
        grad = _channels_first_chunk(dout_rows, first, stop, band, grad_buffer)
        dw_t += xp.matmul(cols, grad.T, out=dw_chunk)               # (K, F)
        dcols = xp.matmul(weights_t, grad, out=cols)                # overwrites the columns
        col2im(dcols, dx[first:stop].shape, (kh, kw), stride, padding, out_size,
               rows=(top, bottom), out=dx[first:stop], add=True)
    db = dout_rows.sum(axis=(0, 2)) if cache["has_bias"] else None
    return dx, dw_t.T.reshape(w.shape), db


# --- transposed convolution ----------------------------------------------------------------------


def conv_transpose_output_size(size: int, kernel: int, stride: int, padding: int,
                               output_padding: int) -> int:
    """``(size - 1)*stride - 2*padding + kernel + output_padding`` (torch's formula)."""
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def conv_transpose2d_forward(x, w, b, stride=1, padding=0, output_padding=0, *,
                             workspace=None, band_bytes: int | None = None):
    """The adjoint of a strided convolution (torch's ``conv_transpose2d``): GEMM, then col2im.

    Parameters
    ----------
    x : array (N, C_in, H, W)
        Cast to ``w``'s dtype.
    w : array (C_in, C_out, kh, kw)
        torch's layout: the weight of the convolution ``C_out -> C_in`` that this layer transposes.
    b : array (C_out,) or None
    stride, padding, output_padding : int or (int, int)
        ``output_padding < stride`` extra rows/columns at the bottom/right of the output.
    workspace : dict, optional
        Work arrays reused between calls (:func:`~fromscratch.nn._conv_kernels.scratch`).
    band_bytes : int, optional
        Inference on large images (:mod:`~fromscratch.nn.conv_banded`): bands of the whole
        batch's input rows within this many bytes of work arrays.

    Returns
    -------
    out : array (N, C_out, Ho, Wo), ``Ho = (H - 1)*sh - 2*ph + kh + oph``
    cache : dict for :func:`conv_transpose2d_backward`
    """
    x = _check_input(x, w, "conv_transpose2d")
    xp = array_module(x)
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    output_padding = _pair(output_padding, "output_padding", 0)
    if output_padding[0] >= stride[0] or output_padding[1] >= stride[1]:
        raise ValueError(f"output_padding {output_padding} must be smaller than stride {stride}")
    n, c_in, h, width = x.shape
    _, c_out, kh, kw = w.shape
    image_shape = (n, c_out,
                   conv_transpose_output_size(h, kh, stride[0], padding[0], output_padding[0]),
                   conv_transpose_output_size(width, kw, stride[1], padding[1],
                                              output_padding[1]))
    if min(image_shape[2:]) < 1:
        raise ValueError(f"conv_transpose2d: padding {padding} removes the whole {h}x{width} "
                         f"output")
    cache = {"x": x, "w": w, "has_bias": b is not None, "stride": stride, "padding": padding,
             "out_shape": image_shape, "workspace": workspace}
    if band_bytes is not None:
        out = conv_transpose2d_forward_banded(x, w, b, stride, padding, image_shape, band_bytes)
        return out, cache
    k = c_out * kh * kw
    weights_t = w.reshape(c_in, k).T                                # (K, C_in)
    x_rows = x.reshape(n, c_in, h * width)                          # (N, C_in, H*W)
    chunks, most = _training_chunks(n, h, k * width * x.dtype.itemsize, xp)
    buffer = scratch(workspace, "cols", (k * most * width,), x.dtype, xp)
    x_buffer = scratch(workspace, "x", (c_in * most * width,), x.dtype, xp)
    out = xp.empty(image_shape, dtype=x.dtype)
    out[...] = 0 if b is None else b.reshape(1, c_out, 1, 1)       # the columns add onto it
    for chunk in chunks:
        first, stop, top, bottom = chunk
        band = slice(top * width, bottom * width)
        x_chunk = _channels_first_chunk(x_rows, first, stop, band, x_buffer)
        cols = xp.matmul(weights_t, x_chunk,                         # (K, positions)
                         out=prefix_view(buffer, (k, x_chunk.shape[1])))
        col2im(cols, out[first:stop].shape, (kh, kw), stride, padding, (h, width),
               rows=(top, bottom), out=out[first:stop], add=True)
    _hold(cache, workspace, chunk, x_chunk)  # the backward pass starts with this copy
    return out, cache


def conv_transpose2d_backward(dout, cache):
    """Gradients of :func:`conv_transpose2d_forward`: ``(dx, dw, db)`` (``db`` None without bias).

    Chunk by chunk of input rows, last chunk first (the forward pass's channels-first copy of
    its input is still in the work array): ``dcols = im2col(dout)``, ``dX = W @ dcols``,
    ``dW += X @ dcols.T`` (computed as ``dcols @ X.T``) - the forward pass of a convolution and
    its weight gradient, with the roles swapped; ``db = dout.sum((0, 2, 3))``.
    """
    x, w, stride, padding = cache["x"], cache["w"], cache["stride"], cache["padding"]
    out_shape, workspace = cache["out_shape"], cache["workspace"]
    xp = array_module(dout)
    n, c_in, h, width = x.shape
    _, c_out, kh, kw = w.shape
    k = c_out * kh * kw
    if tuple(dout.shape) != tuple(out_shape):
        raise ValueError(f"conv_transpose2d_backward: gradient shape {tuple(dout.shape)} does "
                         f"not match the output of the forward pass")
    dout = dout.astype(w.dtype, copy=False)
    weights = w.reshape(c_in, k)
    x_rows = x.reshape(n, c_in, h * width)
    chunks, most = _training_chunks(n, h, k * width * w.dtype.itemsize, xp)
    buffer = scratch(workspace, "cols", (k * most * width,), w.dtype, xp)
    x_buffer = scratch(workspace, "x", (c_in * most * width,), w.dtype, xp)
    dw_t = xp.zeros((k, c_in), dtype=w.dtype)
    dw_chunk = scratch(workspace, "dw", (k, c_in), w.dtype, xp)
    product = scratch(workspace, "dx", (c_in * most * width,), w.dtype, xp)
    dx = xp.empty(x.shape, dtype=w.dtype)
    held = _take_held(cache, workspace)  # the forward pass's last copy of x, if still there
    for chunk in reversed(chunks):
        first, stop, top, bottom = chunk
        band = slice(top * width, bottom * width)
        positions = (stop - first) * (band.stop - band.start)
        dcols = im2col(dout[first:stop], (kh, kw), stride, padding, (h, width),
                       rows=(top, bottom), out=prefix_view(buffer, (k, positions)))
        chunk_dx = xp.matmul(weights, dcols, out=prefix_view(product, (c_in, positions)))
        batch_first(chunk_dx, stop - first, bottom - top, width, out=dx[first:stop, :, top:bottom])
        if held is not None and chunk == held[0]:
            x_chunk = held[1]
        else:
            x_chunk = _channels_first_chunk(x_rows, first, stop, band, x_buffer)
        dw_t += xp.matmul(dcols, x_chunk.T, out=dw_chunk)           # (K, C_in)
    db = dout.sum(axis=(0, 2, 3)) if cache["has_bias"] else None
    return dx, dw_t.T.reshape(w.shape), db


# --- modules -------------------------------------------------------------------------------------


class _ConvBase(Module):
    """Shared parameter set-up of :class:`Conv2d` and :class:`ConvTranspose2d`."""

    def _init_parameters(self, weight_shape, bias_channels, bias, init, rng, dtype, xp):
        if init not in _INIT:
            raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
        xp = get_xp() if xp is None else xp
        # fans are read from the shape as (dim0, dim1, kh, kw), as torch does for both layers
        self.weight = Parameter(_INIT[init](weight_shape, make_rng(rng), dtype=dtype, xp=xp),
                                "weight")
        self.bias = Parameter(zeros((bias_channels,), dtype, xp), "bias") if bias else None
        self._cache = None
        self._workspace = {}  # scratch buffers reused from call to call (not parameters)

    def _scratch_space(self):
        # Training reuses the big work arrays from step to step; at inference (eval mode) they
        # are freed after each call, so a model applied to large images does not hold them.
        return self._workspace if self.training else None

    def _band_bytes(self):
        # Inference (eval mode, or no_grad) runs in row bands: memory bounded whatever the image
        # size. Training runs in cache-sized chunks and keeps what its backward pass needs.
        return BAND_BYTES if not self.training or not is_grad_enabled() else None

    def _accumulate(self, dw, db):
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db


class Conv2d(_ConvBase):
    """2-D convolution layer (torch's ``nn.Conv2d`` layout, names and output size).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride, padding : int or (int, int)
    bias : bool
        Learned bias, initialised to zero.
    init : {"he", "xavier"}
        He-normal or Xavier-uniform with ``fan_in = in*kh*kw`` (:mod:`fromscratch.nn.init`).
    rng : int, numpy.random.Generator or None
    dtype : str
        ``"float32"`` by default.
    xp : module, optional
        Array module of the parameters (default: the current backend).

    Attributes
    ----------
    weight : Parameter (out_channels, in_channels, kh, kw)
    bias : Parameter (out_channels,) or None

    In training mode the layer keeps its work arrays (one chunk's im2col matrix and the like,
    see the module docstring) between calls and reuses them (allocating megabytes afresh at
    every step costs more than filling them). In evaluation mode (or under
    :func:`~fromscratch.nn.no_grad`) it computes the output in row bands of bounded memory
    (:mod:`~fromscratch.nn.conv_banded`) and keeps no columns (the backward pass, if called
    anyway, rebuilds them): inference on a large image does not hold them in memory.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 bias: bool = True, init: str = "he", rng=None, dtype="float32", xp=None):
        kh, kw = _pair(kernel_size, "kernel_size", 1)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (kh, kw)
        self.stride, self.padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
        self._init_parameters((self.out_channels, self.in_channels, kh, kw), self.out_channels,
                              bias, init, rng, dtype, xp)

    def forward(self, x):
        b = None if self.bias is None else self.bias.data
        out, cache = conv2d_forward(x, self.weight.data, b, self.stride, self.padding,
                                    workspace=self._scratch_space(),
                                    band_bytes=self._band_bytes())
        self._cache = self._keep(cache)
        return out

    def backward(self, grad_out):
        dx, dw, db = conv2d_backward(grad_out, self._require_cache())
        self._accumulate(dw, db)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class ConvTranspose2d(_ConvBase):
    """Transposed 2-D convolution layer (torch's ``nn.ConvTranspose2d`` layout and output size).

    Parameters are those of :class:`Conv2d` plus ``output_padding`` (int or pair, < stride). The
    weight is ``(in_channels, out_channels, kh, kw)``, as in torch; He/Xavier fans are read from
    that shape as torch does (``fan_in = out_channels*kh*kw``).

    Output size: ``Ho = (H - 1)*stride - 2*padding + kh + output_padding``; with kernel 5,
    stride 2, padding 2 and output_padding 1 it exactly doubles ``H`` (Ballé's synthesis).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 output_padding=0, bias: bool = True, init: str = "he", rng=None,
                 dtype="float32", xp=None):
        kh, kw = _pair(kernel_size, "kernel_size", 1)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (kh, kw)
        self.stride, self.padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
        self.output_padding = _pair(output_padding, "output_padding", 0)
        if self.output_padding[0] >= self.stride[0] or self.output_padding[1] >= self.stride[1]:
            raise ValueError(f"output_padding {self.output_padding} must be smaller than stride "
                             f"{self.stride}")
        self._init_parameters((self.in_channels, self.out_channels, kh, kw), self.out_channels,
                              bias, init, rng, dtype, xp)

    def forward(self, x):
        b = None if self.bias is None else self.bias.data
        out, cache = conv_transpose2d_forward(x, self.weight.data, b, self.stride, self.padding,
                                              self.output_padding,
                                              workspace=self._scratch_space(),
                                              band_bytes=self._band_bytes())
        self._cache = self._keep(cache)
        return out

    def backward(self, grad_out):
        dx, dw, db = conv_transpose2d_backward(grad_out, self._require_cache())
        self._accumulate(dw, db)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding}, bias={self.bias is not None}")
