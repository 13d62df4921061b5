"""The discrete cosine transform (Ahmed, Natarajan & Rao, 1974) on 8 x 8 blocks.

A block of 8 neighbouring pixels is a smooth signal: written as a sum of cosines of increasing
frequency, almost all of its energy sits in the first few. The DCT-II computes those weights::

    X[k] = c(k) * sum_{n=0}^{7} x[n] * cos(pi * (2n + 1) * k / 16),
    c(0) = sqrt(1/8),  c(k > 0) = sqrt(2/8)

With these ``c(k)`` the transform is an **orthonormal** matrix ``C`` (8 x 8): ``X = C x``, and the
inverse is just the transpose, ``x = C.T X``. Energy is preserved (``sum x**2 = sum X**2``), so an
error in a coefficient is the same error in the pixels: this is why JPEG can quantize
coefficients and still control the pixel error.

Images are 2-D, and the 2-D DCT is *separable*: transform every row, then every column, i.e.
``Y = C B C.T`` for a block ``B``. This module cuts an image plane into 8 x 8 blocks, transforms
all of them at once with two matrix products (broadcast over a (rows, cols, 8, 8) array), and
back. ``xp`` may be NumPy or CuPy: the code only uses functions both provide.

The 64 *basis images* ``C[u].T @ C[v]`` are what each coefficient adds to the block; JPEG's
quantization tables are large exactly for the high-frequency ones the eye notices least.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module

__all__ = [
    "BLOCK",
    "basis_images",
    "blockify",
    "dct_blocks",
    "dct_matrix",
    "idct_blocks",
    "unblockify",
]

BLOCK = 8


def dct_matrix(n: int = BLOCK, xp=np, dtype=np.float64):
    """The orthonormal DCT-II matrix ``C`` (n, n): row ``k`` is the k-th cosine basis vector."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return xp.asarray(matrix, dtype=dtype)


def blockify(plane, block: int = BLOCK):
    """Cut an (H, W) plane, H and W multiples of ``block``, into (H/b, W/b, b, b) blocks."""
    height, width = plane.shape
    if height % block or width % block:
        raise ValueError(f"plane {height} x {width} is not a multiple of {block}; pad it first")
    return plane.reshape(height // block, block, width // block, block).swapaxes(1, 2)


def unblockify(blocks):
    """Inverse of :func:`blockify`: (R, C, b, b) blocks back to an (R*b, C*b) plane."""
    rows, cols, block, _ = blocks.shape
    return blocks.swapaxes(1, 2).reshape(rows * block, cols * block)


def dct_blocks(blocks):
    """2-D DCT of every block: ``C @ B @ C.T`` over the last two axes, float64 (or input float).

    Parameters
    ----------
    blocks : array (..., 8, 8)
        Pixel blocks (level-shifted by the caller if wanted), NumPy or CuPy.
    """
    xp = array_module(blocks)
    dtype = blocks.dtype if blocks.dtype in (xp.float32, xp.float64) else xp.float64
    c = dct_matrix(blocks.shape[-1], xp, dtype)
    return c @ blocks.astype(dtype, copy=False) @ c.T  # broadcast over the leading axes


def idct_blocks(coefficients):
    """Inverse 2-D DCT of every block: ``C.T @ Y @ C`` over the last two axes."""
    xp = array_module(coefficients)
    dtype = coefficients.dtype if coefficients.dtype in (xp.float32, xp.float64) else xp.float64
    c = dct_matrix(coefficients.shape[-1], xp, dtype)
    return c.T @ coefficients.astype(dtype, copy=False) @ c


def basis_images(n: int = BLOCK) -> np.ndarray:
    """The n*n DCT basis images, (n, n, n, n): ``[u, v]`` is the block coefficient (u, v) adds."""
    c = dct_matrix(n)
    return np.einsum("ui,vj->uvij", c, c)
