"""The predictors of ``mlp-predictive`` as data: networks, their features, weight files, LS fits.

A predictor for channel ``k`` is a small network ``PredictorNet`` from ``n_features(k)`` inputs to
one output ``y``; the prediction is ``N + 64 y`` (rounded, clipped). The inputs are pixel
differences divided by 64 (see ``feature_matrix``), so the network works on numbers of order 1
and learns a *correction* to the upper neighbour N: a network of zeros is the predictor "N".

* ``feature_matrix`` computes every pixel's features at once with NumPy (for training and for the
  least-squares fit); the compiled ``gather_features`` computes the same numbers one pixel at a
  time in the codec (the tests pin the two together);
* ``fit_output_layers`` fits, to one image, the linear output layer of each net (with the trained
  hidden layers: the adapted MLP; without: the image's best *linear* predictor);
* ``load_nets`` reads the trained MLPs of ``data/weights/<stem>.npz`` (written by
  ``fromscratch.training.mlp_predictive``); ``pack_nets`` lays any nets out for the kernels.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...data import BUNDLED_DIR
from ._kernels import BORDER_VALUE, FEATURE_SCALE, OUTPUT_SCALE, n_features

WEIGHTS_DIR = BUNDLED_DIR / "weights"
IRLS_ITERATIONS = 3  # reweighted least-squares passes after the first, plain one
FIT_SAMPLES = 1 << 16  # pixels per channel used to fit an output layer
#: Names the feature design in weight files, so that weights of another design are refused.
FEATURE_LAYOUT = (
    "v1: base N; channel k: (W, NW, NE, WW, NN) - N, then for each earlier channel p: "
    "(P, P_W, P_NW, P_NE) - P_N; all / 64; prediction = N + 64 * net"
)


@dataclass(frozen=True)
class PredictorNet:
    """Hidden layers ``h = LeakyReLU(W h + b)``, then a linear output reading ``[h, features]``.

    ``weights[l]`` float32 (out, in), ``biases[l]`` float32 (out,). The output layer has out = 1
    and in = last hidden width + n_features (or n_features alone when there is no hidden layer:
    a linear predictor).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    slope: float = 0.0

    @property
    def n_inputs(self) -> int:
        return int(self.weights[0].shape[1])


def check_nets(nets, channels: int, source: str) -> list[PredictorNet]:
    """One net per channel, of the right shapes and finite: ValueError naming ``source``."""
    nets = list(nets)
    if len(nets) < channels:
        raise ValueError(f"{source}: {len(nets)} networks for {channels} channels")
    for k, net in enumerate(nets[:channels]):
        if len(net.weights) != len(net.biases) or not net.weights:
            raise ValueError(f"{source}: channel {k} has {len(net.weights)} weight matrices and "
                             f"{len(net.biases)} bias vectors")
        n_in = width = n_features(k)
        for layer, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            last = layer == len(net.weights) - 1
            if last and layer > 0:
                width += n_in  # the output layer also reads the features (skip path)
            if w.ndim != 2 or w.shape[1] != width or b.shape != (w.shape[0],) or (
                last and w.shape[0] != 1
            ):
                raise ValueError(
                    f"{source}: channel {k} layer {layer} has weight {w.shape} and bias "
                    f"{b.shape}; expected ({'1' if last else 'out'}, {width}) and (out,)"
                )
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError(f"{source}: channel {k} layer {layer} is not finite")
            width = w.shape[0]
    return nets[:channels]


def pack_nets(nets: list[PredictorNet]):
    """Lay the nets out for the kernels: ``(params, layout, n_layers, slopes, width)``.

    ``params`` float32 (C, P): per layer, the weight row-major then the bias; ``layout`` int64
    (C, L + 1): the widths; ``width``: the widest layer (scratch size).
    """
    flat = [np.concatenate([np.concatenate([w.ravel(), b]) for w, b in
                            zip(net.weights, net.biases, strict=True)]) for net in nets]
    widths = [[net.n_inputs] + [w.shape[0] for w in net.weights] for net in nets]
    params = np.zeros((len(nets), max(f.size for f in flat)), np.float32)
    layout = np.zeros((len(nets), max(len(w) for w in widths)), np.int64)
    for k, (f, w) in enumerate(zip(flat, widths, strict=True)):
        params[k, : f.size] = f
        layout[k, : len(w)] = w
    n_layers = np.array([len(net.weights) for net in nets], np.int64)
    slopes = np.array([net.slope for net in nets], np.float32)
    return params, layout, n_layers, slopes, int(layout.max())


def fingerprint(nets: list[PredictorNet]) -> int:
    """CRC-32 of the packed nets: a stream records it, so only the same weights decode it."""
    params, layout, n_layers, slopes, _ = pack_nets(nets)
    crc = 0
    for array in (params, layout, n_layers, slopes):
        crc = zlib.crc32(np.ascontiguousarray(array).tobytes(), crc)
    return crc


# --- features, all pixels at once ------------------------------------------------------------


def neighbour_planes(plane: np.ndarray) -> dict[str, np.ndarray]:
    """``W, N, NW, NE, WW, NN`` of every pixel of a (H, W) plane, int64, borders as the kernel.

    Row 0 copies W into the upper neighbours, column 0 copies N into the left ones, NE past the
    last column is N, WW in column 1 is W, NN in row 1 is N, and pixel (0, 0) sees 128 all round.
    """
    x = plane.astype(np.int64)
    n = np.full_like(x, BORDER_VALUE)
    n[1:] = x[:-1]
    n[0, 1:] = x[0, :-1]  # row 0: "above" means "left"
    w = n.copy()  # column 0: "left" means "above"
    w[:, 1:] = x[:, :-1]
    nw, ne, ww, nn = n.copy(), n.copy(), w.copy(), n.copy()
    nw[1:, 1:] = x[:-1, :-1]
    ne[1:, :-1] = x[:-1, 1:]
    ww[:, 2:] = x[:, :-2]
    nn[2:] = x[:-2]
    return {"W": w, "N": n, "NW": nw, "NE": ne, "WW": ww, "NN": nn}


def feature_matrix(image: np.ndarray, channel: int) -> tuple[np.ndarray, np.ndarray]:
    """Features of every pixel of ``channel``: float32 (H*W, n_features(channel)), bases (H*W,).

    Row-major pixel order. Column order: (W, NW, NE, WW, NN) - N of the channel itself, then
    (P, P_W, P_NW, P_NE) - P_N for each earlier channel P; all times 1/64 (exact in float32).
    """
    image = image if image.ndim == 3 else image[:, :, None]
    own = neighbour_planes(image[:, :, channel])
    base = own["N"]
    columns = [own[name] - base for name in ("W", "NW", "NE", "WW", "NN")]
    for p in range(channel):
        other = neighbour_planes(image[:, :, p])
        here = image[:, :, p].astype(np.int64)
        columns += [v - other["N"] for v in (here, other["W"], other["NW"], other["NE"])]
    features = np.stack([c.ravel() for c in columns], axis=1).astype(np.float32)
    return features * np.float32(FEATURE_SCALE), base.ravel()


def hidden_activations(net: PredictorNet, features: np.ndarray) -> np.ndarray:
    """The last hidden layer of ``net`` for rows of features, float64 (n, width); for fitting."""
    h = features.astype(np.float64)
    for w, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        h = h @ w.T.astype(np.float64) + b
        h = np.where(h > 0, h, h * np.float64(np.float32(net.slope)))
    return h


def fit_output_layers(image: np.ndarray, nets=None, *, iterations: int = IRLS_ITERATIONS,
                      max_samples: int = FIT_SAMPLES) -> list[PredictorNet]:
    """Fit each channel's linear output layer to ``image``: least absolute error, by IRLS.

    The output reads ``[h, features, 1]`` (``h``: the hidden layers of ``nets[k]``, kept as
    they are) or ``[features, 1]`` without ``nets``: the per-image linear predictor. We want the
    weights ``v`` minimising ``sum_i |t_i - a_i . v|`` (residuals are Laplacian-like, so their
    code length grows with the mean absolute error, not the squared one), with ``t = (x - N) /
    64``. Iteratively reweighted least squares gets there: solve the weighted normal equations
    ``(A^T D A) v = A^T D t`` with ``D = diag(1 / max(|r_i|, 1/64))`` from the previous
    residuals ``r``, starting from ``D = I`` (ordinary least squares). A few dozen weights
    need far fewer than a photograph's pixels: the fit uses at most ``max_samples`` of them, a
    fixed pseudo-random subset (so the encoder is deterministic). Sums run in float64; the
    result is rounded to float32.
    """
    image = image if image.ndim == 3 else image[:, :, None]
    fitted = []
    for k in range(image.shape[2]):
        features, base = feature_matrix(image, k)
        target = (image[:, :, k].ravel().astype(np.float64) - base) / OUTPUT_SCALE
        hidden = nets is not None and len(nets[k].weights) > 1
        rows = np.arange(base.size)
        if base.size > max_samples:  # a fixed random subset: a regular grid can alias with
            # periodic structure in the image (scanner patterns) and fit worse
            rows = np.sort(np.random.default_rng(0).choice(base.size, max_samples, replace=False))
        parts = [hidden_activations(nets[k], features[rows])] if hidden else []
        a = np.concatenate([*parts, features[rows].astype(np.float64), np.ones((rows.size, 1))],
                           axis=1)
        t = target[rows]
        weight = np.ones(rows.size)
        for _ in range(iterations + 1):
            weighted = a * weight[:, None]
            # a whisker of ridge keeps flat images (constant columns) solvable
            normal = weighted.T @ a
            normal += np.eye(a.shape[1]) * (1e-9 * np.trace(normal) + 1e-12)
            solution = np.linalg.solve(normal, weighted.T @ t)
            weight = 1.0 / np.maximum(np.abs(t - a @ solution), 1.0 / OUTPUT_SCALE)
        solution = solution.astype(np.float32)
        fitted.append(with_output_layer(nets[k] if hidden else None, solution))
    return fitted


def with_output_layer(net: PredictorNet | None, coefficients: np.ndarray) -> PredictorNet:
    """``net``'s hidden layers (none if ``net`` is None) and the output layer ``coefficients``
    (float32: the weights, then the bias)."""
    weight, bias = coefficients[None, :-1], coefficients[-1:]
    if net is None or len(net.weights) == 1:
        return PredictorNet((weight,), (bias,), 0.0)
    return PredictorNet((*net.weights[:-1], weight), (*net.biases[:-1], bias), net.slope)


def fit_least_squares(image: np.ndarray, **kwargs) -> list[PredictorNet]:
    """The per-image linear predictor of each channel (``fit_output_layers`` without a net)."""
    return fit_output_layers(image, None, **kwargs)


# --- weight files ----------------------------------------------------------------------------


def weights_path(stem: str) -> Path:
    return WEIGHTS_DIR / f"{stem}.npz"


def nets_from_weights(weights, source: str) -> list[PredictorNet]:
    """Build the three channel nets from a loaded weight file (``nn.Weights``)."""
    from ... import nn  # imported here: the codec's other predictors do not need it

    hyper = weights.hyperparams
    if hyper.get("feature_layout") != FEATURE_LAYOUT:
        raise nn.WeightsError(
            f"{source}: made for feature layout {hyper.get('feature_layout')!r}, this codec "
            f"uses {FEATURE_LAYOUT!r}; retrain with `python -m fromscratch train mlp-predictive`"
        )
    slope = np.float32(hyper.get("negative_slope", 0.0))
    nets = []
    for k in range(3):
        weights_k, biases_k = [], []
        while f"channel{k}.layer{len(weights_k)}.weight" in weights.state:
            name = f"channel{k}.layer{len(weights_k)}"
            if f"{name}.bias" not in weights.state:
                raise nn.WeightsError(f"{source}: {name}.bias is missing")
            weights_k.append(np.asarray(weights.state[f"{name}.weight"], np.float32))
            biases_k.append(np.asarray(weights.state[f"{name}.bias"], np.float32))
        if not weights_k:
            raise nn.WeightsError(f"{source}: no layers for channel {k} (channel{k}.layer0.*)")
        nets.append(PredictorNet(tuple(weights_k), tuple(biases_k), float(slope)))
    try:
        return check_nets(nets, 3, source)
    except ValueError as exc:
        raise nn.WeightsError(str(exc)) from None


_CACHE: dict[tuple, list[PredictorNet]] = {}


def load_nets(stem: str) -> list[PredictorNet]:
    """The MLPs of ``data/weights/<stem>.npz`` (cached while the file is unchanged).

    Raises ``nn.WeightsError`` (a ValueError) naming the file if it is missing or does not fit.
    """
    from ... import nn

    path = weights_path(stem)
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key is not None and key in _CACHE:
        return _CACHE[key]
    nets = nets_from_weights(nn.load_weights(path), str(path))  # missing file: WeightsError
    if key is not None:
        _CACHE.clear()
        _CACHE[key] = nets
    return nets
