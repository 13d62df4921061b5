"""``mlp-predictive``: lossless coding with a small neural network as the DPCM predictor.

History
-------
DPCM (chapter 1, ``transforms/dpcm.py``) predicts each pixel from its already-coded neighbours
and codes the error. Its classic predictors are *linear* (a fixed weighted sum of neighbours)
or hand-made switches between a few linear ones (MED in LOCO-I / JPEG-LS, Weinberger, Seroussi &
Sapiro 1996; the gradient-adjusted predictor of CALIC, Wu & Memon 1997). But the best guess of a
pixel is not a linear function of its neighbours: across an edge it follows the edge, in flat
areas it averages. In the late 1980s and early 1990s, as backpropagation made multilayer
perceptrons trainable, several groups replaced DPCM's linear predictor by a small MLP taking the
causal neighbours as inputs, trained to minimise the squared prediction error: *nonlinear
predictive coding*, tried for both lossy DPCM and lossless coding (R. D. Dony and S. Haykin
survey this line of work in "Neural network approaches to image compression", Proc. IEEE,
1995). This module is that idea with today's care for the entropy coder.

The idea
--------
For each pixel, in raster order, and each channel ``k`` (R, then G, then B)::

    features f  = causal neighbours minus the base N, / 64 (see below)
    y           = MLP_k(f)                              float32, fixed order of operations
    prediction  = clip(floor(N + 64 y + 0.5), 0, 255)
    e           = (x - prediction) folded modulo 256 into -128..127
    symbol      = zigzag(e) = 2e (e >= 0) or -2e - 1    0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
    context     = channel, quantised local activity     (k * 12 + level)
    range-code symbol with that context's adaptive model   (entropy/context_coder.py)

The features of channel k are its own neighbours W, NW, NE, WW, NN minus N (5 numbers) and, for
G and B, each earlier channel P at the *same* pixel and its W, NW, NE, all minus P_N (4 numbers
per channel): when G is predicted, R at this very pixel is known, and "G moves as R moved"
(``G ~ G_N + R - R_N``) is the strongest cue a colour image offers. It is where most of the gain
over MED comes from: on 8 Kodak images a per-image linear predictor without these features codes
at 13.08 bits per pixel (MED: 13.17), with them at 9.71. Working with differences makes the
prediction shift with the brightness (adding 20 to every pixel adds 20 to the prediction), so the
net only learns the *shape* of the neighbourhood, and dividing by 64 keeps its inputs near
[-4, 4].

The network: hidden layers ``h = LeakyReLU(W h + b)`` (64 units in the shipped weights), then a
linear output reading ``[h, f]``: a linear predictor plus a learned nonlinear correction.

Folding: given the prediction, x can only take 256 values, so ``e mod 256`` loses nothing
(``x = (prediction + e) mod 256``) and the alphabet stays 256 symbols. Zigzag puts the likely
small errors first: for an adaptive model the code length is the same under any relabelling,
but the coder finds a symbol's cumulative count by scanning from symbol 0, so the common
symbols are found in a step or two.

Contexts (the JPEG-LS / CALIC idea): a residual in a flat sky is nearly always 0 or +-1, one on a
textured roof spreads over +-30; one model per level of *activity* (|W - NW| + |N - NW| + |N - NE|
+ |e_W| + |e_N| + 2 |e of the previous channel here|, quantised to 12 levels) codes each population
with its own histogram, ``H(X | C) <= H(X)``.

Predictors: ``predictor="mlp"`` uses the trained nets in ``data/weights/<weights>.npz``
(``python -m fromscratch train mlp-predictive``), one per channel (a gray image uses the R net).
With ``adapt=True`` (the default) the encoder keeps the trained hidden layers but refits the
linear output layer to the image (least absolute error, by iteratively reweighted least squares:
``fit_output_layers``) and sends it, 4 (64 + n_features(k) + 1) bytes per channel: the trained
units supply nonlinear features, the image chooses how to mix them. ``adapt=False`` is the plain
early-1990s scheme, the trained net as it is. ``"ls"`` fits the best *linear* function of the
same features to each image the same way and sends its coefficients; ``"med"`` and ``"left"``
are the classic per-channel predictors. All use the same contexts and coder, so their sizes
compare the predictors alone. (Kodak, bits per RGB pixel: mlp 9.25, mlp adapt=False 9.51, ls
9.47, med 12.72, left 13.17; PNG 13.43, JPEG-LS 13.07, WebP lossless 9.61: see
``benchmarks/lossless_bench.py``.)

Determinism: the decoder repeats the encoder's float32 arithmetic, so the two must round
identically. Both run the same compiled function (``_kernels``), with only
multiplications, additions and comparisons (LeakyReLU, no tanh/exp from a libm) in a fixed order
and no fastmath; the stream records a CRC of the weights, so a different weight file is refused
rather than silently producing a wrong image.

Payload
-------
``mlp``: 4 bytes, big-endian CRC-32 of the shipped weights; with ``adapt``, each channel's output
layer as float32 little-endian (weights, then bias); then the range-coded stream. ``ls``: each
channel's ``n_features(k) + 1`` float32 coefficients, then the stream; ``med``/``left``: the
stream. Borders (missing neighbours copy the nearest causal ones): see ``neighbour_planes``.
"""

from __future__ import annotations

import re
import struct
from typing import ClassVar

import numpy as np

from ...bitstream import BitstreamError
from ...entropy.cdf_tables import check_decode_count
from ...entropy.range_engine import raise_for_status, stream_bytes, stream_capacity
from ..base import ContainerCodec, Parameter, register
from . import _kernels as kernels
from ._kernels import ALPHABET_SIZE, n_features
from .nets import (
    PredictorNet,
    check_nets,
    fingerprint,
    fit_least_squares,
    fit_output_layers,
    load_nets,
    pack_nets,
    with_output_layer,
)

__all__ = ["PREDICTORS", "MlpPredictive", "decode_stream", "encode_stream", "predictions"]

PREDICTORS = ("mlp", "ls", "med", "left")
DEFAULT_WEIGHTS = "mlp_predictive"
INCREMENT = 32  # adaptive-model step (the range coder's default)
LIMIT = 1 << 16  # halve a context's counts when their total passes this
_STEM = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_MODES = {"net": kernels.MODE_NET, "med": kernels.MODE_MED, "left": kernels.MODE_LEFT}


def _as_3d(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image if image.ndim == 3 else image[:, :, None])


def _kernel_model(mode: str, nets: list[PredictorNet] | None):
    if mode == "net":
        return (_MODES[mode], *pack_nets(nets))
    dummy = np.zeros((1, 1), np.float32), np.zeros((1, 2), np.int64)
    return _MODES[mode], dummy[0], dummy[1], np.zeros(1, np.int64), np.zeros(1, np.float32), 1


def encode_stream(image: np.ndarray, mode: str, nets: list[PredictorNet] | None = None) -> bytes:
    """Range-coded residuals of a uint8 (H, W) or (H, W, C) image.

    ``mode`` is "net" (then ``nets`` holds one checked ``PredictorNet`` per channel), "med" or
    "left". The container-free core of the codec, for experiments and the tests.
    """
    img = _as_3d(image)
    if mode == "net":
        nets = check_nets(nets, img.shape[2], "nets")
    model = _kernel_model(mode, nets)
    out = np.empty(stream_capacity(img.size), np.uint8)
    result = kernels.encode_image_kernel(img, *model, INCREMENT, LIMIT, out)
    return stream_bytes(result, out, img.ravel())


def decode_stream(data, shape: tuple[int, ...], mode: str,
                  nets: list[PredictorNet] | None = None) -> np.ndarray:
    """Invert :func:`encode_stream`: the uint8 image of ``shape``; BitstreamError if corrupt."""
    height, width = shape[:2]
    channels = 1 if len(shape) == 2 else shape[2]
    if mode == "net":
        nets = check_nets(nets, channels, "nets")
    data = np.frombuffer(memoryview(data).cast("B"), np.uint8)
    # refuse a size the stream cannot hold before allocating it (no count exceeds limit - 255)
    check_decode_count(height * width * channels, data.size, LIMIT - ALPHABET_SIZE + 1, LIMIT)
    img = np.zeros((height, width, channels), np.uint8)
    status, index, pos = kernels.decode_image_kernel(data, *_kernel_model(mode, nets),
                                                     INCREMENT, LIMIT, img)
    raise_for_status(status, index, pos, data.size)
    return img.reshape(shape)


def predictions(image: np.ndarray, predictor: str = "med", nets=None) -> np.ndarray:
    """Every pixel's prediction (int64, the image's shape), computed as the codec computes it.

    ``predictor``: "mlp" (shipped weights unless ``nets`` given), "ls" (fitted to ``image``
    unless ``nets`` given), "med" or "left".
    """
    img = _as_3d(image)
    mode = "net" if predictor in ("mlp", "ls") else predictor
    if predictor == "mlp" and nets is None:
        nets = load_nets(DEFAULT_WEIGHTS)
    if predictor == "ls" and nets is None:
        nets = fit_least_squares(img)
    if mode == "net":
        nets = check_nets(nets, img.shape[2], "nets")
    model = _kernel_model(mode, nets)
    out = kernels.predictions_kernel(img, *model)
    return out.reshape(image.shape)


def _head_bytes(nets: list[PredictorNet]) -> bytes:
    """The output layers (weights then bias, float32 little-endian), channel after channel."""
    return b"".join(np.concatenate([net.weights[-1].ravel(), net.biases[-1]]).astype("<f4")
                    .tobytes() for net in nets)


def _read_heads(payload: bytes, channels: int, hidden: list[PredictorNet] | None):
    """Inverse of ``_head_bytes``: nets with the received output layers, and the bytes used."""
    nets, position = [], 0
    for k in range(channels):
        n_values = n_features(k) + 1
        if hidden is not None:
            n_values += hidden[k].weights[-1].shape[1] - n_features(k)  # + last hidden width
        if position + 4 * n_values > len(payload):
            raise BitstreamError(f"payload truncated in channel {k}'s output-layer coefficients")
        values = np.frombuffer(payload, "<f4", n_values, position).astype(np.float32)
        position += 4 * n_values
        if not np.all(np.isfinite(values)):
            raise BitstreamError(f"output-layer coefficients of channel {k} are not finite")
        nets.append(with_output_layer(None if hidden is None else hidden[k], values))
    return nets, position


@register
class MlpPredictive(ContainerCodec):
    """Lossless: MLP (or LS / MED / left) prediction, context-modelled adaptive range coding."""

    name = "mlp-predictive"
    description = "lossless nonlinear DPCM: MLP predictor + context range coding (chapter 3)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "predictor": Parameter("mlp", str, choices=PREDICTORS,
                               help="mlp (trained weights), ls (per-image least squares), med, "
                                    "left"),
        "weights": Parameter(DEFAULT_WEIGHTS, str,
                             help="file stem in data/weights/ of the MLP weights (predictor=mlp)"),
        "adapt": Parameter(True, bool,
                           help="mlp: refit the output layer to each image (sent in the stream)"),
    }
    settings = ({"predictor": "left"}, {"predictor": "med"}, {"predictor": "ls"},
                {"predictor": "mlp", "adapt": False}, {"predictor": "mlp"})

    def __init__(self, **params):
        super().__init__(**params)
        if not _STEM.fullmatch(self.params["weights"]):
            raise ValueError(f"weights must be a plain file stem ({_STEM.pattern}), got "
                             f"{self.params['weights']!r}")

    def encode_payload(self, image: np.ndarray) -> bytes:
        predictor = self.params["predictor"]
        if predictor == "mlp":
            shipped = load_nets(self.params["weights"])
            head = struct.pack(">I", fingerprint(shipped))
            nets = shipped
            if self.params["adapt"]:
                nets = fit_output_layers(image, shipped)
                head += _head_bytes(nets)
            return head + encode_stream(image, "net", nets)
        if predictor == "ls":
            nets = fit_least_squares(image)
            return _head_bytes(nets) + encode_stream(image, "net", nets)
        return encode_stream(image, predictor)

    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        predictor = self.params["predictor"]
        channels = 1 if len(shape) == 2 else shape[2]
        if predictor == "mlp":
            shipped = load_nets(self.params["weights"])  # missing / bad file: nn.WeightsError
            if len(payload) < 4:
                raise BitstreamError("mlp-predictive payload too short for its weights CRC")
            (crc,) = struct.unpack(">I", payload[:4])
            if crc != fingerprint(shipped):
                raise BitstreamError(
                    f"stream was made with other weights than data/weights/"
                    f"{self.params['weights']}.npz (CRC {crc:08x}, file {fingerprint(shipped):08x})"
                )
            if not self.params["adapt"]:
                return decode_stream(payload[4:], shape, "net", shipped)
            nets, used = _read_heads(payload[4:], channels, shipped)
            return decode_stream(payload[4 + used :], shape, "net", nets)
        if predictor == "ls":
            nets, used = _read_heads(payload, channels, None)
            return decode_stream(payload[used:], shape, "net", nets)
        return decode_stream(payload, shape, predictor)
