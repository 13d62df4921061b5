"""How much memory inference will take, computed from the shapes before anything is allocated.

A codec handed a 50-megapixel photo should say so and stop, not be killed by the operating system
half-way through. Under :func:`~fromscratch.nn.no_grad` the memory a network holds is easy to
bound from the layer shapes alone, because nothing is cached: while layer ``i`` runs, the memory
in use is its input, its output and its work arrays, and everything before it is gone::

    peak = max over layers i of  bytes(input_i) + bytes(output_i) + work_i

* convolutions and transposed convolutions run in row bands (:mod:`~fromscratch.nn.conv_banded`),
  so ``work_i`` is the band's work arrays, about :data:`~fromscratch.nn.conv_banded.BAND_BYTES`
  (the band plan gives their exact sizes);
* GDN/IGDN inside a :class:`~fromscratch.nn.Sequential` overwrite the activation they are given
  (no output of their own), again with one band of temporaries;
* other element-wise layers (activations) allocate one output of their input's size.

The caller's input is counted for the whole run, unless the caller says it let go of it. The
estimate is an upper bound of what the arrays hold; the interpreter, the libraries and the
weights come on top and are the caller's to add (a codec adds its own image buffers and a
measured baseline). ``tests/test_nn_inference.py`` checks the bound against the allocations
``tracemalloc`` sees, ``tests/test_balle2017_memory.py`` against a real process's peak.
"""

from __future__ import annotations

import math

import numpy as np

from ._conv_kernels import conv_output_size
from .conv import Conv2d, ConvTranspose2d, conv_transpose_output_size
from .conv_banded import conv2d_band_plan, conv_transpose2d_band_plan
from .gdn import GDN, gdn_band_rows
from .layers import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .module import Module, Sequential

__all__ = ["inference_peak_bytes", "output_shape"]

_ELEMENTWISE = (LeakyReLU, ReLU, Sigmoid, Tanh)


def output_shape(layer: Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The output shape of ``layer`` (or a Sequential of known layers) for an input ``shape``."""
    if isinstance(layer, Sequential):
        for m in layer:
            shape = output_shape(m, shape)
        return shape
    if isinstance(layer, Conv2d):
        n, _, h, w = shape
        sizes = [conv_output_size(size, k, s, p) for size, k, s, p in
                 zip((h, w), layer.kernel_size, layer.stride, layer.padding, strict=True)]
        return (n, layer.out_channels, *sizes)
    if isinstance(layer, ConvTranspose2d):
        n, _, h, w = shape
        sizes = [conv_transpose_output_size(size, k, s, p, op) for size, k, s, p, op in
                 zip((h, w), layer.kernel_size, layer.stride, layer.padding,
                     layer.output_padding, strict=True)]
        return (n, layer.out_channels, *sizes)
    if isinstance(layer, (GDN, Identity, *_ELEMENTWISE)):
        return tuple(shape)
    raise TypeError(f"no memory model for {type(layer).__name__}; inference_peak_bytes knows "
                    "Conv2d, ConvTranspose2d, GDN/IGDN, element-wise activations and Sequential")


#: Allowance per layer for its small per-call arrays: a compiled kernel's scratch rows, GDN's
#: effective beta and gamma (kilobytes in practice).
SMALL_BYTES = 2**20


def _layer_bytes(layer: Module, shape, itemsize: int, in_place: bool) -> tuple[int, tuple]:
    """(input + output + work bytes while ``layer`` runs, output shape)."""
    running, out = _arrays_bytes(layer, shape, itemsize, in_place)
    return running + SMALL_BYTES, out


def _arrays_bytes(layer: Module, shape, itemsize: int, in_place: bool) -> tuple[int, tuple]:
    out = output_shape(layer, shape)
    size_in, size_out = math.prod(shape) * itemsize, math.prod(out) * itemsize
    if isinstance(layer, (Conv2d, ConvTranspose2d)):  # the work arrays the band plan sizes
        w_shape = layer.weight.shape
        if isinstance(layer, Conv2d):
            _, sizes = conv2d_band_plan(shape, w_shape, layer.stride, out[2:], itemsize)
        else:
            _, sizes = conv_transpose2d_band_plan(shape, w_shape, layer.stride, out, itemsize)
        return size_in + size_out + sum(sizes) * itemsize, out
    if isinstance(layer, GDN):
        n, c, _, w = shape
        work = 3 * c * n * gdn_band_rows(shape, itemsize) * w * itemsize
        return size_in + (0 if in_place else size_out) + work, out
    if isinstance(layer, Identity):
        return size_in, out
    return size_in + size_out, out


def inference_peak_bytes(module: Module, input_shape, dtype="float32", *,
                         input_held: bool = True) -> int:
    """Upper bound of the array memory of ``with nn.no_grad(): module(x)``, ``x`` included.

    Parameters
    ----------
    module : Module
        A :class:`~fromscratch.nn.Sequential` (possibly nested) of Conv2d, ConvTranspose2d,
        GDN/IGDN, activations and Identity, or one such layer.
    input_shape : (N, C, H, W)
    dtype : the activations' dtype (the parameters' dtype: float32 by default)
    input_held : bool
        Whether the caller keeps the input alive during the call. A caller that hands over its
        only reference (``module(make_input())``) lets the Sequential free it after the first
        layer: ``False`` counts it during that layer only.

    Returns
    -------
    int
        Bytes; the interpreter, libraries and weights are not included.
    """
    itemsize = np.dtype(dtype).itemsize
    shape = tuple(int(s) for s in input_shape)
    held = math.prod(shape) * itemsize if input_held else 0  # the caller's input
    peak = held
    for i, (layer, in_place) in enumerate(_leaves(module)):
        running, shape = _layer_bytes(layer, shape, itemsize, in_place)
        # from the second layer on the caller's input is held besides the layer's own arrays
        peak = max(peak, running + (held if i > 0 else 0))
    return int(peak)


def _leaves(module: Module, in_place: bool = False):
    """(layer, whether it runs in place) in order; a Sequential owns every input but its first."""
    if not isinstance(module, Sequential):
        yield module, in_place and isinstance(module, GDN)
        return
    for i, m in enumerate(module):
        yield from _leaves(m, in_place=i > 0)
