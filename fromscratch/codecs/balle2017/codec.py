"""``balle2017``: the learned transform codec of Ballé et al. (2017), with real bytes.

The trained network (``model``) becomes a codec in five steps::

    encode: pad to a multiple of 16 -> y = g_a(x) -> symbols = round(y - medians)
            -> range coder with one integer CDF table per latent channel -> payload
    decode: payload -> symbols -> y_hat = symbols + medians -> x_hat = g_s(y_hat) -> crop

* **Any image size.** The image is padded (edge pixels repeated) to a multiple of the model's
  stride and the decoder crops back to the size in the container header: 1025 x 683 works.
  Gray images are coded as three equal channels and come back gray (the mean of the three).
* **The real rate.** The container's bytes are the rate; :func:`estimated_bits` gives the density's
  estimate ``-sum(log2 p)`` beside it for inspection, never instead of it.
* **Integer tables.** The CDF tables are stored in the weight file, derived once from the trained
  density with integer arithmetic (``training.balle2017.export_weights``). The decoder never
  evaluates the density, so every machine and backend turns the same bytes into the same latents
  (the synthesis is floating point, so pixels may differ by rounding across machines; the
  latents, and hence the bitstream, cannot).
* **Ready on load.** Loading a weight file yields a working codec; there is no "update" step.
* **Bounded memory.** The transforms run under ``nn.no_grad()``: no backward caches, convolutions
  in row bands, GDN in place (``nn.conv_banded``). A 12-megapixel photo (4000 x 3000) codes in
  about 1.3 GB of peak resident memory, encode and decode alike (``benchmarks/memory_bench.py``).
  The size limit is that memory, not a pixel count: before allocating anything, encode and decode
  estimate their peak (:meth:`LoadedModel.peak_bytes`: the process itself, the image buffers and
  the largest activations, ``nn.inference_peak_bytes``) and refuse an image whose estimate
  exceeds :data:`MEMORY_LIMIT` (2 GB: about 18 megapixels at 4:3; 4096 x 4096 codes) with a
  ``ValueError`` (encode) or a ``BitstreamError`` (a header claiming such a size), never an
  out-of-memory kill. Set ``balle2017.codec.MEMORY_LIMIT`` higher on a machine with more memory.

* **An encoder that can search.** ``refine=R`` (0 by default) runs R steps of gradient descent
  on the latents of the image being coded, against the model's own rate-distortion loss, and
  sends the best rounded latents it saw (:mod:`~fromscratch.codecs.balle2017.refine`): each step
  costs about two encodings' time, the stream format is the same, any decoder reads it, and the
  setting is not written into the stream.

``quality`` picks one of the shipped models, ``data/weights/balle2017_q<quality>.npz``, 1 being
the lowest rate. Latent values outside a table's support are escaped by the coder, so any input
image can be coded.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import ClassVar

import numpy as np

from ... import backend, nn
from ...bitstream import BitstreamError
from ...data import REPO_ROOT
from ...entropy import range_coder
from ...entropy.cdf_tables import validate_cdf_tables
from ...nn.entropy_bottleneck import likelihood_forward
from ..base import ContainerCodec, Parameter, register
from .model import STRIDE, Balle2017
from .refine import factorized_rate, refine_latents, search_peak_bytes

__all__ = [
    "MEMORY_LIMIT",
    "WEIGHTS_DIR",
    "Balle2017Codec",
    "LoadedModel",
    "available_qualities",
    "check_memory",
    "coding_peak_bytes",
    "image_batch",
    "load_model",
    "missing_weights",
    "output_image",
    "qualities_in",
    "weights_path",
]

WEIGHTS_DIR = REPO_ROOT / "data" / "weights"
#: Largest estimated peak memory (bytes) of one encode or decode; larger images are refused.
MEMORY_LIMIT = 2 * 10**9
#: The ``refine`` parameter of the learned codecs: encoder iterations of latent refinement.
REFINE_PARAMETER = Parameter(0, int, low=0, high=1000, in_stream=False,
                             help="encoder iterations of latent refinement for this image "
                                  "(0: off); slower encoding, the same stream and decoder")
#: Resident memory of the process before the image (interpreter, NumPy, compiled kernels, weights),
#: measured on Linux/x86-64 with a warm kernel cache, rounded up.
BASELINE_BYTES = 300 * 10**6


def weights_path(quality: int, family: str = "balle2017") -> Path:
    """The shipped weight file of ``quality`` (1 = lowest rate)."""
    return WEIGHTS_DIR / f"{family}_q{quality}.npz"


def available_qualities(family: str = "balle2017") -> tuple[int, ...]:
    """Qualities whose weight files ``<family>_q<quality>.npz`` are present, ascending."""
    return qualities_in(WEIGHTS_DIR, family)


# --- shared by the learned codecs with one weight file per quality (chapters 4 and 6) -----------


def qualities_in(folder: Path, codec: str) -> tuple[int, ...]:
    """Qualities ``q`` with a file ``<codec>_q<q>.npz`` in ``folder``, ascending."""
    prefix = f"{codec}_q"
    return tuple(sorted(int(p.stem.removeprefix(prefix)) for p in folder.glob(f"{prefix}*.npz")
                        if p.stem.removeprefix(prefix).isdigit()))


def missing_weights(path: Path, quality: int, codec: str, have) -> nn.WeightsError:
    """The error for a quality without a weight file, naming it and the ones there are."""
    have = ", ".join(map(str, have)) or "none"
    return nn.WeightsError(f"{path}: no weights for quality {quality} (available: {have}); "
                           f"train them with `python -m fromscratch train {codec}`")


def image_batch(image: np.ndarray, stride: int, xp=None):
    """uint8 (H, W, 3) -> float32 (1, 3, H', W') in [0, 1], edges repeated to multiples of stride.

    On the current backend unless ``xp`` is given; divided in place (a 12-megapixel float32
    image is 144 MB a copy).
    """
    xp = backend.get_xp() if xp is None else xp
    height, width = image.shape[:2]
    padded = np.pad(image, ((0, -height % stride), (0, -width % stride), (0, 0)), mode="edge")
    x = xp.asarray(padded.transpose(2, 0, 1)[None], dtype=xp.float32)
    x /= 255.0
    return x


def output_image(x_hat: np.ndarray, shape) -> np.ndarray:
    """Synthesis output (3, H', W') -> uint8 image of ``shape``: cropped, rounded, gray if asked."""
    height, width = shape[:2]
    pixels = x_hat[:, :height, :width]
    pixels *= 255.0  # in place: a 12-megapixel float32 image is 144 MB a copy
    np.clip(np.rint(pixels, out=pixels), 0, 255, out=pixels)
    rgb = pixels.astype(np.uint8).transpose(1, 2, 0)
    if len(shape) == 2:  # gray images are coded as three equal channels
        return np.rint(rgb.mean(axis=2)).astype(np.uint8)
    return rgb


def refinement_target(codec: str, hidden_channels: int, rgb: np.ndarray, stride: int, xp):
    """The padded image (1, 3, H', W') that latent refinement compares ``g_s``'s output with.

    The search keeps ``g_s``'s training caches (:func:`~fromscratch.codecs.balle2017.refine.
    search_peak_bytes`): an image for which they and :data:`BASELINE_BYTES` exceed
    :data:`MEMORY_LIMIT` is refused with a ``ValueError`` (it still codes with ``refine=0``).
    """
    height, width = rgb.shape[:2]
    padded = (-(-height // stride) * stride) * (-(-width // stride) * stride)
    need = BASELINE_BYTES + search_peak_bytes(hidden_channels, padded)
    if need > MEMORY_LIMIT:
        raise ValueError(f"{codec}: refining the latents of a {width} x {height} image needs "
                         f"about {need / 1e9:.1f} GB of memory, more than "
                         f"{MEMORY_LIMIT / 1e9:.1f} GB (MEMORY_LIMIT); encode it with refine=0")
    return image_batch(rgb, stride, xp)


def coding_peak_bytes(g_a, g_s, latent_channels: int, height: int, width: int) -> int:
    """Estimated peak resident memory (bytes) of coding a ``height x width`` image.

    ``BASELINE_BYTES`` + the uint8 image and its padded copy + the larger of the analysis' and
    the synthesis' inference peaks (``nn.inference_peak_bytes``, float32; the analysis' input is
    handed over, so freed after the first layer). The hyperprior's small networks (chapter 6)
    run on 64 times fewer positions and fit in the margin of the baseline.
    """
    padded_h, padded_w = -(-height // STRIDE) * STRIDE, -(-width // STRIDE) * STRIDE
    latent = (1, latent_channels, padded_h // STRIDE, padded_w // STRIDE)
    images = 3 * (height * width + padded_h * padded_w)
    transforms = max(nn.inference_peak_bytes(g_a, (1, 3, padded_h, padded_w), input_held=False),
                     nn.inference_peak_bytes(g_s, latent))
    return BASELINE_BYTES + images + transforms


def check_memory(codec: str, need: int, height: int, width: int, error=ValueError) -> None:
    """Raise ``error`` if ``need`` bytes for a ``height x width`` image exceed MEMORY_LIMIT."""
    if need > MEMORY_LIMIT:
        raise error(f"{codec}: a {width} x {height} image needs about {need / 1e9:.1f} GB "
                    f"of memory; it codes at most {MEMORY_LIMIT / 1e9:.1f} GB "
                    "(fromscratch.codecs.balle2017.codec.MEMORY_LIMIT)")


class LoadedModel:
    """A trained model ready to code: network, medians and validated integer CDF tables.

    ``kind`` is the weight file's expected kind: ``"balle2017"``, or ``"gan2017"`` for the same
    network with an adversarially fine-tuned synthesis (chapter 5).
    """

    def __init__(self, path, kind: str = "balle2017"):
        path = Path(path)
        weights = nn.load_weights(path)
        hyper = weights.hyperparams
        if hyper.get("kind") != kind:
            raise nn.WeightsError(f"{path}: not a {kind} weight file (kind={hyper.get('kind')})")
        self.kind = kind
        try:
            self.model = Balle2017(int(hyper["n"]), int(hyper["m"]), rng=0, xp=np)
            self.model.load_state_dict(weights.state, source=str(path))
            extra = weights.extra
            self.cdfs, self.cdf_lengths, self.offsets = validate_cdf_tables(
                extra["cdfs"], extra["cdf_lengths"], extra["offsets"])
            self.medians = np.asarray(extra["medians"], np.float32)
        except (KeyError, ValueError) as exc:
            raise nn.WeightsError(f"{path}: {exc}") from None
        if self.cdfs.shape[0] != self.model.m or self.medians.shape != (self.model.m,):
            raise nn.WeightsError(f"{path}: tables for {self.cdfs.shape[0]} channels, "
                                  f"model has {self.model.m}")
        self.model.eval()
        self.path, self.hyperparams = path, hyper

    def peak_bytes(self, height: int, width: int) -> int:
        """Estimated peak resident memory (bytes) of coding a ``height x width`` image."""
        return coding_peak_bytes(self.model.g_a, self.model.g_s, self.model.m, height, width)

    def check_memory(self, height: int, width: int, error=ValueError) -> None:
        """Raise ``error`` if coding ``height x width`` would exceed :data:`MEMORY_LIMIT`."""
        check_memory(self.kind, self.peak_bytes(height, width), height, width, error)

    def analysis(self, image: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) -> latents y, float32 (M, h, w) with h = ceil(H / 16)."""
        self.model.to(backend.current_backend())
        with nn.no_grad():  # the float input is handed over: g_a frees it after its first layer
            return backend.to_numpy(self.model.g_a.forward(image_batch(image, STRIDE))[0])

    def synthesis(self, y_hat: np.ndarray, shape) -> np.ndarray:
        """Latents (M, h, w) -> uint8 image of ``shape`` ((H, W) or (H, W, 3))."""
        self.model.to(backend.current_backend())
        xp = backend.get_xp()
        with nn.no_grad():
            x_hat = backend.to_numpy(self.model.g_s.forward(xp.asarray(y_hat[None]))[0])
        return output_image(x_hat, shape)

    def refine(self, y: np.ndarray, rgb: np.ndarray, iterations: int) -> np.ndarray:
        """Latents searched for this image (:mod:`~fromscratch.codecs.balle2017.refine`),
        rounded around the medians: float32 (M, h, w)."""
        xp = backend.get_xp()
        target = refinement_target(self.kind, self.model.n, rgb, STRIDE, xp)
        medians = xp.asarray(self.medians[:, None, None])
        y_hat, _ = refine_latents(self.model.g_s, xp.asarray(y), target,
                                  float(self.hyperparams["lmbda"]),
                                  factorized_rate(self.model.entropy_bottleneck),
                                  valid=rgb.shape[:2], offsets=medians, iterations=iterations)
        return backend.to_numpy(y_hat)

    def symbols(self, y: np.ndarray) -> np.ndarray:
        """Quantize around the medians: int32 (M, h, w)."""
        return np.rint(y - self.medians[:, None, None]).astype(np.int32)

    def channel_indexes(self, shape) -> np.ndarray:
        """Table index (the channel) of every latent element of ``shape`` (M, h, w)."""
        return np.broadcast_to(np.arange(shape[0], dtype=np.int32)[:, None, None], shape).ravel()

    def estimated_bits(self, symbols: np.ndarray) -> float:
        """``-sum(log2 p)`` of the symbols under the model's (floating-point) density."""
        eb = self.model.entropy_bottleneck
        values = (symbols + self.medians[:, None, None]).astype(np.float64)
        host = [[p.data.astype(np.float64) for p in group]
                for group in (eb.matrices, eb.biases, eb.factors)]
        likelihood, _ = likelihood_forward(values.reshape(values.shape[0], 1, -1), *host)
        return float(-np.log2(np.maximum(likelihood, eb.likelihood_bound)).sum())


@functools.lru_cache(maxsize=8)
def load_model(path: str, kind: str = "balle2017") -> LoadedModel:
    """Load (once per process) the weight file at ``path``."""
    return LoadedModel(path, kind)


@register
class Balle2017Codec(ContainerCodec):
    """Learned analysis/synthesis transforms with GDN and a factorized entropy model (2017)."""

    name = "balle2017"
    description = "CNN + GDN, end-to-end optimized (Ballé et al. 2017, chapter 4)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "quality": Parameter(1, int, low=1, high=99,
                             help="which trained model: 1 = lowest rate (data/weights)"),
        "refine": REFINE_PARAMETER,
    }

    settings = tuple({"quality": q} for q in available_qualities())  # empty until trained
    #: The weight file given to :meth:`from_weights`; None: the shipped file of ``quality``.
    weights_file: Path | None = None

    @classmethod
    def from_weights(cls, path) -> Balle2017Codec:
        """A codec that codes with the weight file at ``path`` instead of a shipped quality.

        For models that are not shipped: a training run's export, or chapter 5's ablation
        (``gan2017`` fine-tuned without the adversary). The file must be of this codec's kind
        (``nn.WeightsError`` otherwise, raised here). Its streams carry the default ``quality``
        in their header and decode with this codec, or another built from the same file; the
        registry's codec would decode them with a shipped model instead.
        """
        codec = cls()
        codec.weights_file = Path(path)
        codec.model()
        return codec

    def with_params(self, **params) -> Balle2017Codec:
        codec = super().with_params(**params)
        codec.weights_file = self.weights_file
        return codec

    def __repr__(self) -> str:
        if self.weights_file is None:
            return super().__repr__()
        return f"{type(self).__name__}.from_weights({str(self.weights_file)!r})"

    def model(self) -> LoadedModel:
        if self.weights_file is not None:
            if not self.weights_file.is_file():
                raise nn.WeightsError(f"{self.weights_file}: no such weight file")
            return load_model(str(self.weights_file), self.name)
        path = weights_path(self.params["quality"], self.name)
        if not path.exists():
            raise missing_weights(path, self.params["quality"], self.name,
                                  available_qualities(self.name))
        return load_model(str(path), self.name)

    def encode_payload(self, image: np.ndarray) -> bytes:
        loaded = self.model()
        loaded.check_memory(*image.shape[:2], ValueError)
        rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
        y = loaded.analysis(rgb)
        if self.params.get("refine"):  # (gan2017, which derives from this class, has none)
            y = loaded.refine(y, rgb, self.params["refine"])
        symbols = loaded.symbols(y)
        return range_coder.encode_with_indexes(
            symbols.ravel(), loaded.channel_indexes(symbols.shape),
            loaded.cdfs, loaded.cdf_lengths, loaded.offsets)

    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        height, width = shape[:2]
        loaded = self.model()
        loaded.check_memory(height, width, BitstreamError)
        latent_shape = (loaded.model.m, math.ceil(height / STRIDE), math.ceil(width / STRIDE))
        indexes = loaded.channel_indexes(latent_shape)
        symbols = range_coder.decode_with_indexes(
            payload, indexes, loaded.cdfs, loaded.cdf_lengths, loaded.offsets)
        y_hat = (symbols.reshape(latent_shape) + loaded.medians[:, None, None]).astype(np.float32)
        if not np.isfinite(y_hat).all() or np.abs(y_hat).max(initial=0) > 1e6:
            raise BitstreamError("decoded latents are out of any plausible range")
        return loaded.synthesis(y_hat, shape)
