"""DPCM: predict each pixel from its already-decoded neighbours and keep only the surprise.

Neighbouring pixels of a photograph are close in value, so a pixel's left or upper neighbour is a
good guess for it. *Differential pulse-code modulation* (Cutler, Bell Labs, 1952, for television
signals) transmits the prediction error instead of the pixel: the errors cluster tightly around
zero, so an entropy coder spends far fewer bits on them than on the raw values. The decoder makes
the same prediction from pixels it has already rebuilt and adds the error back, so the scheme is
exactly lossless.

Predictors (``a`` = left, ``b`` = above, ``c`` = above-left of the current pixel ``x``)::

    c b
    a x

* ``"none"`` — predict 0: the residual is the pixel itself (the baseline).
* ``"left"`` — predict ``a``.
* ``"med"`` — the median edge detector of LOCO-I / JPEG-LS (Weinberger, Seroussi & Sapiro, 1996):
  ``min(a, b)`` if ``c >= max(a, b)``, ``max(a, b)`` if ``c <= min(a, b)``, else ``a + b - c``.
  It picks the upper or the left neighbour across an edge and a planar fit elsewhere.

At the borders the missing neighbours are replaced so that every pixel has a causal prediction:
the first pixel of the image is predicted as 0, the rest of the first row from the left, and the
first column from above (for both ``left`` and ``med``).

Residuals are taken modulo 256 (``(x - prediction) mod 256``, as PNG's filters do), so they stay
in one byte and the decoder's ``(prediction + residual) mod 256`` restores ``x`` exactly. Each
colour channel is predicted on its own.

Encoding is vectorised (every neighbour is known). Decoding is causal: ``left`` is a running sum,
but ``med`` needs each pixel before the next, so it runs in a Numba kernel with a readable Python
twin (:func:`reconstruct_reference`) pinned to it by the tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["PREDICTORS", "predict", "reconstruct", "reconstruct_reference", "residuals"]

PREDICTORS = ("none", "left", "med")


def _check_predictor(predictor: str) -> None:
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {PREDICTORS}, got {predictor!r}")


def _predict_plane(plane: np.ndarray, predictor: str) -> np.ndarray:
    """Causal prediction of every pixel of one uint8 plane (H, W), as int32."""
    x = plane.astype(np.int32)
    prediction = np.zeros_like(x)
    if predictor == "none":
        return prediction
    prediction[0, 1:] = x[0, :-1]          # first row: from the left
    prediction[1:, 0] = x[:-1, 0]          # first column: from above
    a, b, c = x[1:, :-1], x[:-1, 1:], x[:-1, :-1]
    if predictor == "left":
        prediction[1:, 1:] = a
    else:
        low, high = np.minimum(a, b), np.maximum(a, b)
        prediction[1:, 1:] = np.where(c >= high, low, np.where(c <= low, high, a + b - c))
    return prediction


def _planes(image: np.ndarray) -> list[np.ndarray]:
    return [image] if image.ndim == 2 else [image[:, :, k] for k in range(image.shape[2])]


def predict(image: np.ndarray, predictor: str = "med") -> np.ndarray:
    """The causal prediction of every pixel, int32 of the image's shape (for inspection)."""
    _check_predictor(predictor)
    planes = [_predict_plane(p, predictor) for p in _planes(image)]
    return planes[0] if image.ndim == 2 else np.stack(planes, axis=-1)


def residuals(image: np.ndarray, predictor: str = "med") -> np.ndarray:
    """Prediction errors modulo 256: uint8 of the image's shape, (H, W) or (H, W, C)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"residuals takes a uint8 (H, W) or (H, W, C) image, got {image.dtype} "
                         f"{image.shape}")
    return (image.astype(np.int32) - predict(image, predictor)).astype(np.uint8)


@njit(cache=True)
def _reconstruct_med_kernel(res, out):  # pragma: no cover - compiled
    height, width = res.shape
    for i in range(height):
        for j in range(width):
            if i == 0:
                prediction = 0 if j == 0 else np.int32(out[0, j - 1])
            elif j == 0:
                prediction = np.int32(out[i - 1, 0])
            else:
                a = np.int32(out[i, j - 1])
                b = np.int32(out[i - 1, j])
                c = np.int32(out[i - 1, j - 1])
                low, high = min(a, b), max(a, b)
                if c >= high:
                    prediction = low
                elif c <= low:
                    prediction = high
                else:
                    prediction = a + b - c
            out[i, j] = (prediction + np.int32(res[i, j])) & 0xFF


def _reconstruct_plane(res: np.ndarray, predictor: str) -> np.ndarray:
    if predictor == "none":
        return res.copy()
    if predictor == "left":
        out = np.empty_like(res)
        # Running sums modulo 256: uint8 arithmetic wraps exactly like the encoder's residuals.
        out[:, 0] = np.cumsum(res[:, 0], dtype=np.uint8)
        out[:, 1:] = res[:, 1:]
        return np.cumsum(out, axis=1, dtype=np.uint8)
    out = np.empty_like(res)
    _reconstruct_med_kernel(np.ascontiguousarray(res), out)
    return out


def reconstruct(res: np.ndarray, predictor: str = "med") -> np.ndarray:
    """Invert :func:`residuals`: rebuild the uint8 image from its prediction errors."""
    _check_predictor(predictor)
    res = np.asarray(res, dtype=np.uint8)
    planes = [_reconstruct_plane(p, predictor) for p in _planes(res)]
    return planes[0] if res.ndim == 2 else np.stack(planes, axis=-1)


def reconstruct_reference(res: np.ndarray, predictor: str = "med") -> np.ndarray:
    """Pixel-by-pixel decoder in plain Python: the readable twin of :func:`reconstruct`."""
    _check_predictor(predictor)
    res = np.asarray(res, dtype=np.uint8)
    out = np.zeros(res.shape, dtype=np.uint8)
    for plane_res, plane_out in zip(_planes(res), _planes(out), strict=True):
        height, width = plane_res.shape
        for i in range(height):
            for j in range(width):
                a = int(plane_out[i, j - 1]) if j > 0 else None
                b = int(plane_out[i - 1, j]) if i > 0 else None
                c = int(plane_out[i - 1, j - 1]) if i > 0 and j > 0 else None
                if predictor == "none" or (a is None and b is None):
                    prediction = 0
                elif b is None:
                    prediction = a
                elif a is None:
                    prediction = b
                elif predictor == "left":
                    prediction = a
                elif c >= max(a, b):
                    prediction = min(a, b)
                elif c <= min(a, b):
                    prediction = max(a, b)
                else:
                    prediction = a + b - c
                plane_out[i, j] = (prediction + int(plane_res[i, j])) % 256
    return out
