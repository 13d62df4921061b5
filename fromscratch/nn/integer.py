"""Integer networks: a trained convolutional net evaluated with integers only, bit-exact anywhere.

The problem
-----------
A learned codec whose *decoder* runs a network to choose its probability tables (chapter 6's
hyper-synthesis picks one of 64 Gaussian tables per latent) must compute the same choice as the
encoder, bit for bit. Floating point does not promise that: a different BLAS, summation order,
fused multiply-add, CPU or GPU (NumPy vs CuPy) changes the last bits of a convolution, a scale
that sat next to a table boundary crosses it, the decoder picks another table, and every symbol
after that is decoded from the wrong distribution - garbage. CompressAI's users meet it as
"decoding on another device gives garbage"; Ballé, Johnston & Minnen ("Integer networks for data
compression with latent-variable models", ICLR 2019) fixed it by running that network in integers.

The fix
-------
Every number becomes a fixed-point integer: an activation ``a`` is stored as ``A = a * 2^F``
(``F`` = ``activation_bits``), a weight as ``W = round(w * 2^G)`` (``G`` = ``weight_bits``), a
bias as ``B = round(b * 2^(F+G))``. A layer is then::

    acc = sum W * A + B           exact: the order of the sum cannot matter
    A'  = acc >> G                 an arithmetic shift: floor(acc / 2^G), back to scale 2^F
    A'  = clip(A', 0, 2^24 - 1)    the ReLU, and a ceiling that keeps the next sum exact

Integer addition is associative, so NumPy, CuPy, a pure-Python loop and any BLAS or none give the
identical result (``tests/test_nn_integer.py`` checks NumPy against a pure-Python twin). The bounds
are checked when the network is built: ``|W| < 2^16``, inputs and activations below ``2^24``, at
most ``2^12`` terms per sum and ``|B| < 2^40``, so every partial sum stays below
``2^12 * 2^16 * 2^24 + 2^40 = 2^52 + 2^40 < 2^53`` (a 5 x 5 layer of N = 128 channels sums 3 200
terms, the hyperprior of CompressAI's lower-rate models).

That last bound buys speed. Below ``2^53`` every integer is a float64 and every sum or product of
two of them that stays below ``2^53`` is computed *exactly* by IEEE arithmetic, fused
multiply-adds included, in any order. So the sums run as float64 matrix products on the fast BLAS
(NumPy has no BLAS for int64: ten times slower here), and the results are integers, exactly.

The price is the rounding of the weights (``2^-G`` absolute) and of the activations (``2^-F``),
far below anything that matters for choosing among scales 13 % apart; the codec measures it.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d, ConvTranspose2d, conv2d_forward, conv_transpose2d_forward
from .layers import ReLU
from .module import Sequential

__all__ = ["ACTIVATION_LIMIT", "IntegerNetwork", "integer_network_reference"]

#: Activations (and inputs) are clipped to ``[-2^24 + 1, 2^24 - 1]``; weights must be below 2^16.
ACTIVATION_LIMIT = 2**24 - 1
WEIGHT_LIMIT = 2**16
MAX_TERMS = 2**12


class IntegerNetwork:
    """A ``Sequential`` of Conv2d / ConvTranspose2d / ReLU run in int64 fixed point.

    Parameters
    ----------
    layers : list of dict
        One dict per convolution: ``kind`` ("conv" or "deconv"), ``weight`` and ``bias``
        (int64 arrays), ``stride``, ``padding``, ``output_padding`` and ``relu`` (apply the ReLU).
    activation_bits, weight_bits : int
        ``F`` and ``G`` of the module docstring.

    Build one from a float network with :meth:`from_float`; store it with :meth:`arrays` and
    :meth:`from_arrays` (integers only: a weight file holds it exactly).
    """

    def __init__(self, layers, activation_bits: int, weight_bits: int):
        self.layers = layers
        self.activation_bits = int(activation_bits)
        self.weight_bits = int(weight_bits)
        for k, layer in enumerate(layers):
            w, b = layer["weight"], layer["bias"]
            if w.dtype != np.int64 or b.dtype != np.int64 or w.ndim != 4 or b.ndim != 1:
                raise ValueError(f"integer layer {k}: int64 4-D weight and 1-D bias expected")
            if np.abs(w).max(initial=0) >= WEIGHT_LIMIT:
                raise ValueError(f"integer layer {k}: a weight reaches 2^16; use fewer weight bits")
            terms = w.shape[0 if layer["kind"] == "deconv" else 1] * w.shape[2] * w.shape[3]
            if terms > MAX_TERMS:
                raise ValueError(f"integer layer {k}: {terms} terms per sum exceed 2^12")
            if np.abs(b).max(initial=0) >= 2**40:
                raise ValueError(f"integer layer {k}: a bias reaches 2^40")

    @classmethod
    def from_float(cls, net: Sequential, activation_bits: int = 12,
                   weight_bits: int = 14) -> IntegerNetwork:
        """Quantize a trained float network: ``round(w 2^G)``, ``round(b 2^(F+G))``."""
        layers, modules = [], list(net)
        for k, module in enumerate(modules):
            if isinstance(module, ReLU):
                continue
            if not isinstance(module, (Conv2d, ConvTranspose2d)):
                raise ValueError(f"layer {k}: {type(module).__name__} has no integer version")
            w = np.asarray(module.weight.data, np.float64)
            b = (np.zeros(module.out_channels) if module.bias is None
                 else np.asarray(module.bias.data, np.float64))
            relu = k + 1 < len(modules) and isinstance(modules[k + 1], ReLU)
            layers.append({
                "kind": "deconv" if isinstance(module, ConvTranspose2d) else "conv",
                "weight": np.rint(w * 2.0**weight_bits).astype(np.int64),
                "bias": np.rint(b * 2.0 ** (activation_bits + weight_bits)).astype(np.int64),
                "stride": module.stride, "padding": module.padding,
                "output_padding": getattr(module, "output_padding", (0, 0)), "relu": relu})
        return cls(layers, activation_bits, weight_bits)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Every integer of the network as ``{prefix + name: array}`` (for a weight file).

        Weights are stored as int32 (they are below 2^16), biases as int64.
        """
        out = {f"{prefix}bits": np.array([self.activation_bits, self.weight_bits], np.int64)}
        for k, layer in enumerate(self.layers):
            geometry = [layer["kind"] == "deconv", *layer["stride"], *layer["padding"],
                        *layer["output_padding"], layer["relu"]]
            out[f"{prefix}{k}/weight"] = layer["weight"].astype(np.int32)  # |W| < 2^16
            out[f"{prefix}{k}/bias"] = layer["bias"]
            out[f"{prefix}{k}/geometry"] = np.array(geometry, np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> IntegerNetwork:
        """Rebuild from :meth:`arrays`' output (ValueError on anything malformed)."""
        try:
            activation_bits, weight_bits = (int(v) for v in arrays[f"{prefix}bits"])
            layers, k = [], 0
            while f"{prefix}{k}/weight" in arrays:
                g = [int(v) for v in arrays[f"{prefix}{k}/geometry"]]
                if len(g) != 8:
                    raise ValueError(f"layer {k}: geometry needs 8 integers")
                layers.append({"kind": "deconv" if g[0] else "conv",
                               "weight": np.asarray(arrays[f"{prefix}{k}/weight"], np.int64),
                               "bias": np.asarray(arrays[f"{prefix}{k}/bias"]),
                               "stride": (g[1], g[2]), "padding": (g[3], g[4]),
                               "output_padding": (g[5], g[6]), "relu": bool(g[7])})
                k += 1
        except (KeyError, TypeError) as exc:
            raise ValueError(f"integer network {prefix!r}: {exc}") from None
        if not layers:
            raise ValueError(f"integer network {prefix!r}: no layers")
        return cls(layers, activation_bits, weight_bits)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """int64 (N, C, H, W) fixed-point input (scale 2^F) -> int64 output (scale 2^F).

        The sums run in float64, exact by the bounds of the module docstring.
        """
        x = np.clip(np.asarray(x, np.int64), -ACTIVATION_LIMIT, ACTIVATION_LIMIT)
        for layer in self.layers:
            w, b = layer["weight"].astype(np.float64), layer["bias"].astype(np.float64)
            if layer["kind"] == "deconv":
                acc, _ = conv_transpose2d_forward(x.astype(np.float64), w, b, layer["stride"],
                                                  layer["padding"], layer["output_padding"])
            else:
                acc, _ = conv2d_forward(x.astype(np.float64), w, b, layer["stride"],
                                        layer["padding"])
            x = acc.astype(np.int64) >> self.weight_bits
            low = 0 if layer["relu"] else -ACTIVATION_LIMIT
            x = np.clip(x, low, ACTIVATION_LIMIT)
        return x


def integer_network_reference(network: IntegerNetwork, x) -> list:
    """:meth:`IntegerNetwork.forward` for one image in pure Python (nested lists of ints).

    Slow and plain - the definition of a convolution with Python's unbounded integers - so a
    test can show the NumPy version gives exactly these numbers. ``x``: nested lists (C, H, W).
    """
    limit = ACTIVATION_LIMIT
    x = [[[max(-limit, min(limit, int(v))) for v in row] for row in ch] for ch in x]
    for layer in network.layers:
        w, b = layer["weight"].tolist(), layer["bias"].tolist()
        (sh, sw), (ph, pw) = layer["stride"], layer["padding"]
        c_in, h, width = len(x), len(x[0]), len(x[0][0])
        if layer["kind"] == "conv":
            c_out, kh, kw = len(w), len(w[0][0]), len(w[0][0][0])
            out_h, out_w = (h + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
            acc = [[[b[f]] * out_w for _ in range(out_h)] for f in range(c_out)]
            for f in range(c_out):
                for oh in range(out_h):
                    for ow in range(out_w):
                        total = acc[f][oh][ow]
                        for c in range(c_in):
                            for i in range(kh):
                                for j in range(kw):
                                    r, s = oh * sh + i - ph, ow * sw + j - pw
                                    if 0 <= r < h and 0 <= s < width:
                                        total += w[f][c][i][j] * x[c][r][s]
                        acc[f][oh][ow] = total
        else:
            c_out, kh, kw = len(w[0]), len(w[0][0]), len(w[0][0][0])
            oph, opw = layer["output_padding"]
            out_h = (h - 1) * sh - 2 * ph + kh + oph
            out_w = (width - 1) * sw - 2 * pw + kw + opw
            acc = [[[b[f]] * out_w for _ in range(out_h)] for f in range(c_out)]
            for c in range(c_in):
                for r in range(h):
                    for s in range(width):
                        for f in range(c_out):
                            for i in range(kh):
                                for j in range(kw):
                                    oh, ow = r * sh + i - ph, s * sw + j - pw
                                    if 0 <= oh < out_h and 0 <= ow < out_w:
                                        acc[f][oh][ow] += w[c][f][i][j] * x[c][r][s]
        low = 0 if layer["relu"] else -limit
        x = [[[max(low, min(limit, v >> network.weight_bits)) for v in row] for row in ch]
             for ch in acc]
    return x
