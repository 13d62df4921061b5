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

__all__ = [
    "WEIGHTS_DIR",
    "Balle2017Codec",
    "LoadedModel",
    "available_qualities",
    "load_model",
    "weights_path",
]

WEIGHTS_DIR = REPO_ROOT / "data" / "weights"
#: Largest image coded: the float32 activations of a 4096 x 4096 image already take gigabytes.
MAX_PIXELS = 4096 * 4096


def weights_path(quality: int, family: str = "balle2017") -> Path:
    """The shipped weight file of ``quality`` (1 = lowest rate)."""
    return WEIGHTS_DIR / f"{family}_q{quality}.npz"


def available_qualities(family: str = "balle2017") -> tuple[int, ...]:
    """Qualities whose weight files ``<family>_q<quality>.npz`` are present, ascending."""
    found = sorted(int(p.stem.removeprefix(f"{family}_q"))
                   for p in WEIGHTS_DIR.glob(f"{family}_q*.npz")
                   if p.stem.removeprefix(f"{family}_q").isdigit())
    return tuple(found)


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

    def analysis(self, image: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) -> latents y, float32 (M, h, w) with h = ceil(H / 16)."""
        height, width = image.shape[:2]
        pad = ((0, -height % STRIDE), (0, -width % STRIDE), (0, 0))
        padded = np.pad(image, pad, mode="edge")
        xp = backend.get_xp()
        self.model.to(backend.current_backend())
        x = xp.asarray(padded.transpose(2, 0, 1)[None], dtype=xp.float32) / 255.0
        return backend.to_numpy(self.model.g_a.forward(x)[0])

    def synthesis(self, y_hat: np.ndarray, height: int, width: int) -> np.ndarray:
        """Latents (M, h, w) -> uint8 (height, width, 3)."""
        xp = backend.get_xp()
        self.model.to(backend.current_backend())
        x_hat = backend.to_numpy(self.model.g_s.forward(xp.asarray(y_hat[None]))[0])
        pixels = np.clip(np.rint(x_hat[:, :height, :width] * 255.0), 0, 255)
        return pixels.astype(np.uint8).transpose(1, 2, 0)

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
    }

    settings = tuple({"quality": q} for q in available_qualities())  # empty until trained

    def model(self) -> LoadedModel:
        path = weights_path(self.params["quality"], self.name)
        if not path.exists():
            have = ", ".join(map(str, available_qualities(self.name))) or "none"
            raise nn.WeightsError(f"{path}: no weights for quality {self.params['quality']} "
                                  f"(available: {have}); train them with "
                                  f"`python -m fromscratch train {self.name}`")
        return load_model(str(path), self.name)

    def encode_payload(self, image: np.ndarray) -> bytes:
        if image.shape[0] * image.shape[1] > MAX_PIXELS:
            raise ValueError(f"{self.name} codes images up to {MAX_PIXELS} pixels, "
                             f"got {image.shape[1]} x {image.shape[0]}")
        loaded = self.model()
        rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
        symbols = loaded.symbols(loaded.analysis(rgb))
        return range_coder.encode_with_indexes(
            symbols.ravel(), loaded.channel_indexes(symbols.shape),
            loaded.cdfs, loaded.cdf_lengths, loaded.offsets)

    def decode_payload(self, payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
        height, width = shape[:2]
        if height * width > MAX_PIXELS:
            raise BitstreamError(f"header claims {width} x {height} pixels; {self.name} decodes "
                                 f"at most {MAX_PIXELS}")
        loaded = self.model()
        latent_shape = (loaded.model.m, math.ceil(height / STRIDE), math.ceil(width / STRIDE))
        indexes = loaded.channel_indexes(latent_shape)
        symbols = range_coder.decode_with_indexes(
            payload, indexes, loaded.cdfs, loaded.cdf_lengths, loaded.offsets)
        y_hat = (symbols.reshape(latent_shape) + loaded.medians[:, None, None]).astype(np.float32)
        if not np.isfinite(y_hat).all() or np.abs(y_hat).max(initial=0) > 1e6:
            raise BitstreamError("decoded latents are out of any plausible range")
        rgb = loaded.synthesis(y_hat, height, width)
        if len(shape) == 2:
            return np.rint(rgb.mean(axis=2)).astype(np.uint8)
        return rgb
