"""``balle2018``: the scale-hyperprior codec of Ballé et al. (2018), with real bytes.

::

    encode: pad to a multiple of 64 -> y = g_a(x) -> z = h_a(|y|)
            -> z symbols = round(z - medians)                  (factorized tables, one per channel)
            -> S = integer h_s(z_hat)  -> table index of every latent of y (integer comparisons)
            -> y symbols = round(y)                           (Gaussian tables, one per index)
    decode: z symbols -> S = integer h_s(z_hat) -> indexes -> y symbols -> x_hat = g_s(y_hat)

Payload, byte by byte (after the container header, which holds the image size)::

    bytes 0..3     length L of the z stream, unsigned big-endian
    bytes 4..4+L   z stream: range coder, CDF tables per channel of z (``encode_with_indexes``),
                   N x ceil(H/64) x ceil(W/64) symbols in C order (channel, row, column)
    the rest       y stream: range coder, one of the 64 Gaussian tables per symbol,
                   M x 4 ceil(H/64) x 4 ceil(W/64) symbols in C order

The same tables on every machine
--------------------------------
The decoder must choose, for every latent of ``y``, the very table the encoder chose; one
different choice and the range decoder reads the rest of the stream with the wrong
probabilities. The choice depends on ``h_s(z_hat)``, a network. Run in floating point, its output
differs by a few ulps between machines, BLAS libraries and NumPy/CuPy, and a scale next to a
table boundary changes sides (``tests/test_balle2018.py`` shows a naive float decoder fail that
way). So the codec never runs a float ``h_s``:

1. at export, ``h_s`` is converted to an :class:`~fromscratch.nn.integer.IntegerNetwork` (weights
   ``round(w 2^14)``, activations with 12 fractional bits, exact integer sums, shifts, integer
   ReLU), stored as integers in the weight file;
2. its input is integer too: ``Z = symbol * 2^12 + round(median * 2^12)``, the median's integer
   stored in the weight file;
3. the table boundaries are integers, ``T_i = floor(s_i 2^12)`` for the tabulated scales ``s_i``,
   and the index of a latent is ``#{i < 63 : S > T_i}`` (the smallest tabulated scale at least the
   predicted one), an integer comparison.

Integer sums are exact, so every step gives the same integers on every machine and backend: the
failure cannot happen by construction. (``g_a``, ``h_a`` and ``g_s`` stay floating point: the
encoder's float choices are *sent*, and the synthesis only moves pixels by rounding.)

:func:`LoadedModel.estimated_bits` is ``-sum log2 p`` of the symbols under the densities the coder
uses (the factorized density of ``z``, the Gaussian of the chosen tabulated scale for ``y``), with
a value outside its table charged as the coder charges it, the escape symbol plus raw bits
(``entropy.indexed_coder.escape_code_lengths``): the Gaussian's tail would charge it up to 30 bits
(the likelihood bound of training, 1e-9) for what costs the coder about 20. The real payload then
differs from the estimate only by the 16-bit quantization of the tables and the coder's
termination. ``quality`` picks ``data/weights/balle2018_q<quality>.npz``.

``refine=R`` lets the encoder search (:mod:`~fromscratch.codecs.balle2017.refine`): ``z`` stays
as the analysis chose it, so the table of every latent of ``y`` is known, and R steps of
gradient descent move ``y`` against the Gaussian rate under those tables plus ``lambda`` times
the distortion of ``g_s``'s output; the best rounded ``y`` seen is coded. The decoder is the
same, and :meth:`Balle2018Codec.estimated_bits` counts the refined symbols.

Memory is bounded as in chapter 4's codec: the transforms run under ``nn.no_grad()`` (no caches,
convolutions in row bands), and an image whose estimated peak memory exceeds
``fromscratch.codecs.balle2017.codec.MEMORY_LIMIT`` (2 GB) is refused before anything is allocated,
``ValueError`` on encode and ``BitstreamError`` for a header claiming such a size.
"""

from __future__ import annotations

import functools
import math
import struct
from pathlib import Path
from typing import ClassVar

import numpy as np

from ... import backend, nn
from ...bitstream import BitstreamError
from ...data import REPO_ROOT
from ...entropy import range_coder
from ...entropy.cdf_tables import validate_cdf_tables
from ...entropy.indexed_coder import escape_code_lengths
from ...nn.entropy_bottleneck import likelihood_forward
from ...nn.gaussian_conditional import gaussian_likelihood_forward
from ...nn.integer import IntegerNetwork
from ..balle2017.codec import (
    REFINE_PARAMETER,
    check_memory,
    coding_peak_bytes,
    image_batch,
    missing_weights,
    output_image,
    qualities_in,
    refinement_target,
)
from ..balle2017.refine import gaussian_rate, refine_latents
from ..base import ContainerCodec, Parameter, register
from .model import STRIDE, Balle2018

__all__ = [
    "WEIGHTS_DIR",
    "Balle2018Codec",
    "LoadedModel",
    "available_qualities",
    "index_thresholds",
    "indexes_from_integer_scales",
    "load_model",
    "weights_path",
]

WEIGHTS_DIR = REPO_ROOT / "data" / "weights"
#: Decoded z symbols beyond this are refused (and the encoder clips to it): no trained model comes
#: near, and the bound keeps the integer hyper-synthesis's input under 2^24.
MAX_Z_SYMBOL = 2**11 - 1


def weights_path(quality: int) -> Path:
    """The shipped weight file of ``quality`` (1 = lowest rate)."""
    return WEIGHTS_DIR / f"balle2018_q{quality}.npz"


def available_qualities() -> tuple[int, ...]:
    """Qualities whose weight files are present, ascending."""
    return qualities_in(WEIGHTS_DIR, "balle2018")


def index_thresholds(table, activation_bits: int) -> np.ndarray:
    """Integer boundaries ``floor(s_i 2^F)`` of all but the last tabulated scale (int64)."""
    return np.floor(np.asarray(table, np.float64)[:-1] * 2.0**activation_bits).astype(np.int64)


def indexes_from_integer_scales(scales_int: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``#{i : S > T_i}`` for every integer scale ``S``: the table index, by integer comparisons."""
    return np.searchsorted(thresholds, np.asarray(scales_int, np.int64), side="left").astype(
        np.int32)


class LoadedModel:
    """A trained model ready to code: float g_a, h_a, g_s; integer h_s; validated tables."""

    def __init__(self, path):
        path = Path(path)
        weights = nn.load_weights(path)
        hyper = weights.hyperparams
        if hyper.get("kind") != "balle2018":
            raise nn.WeightsError(f"{path}: not a balle2018 weight file (kind={hyper.get('kind')})")
        try:
            self.model = Balle2018(int(hyper["n"]), int(hyper["m"]), rng=0, xp=np)
            self.model.load_state_dict(weights.state, source=str(path))
            extra = weights.extra
            self.z_tables = validate_cdf_tables(extra["z_cdfs"], extra["z_cdf_lengths"],
                                                extra["z_offsets"])
            self.y_tables = validate_cdf_tables(extra["y_cdfs"], extra["y_cdf_lengths"],
                                                extra["y_offsets"])
            self.z_medians = np.asarray(extra["z_medians"], np.float32)
            self.z_medians_int = np.asarray(extra["z_medians_int"], np.int64)
            self.scale_table = np.asarray(extra["scale_table"], np.float64)
            self.thresholds = np.asarray(extra["thresholds"], np.int64)
            self.h_s_int = IntegerNetwork.from_arrays(extra, "h_s_int/")
        except (KeyError, ValueError) as exc:
            raise nn.WeightsError(f"{path}: {exc}") from None
        n, m = self.model.n, self.model.m
        if (self.z_tables[0].shape[0] != n or self.z_medians.shape != (n,)
                or self.z_medians_int.shape != (n,)
                or self.y_tables[0].shape[0] != self.scale_table.size
                or self.thresholds.shape != (self.scale_table.size - 1,)):
            raise nn.WeightsError(f"{path}: tables do not match the model (N={n}, M={m})")
        self.model.eval()
        self.path, self.hyperparams = path, hyper

    # ---- the float transforms -----------------------------------------------------------------
    def analysis(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) -> ``(y, z)``, float32 (M, 4h, 4w) and (N, h, w), h = ceil(H / 64)."""
        self.model.to(backend.current_backend())
        xp = backend.get_xp()
        with nn.no_grad():  # no backward caches; convolutions in row bands (chapter 4's codec)
            y = self.model.g_a.forward(image_batch(image, STRIDE, xp))
            z = self.model.h_a.forward(xp.abs(y))
        return backend.to_numpy(y[0]), backend.to_numpy(z[0])

    def synthesis(self, y_hat: np.ndarray, shape) -> np.ndarray:
        """Latents (M, h, w) -> uint8 image of ``shape`` ((H, W) or (H, W, 3))."""
        self.model.to(backend.current_backend())
        xp = backend.get_xp()
        with nn.no_grad():
            x_hat = backend.to_numpy(self.model.g_s.forward(xp.asarray(y_hat[None]))[0])
        return output_image(x_hat, shape)

    def check_memory(self, height: int, width: int, error=ValueError) -> None:
        """Refuse an image whose estimated peak memory exceeds chapter 4's ``MEMORY_LIMIT``."""
        need = coding_peak_bytes(self.model.g_a, self.model.g_s, self.model.m, height, width)
        check_memory("balle2018", need, height, width, error)

    # ---- symbols and tables -------------------------------------------------------------------
    def z_symbols(self, z: np.ndarray) -> np.ndarray:
        """Quantize z around its medians: int32 (N, h, w)."""
        return np.rint(z - self.z_medians[:, None, None]).astype(np.int32)

    def integer_scales(self, z_symbols: np.ndarray) -> np.ndarray:
        """The integer hyper-synthesis on ``Z = symbol 2^F + median_int``: int64 (M, 4h, 4w)."""
        bits = self.h_s_int.activation_bits
        z_int = (z_symbols.astype(np.int64) << bits) + self.z_medians_int[:, None, None]
        return self.h_s_int.forward(z_int[None])[0]

    def y_indexes(self, z_symbols: np.ndarray) -> np.ndarray:
        """Table index of every latent of y, int32 (M, 4h, 4w): integers only (module docstring)."""
        return indexes_from_integer_scales(self.integer_scales(z_symbols), self.thresholds)

    def z_channel_indexes(self, shape) -> np.ndarray:
        return np.broadcast_to(np.arange(shape[0], dtype=np.int32)[:, None, None], shape).ravel()

    def estimated_bits(self, z_symbols: np.ndarray, y_symbols: np.ndarray) -> tuple[float, float]:
        """``(bits of z, bits of y)``: ``-sum log2 p`` under the densities the coder uses."""
        eb = self.model.entropy_bottleneck
        values = (z_symbols + self.z_medians[:, None, None]).astype(np.float64)
        host = [[np.asarray(p.data, np.float64) for p in group]
                for group in (eb.matrices, eb.biases, eb.factors)]
        z_lik, _ = likelihood_forward(values.reshape(values.shape[0], 1, -1), *host)
        z_bits = -np.log2(np.maximum(z_lik, eb.likelihood_bound)).reshape(z_symbols.shape)
        _charge_escapes(z_bits, z_symbols, self.z_channel_indexes(z_symbols.shape), self.z_tables)
        return float(z_bits.sum()), self.y_estimated_bits(y_symbols, self.y_indexes(z_symbols))

    def y_estimated_bits(self, y_symbols: np.ndarray, y_indexes: np.ndarray) -> float:
        """``-sum log2 p`` of y under the Gaussians of the tables ``y_indexes`` picks, a value
        outside its table charged the coder's escape cost (:func:`_charge_escapes`)."""
        y_lik, _ = gaussian_likelihood_forward(y_symbols.astype(np.float64),
                                               self.scale_table[y_indexes])
        y_bits = -np.log2(np.maximum(y_lik, self.model.entropy_bottleneck.likelihood_bound))
        _charge_escapes(y_bits, y_symbols, y_indexes, self.y_tables)
        return float(y_bits.sum())

    def latent_shapes(self, height: int, width: int):
        """Shapes of y (M, 4h, 4w) and z (N, h, w) for an image of height x width."""
        h, w = math.ceil(height / STRIDE), math.ceil(width / STRIDE)
        return (self.model.m, 4 * h, 4 * w), (self.model.n, h, w)


def _charge_escapes(bits, symbols, indexes, tables) -> None:
    """Where the coder escapes a value (outside its table), put what the coder charges into
    ``bits`` (the escape symbol plus raw bits) in place of the density's tail."""
    escaped, escape_bits = escape_code_lengths(np.ravel(symbols), np.ravel(indexes), *tables)
    np.copyto(bits, escape_bits.reshape(bits.shape), where=escaped.reshape(bits.shape))


@functools.lru_cache(maxsize=8)
def load_model(path: str) -> LoadedModel:
    """Load (once per process) the weight file at ``path``."""
    return LoadedModel(path)


@register
class Balle2018Codec(ContainerCodec):
    """Scale hyperprior: side information z predicts a Gaussian scale per latent (2018)."""

    name = "balle2018"
    description = "CNN + GDN + scale hyperprior (Ballé et al. 2018, chapter 6)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(1, int, low=1, high=99,
                             help="which trained model: 1 = lowest rate (data/weights)"),
        "refine": REFINE_PARAMETER,
    }

    settings = tuple({"quality": q} for q in available_qualities())  # empty until trained

    def model(self) -> LoadedModel:
        path = weights_path(self.params["quality"])
        if not path.exists():
            raise missing_weights(path, self.params["quality"], self.name, available_qualities())
        return load_model(str(path))

    def symbols(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(z_symbols, y_symbols)`` of an image, int32 (N, h, w) and (M, 4h, 4w)."""
        loaded = self.model()
        loaded.check_memory(*image.shape[:2], ValueError)
        rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
        y, z = loaded.analysis(rgb)
        z_symbols = np.clip(loaded.z_symbols(z), -MAX_Z_SYMBOL, MAX_Z_SYMBOL)
        if self.params["refine"]:
            # z as the analysis chose it; y searched for the scales z gives (balle2017.refine)
            xp = backend.get_xp()
            target = refinement_target(self.name, loaded.model.n, rgb, STRIDE, xp)
            scales = xp.asarray(loaded.scale_table[loaded.y_indexes(z_symbols)])
            y, _ = refine_latents(loaded.model.g_s, xp.asarray(y), target,
                                  float(loaded.hyperparams["lmbda"]), gaussian_rate(scales),
                                  valid=rgb.shape[:2], iterations=self.params["refine"])
            y = backend.to_numpy(y)
        return z_symbols, np.rint(y).astype(np.int32)

    def estimated_bits(self, image: np.ndarray) -> tuple[float, float]:
        """``(bits of z, bits of y)`` the densities predict for ``image`` (see the docstring)."""
        return self.model().estimated_bits(*self.symbols(image))

    def encode_payload(self, image: np.ndarray) -> bytes:
        loaded = self.model()
        z_symbols, y_symbols = self.symbols(image)
        z_stream = range_coder.encode_with_indexes(
            z_symbols.ravel(), loaded.z_channel_indexes(z_symbols.shape), *loaded.z_tables)
        y_stream = range_coder.encode_with_indexes(
            y_symbols.ravel(), loaded.y_indexes(z_symbols).ravel(), *loaded.y_tables)
        return struct.pack(">I", len(z_stream)) + z_stream + y_stream

    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        height, width = shape[:2]
        self.model().check_memory(height, width, BitstreamError)
        if len(payload) < 4:
            raise BitstreamError(f"balle2018 payload of {len(payload)} bytes: no z length")
        (z_length,) = struct.unpack(">I", payload[:4])
        if z_length > len(payload) - 4:
            raise BitstreamError(f"z stream of {z_length} bytes claimed, "
                                 f"{len(payload) - 4} present")
        loaded = self.model()
        y_shape, z_shape = loaded.latent_shapes(height, width)
        z_symbols = range_coder.decode_with_indexes(
            payload[4:4 + z_length], loaded.z_channel_indexes(z_shape),
            *loaded.z_tables).reshape(z_shape)
        if np.abs(z_symbols.astype(np.int64)).max(initial=0) > MAX_Z_SYMBOL:
            raise BitstreamError("decoded side information is out of any plausible range")
        y_symbols = range_coder.decode_with_indexes(
            payload[4 + z_length:], loaded.y_indexes(z_symbols).ravel(), *loaded.y_tables)
        y_hat = y_symbols.reshape(y_shape).astype(np.float32)
        if np.abs(y_hat).max(initial=0) > 1e6:
            raise BitstreamError("decoded latents are out of any plausible range")
        return loaded.synthesis(y_hat, shape)
