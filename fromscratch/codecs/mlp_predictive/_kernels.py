"""Numba kernels of ``mlp-predictive``: one causal pass per image, the same code both ways.

The encoder and the decoder walk the image in the same order (rows, columns, then channels) and
call the *same* compiled functions for the neighbourhood, the features, the network, the
prediction and the context. The encoder reads them from the original image, the decoder from the
pixels it has rebuilt so far; both see identical values (only causal pixels are ever read), so
both compute bit-identical float32 predictions. That is why the encoder does not use a NumPy
matmul: BLAS may sum in another order (or with FMA), and one rounding difference in one pixel
would derail the decoder for the rest of the image.

Data layout
-----------
* ``img`` uint8 (H, W, C), C = 1 or 3; the decoder's output starts as zeros.
* ``errs`` int32 (H, W, C): the folded prediction errors (-128..127), kept for the contexts.
* the networks, one per channel, packed by ``pack_nets``: ``params`` float32 (C, P) holds each
  layer's weight (out, in) row-major then its bias (out,), layer after layer; ``layout`` int64
  (C, L + 1) the layer widths ``[n_features, hidden..., 1]``; ``n_layers`` int64 (C,); ``slopes``
  float32 (C,) the LeakyReLU slope of the hidden layers (0 for ReLU). The output layer is linear
  and reads the last hidden layer and the features (see ``forward``).
* ``mode``: ``MODE_NET`` (an MLP, or the least-squares predictor as a one-layer "net"),
  ``MODE_MED`` or ``MODE_LEFT``.

Every float in the network is float32 and every operation is a single IEEE multiply, add or
comparison in a fixed order (no tanh/exp, whose libm results may differ between machines; no
fastmath, which would let LLVM reorder sums). ``reference`` does the same in
plain Python with NumPy float32 scalars; the tests pin the two to equal bytes.
"""

from __future__ import annotations

import numba
import numpy as np

from fromscratch.entropy._context_kernels import (
    decode_symbol_in_context,
    encode_symbol_in_context,
)
from fromscratch.entropy._range_kernels import _finish, _start_decoder
from fromscratch.entropy.range_engine import FULL_RANGE, STATUS_OK

MODE_NET, MODE_MED, MODE_LEFT = 0, 1, 2
BORDER_VALUE = 128  # every neighbour of the very first pixel
FEATURE_SCALE = 1.0 / 64.0  # pixel differences -> network inputs (exact in float32)
OUTPUT_SCALE = 64.0  # network output -> correction of the base pixel N
N_CURRENT_FEATURES = 5  # W, NW, NE, WW, NN minus N
N_PREVIOUS_FEATURES = 4  # per earlier channel p: P, P_W, P_NW, P_NE minus P_N
#: Activity thresholds of the contexts: level = number of thresholds <= activity.
ACTIVITY_THRESHOLDS = np.array([2, 4, 7, 11, 16, 23, 32, 45, 64, 90, 128], np.int64)
N_LEVELS = ACTIVITY_THRESHOLDS.size + 1  # contexts per channel
ALPHABET_SIZE = 256  # zigzag-mapped residuals 0..255


def n_features(channel: int) -> int:
    """Inputs of channel ``channel``'s network: its own 5 plus 4 per earlier channel."""
    return N_CURRENT_FEATURES + N_PREVIOUS_FEATURES * channel


@numba.njit(cache=True)
def neighbours(img, i, j, k):
    """Causal neighbours ``(W, N, NW, NE, WW, NN)`` of pixel (i, j) in channel k, as int64.

    Borders: at (0, 0) all are ``BORDER_VALUE``; in row 0 the missing upper ones copy W; in
    column 0 the missing left ones copy N; NE past the last column copies N; WW in column 1
    copies W; NN in row 1 copies N.
    """
    width = img.shape[1]
    if i == 0:
        if j == 0:
            v = np.int64(BORDER_VALUE)
            return v, v, v, v, v, v
        w = np.int64(img[0, j - 1, k])
        ww = np.int64(img[0, j - 2, k]) if j >= 2 else w
        return w, w, w, w, ww, w
    n = np.int64(img[i - 1, j, k])
    nn = np.int64(img[i - 2, j, k]) if i >= 2 else n
    ne = np.int64(img[i - 1, j + 1, k]) if j + 1 < width else n
    if j == 0:
        return n, n, n, ne, n, nn
    w = np.int64(img[i, j - 1, k])
    nw = np.int64(img[i - 1, j - 1, k])
    ww = np.int64(img[i, j - 2, k]) if j >= 2 else w
    return w, n, nw, ne, ww, nn


@numba.njit(cache=True)
def gather_features(img, i, j, k, x):
    """Write channel k's network inputs into ``x[:n_features(k)]``; return the base pixel N."""
    scale = np.float32(FEATURE_SCALE)
    w, n, nw, ne, ww, nn = neighbours(img, i, j, k)
    x[0] = np.float32(w - n) * scale
    x[1] = np.float32(nw - n) * scale
    x[2] = np.float32(ne - n) * scale
    x[3] = np.float32(ww - n) * scale
    x[4] = np.float32(nn - n) * scale
    m = N_CURRENT_FEATURES
    for p in range(k):  # earlier channels are known at (i, j) itself: inter-channel prediction
        pw, pn, pnw, pne, _, _ = neighbours(img, i, j, p)
        here = np.int64(img[i, j, p])
        x[m] = np.float32(here - pn) * scale
        x[m + 1] = np.float32(pw - pn) * scale
        x[m + 2] = np.float32(pnw - pn) * scale
        x[m + 3] = np.float32(pne - pn) * scale
        m += N_PREVIOUS_FEATURES
    return n


@numba.njit(cache=True)
def forward(params, layout, n_layers, slope, x, a, b):
    """The network on the inputs ``x``: float32 throughout, sums in index order.

    Hidden layers: ``h = LeakyReLU(W h_prev + b)`` starting from ``h_prev = x``. The output
    layer reads the last hidden layer *and* the inputs (a linear skip path): its weight row is
    ``[w_h (layout[L-1],), w_x (layout[0],)]``; without hidden layers it reads ``x`` alone (the
    least-squares predictor). ``a``, ``b``: scratch vectors as wide as the widest layer.
    """
    offset = 0
    for layer in range(n_layers - 1):  # ping-pong: x -> a -> b -> a ...
        src = x if layer == 0 else (a if layer % 2 == 1 else b)
        dst = a if layer % 2 == 0 else b
        n_in = layout[layer]
        n_out = layout[layer + 1]
        bias_offset = offset + n_out * n_in
        for o in range(n_out):
            acc = np.float32(0.0)
            row = offset + o * n_in
            for q in range(n_in):
                acc += params[row + q] * src[q]
            acc += params[bias_offset + o]
            if not acc > np.float32(0.0):
                acc = acc * slope  # LeakyReLU
            dst[o] = acc
        offset = bias_offset + n_out
    acc = np.float32(0.0)
    if n_layers > 1:
        last = a if n_layers % 2 == 0 else b
        for q in range(layout[n_layers - 1]):
            acc += params[offset + q] * last[q]
        offset += layout[n_layers - 1]
    for q in range(layout[0]):
        acc += params[offset + q] * x[q]
    return acc + params[offset + layout[0]]


@numba.njit(cache=True)
def round_prediction(value):
    """floor(value + 0.5) clipped to 0..255 (NaN -> 0: hostile weights cannot escape)."""
    v = value + np.float32(0.5)
    if not v >= np.float32(0.0):
        return np.int64(0)
    if v >= np.float32(255.0):
        return np.int64(255)
    return np.int64(v)  # truncation == floor for v >= 0


@numba.njit(cache=True)
def predict_pixel(img, i, j, k, mode, params, layout, n_layers, slopes, x, a, b):
    """The prediction 0..255 of ``img[i, j, k]`` from causal pixels only."""
    if mode == MODE_NET:
        base = gather_features(img, i, j, k, x)
        y = forward(params[k], layout[k], n_layers[k], slopes[k], x, a, b)
        return round_prediction(np.float32(base) + np.float32(OUTPUT_SCALE) * y)
    w, n, nw, _, _, _ = neighbours(img, i, j, k)
    if mode == MODE_LEFT:
        return w
    low, high = min(w, n), max(w, n)  # MED, the LOCO-I / JPEG-LS predictor
    if nw >= high:
        return low
    if nw <= low:
        return high
    return w + n - nw


@numba.njit(cache=True)
def context_of(img, errs, i, j, k):
    """Context index ``k * N_LEVELS + level`` from the quantised local activity.

    activity = |W - NW| + |N - NW| + |N - NE| (texture) + |e_W| + |e_N| (how wrong the predictor
    just was here) + 2 |e| of the previous channel at this pixel (its surprise, usually shared).
    """
    w, n, nw, ne, _, _ = neighbours(img, i, j, k)
    activity = abs(w - nw) + abs(n - nw) + abs(n - ne)
    if j > 0:
        activity += abs(errs[i, j - 1, k])
    if i > 0:
        activity += abs(errs[i - 1, j, k])
    if k > 0:
        activity += 2 * abs(errs[i, j, k - 1])
    level = 0
    while level < ACTIVITY_THRESHOLDS.shape[0] and activity >= ACTIVITY_THRESHOLDS[level]:
        level += 1
    return k * N_LEVELS + level


@numba.njit(cache=True)
def encode_image_kernel(img, mode, params, layout, n_layers, slopes, width, increment, limit,
                        out):
    """Predict, fold, zigzag and range-code every sample; returns ``(status, n_bytes)``.

    ``width`` is the widest layer (scratch size); ``out`` must hold the worst case.
    """
    height, img_width, channels = img.shape
    counts = np.ones((channels * N_LEVELS, ALPHABET_SIZE), np.int64)
    totals = np.full(channels * N_LEVELS, ALPHABET_SIZE, np.int64)
    errs = np.zeros((height, img_width, channels), np.int32)
    x = np.zeros(max(width, 1), np.float32)
    a = np.zeros(max(width, 1), np.float32)
    b = np.zeros(max(width, 1), np.float32)
    low, rng, cache, n_ff, pos = 0, FULL_RANGE, 0, 0, 0
    for i in range(height):
        for j in range(img_width):
            for k in range(channels):
                pred = predict_pixel(img, i, j, k, mode, params, layout, n_layers, slopes, x, a, b)
                e = ((np.int64(img[i, j, k]) - pred + 128) & 255) - 128  # fold into -128..127
                errs[i, j, k] = e
                s = 2 * e if e >= 0 else -2 * e - 1  # zigzag: 0, -1, 1, -2, ... -> 0, 1, 2, 3
                ctx = context_of(img, errs, i, j, k)
                low, rng, cache, n_ff, pos = encode_symbol_in_context(
                    low, rng, cache, n_ff, out, pos, counts, totals, ctx, s, increment, limit
                )
    return _finish(low, rng, cache, n_ff, out, pos)


@numba.njit(cache=True)
def decode_image_kernel(data, mode, params, layout, n_layers, slopes, width, increment, limit,
                        img):
    """Mirror of ``encode_image_kernel``, rebuilding ``img`` (H, W, C) in place.

    Returns ``(status, sample_index, byte_position)``, as the range decoders do.
    """
    height, img_width, channels = img.shape
    counts = np.ones((channels * N_LEVELS, ALPHABET_SIZE), np.int64)
    totals = np.full(channels * N_LEVELS, ALPHABET_SIZE, np.int64)
    errs = np.zeros((height, img_width, channels), np.int32)
    x = np.zeros(max(width, 1), np.float32)
    a = np.zeros(max(width, 1), np.float32)
    b = np.zeros(max(width, 1), np.float32)
    code, rng, pos = _start_decoder(data)
    index = 0
    for i in range(height):
        for j in range(img_width):
            for k in range(channels):
                pred = predict_pixel(img, i, j, k, mode, params, layout, n_layers, slopes, x, a, b)
                ctx = context_of(img, errs, i, j, k)  # reads errs[i, j, k - 1]: decoded already
                status, s, code, rng, pos = decode_symbol_in_context(
                    code, rng, data, pos, counts, totals, ctx, increment, limit
                )
                if status != STATUS_OK:
                    return status, index, pos
                e = s >> 1 if s & 1 == 0 else -((s + 1) >> 1)
                errs[i, j, k] = e
                img[i, j, k] = (pred + e) & 255
                index += 1
    return STATUS_OK, index, pos


@numba.njit(cache=True)
def features_kernel(img, k, out):
    """Channel k's features of every pixel into ``out`` (H*W, n_features(k)); bases returned."""
    height, width = img.shape[0], img.shape[1]
    bases = np.empty(height * width, np.int64)
    for i in range(height):
        for j in range(width):
            bases[i * width + j] = gather_features(img, i, j, k, out[i * width + j])
    return bases


@numba.njit(cache=True)
def predictions_kernel(img, mode, params, layout, n_layers, slopes, width):
    """All predictions of an image (H, W, C), int64: for inspection, tests and training."""
    height, img_width, channels = img.shape
    out = np.empty((height, img_width, channels), np.int64)
    x = np.zeros(max(width, 1), np.float32)
    a = np.zeros(max(width, 1), np.float32)
    b = np.zeros(max(width, 1), np.float32)
    for i in range(height):
        for j in range(img_width):
            for k in range(channels):
                out[i, j, k] = predict_pixel(img, i, j, k, mode, params, layout, n_layers, slopes,
                                             x, a, b)
    return out
