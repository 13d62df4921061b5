"""``mlp-predictive`` in plain Python: the readable twin of ``_kernels``.

The same causal walk, one sample at a time, with Python integers for pixels and NumPy float32
scalars for the network (each ``np.float32 * np.float32`` or ``+`` rounds exactly like the
compiled float32 operation, so the sums come out bit-identical when taken in the same order).
Range coding uses ``RangeEncoder``/``RangeDecoder`` and one list of counts per context. About
10,000 times slower than the kernels: for small images and for the tests that pin the two
together (equal bytes, equal images).
"""

from __future__ import annotations

import numpy as np

from ...entropy.range_coder import _update_counts_reference
from ...entropy.range_engine import RangeDecoder, RangeEncoder
from ._kernels import (
    ACTIVITY_THRESHOLDS,
    ALPHABET_SIZE,
    BORDER_VALUE,
    FEATURE_SCALE,
    N_LEVELS,
    OUTPUT_SCALE,
)
from .nets import PredictorNet


def neighbours(img, i: int, j: int, k: int) -> tuple[int, int, int, int, int, int]:
    """``(W, N, NW, NE, WW, NN)`` with the kernel's border rules (see ``neighbour_planes``)."""
    width = img.shape[1]
    if i == 0 and j == 0:
        return (BORDER_VALUE,) * 6
    if i == 0:
        w = int(img[0, j - 1, k])
        ww = int(img[0, j - 2, k]) if j >= 2 else w
        return w, w, w, w, ww, w
    n = int(img[i - 1, j, k])
    nn = int(img[i - 2, j, k]) if i >= 2 else n
    ne = int(img[i - 1, j + 1, k]) if j + 1 < width else n
    if j == 0:
        return n, n, n, ne, n, nn
    w, nw = int(img[i, j - 1, k]), int(img[i - 1, j - 1, k])
    ww = int(img[i, j - 2, k]) if j >= 2 else w
    return w, n, nw, ne, ww, nn


def features(img, i: int, j: int, k: int) -> tuple[list, int]:
    """Channel k's network inputs (np.float32) and the base pixel N."""
    w, n, nw, ne, ww, nn = neighbours(img, i, j, k)
    differences = [w - n, nw - n, ne - n, ww - n, nn - n]
    for p in range(k):
        pw, pn, pnw, pne, _, _ = neighbours(img, i, j, p)
        differences += [int(img[i, j, p]) - pn, pw - pn, pnw - pn, pne - pn]
    scale = np.float32(FEATURE_SCALE)
    return [np.float32(d) * scale for d in differences], n


def forward(net: PredictorNet, x: list) -> np.float32:
    """The net, one multiply-add at a time in the kernel's order (sum, then bias)."""
    slope = np.float32(net.slope)
    h = x
    for weight, bias in zip(net.weights[:-1], net.biases[:-1], strict=True):
        h_next = []
        for o in range(weight.shape[0]):
            acc = np.float32(0.0)
            for q, value in enumerate(h):
                acc = acc + weight[o, q] * value
            acc = acc + bias[o]
            h_next.append(acc if acc > 0 else acc * slope)  # LeakyReLU
        h = h_next
    inputs = (h if len(net.weights) > 1 else []) + list(x)  # the output also reads x
    acc = np.float32(0.0)
    for q, value in enumerate(inputs):
        acc = acc + net.weights[-1][0, q] * value
    return acc + net.biases[-1][0]


def predict(img, i: int, j: int, k: int, predictor: str, nets) -> int:
    """The prediction 0..255 of ``img[i, j, k]``; ``predictor`` is "net", "med" or "left"."""
    if predictor == "net":
        x, base = features(img, i, j, k)
        value = np.float32(base) + np.float32(OUTPUT_SCALE) * forward(nets[k], x) + np.float32(0.5)
        if not value >= 0:  # NaN too
            return 0
        return 255 if value >= 255 else int(value)
    w, n, nw, _, _, _ = neighbours(img, i, j, k)
    if predictor == "left":
        return w
    if nw >= max(w, n):
        return min(w, n)
    if nw <= min(w, n):
        return max(w, n)
    return w + n - nw


def context(img, errs, i: int, j: int, k: int) -> int:
    w, n, nw, ne, _, _ = neighbours(img, i, j, k)
    activity = abs(w - nw) + abs(n - nw) + abs(n - ne)
    activity += abs(int(errs[i, j - 1, k])) if j > 0 else 0
    activity += abs(int(errs[i - 1, j, k])) if i > 0 else 0
    activity += 2 * abs(int(errs[i, j, k - 1])) if k > 0 else 0
    return k * N_LEVELS + int(np.searchsorted(ACTIVITY_THRESHOLDS, activity, side="right"))


def _start(shape, channels):
    counts = [[1] * ALPHABET_SIZE for _ in range(channels * N_LEVELS)]
    return counts, [ALPHABET_SIZE] * len(counts), np.zeros(shape, np.int64)


def encode(img: np.ndarray, predictor: str, nets, increment: int, limit: int) -> bytes:
    """Range-coded residuals of ``img`` (H, W, C) uint8, equal to ``encode_image_kernel``'s."""
    height, width, channels = img.shape
    counts, totals, errs = _start(img.shape, channels)
    encoder = RangeEncoder()
    for i in range(height):
        for j in range(width):
            for k in range(channels):
                e = (int(img[i, j, k]) - predict(img, i, j, k, predictor, nets) + 128) % 256 - 128
                errs[i, j, k] = e
                s = 2 * e if e >= 0 else -2 * e - 1
                c = context(img, errs, i, j, k)
                encoder.encode(sum(counts[c][:s]), counts[c][s], totals[c])
                totals[c] = _update_counts_reference(counts[c], totals[c], s, increment, limit)
    return encoder.finish()


def decode(data: bytes, shape, predictor: str, nets, increment: int, limit: int) -> np.ndarray:
    """Rebuild the (H, W, C) image from ``encode``'s bytes; BitstreamError if they run out."""
    height, width, channels = shape
    counts, totals, errs = _start(shape, channels)
    img = np.zeros(shape, np.uint8)
    decoder = RangeDecoder(data)
    for i in range(height):
        for j in range(width):
            for k in range(channels):
                decoder.symbol_index = (i * width + j) * channels + k
                prediction = predict(img, i, j, k, predictor, nets)
                c = context(img, errs, i, j, k)
                slot = decoder.decode_slot(totals[c])
                s, cum = 0, 0
                while cum + counts[c][s] <= slot:
                    cum += counts[c][s]
                    s += 1
                decoder.consume(cum, counts[c][s])
                totals[c] = _update_counts_reference(counts[c], totals[c], s, increment, limit)
                e = s // 2 if s % 2 == 0 else -(s + 1) // 2
                errs[i, j, k] = e
                img[i, j, k] = (prediction + e) % 256
    return img
