"""RGB and YCbCr: separating brightness from colour, as JFIF (1992) defines it.

The eye resolves fine detail in brightness much better than in colour. JPEG exploits this by
rotating RGB into one *luma* channel ``Y`` and two *chroma* channels ``Cb`` (blue minus luma) and
``Cr`` (red minus luma), then storing chroma at reduced resolution (chroma subsampling) and with
coarser quantization. The JFIF conversion (full range, ITU-R BT.601 weights)::

    Y  =        0.299    R + 0.587    G + 0.114    B
    Cb = 128 -  0.168736 R - 0.331264 G + 0.5      B
    Cr = 128 +  0.5      R - 0.418688 G - 0.081312 B

and back::

    R = Y                        + 1.402    (Cr - 128)
    G = Y - 0.344136 (Cb - 128) - 0.714136 (Cr - 128)
    B = Y + 1.772    (Cb - 128)

Both are plain 3 x 3 matrix products (plus offsets) over the last axis, written against ``xp`` so
they run on NumPy or CuPy arrays alike.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module

__all__ = ["RGB_TO_YCBCR", "YCBCR_TO_RGB", "rgb_to_ycbcr", "ycbcr_to_rgb"]

RGB_TO_YCBCR = np.array([
    [0.299, 0.587, 0.114],
    [-0.168736, -0.331264, 0.5],
    [0.5, -0.418688, -0.081312],
])
YCBCR_TO_RGB = np.array([
    [1.0, 0.0, 1.402],
    [1.0, -0.344136, -0.714136],
    [1.0, 1.772, 0.0],
])
_CHROMA_OFFSET = np.array([0.0, 128.0, 128.0])


def rgb_to_ycbcr(image):
    """(H, W, 3) RGB (any numeric dtype) -> (H, W, 3) float64 YCbCr, JFIF full range."""
    xp = array_module(image)
    matrix = xp.asarray(RGB_TO_YCBCR)
    return image.astype(xp.float64) @ matrix.T + xp.asarray(_CHROMA_OFFSET)


def ycbcr_to_rgb(ycbcr):
    """(H, W, 3) YCbCr (float or integer) -> (H, W, 3) uint8 RGB, rounded and clipped."""
    xp = array_module(ycbcr)
    matrix = xp.asarray(YCBCR_TO_RGB)
    rgb = (ycbcr.astype(xp.float64) - xp.asarray(_CHROMA_OFFSET)) @ matrix.T
    return xp.clip(xp.rint(rgb), 0, 255).astype(xp.uint8)
